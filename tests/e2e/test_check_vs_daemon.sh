#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_check_vs_daemon.sh: `authmilter --check` says what the daemon does.
#
# DESIGN.md: the milter and --check are two front ends on one engine. For
# each message and envelope below, the A-R header the daemon added through
# Postfix must be byte for byte (folding included) the header that
# `authmilter -c SAME-CONFIG --check MSG --client-ip ... --helo ...
# --mail-from ... --rcpt ...` prints (its other lines are notes). A trusted
# client gets no header from either.
. "$(dirname "$0")/lib.sh"
e2e_init test_check_vs_daemon
e2e_start_all

C=$E2E_CLIENT
# case		client		helo			mail from		forged A-R
CASES="
pass		$C		client.e2e.test		u@pass.e2e.test		no
fail		$C		client.e2e.test		u@fail.e2e.test		yes
softfail	$C		helo-pass.e2e.test	u@softfail.e2e.test	no
permerror	$C		helo-fail.e2e.test	u@permerror.e2e.test	yes
none		$C		nx.e2e.test		u@none.e2e.test		no
temperror	$C		client.e2e.test		u@tempinc.e2e.test	no
ipv6		2001:db8::10	client.e2e.test		u@ip6.e2e.test		no
null-sender	$C		helo-pass.e2e.test	<>			no
trusted		192.0.2.250	client.e2e.test		u@fail.e2e.test		yes
"
FORGED="Authentication-Results: $E2E_AUTHSERV; spf=pass smtp.mailfrom=forged.example"
OTHER="Authentication-Results: other.example.test; none"

# compare CASE: the daemon's header ($c.daemon) against --check's ($c.check).
compare() {
	if [ "$1" != trusted ] && [ ! -s "$E2E_DIR/$1.daemon" ]; then
		e2e_fail "$1" "the daemon added no A-R header"
	elif cmp -s "$E2E_DIR/$1.daemon" "$E2E_DIR/$1.check"; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "daemon (-) and --check (+) differ:"
		diff -u "$E2E_DIR/$1.daemon" "$E2E_DIR/$1.check" | tail -n +3 |
		    cat -A | sed 's/^/	/'
	fi
}

while read -r c ip helo from forged; do
	[ -n "$c" ] || continue
	if [ "$forged" = yes ]; then
		e2e_msg "$E2E_DIR/$c.eml" "$from" "$FORGED" "$OTHER"
	else
		e2e_msg "$E2E_DIR/$c.eml" "$from"
	fi
	e2e_swaks_bg "$c" "$ip" "$helo" "$from" "$E2E_DIR/$c.eml"
done <<END
$CASES
END

while read -r c ip helo from forged; do
	[ -n "$c" ] || continue
	e2e_swaks_wait "$c" || continue
	e2e_wait_delivered "$c" || continue
	e2e_our_ar_raw "$E2E_FILE" >"$E2E_DIR/$c.daemon"
	[ "$from" = "<>" ] && from=""
	timeout 60 "$AM_BIN" -c "$E2E_CONF" --check "$E2E_DIR/$c.eml" \
	    --client-ip "$ip" --helo "$helo" --mail-from "$from" \
	    --rcpt "$c@rcpt.test" >"$E2E_DIR/$c.out" 2>"$E2E_DIR/$c.err"
	rc=$?
	if [ $rc != 0 ]; then
		e2e_fail "$c" "--check exited $rc: $(head -3 "$E2E_DIR/$c.err")"
		continue
	fi
	# --check prints notes too ("# remove ...", "action: ..."): only our
	# A-R header and its continuation lines are compared
	e2e_our_ar_raw "$E2E_DIR/$c.out" >"$E2E_DIR/$c.check"
	e2e_sanitizer_check "$c: --check" "$E2E_DIR/$c.err"
	compare "$c"
done <<END
$CASES
END
e2e_finish
