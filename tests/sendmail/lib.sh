# SPDX-License-Identifier: BSD-2-Clause
# tests/sendmail/lib.sh: a real Sendmail in front of authmilter, sourced by
# tests/sendmail/test_*.sh. Built on tests/e2e/lib.sh (nsd, unbound, the
# daemon, the e2e_* checks), which it sources.
#
# Debian's sendmail-bin conflicts with postfix (both provide
# mail-transport-agent), so it is not installed: sm_fetch runs
# `apt-get download` for sendmail-bin, sendmail-base and sendmail-cf and
# unpacks them with `dpkg-deb -x` into a cache directory keyed by version
# ($AM_SENDMAIL_CACHE, default /var/cache/authmilter-tests/sendmail).
# sm_start builds a private sendmail.cf from a .mc with m4 and the unpacked
# cf/ tree, then runs that binary as a daemon in the foreground (-bD) as
# root, on 127.0.0.1:$E2E_SMTP_PORT, with
#   INPUT_MAIL_FILTER: the authmilter daemon (F=T: tempfail if it is down);
#   a private queue, pid file and status file under $E2E_DIR/sm;
#   no DNS: nocanonify, a service switch "hosts files", no interface
#     probing; the process runs in its own UTS and mount namespaces
#     (unshare) with host name mx.sendmail.test and private /etc/hosts and
#     /etc/resolv.conf bind-mounted over the real ones, so it neither sleeps
#     60 s over an unqualified host name nor asks the machine's resolver
#     about client addresses (nothing on the host is changed);
#   delivery: rcpt.test is local and the local mailer is deliver.sh, which
#     writes each message to $SM_MAIL/USER.eml (USER = the recipient's local
#     part, i.e. the test case).
# Sendmail has no XCLIENT: the client address is real. sm_swaks binds swaks
# to a loopback address (--local-interface); tests/zones/sendmail.zone
# authorizes $SM_IP_PASS and not $SM_IP_FAIL. Sendmail has no log file of
# its own (syslog only, and there is none here): -X writes the SMTP and
# mailer traffic to $SM_DIR/transcript and -D/-d64.5 its milter debugging
# to $SM_DIR/debug.log; both are shown when a test fails.
#
# Entry points: sm_init, sm_need, sm_fetch, sm_mc, sm_start, sm_start_all,
# sm_swaks, sm_swaks_run, sm_wait_delivered, sm_delivered_file, sm_qid.

SM_LIBDIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
. "$SM_LIBDIR/../e2e/lib.sh"

E2E_AUTHSERV=mx.sendmail.test
E2E_ALIAS=mx-alias.sendmail.test
SM_HOSTNAME=mx.sendmail.test
SM_IP_PASS=127.0.0.21
SM_IP_FAIL=127.0.0.22
SM_HELO=client.sendmail.test
SM_PKGS="sendmail-bin sendmail-base sendmail-cf"

# sm_init NAME: e2e_init, and our own EXIT trap (Sendmail's logs first).
sm_init() {
	e2e_init "$1"
	SM_DIR=$E2E_DIR/sm
	SM_MAIL=$SM_DIR/mail
	trap sm_cleanup EXIT
}

# sm_cleanup: shows Sendmail's logs on failure, then e2e_cleanup.
sm_cleanup() {
	local rc=$?
	if [ "$rc" != 0 ] || [ "$E2E_FAILS" != 0 ]; then
		sm_show_logs
	fi
	(exit "$rc")
	e2e_cleanup
}

# sm_show_logs: the tails of Sendmail's transcript and debug log.
sm_show_logs() {
	local f
	for f in sm/start.out sm/transcript sm/debug.log; do
		[ -s "$E2E_DIR/$f" ] || continue
		echo "---- last lines of $f ----"
		tail -n 40 "$E2E_DIR/$f"
	done
}

# sm_need: everything the Sendmail tests need besides e2e_need_servers.
sm_need() {
	e2e_need_servers
	e2e_need m4 unshare mount hostname dpkg-deb apt-get apt-cache ldd
}

# sm_find_bin ROOT: prints the sendmail binary of an unpacked tree.
sm_find_bin() {
	local b
	for b in usr/libexec/sendmail/sendmail usr/lib/sm.bin/sendmail; do
		[ -x "$1/$b" ] && { echo "$1/$b"; return 0; }
	done
	return 1
}

# sm_download VERSION DEST: apt-get download + dpkg-deb -x into DEST.
sm_download() {
	local v=$1 dest=$2 tmp p d
	tmp=$(mktemp -d "$(dirname "$dest")/.dl.XXXXXX") ||
	    e2e_die "mktemp in $(dirname "$dest") failed"
	(cd "$tmp" && apt-get download $(for p in $SM_PKGS; do echo "$p=$v"; done)) \
	    >"$tmp/download.log" 2>&1 ||
	    e2e_die "apt-get download $SM_PKGS ($v) failed: $(tail -3 "$tmp/download.log")"
	mkdir "$tmp/root"
	for d in "$tmp"/*.deb; do
		dpkg-deb -x "$d" "$tmp/root" ||
		    e2e_die "dpkg-deb -x $d failed"
	done
	sm_find_bin "$tmp/root" >/dev/null ||
	    e2e_die "no sendmail binary in $SM_PKGS $v"
	# atomic: a concurrent run either sees the whole tree or none
	mv -T "$tmp/root" "$dest" 2>/dev/null || [ -d "$dest" ] ||
	    e2e_die "could not move the unpacked tree to $dest"
	rm -rf "$tmp"
}

# sm_fetch: sets SM_ROOT (the unpacked packages), SM_BIN, SM_CF (cf/ tree).
sm_fetch() {
	local cache v missing
	cache=${AM_SENDMAIL_CACHE:-/var/cache/authmilter-tests/sendmail}
	mkdir -p "$cache" || e2e_die "cannot create $cache"
	v=$(apt-cache policy sendmail-bin 2>/dev/null |
	    sed -n 's/^ *Candidate: //p' | head -1)
	if [ -z "$v" ] || [ "$v" = "(none)" ]; then
		# no package lists (apt-get update never ran): a cached tree will do
		v=$(ls -1 "$cache" 2>/dev/null | grep -v '^\.' | sort -V | tail -1)
		[ -n "$v" ] || e2e_die "apt-cache knows no sendmail-bin (run apt-get update) and $cache is empty"
	fi
	SM_VERSION=$v
	SM_ROOT=$cache/$v
	[ -d "$SM_ROOT" ] || sm_download "$v" "$SM_ROOT"
	SM_BIN=$(sm_find_bin "$SM_ROOT") || e2e_die "no sendmail binary in $SM_ROOT"
	SM_CF=$SM_ROOT/usr/share/sendmail/cf
	[ -f "$SM_CF/m4/cf.m4" ] || e2e_die "no cf/m4/cf.m4 in $SM_ROOT"
	missing=$(ldd "$SM_BIN" 2>&1 | awk '/not found/ { printf " %s", $1 }')
	[ -z "$missing" ] ||
	    e2e_die "$SM_BIN needs libraries that are not installed:$missing (apt-get install liblockfile1 libwrap0 libdb5.3 libnsl2 libsasl2-2 libldap-2.5-0)"
}

# sm_mc: the .mc of the private instance (m4 quoting: `...').
sm_mc() {
	cat <<EOF
divert(-1)
# generated by tests/sendmail/lib.sh
divert(0)dnl
include(\`$SM_CF/m4/cf.m4')dnl
VERSIONID(\`authmilter tests')dnl
define(\`confDOMAIN_NAME', \`$SM_HOSTNAME')dnl
define(\`QUEUE_DIR', \`$SM_DIR/queue')dnl
define(\`confPID_FILE', \`$SM_DIR/sendmail.pid')dnl
define(\`STATUS_FILE', \`$SM_DIR/statistics')dnl
define(\`ALIAS_FILE', \`$SM_DIR/aliases')dnl
define(\`confHELP_FILE', \`$SM_DIR/helpfile')dnl
define(\`confHOST_STATUS_DIRECTORY', \`')dnl
define(\`confDEAD_LETTER_DROP', \`$SM_DIR/dead.letter')dnl
define(\`confSERVICE_SWITCH_FILE', \`$SM_DIR/service.switch')dnl
define(\`confDONT_PROBE_INTERFACES', \`True')dnl
define(\`confBIND_OPTS', \`-DNSRCH -DEFNAMES')dnl
define(\`confTO_RESOLVER_RETRANS', \`1s')dnl
define(\`confTO_RESOLVER_RETRY', \`1')dnl
define(\`confTO_IDENT', \`0')dnl
define(\`confDEF_USER_ID', \`65534:65534')dnl
dnl a busy test machine must not make Sendmail queue or refuse mail
define(\`confQUEUE_LA', \`1000')dnl
define(\`confREFUSE_LA', \`1000')dnl
define(\`confDELAY_LA', \`0')dnl
define(\`confLOG_LEVEL', \`14')dnl
define(\`confMILTER_LOG_LEVEL', \`14')dnl
define(\`LOCAL_MAILER_PATH', \`$SM_DIR/deliver.sh')dnl
define(\`LOCAL_MAILER_ARGS', \`deliver.sh \$u')dnl
dnl one recipient per run, no aliases, no passwd lookup, no Return-Path
MODIFY_MAILER_FLAGS(\`LOCAL', \`lsDFMn')dnl
OSTYPE(\`gnu')dnl
FEATURE(\`nocanonify')dnl
FEATURE(\`no_default_msa')dnl
FEATURE(\`accept_unresolvable_domains')dnl
LOCAL_DOMAIN(\`rcpt.test')dnl
DAEMON_OPTIONS(\`Port=$E2E_SMTP_PORT, Addr=127.0.0.1, Name=MTA')dnl
INPUT_MAIL_FILTER(\`authmilter', \`S=inet:$E2E_MILTER_PORT@127.0.0.1, F=T, T=S:30s;R:60s;E:5m')dnl
MAILER(\`local')dnl
dnl the MAIL FROM check needs a mailer for remote addresses; nothing is
dnl ever sent (no DNS, private /etc/hosts: a remote host is unknown)
MAILER(\`smtp')dnl
EOF
}

# sm_deliver_script: the local mailer: stdin to $SM_MAIL/$1.eml, atomically.
sm_deliver_script() {
	cat <<EOF
#!/bin/sh
# generated by tests/sendmail/lib.sh: the local mailer of the test Sendmail
case \$1 in ''|*/*|.*) echo "bad recipient \$1" >&2; exit 67 ;; esac
cat >"$SM_MAIL/.\$1.\$\$" && mv "$SM_MAIL/.\$1.\$\$" "$SM_MAIL/\$1.eml" || exit 75
EOF
}

# sm_write_files: queue, mail directory, .mc -> .cf, switch, hosts, resolv.
sm_write_files() {
	mkdir -p "$SM_DIR/queue" "$SM_MAIL" || e2e_die "mkdir $SM_DIR failed"
	# whatever the umask: the local mailer (user 65534) must reach $SM_MAIL
	chmod 755 "$SM_DIR"
	chmod 700 "$SM_DIR/queue"
	# the local mailer runs as DefaultUser (65534)
	chmod 1777 "$SM_MAIL"
	: >"$SM_DIR/aliases"
	: >"$SM_DIR/statistics"
	cp "$SM_ROOT/etc/mail/helpfile" "$SM_DIR/helpfile" 2>/dev/null ||
	    : >"$SM_DIR/helpfile"
	printf 'hosts\tfiles\naliases\tfiles\n' >"$SM_DIR/service.switch"
	printf '127.0.0.1\t%s %s localhost\n' "$SM_HOSTNAME" "${SM_HOSTNAME%%.*}" \
	    >"$SM_DIR/hosts"
	# nothing listens on 127.0.0.1:53: a lookup fails at once, locally
	printf 'nameserver 127.0.0.1\noptions timeout:1 attempts:1\n' \
	    >"$SM_DIR/resolv.conf"
	sm_deliver_script >"$SM_DIR/deliver.sh"
	chmod 755 "$SM_DIR/deliver.sh"
	sm_mc >"$SM_DIR/sendmail.mc"
	m4 "$SM_DIR/sendmail.mc" >"$SM_DIR/sendmail.cf" 2>"$SM_DIR/m4.err" ||
	    e2e_die "m4 failed: $(cat "$SM_DIR/m4.err")"
	! grep -q 'ERROR' "$SM_DIR/m4.err" ||
	    e2e_die "m4 on sendmail.mc: $(cat "$SM_DIR/m4.err")"
	grep -q "^Xauthmilter, S=inet:$E2E_MILTER_PORT@127.0.0.1" "$SM_DIR/sendmail.cf" ||
	    e2e_die "sendmail.cf has no Xauthmilter line"
}

# sm_listening PORT: true when a socket listens on 127.0.0.1:PORT (read
# from /proc: connecting would start an SMTP session and a milter one).
sm_listening() {
	awk -v p="$(printf '%04X' "$1")" '
		$2 == "0100007F:" p && $4 == "0A" { found = 1 }
		END { exit !found }' /proc/net/tcp
}

# sm_start: the private Sendmail daemon; waits until it listens.
sm_start() {
	E2E_SMTP_PORT=$(e2e_free_port)
	sm_write_files
	# unshare execs: $! is Sendmail's pid, stopped by e2e_cleanup
	unshare --uts --mount /bin/sh -c '
		mount --make-rprivate / &&
		mount --bind "$1/hosts" /etc/hosts &&
		mount --bind "$1/resolv.conf" /etc/resolv.conf &&
		hostname "$2" || exit 71
		shift 2
		exec "$@"' sh "$SM_DIR" "$SM_HOSTNAME" \
	    "$SM_BIN" -C "$SM_DIR/sendmail.cf" -bD -q10s \
	    -X "$SM_DIR/transcript" -D "$SM_DIR/debug.log" -d64.5 \
	    </dev/null >"$SM_DIR/start.out" 2>&1 &
	SM_PID=$!
	E2E_PIDS="$! $E2E_PIDS"
	if ! e2e_poll 15 sm_listening "$E2E_SMTP_PORT"; then
		kill -0 "$SM_PID" 2>/dev/null ||
		    e2e_die "sendmail exited: $(tail -5 "$SM_DIR/start.out")"
		e2e_die "sendmail did not listen on port $E2E_SMTP_PORT within 15 s"
	fi
}

# sm_start_all: DNS, the daemon, Sendmail.
sm_start_all() {
	sm_need
	sm_fetch
	e2e_start_dns
	e2e_start_milter
	sm_start
}

# sm_swaks_run CASE IP HELO MAILFROM FILE [SWAKS-ARG...]: one swaks
# session from IP to CASE@rcpt.test; the transcript is $E2E_DIR/swaks.CASE.
sm_swaks_run() {
	local c=$1 ip=$2 helo=$3 from=$4 f=$5
	shift 5
	timeout 60 swaks --server "127.0.0.1:$E2E_SMTP_PORT" --timeout 30 \
	    --local-interface "$ip" --ehlo "$helo" \
	    --from "$from" --to "$c@rcpt.test" --data "@$f" "$@" \
	    >"$E2E_DIR/swaks.$c" 2>&1
}

# sm_swaks CASE IP HELO MAILFROM FILE [ARG...]: as sm_swaks_run; fails the
# case (and returns 1) unless Sendmail accepted the message.
sm_swaks() {
	sm_swaks_run "$@"
	if ! grep -q '^<-  250 .*Message accepted for delivery' "$E2E_DIR/swaks.$1"; then
		e2e_fail "$1" "not accepted: $(grep '^<\*\*' "$E2E_DIR/swaks.$1" | head -3)"
		return 1
	fi
	return 0
}

# sm_qid CASE: the queue id Sendmail gave CASE's message (from the 250).
sm_qid() {
	sed -n 's/^<-  250 2\.0\.0 \([^ ]*\) Message accepted for delivery.*/\1/p' \
	    "$E2E_DIR/swaks.$1" | head -1
}

# sm_delivered_file CASE: the delivered copy of CASE@rcpt.test, if any.
sm_delivered_file() {
	[ -s "$SM_MAIL/$1.eml" ] && echo "$SM_MAIL/$1.eml"
}

# sm_wait_delivered CASE: sets E2E_FILE (waits 20 s at most); fails the
# case and returns 1 if nothing was delivered.
sm_wait_delivered() {
	E2E_FILE=
	if ! e2e_poll 20 sm_delivered_file "$1"; then
		e2e_fail "$1" "not delivered to $1@rcpt.test within 20 s"
		return 1
	fi
	E2E_FILE=$(sm_delivered_file "$1")
}
