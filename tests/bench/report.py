#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# report.py: run-bench's last step. Reads the scratch directory of a run
# (run-*.json from milterload plus CPU and RSS, check-*.json from
# check_verdicts.py, engine.json from enginebench, openssl-speed.txt,
# timing.txt) and the corpus, prints the table and the ratios, and writes
# everything as one JSON file.
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


def slow(rs, qpath=None):
    out = {}
    queries = {}
    if qpath and os.path.exists(qpath):
        for line in open(qpath):
            k, cold, warm = line.split()
            queries[k] = (int(cold), int(warm))
    for setup in ('authmilter', 'chain'):
        s, f = rs.get('%s-slow' % setup), rs.get('%s-cold' % setup)
        w = rs.get('%s-slowwarm' % setup)
        if s and f:
            out[setup] = {'slow_mean_ms': s['lat_mean_ms'],
                          'slow_p50_ms': s['lat_p50_ms'],
                          'slow_p99_ms': s['lat_p99_ms'],
                          'fast_cold_mean_ms': f['lat_mean_ms'],
                          'added_mean_ms': s['lat_mean_ms'] - f['lat_mean_ms'],
                          'added_p50_ms': s['lat_p50_ms'] - f['lat_p50_ms'],
                          'msgs_per_s': s['msgs_per_s']}
            if setup in queries:
                out[setup]['queries_cold'] = queries[setup][0]
                out[setup]['queries_warm'] = queries[setup][1]
            if w:
                out[setup]['warm_p50_ms'] = w['lat_p50_ms']
    return out


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
           'ratios': ratios(rs, conc), 'slow_dns': slow(rs, os.path.join(a.dir, 'slow-queries.txt')), 'engine': eng,
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
        print('\nslow DNS (20 ms per query, cold caches, concurrency 8):')
        for s, r in res['slow_dns'].items():
            print('  %-22s mean %.1f ms, p50 %.1f, p99 %.1f; added mean %.1f ms,'
                  ' added p50 %.1f ms; %.0f msgs/s' % (
                      SETUP_NAMES[s], r['slow_mean_ms'], r['slow_p50_ms'],
                      r['slow_p99_ms'], r['added_mean_ms'], r['added_p50_ms'],
                      r['msgs_per_s']))
            if 'queries_cold' in r:
                print('  %-22s DNS queries: %d on the cold pass, %d on the warm'
                      ' pass (same corpus again)' % (SETUP_NAMES[s],
                      r['queries_cold'], r['queries_warm']))
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
