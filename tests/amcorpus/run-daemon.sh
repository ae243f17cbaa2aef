#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# run-daemon.sh: the authentication_milter corpus through the real daemon in
# a private Postfix (tests/e2e/lib.sh), DNS from nsd serving the converted
# corpus zones (tests/amcorpus/lib.sh). For each corpus config the daemon is
# (re)started with the config run-check.sh uses (DMARCMode rfc7489; set
# AMC_MODES="rfc7489 rfc9989" for both), then each case is one SMTP session
# (amcorpus.py daemon): client address by XCLIENT, EHLO the case's HELO,
# MAIL FROM as given (<> when empty, the odd ones verbatim in <...>), the
# source message. The A-R header the daemon added (unfolded, authserv-id
# stripped) must be the one `authmilter --check` prints for the same
# message and envelope (MAIL FROM: the argument as sent, which is what the
# milter is given, whatever Postfix queues as Return-Path);
# a rejected message's SMTP reply must be --check's action line. Cases
# listed in known-failures as CASE@daemon may differ (and must).
. "$(dirname "$0")/../e2e/lib.sh"
AMC_SRC=$(cd "$(dirname "$0")" && pwd)
. "$AMC_SRC/lib.sh"
e2e_init amcorpus_daemon
e2e_need_servers
: "${AM_CORPUS:=/work/shared/corpus}"
export AM_CORPUS
/usr/bin/python3 "$AMC_SRC/convert.py" zones "$E2E_DIR/zones" ||
    e2e_die "convert.py zones failed"
/usr/bin/python3 "$AMC_SRC/convert.py" cases "$E2E_DIR/cases.json" ||
    e2e_die "convert.py cases failed"
amc_start_nsd "$E2E_DIR/zones"
amc_conf normal rfc7489
e2e_start_milter
e2e_start_postfix

started=0
known=0
for mode in ${AMC_MODES:-rfc7489}; do
	for cfg in normal dmarc_reject dmarc_reject_wl dryrun hide_none timeout handler; do
		amc_conf "$cfg" "$mode"
		[ $started = 1 ] && e2e_restart_milter
		started=1
		while IFS= read -r line; do
			case $line in
			PASS:*) e2e_ok "${line#PASS: }" ;;
			FAIL:*) e2e_fail "${line#FAIL: }" ;;
			KNOWN:*) echo "$line"; known=$((known + 1)) ;;
			*) echo "$line" ;;
			esac
		done < <(/usr/bin/python3 "$AMC_SRC/amcorpus.py" daemon \
		    "$E2E_DIR/cases.json" "$AMC_SRC/known-failures" "$cfg" \
		    "$AM_BIN" "$E2E_CONF" \
		    "$E2E_SMTP_PORT" "$E2E_DIR/mail/all" "$mode" 2>&1)
	done
done
echo "authentication_milter corpus through Postfix: $E2E_PASSES/$((E2E_PASSES + E2E_FAILS + known)) cases (the milter cases and the DMARC handler ones) give the A-R header (or reply) of --check ($known known failures)"
e2e_finish
