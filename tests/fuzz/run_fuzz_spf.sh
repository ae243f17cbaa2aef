#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Runs the libFuzzer target fuzz/fuzz_spf for a bounded time on the seeds in
# tests/fuzz/corpus_spf (records and macros of the official suite). Any
# crash, leak, sanitizer report or timeout makes libFuzzer exit non-zero.
set -e
src=${AM_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${AM_TOP_BUILDDIR:-$src}
work=$build/tests/fuzz/work_spf
rm -rf "$work"
mkdir -p "$work"
"$build/tests/fuzz/fuzz_spf" -max_total_time=${FUZZ_SECONDS:-20} \
    -timeout=10 -rss_limit_mb=1024 -max_len=4096 -print_final_stats=1 \
    -artifact_prefix="$work/" "$work" "$src/tests/fuzz/corpus_spf"
rm -rf "$work"
