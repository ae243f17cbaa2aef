#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_dns_deadline.sh: a domain whose server never answers, through a real
# Postfix (issue 9 item 10, DESIGN.md "every wait has a deadline").
#
# Every name of timeout.test goes to the silent server (unbound stub), so
# each lookup of the message times out: SPF for MAIL FROM and HELO, the
# DKIM key, the DMARC records. The message must be delivered judged --
# spf=temperror and dmarc=temperror in our header, never fail -- and, with
# the per-message DNS layer, each (name, type) must go to the resolver at
# most once for the message even though the early-lookup threads and the
# session thread both need it (the daemon's LogLevel debug trace shows one
# line per query with its source: wire, cache, message, shared, deadline).
. "$(dirname "$0")/lib.sh"
e2e_init test_dns_deadline
e2e_conf_set DNSTimeout 1s
e2e_conf_set DNSRetries 2
e2e_conf_set TempFailOnDNSError no
e2e_conf_set LogLevel debug
e2e_start_all

C=$E2E_CLIENT
D=never.timeout.test
e2e_msg "$E2E_DIR/never.eml" "u@$D" \
    "DKIM-Signature: v=1; a=rsa-sha256; d=$D; s=sel; h=from; bh=AAAA; b=BBBB"
if e2e_swaks never "$C" h.timeout.test "u@$D" "$E2E_DIR/never.eml" &&
    e2e_wait_delivered never; then
	ID=${E2E_AUTHSERV//./\\.}
	expect_header_match "never: spf temperror" "$E2E_FILE" \
	    "^Authentication-Results:[[:space:]]*$ID;.*spf=temperror( \([^;]*\))? smtp\.mailfrom=never\.timeout\.test"
	expect_header_match "never: dmarc temperror" "$E2E_FILE" \
	    "^Authentication-Results:[[:space:]]*$ID;.*dmarc=temperror"
	expect_no_header_match "never: no fail" "$E2E_FILE" \
	    "^Authentication-Results:[[:space:]]*$ID;.*(spf|dmarc)=fail"
fi

QID=$(sed -n 's/^<-  250 .*queued as \([0-9A-Za-z]*\).*/\1/p' "$E2E_DIR/swaks.never" | head -1)
e2e_poll 10 grep -q "$QID spf=" "$E2E_DIR/authmilter.log"
T=$E2E_DIR/never.trace
grep -E "[[:space:]]$QID dns " "$E2E_DIR/authmilter.log" |
    sed 's/.* dns \([^ ]*\) \([a-z]*\) .* \(wire\|cache\|message\|shared\|deadline\) [0-9]*ms.*/\1 \2 \3/' >"$T"
n=$(wc -l <"$T")
if [ "$n" -ge 3 ]; then
	e2e_ok "never: $n DNS queries traced at LogLevel debug"
else
	e2e_fail "never: trace" "$n lines for $QID: $(tail -3 "$E2E_DIR/authmilter.log")"
fi
dup=$(awk '$3 == "wire" { print $1 }' "$T" | sort | uniq -d)
wire=$(awk '$3 == "wire"' "$T" | wc -l)
if [ -n "$QID" ] && [ "$wire" -ge 1 ] && [ -z "$dup" ]; then
	e2e_ok "never: each name asked once ($wire on the wire, $((n - wire)) reused)"
else
	e2e_fail "never: each name asked once" "wire $wire, asked again: $dup"
fi
if grep -q -E "^[^ ]+ tempfail (wire|message|shared)$" "$T"; then
	e2e_ok "never: the failures are in the trace"
else
	e2e_fail "never: the failures are in the trace" "$(head -5 "$T")"
fi
e2e_finish
