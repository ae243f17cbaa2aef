#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# check_verdicts.py: compare what a milter (or a chain) said about each
# message with the corpus' ground truth.
#
#   check_verdicts.py --truth truth.jsonl --results results.jsonl
#                     [--authserv-id bench.test] [--require spf,dkim,...]
#                     [--summary out.json] [--show N] [--subset]
#
# results.jsonl is milterload's --out: per message the final action and the
# headers the milter(s) added. The Authentication-Results headers with our
# authserv-id (RFC 8601 s.2.2) are parsed: comments removed, resinfo split
# at ';', each "method=result" with its ptype.property=value pairs.
#
# Fields compared:
#   spf       spf= with smtp.mailfrom (always compared)
#   spf_helo  spf= with smtp.helo      (when any header of the run has one)
#   dkim      one dkim= per signature, matched by header.b (prefix), else by
#             header.d + header.s; dkim=none means no signatures
#   dmarc     dmarc= result             (when any header of the run has one)
#   action    accept/reject/quarantine  (compared with dmarc)
# A field not compared by default is compared when --require names it; once
# a field is compared, a message whose headers lack it is a mismatch (it is
# never skipped), except that a message rejected as the truth expects may
# lack the header (its 5xx reply is the verdict; OpenDMARC adds no header to
# mail it rejects). Messages that got no header at all are mismatches.
#
# Every message of the truth must have a result (unless --subset).
# Prints one line per field ("spf: 40/40 match") and the first --show
# mismatches; exit 0 if everything compared matches and every message has a
# result without error, 1 otherwise.
import argparse
import json
import re
import sys

FIELDS = ['spf', 'spf_helo', 'dkim', 'dmarc', 'action']


def strip_comments(v):
    """Remove RFC 5322 comments (nested, with quoted-pairs)."""
    out, depth, i, quoted = [], 0, 0, False
    while i < len(v):
        c = v[i]
        if c == '\\' and i + 1 < len(v):
            if depth == 0:
                out.append(v[i:i + 2])
            i += 2
            continue
        if c == '"' and depth == 0:
            quoted = not quoted
        elif not quoted and c == '(':
            depth += 1
        elif not quoted and c == ')' and depth > 0:
            depth -= 1
            i += 1
            continue
        if depth == 0:
            out.append(c)
        i += 1
    return ''.join(out)


def parse_ar(value):
    """(authserv-id, [ {method, result, props} ])."""
    parts = [p.strip() for p in strip_comments(value).split(';')]
    ident = parts[0].split()[0] if parts and parts[0].split() else ''
    res = []
    for p in parts[1:]:
        toks = p.split()
        if not toks or '=' not in toks[0]:
            continue
        method, _, result = toks[0].partition('=')
        method = method.split('/')[0].lower()
        props = {}
        for t in toks[1:]:
            k, eq, val = t.partition('=')
            if eq:
                props[k.lower()] = val.strip('"')
        res.append({'method': method, 'result': result.lower(),
                    'props': props})
    return ident, res


def results_of(rec, authserv):
    out = []
    for kind, _idx, name, value in rec.get('mods', []):
        if kind in ('h', 'i') and name.lower() == 'authentication-results':
            ident, res = parse_ar(value)
            if ident.lower() == authserv.lower():
                out += res
    return out


def got_fields(res):
    g = {'spf': None, 'spf_helo': None, 'dkim': [], 'dmarc': None}
    for r in res:
        m, p = r['method'], r['props']
        if m == 'spf' and 'smtp.helo' in p:
            g['spf_helo'] = r['result']
        elif m == 'spf':
            g['spf'] = r['result']
        elif m == 'dkim' and r['result'] != 'none':
            g['dkim'].append(r)
        elif m == 'dmarc':
            g['dmarc'] = r['result']
    return g


def match_dkim(exp, got):
    """(ok, text): every expected signature has its result, nothing extra."""
    left, bad = list(got), []
    for s in exp:
        hit = None
        for g in left:
            b = g['props'].get('header.b', '')
            if len(b) >= 6 and s['b'].startswith(b):
                hit = g
                break
        if hit is None:
            for g in left:
                p = g['props']
                if p.get('header.d', '').lower() == s['d'] and \
                        p.get('header.s', s['s']) == s['s']:
                    hit = g
                    break
        if hit is None:
            bad.append('%s/%s: missing' % (s['d'], s['s']))
            continue
        left.remove(hit)
        if hit['result'] != s['result']:
            bad.append('%s/%s: got %s, expected %s' % (s['d'], s['s'],
                                                      hit['result'], s['result']))
    for g in left:
        bad.append('extra dkim=%s header.d=%s' % (g['result'],
                                                  g['props'].get('header.d')))
    return not bad, '; '.join(bad)


def compare(t, rec, g, fields):
    """List of (field, got, expected) mismatches for one message."""
    bad = []
    # A rejected message's reply is its verdict: a milter need not write
    # a header for mail that is not delivered (OpenDMARC does not).
    rejected = rec.get('action') == 'reject' == t['action']
    for f in ('spf', 'spf_helo', 'dmarc'):
        if f in fields and g[f] != t[f] and not (rejected and g[f] is None):
            bad.append((f, g[f], t[f]))
    if 'dkim' in fields:
        ok, why = match_dkim(t['dkim'], g['dkim'])
        if not ok:
            bad.append(('dkim', why, ''))
    if 'action' in fields and rec.get('action') != t['action']:
        bad.append(('action', rec.get('action'), t['action']))
    return bad


def main():
    ap = argparse.ArgumentParser(description='compare verdicts with truth')
    ap.add_argument('--truth', required=True)
    ap.add_argument('--results', required=True)
    ap.add_argument('--authserv-id', default='bench.test')
    ap.add_argument('--require', default='spf')
    ap.add_argument('--summary')
    ap.add_argument('--show', type=int, default=10)
    ap.add_argument('--label', default='')
    ap.add_argument('--subset', action='store_true',
                    help='results for only some messages are fine')
    a = ap.parse_args()
    truth = {}
    for line in open(a.truth):
        t = json.loads(line)
        truth[t['id']] = t
    recs = [json.loads(line) for line in open(a.results)]
    got = [(r, got_fields(results_of(r, a.authserv_id))) for r in recs]
    fields = set(x for x in a.require.split(',') if x)
    if any(g['spf_helo'] is not None for _, g in got):
        fields.add('spf_helo')
    if any(g['dkim'] for _, g in got):
        fields.add('dkim')
    if any(g['dmarc'] is not None for _, g in got):
        fields.update(('dmarc', 'action'))
    counts = {f: [0, 0] for f in FIELDS if f in fields}
    errors, mism, pairs = 0, [], {}
    for rec, g in got:
        t = truth.get(rec['id'])
        if t is None or rec.get('err'):
            errors += 1
            mism.append((rec['id'], 'error', rec.get('err') or 'unknown id', ''))
            continue
        bad = compare(t, rec, g, fields)
        badf = set(b[0] for b in bad)
        for f in counts:
            counts[f][1] += 1
            counts[f][0] += f not in badf
        for f, gv, ev in bad:
            mism.append((rec['id'], f, gv, ev))
            key = '%s: %s -> %s' % (f, ev, gv) if f != 'dkim' else 'dkim'
            pairs[key] = pairs.get(key, 0) + 1
    seen = set(r['id'] for r in recs)
    if not a.subset:
        for mid in sorted(set(truth) - seen):
            errors += 1
            mism.append((mid, 'error', 'no result for this message', ''))
    label = (a.label + ' ') if a.label else ''
    for f, (ok, n) in counts.items():
        print('%s%s: %d/%d match' % (label, f, ok, n))
    print('%smessages: %d, errors: %d, mismatched fields: %d' % (
        label, len(recs), errors, len(mism)))
    for m in mism[:a.show]:
        print('  MISMATCH %s %s: got %r expected %r' % m)
    summary = {'messages': len(recs), 'errors': errors,
               'fields': {f: {'match': c[0], 'total': c[1]}
                          for f, c in counts.items()},
               'mismatches': len(mism), 'pairs': pairs,
               'first': [list(m) for m in mism[:20]]}
    if a.summary:
        with open(a.summary, 'w') as f:
            json.dump(summary, f, indent=1, sort_keys=True)
    sys.exit(0 if not mism and errors == 0 and recs else 1)


if __name__ == '__main__':
    main()
