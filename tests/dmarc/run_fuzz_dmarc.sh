#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Run the DMARC fuzz target (From fields, DMARC records, A-label
# conversion) for a bounded time: 20 s (FUZZ_DMARC_SECONDS overrides).
# Seeds: the From fields of the corpus messages and the _dmarc records of
# tests/dmarc/walk.zone, plus a few hand-made hostile ones.
set -e
secs=${FUZZ_DMARC_SECONDS:-20}
bin=${AM_TOP_BUILDDIR:-.}/tests/dmarc/fuzz_dmarc
[ -x "$bin" ] || bin=./dmarc/fuzz_dmarc
corpus=${AM_CORPUS:?AM_CORPUS not set}
zone=${AM_TOP_SRCDIR:-..}/tests/dmarc/walk.zone
tmp=$(mktemp -d /tmp/fuzz-dmarc.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
/usr/bin/python3 - "$corpus" "$zone" "$tmp" <<'PY'
import glob, os, re, sys
corpus, zone, tmp = sys.argv[1], sys.argv[2], sys.argv[3]
seeds = [b'"a \\" b" (c (d)) <@r.example,@s:x.y@example.com>, g: z@q.example;',
         b'=?utf-8?q?J=C3=B6rg?= <j@b\xc3\xbccher.example>', b'((((((((a@b',
         b'v=DMARC1; p=reject; sp=none; np=quarantine; psd=y; t=y; pct=5; '
         b'rua=mailto:a@b.example!10m, https://x.example/']
for f in glob.glob(corpus + '/**/*.eml', recursive=True):
    data = open(f, 'rb').read()
    seeds += [m.group(1) for m in re.finditer(rb'^From\s*:(.*(?:\r?\n[ \t].*)*)', data, re.M)]
seeds += re.findall(rb'TXT\s+"([^"\n]*)"', open(zone, 'rb').read())
for i, s in enumerate(seeds):
    open('%s/s%d' % (tmp, i), 'wb').write(s)
print('fuzz_dmarc: %d seeds' % len(seeds))
PY
echo "fuzz_dmarc: $secs s"
"$bin" -max_total_time="$secs" -max_len=20000 -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 "$tmp" >"$tmp/log" 2>&1 || { tail -50 "$tmp/log"; exit 1; }
grep -E 'stat::number_of_executed_units|Done' "$tmp/log" || true
