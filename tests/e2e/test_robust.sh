#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_robust.sh: hostile input through a real Postfix never crashes, hangs
# or loses mail (DESIGN.md "Rules of behaviour").
#
# Each case sends something broken; it passes when the message is delivered
# with exactly one A-R header of ours and the daemon is still running. The
# last case stops the resolver: DNS failure must give spf=temperror, never
# fail, and the mail is still delivered (TempFailOnDNSError no). Limits are
# lowered so that the messages cross them. (Postfix itself refuses MAIL FROM
# domains over 255 bytes or with labels like "-bad-", so those are not here.)
. "$(dirname "$0")/lib.sh"
e2e_init test_robust
e2e_conf_set MaxHeaders 200
e2e_conf_set MaxHeaderBytes 65536
e2e_conf_set DKIMMaxSignatures 5
e2e_conf_set TempFailOnDNSError no
e2e_start_all

C=$E2E_CLIENT
H=client.e2e.test
P=u@pass.e2e.test

# big CASE KIND: writes $E2E_DIR/CASE.eml with Python (large or binary).
big() {
	/usr/bin/python3 - "$E2E_DIR/$1.eml" "$2" <<'EOF'
import sys
path, kind = sys.argv[1], sys.argv[2]
h = []
if kind == "many-headers":
    h = [b"X-Filler-%d: %d" % (i, i) for i in range(1500)]
elif kind == "header-bytes":
    h = [b"X-Big-%d: " % i + b"x" * 900 for i in range(120)]
elif kind == "long-folded":
    h = [b"X-Long: start" + b"\r\n\tmore" * 5000]
elif kind == "many-dkim":
    h = [b"DKIM-Signature: v=1; a=rsa-sha256; d=pass.e2e.test; s=s%d; "
         b"h=from; bh=AAAA; b=BBBB" % i for i in range(60)]
elif kind == "garbage-dkim":
    h = [b"DKIM-Signature: ;;;===;;; v=1; v=1; a=; b=\xff\xfe",
         b"DKIM-Signature: v=1; a=rsa-sha256; d=" + b"a." * 200 +
         b"test; s=" + b"s" * 300 + b"; h=from; bh=; b="]
elif kind == "garbage-ar":
    h = [b"Authentication-Results: ;;;(((",
         b"Authentication-Results: (unterminated mx.example.test; spf=pass",
         b"Authentication-Results:",
         b"Authentication-Results: \"mx.example.test\"; spf=pass",
         b"Authentication-Results: mx.example.test(c); spf=pass"]
elif kind == "garbage-from":
    h = [b"From: <<<@@@>>>, \"unterminated", b"From: second@pass.e2e.test",
         b"Subject: =?utf-8?b?////?= \xc3\x28"]
elif kind == "no-from":
    h = [b"Subject: no From at all"]
elif kind == "eightbit":
    h = [b"From: \xe9\xe8 <u@pass.e2e.test>", b"X-Bin: \x01\x02\x7f\xff"]
if kind not in ("garbage-from", "no-from", "eightbit"):
    h.append(b"From: <u@pass.e2e.test>")
h += [b"To: <rcpt@rcpt.test>", b"Date: Thu, 01 Jan 2026 00:00:00 +0000",
      b"Message-ID: <%s@e2e.test>" % kind.encode()]
body = b"x" * 998 + b"\r\n"
if kind == "no-body":
    body = b""
with open(path, "wb") as f:
    f.write(b"\r\n".join(h) + b"\r\n\r\n" + body * (1 if kind != "big-body" else 3000))
EOF
}

LONG=$(printf 'a%.0s' $(seq 300))
# case		client		helo			mail from		message kind
CASES="
many-headers	$C		$H			$P			many-headers
header-bytes	$C		$H			$P			header-bytes
long-folded	$C		$H			$P			long-folded
many-dkim	$C		$H			$P			many-dkim
garbage-dkim	$C		$H			$P			garbage-dkim
garbage-ar	$C		$H			$P			garbage-ar
garbage-from	$C		$H			$P			garbage-from
no-from		$C		$H			$P			no-from
eightbit	$C		$H			$P			eightbit
no-body		$C		$H			$P			no-body
big-body	$C		$H			$P			big-body
long-local	$C		$H			$LONG@pass.e2e.test	plain
long-labels	$C		$H			u@${LONG:0:63}.${LONG:0:63}.${LONG:0:63}.${LONG:0:50}.e2e.test	plain
underscore	$C		$H			u@_bad_.e2e.test	plain
addr-literal	$C		$H			u@[192.0.2.10]		plain
helo-literal	$C		[192.0.2.10]		$P			plain
helo-long	$C		${LONG:0:250}.e2e.test	$P			plain
helo-null	$C		$H			<>			plain
v4mapped	::ffff:192.0.2.10	$H		$P			plain
"

while read -r c ip helo from kind; do
	[ -n "$c" ] || continue
	if [ "$kind" = plain ]; then
		e2e_msg "$E2E_DIR/$c.eml" "u@pass.e2e.test"
	else
		big "$c" "$kind"
	fi
	e2e_swaks_bg "$c" "$ip" "$helo" "$from" "$E2E_DIR/$c.eml"
done <<END
$CASES
END

while read -r c ip helo from kind; do
	[ -n "$c" ] || continue
	e2e_swaks_wait "$c" || continue
	e2e_wait_delivered "$c" || continue
	n=$(e2e_our_ar "$E2E_FILE" | wc -l)
	if [ "$n" = 1 ]; then
		e2e_ok "$c"
	else
		e2e_fail "$c" "$n A-R headers of ours"
	fi
done <<END
$CASES
END

# the resolver goes away: temperror, never fail; the mail still goes through
kill "$E2E_UNBOUND_PID"
e2e_wait_gone "$E2E_UNBOUND_PID"
e2e_msg "$E2E_DIR/dns-down.eml" u@fail.e2e.test
if e2e_swaks dns-down "$C" "$H" u@fail.e2e.test "$E2E_DIR/dns-down.eml" &&
    e2e_wait_delivered dns-down; then
	expect_header_match "dns-down: temperror" "$E2E_FILE" \
	    "^Authentication-Results:[[:space:]]*${E2E_AUTHSERV//./\\.};.*spf=temperror( \([^;]*\))? smtp\.mailfrom=fail\.e2e\.test"
	expect_no_header_match "dns-down: no fail" "$E2E_FILE" \
	    "^Authentication-Results:[[:space:]]*${E2E_AUTHSERV//./\\.};.*spf=fail"
fi

if kill -0 "$E2E_MILTER_PID" 2>/dev/null; then
	e2e_ok "daemon still running"
else
	e2e_fail "daemon still running" "it is gone: $(tail -3 "$E2E_DIR/authmilter.log")"
fi
e2e_finish
