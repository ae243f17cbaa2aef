#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# Differential test against libspf2 on the valid records of the official
# RFC 7208 suite (spf/diff_libspf2). Fails only on a difference that no
# libspf2 bug explains.
set -e
src=${AM_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${AM_TOP_BUILDDIR:-$src}
corpus=${AM_CORPUS:-$src/../shared/corpus}
out=$build/tests/spf/out-diff
rm -rf "$out"
python3 "$src/tests/spf/suite2manifest.py" rfc7208 \
    "$corpus/spf/rfc7208-tests.yml" "$out"
exec "$build/tests/spf/diff_libspf2" "$out/manifest"
