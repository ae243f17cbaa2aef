#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Run the DKIM parser fuzz target for a bounded time: 20 s on signatures,
# 20 s on key records (FUZZ_DKIM_SECONDS overrides). The seed corpus is
# built here from the DKIM-Signature values of the test messages in
# AM_CORPUS/dkim and from the key records of its DNS data; the first byte
# of each seed selects the parser (odd: signature, even: key record).
set -e
secs=${FUZZ_DKIM_SECONDS:-20}
bin=${AM_TOP_BUILDDIR:-.}/tests/fuzz/fuzz_dkim
[ -x "$bin" ] || bin=./fuzz/fuzz_dkim
corpus=${AM_CORPUS:?AM_CORPUS not set}/dkim
tmp=$(mktemp -d /tmp/fuzz-dkim.XXXXXX)
trap 'rm -rf "$tmp"' EXIT INT TERM
mkdir "$tmp/sig" "$tmp/key"
/usr/bin/python3 - "$corpus" "$tmp" <<'PY'
import glob, os, re, sys
corpus, tmp = sys.argv[1], sys.argv[2]
n = 0
for f in glob.glob(corpus + '/**/*', recursive=True):
    if not os.path.isfile(f) or os.path.getsize(f) > 1 << 20:
        continue
    data = open(f, 'rb').read().replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
    for m in re.finditer(rb'^DKIM-Signature:(.*?)\r\n(?=\S)', data, re.M | re.S | re.I):
        n += 1
        open('%s/sig/s%d' % (tmp, n), 'wb').write(b'\x01' + m.group(1))
    for m in re.finditer(rb'(?:^|\s|")((?:v=DKIM1;|k=rsa|k=ed25519)[^"\r\n]*)', data, re.M):
        n += 1
        open('%s/key/k%d' % (tmp, n), 'wb').write(b'\x00' + m.group(1))
print('fuzz_dkim: %d seeds' % n)
PY
for what in sig key; do
	echo "fuzz_dkim: $what parser for $secs s"
	"$bin" -max_total_time="$secs" -max_len=12000 -timeout=10 \
	    -rss_limit_mb=2048 -print_final_stats=1 "$tmp/$what" \
	    >"$tmp/$what.log" 2>&1 || { tail -50 "$tmp/$what.log"; exit 1; }
	grep -E 'stat::number_of_executed_units|Done' "$tmp/$what.log" || true
done
