#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# tests/pkg/test_deb.sh: the Debian package, built, checked, installed,
# run and purged on this machine. Not part of make check (it must not run
# inside distcheck, and it installs into the system): .ci/run runs it as
# one counted test. Needs root and debhelper, dpkg-dev, lintian, systemd
# (systemd-analyze), plus what tests/e2e needs (postfix, nsd, unbound,
# swaks).
#
#   1. dpkg-buildpackage -us -uc -b in a copy of the source tree (the .deb
#      lands beside the copy, not beside the checkout);
#   2. lintian on the .changes: no error and no warning (the one info tag
#      kept is listed in README.md, "Running in production");
#   3. dpkg -i; the user authmilter, the socket directory
#      /var/spool/postfix/authmilter (2750 authmilter:postfix), the
#      conffile; systemd-analyze verify on the installed unit;
#   4. authmilter -n on the installed configuration, as root (it switches
#      to UserID authmilter for the checks) and as user authmilter (the
#      unit's ExecStartPre);
#   5. the daemon started the way the unit starts it: as user authmilter
#      (setpriv), -f, on the package's socket, with /run/authmilter made as
#      RuntimeDirectory= makes it; systemd is not PID 1 on CI machines, so
#      systemctl cannot start it. Its configuration is the installed one
#      plus DNS on loopback (tests/e2e's nsd + unbound: the test must not
#      ask any other server), stderr logging and the e2e authserv-id;
#   6. one message through a private Postfix (smtpd as user postfix) over
#      the package's unix socket, delivered with our A-R header;
#   7. SIGTERM: exit 0, pid file and socket gone; dpkg --purge: the
#      conffile and the socket directory gone.
# Prints PASS:/FAIL: lines and "test_deb: N passed, N failed, T s" (the
# e2e harness); exit 0 when all pass.
# The time of each step is printed (CI's budget: .ci/run under 60 min).
set -u
TOP=$(cd "$(dirname "$0")/../.." && pwd)
export AM_TOP_SRCDIR=$TOP
. "$TOP/tests/e2e/lib.sh"
e2e_init test_deb
[ "$(id -u)" = 0 ] || e2e_die "must run as root (dpkg -i)"
e2e_need dpkg-buildpackage dh lintian systemd-analyze setpriv postfix nsd \
    unbound swaks dig
SOCK=/var/spool/postfix/authmilter/authmilter.sock
PIDFILE=/run/authmilter/authmilter.pid
DEB_INSTALLED=

# step NAME: prints the time since the last step.
T_STEP=$(date +%s)
step() {
	local now
	now=$(date +%s)
	echo "time: $((now - T_STEP)) s up to $1"
	T_STEP=$now
}

# deb_cleanup: stop our daemon and purge the package if a step failed.
deb_cleanup() {
	if [ -n "${E2E_MILTER_PID:-}" ]; then
		kill "$E2E_MILTER_PID" 2>/dev/null
		e2e_wait_gone "$E2E_MILTER_PID"
		E2E_MILTER_PID=
	fi
	if [ -n "$DEB_INSTALLED" ]; then
		dpkg --purge authmilter >>"$E2E_DIR/purge.out" 2>&1
	fi
}
trap 'rc=$?; deb_cleanup; (exit $rc); e2e_cleanup' EXIT

# ---- 1. build ----
SRC=$E2E_DIR/src
mkdir -p "$SRC"
if [ -d "$TOP/.git" ] && command -v git >/dev/null; then
	(cd "$TOP" && git ls-files -z --cached --others --exclude-standard |
	    xargs -0 cp --parents -t "$SRC" 2>/dev/null)
else
	tar -C "$TOP" --exclude='./build*' --exclude=./.git -cf - . | tar -C "$SRC" -xf -
fi
[ -f "$SRC/debian/control" ] || e2e_die "no debian/ in the copied tree"
if (cd "$SRC" && dpkg-buildpackage -us -uc -b) >"$E2E_DIR/build.out" 2>&1; then
	e2e_ok "dpkg-buildpackage"
else
	tail -40 "$E2E_DIR/build.out"
	e2e_die "dpkg-buildpackage failed"
fi
DEB=$(ls "$E2E_DIR"/authmilter_*.deb 2>/dev/null | head -1)
[ -f "$DEB" ] || e2e_die "no authmilter_*.deb built"
step build

# ---- 2. lintian ----
lintian --fail-on error,warning "$E2E_DIR"/authmilter_*.changes \
    >"$E2E_DIR/lintian.out" 2>&1
rc=$?
grep -v 'running with root privileges' "$E2E_DIR/lintian.out" | sed 's/^/	/'
if [ $rc = 0 ] && ! grep -q -E '^[EW]: ' "$E2E_DIR/lintian.out"; then
	e2e_ok "lintian: no errors, no warnings"
else
	e2e_fail "lintian" "exit $rc"
fi
step lintian

# ---- 3. install ----
if dpkg -i "$DEB" >"$E2E_DIR/install.out" 2>&1; then
	DEB_INSTALLED=1
	e2e_ok "dpkg -i"
else
	DEB_INSTALLED=1
	cat "$E2E_DIR/install.out"
	e2e_die "dpkg -i failed"
fi
AM_BIN=/usr/sbin/authmilter
# the unit, if systemd runs here, must not hold the socket for our daemon
if [ -d /run/systemd/system ]; then
	systemctl stop authmilter.service 2>/dev/null
fi
id authmilter >/dev/null 2>&1 && e2e_ok "user authmilter" ||
    e2e_fail "user authmilter" "no such user"
got=$(stat -c '%a %U:%G' /var/spool/postfix/authmilter 2>&1)
[ "$got" = "2750 authmilter:postfix" ] && e2e_ok "socket directory" ||
    e2e_fail "socket directory" "got $got, want 2750 authmilter:postfix"
grep -q -x /etc/authmilter.conf /var/lib/dpkg/info/authmilter.conffiles &&
    e2e_ok "conffile" || e2e_fail "conffile" "/etc/authmilter.conf is not a conffile"
UNIT=/lib/systemd/system/authmilter.service
RUNIT=/lib/systemd/system/authmilter-report.service
RTIMER=/lib/systemd/system/authmilter-report.timer
if systemd-analyze verify "$UNIT" "$RUNIT" "$RTIMER" >"$E2E_DIR/verify.out" 2>&1 &&
    ! grep -q . "$E2E_DIR/verify.out"; then
	e2e_ok "systemd-analyze verify (daemon, report service and timer)"
else
	e2e_fail "systemd-analyze verify" "$(head -c 500 "$E2E_DIR/verify.out")"
fi
[ -x /usr/sbin/authmilter-report ] && e2e_ok "authmilter-report installed" ||
    e2e_fail "authmilter-report" "not installed"
for k in 'ProtectSystem=strict' 'NoNewPrivileges=yes' 'PrivateTmp=yes' \
    'CapabilityBoundingSet=' 'RuntimeDirectory=authmilter' \
    'StateDirectory=authmilter' 'User=authmilter' \
    'ExecReload=/bin/kill -USR1 $MAINPID'; do
	grep -q -x -F "$k" "$UNIT" || e2e_fail "unit: $k" "not in $UNIT"
done
step install

# ---- 4. authmilter -n: as root, and as the unit's ExecStartPre runs it ----
if "$AM_BIN" -n >"$E2E_DIR/n.out" 2>&1; then
	e2e_ok "authmilter -n"
else
	e2e_fail "authmilter -n" "$(cat "$E2E_DIR/n.out")"
fi
if setpriv --reuid authmilter --regid authmilter --init-groups --no-new-privs \
    -- "$AM_BIN" -n -c /etc/authmilter.conf >"$E2E_DIR/n-user.out" 2>&1; then
	e2e_ok "authmilter -n as user authmilter"
else
	e2e_fail "authmilter -n as user authmilter" "$(cat "$E2E_DIR/n-user.out")"
fi

# ---- 5. the daemon, as the unit runs it ----
e2e_start_dns
CONF=$E2E_DIR/authmilter.conf
{
	cat /etc/authmilter.conf
	echo "DNSServer 127.0.0.1@$E2E_DNS_PORT"
	echo "DNSTimeout 1s"
	echo "DNSRetries 1"
	echo "AuthservID $E2E_AUTHSERV"
	echo "TrustedNetworks 192.0.2.250/32"
	echo "Syslog no"
} >"$CONF"
chmod 644 "$CONF"
# RuntimeDirectory=authmilter, RuntimeDirectoryMode=0750
install -d -o authmilter -g authmilter -m 0750 /run/authmilter
setpriv --reuid authmilter --regid authmilter --init-groups --no-new-privs \
    -- "$AM_BIN" -f -c "$CONF" >>"$E2E_DIR/authmilter.log" 2>&1 &
E2E_MILTER_PID=$!
pid_ready() {
	[ -s "$PIDFILE" ] && [ "$(cat "$PIDFILE")" = "$E2E_MILTER_PID" ]
}
e2e_poll 10 pid_ready || e2e_die "the daemon wrote no pid file within 10 s"
got=$(stat -c '%a %U:%G' "$SOCK" 2>&1)
[ "$got" = "660 authmilter:postfix" ] && e2e_ok "socket mode and group" ||
    e2e_fail "socket mode and group" "got $got, want 660 authmilter:postfix"

# ---- 6. one message through Postfix over the package's socket ----
e2e_postfix_main_extra() {
	echo "smtpd_milters = unix:$SOCK"
}
e2e_start_postfix
e2e_msg "$E2E_DIR/pkg.eml" u@pass.e2e.test
if e2e_swaks pkg "$E2E_CLIENT" mx.pass.e2e.test u@pass.e2e.test "$E2E_DIR/pkg.eml" &&
    e2e_wait_delivered pkg; then
	expect_header_match "message through the package's socket" "$E2E_FILE" \
	    "$(e2e_spf_re pass mailfrom=pass.e2e.test)"
fi
step "daemon and message"

# ---- 7. stop and purge ----
kill -TERM "$E2E_MILTER_PID"
e2e_milter_wait_exit "daemon stop"
E2E_MILTER_PID=
[ ! -e "$PIDFILE" ] && e2e_ok "pid file removed" ||
    e2e_fail "pid file removed" "$PIDFILE is still there"
[ ! -e "$SOCK" ] && e2e_ok "socket removed" ||
    e2e_fail "socket removed" "$SOCK is still there"
rm -rf /run/authmilter
if dpkg --purge authmilter >"$E2E_DIR/purge.out" 2>&1; then
	DEB_INSTALLED=
	e2e_ok "dpkg --purge"
else
	e2e_fail "dpkg --purge" "$(tail -5 "$E2E_DIR/purge.out")"
fi
[ ! -e /etc/authmilter.conf ] && [ ! -e /var/spool/postfix/authmilter ] &&
    e2e_ok "purged" || e2e_fail "purged" "/etc/authmilter.conf or the socket directory remains"
step purge
e2e_finish
