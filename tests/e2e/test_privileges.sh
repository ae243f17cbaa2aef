#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_privileges.sh: sockets, files and privileges (authmilter.conf(5):
# Socket, SocketMode, SocketGroup, PidFile, UserID, ARCSealKeyFile).
#
# The daemon is started as root with extra supplementary groups (setpriv),
# on a unix socket with SocketGroup postfix and UserID nobody; Postfix (its
# smtpd runs as user postfix) reaches it over that socket. Then:
#   - the socket is 0660 root:postfix, the daemon runs as nobody with
#     nobody's groups only, the pid file holds its pid;
#   - a second daemon on the same socket refuses to start, and the first
#     still answers;
#   - SIGTERM: exit 0 and the pid file is gone (it was written by nobody);
#   - the socket left behind (nobody cannot remove it from a root-owned
#     directory) is stale: the next start replaces it;
#   - a symlink planted at the pid file's path is refused, its target kept,
#     and so is a pid file in a directory UserID may not write (it could
#     not be removed at the stop);
#   - -n, run as root with UserID, reads the key as that user: a root-only
#     0600 ARC key fails -n, and the daemon exits 1 before it detaches;
#   - key files that are group-writable, owned by another user or a FIFO
#     are refused at once; a world-writable configuration is refused.
. "$(dirname "$0")/lib.sh"
e2e_init test_privileges
e2e_need_servers
e2e_need setpriv stat getent
RUN_USER=nobody
RUN_UID=$(id -u "$RUN_USER") || e2e_die "no user $RUN_USER"
OTHER_USER=daemon
getent passwd "$OTHER_USER" >/dev/null || e2e_die "no user $OTHER_USER"
getent group postfix >/dev/null || e2e_die "no group postfix"

SOCKDIR=$E2E_DIR/sock
SOCK=$SOCKDIR/authmilter.sock
RUNDIR=$E2E_DIR/run
mkdir -p "$SOCKDIR" "$RUNDIR"
chmod 755 "$SOCKDIR"
chown "$RUN_USER" "$RUNDIR"
PIDFILE=$RUNDIR/authmilter.pid

e2e_conf_set DKIMMode off
e2e_conf_set ARCMode off
e2e_conf_set Socket "unix:$SOCK"
e2e_conf_set SocketMode 0660
e2e_conf_set SocketGroup postfix
e2e_conf_set UserID "$RUN_USER"
e2e_conf_set PidFile "$PIDFILE"
# Postfix's smtpd talks to the unix socket (the last setting wins)
e2e_postfix_main_extra() {
	echo "smtpd_milters = unix:$SOCK"
}

# pidfile_ready: the pid file names a process (it is written last).
pidfile_ready() {
	[ -s "$PIDFILE" ] && kill -0 "$(cat "$PIDFILE")" 2>/dev/null
}

# start_daemon: as root with supplementary groups 0 and 4 (adm), which the
# switch to UserID must drop; waits for the pid file.
start_daemon() {
	e2e_write_conf
	"$AM_BIN" -n -c "$E2E_CONF" >"$E2E_DIR/conf-check.out" 2>&1 ||
	    e2e_die "authmilter -n rejects the config: $(cat "$E2E_DIR/conf-check.out")"
	setpriv --groups 0,4 -- "$AM_BIN" -f -c "$E2E_CONF" >>"$E2E_DIR/authmilter.log" 2>&1 &
	E2E_MILTER_PID=$!
	E2E_PIDS="$! $E2E_PIDS"
	e2e_poll 10 pidfile_ready ||
	    e2e_die "authmilter wrote no pid file within 10 s"
}

# send CASE: one message through Postfix; 0 when delivered with our A-R.
send() {
	e2e_msg "$E2E_DIR/$1.eml" u@pass.e2e.test
	e2e_swaks "$1" "$E2E_CLIENT" mx.pass.e2e.test u@pass.e2e.test "$E2E_DIR/$1.eml" ||
	    return 1
	e2e_wait_delivered "$1" || return 1
	if [ -n "$(e2e_our_ar "$E2E_FILE")" ]; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "delivered without our Authentication-Results"
	fi
}

e2e_start_dns
start_daemon
e2e_start_postfix

# ---- the socket, the user, the pid file ----
got=$(stat -c '%a %U:%G' "$SOCK")
if [ "$got" = "660 root:postfix" ]; then
	e2e_ok "socket mode and group"
else
	e2e_fail "socket mode and group" "got $got, want 660 root:postfix"
fi
ids=$(awk '/^Uid:/ { print $2, $3, $4, $5 } /^Gid:/ { print $2, $3, $4, $5 }' \
    "/proc/$E2E_MILTER_PID/status" | tr '\n' ' ')
ngid=$(id -g "$RUN_USER")
want="$RUN_UID $RUN_UID $RUN_UID $RUN_UID $ngid $ngid $ngid $ngid "
[ "$ids" = "$want" ] && e2e_ok "uid and gid switched" ||
    e2e_fail "uid and gid switched" "got '$ids', want '$want'"
groups=$(awk '/^Groups:/ { $1 = ""; print }' "/proc/$E2E_MILTER_PID/status" |
    tr ' ' '\n' | grep . | sort -n | tr '\n' ' ')
wantg=$(id -G "$RUN_USER" | tr ' ' '\n' | sort -n | tr '\n' ' ')
[ "$groups" = "$wantg" ] && e2e_ok "supplementary groups dropped" ||
    e2e_fail "supplementary groups dropped" "got '$groups', want '$wantg'"
got=$(cat "$PIDFILE")
[ "$got" = "$E2E_MILTER_PID" ] && e2e_ok "pid file" ||
    e2e_fail "pid file" "holds '$got', daemon is $E2E_MILTER_PID"

# ---- Postfix as user postfix over the unix socket ----
send unix-socket

# ---- a second daemon on the same socket ----
sed "s|^PidFile .*|PidFile $RUNDIR/second.pid|" "$E2E_CONF" >"$E2E_DIR/second.conf"
timeout 10 "$AM_BIN" -f -c "$E2E_DIR/second.conf" >"$E2E_DIR/second.out" 2>&1
rc=$?
if [ $rc != 0 ] && [ $rc -lt 124 ] &&
    grep -q 'another daemon is listening' "$E2E_DIR/second.out"; then
	e2e_ok "second daemon refused"
else
	e2e_fail "second daemon refused" "exit $rc: $(head -c 300 "$E2E_DIR/second.out")"
fi
e2e_sanitizer_check "second daemon" "$E2E_DIR/second.out"
send first-still-answers

# ---- a clean stop removes the pid file ----
kill -TERM "$E2E_MILTER_PID"
e2e_milter_wait_exit "stop"
E2E_MILTER_PID=
[ ! -e "$PIDFILE" ] && e2e_ok "pid file removed at stop" ||
    e2e_fail "pid file removed at stop" "$PIDFILE is still there"

# ---- a stale socket is replaced ----
[ -S "$SOCK" ] || e2e_fail "stale socket" "the stopped daemon's socket is gone: nothing to test"
rm -f "$PIDFILE"
start_daemon
send stale-socket-replaced

# ---- a symlink at the pid file's path ----
kill -TERM "$E2E_MILTER_PID"
e2e_milter_wait_exit "stop 2"
E2E_MILTER_PID=
echo precious >"$E2E_DIR/victim"
rm -f "$PIDFILE"
ln -s "$E2E_DIR/victim" "$PIDFILE"
chown -h "$RUN_USER" "$PIDFILE"
e2e_write_conf
timeout 10 "$AM_BIN" -f -c "$E2E_CONF" >"$E2E_DIR/symlink.out" 2>&1
rc=$?
if [ $rc != 0 ] && [ $rc -lt 124 ] && [ "$(cat "$E2E_DIR/victim")" = precious ]; then
	e2e_ok "pid file symlink refused"
else
	e2e_fail "pid file symlink refused" "exit $rc, victim holds '$(cat "$E2E_DIR/victim")': $(head -c 300 "$E2E_DIR/symlink.out")"
fi
e2e_sanitizer_check "pid file symlink" "$E2E_DIR/symlink.out"
rm -f "$PIDFILE"

# ---- a pid file UserID could not remove at the stop: refused at start ----
e2e_conf_set PidFile "$E2E_DIR/root-owned-dir.pid"
e2e_write_conf
timeout 10 "$AM_BIN" -f -c "$E2E_CONF" >"$E2E_DIR/rootdir.out" 2>&1
rc=$?
if [ $rc != 0 ] && [ $rc -lt 124 ] && [ ! -e "$E2E_DIR/root-owned-dir.pid" ] &&
    grep -q 'use a directory that user may write' "$E2E_DIR/rootdir.out"; then
	e2e_ok "pid file in a root-owned directory refused"
else
	e2e_fail "pid file in a root-owned directory refused" "exit $rc: $(head -c 300 "$E2E_DIR/rootdir.out")"
fi
e2e_sanitizer_check "pid file in a root-owned directory" "$E2E_DIR/rootdir.out"
rm -f "$E2E_DIR/root-owned-dir.pid"

# ---- key files and the configuration file, checked with -n ----
KEY=$E2E_DIR/seal.pem
cp "$AM_TOP_SRCDIR/tests/keys/rsa2048.pem" "$KEY"
e2e_conf_set ARCMode on
e2e_conf_set ARCSealDomain example.test
e2e_conf_set ARCSealSelector seal
e2e_conf_set ARCSealKeyFile "$KEY"
e2e_conf_set Socket "unix:$SOCKDIR/other.sock"
e2e_conf_set PidFile "$RUNDIR/other.pid"

# check_n CASE WANT-RC [SUBSTRING]: authmilter -n on the current config.
check_n() {
	e2e_write_conf
	timeout 10 "$AM_BIN" -n -c "$E2E_CONF" >"$E2E_DIR/n.out" 2>&1
	rc=$?
	e2e_sanitizer_check "$1" "$E2E_DIR/n.out"
	if [ "$2" = 0 ] && [ $rc = 0 ]; then
		e2e_ok "$1"
	elif [ "$2" != 0 ] && [ $rc != 0 ] && [ $rc -lt 124 ] &&
	    grep -q -F -- "$3" "$E2E_DIR/n.out"; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "exit $rc: $(head -c 300 "$E2E_DIR/n.out")"
	fi
}

chown "$RUN_USER" "$KEY"
chmod 600 "$KEY"
check_n "key owned by UserID" 0
chown root:root "$KEY"
check_n "root-only key with UserID: -n" 1 "$KEY: Permission denied"
# the daemon (no -f) must fail before it detaches, not exit 0 and die
e2e_write_conf
timeout 10 "$AM_BIN" -c "$E2E_CONF" >"$E2E_DIR/detach.out" 2>&1
rc=$?
if [ $rc != 0 ] && [ $rc -lt 124 ] && grep -q -F "$KEY" "$E2E_DIR/detach.out"; then
	e2e_ok "root-only key with UserID: daemon"
else
	e2e_fail "root-only key with UserID: daemon" "exit $rc: $(head -c 300 "$E2E_DIR/detach.out")"
fi
# a detached daemon of a failed case: stop it
[ -s "$RUNDIR/other.pid" ] && kill "$(cat "$RUNDIR/other.pid")" 2>/dev/null
e2e_conf_set UserID ""
chmod 620 "$KEY"
check_n "group-writable key" 1 "mode 0620 is group-writable"
chmod 600 "$KEY"
chown "$OTHER_USER" "$KEY"
check_n "key owned by another user" 1 "owned by uid $(id -u "$OTHER_USER")"
rm -f "$KEY"
mkfifo -m 600 "$KEY"
check_n "FIFO as key file" 1 "$KEY: not a regular file"
rm -f "$KEY"
e2e_conf_set ARCSealKeyFile ""
e2e_conf_set ARCSealDomain ""
e2e_conf_set ARCSealSelector ""
e2e_write_conf
chmod 666 "$E2E_CONF"
timeout 10 "$AM_BIN" -n -c "$E2E_CONF" >"$E2E_DIR/ww.out" 2>&1
rc=$?
if [ $rc != 0 ] && [ $rc -lt 124 ] && grep -q 'world-writable' "$E2E_DIR/ww.out"; then
	e2e_ok "world-writable config refused"
else
	e2e_fail "world-writable config refused" "exit $rc: $(head -c 300 "$E2E_DIR/ww.out")"
fi
e2e_finish
