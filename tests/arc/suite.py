#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# ARC conformance suites (AM_CORPUS/arc, see its README.md) run through
# lib/arc by tests/arc/arcseal:
#
#   valimail/arc-draft-validation-tests.yml    chain validation (171)
#   valimail/arc-draft-sign-tests.yml          sealing, exact b= (17)
#   mail-dkim-variant/ the same two files      (170 + 17)
#   stalwart/001.txt 002.txt                   real messages (pass)
#
# The YAML scenarios are converted into message files (LF -> CRLF) and
# master zone files (txt-records) in a temp dir. Validation compares the
# chain verdict with cv (an empty cv is "fail", README step 3). Signing
# loads the scenario's key from a mode 0600 file, builds our results text
# by consolidating the A-R fields of srv-id (UPSTREAM-README "AR
# Consolidation"), seals with t= and h= sig-headers, and compares each of
# AS, AMS, AAR as upstream does: all white space removed, split on ';',
# compared as sets (an empty expectation means "no seal").
#
# A differing case must be listed by name with a reason in
# tests/arc/known-failures; a listed case that passes is an error too.
# Output: one line per file, "arc FILE: P/N passed, K known failures",
# then "arc: N passed, M failed, K skipped" (K: the known failures).
import os
import re
import subprocess
import sys
import tempfile

import yaml

SRC = os.environ.get('AM_TOP_SRCDIR',
                     os.path.join(os.path.dirname(__file__), '..', '..'))
BUILD = os.environ.get('AM_TOP_BUILDDIR', SRC)
CORPUS = os.path.join(os.environ.get(
    'AM_CORPUS', os.path.join(SRC, '..', 'shared', 'corpus')), 'arc')
TOOL = os.path.join(BUILD, 'tests', 'arc', 'arcseal')


def zone_txt(name, value):
    """One master-file TXT line; value split into <=200-octet strings."""
    raw = value.encode('latin-1', 'replace')
    parts = [raw[i:i + 200] for i in range(0, len(raw), 200)] or [b'']
    q = []
    for p in parts:
        s = p.decode('latin-1').replace('\\', '\\\\').replace('"', '\\"')
        s = s.replace('\n', '\\010').replace('\r', '\\013')
        q.append('"%s"' % s)
    return '%s. 300 IN TXT %s\n' % (name.rstrip('.'), ' '.join(q))


def crlf(text):
    return text.replace('\r\n', '\n').replace('\n', '\r\n')


def header_fields(msg):
    """(name, value) of each header field of a CRLF message."""
    head = msg.split('\r\n\r\n', 1)[0]
    out = []
    for line in head.split('\r\n'):
        if line[:1] in (' ', '\t') and out:
            out[-1][1] += '\r\n' + line
        elif ':' in line:
            n, v = line.split(':', 1)
            out.append([n, v])
    return out


def skip_cfws(s, i):
    """Skip white space and (nested) comments from s[i]."""
    depth = 0
    while i < len(s):
        c = s[i]
        if depth == 0 and c in ' \t\r\n':
            i += 1
        elif c == '(':
            depth += 1
            i += 1
        elif depth > 0:
            if c == '\\':
                i += 1
            elif c == ')':
                depth -= 1
            i += 1
        else:
            break
    return i


def ar_split(value):
    """(authserv-id, results text) of an A-R value, or None if invalid."""
    i = skip_cfws(value, 0)
    m = re.compile(r'[^\s;()]+').match(value, i)
    if not m:
        return None
    i = skip_cfws(value, m.end())
    v = re.compile(r'\d+').match(value, i)
    if v:
        i = skip_cfws(value, v.end())
    if i < len(value) and value[i] == ';':
        return m.group(0), value[i + 1:]
    if i >= len(value):
        return m.group(0), ''
    return None


def consolidate(msg, srv_id):
    """Our results text: the results of every A-R field of srv_id."""
    results = []
    for name, value in header_fields(msg):
        if name.strip().lower() != 'authentication-results':
            continue
        r = ar_split(value)
        if r is None or r[0].lower() != srv_id.lower():
            continue
        results += [t.strip() for t in r[1].split(';') if t.strip()]
    return '; '.join(results)


def tagset(value):
    s = re.sub(r'\s+', '', value or '')
    return set(t for t in s.split(';') if t)


class Runner:
    def __init__(self, tmp):
        self.tmp = tmp
        self.known = {}
        kf = os.path.join(SRC, 'tests', 'arc', 'known-failures')
        for line in open(kf):
            line = line.strip()
            if line and not line.startswith('#'):
                name, _, reason = line.partition(' ')
                if not reason.strip():
                    sys.exit('known-failures: %s has no reason' % name)
                self.known[name] = reason.strip()
        self.seen = set()
        self.passed = self.failed = self.skipped = 0
        self.nfile = 0

    def write(self, text, suffix, mode=0o644):
        self.nfile += 1
        path = os.path.join(self.tmp, 'f%d%s' % (self.nfile, suffix))
        with open(path, 'w', encoding='utf-8', errors='surrogateescape',
                  newline='') as f:
            f.write(text)
        os.chmod(path, mode)
        return path

    def zone(self, records):
        return self.write(''.join(zone_txt(n, v) for n, v in records),
                          '.zone')

    def tool(self, args):
        out = subprocess.run([TOOL] + args, capture_output=True,
                             text=True, errors='replace')
        # 1 is a seal that failed; sanitizer reports fail the case
        if out.returncode not in (0, 1) or 'Sanitizer' in out.stderr or \
                'runtime error' in out.stderr:
            return None, out.stderr.strip()
        return out.stdout, out.stderr.strip()

    def verdict(self, zone, msgpath, chunk):
        out, err = self.tool(['-z', zone, '-c', str(chunk), 'verify',
                              msgpath])
        if out is None:
            return 'error', err
        first = out.split('\n', 1)[0]
        m = re.match(r'cv=(\S+) .*reason=(.*)', first)
        return (m.group(1), m.group(2)) if m else ('error', out)

    def record(self, stats, name, ok, detail):
        self.seen.add(name)
        stats[0] += 1
        if ok and name in self.known:
            print('FAIL %s: listed in known-failures but passes' % name)
            self.failed += 1
        elif ok:
            stats[1] += 1
            self.passed += 1
        elif name in self.known:
            stats[2] += 1
            self.skipped += 1
        else:
            print('FAIL %s: %s' % (name, detail))
            self.failed += 1

    def report(self, label, stats):
        print('arc %s: %d/%d passed, %d known failures' %
              (label, stats[1], stats[0], stats[2]))

    def validation(self, label, path):
        stats = [0, 0, 0]
        n = 0
        for doc in yaml.safe_load_all(open(path)):
            recs = doc.get('txt-records') or doc.get('txt_records') or {}
            zone = self.zone(list(recs.items()))
            for tid, t in doc['tests'].items():
                n += 1
                msg = self.write(crlf(t.get('message') or ''), '.eml')
                want = (t.get('cv') or '').strip().lower() or 'fail'
                got, why = self.verdict(zone, msg, 1 + n % 7 * 61)
                self.record(stats, '%s/%s' % (label, tid), got == want,
                            'got %s (%s), expected %s' % (got, why, want))
        self.report(label, stats)

    def seal_one(self, doc, zone, key, t):
        msg = crlf(t['message'])
        res = self.write(consolidate(msg, t['srv-id']), '.res')
        mpath = self.write(msg, '.eml')
        out, err = self.tool(['-z', zone, '-k', key, '-d', doc['domain'],
                              '-s', doc['sel'], '-a', t['srv-id'],
                              '-f', res, '-H', t['sig-headers'],
                              '-t', str(t['t']), 'seal', mpath])
        if out is None:
            return None, err
        got = {'AS': '', 'AMS': '', 'AAR': ''}
        names = {'arc-seal': 'AS', 'arc-message-signature': 'AMS',
                 'arc-authentication-results': 'AAR'}
        for n, v in header_fields(out.replace('\r\n', '\n')
                                  .replace('\n', '\r\n') + '\r\n'):
            if n.lower() in names:
                got[names[n.lower()]] = v
        return got, out.strip()

    def signing(self, label, path):
        stats = [0, 0, 0]
        for doc in yaml.safe_load_all(open(path)):
            recs = doc.get('txt-records') or {}
            zone = self.zone(list(recs.items()))
            key = self.write(doc['privatekey'], '.pem', 0o600)
            for tid, t in doc['tests'].items():
                got, out = self.seal_one(doc, zone, key, t)
                bad = []
                for h in ('AS', 'AMS', 'AAR'):
                    if got is None or tagset(got[h]) != tagset(t.get(h)):
                        bad.append(h)
                detail = '%s differ: %s' % (','.join(bad), out)
                self.record(stats, '%s/%s' % (label, tid), not bad, detail)
        self.report(label, stats)

    def stalwart(self):
        stats = [0, 0, 0]
        d = os.path.join(CORPUS, 'stalwart')
        for f in ('001.txt', '002.txt'):
            text = open(os.path.join(d, f), encoding='utf-8',
                        errors='surrogateescape').read()
            recs_txt, _, msg = text.partition('\n\n')
            recs = [l.split(' ', 1) for l in recs_txt.split('\n') if l]
            zone = self.zone(recs)
            mpath = self.write(crlf(msg), '.eml')
            got, why = self.verdict(zone, mpath, 4096)
            self.record(stats, 'stalwart/' + f, got == 'pass',
                        'got %s (%s), expected pass' % (got, why))
        self.report('stalwart', stats)


def main():
    if not os.access(TOOL, os.X_OK):
        sys.exit('missing %s (make check builds it)' % TOOL)
    with tempfile.TemporaryDirectory(prefix='am-arc-') as tmp:
        r = Runner(tmp)
        for label, sub in (('valimail', 'valimail'),
                           ('mail-dkim', 'mail-dkim-variant')):
            base = os.path.join(CORPUS, sub)
            r.validation(label + '/validation',
                         os.path.join(base, 'arc-draft-validation-tests.yml'))
            r.signing(label + '/sign',
                      os.path.join(base, 'arc-draft-sign-tests.yml'))
        r.stalwart()
        for name in sorted(set(r.known) - r.seen):
            print('FAIL %s: in known-failures but no such case' % name)
            r.failed += 1
    # known failures are counted as skipped
    print('arc: %d passed, %d failed, %d skipped' %
          (r.passed, r.failed, r.skipped))
    return 1 if r.failed else 0


if __name__ == '__main__':
    sys.exit(main())
