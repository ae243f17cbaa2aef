#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_tcp_reuse.sh: many messages on one SMTP connection, Postfix talking
# to the daemon over TCP (smtpd_milters = inet:127.0.0.1:PORT, the README's
# recipe), so one milter connection carries them all.
#
# Every message must be delivered with exactly one A-R header of ours
# (spf=pass). The elapsed time is printed, never asserted: it used to be
# about 45 ms a message more than over a unix socket, because Postfix's
# content write waited under Nagle for our delayed ACK (see cb_data() in
# milter/callbacks.c); tests/bench/smoke.sh checks that no write waits.
. "$(dirname "$0")/lib.sh"
e2e_init test_tcp_reuse
e2e_start_all

N=100
e2e_msg "$E2E_DIR/reuse.eml" u@pass.e2e.test
{
	echo "xclient ADDR=$E2E_CLIENT"
	echo "ehlo client.e2e.test"
	for i in $(seq 1 $N); do
		echo "mail u@pass.e2e.test"
		echo "rcpt reuse-$i@rcpt.test"
		echo "data $E2E_DIR/reuse.eml"
	done
	echo "quit"
} >"$E2E_DIR/reuse.session"

# check_all DIR N: one line per message not delivered to reuse-I@rcpt.test
# with exactly one A-R of ours (unfolded, by authserv-id) saying spf=pass.
check_all() {
	/usr/bin/python3 - "$1" "$E2E_AUTHSERV" "$2" <<'EOF'
import os, re, sys
d, authserv, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
ours = re.compile(r"Authentication-Results:\s*" + re.escape(authserv) + r"[\s;]", re.I)
spf = re.compile(r"spf=pass( \([^;]*\))? smtp\.mailfrom=pass\.e2e\.test")
seen = {}
for name in os.listdir(d):
    with open(os.path.join(d, name), "rb") as f:
        head = f.read().decode("latin-1").replace("\r", "").split("\n\n", 1)[0]
    fields = re.sub(r"\n[ \t]+", " ", head).split("\n")
    rcpt = [f.split(":", 1)[1].strip() for f in fields
            if f.startswith("Delivered-To:")]
    ar = [f for f in fields if ours.match(f)]
    seen[rcpt[0] if rcpt else name] = (len(ar), sum(1 for f in ar if spf.search(f)))
for i in range(1, n + 1):
    got = seen.get("reuse-%d@rcpt.test" % i)
    if got is None:
        print("reuse-%d: not delivered" % i)
    elif got != (1, 1):
        print("reuse-%d: %d A-R of ours, %d with spf=pass" % (i, got[0], got[1]))
EOF
}

# all_delivered: true once N copies are in the maildir.
all_delivered() {
	[ "$(ls "$E2E_DIR/mail/all/new" 2>/dev/null | wc -l)" -ge $N ]
}

t0=$(date +%s.%N)
if e2e_session reuse "$E2E_DIR/reuse.session"; then
	t1=$(date +%s.%N)
	awk -v a="$t0" -v b="$t1" -v n=$N 'BEGIN {
		printf "%d messages on one connection over TCP: %.2f s, %.1f ms a message\n",
		    n, b - a, (b - a) * 1000 / n }'
	e2e_ok "reuse: $N messages accepted on one connection"
	# delivery is asynchronous: wait (bounded) for all N copies
	e2e_poll 30 all_delivered
	check_all "$E2E_DIR/mail/all/new" $N >"$E2E_DIR/reuse.check" 2>&1
	if [ $? = 0 ] && [ ! -s "$E2E_DIR/reuse.check" ]; then
		e2e_ok "reuse: all $N delivered, each with one A-R of ours, spf=pass"
	else
		e2e_fail "reuse" "$(head -5 "$E2E_DIR/reuse.check")"
	fi
fi
e2e_finish
