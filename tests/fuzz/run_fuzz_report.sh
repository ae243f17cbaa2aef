#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Run the report fuzz target (rua URIs, XML escaping, list decoding,
# UTF-8 cleaning) for a bounded time: 20 s (FUZZ_REPORT_SECONDS overrides).
# Seeds: the rua/ruf values in the corpora's DNS data
# (AM_CORPUS/authentication_milter/zonefile, AM_CORPUS/dmarc) and a few
# hostile strings.
set -e
secs=${FUZZ_REPORT_SECONDS:-20}
bin=${AM_TOP_BUILDDIR:-.}/tests/fuzz/fuzz_report
[ -x "$bin" ] || bin=./fuzz/fuzz_report
corpus=${AM_CORPUS:?AM_CORPUS not set}
tmp=$(mktemp -d /tmp/fuzz-report.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/seed"
n=0
for u in 'mailto:dmarc@example.com' 'mailto:a@b.example!10m' \
    'mailto:%64@x.example?subject=1' 'https://example.com/r' \
    '<a href="x">&'"'" 'd	s	pass	why
e	%09	fail	
'; do
	n=$((n + 1))
	printf '%s' "$u" >"$tmp/seed/h$n"
done
grep -rhoE 'ru[af]=[^;"]*' "$corpus/authentication_milter/zonefile" \
    "$corpus/dmarc" 2>/dev/null | sort -u | head -500 |
while IFS= read -r line; do
	n=$((n + 1))
	printf '%s' "${line#ru?=}" >"$tmp/seed/c$n"
done
echo "fuzz_report: $(ls "$tmp/seed" | wc -l) seeds, $secs s"
"$bin" -max_total_time="$secs" -max_len=4096 -timeout=10 \
    -rss_limit_mb=2048 -print_final_stats=1 "$tmp/seed" \
    >"$tmp/log" 2>&1 || { tail -50 "$tmp/log"; exit 1; }
grep -E 'stat::number_of_executed_units|Done' "$tmp/log" || true
