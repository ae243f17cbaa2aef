#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# The SPF conformance suites through spf/run_suite: the official RFC 7208
# suite, the RFC 7208 s.7.4 macro examples and the stalwart suite, each
# converted by suite2manifest.py into zone files and a manifest. Fails on a
# failure not in spf/known-failures and on a listed test that passes.
set -e
src=${AM_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
build=${AM_TOP_BUILDDIR:-$src}
corpus=${AM_CORPUS:-$src/../shared/corpus}
out=$build/tests/spf/out
conv="python3 $src/tests/spf/suite2manifest.py"

rm -rf "$out"
$conv rfc7208 "$corpus/spf/rfc7208-tests.yml" "$out/rfc7208"
$conv macro "$corpus/spf/rfc7208-macro-examples.yml" "$out/macro"
$conv stalwart "$corpus/spf/stalwart" "$out/stalwart"
exec "$build/tests/spf/run_suite" "$src/tests/spf/known-failures" \
    "$out/rfc7208/manifest" "$out/macro/manifest" "$out/stalwart/manifest"
