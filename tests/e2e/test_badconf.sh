#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_badconf.sh: `authmilter -n` rejects every tests/bad/*.conf with the
# error its tests/bad/NAME.err names, and accepts the good configurations.
#
# NAME.err holds one expected substring a line; the first is "NAME.conf:L: "
# (file and line, STYLE.md). The daemon started on a bad file (-f) must also
# exit non-zero at once instead of running. Under --enable-sanitizers any
# ASan/UBSan/LSan report (a leak on the error path too) fails the case. No
# servers are started. --help and --version exit 0 with their text on
# standard output.
. "$(dirname "$0")/lib.sh"
e2e_init test_badconf
[ -x "$AM_BIN" ] || e2e_die "daemon not built: $AM_BIN"
BAD=$AM_TOP_SRCDIR/tests/bad

# expect_rejected CASE OUT RC ERRFILE: non-zero exit, no crash, every line of
# ERRFILE in OUT.
expect_rejected() {
	local c=$1 out=$2 rc=$3 e missing=""
	if [ "$rc" = 0 ]; then
		e2e_fail "$c" "accepted (exit 0): $(head -c 200 "$out")"
		return
	fi
	if [ "$rc" -ge 124 ]; then
		e2e_fail "$c" "exit $rc (timeout or signal): $(head -c 200 "$out")"
		return
	fi
	while IFS= read -r e; do
		[ -n "$e" ] || continue
		grep -q -F -- "$e" "$out" || missing="$missing [$e]"
	done <"$4"
	if [ -n "$missing" ]; then
		e2e_fail "$c" "output lacks$missing; got: $(head -c 300 "$out")"
	else
		e2e_ok "$c"
	fi
}

n=0
for conf in "$BAD"/*.conf; do
	[ -f "$conf" ] || continue
	n=$((n + 1))
	name=$(basename "$conf" .conf)
	err=$BAD/$name.err
	if [ ! -f "$err" ]; then
		e2e_fail "$name" "no $err"
		continue
	fi
	out=$E2E_DIR/$name.out
	timeout 10 "$AM_BIN" -n -c "$conf" >"$out" 2>&1
	expect_rejected "$name -n" "$out" $? "$err"
	e2e_sanitizer_check "$name -n" "$out"
	timeout 10 "$AM_BIN" -f -c "$conf" >"$out.f" 2>&1
	rc=$?
	e2e_sanitizer_check "$name -f" "$out.f"
	if [ $rc = 0 ] || [ $rc -ge 124 ]; then
		e2e_fail "$name -f" "the daemon ran on it (exit $rc)"
	else
		e2e_ok "$name -f"
	fi
done
[ $n -ge 10 ] || e2e_fail "tests/bad" "only $n bad configs found in $BAD"

# a missing file is an error that names it
timeout 10 "$AM_BIN" -n -c "$E2E_DIR/no-such.conf" >"$E2E_DIR/missing.out" 2>&1
rc=$?
echo "no-such.conf" >"$E2E_DIR/missing.err"
expect_rejected "missing file" "$E2E_DIR/missing.out" $rc "$E2E_DIR/missing.err"
e2e_sanitizer_check "missing file" "$E2E_DIR/missing.out"

# good configurations pass
for conf in "$AM_TOP_SRCDIR/tests/e2e/good.conf" \
    "$AM_TOP_SRCDIR/conf/authmilter.conf"; do
	name=good:${conf#"$AM_TOP_SRCDIR"/}
	if timeout 10 "$AM_BIN" -n -c "$conf" >"$E2E_DIR/good.out" 2>&1; then
		e2e_ok "$name"
	else
		e2e_fail "$name" "rejected: $(head -c 300 "$E2E_DIR/good.out")"
	fi
	e2e_sanitizer_check "$name" "$E2E_DIR/good.out"
done

# --help and --version: exit 0, the text on standard output, none on error
for opt in --help -h --version -V; do
	timeout 10 "$AM_BIN" $opt >"$E2E_DIR/opt.out" 2>"$E2E_DIR/opt.err"
	rc=$?
	case $opt in
	--help|-h) want='^usage: authmilter' ;;
	*) want='^authmilter [0-9]' ;;
	esac
	if [ $rc = 0 ] && grep -q "$want" "$E2E_DIR/opt.out" && [ ! -s "$E2E_DIR/opt.err" ]; then
		e2e_ok "$opt"
	else
		e2e_fail "$opt" "exit $rc, stdout: $(head -c 200 "$E2E_DIR/opt.out"), stderr: $(head -c 200 "$E2E_DIR/opt.err")"
	fi
done
# an unknown option is a usage error (exit 2, usage on standard error)
timeout 10 "$AM_BIN" --no-such-option >"$E2E_DIR/opt.out" 2>"$E2E_DIR/opt.err"
rc=$?
[ $rc = 2 ] && grep -q '^usage: authmilter' "$E2E_DIR/opt.err" && e2e_ok "unknown option" ||
    e2e_fail "unknown option" "exit $rc: $(head -c 200 "$E2E_DIR/opt.err")"
e2e_finish
