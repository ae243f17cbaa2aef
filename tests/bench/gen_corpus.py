#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# gen_corpus.py: the benchmark corpus, seeded and reproducible.
#
#   gen_corpus.py --out DIR [--seed S] [--domains N] [--messages M]
#                 [--big B] [--big-max BYTES] [--key-pool K] [--jobs J]
#
# Writes into DIR:
#   corpus.zone    master file for the zone "example." (SOA, NS, and for
#                  every sender domain domNNN.example: A, MX, SPF TXT, two
#                  DKIM keys, a DMARC record; esp.example, an e-mail service
#                  provider that signs for others; the HELO names
#                  mta.*.example). Not .test: unbound and libunbound (inside
#                  OpenDKIM) answer NXDOMAIN for test. themselves (RFC 6761
#                  default local zone), .example they resolve.
#   msgs/NNNNNN.eml messages, CRLF line ends, signed by dkimpy (Debian's
#                  python3-dkim, the independent signer)
#   manifest.tsv   id session client_ip helo mail_from rcpt path: the
#                  envelope the load client replays; consecutive messages of
#                  one session come over one SMTP connection
#   truth.jsonl    the ground truth of each message: spf (MAIL FROM),
#                  spf_helo, dkim (one entry per signature: d, s, a, bits,
#                  c, b, result), dmarc, policy, expected action, kind
#   stats.json     counts and shares, what the parameters were
#
# Keys are made here from the seed (pure Python RSA key generation, Ed25519
# seeds), so the same seed gives the same zone and the same messages, byte
# for byte (the DKIM t= tag is pinned too).
#
# Failure kinds (shares in KINDS): tamper (body changed after signing: every
# signature fails), wrongkey (the domain's first signature is made with a key
# that is not the published one), spffail (sent from an IP the domain's SPF
# does not list; DKIM intact), unaligned (From: a sender domain, signed and
# sent by esp.example only: SPF and DKIM pass for it, DMARC fails),
# unsigned (no signature; SPF decides DMARC).
import argparse
import base64
import hashlib
import json
import multiprocessing
import os
import random
import re
import sys

import dkim
import nacl.signing

ZONE_TTL = 3600
TLD = 'example'
ESP = 'esp.' + TLD
ESP_IP = '198.18.255.10'
KINDS = [('ok', 0.70), ('tamper', 0.05), ('wrongkey', 0.04),
         ('spffail', 0.08), ('unaligned', 0.05), ('unsigned', 0.08)]
SIGN_HEADERS = [b'from', b'to', b'subject', b'date', b'message-id',
                b'mime-version', b'content-type']
WORDS = ('the of and to in is that for it as was with be by on not he this '
         'are or his from at which but have an they you were her she there '
         'one all we their can has more will would about if up out them so '
         'what when make like time just him know take people into year your '
         'good some could see other than then now look only come its over '
         'think also back after use two how our work first well way even new '
         'want because any these give day most us invoice meeting report '
         'quarterly schedule shipment account password review update team '
         'project budget customer delivery order payment').split()

# ---- deterministic keys ----

SMALL_PRIMES = [p for p in range(3, 2000)
                if all(p % q for q in range(2, int(p ** 0.5) + 1))]


def is_probable_prime(n, rng):
    for p in SMALL_PRIMES:
        if n % p == 0:
            return n == p
    d, r = n - 1, 0
    while d % 2 == 0:
        d //= 2
        r += 1
    for _ in range(24):
        a = rng.randrange(2, n - 2)
        x = pow(a, d, n)
        if x in (1, n - 1):
            continue
        for _ in range(r - 1):
            x = pow(x, 2, n)
            if x == n - 1:
                break
        else:
            return False
    return True


def gen_prime(rng, bits):
    while True:
        n = rng.getrandbits(bits) | (3 << (bits - 2)) | 1
        if (n - 1) % 65537 != 0 and is_probable_prime(n, rng):
            return n


def der_len(n):
    if n < 128:
        return bytes([n])
    b = n.to_bytes((n.bit_length() + 7) // 8, 'big')
    return bytes([0x80 | len(b)]) + b


def der(tag, body):
    return bytes([tag]) + der_len(len(body)) + body


def der_int(v):
    b = v.to_bytes(v.bit_length() // 8 + 1, 'big')
    return der(0x02, b)


def rsa_key(rng, bits):
    """(private PEM, public SubjectPublicKeyInfo base64) from rng."""
    e = 65537
    while True:
        p, q = gen_prime(rng, bits // 2), gen_prime(rng, bits // 2)
        if p != q and (p * q).bit_length() == bits:
            break
    if p < q:
        p, q = q, p
    n, phi = p * q, (p - 1) * (q - 1)
    d = pow(e, -1, phi)
    priv = der(0x30, b''.join(der_int(x) for x in
               (0, n, e, d, p, q, d % (p - 1), d % (q - 1), pow(q, -1, p))))
    pem = (b'-----BEGIN RSA PRIVATE KEY-----\n' +
           b'\n'.join(base64.encodebytes(priv).split(b'\n')).rstrip(b'\n') +
           b'\n-----END RSA PRIVATE KEY-----\n')
    algid = der(0x30, der(0x06, bytes.fromhex('2a864886f70d010101')) + b'\x05\x00')
    pub = der(0x30, der_int(n) + der_int(e))
    spki = der(0x30, algid + der(0x03, b'\x00' + pub))
    return pem, base64.b64encode(spki).decode()


def ed_key(rng):
    seed = bytes(rng.getrandbits(8) for _ in range(32))
    sk = nacl.signing.SigningKey(seed)
    return base64.b64encode(seed), base64.b64encode(bytes(sk.verify_key)).decode()


def make_keys(rng, pool):
    keys = {'rsa2048': [], 'rsa1024': [], 'ed25519': []}
    for i in range(pool):
        keys['rsa2048'].append(rsa_key(rng, 2048))
        keys['rsa1024'].append(rsa_key(rng, 1024))
    for i in range(pool * 4):
        keys['ed25519'].append(ed_key(rng))
    return keys

# ---- the sender domains and their DNS ----


def domain_ip(i):
    return '198.18.%d.%d' % (i // 250, i % 250 + 1)


def pick(rng, table):
    x, acc = rng.random(), 0.0
    for v, w in table:
        acc += w
        if x < acc:
            return v
    return table[-1][0]


def make_domains(rng, n, keys):
    doms = []
    for i in range(n):
        alg1 = pick(rng, [('rsa2048', 0.60), ('rsa1024', 0.25), ('ed25519', 0.15)])
        d = {
            'name': 'dom%03d.%s' % (i, TLD), 'ip': domain_ip(i),
            'spf': pick(rng, [('ip4', 0.38), ('amx', 0.28), ('include', 0.28),
                              (None, 0.06)]),
            'qual': pick(rng, [('-', 0.5), ('~', 0.4), ('?', 0.1)]),
            'dmarc': pick(rng, [('none', 0.36), ('quarantine', 0.27),
                                ('reject', 0.27), (None, 0.10)]),
            'strict': rng.random() < 0.15,
            'canon': pick(rng, [((b'relaxed', b'relaxed'), 0.7),
                                ((b'relaxed', b'simple'), 0.2),
                                ((b'simple', b'simple'), 0.1)]),
            'sel': [('sel1', alg1), ('sel2', 'rsa2048' if alg1 == 'ed25519'
                                     else 'ed25519')],
        }
        d['key'] = {}
        for sel, alg in d['sel']:
            d['key'][sel] = rng.randrange(len(keys[alg]))
        doms.append(d)
    return doms


def txt(name, value):
    parts = [value[i:i + 250] for i in range(0, len(value), 250)]
    return '%s %d IN TXT %s\n' % (name, ZONE_TTL,
                                  ' '.join('"%s"' % p for p in parts))


def dkim_record(alg, keys, idx):
    pub = keys[alg][idx][1]
    k = 'ed25519' if alg == 'ed25519' else 'rsa'
    return 'v=DKIM1; k=%s; p=%s' % (k, pub)


def spf_record(d):
    q = d['qual']
    if d['spf'] == 'ip4':
        return 'v=spf1 ip4:%s ip4:192.0.2.0/28 %sall' % (d['ip'], q)
    if d['spf'] == 'amx':
        return 'v=spf1 a mx %sall' % q
    return 'v=spf1 include:_spf.%s %sall' % (d['name'], q)


def zone_domain(d, keys):
    n, out = d['name'] + '.', []
    out.append('%s %d IN A %s\n' % (n, ZONE_TTL, d['ip']))
    out.append('%s %d IN MX 10 mail.%s\n' % (n, ZONE_TTL, n))
    out.append('mail.%s %d IN A %s\n' % (n, ZONE_TTL, d['ip']))
    out.append('mta.%s %d IN A %s\n' % (n, ZONE_TTL, d['ip']))
    out.append(txt('mta.' + n, 'v=spf1 a -all'))
    if d['spf'] is not None:
        out.append(txt(n, spf_record(d)))
        out.append(txt('bounce.' + n, 'v=spf1 include:%s %sall' %
                       (d['name'], d['qual'])))
        if d['spf'] == 'include':
            out.append(txt('_spf.' + n, 'v=spf1 ip4:%s ip4:192.0.2.64/27 -all'
                           % d['ip']))
    for sel, alg in d['sel']:
        out.append(txt('%s._domainkey.%s' % (sel, n),
                       dkim_record(alg, keys, d['key'][sel])))
    if d['dmarc'] is not None:
        rec = 'v=DMARC1; p=%s; rua=mailto:dmarc@%s' % (d['dmarc'], d['name'])
        if d['strict']:
            rec += '; adkim=s; aspf=s'
        out.append(txt('_dmarc.' + n, rec))
    return ''.join(out)


def zone_text(doms, keys):
    e = ESP + '.'
    out = ['$ORIGIN %s.\n$TTL %d\n' % (TLD, ZONE_TTL),
           '@ IN SOA ns hostmaster 1 3600 600 86400 300\n',
           '@ IN NS ns\nns IN A 127.0.0.1\n',
           '%s IN A %s\n' % (e, ESP_IP),
           'mta.%s IN A %s\n' % (e, ESP_IP),
           txt('mta.' + e, 'v=spf1 a -all'),
           txt('bounce.' + e, 'v=spf1 ip4:198.18.255.0/24 -all'),
           txt(e, 'v=spf1 ip4:198.18.255.0/24 -all'),
           txt('esp2048._domainkey.' + e, dkim_record('rsa2048', keys, 0)),
           txt('_dmarc.' + e, 'v=DMARC1; p=none')]
    out += [zone_domain(d, keys) for d in doms]
    return ''.join(out)

# ---- messages ----


def msg_size(rng, big):
    if big:
        return int(1e6 * 10 ** (rng.random()))  # 1-10 MB, log-uniform
    while True:
        s = int(rng.lognormvariate(9.45, 1.0))  # median ~12.7 KB
        if 1024 <= s <= 100 * 1024:
            return s


def text_block(rng, nbytes):
    lines, total = [], 0
    while total < nbytes:
        line = ' '.join(rng.choice(WORDS) for _ in range(rng.randint(6, 13)))
        if rng.random() < 0.08:
            line = ''
        lines.append(line)
        total += len(line) + 2
    return '\r\n'.join(lines) + '\r\n'


def body_of(rng, size, hdr_len):
    room = max(200, size - hdr_len)
    if room < 24 * 1024:
        return 'text/plain; charset="utf-8"', text_block(rng, room)
    bnd = '=_bench_%08x' % rng.getrandbits(32)
    text = text_block(rng, min(4000, room // 4))
    raw = rng.randbytes(int((room - len(text) - 400) * 3 / 4))
    b64 = base64.encodebytes(raw).decode().replace('\n', '\r\n')
    body = ('This is a multi-part message in MIME format.\r\n\r\n'
            '--%s\r\nContent-Type: text/plain; charset="utf-8"\r\n\r\n%s\r\n'
            '--%s\r\nContent-Type: application/octet-stream; name="data.bin"\r\n'
            'Content-Transfer-Encoding: base64\r\n'
            'Content-Disposition: attachment; filename="data.bin"\r\n\r\n'
            '%s\r\n--%s--\r\n') % (bnd, text, bnd, b64, bnd)
    return 'multipart/mixed; boundary="%s"' % bnd, body


def headers_of(spec, ctype):
    h = [('Received', ' from %s (%s [%s])\r\n\tby relay.bench.test (Postfix) with'
          ' ESMTPS id %s\r\n\tfor <%s>; Mon, 3 Mar 2025 10:%02d:00 +0000'
          % (spec['helo'], spec['helo'], spec['client_ip'], spec['qid'],
             spec['rcpt'], spec['n'] % 60)),
         ('Received', ' from workstation.internal ([192.0.2.77])\r\n\tby %s with'
          ' ESMTPSA; Mon, 3 Mar 2025 09:59:58 +0000' % spec['helo']),
         ('Date', ' Mon, 3 Mar 2025 09:59:57 +0000'),
         ('From', ' "Sender %d" <%s>' % (spec['n'], spec['header_from'])),
         ('To', ' <%s>' % spec['rcpt']),
         ('Subject', ' Bench message %d: %s' % (spec['n'], spec['subject'])),
         ('Message-ID', ' <%s.%d@%s>' % (spec['qid'], spec['n'],
                                        spec['from_domain'])),
         ('MIME-Version', ' 1.0'),
         ('Content-Type', ' ' + ctype)]
    if spec['n'] % 3 == 0:
        h.append(('List-Unsubscribe', ' <mailto:unsub-%d@%s>'
                  % (spec['n'], spec['from_domain'])))
    return ''.join('%s:%s\r\n' % kv for kv in h)


def sign_one(msg, sig, keys):
    alg = sig['a']
    if alg == 'ed25519':
        pk = keys['ed25519'][sig['key']][0]
        algo = b'ed25519-sha256'
    else:
        pk = keys[alg][sig['key']][0]
        algo = b'rsa-sha256'
    h = dkim.sign(msg, sig['s'].encode(), sig['d'].encode(), pk,
                  canonicalize=sig['c'], include_headers=SIGN_HEADERS,
                  signature_algorithm=algo)
    return h


def header_fields(msg):
    """(name, unfolded value) of each header field of msg, in order."""
    out = []
    for line in msg.split(b'\r\n\r\n', 1)[0].split(b'\r\n'):
        if line[:1] in (b' ', b'\t') and out:
            out[-1][1] += line
        else:
            name, _, value = line.partition(b':')
            out.append([name, value])
    return out


def sig_b(value):
    """The b= tag of a DKIM-Signature value, white space removed."""
    v = re.sub(rb'\s+', b'', value).decode()
    return [t[2:] for t in v.split(';') if t.startswith('b=')][0]


def tamper(body):
    i = body.find('the ')
    if i < 0:
        return body + 'tampered\r\n'
    return body[:i] + 'THE ' + body[i + 4:]


_KEYS = None


def _init(keys):
    global _KEYS
    _KEYS = keys


def build_message(spec):
    """Worker: the message bytes and the b= of each signature."""
    dkim.time.time = lambda: 1741000000  # pinned t=, reproducible
    rng = random.Random(spec['rng'])
    hdr_guess = 900 + 500 * len(spec['sigs'])
    ctype, body = body_of(rng, spec['size'], hdr_guess)
    msg = (headers_of(spec, ctype) + '\r\n' + body).encode()
    for sig in spec['sigs']:
        msg = sign_one(msg, sig, _KEYS) + msg
    if spec['kind'] == 'tamper':
        head, _, b = msg.partition(b'\r\n\r\n')
        msg = head + b'\r\n\r\n' + tamper(b.decode()).encode()
    blist = [sig_b(v) for name, v in header_fields(msg)
             if name.lower() == b'dkim-signature']
    path = os.path.join(spec['out'], 'msgs', '%06d.eml' % spec['n'])
    with open(path, 'wb') as f:
        f.write(msg)
    return spec['n'], blist, len(msg)

# ---- envelope and ground truth ----


def org(d):
    return '.'.join(d.split('.')[-2:])


def spf_expect(dom, ip, mfrom_dom):
    if mfrom_dom.endswith(ESP):
        return 'pass' if ip.startswith('198.18.255.') else 'fail'
    if dom['spf'] is None:
        return 'none'
    if ip == dom['ip']:
        return 'pass'
    return {'-': 'fail', '~': 'softfail', '?': 'neutral'}[dom['qual']]


def dmarc_expect(dom, from_dom, spf, mfrom_dom, sigs):
    if dom['dmarc'] is None:
        return 'none'

    def aligned(x):
        return x == from_dom if dom['strict'] else org(x) == org(from_dom)
    if spf == 'pass' and aligned(mfrom_dom):
        return 'pass'
    if any(s['result'] == 'pass' and aligned(s['d']) for s in sigs):
        return 'pass'
    return 'fail'


def signatures(rng, dom, kind, keys):
    if kind == 'unsigned':
        return []
    if kind == 'unaligned':
        return [{'d': ESP, 's': 'esp2048', 'a': 'rsa2048', 'key': 0,
                 'c': (b'relaxed', b'relaxed')}]
    n = pick(rng, [(1, 0.45), (2, 0.45), (3, 0.10)])
    if kind == 'spffail' and rng.random() < 0.4:
        n = 0
    sigs = []
    for i, (sel, alg) in enumerate(dom['sel']):
        sigs.append({'d': dom['name'], 's': sel, 'a': alg,
                     'key': dom['key'][sel], 'c': dom['canon']})
    esp = {'d': ESP, 's': 'esp2048', 'a': 'rsa2048', 'key': 0,
           'c': (b'relaxed', b'relaxed')}
    if n == 1:
        sigs = sigs[:1]
    elif n == 2:
        sigs = sigs if rng.random() < 0.6 else [sigs[0], esp]
    elif n == 3:
        sigs = sigs + [esp]
    else:
        sigs = []
    if kind == 'wrongkey' and sigs:
        s = sigs[0]
        s['key'] = (s['key'] + 1) % len(keys[s['a']])
        s['wrong'] = True
    return sigs


def plan(args, rng, doms, keys):
    """The sessions and messages: envelope, signatures, truth."""
    specs, n, sess = [], 0, 0
    nbig = args.big
    big_at = set(rng.sample(range(args.messages), min(nbig, args.messages)))
    while n < args.messages:
        dom = rng.choice(doms)
        kind = pick(rng, KINDS)
        if sess < len(KINDS):
            kind = KINDS[sess][0]  # every kind, even in a small corpus
        k = min(args.messages - n, pick(rng, [(1, 0.5), (2, 0.25), (3, 0.15),
                                               (5, 0.1)]))
        if kind == 'spffail':
            ip = '198.19.%d.%d' % (rng.randrange(256), rng.randrange(1, 255))
            helo = 'h%d.stranger.%s' % (rng.randrange(100000), TLD)
        elif kind == 'unaligned':
            ip, helo = ESP_IP, 'mta.' + ESP
        else:
            ip, helo = dom['ip'], 'mta.' + dom['name']
        for _ in range(k):
            specs.append(message_spec(args, rng, dom, kind, ip, helo, n, sess,
                                      n in big_at, keys))
            n += 1
        sess += 1
    return specs


def message_spec(args, rng, dom, kind, ip, helo, n, sess, big, keys):
    if kind == 'unaligned':
        mfrom = 'bounces+%d@bounce.%s' % (n, ESP)
    elif rng.random() < 0.4:
        mfrom = 'bounces+%d@bounce.%s' % (n, dom['name'])
    else:
        mfrom = 'user%d@%s' % (rng.randrange(100), dom['name'])
    sigs = signatures(rng, dom, kind, keys)
    for s in sigs:
        s['result'] = 'fail' if kind == 'tamper' or s.get('wrong') else 'pass'
    mdom = mfrom.split('@')[1]
    spf = spf_expect(dom, ip, mdom)
    spf_helo = 'none' if kind == 'spffail' else 'pass'
    dmarc = dmarc_expect(dom, dom['name'], spf, mdom, sigs)
    action = 'accept'
    if dmarc == 'fail' and dom['dmarc'] in ('reject', 'quarantine'):
        action = dom['dmarc']
    return {
        'n': n, 'session': sess, 'kind': kind, 'client_ip': ip, 'helo': helo,
        'mail_from': mfrom, 'rcpt': 'user%d@rcpt.bench.test' % (n % 17),
        'header_from': 'news@%s' % dom['name'], 'from_domain': dom['name'],
        'qid': '%010X' % rng.getrandbits(40), 'subject': rng.choice(WORDS),
        'size': msg_size(rng, big), 'rng': rng.getrandbits(64), 'sigs': sigs,
        'out': args.out,
        'truth': {'spf': spf, 'spf_helo': spf_helo, 'dmarc': dmarc,
                  'policy': dom['dmarc'] or 'none', 'action': action},
    }


def write_outputs(args, specs, built, doms, keys):
    with open(os.path.join(args.out, 'corpus.zone'), 'w') as f:
        f.write(zone_text(doms, keys))
    with open(os.path.join(args.out, 'manifest.tsv'), 'w') as man, \
            open(os.path.join(args.out, 'truth.jsonl'), 'w') as tr:
        for s in specs:
            blist, size = built[s['n']]
            man.write('%06d\t%d\t%s\t%s\t%s\t%s\tmsgs/%06d.eml\n' % (
                s['n'], s['session'], s['client_ip'], s['helo'],
                s['mail_from'], s['rcpt'], s['n']))
            t = dict(s['truth'])
            t.update({'id': '%06d' % s['n'], 'kind': s['kind'],
                      'from_domain': s['from_domain'], 'size': size,
                      'mail_from': s['mail_from'], 'client_ip': s['client_ip']})
            t['dkim'] = [{'d': g['d'], 's': g['s'], 'a': g['a'],
                          'c': b'/'.join(g['c']).decode(), 'b': b,
                          'result': g['result']}
                         for g, b in zip(reversed(s['sigs']), blist)]
            tr.write(json.dumps(t, sort_keys=True) + '\n')
    return stats(args, specs, built)


def stats(args, specs, built):
    sizes = [built[s['n']][1] for s in specs]
    nsig = sum(len(s['sigs']) for s in specs)
    kinds, acts, dmarcs = {}, {}, {}
    for s in specs:
        kinds[s['kind']] = kinds.get(s['kind'], 0) + 1
        acts[s['truth']['action']] = acts.get(s['truth']['action'], 0) + 1
        dmarcs[s['truth']['dmarc']] = dmarcs.get(s['truth']['dmarc'], 0) + 1
    st = {'seed': args.seed, 'domains': args.domains, 'messages': len(specs),
          'sessions': specs[-1]['session'] + 1 if specs else 0,
          'bytes': sum(sizes), 'mean_size': sum(sizes) / max(1, len(sizes)),
          'max_size': max(sizes) if sizes else 0,
          'signatures': nsig, 'sigs_per_msg': nsig / max(1, len(specs)),
          'kinds': kinds, 'actions': acts, 'dmarc': dmarcs,
          'params': vars(args)}
    with open(os.path.join(args.out, 'stats.json'), 'w') as f:
        json.dump(st, f, indent=1, sort_keys=True)
    return st


def main():
    ap = argparse.ArgumentParser(description='benchmark corpus generator')
    ap.add_argument('--out', required=True)
    ap.add_argument('--seed', type=int, default=1)
    ap.add_argument('--domains', type=int, default=50)
    ap.add_argument('--messages', type=int, default=2000)
    ap.add_argument('--big', type=int, default=None,
                    help='messages of 1-10 MB (default messages/1000)')
    ap.add_argument('--key-pool', type=int, default=6)
    ap.add_argument('--jobs', type=int, default=os.cpu_count() or 1)
    args = ap.parse_args()
    if args.big is None:
        args.big = args.messages // 1000
    if not 1 <= args.domains <= 10000 or args.messages < 1:
        sys.exit('gen_corpus: bad --domains or --messages')
    os.makedirs(os.path.join(args.out, 'msgs'), exist_ok=True)
    rng = random.Random(args.seed)
    keys = make_keys(random.Random(rng.getrandbits(64)), args.key_pool)
    doms = make_domains(rng, args.domains, keys)
    specs = plan(args, rng, doms, keys)
    with multiprocessing.Pool(max(1, args.jobs), _init, (keys,)) as pool:
        built = {n: (b, sz) for n, b, sz in
                 pool.imap_unordered(build_message, specs, chunksize=8)}
    st = write_outputs(args, specs, built, doms, keys)
    print(json.dumps({k: st[k] for k in ('messages', 'sessions', 'bytes',
                      'mean_size', 'signatures', 'sigs_per_msg', 'kinds')},
                     sort_keys=True))


if __name__ == '__main__':
    main()
