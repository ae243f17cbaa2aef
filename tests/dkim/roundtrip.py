#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# Signer round trip: messages signed by two independent DKIM signers from
# Debian, dkimpy (python3-dkim) and OpenDKIM (the opendkim filter in test
# mode, -t), must pass lib/dkim (through dkim_verify_file), and the same
# messages with one body byte or one signed header changed must fail.
# Keys are made at test time with openssl genpkey (RSA 1024/2048/4096,
# Ed25519) into a temp dir; their public halves go into a zone file loaded
# by the zone back end. dkimpy signs in every c= combination, with and
# without l=; OpenDKIM signs rsa-sha256 in every c= combination (its test
# mode has no l=), and ed25519-sha256 if it can; OpenDKIM output that
# dkimpy cannot verify either is counted apart and must fail with us too
# (test-mode artifacts, see opendkim_sign's caller). The dkimpy round-trip
# cases of the corpus (AM_CORPUS/dkim/dkimpy/expected.yml) are run too,
# and bare CR cases (CR CR LF in a folded header and in the body) that
# dkimpy and we must judge alike.
# Output: "dkim roundtrip SIGNER: P/N passed".
import base64
import os
import subprocess
import sys
import tempfile

import dkim
import yaml

BUILD = os.environ.get('AM_TOP_BUILDDIR', '.')
CORPUS = os.path.join(os.environ.get('AM_CORPUS', '../shared/corpus'), 'dkim')
TOOL = os.path.join(BUILD, 'tests', 'dkim', 'dkim_verify_file')
CANONS = ['simple/simple', 'simple/relaxed', 'relaxed/simple', 'relaxed/relaxed']

MESSAGES = {
    'plain': b'From: Joe <joe@example.com>\r\nTo: b@example.org\r\n'
             b'Subject: lunch\r\nDate: Mon, 1 Jan 2024 00:00:00 +0000\r\n'
             b'Message-ID: <1@example.com>\r\n\r\nHi.\r\n\r\nLunch?\r\n',
    'whitespace': b'From:   Joe\r\n  <joe@example.com>  \r\nTo: b@example.org\r\n'
                  b'Subject:\tfolded\r\n  subject  line \r\n'
                  b'Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n'
                  b'  leading\r\nTrailing  \t\r\ninner \t  runs\r\n\r\n \r\n\r\n\r\n',
    'long': b'From: joe@example.com\r\nTo: b@example.org\r\nSubject: long\r\n\r\n'
            + b''.join(b'line %d of a longer body,  with  double spaces\r\n' % i
                       for i in range(3000)),
    'empty-body': b'From: joe@example.com\r\nTo: b@example.org\r\nSubject: e\r\n\r\n',
}


def sh(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, **kw).stdout


class Keys:
    """Private keys on disk and their DNS records."""
    def __init__(self, tmp):
        self.tmp = tmp
        self.recs = {}
        self.pem = {}
        self.raw_ed = None

    def make(self, name, algo, bits=None):
        pem = os.path.join(self.tmp, name + '.pem')
        cmd = ['openssl', 'genpkey', '-algorithm', algo, '-out', pem]
        if bits:
            cmd += ['-pkeyopt', 'rsa_keygen_bits:%d' % bits]
        sh(cmd)
        os.chmod(pem, 0o600)
        spki = sh(['openssl', 'pkey', '-in', pem, '-pubout', '-outform', 'DER'])
        self.pem[name] = pem
        if algo == 'ed25519':
            p = base64.b64encode(spki[-32:]).decode()
            self.recs[name] = 'v=DKIM1; k=ed25519; p=' + p
            der = sh(['openssl', 'pkey', '-in', pem, '-outform', 'DER'])
            self.raw_ed = base64.b64encode(der[-32:])
        else:
            self.recs[name] = 'v=DKIM1; k=rsa; p=' + base64.b64encode(spki).decode()

    def dnsfunc(self, name, timeout=5):
        return self.recs.get(name.split(b'.')[0].decode(), '').encode()

    def zone(self):
        path = os.path.join(self.tmp, 'keys.zone')
        with open(path, 'w') as f:
            for name, txt in self.recs.items():
                parts = ' '.join('"%s"' % txt[i:i + 200] for i in range(0, len(txt), 200))
                f.write('%s._domainkey.example.com. 300 IN TXT %s\n' % (name, parts))
        return path


def verify(path_or_bytes, zone, tmp):
    path = os.path.join(tmp, 'msg.eml')
    with open(path, 'wb') as f:
        f.write(path_or_bytes)
    out = sh([TOOL, '-z', zone, path], text=True)
    return [l.split()[0] for l in out.splitlines()]


def mutate_body(msg):
    head, sep, body = msg.partition(b'\r\n\r\n')
    if not body:
        return head + sep + b'x\r\n'
    i = next(k for k, c in enumerate(body) if c not in b' \t\r\n')
    body = body[:i] + (b'Z' if body[i:i + 1] != b'Z' else b'Y') + body[i + 1:]
    return head + sep + body


def mutate_header(msg):
    return msg.replace(b'\r\nSubject:', b'\r\nSubject: X', 1)


class Tally:
    def __init__(self):
        self.n = {}
        self.bad = 0

    def check(self, signer, name, got, want):
        t = self.n.setdefault(signer, [0, 0])
        t[0] += 1
        if got == want:
            t[1] += 1
        else:
            self.bad += 1
            print('FAIL %s %s: got %s, expected %s' % (signer, name, got, want))


def triple(t, signer, name, signed, zone, tmp):
    """The signed message passes; body or header changes fail."""
    t.check(signer, name, verify(signed, zone, tmp), ['pass'])
    t.check(signer, name + ' body changed', verify(mutate_body(signed), zone, tmp), ['fail'])
    t.check(signer, name + ' header changed', verify(mutate_header(signed), zone, tmp), ['fail'])


def dkimpy_sign(keys, sel, msg, canon, length):
    c = tuple(x.encode() for x in canon.split('/'))
    if sel == 'ed':
        key, alg = keys.raw_ed, b'ed25519-sha256'
    else:
        key, alg = open(keys.pem[sel], 'rb').read(), b'rsa-sha256'
    sig = dkim.sign(msg, sel.encode(), b'example.com', key, canonicalize=c,
                    length=length, signature_algorithm=alg,
                    include_headers=[b'from', b'to', b'subject', b'date'])
    return sig.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n') + msg


def opendkim_sign(keys, sel, msg, canon, tmp):
    alg = 'ed25519-sha256' if sel == 'ed' else 'rsa-sha256'
    conf = ('Mode s\nSyslog no\nRequireSafeKeys no\nDomain example.com\n'
            'Selector %s\nKeyFile %s\nCanonicalization %s\nSignatureAlgorithm %s\n'
            % (sel, keys.pem[sel], canon, alg))
    path = os.path.join(tmp, 'in.eml')
    with open(path, 'wb') as f:
        f.write(msg.replace(b'\r\n', b'\n'))
    out = subprocess.run(['opendkim', '-x', '/dev/stdin', '-t', path], input=conf.encode(),
                         capture_output=True)
    lines = [l.rstrip(b'\r') for l in out.stdout.split(b'\n')]
    i = next((k for k, l in enumerate(lines) if l.startswith(b'DKIM-Signature:')), None)
    if out.returncode != 0 or i is None:
        return None
    field = [lines[i]]
    for l in lines[i + 1:]:
        if not l[:1] in (b' ', b'\t'):
            break
        field.append(l)
    return b'\r\n'.join(field) + b'\r\n' + msg


def own_signers(t, keys, zone, tmp):
    for sel in ('rsa1024', 'rsa2048', 'rsa4096', 'ed'):
        for canon in CANONS:
            for mname, msg in MESSAGES.items():
                for length in (False, True):
                    name = '%s %s %s%s' % (sel, canon, mname, ' l=' if length else '')
                    signed = dkimpy_sign(keys, sel, msg, canon, length)
                    if length and mname == 'empty-body':
                        # l= covers no octet that a body change could touch
                        t.check('dkimpy', name, verify(signed, zone, tmp), ['pass'])
                        continue
                    triple(t, 'dkimpy', name, signed, zone, tmp)
                    if length and mname != 'empty-body':
                        t.check('dkimpy', name + ' text appended',
                                verify(signed + b'appended\r\n', zone, tmp), ['pass'])
                signed = opendkim_sign(keys, sel, msg, canon, tmp)
                if signed is None:
                    t.n.setdefault('opendkim (%s: signer refused)' % sel, [0, 0])
                    continue
                name = '%s %s %s' % (sel, canon, mname)
                if not dkim.verify(signed, dnsfunc=keys.dnsfunc):
                    # OpenDKIM's test mode rewrites some header fields it
                    # signed with simple canonicalization, and its ed25519
                    # simple-header signatures do not verify: a second
                    # verifier (dkimpy) must agree with ours that they fail.
                    t.check('opendkim, rejected by dkimpy too', name,
                            verify(signed, zone, tmp), ['fail'])
                    continue
                triple(t, 'opendkim', name, signed, zone, tmp)


CR_HEAD = (b'From: joe@example.com\r\nTo: b@example.org\r\nSubject: folded%s\r\n line\r\n'
           b'Date: Mon, 1 Jan 2024 00:00:00 +0000\r\n\r\n')


def bare_cr_cases(t, keys, zone, tmp):
    """A bare CR (a line ending CR CR LF) in a folded header or in the body:
    RFC 6376 s.3.4.2 unfolds CRLF only and s.3.4.3/s.3.4.4 end lines at
    CRLF only, so the CR is an octet of the text under every c=. Adding or
    removing it must break the signature, and we must agree with dkimpy."""
    plain, cr = CR_HEAD % b'' + b'Hi.\r\n', CR_HEAD % b'\r' + b'Hi.\r\n'
    body, body_cr = plain + b'a \r\nb\r\n', plain + b'a \r\r\nb\r\n'
    for canon in CANONS:
        cases = [
            ('header CR CR LF signed', dkimpy_sign(keys, 'rsa2048', cr, canon, False), 'pass'),
            ('header CR added', dkimpy_sign(keys, 'rsa2048', plain, canon, False)
             .replace(b'folded\r\n', b'folded\r\r\n'), 'fail'),
            ('header CR removed', dkimpy_sign(keys, 'rsa2048', cr, canon, False)
             .replace(b'folded\r\r\n', b'folded\r\n'), 'fail'),
            ('body CR CR LF signed', dkimpy_sign(keys, 'rsa2048', body_cr, canon, False), 'pass'),
            ('body CR removed', dkimpy_sign(keys, 'rsa2048', body_cr, canon, False)
             .replace(b'a \r\r\n', b'a \r\n'), 'fail'),
        ]
        for name, msg, want in cases:
            theirs = 'pass' if dkim.verify(msg, dnsfunc=keys.dnsfunc) else 'fail'
            t.check('bare CR, us and dkimpy', '%s %s' % (canon, name),
                    (verify(msg, zone, tmp), theirs), ([want], want))


def corpus_cases(t, tmp):
    """dkimpy's own round-trip scenarios, signed by dkimpy, verified by us."""
    base = os.path.join(CORPUS, 'dkimpy')
    exp = yaml.safe_load(open(os.path.join(base, 'expected.yml')))
    for case in exp['roundtrip_cases']:
        if case['expected'] == 'signer-error':
            continue
        recs = []
        for name, v in exp['dns_sets'][case.get('dns', 'default')].items():
            if isinstance(v, dict):
                v = open(os.path.join(base, v['file']), encoding='latin-1').read().strip()
            if v:
                parts = ' '.join('"%s"' % v[i:i + 200] for i in range(0, len(v), 200))
                recs.append('%s. 300 IN TXT %s\n' % (name, parts))
        zone = os.path.join(tmp, 'case.zone')
        open(zone, 'w').writelines(recs)
        msg = open(os.path.join(base, case['message']), 'rb').read()
        msg = msg.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
        key = open(os.path.join(base, case['key']), 'rb').read()
        alg = case.get('a', 'rsa-sha256').encode()
        for canon in case.get('canon', ['relaxed/simple']):
            c = tuple(x.encode() for x in canon.split('/'))
            sig = dkim.sign(msg, case['s'].encode(), case['d'].encode(), key,
                            canonicalize=c, signature_algorithm=alg,
                            length=bool(case.get('sign_with_l')))
            signed = sig.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n') + msg
            mut = case.get('mutation', '')
            if 'append' in mut:
                signed += b'foo\r\n'
            elif 'X-Foo' in mut:
                signed = signed.replace(b'\r\n\r\n', b'\r\nX-Foo: bar\r\n\r\n', 1)
            elif 'From: header at the end' in mut:
                signed = signed.replace(b'\r\n\r\n', b'\r\nFrom: x@y.z\r\n\r\n', 1)
            elif 'From: header at the top' in mut:
                signed = b'From: x@y.z\r\n' + signed
            want = {'pass': ['pass'], 'fail': ['fail'],
                    'fail-or-permerror': ['permerror']}[case['expected']]
            got = verify(signed, zone, tmp)
            if case['expected'] == 'fail-or-permerror' and got == ['fail']:
                got = ['permerror']
            t.check('dkimpy corpus cases', '%s %s' % (case['id'], canon), got, want)


def main():
    t = Tally()
    with tempfile.TemporaryDirectory(prefix='dkim-rt-') as tmp:
        keys = Keys(tmp)
        for bits in (1024, 2048, 4096):
            keys.make('rsa%d' % bits, 'RSA', bits)
        keys.make('ed', 'ed25519')
        own_signers(t, keys, keys.zone(), tmp)
        bare_cr_cases(t, keys, keys.zone(), tmp)
        corpus_cases(t, tmp)
    for signer, (n, ok) in sorted(t.n.items()):
        print('dkim roundtrip %s: %d/%d passed' % (signer, ok, n))
    return 1 if t.bad else 0


if __name__ == '__main__':
    sys.exit(main())
