#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
# test_recipients.sh: IgnoreRecipients and ForgedHeaders rename through a
# real Postfix (issue 11).
#
# DMARCEnforce yes, p=reject at reject.auth.test, sent from a client no SPF
# record lists and unsigned: a DMARC failure. IgnoreRecipients is read from
# a file (file:, with a comment): a message whose every recipient is
# ignored is delivered with the override in its header (local_policy
# IgnoreRecipients); one with an ignored and an ordinary recipient is
# rejected -- or any sender would add postmaster@ to escape the reject.
# ForgedHeaders rename: a forged A-R claiming our id is removed and kept
# as X-Original-Authentication-Results.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/lib_auth.sh"
e2e_init test_recipients
auth_dmarc_conf rfc9989 yes
e2e_conf_set ARCMode off
printf '# who must always get mail\npostmaster@\n@abuse.rcpt.test  # a whole domain\n' \
    >"$E2E_DIR/ignore.list"
e2e_conf_set IgnoreRecipients "file:$E2E_DIR/ignore.list"
e2e_conf_set ForgedHeaders rename
auth_start_all
FORGED="Authentication-Results: $E2E_AUTHSERV; dmarc=pass header.from=reject.auth.test"

# postmaster alone: delivered, the override said in the header
auth_msg "$E2E_DIR/postmaster.eml" u@reject.auth.test
e2e_swaks_bg postmaster "$AUTH_BAD" "$AUTH_HELO" u@reject.auth.test "$E2E_DIR/postmaster.eml"
# postmaster and an ordinary recipient: rejected
auth_msg "$E2E_DIR/mixed.eml" u@reject.auth.test
e2e_swaks_bg mixed "$AUTH_BAD" "$AUTH_HELO" u@reject.auth.test "$E2E_DIR/mixed.eml" \
    --to "mixed@rcpt.test,postmaster@rcpt.test"
# forged header, ordinary recipient, a passing sender: renamed
e2e_msg "$E2E_DIR/forged.eml" u@pass.e2e.test "$FORGED"
e2e_swaks_bg forged "$E2E_CLIENT" client.e2e.test u@pass.e2e.test "$E2E_DIR/forged.eml"

if e2e_swaks_wait postmaster && e2e_wait_delivered postmaster; then
	if e2e_our_ar "$E2E_FILE" | grep -q -F \
	    "dmarc=fail (p=reject dis=none reason=local_policy IgnoreRecipients;"; then
		e2e_ok "postmaster: delivered, override in the header"
	else
		e2e_fail postmaster "header: $(e2e_our_ar "$E2E_FILE")"
	fi
fi
wait "$E2E_SWAKS_mixed"
if grep -q '^<\*\* *550 5.7.1' "$E2E_DIR/swaks.mixed"; then
	e2e_ok "mixed: rejected with 550 5.7.1"
else
	e2e_fail mixed "reply: $(grep -E '^(<\*\*|<-  2)' "$E2E_DIR/swaks.mixed" | tail -2)"
fi
if grep -q 'policy="local_policy (IgnoreRecipients)"' "$E2E_DIR/authmilter.log"; then
	e2e_ok "log: the reason"
else
	e2e_fail "log" "no IgnoreRecipients reason in the log"
fi
if e2e_swaks_wait forged && e2e_wait_delivered forged; then
	n=$(e2e_our_ar "$E2E_FILE" | grep -c .)
	if [ "$n" = 1 ] && e2e_headers "$E2E_FILE" | grep -q -F \
	    "X-Original-Authentication-Results: $E2E_AUTHSERV; dmarc=pass header.from=reject.auth.test"; then
		e2e_ok "forged: renamed"
	else
		e2e_fail forged "$n A-R of ours; headers: $(e2e_headers "$E2E_FILE" | head -8)"
	fi
fi
e2e_finish
