#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_reload.sh: SIGUSR1 reloads under load (issue 11, "Reload").
#
# Two configurations differ in two things a message's header shows:
# a.conf has AuthservID reload-a.test and SPFMode helo+mailfrom (the header
# carries smtp.helo), b.conf reload-b.test and SPFMode mailfrom (no
# smtp.helo). While milterload keeps 4 connections busy, the file the
# daemon runs on is switched between them and the daemon gets SIGUSR1, 20
# times, each time after more decisions were logged; once in the middle the
# file is broken (an AuthservID of two words) and that reload must be
# refused with file:line in the log while the running configuration stays.
# Then: every message got a final reply (none lost), every message has
# exactly one header of ours whose id is one of the two in full and goes
# with that configuration's SPF mode (none judged by half of one
# configuration and half of the other), both ids were used, the log shows
# 20 reloads, the daemon still runs, and SIGTERM stops it with status 0.
# Run it in a build with --enable-sanitizers: any report fails it.
. "$(dirname "$0")/lib.sh"
ml_init test_reload
ml_corpus
ml_conf "$ML_DIR/a.conf" reload-a.test "SPFMode helo+mailfrom"
ml_conf "$ML_DIR/b.conf" reload-b.test "SPFMode mailfrom"
ml_conf "$ML_DIR/bad.conf" "two words"
LIVE=$ML_DIR/live.conf
cp "$ML_DIR/a.conf" "$LIVE"
ml_start "$LIVE"
ml_load_bg -c 4 --repeat 1000 --time-limit 240 --stop-file "$ML_DIR/stop" \
    --out "$ML_DIR/results.jsonl"

# switch FILE: the live file becomes FILE (atomically), then SIGUSR1
switch() {
	cp "$1" "$LIVE.new" && mv "$LIVE.new" "$LIVE" && kill -USR1 "$ML_PID"
}

reloads=0
for i in $(seq 1 20); do
	# some messages between two reloads: the load really overlaps them
	want=$(($(ml_decisions) + 5))
	ml_wait_log ' action=' "$want" 60 || { ml_fail "load" "decisions stopped before reload $i"; break; }
	if [ "$i" = 11 ]; then
		switch "$ML_DIR/bad.conf"
		if ml_wait_log "reload refused.*$LIVE:6: AuthservID: \"two words\"" 1 30; then
			ml_ok "broken configuration refused with file:line"
		else
			ml_fail "broken configuration refused with file:line" "no such log line"
		fi
	fi
	if [ $((i % 2)) = 1 ]; then switch "$ML_DIR/b.conf"; else switch "$ML_DIR/a.conf"; fi
	ml_wait_log "reloaded $LIVE \\(configuration $((i + 1))\\)" 1 60 ||
	    { ml_fail "reload $i" "not logged within 60 s"; break; }
	reloads=$i
done
[ "$reloads" = 20 ] && ml_ok "20 reloads logged"
# some messages on the last configuration, then the load ends
ml_wait_log ' action=' "$(($(ml_decisions) + 5))" 60
touch "$ML_DIR/stop"
wait "$ML_LOAD_PID"
rc=$?
ML_LOAD_PID=
if [ "$rc" = 0 ]; then
	ml_ok "no message lost (every one got a final reply)"
else
	ml_fail "no message lost" "milterload exit $rc: $(head -c 300 "$ML_DIR/load.json") $(head -3 "$ML_DIR/load.err")"
fi
$PY - "$ML_DIR/results.jsonl" >"$ML_DIR/check.out" 2>&1 <<'PYEOF'
import json, sys
n = bad = 0
ids = {}
for line in open(sys.argv[1]):
    r = json.loads(line)
    n += 1
    ours = [m[3] for m in r["mods"] if m[2].lower() == "authentication-results"]
    why = None
    if len(ours) != 1:
        why = "%d headers of ours" % len(ours)
    else:
        v = ours[0].strip()
        ident = v.split(";", 1)[0].strip()
        helo = "smtp.helo=" in v
        if ident not in ("reload-a.test", "reload-b.test"):
            why = "id %r" % ident
        elif (ident == "reload-a.test") != helo:
            why = "id %s with%s smtp.helo: two configurations mixed" % (
                ident, "" if helo else "out")
        else:
            ids[ident] = ids.get(ident, 0) + 1
    if why:
        bad += 1
        if bad <= 5:
            print("message %s: %s: %s" % (r["id"], why, ours))
print("messages %d, bad %d, by id %s" % (n, bad, ids))
sys.exit(0 if n > 0 and bad == 0 and len(ids) == 2 else 1)
PYEOF
if [ $? = 0 ]; then
	ml_ok "every message judged by one whole configuration ($(tail -1 "$ML_DIR/check.out"))"
else
	ml_fail "every message judged by one whole configuration" "$(cat "$ML_DIR/check.out")"
fi
if kill -0 "$ML_PID" 2>/dev/null; then
	ml_ok "daemon still running"
else
	ml_fail "daemon still running" "it is gone"
fi
kill -TERM "$ML_PID"
ml_wait_exit 30 || ml_fail "exits after SIGTERM" "still running 30 s later (killed)"
if [ "$ML_RC" = 0 ]; then
	ml_ok "exit status 0"
else
	ml_fail "exit status 0" "exit status $ML_RC"
fi
ml_sanitizer_check "no sanitizer report"
ml_finish
