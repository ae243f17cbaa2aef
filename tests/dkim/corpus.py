#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# DKIM conformance corpora (AM_CORPUS/dkim: mail-dkim, dkimpy, rfc8463,
# stalwart, canonicalization) run through lib/dkim by dkim_verify_file.
#
# Each corpus' DNS data (FAKE_DNS.dat, expected.yml dns sets, the records at
# the top of stalwart files) is written into master files in a temp dir and
# loaded by the zone back end (am_dns_zone_new); "timed out" / SERVFAIL
# names are answered TEMPFAIL by the test wrapper (-T). Each case has one
# expected set of results per signature; the verdicts of the corpora are
# mapped to a strict RFC 6376 + RFC 8301 verifier as the corpus READMEs
# explain (see expect_mail_dkim()). A case that differs must be listed by
# name, with a reason, in tests/dkim/known-failures; a listed case that
# passes is an error too (remove it from the list).
# Output: one line per corpus, "dkim corpus NAME: P/N passed, K known failures".
import os
import subprocess
import sys
import tempfile

import yaml

SRC = os.environ.get('AM_TOP_SRCDIR', os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.environ.get('AM_TOP_BUILDDIR', SRC)
CORPUS = os.path.join(os.environ.get('AM_CORPUS', os.path.join(SRC, '..', 'shared', 'corpus')), 'dkim')
TOOL = os.path.join(BUILD, 'tests', 'dkim', 'dkim_verify_file')
NOTPASS = {'permerror', 'policy', 'neutral', 'temperror'}


def zone_txt(name, value):
    """One master-file TXT line; value split into <=255-octet strings."""
    raw = value.encode('latin-1', 'replace')
    parts = [raw[i:i + 200] for i in range(0, len(raw), 200)] or [b'']
    q = []
    for p in parts:
        s = p.decode('latin-1').replace('\\', '\\\\').replace('"', '\\"')
        q.append('"%s"' % s)
    return '%s. 300 IN TXT %s\n' % (name.rstrip('.'), ' '.join(q))


class Runner:
    def __init__(self, tmp):
        self.tmp = tmp
        self.known = {}
        kf = os.path.join(SRC, 'tests', 'dkim', 'known-failures')
        for line in open(kf):
            line = line.strip()
            if line and not line.startswith('#'):
                name, _, reason = line.partition(' ')
                if not reason.strip():
                    sys.exit('known-failures: %s has no reason' % name)
                self.known[name] = reason.strip()
        self.seen = set()
        self.bad = 0
        self.nzone = 0

    def zone(self, records):
        """records: list of (name, value); returns the zone file path."""
        self.nzone += 1
        path = os.path.join(self.tmp, 'z%d.zone' % self.nzone)
        with open(path, 'w', encoding='latin-1') as f:
            for name, value in records:
                f.write(zone_txt(name, value))
        return path

    def run(self, msgpath, zones, fail=(), now=None, lf=False, chunk=None):
        cmd = [TOOL]
        for z in zones:
            cmd += ['-z', z]
        for n in fail:
            cmd += ['-T', n]
        if now:
            cmd += ['-t', str(now)]
        if lf:
            cmd.append('-L')
        if chunk is not None:
            cmd += ['-c', str(chunk)]
        cmd.append(msgpath)
        out = subprocess.run(cmd, capture_output=True, text=True, errors='replace')
        if out.returncode != 0:
            sys.exit('%s failed: %s' % (' '.join(cmd), out.stderr))
        return [l for l in out.stdout.splitlines() if l]

    def check(self, corpus, case, got, want, stats):
        """got: output lines; want: list of sets of acceptable results."""
        key = '%s/%s' % (corpus, case)
        self.seen.add(key)
        results = [l.split()[0] for l in got]
        ok = len(results) == len(want) and all(r in w for r, w in zip(results, want))
        stats[0] += 1
        if ok and key in self.known:
            print('FIXED %s: passes now, remove it from known-failures' % key)
            self.bad += 1
        elif ok:
            stats[1] += 1
        elif key in self.known:
            stats[2] += 1
        else:
            print('FAIL %s: got %s, expected %s' % (key, got, [sorted(w) for w in want]))
            self.bad += 1

    def report(self, corpus, stats):
        print('dkim corpus %s: %d/%d passed, %d known failures' % (corpus, stats[1], stats[0], stats[2]))


def rsa_bits(key):
    if key and key.startswith('rsa/'):
        return int(key[4:])
    return None


def expect_mail_dkim(case):
    """Per-signature acceptable results for a strict verifier (README rules)."""
    sigs = case.get('signatures') or []
    per = case.get('expected_signatures') or [case['expected']] * len(sigs)
    want = []
    for i, s in enumerate(sigs):
        up = per[i] if i < len(per) else 'invalid'
        weak = s.get('a') == 'rsa-sha1' or (rsa_bits(s.get('key')) or 9999) < 1024
        if s.get('v') != '1':
            want.append({'permerror'})      # rule 1: no v=1, not a DKIM signature
        elif up == 'invalid':
            want.append({'permerror', 'policy'} if weak else
                        {'temperror'} if case['file'].endswith(('badkey_14.txt', 'badkey_15.txt'))
                        else {'permerror'})
        elif weak:
            want.append({'policy'})        # rule 2: RFC 8301
        else:
            want.append({up})
    return want


def mail_dkim(r):
    base = os.path.join(CORPUS, 'mail-dkim')
    exp = yaml.safe_load(open(os.path.join(base, 'expected.yml')))
    recs, fail = [], []
    for line in open(os.path.join(base, exp.get('dns_file', 'FAKE_DNS.dat')), encoding='latin-1'):
        line = line.rstrip('\r\n')
        if not line.strip() or line.lstrip()[0] in '#;':
            continue
        name, _, value = line.strip().partition(' ')
        value = value.strip()
        if value == 'NXDOMAIN':
            continue
        if value in ('~~Query timed out~~', '~~SERVFAIL~~'):
            fail.append(name)
            continue
        recs.append((name, '' if value == '""' else value))
    z = r.zone(recs)
    st, dk = [0, 0, 0], [0, 0, 0]
    for case in exp['cases']:
        path = os.path.join(base, case['file'])
        name = os.path.basename(case['file'])[:-4]
        got = r.run(path, [z], fail)
        if case['kind'] == 'domainkeys':
            r.check('mail-dkim', name, got, [{'none'}], dk)
        else:
            r.check('mail-dkim', name, got, expect_mail_dkim(case), st)
    r.report('mail-dkim', st)
    print('dkim corpus mail-dkim (DomainKeys only, expect dkim=none): %d/%d passed, %d known failures'
          % (dk[1], dk[0], dk[2]))


def dkimpy_dns(base, dset):
    recs = []
    for name, v in dset.items():
        if isinstance(v, dict):
            v = open(os.path.join(base, v['file']), encoding='latin-1').read().strip()
        if v != '':
            recs.append((name, v))
    return recs


def dkimpy(r):
    base = os.path.join(CORPUS, 'dkimpy')
    exp = yaml.safe_load(open(os.path.join(base, 'expected.yml')))
    st = [0, 0, 0]
    for case in exp['verify_cases']:
        if case.get('expected') == 'not-checked':
            continue
        z = r.zone(dkimpy_dns(base, exp['dns_sets'][case['dns']]))
        want = case.get('expected_signatures') or [case['expected']]
        got = r.run(os.path.join(base, case['file']), [z], lf=True)
        r.check('dkimpy', case['id'], got, [{w} for w in want], st)
    r.report('dkimpy', st)


def split_body(data):
    i = data.find(b'\r\n\r\n')
    return (data, b'') if i < 0 else (data[:i + 4], data[i + 4:])


def rfc8463(r):
    base = os.path.join(CORPUS, 'rfc8463')
    exp = yaml.safe_load(open(os.path.join(base, 'expected.yml')))
    recs = [(n, v['TXT']) for n, v in exp['dns'].items()]
    msg = os.path.join(base, 'signed-message.eml')
    st = [0, 0, 0]
    for case in exp['cases']:
        path, rr = msg, recs
        mut = case.get('mutation', '')
        if 'tampered' in mut:
            head, body = split_body(open(msg, 'rb').read())
            path = os.path.join(r.tmp, 'rfc8463-tampered.eml')
            open(path, 'wb').write(head + body + b'tampered\r\n')
        elif mut.startswith('remove brisbane'):
            rr = [x for x in recs if not x[0].startswith('brisbane.')]
        want = [{s['result']} for s in case['expected_signatures']]
        for chunk in (None, 1, 7):
            got = r.run(path, [r.zone(rr)], now=case.get('now'), chunk=chunk)
            r.check('rfc8463', '%s-chunk%s' % (case['id'], chunk or 4096), got, want, st)
    r.report('rfc8463', st)


def stalwart(r):
    base = os.path.join(CORPUS, 'stalwart')
    exp = yaml.safe_load(open(os.path.join(base, 'expected.yml')))
    st = [0, 0, 0]
    for case in exp['cases']:
        data = open(os.path.join(base, case['file']), 'rb').read()
        dns, _, msg = data.partition(b'\n\n')
        recs = []
        for line in dns.decode('latin-1').splitlines():
            name, _, value = line.partition(' ')
            recs.append((name, value.strip()))
        path = os.path.join(r.tmp, 'stalwart-' + case['file'])
        open(path, 'wb').write(msg)
        got = r.run(path, [r.zone(recs)], now=exp['verify_time'], lf=True)
        r.check('stalwart', case['file'][:-4], got,
                [{w} for w in case['expected_signatures']], st)
    r.report('stalwart', st)


def bodyhash(r, path, canon, alg, l, raw, chunk):
    cmd = [TOOL, '-B', canon, '-A', alg, '-c', str(chunk)]
    if l is not None:
        cmd += ['-l', str(l)]
    if raw:
        cmd.append('-R')
    cmd.append(path)
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return out.stdout.split()[0]


def canonicalization(r):
    base = os.path.join(CORPUS, 'canonicalization')
    ka = yaml.safe_load(open(os.path.join(base, 'known-answers.yml')))
    st = [0, 0, 0]
    for case in ka['body_hash']:
        if 'message_file' in case:
            data = open(os.path.join(base, case['message_file']), 'rb').read()
            data = data.replace(b'\r\n', b'\n').replace(b'\n', b'\r\n')
            raw = False
        else:
            data = case['body'].encode('latin-1')
            raw = True
        path = os.path.join(r.tmp, 'ka-' + case['id'])
        open(path, 'wb').write(data)
        for chunk in (0, 1, 2, 3, 64):
            got = bodyhash(r, path, case['canon'], case['alg'], case.get('l'), raw, chunk)
            r.check('canonicalization', '%s-chunk%d' % (case['id'], chunk),
                    [got], [{case['bh']}], st)
    r.report('canonicalization', st)


def main():
    if not os.access(TOOL, os.X_OK):
        sys.exit('%s not built' % TOOL)
    with tempfile.TemporaryDirectory(prefix='dkim-corpus-') as tmp:
        r = Runner(tmp)
        for fn in (mail_dkim, dkimpy, rfc8463, stalwart, canonicalization):
            fn(r)
        for k in sorted(set(r.known) - r.seen):
            print('STALE known-failures entry %s: no such case' % k)
            r.bad += 1
    print('%d unexpected results' % r.bad)
    return 1 if r.bad else 0


if __name__ == '__main__':
    sys.exit(main())
