#!/bin/bash
# SPDX-License-Identifier: BSD-2-Clause
#
# Our seals, checked by an independent verifier: messages sealed by lib/arc
# (through tests/arc/arcseal) are ARC-verified by Debian's python3-dkim
# (tests/arc/dkimpy_verify.py), which fetches the keys by real DNS from a
# private nsd on loopback (tests/lib/nsd.sh) serving the zones written here.
#
# Cases: a first seal (i=1 cv=none) with the default AMS header set; i=2
# and i=3 over our own chain, by other sealers; i=3 over the ARC suite's
# i=2 chain (another implementation's); cv=fail over a chain that our
# verifier found broken (dkimpy must see a terminated chain), no seal over
# it, and cv=fail again over a later hop's cv=pass on top of it; a seal with
# an Ed25519 key (dkimpy has no Ed25519 for ARC: checked by our verifier);
# a chain of 50 instances (no 51st seal); and a world-readable key file,
# which must be refused.
# Needs: nsd, dig or drill, openssl, /usr/bin/python3 with python3-dkim and
# python3-dnspython.
set -u

SRC=${AM_TOP_SRCDIR:-$(cd "$(dirname "$0")/../.." && pwd)}
BUILD=${AM_TOP_BUILDDIR:-$SRC}
TOOL=$BUILD/tests/arc/arcseal
PY=/usr/bin/python3
VERIFY=$SRC/tests/arc/dkimpy_verify.py
. "$SRC/tests/lib/nsd.sh"

pass=0 fail=0
ok() { echo "ok: $*"; pass=$((pass + 1)); }
bad() { echo "FAIL: $*"; fail=$((fail + 1)); }

tmp=$(mktemp -d /tmp/am-arcverify.XXXXXX) || exit 1
cleanup() { nsd_stop "$tmp/nsd" 2>/dev/null; rm -rf "$tmp"; }
trap cleanup EXIT

for t in nsd openssl "$PY"; do
	command -v "$t" >/dev/null || { echo "FAIL: $t missing"; exit 1; }
done
[ -x "$TOOL" ] || { echo "FAIL: $TOOL missing"; exit 1; }

# keygen NAME TYPE: NAME.pem (mode 600) and the p= of its public key.
keygen() {
	openssl genpkey -algorithm "$2" ${3:+-pkeyopt "$3"} \
	    -out "$tmp/$1.pem" 2>/dev/null || return 1
	chmod 600 "$tmp/$1.pem"
	if [ "$2" = ED25519 ]; then
		# the raw 32 bytes (RFC 8463 s.4): the DER's last 32
		openssl pkey -in "$tmp/$1.pem" -pubout -outform DER |
		    tail -c 32 | base64 -w0
	else
		openssl pkey -in "$tmp/$1.pem" -pubout -outform DER | base64 -w0
	fi
}

# zone ORIGIN RECORDS...: a master file with an SOA.
zone() {
	local o=$1; shift
	{
		printf '$ORIGIN %s.\n$TTL 300\n' "$o"
		printf '@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300\n' "$o" "$o"
		printf '@ IN NS ns.%s.\nns IN A 127.0.0.1\n' "$o"
		printf '%s\n' "$@"
	} > "$tmp/$o.zone"
}

# TXT record text split into 200-octet strings.
txt() {
	printf '%s IN TXT' "$1"
	{ printf '%s' "$2" | fold -w 200; echo; } | while read -r part; do
		[ -n "$part" ] && printf ' "%s"' "$part"
	done
}

p1=$(keygen one RSA rsa_keygen_bits:2048) &&
p2=$(keygen two RSA rsa_keygen_bits:2048) &&
p3=$(keygen three RSA rsa_keygen_bits:1024) &&
ped=$(keygen ed ED25519) || { echo "FAIL: openssl genpkey"; exit 1; }
# the ARC suite's key (valimail arc-draft-sign-tests.yml)
dummy='MIGfMA0GCSqGSIb3DQEBAQUAA4GNADCBiQKBgQDkHlOQoBTzWRiGs5V6NpP3idY6Wk08a5qhdR6wy5bdOKb2jLQiY/J16JYi0Qvx/byYzCNb3W91y3FutACDfzwQ/BC/e/8uBsCR+yz1Lxj+PL6lHvqMKrM3rG4hstT5QjvHO9PzoxZyVYLzBfO2EeC3Ip3G+2kryOTIKT+l/K4w3QIDAQAB'
zone arc.test \
    "$(txt s1._domainkey "v=DKIM1; k=rsa; p=$p1")" \
    "$(txt s2._domainkey.hop2 "v=DKIM1; k=rsa; p=$p2")" \
    "$(txt s3._domainkey.hop3 "v=DKIM1; k=rsa; p=$p3")" \
    "$(txt ed._domainkey "v=DKIM1; k=ed25519; p=$ped")"
zone example.org "$(txt dummy._domainkey "v=DKIM1; k=rsa; p=$dummy")"

mkdir "$tmp/nsd"
port=$(NSD_ADDRS=127.0.0.1 nsd_start "$tmp/nsd" "$tmp/arc.test.zone" \
    "$tmp/example.org.zone") || { echo "FAIL: nsd did not start"; exit 1; }
# our verifier reads the same zones through the zone back end
Z=(-z "$tmp/arc.test.zone" -z "$tmp/example.org.zone")

printf '%s\r\n' \
    'Authentication-Results: mx.arc.test; spf=pass smtp.mailfrom=a@src.test' \
    'Received: from src.test by mx.arc.test; Mon, 1 Jan 2024 00:00:00 +0000' \
    'From: Alice <a@src.test>' 'To: list@arc.test' 'Subject: ARC round trip' \
    'Date: Mon, 1 Jan 2024 00:00:00 +0000' 'Message-ID: <rt1@src.test>' \
    'MIME-Version: 1.0' 'Content-Type: text/plain' '' \
    'Hello,   this body has  spaces   ' 'and lines.' '' '' > "$tmp/m0.eml"

# seal IN OUT KEY DOMAIN SELECTOR [arcseal options]: OUT = sealed IN.
seal() {
	local in=$1 out=$2 key=$3 d=$4 s=$5; shift 5
	"$TOOL" "${Z[@]}" -k "$tmp/$key.pem" -d "$d" -s "$s" -a "mx.$d" \
	    -r "spf=pass smtp.mailfrom=a@src.test" -o "$@" \
	    seal "$tmp/$in" > "$tmp/$out" 2> "$tmp/$out.err"
}

# check MSG WANT WHAT: dkimpy's verdict on MSG must start with WANT.
check() {
	local got
	got=$("$PY" "$VERIFY" "$port" "$tmp/$1" 2>&1)
	case $got in
	"$2"*) ok "$3: dkimpy: $got" ;;
	*) bad "$3: dkimpy says '$got', expected $2"; sed 's/^/    /' "$tmp/$1" | head -40 ;;
	esac
}

# ours MSG WANT WHAT: our verifier's cv= on MSG.
ours() {
	local got
	got=$("$TOOL" "${Z[@]}" verify "$tmp/$1" | head -n 1)
	case $got in
	"cv=$2 "*) ok "$3: ours: $got" ;;
	*) bad "$3: ours says '$got', expected cv=$2" ;;
	esac
}

seal m0.eml m1.eml one arc.test s1 && grep -q 'cv=none; d=arc.test; i=1; s=s1' "$tmp/m1.eml" ||
    bad "seal i=1: $(cat "$tmp/m1.eml" "$tmp/m1.eml.err")"
check m1.eml pass "i=1 cv=none, default h="
ours m1.eml pass "i=1 cv=none"

seal m1.eml m2.eml two hop2.arc.test s2 -H from:to:subject:date:message-id
grep -q 'cv=pass' "$tmp/m2.eml" || bad "i=2 not cv=pass"
check m2.eml pass "i=2 cv=pass over our chain"
seal m2.eml m3.eml three hop3.arc.test s3
check m3.eml pass "i=3 cv=pass, 1024-bit sealer"
ours m3.eml pass "i=3"

# another implementation's chain: the ARC suite's i2_base (i=1, i=2)
"$PY" - "$SRC" "${AM_CORPUS:-$SRC/../shared/corpus}" "$tmp/s2.eml" <<'EOF'
import sys, yaml
docs = yaml.safe_load_all(open(sys.argv[2] + '/arc/valimail/arc-draft-sign-tests.yml'))
for d in docs:
    if 'i2_base' in d['tests']:
        m = d['tests']['i2_base']['message']
        open(sys.argv[3], 'w', newline='').write(m.replace('\n', '\r\n'))
EOF
seal s2.eml s3.eml one arc.test s1
grep -q 'cv=pass; d=arc.test; i=3; s=s1' "$tmp/s3.eml" ||
    bad "i=3 over the suite's chain is not cv=pass"
check s3.eml pass "i=3 over the ARC suite's i=2 chain"

# a chain broken after i=1: the body changed, we seal cv=fail
sed 's/and lines\./and other lines./' "$tmp/m1.eml" > "$tmp/b1.eml"
ours b1.eml fail "body changed after i=1"
seal b1.eml b2.eml two hop2.arc.test s2
grep -q 'cv=fail' "$tmp/b2.eml" || bad "broken chain not sealed cv=fail"
check b2.eml terminated "i=2 cv=fail over a broken chain"
# ... and after a cv=fail nobody seals again (RFC 8617 s.5.1 step 1)
"$TOOL" "${Z[@]}" -k "$tmp/one.pem" -d arc.test -s s1 -a mx.arc.test \
    seal "$tmp/b2.eml" | grep -q '^NOSEAL: the newest ARC-Seal (i=2) says cv=fail' &&
    ok "no seal after cv=fail" || bad "sealed after cv=fail"

# A later hop that sealed on with cv=pass over the cv=fail of i=2: dkimpy
# seals i=3 with the cv= of the arc= result in its A-R, so an A-R saying
# arc=pass makes one. The chain fails (s.5.2 step 3) for us, and dkimpy
# calls it terminated (it stops at any cv=fail); then we seal i=4 with cv=fail (s.5.1 step 4, s.5.1.2; see arc.h),
# which ends the chain for dkimpy.
"$PY" - "$tmp/b2.eml" "$tmp/three.pem" "$tmp/p3.eml" <<'EOF2'
import sys, dkim
msg = open(sys.argv[1], 'rb').read()
msg = b'Authentication-Results: mx.hop3.arc.test; arc=pass\r\n' + msg
key = open(sys.argv[2], 'rb').read()
aset = dkim.arc_sign(msg, b's3', b'hop3.arc.test', key, b'mx.hop3.arc.test')
open(sys.argv[3], 'wb').write(b''.join(aset) + msg)
EOF2
grep -q '^ARC-Seal: i=3; cv=pass;' "$tmp/p3.eml" ||
    bad "dkimpy made no i=3 cv=pass: $(head -c 600 "$tmp/p3.eml")"
ours p3.eml fail "i=3 cv=pass over i=2 cv=fail"
check p3.eml terminated "i=3 cv=pass over i=2 cv=fail"
seal p3.eml p4.eml one arc.test s1
grep -q 'cv=fail; d=arc.test; i=4; s=s1' "$tmp/p4.eml" ||
    bad "no i=4 cv=fail seal over i=3 cv=pass: $(cat "$tmp/p4.eml.err"; head -n 3 "$tmp/p4.eml")"
check p4.eml terminated "i=4 cv=fail over i=3 cv=pass"
ours p4.eml fail "i=4 cv=fail over i=3 cv=pass"

# Ed25519 (RFC 8463): dkimpy has none for ARC, our verifier checks it
seal m1.eml e2.eml ed arc.test ed
grep -q 'a=ed25519-sha256' "$tmp/e2.eml" || bad "no ed25519 seal"
ours e2.eml pass "i=2 sealed with Ed25519"

# the longest chain RFC 8617 allows: 50 instances, then no more seals
cp "$tmp/m0.eml" "$tmp/c0.eml"
for i in $(seq 1 50); do
	seal "c$((i - 1)).eml" "c$i.eml" one arc.test s1 || break
done
ours c50.eml pass "50 instances"
check c50.eml pass "50 instances"
"$TOOL" "${Z[@]}" -k "$tmp/one.pem" -d arc.test -s s1 -a mx.arc.test \
    seal "$tmp/c50.eml" | grep -q '^NOSEAL: the chain has 50 instances' &&
    ok "no 51st instance" || bad "sealed a 51st instance"

# a key file others can read is refused
chmod 644 "$tmp/two.pem"
if "$TOOL" "${Z[@]}" -k "$tmp/two.pem" -d arc.test -s s2 -a mx.arc.test \
    seal "$tmp/m0.eml" 2>&1 | grep -q "mode 0644 is world-readable; chmod 600 it"; then
	ok "world-readable key refused"
else
	bad "world-readable key accepted"
fi

# the driver's stderr must hold no sanitizer report
if grep -l 'Sanitizer\|runtime error' "$tmp"/*.err 2>/dev/null; then
	bad "sanitizer reports in arcseal's stderr"
fi

echo "arcverify: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
