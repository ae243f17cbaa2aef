#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# A long run of one fuzz target, by hand: long-run.sh TARGET [DURATION]
# DURATION is seconds or 10m / 2h (default 10m). Run it from the build
# tree's top or tests directory after make check (which builds the
# targets), or set AM_TOP_BUILDDIR. The corpus grown, the log and any
# crash input are kept in tests/fuzz/work_TARGET of the build tree (to add
# new seeds: fuzz_TARGET -merge=1 corpus_TARGET work_TARGET/corpus).
set -u
t=${1:?usage: long-run.sh TARGET [DURATION]}
d=${2:-10m}
case $d in
*h) secs=$(( ${d%h} * 3600 )) ;;
*m) secs=$(( ${d%m} * 60 )) ;;
*s) secs=${d%s} ;;
*) secs=$d ;;
esac
here=$(cd "$(dirname "$0")" && pwd)
: "${AM_TOP_SRCDIR:=$(cd "$here/../.." && pwd)}"
if [ -z "${AM_TOP_BUILDDIR:-}" ]; then
	if [ -x "fuzz/fuzz_$t" ]; then
		AM_TOP_BUILDDIR=$(cd .. && pwd)
	elif [ -x "tests/fuzz/fuzz_$t" ]; then
		AM_TOP_BUILDDIR=$(pwd)
	else
		echo "long-run: no fuzz_$t here; run make check first" >&2
		exit 1
	fi
fi
export AM_TOP_SRCDIR AM_TOP_BUILDDIR
FUZZ_KEEP=1 exec "$here/run_fuzz.sh" "$t" "$secs"
