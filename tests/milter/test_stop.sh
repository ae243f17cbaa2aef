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
. "$(dirname "$0")/lib.sh"
ml_init test_stop
ml_corpus
ml_conf "$ML_DIR/a.conf" stop.test
ml_start "$ML_DIR/a.conf"
ml_load_bg -c 8 --repeat 50 --time-limit 120
ml_wait_log ' action=' 30 120 || ml_die "fewer than 30 decisions logged in 120 s"
kill -TERM "$ML_PID"
if ml_wait_exit 30; then
	ml_ok "exits after SIGTERM"
else
	ml_fail "exits after SIGTERM" "still running 30 s later (killed)"
fi
if [ "$ML_RC" = 0 ]; then
	ml_ok "exit status 0"
else
	ml_fail "exit status 0" "exit status $ML_RC"
fi
ml_sanitizer_check "no sanitizer report"
stop=$(grep -n 'authmilter stopped' "$ML_LOG" | head -1 | cut -d: -f1)
if [ -z "$stop" ]; then
	ml_fail "stop logged" "no \"authmilter stopped\" line"
else
	ml_ok "stop logged"
	late=$(tail -n +"$stop" "$ML_LOG" | grep -c ' action=')
	if [ "$late" = 0 ]; then
		ml_ok "no decision after the stop"
	else
		ml_fail "no decision after the stop" "$late decision lines after \"authmilter stopped\""
	fi
fi
ml_finish
