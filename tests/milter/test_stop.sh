#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_stop.sh: SIGTERM while messages are in flight (issue 9 item 12).
#
# milterload keeps 8 connections busy; once the daemon has logged 30
# decisions it gets SIGTERM. It must exit (a hang fails after 30 s, a bound,
# not a timing assertion) with status 0, with no sanitizer report (run it
# in a build configured with --enable-sanitizers), and log no decision after
# "authmilter stopped": messages in flight finish with the engine they
# started on, later ones are tempfailed, and nothing is freed under them.
#
# The second case stops the daemon while messages wait for a name server
# that never answers (DNSTimeout 20s): past the grace period the daemon
# must still exit 0, say how many messages it left to the MTA, and log no
# decision after the stop. (That path ends without freeing, so LeakSanitizer
# does not run there; ASan and UBSan do.)
#
# The third case: SIGHUP is a stop too (libmilter's own signal thread stops
# on it, so the daemon does the same whoever gets it; authmilter(8)).
. "$(dirname "$0")/lib.sh"
ml_init test_stop
ml_corpus

# stop_case LABEL [SIGNAL]: SIGTERM (or SIGNAL) now; the checks above.
# Prints the seconds taken.
stop_case() {
	local t0 t1 stop late
	t0=$(date +%s.%N)
	kill -"${2:-TERM}" "$ML_PID"
	if ml_wait_exit 30; then
		ml_ok "$1: exits after the signal"
	else
		ml_fail "$1: exits after the signal" "still running 30 s later (killed)"
	fi
	t1=$(date +%s.%N)
	echo "$1: exit $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s after the signal"
	if [ "$ML_RC" = 0 ]; then
		ml_ok "$1: exit status 0"
	else
		ml_fail "$1: exit status 0" "exit status $ML_RC"
	fi
	ml_sanitizer_check "$1: no sanitizer report"
	stop=$(grep -n 'authmilter stopped' "$ML_LOG" | head -1 | cut -d: -f1)
	if [ -z "$stop" ]; then
		ml_fail "$1: stop logged" "no \"authmilter stopped\" line"
		return
	fi
	ml_ok "$1: stop logged"
	late=$(tail -n +"$stop" "$ML_LOG" | grep -c ' action=')
	if [ "$late" = 0 ]; then
		ml_ok "$1: no decision after the stop"
	else
		ml_fail "$1: no decision after the stop" "$late decision lines after \"authmilter stopped\""
	fi
}

ml_conf "$ML_DIR/a.conf" stop.test
ml_start "$ML_DIR/a.conf"
ml_load_bg -c 8 --repeat 50 --time-limit 120
ml_wait_log ' action=' 30 120 || ml_die "fewer than 30 decisions logged in 120 s"
stop_case "under load"
kill "$ML_LOAD_PID" 2>/dev/null
wait "$ML_LOAD_PID" 2>/dev/null
ML_LOAD_PID=

# a name server that takes queries and never answers (bounded: 120 s)
timeout 120 $PY -c '
import socket, sys, time
u = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
u.bind(("127.0.0.1", 0))
t = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
t.bind(("127.0.0.1", u.getsockname()[1]))
t.listen(64)
open(sys.argv[1] + ".tmp", "w").write("%d\n" % u.getsockname()[1])
import os; os.rename(sys.argv[1] + ".tmp", sys.argv[1])
time.sleep(120)' "$ML_DIR/silent.port" &
SILENT_PID=$!
for i in $(seq 1 50); do
	[ -s "$ML_DIR/silent.port" ] && break
	sleep 0.1
done
[ -s "$ML_DIR/silent.port" ] || ml_die "the silent name server did not start"
rm -f "$ML_DIR/am.sock"
ml_conf "$ML_DIR/silent.conf" stop.test
sed -i -e "s/^DNSServer .*/DNSServer 127.0.0.1@$(cat "$ML_DIR/silent.port")/" \
    -e "s/^DNSTimeout .*/DNSTimeout 20s/" "$ML_DIR/silent.conf"
ml_start "$ML_DIR/silent.conf"
ml_load_bg -c 8 --repeat 1 --time-limit 60
# messages in flight: the load's connections are open at the daemon
for i in $(seq 1 100); do
	n=$(ss -xH 2>/dev/null | grep -c "$ML_DIR/am.sock")
	[ "${n:-0}" -ge 8 ] && break
	sleep 0.1
done
stop_case "stuck on DNS"
if grep -q 'messages still in progress after .* are left to the MTA' "$ML_LOG"; then
	ml_ok "stuck on DNS: the messages left to the MTA are logged"
else
	ml_fail "stuck on DNS: the messages left to the MTA are logged" "no such line"
fi
kill "$SILENT_PID" "$ML_LOAD_PID" 2>/dev/null
wait 2>/dev/null
ML_LOAD_PID=

rm -f "$ML_DIR/am.sock"
ml_start "$ML_DIR/a.conf"
stop_case "SIGHUP" HUP
ml_finish
