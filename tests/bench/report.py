#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# report.py: run-bench's last step. Reads the scratch directory of a run
# (run-*.json from milterload plus CPU and RSS, check-*.json from
# check_verdicts.py, engine.json from enginebench, openssl-speed.txt,
# timing.txt) and the corpus, prints the table and the ratios, and writes
# everything as one JSON file. Slow DNS: slow-passes.tsv (one line per
# pass) with each pass's res-*.jsonl (milterload --out: latency, t_mail)
# and dns-*.jsonl (dnsdelay.py --log); at concurrency 1 each query is
# given to the message in flight when it was sent, which yields per message
# the queries outstanding at once and the round trips (the longest run of
# queries each sent after the previous answer); corpus.zone gives each
# MAIL FROM's SPF tree and the round trips it needs at best.
#
#   report.py --dir DIR --corpus CORPUS --out FILE [--conc "1 8 32"]
#
# The crypto + hashing floor of the corpus: for each message, the body bytes
# once per distinct body canonicalization among its signatures, at
# openssl's SHA-256 rate (16 KB blocks), plus one verify per signature at
# openssl's RSA-1024/2048 and Ed25519 verify rates. The engine's DKIM time
# (body hash + verify stages) divided by that floor is the ratio printed.
import argparse
import glob
import ipaddress
import json
import os
import re

SETUP_NAMES = {'authmilter': 'authmilter', 'chain': 'opendkim+opendmarc',
               'null': 'null filter (libmilter)'}


def load(path, default=None):
    try:
        with open(path) as f:
            return json.load(f)
    except (OSError, ValueError):
        return default


def openssl_rates(path):
    r = {}
    try:
        text = open(path).read()
    except OSError:
        return r
    for line in text.splitlines():
        m = re.match(r'^sha256\s+([\d.]+)k\s*$', line)
        if m:
            r['sha256_bytes_per_s'] = float(m.group(1)) * 1000
        m = re.match(r'^rsa\s+(\d+) bits\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)', line)
        if m:
            r['rsa%s_verify_per_s' % m.group(1)] = float(m.group(3))
        m = re.search(r'EdDSA \(Ed25519\)\s+\S+\s+\S+\s+([\d.]+)\s+([\d.]+)', line)
        if m:
            r['ed25519_verify_per_s'] = float(m.group(2))
    return r


def body_len(corpus, mid):
    with open(os.path.join(corpus, 'msgs', mid + '.eml'), 'rb') as f:
        raw = f.read()
    i = raw.find(b'\r\n\r\n')
    return len(raw) - i - 4 if i >= 0 else 0


def floor(corpus, rates):
    need = ('sha256_bytes_per_s', 'rsa1024_verify_per_s',
            'rsa2048_verify_per_s', 'ed25519_verify_per_s')
    if not all(k in rates for k in need):
        return None
    hashed, verify_s, n, nsig = 0, 0.0, 0, 0
    for line in open(os.path.join(corpus, 'truth.jsonl')):
        t = json.loads(line)
        n += 1
        if not t['dkim']:
            continue
        canons = set(s['c'].split('/')[-1] for s in t['dkim'])
        blen = body_len(corpus, t['id'])
        hashed += blen * len(canons) + 1024 * len(t['dkim'])
        for s in t['dkim']:
            nsig += 1
            verify_s += 1.0 / rates['%s_verify_per_s' % s['a']]
    hash_s = hashed / rates['sha256_bytes_per_s']
    return {'messages': n, 'signatures': nsig, 'bytes_hashed': hashed,
            'hash_us_per_msg': hash_s / n * 1e6,
            'verify_us_per_msg': verify_s / n * 1e6,
            'total_us_per_msg': (hash_s + verify_s) / n * 1e6}


def runs(d):
    out = {}
    for p in glob.glob(os.path.join(d, 'run-*.json')):
        r = load(p)
        if r:
            out[r['label']] = r
    return out


def checks(d):
    out = {}
    for p in glob.glob(os.path.join(d, 'check-*.json')):
        c = load(p)
        if c is not None:
            out[os.path.basename(p)[6:-5]] = c
    return out


def verdict_text(c):
    if not c:
        return '-'
    parts = ['%s %d/%d' % (f, v['match'], v['total'])
             for f, v in sorted(c['fields'].items())]
    if c['errors']:
        parts.append('errors %d' % c['errors'])
    return ', '.join(parts)


def table(rs, cs, conc):
    rows = ['%-26s %5s %9s %9s %9s %11s %9s' % (
        'milter', 'conc', 'msgs/s', 'p50 ms', 'p99 ms', 'CPU s/1000', 'RSS MB')]
    for setup in ('authmilter', 'chain', 'null'):
        for c in ['cold'] + ['c%s' % x for x in conc]:
            r = rs.get('%s-%s' % (setup, c))
            if r is None:
                continue
            rows.append('%-26s %5s %9.0f %9.2f %9.2f %11.3f %9.1f' % (
                SETUP_NAMES[setup] + (' (cold)' if c == 'cold' else ''),
                r['conc'], r['msgs_per_s'], r['lat_p50_ms'], r['lat_p99_ms'],
                r['cpu_s_per_1000'], r['rss_kb'] / 1024.0))
    rows.append('')
    rows.append('verdicts vs ground truth (cold pass):')
    for setup in ('authmilter', 'chain'):
        if '%s-cold' % setup in cs:
            rows.append('  %-22s %s' % (SETUP_NAMES[setup],
                                        verdict_text(cs['%s-cold' % setup])))
    return rows


def ratios(rs, conc):
    out = {}
    for c in conc:
        a, ch, nu = (rs.get('%s-c%s' % (s, c)) for s in ('authmilter', 'chain', 'null'))
        if a is None:
            continue
        r = {}
        if ch:
            r['throughput_vs_chain'] = a['msgs_per_s'] / max(1e-9, ch['msgs_per_s'])
            r['cpu_chain_over_authmilter'] = ch['cpu_s_per_1000'] / max(1e-9, a['cpu_s_per_1000'])
            r['p50_chain_over_authmilter'] = ch['lat_p50_ms'] / max(1e-9, a['lat_p50_ms'])
        if nu:
            r['throughput_vs_null'] = a['msgs_per_s'] / max(1e-9, nu['msgs_per_s'])
            r['cpu_authmilter_over_null'] = a['cpu_s_per_1000'] / max(1e-9, nu['cpu_s_per_1000'])
        out['c%s' % c] = r
    return out


# ---- slow DNS (run-bench's slow_dns: slow-passes.tsv, dns-*.jsonl) ----

def pctl(v, p):
    """milterload's percentile: the value at rank round(p * (n - 1))."""
    if not v:
        return 0.0
    v = sorted(v)
    return v[min(len(v) - 1, int(p * (len(v) - 1) + 0.5))]


def median(v):
    v = sorted(v)
    return v[len(v) // 2] if len(v) % 2 else (v[len(v) // 2 - 1] + v[len(v) // 2]) / 2


def peak(qs):
    """The most intervals (t0, t1) of qs open at one instant."""
    ev = sorted([(q['t0'], 1) for q in qs] + [(q['t1'], -1) for q in qs],
                key=lambda e: (e[0], e[1]))
    n = best = 0
    for _, d in ev:
        n += d
        best = max(best, n)
    return best


def round_trips(qs):
    """The longest run of queries each sent after the previous one's answer
    went back: the sequential round trips the message waited for."""
    qs = sorted(qs, key=lambda q: q['t0'])
    depth = []
    for i, q in enumerate(qs):
        depth.append(1 + max([depth[j] for j in range(i)
                              if qs[j]['t1'] <= q['t0']] or [0]))
    return max(depth or [0])


class Zone:
    """The SPF side of corpus.zone: TXT, A and MX by owner name."""

    def __init__(self, path):
        self.spf, self.a, self.mx = {}, {}, {}
        origin = ''
        for line in open(path):
            if line.startswith('$ORIGIN'):
                origin = line.split()[1]
                continue
            f = line.split(None, 4)
            if len(f) < 5 or f[2] != 'IN':
                continue
            name = f[0] if f[0].endswith('.') else (
                origin if f[0] == '@' else f[0] + '.' + origin)
            name = name.lower()
            if f[3] == 'TXT':
                v = ''.join(re.findall(r'"([^"]*)"', f[4]))
                if v.startswith('v=spf1 '):
                    self.spf[name] = v.split()[1:]
            elif f[3] == 'A':
                self.a.setdefault(name, set()).add(f[4].strip())
            elif f[3] == 'MX':
                self.mx.setdefault(name, []).append(
                    f[4].split()[1].lower())

    @staticmethod
    def target(term, name):
        t = term.split(':', 1)[1] if ':' in term else name
        t = t.split('/')[0].lower()
        return t if t.endswith('.') else t + '.'

    def names(self, name, seen=()):
        """The SPF records' names of the tree under name."""
        out = {name}
        for term in self.spf.get(name, []):
            term = term.lstrip('+-~?')
            if term.startswith(('include:', 'redirect=')) and name not in seen:
                out |= self.names(self.target(term.replace('=', ':', 1), name),
                                  seen + (name,))
        return out

    def lookups(self, name, seen=()):
        """Every name the evaluation of the tree under name may query."""
        out = {name}
        for term in self.spf.get(name, []):
            term = term.lstrip('+-~?')
            k = re.split('[:=/]', term, 1)[0]
            if k in ('include', 'redirect') and name not in seen:
                out |= self.lookups(self.target(term.replace('=', ':', 1),
                                                name), seen + (name,))
            elif k in ('a', 'mx'):
                t = self.target(term, name)
                out.add(t)
                if k == 'mx':
                    out |= set(self.mx.get(t, []))
        return out

    def depth(self, name, seen=()):
        """Round trips of the whole tree at best, every mechanism needed:
        a record 1, then its a 1, mx 2 (MX, then the hosts' addresses),
        include/redirect the target's depth, all in parallel."""
        d = 0
        for term in self.spf.get(name, []):
            term = term.lstrip('+-~?')
            k = re.split('[:=/]', term, 1)[0]
            if k in ('include', 'redirect') and name not in seen:
                d = max(d, self.depth(self.target(term.replace('=', ':', 1),
                                                  name), seen + (name,)))
            elif k in ('a', 'exists', 'ptr'):
                d = max(d, 1)
            elif k == 'mx':
                d = max(d, 2)
        return 1 + d

    def shape(self, name, seen=()):
        """The tree with names left out: include(a mx), include(ip4) ..."""
        kinds = []
        for term in self.spf.get(name, []):
            term = term.lstrip('+-~?')
            k = re.split('[:=/]', term, 1)[0]
            if k in ('include', 'redirect') and name not in seen:
                k += '(%s)' % self.shape(self.target(term.replace('=', ':', 1),
                                                     name), seen + (name,))
            if k != 'all' and (not kinds or kinds[-1] != k):
                kinds.append(k)
        return ' '.join(kinds) if name in self.spf else 'none'

    def needed(self, name, ip, depth=0):
        """(result, round trips): SPF of ip for name, every lookup a record
        names started when the record arrives (MX hosts' addresses when the
        MX answer does), evaluated left to right: the round trips the
        evaluation must wait for, at best."""
        if name not in self.spf or depth > 10:
            return 'none', 1
        done = 1
        for term in self.spf[name]:
            q = '+'
            if term[0] in '+-~?':
                q, term = term[0], term[1:]
            k = re.split('[:=/]', term, 1)[0]
            if k == 'redirect':
                r, t = self.needed(self.target(term.replace('=', ':', 1), name),
                                   ip, depth + 1)
                return r, max(done, 1 + t)
            if k == 'ip4':
                net = term.split(':', 1)[1]
                m, t = ipaddress.ip_address(ip) in ipaddress.ip_network(
                    net, strict=False), 1
            elif k == 'a':
                m, t = ip in self.a.get(self.target(term, name), ()), 2
            elif k == 'mx':
                m = any(ip in self.a.get(h, ())
                        for h in self.mx.get(self.target(term, name), []))
                t = 3
            elif k == 'include':
                r, t = self.needed(self.target(term, name), ip, depth + 1)
                m, t = r == 'pass', 1 + t
            elif k == 'all':
                m, t = True, 1
            else:
                m, t = False, 1
            done = max(done, t)
            if m:
                return {'+': 'pass', '-': 'fail', '~': 'softfail',
                        '?': 'neutral'}[q], done
        return 'neutral', done


def slow_passes(d):
    out = []
    path = os.path.join(d, 'slow-passes.tsv')
    if not os.path.exists(path):
        return out
    for line in open(path):
        f = line.rstrip('\n').split('\t')
        out.append({'label': f[0], 'setup': f[1], 'delay': int(f[2]),
                    'conc': int(f[3]), 'rep': int(f[4]), 'tb': float(f[5]),
                    'te': float(f[6]), 'dns': os.path.join(d, f[7]),
                    'res': os.path.join(d, f[8])})
    return out


def jsonl(path):
    try:
        return [json.loads(x) for x in open(path) if x.strip()]
    except (OSError, ValueError):
        return []


def per_message(msgs, qs):
    """Concurrency 1: each query goes to the message in flight when it was
    sent (after the previous message's last reply, up to this one's);
    queries sent before MAIL (the session's CONNECT and HELO) are counted
    apart from those the latency includes."""
    msgs = sorted(msgs, key=lambda m: m['t_mail'])
    qs = sorted(qs, key=lambda q: q['t0'])
    out, i, prev = [], 0, float('-inf')
    for m in msgs:
        end = m['t_mail'] + m['lat_us'] / 1e6
        mine = []
        while i < len(qs) and qs[i]['t0'] <= end:
            if qs[i]['t0'] > prev:
                mine.append(qs[i])
            i += 1
        during = [q for q in mine if q['t0'] >= m['t_mail']]
        out.append({'id': m['id'], 'lat_ms': m['lat_us'] / 1000.0,
                    'queries': len(mine), 'pre_mail': len(mine) - len(during),
                    'inflight': peak(mine), 'rt': round_trips(during),
                    'during': during,
                    'names': set((q['q'], q['t']) for q in mine)})
        prev = end
    return out, len(qs) - i


def slow(d, corpus):
    passes = slow_passes(d)
    if not passes:
        return {}
    man = {}
    for line in open(os.path.join(corpus, 'manifest.tsv')):
        f = line.split('\t')
        man[f[0]] = {'ip': f[2], 'mail_from': f[4]}
    truth = {t['id']: t for t in
             (json.loads(x) for x in open(os.path.join(corpus, 'truth.jsonl')))}
    zone = Zone(os.path.join(corpus, 'corpus.zone'))
    rows, deep = [], []
    for p in passes:
        res = [r for r in jsonl(p['res']) if r.get('err') == '' and r.get('action')]
        qs = [q for q in jsonl(p['dns']) if p['tb'] <= q['t0'] <= p['te']]
        lat = [r['lat_us'] / 1000.0 for r in res]
        run = load(os.path.join(d, 'run-%s.json' % p['label']), {})
        chk = load(os.path.join(d, 'check-%s.json' % p['label']))
        row = {'label': p['label'], 'setup': p['setup'], 'delay_ms': p['delay'],
               'conc': p['conc'], 'rep': p['rep'], 'messages': len(res),
               'planned': run.get('planned', len(res)),
               'errors': run.get('errors', 0), 'msgs_per_s': run.get('msgs_per_s', 0),
               'p50_ms': pctl(lat, .5), 'p90_ms': pctl(lat, .9),
               'p99_ms': pctl(lat, .99), 'max_ms': max(lat or [0]),
               'queries': len(qs), 'queries_per_msg': len(qs) / max(1, len(res)),
               'failed_queries': sum(1 for q in qs if not q.get('ok', 1)),
               'peak_inflight': peak(qs),
               'verdicts': verdict_text(chk) if chk else '-'}
        if p['conc'] == 1 and res and 't_mail' in res[0]:
            pm, late = per_message(res, qs)
            dl = float(p['delay'])
            hist = {}
            for m in pm:
                hist[m['inflight']] = hist.get(m['inflight'], 0) + 1
            rts = [m['rt'] for m in pm]
            units = [m['lat_ms'] / dl for m in pm] if dl else []
            row.update({
                'msg_inflight_max': max([m['inflight'] for m in pm] or [0]),
                'msg_inflight_hist': dict(sorted(hist.items())),
                'rt_p50': pctl(rts, .5), 'rt_p90': pctl(rts, .9),
                'rt_p99': pctl(rts, .99), 'rt_max': max(rts or [0]),
                'lat_in_delays_p50': pctl(units, .5),
                'lat_in_delays_p99': pctl(units, .99),
                'lat_in_delays_max': max(units or [0]),
                'pre_mail_queries': sum(m['pre_mail'] for m in pm),
                'unattributed_queries': late})
            for m in pm:
                mf = man[m['id']]['mail_from'].rsplit('@', 1)[-1].lower() + '.'
                tree = zone.names(mf)
                if not tree <= set(n for n, t in m['names'] if t in (16, 99)):
                    continue  # some record came from the cache: not cold
                r, need = zone.needed(mf, man[m['id']]['ip'])
                names = zone.lookups(mf)
                rt_spf = round_trips([q for q in m['during'] if q['q'] in names])
                deep.append({'label': p['label'], 'setup': p['setup'],
                             'delay_ms': p['delay'], 'rep': p['rep'],
                             'id': m['id'], 'shape': zone.shape(mf),
                             'levels': len(tree), 'depth': zone.depth(mf),
                             'spf': r,
                             'truth_spf': truth.get(m['id'], {}).get('spf'),
                             'needed_rt': need, 'rt': m['rt'], 'rt_spf': rt_spf,
                             'lat_in_delays': m['lat_ms'] / dl if dl else 0})
        rows.append(row)
    return {'passes': rows, 'cold_spf_trees': deep,
            'groups': spf_groups(deep), 'targets': targets(rows, deep)}


def spf_groups(deep):
    """Cold SPF trees by delay, setup, shape and result."""
    g = {}
    for x in deep:
        k = (x['delay_ms'], x['setup'], -x['depth'], x['shape'], x['spf'],
             x['needed_rt'])
        g.setdefault(k, []).append(x)
    out = []
    for k, v in sorted(g.items()):
        rt = [x['rt'] for x in v]
        rs = [x['rt_spf'] for x in v]
        u = [x['lat_in_delays'] for x in v]
        out.append({'delay_ms': k[0], 'setup': k[1], 'depth': -k[2],
                    'shape': k[3], 'spf': k[4], 'needed_rt': k[5],
                    'messages': len(v), 'rt_min': min(rt), 'rt_p50': pctl(rt, .5),
                    'rt_max': max(rt), 'rt_spf_p50': pctl(rs, .5),
                    'rt_spf_max': max(rs), 'lat_in_delays_p50': pctl(u, .5),
                    'lat_in_delays_max': max(u)})
    return out


def targets(rows, deep):
    """The issue's targets, reported (not asserted): p99 at concurrency 1 of
    authmilter at most half the chain's (the median over repetitions), and
    the deepest SPF trees (most records) in at most 3 round trips."""
    out = []
    for dl in sorted(set(r['delay_ms'] for r in rows)):
        p = {}
        for s in ('authmilter', 'chain'):
            v = [r['p99_ms'] for r in rows if r['setup'] == s and
                 r['delay_ms'] == dl and r['conc'] == 1]
            if v:
                p[s] = median(v)
        if len(p) == 2:
            ratio = p['authmilter'] / max(1e-9, p['chain'])
            out.append({'what': 'p99 at c=1, authmilter <= 0.5 x chain',
                        'delay_ms': dl, 'authmilter': p['authmilter'],
                        'chain': p['chain'], 'ratio': ratio,
                        'met': ratio <= 0.5})
        am = [x for x in deep if x['setup'] == 'authmilter' and x['delay_ms'] == dl]
        # the deepest trees: those needing 3 or more round trips with every
        # mechanism evaluated (include(include(..)), include(a mx)); each
        # should take at most 3, or what it needs at best when that is more
        # (a tree whose MX host must be checked needs 4)
        g = {}
        for x in am:
            if x['depth'] >= 3:
                g.setdefault((x['shape'], x['spf']), []).append(x)
        for (shape, spf), dd in sorted(g.items()):
            need = max(x['needed_rt'] for x in dd)
            rt = max(x['rt'] for x in dd)
            out.append({'what': 'SPF %s %s' % (shape, spf), 'depth': dd[0]['depth'],
                        'delay_ms': dl, 'messages': len(dd), 'rt_max': rt,
                        'rt_spf_max': max(x['rt_spf'] for x in dd),
                        'needed_rt_max': need,
                        'lat_in_delays_max': max(x['lat_in_delays'] for x in dd),
                        'met': rt <= max(3, need)})
    return out


def print_slow(sd):
    rows = sd['passes']
    print('\nslow DNS: every query held by dnsdelay.py, no caching resolver '
          'between the milters and nsd, fresh processes per pass (cold caches):')
    print('  %5s %4s %-19s %3s %5s %7s %8s %8s %8s %8s %7s %6s %6s  %s' % (
        'delay', 'conc', 'milter', 'rep', 'msgs', 'msgs/s', 'p50 ms', 'p90 ms',
        'p99 ms', 'max ms', 'queries', 'q/msg', 'peak', 'verdicts'))
    for r in rows:
        print('  %5d %4d %-19s %3d %5s %7.1f %8.1f %8.1f %8.1f %8.1f %7d %6.2f %6d  %s' % (
            r['delay_ms'], r['conc'], SETUP_NAMES[r['setup']], r['rep'],
            '%d%s' % (r['messages'], '' if r['messages'] == r['planned'] else '!'),
            r['msgs_per_s'], r['p50_ms'], r['p90_ms'], r['p99_ms'], r['max_ms'],
            r['queries'], r['queries_per_msg'], r['peak_inflight'], r['verdicts']))
    print('  (peak: most queries outstanding at the proxy at once, all messages;'
          ' ! = pass incomplete)')
    print('\n  authmilter / chain (median over repetitions):')
    for dl in sorted(set(r['delay_ms'] for r in rows)):
        for c in sorted(set(r['conc'] for r in rows)):
            m = {}
            for s in ('authmilter', 'chain'):
                v = [r for r in rows if r['setup'] == s and r['delay_ms'] == dl
                     and r['conc'] == c]
                if v:
                    m[s] = {k: median([r[k] for r in v]) for k in
                            ('p50_ms', 'p90_ms', 'p99_ms', 'max_ms')}
            if len(m) == 2:
                print('    %4d ms c=%-3d ' % (dl, c) + ', '.join(
                    '%s %.2f' % (k[:-3], m['authmilter'][k] / max(1e-9, m['chain'][k]))
                    for k in ('p50_ms', 'p90_ms', 'p99_ms', 'max_ms')))
    c1 = [r for r in rows if 'msg_inflight_max' in r]
    if c1:
        print('\n  one message at a time (c=1): its queries, attributed by time')
        print('  %5s %-19s %3s %8s  %-34s %15s %17s' % (
            'delay', 'milter', 'rep', 'inflight', 'messages by max in flight',
            'round trips', 'latency/delay'))
        print('  %5s %-19s %3s %8s  %-34s %15s %17s' % (
            '', '', '', 'max', '(0: no query)', 'p50/p99/max', 'p50/p99/max'))
        for r in c1:
            h = ' '.join('%s:%d' % kv for kv in r['msg_inflight_hist'].items())
            print('  %5d %-19s %3d %8d  %-34s %15s %17s' % (
                r['delay_ms'], SETUP_NAMES[r['setup']], r['rep'],
                r['msg_inflight_max'], h,
                '%d/%d/%d' % (r['rt_p50'], r['rt_p99'], r['rt_max']),
                '%.1f/%.1f/%.1f' % (r['lat_in_delays_p50'],
                                    r['lat_in_delays_p99'], r['lat_in_delays_max'])))
        print('  (round trips: the longest run of queries each sent after the '
              'previous answer, from MAIL on; pre-MAIL queries: %s; after the '
              'last message: %s)' % (
                  '/'.join(str(r['pre_mail_queries']) for r in c1),
                  '/'.join(str(r['unattributed_queries']) for r in c1)))
    if sd['groups']:
        print('\n  SPF trees resolved cold within one message (c=1; every record '
              'of the tree queried by it):')
        print('  %5s %-19s %-22s %5s %-8s %6s %5s %14s %11s %12s' % (
            'delay', 'milter', 'MAIL FROM tree', 'depth', 'spf', 'needed',
            'msgs', 'msg RT', 'SPF RT', 'lat/delay'))
        print('  %5s %-19s %-22s %5s %-8s %6s %5s %14s %11s %12s' % (
            '', '', '', '', '', '', '', 'min/p50/max', 'p50/max', 'p50/max'))
        for g in sd['groups']:
            print('  %5d %-19s %-22s %5d %-8s %6d %5d %14s %11s %12s' % (
                g['delay_ms'], SETUP_NAMES[g['setup']], g['shape'][:22],
                g['depth'], g['spf'], g['needed_rt'], g['messages'],
                '%d/%d/%d' % (g['rt_min'], g['rt_p50'], g['rt_max']),
                '%d/%d' % (g['rt_spf_p50'], g['rt_spf_max']),
                '%.1f/%.1f' % (g['lat_in_delays_p50'], g['lat_in_delays_max'])))
        print('  (depth: round trips of the whole MAIL FROM tree at best; needed: '
              'those its evaluation must wait\n  for at best, every lookup of '
              'a record started when it arrives, evaluated left to right; msg '
              'RT:\n  all the message\'s queries; SPF RT: the tree\'s own, '
              'speculative ones included; msgs: over all\n  repetitions)')
    if sd['targets']:
        print('\n  targets (issue 12; reported, not asserted; the SPF lines: '
              'authmilter at c=1, trees of depth 3 or more):')
        for t in sd['targets']:
            if 'ratio' in t:
                print('    %4d ms: %s: %.1f / %.1f ms = %.2f  %s' % (
                    t['delay_ms'], t['what'], t['authmilter'], t['chain'],
                    t['ratio'], 'met' if t['met'] else 'NOT met'))
            else:
                print('    %4d ms: %s (depth %d, needed %d), cold, %d msgs: '
                      'RT max %d (the tree\'s own %d), latency <= %.1f delays;'
                      ' <= max(3, needed): %s' % (
                          t['delay_ms'], t['what'], t['depth'], t['needed_rt_max'],
                          t['messages'], t['rt_max'], t['rt_spf_max'],
                          t['lat_in_delays_max'],
                          'met' if t['met'] else 'NOT met'))


def reporting(d, rs):
    """Reporting off vs on (SQLite), concurrency 8, interleaved repeats."""
    per = {'off': [], 'on': []}
    for label, r in rs.items():
        m = re.match(r'^rep-(off|on)-(\d+)$', label)
        if m:
            per[m.group(1)].append((int(m.group(2)), r))
    if not per['off'] or not per['on']:
        return None
    out = {}
    for v, lst in per.items():
        lst.sort(key=lambda x: x[0])
        tp = [r['msgs_per_s'] for _, r in lst]
        cpu = [r['cpu_s_per_1000'] for _, r in lst]
        out[v] = {'msgs_per_s': tp, 'cpu_ms_per_msg': cpu,
                  'msgs_per_s_mean': sum(tp) / len(tp),
                  'cpu_ms_per_msg_mean': sum(cpu) / len(cpu),
                  'msgs_per_s_spread': (max(tp) - min(tp)) / max(1e-9, sum(tp) / len(tp)),
                  'cpu_ms_per_msg_spread': (max(cpu) - min(cpu)) / max(1e-9, sum(cpu) / len(cpu))}
    off, on = out['off'], out['on']
    out['throughput_on_over_off'] = on['msgs_per_s_mean'] / max(1e-9, off['msgs_per_s_mean'])
    out['cpu_on_over_off'] = on['cpu_ms_per_msg_mean'] / max(1e-9, off['cpu_ms_per_msg_mean'])
    out['cpu_added_ms_per_msg'] = on['cpu_ms_per_msg_mean'] - off['cpu_ms_per_msg_mean']
    out['target_throughput_met'] = out['throughput_on_over_off'] >= 0.90
    out['target_cpu_met'] = out['cpu_added_ms_per_msg'] <= 0.03
    # each on run against the off run just before it: noise common to both
    # (other load on the machine at that minute) cancels in the difference
    offs, ons = dict(per['off']), dict(per['on'])
    pairs = [(ons[k]['msgs_per_s'] / max(1e-9, offs[k]['msgs_per_s']),
              ons[k]['cpu_s_per_1000'] - offs[k]['cpu_s_per_1000'])
             for k in sorted(offs) if k in ons]
    if pairs:
        out['paired_throughput_ratio'] = [x for x, _ in pairs]
        out['paired_cpu_added_ms'] = [y for _, y in pairs]
        out['paired_throughput_ratio_median'] = median([x for x, _ in pairs])
        out['paired_cpu_added_ms_median'] = median([y for _, y in pairs])
    out['stores'] = [load(p) for p in sorted(glob.glob(os.path.join(d, 'rows-*.json')))]
    out['submit'] = submit_bench(d)
    # the writer thread's CPU in the measured pass (the store's share)
    w = []
    for k, r in sorted(per['on'], key=lambda x: x[0]):
        try:
            ticks, hz = open(os.path.join(d, 'writer-%d.txt' % k)).read().split()
        except (OSError, ValueError):
            continue
        w.append(int(ticks) / float(hz) * 1000 / max(1, r['messages']))
    if w:
        out['writer_cpu_ms_per_msg'] = w
    return out


def median(v):
    v = sorted(v)
    n = len(v)
    return v[n // 2] if n % 2 else (v[n // 2 - 1] + v[n // 2]) / 2.0


def submit_bench(d):
    """report_bench --submit: CPU per row, sqlite store and discard."""
    out = {}
    for store in ('sqlite', 'discard'):
        try:
            text = open(os.path.join(d, 'submit-%s.txt' % store)).read()
        except OSError:
            continue
        m = re.search(r'([\d.]+) us per call', text)
        if m:
            out['%s_submit_us_per_call' % store] = float(m.group(1))
        m = re.search(r'(\d+) committed, (\d+) dropped.*?([\d.]+) us CPU per row',
                      text)
        if m:
            out['%s_committed' % store] = int(m.group(1))
            out['%s_dropped' % store] = int(m.group(2))
            out['%s_cpu_us_per_row' % store] = float(m.group(3))
    return out


def print_reporting(rp):
    print('\nDMARC reporting (authmilter, concurrency 8, fresh daemon per run,'
          ' runs interleaved off/on):')
    print('  %-22s %-28s %8s %-28s %8s' % ('variant', 'msgs/s per run', 'spread',
                                          'CPU ms/msg per run', 'spread'))
    for v, name in (('off', 'reports off'), ('on', 'ReportStore sqlite')):
        r = rp[v]
        print('  %-22s %-28s %7.0f%% %-28s %7.0f%%' % (
            name, ' '.join('%.0f' % x for x in r['msgs_per_s']),
            100 * r['msgs_per_s_spread'],
            ' '.join('%.3f' % x for x in r['cpu_ms_per_msg']),
            100 * r['cpu_ms_per_msg_spread']))
        print('  %-22s %-28s %8s %-28s' % ('  mean', '%.0f' % r['msgs_per_s_mean'], '',
                                          '%.3f' % r['cpu_ms_per_msg_mean']))
    print('  on/off: throughput %.3f (target >= 0.90: %s), CPU %.3f, CPU added'
          ' %+.3f ms/msg (target <= 0.03: %s)' % (
              rp['throughput_on_over_off'],
              'met' if rp['target_throughput_met'] else 'MISSED',
              rp['cpu_on_over_off'], rp['cpu_added_ms_per_msg'],
              'met' if rp['target_cpu_met'] else 'MISSED'))
    if 'paired_cpu_added_ms' in rp:
        print('  paired (each on run vs the off run before it): throughput %s'
              ' (median %.3f), CPU added %s ms/msg (median %+.3f)' % (
                  ' '.join('%.3f' % x for x in rp['paired_throughput_ratio']),
                  rp['paired_throughput_ratio_median'],
                  ' '.join('%+.3f' % x for x in rp['paired_cpu_added_ms']),
                  rp['paired_cpu_added_ms_median']))
    if rp.get('writer_cpu_ms_per_msg'):
        print('  report writer thread (am-report) in the measured passes: %s'
              ' ms CPU per message' % ' '.join(
                  '%.4f' % x for x in rp['writer_cpu_ms_per_msg']))
    sb = rp.get('submit') or {}
    if 'sqlite_cpu_us_per_row' in sb:
        print('  recording path alone (report_bench --submit, 100000 rows):'
              ' %.1f us CPU per row with SQLite (%.3f ms), %.1f us into a'
              ' discarding store; submit %.2f us per call; %d dropped' % (
                  sb['sqlite_cpu_us_per_row'], sb['sqlite_cpu_us_per_row'] / 1000,
                  sb.get('discard_cpu_us_per_row', 0),
                  sb.get('sqlite_submit_us_per_call', 0),
                  sb.get('sqlite_dropped', 0)))
    for i, s in enumerate(rp['stores'], 1):
        if s:
            print('  store %d: %d rows of %d expected, %d groups differ, dropped'
                  ' %s (metric) %s (log): %s' % (
                      i, s['rows'], s['rows_expected'], s['groups_differing'],
                      s['dropped_metric'], s['dropped_log_lines'],
                      'ok' if s['ok'] else 'WRONG'))


def main():
    ap = argparse.ArgumentParser(description='benchmark report')
    ap.add_argument('--dir', required=True)
    ap.add_argument('--corpus', required=True)
    ap.add_argument('--out', required=True)
    ap.add_argument('--conc', default='1 8 32')
    ap.add_argument('--sockets', default='unix')
    a = ap.parse_args()
    conc = a.conc.split()
    rs, cs = runs(a.dir), checks(a.dir)
    eng = load(os.path.join(a.dir, 'engine.json'))
    rates = openssl_rates(os.path.join(a.dir, 'openssl-speed.txt'))
    fl = floor(a.corpus, rates) if eng else None
    timing = {}
    if os.path.exists(os.path.join(a.dir, 'timing.txt')):
        for line in open(os.path.join(a.dir, 'timing.txt')):
            k, v = line.split()
            timing[k] = int(v)
    res = {'corpus': load(os.path.join(a.corpus, 'stats.json')),
           'sockets': a.sockets, 'runs': rs, 'verdicts': cs,
           'ratios': ratios(rs, conc), 'slow_dns': slow(a.dir, a.corpus), 'engine': eng,
           'openssl': rates, 'floor': fl, 'timing_s': timing}
    rp = reporting(a.dir, rs)
    if rp:
        res['reporting'] = rp
    if eng and fl:
        st = eng['stages_us']
        dk = st.get('dkim_bodyhash', 0) + st.get('dkim_verify', 0)
        res['dkim_over_floor'] = dk / max(1e-9, fl['total_us_per_msg'])
    res['corpus'].pop('params', None) if res['corpus'] else None
    st = res['corpus'] or {}
    print('corpus: %s messages, %s sessions, mean %.1f KB, %.2f signatures/msg'
          % (st.get('messages'), st.get('sessions'),
             st.get('mean_size', 0) / 1024, st.get('sigs_per_msg', 0)))
    print('milter sockets: %s\n' % a.sockets)
    print('\n'.join(table(rs, cs, conc)))
    print('\nratios (authmilter vs others, measured passes):')
    for c, r in res['ratios'].items():
        print('  %-4s ' % c + ', '.join('%s %.2f' % kv for kv in sorted(r.items())))
    if res['slow_dns']:
        print_slow(res['slow_dns'])
    if rp:
        print_reporting(rp)
    if eng:
        print('\nengine only (CPU us per message, one thread, zone-file DNS):')
        print('  ' + ', '.join('%s %.1f' % kv for kv in eng['stages_us'].items()))
        if 'engine' in cs:
            print('  verdicts: ' + verdict_text(cs['engine']))
    am1, nu = rs.get('authmilter-c1'), rs.get('null-c1')
    if eng and am1 and nu:
        e_ms = eng['stages_us']['total'] / 1000.0
        res['cpu_split_ms_per_msg'] = {
            'authmilter': am1['cpu_s_per_1000'],
            'libmilter_floor': nu['cpu_s_per_1000'], 'engine': e_ms,
            'other': am1['cpu_s_per_1000'] - nu['cpu_s_per_1000'] - e_ms}
        print('  authmilter CPU per message at conc 1: %.3f ms = libmilter floor '
              '%.3f + engine %.3f + other (DNS client and cache, callbacks) %.3f'
              % tuple(res['cpu_split_ms_per_msg'][k] for k in
                      ('authmilter', 'libmilter_floor', 'engine', 'other')))
    if fl:
        print('  crypto+hash floor: %.1f us/msg (hash %.1f, verify %.1f); '
              'engine DKIM / floor = %.2f' % (
                  fl['total_us_per_msg'], fl['hash_us_per_msg'],
                  fl['verify_us_per_msg'], res.get('dkim_over_floor', 0)))
        print('  openssl: ' + ', '.join('%s %.0f' % kv for kv in sorted(rates.items())))
    if timing:
        print('\ntiming (s): ' + ', '.join('%s %d' % kv for kv in sorted(timing.items())))
    with open(a.out, 'w') as f:
        json.dump(res, f, indent=1, sort_keys=True)
    print('\nJSON: %s' % a.out)


if __name__ == '__main__':
    main()
