# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e/lib_auth.sh: DKIM and DMARC helpers for the end-to-end tests
# (test_dkim.sh, test_dmarc.sh, test_check_vs_daemon_auth.sh). Sourced after
# tests/e2e/lib.sh, whose functions it uses and does not change.
#
# Messages: auth_msg builds one (a From spec may name several authors);
# auth_sign signs it with tests/e2e/sign.py (dkimpy, an independent signer,
# keys in tests/keys/) and may then tamper with it; auth_sig_b gives the
# header.b value (RFC 6008 s.2: the first 8 characters of b=) the daemon
# must report for one signature. DNS data: tests/zones/auth.zone and
# authesp.zone.
#
# Outcomes: auth_wait_swaks waits for a background e2e_swaks_bg session and
# sets AUTH_REPLY to its final reply; auth_held_file finds a message on Postfix's hold
# queue (where smfi_quarantine puts it); auth_held_headers prints its header
# block like a delivered file's.
#
# Servers: auth_start_postfix is e2e_start_postfix with Cyrus SASL (PLAIN,
# LOGIN from a private sasldb, user $AUTH_USER) so that an authenticated
# submission can be sent; auth_restart_milter restarts the daemon with the
# current e2e_conf_set values (same socket, Postfix keeps running).
#
# Case tables: AUTH_DKIM_CASES, AUTH_DMARC_CASES, AUTH_7489_CASES,
# AUTH_NOENF_CASES and AUTH_TEMP_CASES (below) are shared by the three
# scripts, so that test_check_vs_daemon_auth.sh checks the very
# messages and envelopes the other two do.

AUTH_KEYS=$AM_TOP_SRCDIR/tests/keys
AUTH_C=$E2E_CLIENT		# authorized by every SPF record of auth.test
AUTH_BAD=192.0.2.99		# authorized by none
AUTH_FWD=198.51.100.7		# DMARCTrustedForwarders in test_dmarc.sh
AUTH_HELO=client.e2e.test
AUTH_USER=alice
AUTH_PASS=e2e-secret
AUTH_REJECT_TEXT='DMARC policy of %d says no (100%%)'
AUTH_MULTI_TEXT='Message rejected: the From header field must name exactly one author domain'

# auth_msg FILE FROMSPEC: a small message, CRLF line ends, like e2e_msg.
# FROMSPEC "a@x" gives "From: <a@x>"; "a@x,b@y" one From field with two
# mailboxes; "a@x|b@y" two From fields (RFC 5322 s.3.6: exactly one).
auth_msg() {
	local f=$1 spec=$2 n a
	n=$(basename "$f" .eml)
	{
		case $spec in
		*"|"*)
			for a in ${spec//|/ }; do
				printf 'From: <%s>\r\n' "$a"
			done ;;
		*)
			printf 'From: <%s>\r\n' "${spec//,/>, <}" ;;
		esac
		printf 'To: <rcpt@rcpt.test>\r\nSubject: e2e %s\r\n' "$n"
		printf 'Date: Thu, 01 Jan 2026 00:00:00 +0000\r\n'
		printf 'Message-ID: <%s@e2e.test>\r\n' "$n"
		printf 'MIME-Version: 1.0\r\nContent-Type: text/plain\r\n\r\n'
		printf 'Test message %s.\r\n' "$n"
	} >"$f"
}

# auth_sig_arg SPEC: one sign.py argument from "DOMAIN/SELECTOR[/H[/C]]".
# The selector picks the key: ed is Ed25519, every other one the RSA key
# (the zone publishes it under rsa, publishes an empty p= under revoked,
# and nothing under nokey). H is a colon list of header fields to sign
# (empty: dkimpy's default); C the canonicalization, header.body
# (default relaxed.relaxed).
auth_sig_arg() {
	local d s h c a=
	IFS=/ read -r d s h c <<<"$1"
	if [ "$s" = ed ]; then
		a="key=$AUTH_KEYS/ed25519.pem,a=ed25519-sha256"
	else
		a="key=$AUTH_KEYS/rsa2048.pem,a=rsa-sha256"
	fi
	c=${c:-relaxed.relaxed}
	echo "d=$d,s=$s,$a,c=${c/./\/}${h:+,h=$h}"
}

# auth_sign FILE SIGS TAMPER: signs FILE in place. SIGS is "-" (none) or
# specs joined by "+", signed left to right (the last on top); TAMPER is
# none, body (a changed body line), ws (white space added inside and at
# the end of the body line: relaxed body canonicalization, RFC 6376
# s.3.4.4, hides it, simple does not) or subject (a changed Subject).
auth_sign() {
	local f=$1 sigs=$2 t=$3 args=() s
	if [ "$sigs" != - ]; then
		for s in ${sigs//+/ }; do
			args+=("$(auth_sig_arg "$s")")
		done
		/usr/bin/python3 "$E2E_SRC/sign.py" "$f" "$f.signed" "${args[@]}" ||
		    e2e_die "sign.py failed on $f"
		mv "$f.signed" "$f"
	fi
	case $t in
	none) ;;
	body) sed -i 's/^Test message /Test message (changed) /' "$f" ;;
	ws) sed -i 's/^Test message \(.*\)\r$/Test  message\t\1 \t\r/' "$f" ;;
	subject) sed -i 's/^Subject: e2e /Subject: tampered /' "$f" ;;
	*) e2e_die "auth_sign: unknown tamper $t" ;;
	esac
}

# auth_make FILE FROMSPEC SIGS TAMPER: auth_msg, then auth_sign.
auth_make() {
	auth_msg "$1" "$2"
	auth_sign "$1" "$3" "$4"
}

# auth_sig_b FILE DOMAIN SELECTOR: the first 8 characters of b= of the
# DKIM-Signature with that d= and s= (RFC 6008 s.2 header.b).
auth_sig_b() {
	e2e_headers "$1" | /usr/bin/python3 -c '
import re, sys
d, s = sys.argv[1], sys.argv[2]
for line in sys.stdin:
    if not line.lower().startswith("dkim-signature:"):
        continue
    tags = {}
    for part in line.split(":", 1)[1].split(";"):
        k, _, v = part.partition("=")
        tags[k.strip()] = re.sub(r"\s+", "", v)
    if tags.get("d") == d and tags.get("s") == s:
        print(tags["b"][:8])
        break
' "$2" "$3"
}

# auth_re_quote STRING: STRING as a literal in an extended regex.
auth_re_quote() {
	sed -e 's/[][\.*^$+?(){}|]/\\&/g' <<<"$1"
}

# auth_reject_text DOMAIN: the reply text configured for DOMAIN's rejection.
auth_reject_text() {
	local t=${AUTH_REJECT_TEXT//%d/$1}
	echo "${t//%%/%}"
}

# auth_wait_swaks CASE: waits for CASE's background swaks (e2e_swaks_bg)
# and sets AUTH_REPLY to the server's last reply line before QUIT ("CODE
# TEXT"): the reply to the message, or to whatever command failed first.
# (Not a $(...) function: a subshell cannot wait for its parent's children.)
auth_wait_swaks() {
	local v="E2E_SWAKS_${1//[^A-Za-z0-9]/_}"
	if [ -n "${!v:-}" ]; then
		wait "${!v}"
		unset "$v"	# e2e_swaks_wait must not wait again
	fi
	AUTH_REPLY=$(sed -n -e \
	    's/^<[-*~][*-]* *\([0-9][0-9][0-9][ -].*\)$/\1/p' \
	    "$E2E_DIR/swaks.$1" | grep -v '^221 ' | tail -n 1)
}

# expect_reply CASE REPLY WANT: the last reply to the message was WANT.
expect_reply() {
	if [ "$2" = "$3" ]; then
		e2e_ok "$1: reply"
	else
		e2e_fail "$1: reply" "got '$2', expected '$3'"
	fi
}

# expect_not_delivered CASE: nothing was delivered to CASE@rcpt.test.
expect_not_delivered() {
	if e2e_delivered_file "$1@rcpt.test" >/dev/null; then
		e2e_fail "$1: not delivered" "delivered: $(e2e_delivered_file "$1@rcpt.test")"
	else
		e2e_ok "$1: not delivered"
	fi
}

# auth_held_file CASE: the hold queue file whose recipient is CASE@rcpt.test.
auth_held_file() {
	local f
	for f in "$E2E_DIR"/pf/spool/hold/*; do
		[ -f "$f" ] || continue
		postcat -c "$E2E_PF_ETC" -e "$f" 2>/dev/null |
		    grep -q -x -F "recipient: $1@rcpt.test" && { echo "$f"; return 0; }
	done
	return 1
}

# auth_held_headers FILE: the header block of a queue file, as e2e_headers
# prints a delivered one (unfolded, one field a line).
auth_held_headers() {
	postcat -c "$E2E_PF_ETC" -h "$1" | sed '/^\*\*\* /d' >"$1.hdr.$$" &&
	    e2e_headers "$1.hdr.$$"
	rm -f "$1.hdr.$$"
}

# expect_held CASE: CASE's message is on the hold queue; sets AUTH_HELD to
# a copy of its header block (a file e2e_headers can read).
expect_held() {
	local f
	AUTH_HELD=
	if ! f=$(auth_held_file "$1"); then
		e2e_fail "$1: held" "no message for $1@rcpt.test on the hold queue: $(postqueue -c "$E2E_PF_ETC" -p | head -5)"
		return 1
	fi
	e2e_ok "$1: held"
	AUTH_HELD=$E2E_DIR/$1.held
	auth_held_headers "$f" >"$AUTH_HELD"
}

# ---- servers ----

# auth_sasl_setup: a private Cyrus SASL config and sasldb with $AUTH_USER
# (realm mx.example.test, the smtpd_sasl_local_domain below). The config is
# $config_directory/sasl/smtpd.conf: Debian's Postfix looks there whatever
# cyrus_sasl_config_path says (upstream's reads cyrus_sasl_config_path,
# which is set to the same directory).
auth_sasl_setup() {
	local d=$E2E_PF_ETC/sasl
	e2e_need saslpasswd2
	ls /usr/lib/*/sasl2/libsasldb.so* >/dev/null 2>&1 ||
	    e2e_die "missing dependency: libsasl2-modules (the sasldb plugin)"
	mkdir -p "$d"
	cat >"$d/smtpd.conf" <<EOF
pwcheck_method: auxprop
auxprop_plugin: sasldb
sasldb_path: $d/sasldb2
mech_list: PLAIN LOGIN
EOF
	echo "$AUTH_PASS" | saslpasswd2 -f "$d/sasldb2" -u "$E2E_AUTHSERV" \
	    -p -c "$AUTH_USER" || e2e_die "saslpasswd2 failed"
	chown postfix "$d/sasldb2"
	chmod 640 "$d/sasldb2"
	chmod 755 "$d"
}

# auth_postfix_sasl: the main.cf lines for SASL (plaintext on loopback:
# no TLS in these tests).
auth_postfix_sasl() {
	cat <<EOF
# added by tests/e2e/lib_auth.sh: SMTP AUTH by Cyrus SASL
smtpd_sasl_auth_enable = yes
smtpd_sasl_type = cyrus
smtpd_sasl_path = smtpd
cyrus_sasl_config_path = $E2E_PF_ETC/sasl
smtpd_sasl_local_domain = $E2E_AUTHSERV
smtpd_sasl_security_options = noanonymous
smtpd_tls_auth_only = no
broken_sasl_auth_clients = no
EOF
}

# auth_start_postfix: e2e_start_postfix, with SASL set up and its lines
# added to main.cf through the harness's hooks.
e2e_postfix_pre_start() {
	auth_sasl_setup
}
e2e_postfix_main_extra() {
	auth_postfix_sasl
}
auth_start_postfix() {
	e2e_start_postfix
}

# auth_start_all: e2e_start_all with auth_start_postfix.
auth_start_all() {
	e2e_need_servers
	e2e_need postcat postqueue
	e2e_start_dns
	e2e_start_milter
	auth_start_postfix
}

# auth_restart_milter: stops the daemon (SIGTERM: it must exit 0 within
# 10 s, as e2e_milter_exit wants at the end) and starts it again with the
# current configuration (e2e_conf_set since the last start). Postfix keeps
# running and connects to the new one on the same socket.
auth_restart_milter() {
	kill "$E2E_MILTER_PID" 2>/dev/null
	e2e_milter_wait_exit "restart: daemon exit"
	e2e_poll 10 sh -c "! (exec 3<>/dev/tcp/127.0.0.1/$E2E_MILTER_PORT) 2>/dev/null" ||
	    e2e_die "authmilter still listens on $E2E_MILTER_PORT after TERM"
	e2e_start_milter
}

# ---- case tables ----
# DKIM (RFC 6376 s.6, RFC 8463). Columns: case, From, signatures (see
# auth_sign; signed left to right, the last on top), tamper, and the dkim=
# entries the daemon must report, each RESULT/DOMAIN/SELECTOR[/REASON]
# (REASON with _ for spaces). The mail from is the From address.
AUTH_DKIM_CASES="
dkim-rsa	u@auth.test	auth.test/rsa		none	pass/auth.test/rsa
dkim-ed25519	u@auth.test	auth.test/ed		none	pass/auth.test/ed
dkim-rsa-ed	u@auth.test	auth.test/rsa+auth.test/ed	none	pass/auth.test/ed pass/auth.test/rsa
dkim-body	u@auth.test	auth.test/rsa		body	fail/auth.test/rsa/body_hash_mismatch
dkim-ed-body	u@auth.test	auth.test/ed		body	fail/auth.test/ed/body_hash_mismatch
dkim-revoked	u@auth.test	auth.test/revoked	none	permerror/auth.test/revoked/key_revoked
dkim-nokey	u@auth.test	auth.test/nokey		none	permerror/auth.test/nokey/no_key
dkim-two	u@auth.test	auth.test/rsa/from:to:date:message-id+authesp.test/rsa/from:to:subject	subject	fail/authesp.test/rsa/signature_did_not_verify pass/auth.test/rsa
dkim-relaxed-ws	u@auth.test	auth.test/rsa		ws	pass/auth.test/rsa
dkim-simple	u@auth.test	auth.test/ed//simple.simple	none	pass/auth.test/ed
dkim-simple-ws	u@auth.test	auth.test/rsa//simple.simple	ws	fail/auth.test/rsa/body_hash_mismatch
dkim-none	u@auth.test	-			none	none
"

# DMARC (RFC 9989; RFC 7489 in the 7489 table). Columns: case, client,
# mail from, From (see auth_msg), signatures, outcome, and the dmarc= entry
# expected, as a literal prefix. Outcomes: deliver; hold (quarantined:
# Postfix's hold queue); reject (550 5.7.1 with $AUTH_REJECT_TEXT for the
# From domain); multi (550 5.7.1 $AUTH_MULTI_TEXT); tempfail (451 4.7.1);
# sasl (sent with SMTP AUTH as $AUTH_USER: delivered, no verdict of ours).
# The first table runs with DMARCEnforce yes, rfc9989 (test_dmarc.sh's
# auth_dmarc_conf).
AUTH_DMARC_CASES="
reject		$AUTH_BAD	u@reject.auth.test	u@reject.auth.test	-	reject	dmarc=fail (p=reject dis=reject; no aligned identifier passed) header.from=reject.auth.test policy.dmarc=reject
quarantine	$AUTH_BAD	u@quarantine.auth.test	u@quarantine.auth.test	-	hold	dmarc=fail (p=quarantine dis=quarantine; no aligned identifier passed) header.from=quarantine.auth.test policy.dmarc=quarantine
pct0-9989	$AUTH_BAD	u@pct0.auth.test	u@pct0.auth.test	-	reject	dmarc=fail (p=reject dis=reject;
sp-reject	$AUTH_BAD	u@sub.spdom.auth.test	u@sub.spdom.auth.test	-	reject	dmarc=fail (p=none sp=reject dis=reject;
sp-org-none	$AUTH_BAD	u@spdom.auth.test	u@spdom.auth.test	-	deliver	dmarc=fail (p=none sp=reject dis=none; no aligned identifier passed) header.from=spdom.auth.test policy.dmarc=none
np-reject	$AUTH_BAD	u@nx.npdom.auth.test	u@nx.npdom.auth.test	-	reject	dmarc=fail (p=none sp=none np=reject dis=reject;
np-existing	$AUTH_BAD	u@sub.npdom.auth.test	u@sub.npdom.auth.test	-	deliver	dmarc=fail (p=none sp=none np=reject dis=none;
testing		$AUTH_BAD	u@testing.auth.test	u@testing.auth.test	-	hold	dmarc=fail (p=reject dis=quarantine reason=policy_test_mode;
pass-dkim	$AUTH_BAD	u@reject.auth.test	u@reject.auth.test	reject.auth.test/rsa	deliver	dmarc=pass (p=reject dis=none) header.from=reject.auth.test
pass-spf	$AUTH_C		u@reject.auth.test	u@reject.auth.test	-	deliver	dmarc=pass (p=reject dis=none) header.from=reject.auth.test
pass-spf-relaxed $AUTH_C	b@bounce.reject.auth.test u@reject.auth.test	-	deliver	dmarc=pass (p=reject dis=none) header.from=reject.auth.test
unaligned-dkim	$AUTH_BAD	u@reject.auth.test	u@reject.auth.test	auth.test/rsa	reject	dmarc=fail (p=reject dis=reject;
forwarder	$AUTH_FWD	u@reject.auth.test	u@reject.auth.test	-	deliver	dmarc=fail (p=reject dis=none reason=trusted_forwarder;
ignored		$AUTH_BAD	u@ignore.auth.test	u@ignore.auth.test	-	deliver	dmarc=fail (p=reject dis=none reason=local_policy;
multi-from	$AUTH_C		u@reject.auth.test	u@reject.auth.test,v@quarantine.auth.test -	multi	dmarc=permerror
multi-field	$AUTH_C		u@reject.auth.test	u@reject.auth.test|v@reject.auth.test -	multi	dmarc=permerror
sasl		$AUTH_BAD	u@reject.auth.test	u@reject.auth.test	-	sasl	-
"

# RFC 7489 mode (DMARCMode rfc7489, DMARCEnforce yes): pct= and the public
# suffix list's Organizational Domain (auth.test for sub.spdom).
AUTH_7489_CASES="
7489-pct0	$AUTH_BAD	u@pct0.auth.test	u@pct0.auth.test	-	hold	dmarc=fail (p=reject dis=quarantine reason=sampled_out;
7489-pct0q	$AUTH_BAD	u@pct0q.auth.test	u@pct0q.auth.test	-	deliver	dmarc=fail (p=quarantine dis=none reason=sampled_out;
7489-reject	$AUTH_BAD	u@reject.auth.test	u@reject.auth.test	-	reject	dmarc=fail (p=reject dis=reject;
7489-pass-dkim	$AUTH_BAD	u@reject.auth.test	u@reject.auth.test	reject.auth.test/rsa	deliver	dmarc=pass (p=reject dis=none) header.from=reject.auth.test
"

# Monitor mode (DMARCEnforce no): failures are only reported.
AUTH_NOENF_CASES="
noenf-reject	$AUTH_BAD	u@reject.auth.test	u@reject.auth.test	-	deliver	dmarc=fail (p=reject dis=none reason=local_policy; no aligned identifier passed) header.from=reject.auth.test policy.dmarc=none
noenf-quarantine $AUTH_BAD	u@quarantine.auth.test	u@quarantine.auth.test	-	deliver	dmarc=fail (p=quarantine dis=none reason=local_policy;
noenf-multi	$AUTH_C		u@reject.auth.test	u@reject.auth.test,v@quarantine.auth.test -	deliver	dmarc=permerror
"

# DNS trouble, TempFailOnDNSError yes: a DMARC lookup that fails (SERVFAIL)
# and an SPF temperror for a MAIL FROM domain that aligns with the From
# domain make DMARC temperror: 451. An SPF temperror for a domain that can
# never align changes nothing: the reject stands (no 451 for spammers).
AUTH_TEMP_CASES="
tempfail	$AUTH_C		u@servfail.test		u@servfail.test		-	tempfail	dmarc=temperror
tempfail-spf	$AUTH_C		u@tempinc.e2e.test	u@reject.auth.test	-	reject	dmarc=fail (p=reject dis=reject;
tempfail-spf-aligned $AUTH_C	u@tempinc.reject.auth.test u@reject.auth.test	-	tempfail	dmarc=temperror (p=reject dis=none; SPF temperror for aligned domain tempinc.reject.auth.test)
"

# The same with TempFailOnDNSError no: a temperror that could have changed
# the outcome is delivered with dmarc=temperror, never rejected (the bug
# was a 550); one that could not leaves the reject in place.
AUTH_TEMPNO_CASES="
tempno		$AUTH_C		u@servfail.test		u@servfail.test		-	deliver	dmarc=temperror
tempno-spf	$AUTH_C		u@tempinc.e2e.test	u@reject.auth.test	-	reject	dmarc=fail (p=reject dis=reject;
tempno-spf-aligned $AUTH_C	u@tempinc.reject.auth.test u@reject.auth.test	-	deliver	dmarc=temperror (p=reject dis=none; SPF temperror for aligned domain tempinc.reject.auth.test)
"

# auth_dmarc_conf MODE ENFORCE: the daemon config of a DMARC table.
auth_dmarc_conf() {
	e2e_conf_set DMARCMode "$1"
	e2e_conf_set DMARCEnforce "$2"
	e2e_conf_set DMARCRejectText "$AUTH_REJECT_TEXT"
	e2e_conf_set DMARCRejectMultiFrom yes
	e2e_conf_set DMARCTrustedForwarders "$AUTH_FWD"
	e2e_conf_set DMARCIgnoreDomains ignore.auth.test
	e2e_conf_set TempFailOnDNSError yes
	e2e_conf_set SkipAuthenticated yes
}

# auth_send_dmarc TABLE: makes every message of TABLE and sends them all
# at once (background swaks; auth_wait_swaks collects).
auth_send_dmarc() {
	local c ip mf from sigs out dm extra
	while read -r c ip mf from sigs out dm; do
		[ -n "$c" ] || continue
		auth_make "$E2E_DIR/$c.eml" "$from" "$sigs" none
		extra=()
		[ "$out" = sasl ] && extra=(--auth PLAIN --auth-user "$AUTH_USER" \
		    --auth-password "$AUTH_PASS")
		e2e_swaks_bg "$c" "$ip" "$AUTH_HELO" "$mf" "$E2E_DIR/$c.eml" \
		    "${extra[@]}"
	done <<<"$1"
}

# auth_from_domain FROMSPEC: the domain of the first author.
auth_from_domain() {
	local a=${1%%[,|]*}
	echo "${a##*@}"
}

# auth_want_reply OUTCOME FROMSPEC: the final reply an outcome must get
# ("" for a queued message: 250 queued is checked by e2e_swaks_wait).
auth_want_reply() {
	case $1 in
	reject) echo "550 5.7.1 $(auth_reject_text "$(auth_from_domain "$2")")" ;;
	multi) echo "550 5.7.1 $AUTH_MULTI_TEXT" ;;
	tempfail) echo "451 4.7.1 Temporary DNS failure evaluating DMARC for $(auth_from_domain "$2"); try again later" ;;
	*) echo "" ;;
	esac
}
