# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e/lib_check.sh: messages in, verdicts out, for the end-to-end
# harness (see lib.sh).
#
# A case is named; its recipient is CASE@rcpt.test, so the delivered copy is
# the maildir file with "Delivered-To: CASE@rcpt.test". Checks compare the
# delivered header block, unfolded (RFC 5322 s.2.2.3), one header a line.
# The .ref file of a script collects every case's normalised header block;
# AM_E2E_REGEN=1 rewrites it instead of diffing (review the diff!).

# e2e_ok CASE / e2e_fail CASE WHY...: one result line, counted.
e2e_ok() {
	echo "PASS: $1"
	E2E_PASSES=$((E2E_PASSES + 1))
}
e2e_fail() {
	local c=$1
	shift
	echo "FAIL: $c: $*"
	E2E_FAILS=$((E2E_FAILS + 1))
}

# e2e_msg FILE FROM [HEADER...]: a small message with CRLF line ends; the
# HEADER lines go first, above From (where forged A-R headers usually are).
e2e_msg() {
	local f=$1 from=$2 h
	shift 2
	[ "$from" = "<>" ] && from=postmaster@example.test
	{
		for h in "$@"; do
			printf '%s\r\n' "$h"
		done
		printf 'From: <%s>\r\nTo: <rcpt@rcpt.test>\r\n' "$from"
		printf 'Subject: e2e %s\r\n' "$(basename "$f" .eml)"
		printf 'Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n'
		printf 'Message-ID: <%s@e2e.test>\r\n' "$(basename "$f" .eml)"
		printf 'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n'
		printf 'Test message %s.\r\n' "$(basename "$f" .eml)"
	} >"$f"
}

# e2e_xclient_addr IP: IP in XCLIENT's syntax (IPV6: prefix, Postfix).
e2e_xclient_addr() {
	case $1 in
	*:*) echo "IPV6:$1" ;;
	*) echo "$1" ;;
	esac
}

# e2e_swaks_bg CASE IP HELO MAILFROM FILE [SWAKS-ARG...]: starts one SMTP
# session by swaks in the background: client address by XCLIENT, recipient
# CASE@rcpt.test, transcript in $E2E_DIR/swaks.CASE. e2e_swaks_wait CASE
# collects it.
e2e_swaks_bg() {
	local c=$1 ip=$2 helo=$3 from=$4 f=$5
	shift 5
	timeout 60 swaks --server "127.0.0.1:$E2E_SMTP_PORT" --timeout 30 \
	    --xclient-addr "$(e2e_xclient_addr "$ip")" --ehlo "$helo" \
	    --from "$from" --to "$c@rcpt.test" --data "@$f" "$@" \
	    >"$E2E_DIR/swaks.$c" 2>&1 &
	eval "E2E_SWAKS_${c//[^A-Za-z0-9]/_}=$!"
}

# e2e_swaks_wait CASE: waits for CASE's swaks; fails the case (and returns
# 1) unless the message was queued.
e2e_swaks_wait() {
	local c=$1 v="E2E_SWAKS_${1//[^A-Za-z0-9]/_}"
	[ -n "${!v:-}" ] && wait "${!v}"
	if ! grep -q '^<-  250 .*queued as' "$E2E_DIR/swaks.$c"; then
		e2e_fail "$c" "not queued: $(grep -E '^(<\*\*|\*\*\*)' "$E2E_DIR/swaks.$c" | head -3)"
		return 1
	fi
	return 0
}

# e2e_swaks CASE IP HELO MAILFROM FILE [SWAKS-ARG...]: one session, waited for.
e2e_swaks() {
	e2e_swaks_bg "$@"
	e2e_swaks_wait "$1"
}

# e2e_session CASE SCRIPT: runs tests/e2e/smtp_session.py on SCRIPT.
e2e_session() {
	timeout 60 /usr/bin/python3 "$E2E_SRC/smtp_session.py" \
	    "127.0.0.1:$E2E_SMTP_PORT" "$2" >"$E2E_DIR/session.$1" 2>&1 && return 0
	e2e_fail "$1" "SMTP session failed: $(tail -3 "$E2E_DIR/session.$1")"
	return 1
}

# e2e_delivered_file RCPT: the maildir file delivered to RCPT, if any.
e2e_delivered_file() {
	grep -l -x -F "Delivered-To: $1" "$E2E_DIR"/mail/all/new/* 2>/dev/null |
	    head -1 | grep .
}

# e2e_wait_delivered CASE: sets E2E_FILE to the delivered file of CASE
# (waits 20 s at most); fails the case and returns 1 if there is none.
e2e_wait_delivered() {
	E2E_FILE=
	if ! e2e_poll 20 e2e_delivered_file "$1@rcpt.test"; then
		e2e_fail "$1" "not delivered to $1@rcpt.test within 20 s"
		return 1
	fi
	E2E_FILE=$(e2e_delivered_file "$1@rcpt.test")
}

# e2e_headers FILE: the header block of FILE, unfolded, CRs removed.
e2e_headers() {
	tr -d '\r' <"$1" | awk '
		/^$/ { exit }
		/^[ \t]/ { line = line $0; next }
		{ if (line != "") print line; line = $0 }
		END { if (line != "") print line }'
}

# e2e_our_ar FILE: the unfolded A-R headers of FILE that carry our
# authserv-id (RFC 8601 s.2.2: the first token, before ';' or a space).
e2e_our_ar() {
	e2e_headers "$1" | grep -i -E \
	    "^Authentication-Results:[[:space:]]*${E2E_AUTHSERV//./\\.}([[:space:]]|;)"
}

# e2e_our_ar_raw FILE: our A-R headers as they are in FILE, folded, LF ends.
e2e_our_ar_raw() {
	tr -d '\r' <"$1" | awk -v id="$E2E_AUTHSERV" '
		/^$/ { exit }
		/^[ \t]/ { if (ours) print; next }
		{
			ours = 0
			if (tolower($0) !~ /^authentication-results:/)
				next
			v = substr($0, 24)
			sub(/^[ \t]+/, "", v)
			t = v
			sub(/[ \t;].*/, "", t)
			ours = (tolower(t) == tolower(id))
			if (ours) print
		}'
}

# e2e_spf_re RESULT PROP=VALUE: our A-R has that result for that identity. A
# null MAIL FROM is checked as postmaster@HELO (RFC 7208 s.2.4): either
# property spelling of it is accepted.
e2e_spf_re() {
	local prop val
	prop=${2%%=*}
	val=${2#*=}
	val=${val//./\\.}
	if [ "$prop" = helo ]; then
		prop='(helo|mailfrom)'
		val="(postmaster@)?$val"
	fi
	echo "^Authentication-Results:[[:space:]]*${E2E_AUTHSERV//./\\.};.*spf=$1( \([^;]*\))? smtp\.$prop=$val( |;|$)"
}

# expect_header_match CASE FILE REGEX: some header line matches (grep -E).
expect_header_match() {
	if e2e_headers "$2" | grep -q -E -- "$3"; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "no header matches /$3/; got:"
		e2e_headers "$2" | grep -i '^Authentication-Results' | sed 's/^/	/'
	fi
}

# expect_no_header_match CASE FILE REGEX: no header line matches.
expect_no_header_match() {
	if e2e_headers "$2" | grep -q -E -- "$3"; then
		e2e_fail "$1" "a header matches /$3/:"
		e2e_headers "$2" | grep -E -- "$3" | sed 's/^/	/'
	else
		e2e_ok "$1"
	fi
}

# e2e_normalise: the variable bits of a header block (queue id, dates).
e2e_normalise() {
	sed -E \
	    -e '/^Received:/s/ id [0-9A-Za-z]+/ id QUEUEID/' \
	    -e 's/127\.0\.0\.1@[0-9]+/127.0.0.1@PORT/g' \
	    -e '/^Received:/s/; [A-Z][a-z]{2}, .*$/; DATE/' \
	    -e 's/^Date: .*/Date: DATE/'
}

# e2e_ref_add CASE FILE: appends CASE's normalised headers to the ref.
e2e_ref_add() {
	{
		echo "== $1"
		e2e_headers "$2" | e2e_normalise
	} >>"$E2E_DIR/got.ref"
}

# e2e_ref_check NAME: diffs the collected headers with tests/e2e/NAME.ref.
e2e_ref_check() {
	local ref
	ref=$E2E_SRC/$1.ref
	if [ "${AM_E2E_REGEN:-0}" = 1 ]; then
		cp "$E2E_DIR/got.ref" "$ref"
		echo "wrote $ref"
	fi
	if diff -u "$ref" "$E2E_DIR/got.ref" >"$E2E_DIR/ref.diff" 2>&1; then
		e2e_ok "$1.ref"
	else
		e2e_fail "$1.ref" "delivered headers differ from $ref:"
		cat "$E2E_DIR/ref.diff"
	fi
}

# e2e_sanitizer_check CASE FILE: FILE (a log) has no ASan/UBSan/LSan report.
e2e_sanitizer_check() {
	if grep -q -E 'Sanitizer|runtime error:' "$2" 2>/dev/null; then
		e2e_fail "$1" "sanitizer report in $(basename "$2"):"
		grep -E -A5 'Sanitizer|runtime error:' "$2" | head -20
	fi
}

# e2e_finish: the exit status of the script (the EXIT trap reports).
e2e_finish() {
	[ "$E2E_FAILS" = 0 ] && exit 0
	exit 1
}
