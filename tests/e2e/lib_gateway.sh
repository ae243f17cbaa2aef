# SPDX-License-Identifier: BSD-2-Clause
# tests/e2e/lib_gateway.sh: the security-gateway set-up of the end-to-end
# tests (test_gateway.sh, test_arc_override.sh). Sourced after
# tests/e2e/lib.sh, whose functions it uses and does not change.
#
# Two private Postfix instances on 127.0.0.1:
#   front  "internet-facing": the harness's instance ($E2E_PF_ETC, smtpd on
#          $E2E_SMTP_PORT, XCLIENT from the test clients, smtpd_milters the
#          daemon), but with no local delivery: relay_domains = rcpt.test,
#          everything relayed to relayhost = [127.0.0.1]:$GW_BACK_PORT by
#          smtp(8), no DNS (smtp_dns_support_level = disabled, relayhost
#          in brackets, so no MX lookup);
#   back   the hosted mailbox provider ($GW_BACK_ETC): no milter, delivers
#          by virtual(8) into $E2E_DIR/mail/all, the maildir the harness's
#          e2e_wait_delivered reads. It sees only the front's IP, which is
#          why the front must judge (DESIGN.md: security gateway).
# The daemon: DMARCMode rfc9989, DMARCEnforce yes, ARC sealing as gw.test
# (selector seal, key tests/keys/gw/seal.pem copied to a mode-600 file).
#
# Messages: gw_msg builds one (e2e_msg), gw_dkim_sign DKIM-signs it as the
# author domain (tests/e2e/sign.py), gw_arc_seal ARC-seals it with Debian's
# dkimpy (dkim.arc_sign: a sealer independent of authmilter), gw_list makes
# the mailing-list copy (A-R of the list, footer, seal). gw_arc_verify runs
# dkimpy's dkim.arc_verify on a delivered copy, keys asked of unbound.
# DNS data: tests/zones/gateway.zone; keys: tests/keys/gw/.

GW_KEYS=$AM_TOP_SRCDIR/tests/keys/gw
GW_SEAL_DOMAIN=gw.test
GW_SEAL_SEL=seal
GW_PROVIDER=provider.test	# the back instance's myhostname
GW_SENDER=sender.gw.test	# p=reject, SPF 192.0.2.10 and 2001:db8::10
GW_LIST=list.gw.test		# the mailing list, SPF 198.51.100.20
GW_ROGUE=rogue.gw.test		# a sealer never trusted, SPF 198.51.100.30
GW_OK_IP=$E2E_CLIENT		# 192.0.2.10: the author domain's server
GW_OK_IP6=2001:db8::10
GW_BAD_IP=192.0.2.99		# in no SPF record
GW_LIST_IP=198.51.100.20
GW_ROGUE_IP=198.51.100.30
GW_HELO=mail.example.test
GW_SIGN_TIME=1767225600		# t= of every seal (the messages' Date)
GW_REJECT="550 5.7.1 Rejected by the DMARC policy of $GW_SENDER"

# gw_cleanup: the EXIT trap: stops the back instance, then the harness's
# e2e_cleanup (which stops the rest and reports) with the same status.
# (Scripts must not use set -u: lib.sh's e2e_dns_ready reads an unset $3
# in a pipeline, and that subshell would run this trap.)
gw_cleanup() {
	local rc=$? master
	if [ -n "${GW_BACK_ETC:-}" ] && [ -f "$GW_BACK_ETC/main.cf" ]; then
		master=$(cat "$E2E_DIR/pfback/spool/pid/master.pid" 2>/dev/null)
		postfix -c "$GW_BACK_ETC" stop >/dev/null 2>&1
		e2e_wait_gone "$master"
	fi
	if [ "$rc" != 0 ] || [ "$E2E_FAILS" != 0 ]; then
		[ -s "$E2E_DIR/pfback/postfix.log" ] &&
		    { echo "---- last lines of pfback/postfix.log ----"; \
		    tail -n 25 "$E2E_DIR/pfback/postfix.log"; }
	fi
	gw_status "$rc"
	e2e_cleanup
}

# gw_status N: returns N (sets $? for e2e_cleanup, without a subshell).
gw_status() {
	return "$1"
}

# gw_init NAME: e2e_init, our trap, and the Python modules the tests use.
gw_init() {
	local m
	e2e_init "$1"
	trap gw_cleanup EXIT
	for m in dkim authres dns.resolver; do
		/usr/bin/python3 -c "import $m" 2>/dev/null ||
		    e2e_die "missing dependency: Python module $m (Debian: python3-dkim python3-authres python3-dnspython)"
	done
}

# gw_conf: the daemon's configuration of a security gateway.
gw_conf() {
	install -m 600 "$GW_KEYS/seal.pem" "$E2E_DIR/seal.pem" ||
	    e2e_die "cannot copy the seal key"
	e2e_conf_set DMARCMode rfc9989
	e2e_conf_set DMARCEnforce yes
	e2e_conf_set ARCMode on
	e2e_conf_set ARCSealDomain "$GW_SEAL_DOMAIN"
	e2e_conf_set ARCSealSelector "$GW_SEAL_SEL"
	e2e_conf_set ARCSealKeyFile "$E2E_DIR/seal.pem"
}

# gw_pf_start ETC PORT WHAT: postfix check, start, wait for smtpd.
gw_pf_start() {
	postfix -c "$1" check >"$E2E_DIR/$3-check.out" 2>&1 ||
	    e2e_die "postfix check ($3) failed: $(cat "$E2E_DIR/$3-check.out")"
	postfix -c "$1" start >"$E2E_DIR/$3-start.out" 2>&1 ||
	    e2e_die "postfix start ($3) failed: $(cat "$E2E_DIR/$3-start.out")"
	e2e_poll 10 e2e_tcp_open "$2" ||
	    e2e_die "Postfix smtpd ($3) did not listen on port $2 within 10 s"
}

# gw_start_back: the provider: the harness's main.cf and master.cf moved to
# $E2E_DIR/pfback, without milter or XCLIENT, delivering to $E2E_DIR/mail
# (without X-Original-To: every X- field a delivered copy has is the
# sender's or ours).
gw_start_back() {
	local d=$E2E_DIR/pfback
	GW_BACK_PORT=$(e2e_free_port)
	GW_BACK_ETC=$d/etc
	mkdir -p "$GW_BACK_ETC" "$d/spool" "$d/data" "$E2E_DIR/mail"
	chown postfix "$d/data"
	chown 65534:65534 "$E2E_DIR/mail"
	E2E_PF_ETC=$GW_BACK_ETC e2e_postfix_main |
	    sed "s#$E2E_DIR/pf/#$d/#g" >"$GW_BACK_ETC/main.cf"
	E2E_SMTP_PORT=$GW_BACK_PORT e2e_postfix_master >"$GW_BACK_ETC/master.cf"
	postconf -c "$GW_BACK_ETC" -e "myhostname = $GW_PROVIDER" \
	    "smtpd_milters =" "smtpd_authorized_xclient_hosts =" \
	    "syslog_name = postfix-back" "enable_original_recipient = no" ||
	    e2e_die "postconf (back) failed"
	gw_pf_start "$GW_BACK_ETC" "$GW_BACK_PORT" back
}

# gw_start_front: the gateway: the harness's main.cf, local delivery taken
# out, rcpt.test relayed to the back instance.
gw_start_front() {
	[ -n "${E2E_MILTER_PORT:-}" ] || E2E_MILTER_PORT=$(e2e_free_port)
	E2E_SMTP_PORT=$(e2e_free_port)
	E2E_PF_ETC=$E2E_DIR/pf/etc
	mkdir -p "$E2E_PF_ETC" "$E2E_DIR/pf/spool" "$E2E_DIR/pf/data"
	chown postfix "$E2E_DIR/pf/data"
	e2e_postfix_main >"$E2E_PF_ETC/main.cf"
	{
		e2e_postfix_master
		printf 'smtp      unix  -       -       n       -       -       smtp\n'
		printf 'relay     unix  -       -       n       -       -       smtp\n'
	} >"$E2E_PF_ETC/master.cf"
	postconf -c "$E2E_PF_ETC" -X virtual_mailbox_domains \
	    virtual_mailbox_base virtual_mailbox_maps virtual_uid_maps \
	    virtual_gid_maps || e2e_die "postconf -X (front) failed"
	postconf -c "$E2E_PF_ETC" -e "relay_domains = rcpt.test" \
	    "relayhost = [127.0.0.1]:$GW_BACK_PORT" \
	    "default_transport = smtp" "relay_transport = relay" \
	    "smtp_dns_support_level = disabled" \
	    "smtp_tls_security_level = none" \
	    "smtp_host_lookup = native" ||
	    e2e_die "postconf -e (front) failed"
	gw_pf_start "$E2E_PF_ETC" "$E2E_SMTP_PORT" front
}

# gw_start_all: DNS, the daemon (gw_conf, plus the caller's e2e_conf_set
# lines), the provider, the gateway.
gw_start_all() {
	e2e_need_servers
	e2e_need postqueue openssl
	gw_conf
	e2e_start_dns
	e2e_start_milter
	gw_start_back
	gw_start_front
}

# ---- messages ----

# gw_msg FILE FROM [HEADER...]: e2e_msg (CRLF; the HEADERs on top).
gw_msg() {
	e2e_msg "$@"
}

# gw_dkim_sign FILE: signs FILE in place as the author domain (sign.py).
gw_dkim_sign() {
	/usr/bin/python3 "$E2E_SRC/sign.py" "$1" "$1.signed" \
	    "d=$GW_SENDER,s=s1,key=$GW_KEYS/sender.pem" ||
	    e2e_die "sign.py failed on $1"
	mv "$1.signed" "$1"
}

# gw_footer FILE: appends a mailing-list footer to the body.
gw_footer() {
	printf -- '-- \r\nList mailing list: https://list.gw.test/\r\n' >>"$1"
}

# gw_arc_seal FILE DOMAIN KEY SRVID: ARC-seals FILE in place with dkimpy,
# selector arc (seal for wrong.pem, the forger's key for a set in our name)
# (arc_sign: the AAR is made of the A-R headers of SRVID, cv=
# of their arc= result, none without one; t= is $GW_SIGN_TIME).
gw_arc_seal() {
	/usr/bin/python3 - "$@" "$GW_SIGN_TIME" <<'EOF' || e2e_die "arc_sign failed on $1"
import sys
import dkim
path, domain, keyfile, srvid, t = sys.argv[1:6]
msg = open(path, "rb").read()
key = open(keyfile, "rb").read()
sel = b"seal" if keyfile.endswith("/wrong.pem") else b"arc"
hdrs = dkim.arc_sign(msg, sel, domain.encode(), key, srvid.encode(),
                     timestamp=int(t))
if len(hdrs) != 3:
    sys.exit("arc_sign made no set (%r)" % (hdrs,))
open(path, "wb").write(b"".join(hdrs) + msg)
EOF
}

# gw_list FILE SEALER KEY RESULTS [after]: what a mailing list makes of the
# author's message: its MTA's Authentication-Results (SEALER; RESULTS) on
# top, the footer appended, then the list's ARC set. With "after" the
# footer comes after the seal (which breaks the list's own AMS too).
gw_list() {
	local f=$1 tmp=$1.tmp
	{
		printf 'Authentication-Results: %s; %s\r\n' "$2" "$4"
		cat "$f"
	} >"$tmp" && mv "$tmp" "$f"
	[ "${5:-}" = after ] || gw_footer "$f"
	gw_arc_seal "$f" "$2" "$3" "$2"
	[ "${5:-}" = after ] && gw_footer "$f"
	return 0
}

# gw_arc_verify FILE [spaces]: dkimpy's verdict on FILE's chain ("CV
# REASON"; CV pass, fail, none, or terminated when the newest seal says
# cv=fail; "crash EXCEPTION" when dkimpy raised one), its keys asked of
# unbound. LF line ends (maildir) are made CRLF first. With "spaces" every
# fold's leading tab becomes a space: relaxed canonicalization (the only
# one ARC uses, RFC 8617 s.4.1.2 and s.4.1.3) makes that invisible to the
# signatures, but dkimpy 1.1.4 finds the AMS of instance N by the bytes
# " i=N;" in its raw value, and crashes (IndexError) when i= follows a tab.
gw_arc_verify() {
	/usr/bin/python3 - "$E2E_DNS_PORT" "$1" "${2:-raw}" <<'EOF'
import sys
import dkim
import dns.resolver
res = dns.resolver.Resolver(configure=False)
res.nameservers = ["127.0.0.1"]
res.port = int(sys.argv[1])
res.lifetime = 5
def dnsfunc(name, timeout=5):
    try:
        ans = res.resolve(name.decode().rstrip("."), "TXT")
    except Exception:
        return None
    for rr in ans:
        return b"".join(rr.strings)
    return None
msg = open(sys.argv[2], "rb").read().replace(b"\r\n", b"\n")
if sys.argv[3] == "spaces":
    head, sep, body = msg.partition(b"\n\n")
    msg = head.replace(b"\n\t", b"\n ") + sep + body
msg = msg.replace(b"\n", b"\r\n")
try:
    cv, _, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
except Exception as e:
    print("crash %s: %s" % (type(e).__name__, e))
    sys.exit(0)
print("%s %s" % (cv.decode() if cv else "terminated", reason))
EOF
}

# ---- sessions and checks ----

# gw_send CASE IP MAILFROM FILE: one background session (e2e_swaks_bg).
gw_send() {
	e2e_swaks_bg "$1" "$2" "$GW_HELO" "$3" "$4"
}

# gw_reply CASE: waits for CASE's swaks; GW_REPLY is the last reply before
# QUIT ("CODE TEXT"). Not a $(...) function: it waits for a child.
gw_reply() {
	local v="E2E_SWAKS_${1//[^A-Za-z0-9]/_}"
	if [ -n "${!v:-}" ]; then
		wait "${!v}"
		unset "$v"
	fi
	GW_REPLY=$(sed -n -e 's/^<[-*~][*-]* *\([0-9][0-9][0-9][ -].*\)$/\1/p' \
	    "$E2E_DIR/swaks.$1" | grep -v '^221 ' | tail -n 1)
}

# gw_expect_rejected CASE: the message got $GW_REJECT.
gw_expect_rejected() {
	gw_reply "$1"
	if [ "$GW_REPLY" = "$GW_REJECT" ]; then
		e2e_ok "$1: 550 5.7.1"
	else
		e2e_fail "$1: 550 5.7.1" "got '$GW_REPLY', expected '$GW_REJECT'"
	fi
}

# gw_expect_delivered CASE: queued by the front and delivered by the
# provider; sets E2E_FILE. 1 when not.
gw_expect_delivered() {
	gw_reply "$1"
	case $GW_REPLY in
	"250 "*"queued as"*) ;;
	*) e2e_fail "$1: delivered" "got '$GW_REPLY'"; return 1 ;;
	esac
	e2e_wait_delivered "$1" || return 1
	e2e_ok "$1: delivered"
}

# gw_names FILE: the field names of FILE's header block, lower case, in order.
gw_names() {
	e2e_headers "$1" | sed 's/:.*//' | tr 'A-Z' 'a-z'
}

# gw_top_names FILE: the names down to our A-R, without the trace fields
# the two Postfix instances add (Return-Path, Delivered-To, Received).
gw_top_names() {
	e2e_headers "$1" | awk -v id="$E2E_AUTHSERV" '
		{ n = tolower(substr($0, 1, index($0, ":") - 1)) }
		n == "return-path" || n == "delivered-to" || n == "received" { next }
		{ printf "%s ", n }
		n == "authentication-results" {
			v = substr($0, index($0, ":") + 1)
			sub(/^[ \t]+/, "", v)
			sub(/[ \t;].*/, "", v)
			if (tolower(v) == tolower(id)) exit
		}'
	echo
}

# gw_added SENT DELIVERED: the field names DELIVERED has more of than SENT
# (sorted, one a line), but for the trace fields of the two Postfixes.
gw_added() {
	gw_names "$1" | sort >"$E2E_DIR/names.sent"
	gw_names "$2" | sort >"$E2E_DIR/names.got"
	comm -13 "$E2E_DIR/names.sent" "$E2E_DIR/names.got" |
	    grep -v -x -E 'return-path|delivered-to|received'
}

# gw_field FILE NAME: the unfolded values of NAME in FILE, top first.
gw_field() {
	e2e_headers "$1" | grep -i "^$2:" | sed 's/^[^:]*:[[:space:]]*//'
}

# expect_eq CASE GOT WANT
expect_eq() {
	if [ "$2" = "$3" ]; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "got '$2', expected '$3'"
	fi
}

# expect_match CASE STRING REGEX (grep -E)
expect_match() {
	if grep -q -E -- "$3" <<<"$2"; then
		e2e_ok "$1"
	else
		e2e_fail "$1" "'$2' does not match /$3/"
	fi
}

# gw_our_ar FILE: our A-R value (the one with our authserv-id), unfolded.
gw_our_ar() {
	e2e_our_ar "$1" | sed 's/^[^:]*:[[:space:]]*//'
}

# gw_tag VALUE TAG: the value of TAG in a tag=value list (unfolded).
gw_tag() {
	sed -n -E "s/^(.*;)?[[:space:]]*$2=([^;]*).*/\2/p" <<<"$1" |
	    sed -E 's/[[:space:]]+$//'
}

# gw_expect_sealed CASE FILE I CV VERIFIER: on top of FILE (trace fields
# aside) our ARC set, ARC-Seal first, then our A-R; the ARC-Seal has i=I
# cv=CV d=gw.test s=seal; the AMS and AAR are of instance I; the AAR
# carries our A-R's results; dkimpy's verdict on the chain (as delivered,
# and with folds made spaces) matches VERIFIER (an extended regex).
gw_expect_sealed() {
	local c=$1 f=$2 i=$3 cv=$4 want=$5 as ams aar ar got
	expect_eq "$c: top fields" "$(gw_top_names "$f")" \
	    "arc-seal arc-message-signature arc-authentication-results authentication-results "
	as=$(gw_field "$f" ARC-Seal | head -1)
	ams=$(gw_field "$f" ARC-Message-Signature | head -1)
	got="i=$(gw_tag "$as" i) cv=$(gw_tag "$as" cv) a=$(gw_tag "$as" a)"
	got="$got d=$(gw_tag "$as" d) s=$(gw_tag "$as" s) ams-i=$(gw_tag "$ams" i)"
	got="$got ams-d=$(gw_tag "$ams" d) ams-c=$(gw_tag "$ams" c)"
	expect_eq "$c: our ARC-Seal" "$got" "i=$i cv=$cv a=rsa-sha256 d=$GW_SEAL_DOMAIN s=$GW_SEAL_SEL ams-i=$i ams-d=$GW_SEAL_DOMAIN ams-c=relaxed/relaxed"
	aar=$(gw_field "$f" ARC-Authentication-Results | head -1)
	ar=$(gw_our_ar "$f")
	got=$(sed -E 's/[[:space:]]+/ /g' <<<"$aar")
	expect_eq "$c: AAR is i=$i; our A-R" "$got" \
	    "$(sed -E 's/[[:space:]]+/ /g' <<<"i=$i; $ar")"
	got=$(gw_arc_verify "$f" spaces)
	expect_match "$c: dkimpy arc_verify, folds as spaces" "$got" "^($want) "
	got=$(gw_arc_verify "$f")
	expect_match "$c: dkimpy arc_verify, as delivered" "$got" "^($want) "
}
