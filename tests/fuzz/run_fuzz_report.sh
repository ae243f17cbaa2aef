#!/bin/sh
# SPDX-License-Identifier: BSD-2-Clause
# make check: fuzz_report for a few seconds (see run_fuzz.sh).
exec "$(dirname "$0")/run_fuzz.sh" report "$@"
