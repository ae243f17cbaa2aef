#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Run one libFuzzer target: run_fuzz.sh TARGET [SECONDS]
#
# TARGET is spf, dkim, from, dmarc, authres, arc, dns, config or report (the
# program tests/fuzz/fuzz_TARGET); it runs for SECONDS (default 10, or
# $FUZZ_SECONDS) on the seeds in tests/fuzz/corpus_TARGET. make check runs
# each target for the default through run_fuzz_TARGET.sh; long-run.sh
# runs one for hours.
#
# Fails on a non-zero exit of the fuzzer AND on any sanitizer or libFuzzer
# report in its log (the targets are built with -fno-sanitize-recover=all,
# so a UBSan report aborts; the grep is the second lock). On failure the
# work directory (log, crash-* / leak-* / timeout-* inputs) is kept and
# the log is shown; on success it is removed unless FUZZ_KEEP is set.
# FUZZ_FLAGS adds libFuzzer options (-len_control=0, -dict=FILE, ...).
set -u
t=${1:?usage: run_fuzz.sh TARGET [SECONDS]}
secs=${2:-${FUZZ_SECONDS:-10}}
src=${AM_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${AM_TOP_BUILDDIR:-$src}
bin=$build/tests/fuzz/fuzz_$t
seeds=$src/tests/fuzz/corpus_$t
work=$build/tests/fuzz/work_$t
case $t in
spf) maxlen=4096 ;;
dkim) maxlen=12000 ;;
arc) maxlen=16384 ;;
*) maxlen=8192 ;;
esac
[ -x "$bin" ] || { echo "run_fuzz: $bin not built"; exit 1; }
[ -d "$seeds" ] || { echo "run_fuzz: no seed corpus $seeds"; exit 1; }
rm -rf "$work"
mkdir -p "$work/corpus" || exit 1
echo "fuzz_$t: $secs s, seeds $seeds, work $work"
UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1${UBSAN_OPTIONS:+:$UBSAN_OPTIONS}
export UBSAN_OPTIONS
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 \
    -max_len="$maxlen" -print_final_stats=1 -artifact_prefix="$work/" \
    ${FUZZ_FLAGS:-} \
    "$work/corpus" "$seeds" >"$work/log" 2>&1
rc=$?
if [ $rc -ne 0 ] || grep -E -q 'runtime error|ERROR: AddressSanitizer|ERROR: LeakSanitizer|ERROR: libFuzzer|SUMMARY: [A-Za-z]*Sanitizer|deadly signal' "$work/log"; then
	echo "fuzz_$t: FAILED (exit $rc); log $work/log:"
	grep -n -E -B2 -A30 'runtime error|ERROR: [A-Za-z]*Sanitizer|ERROR: libFuzzer|deadly signal' "$work/log" | head -80
	echo "--- last lines of the log ---"
	tail -8 "$work/log"
	echo "--- kept in $work:"
	ls "$work" | grep -v '^corpus$'
	exit 1
fi
# The figures: executions, exec/s, coverage, corpus.
grep -E '^#[0-9]+.*DONE|stat::(number_of_executed_units|average_exec_per_sec|peak_rss_mb)' "$work/log"
[ -n "${FUZZ_KEEP:-}" ] || rm -rf "$work"
exit 0
