#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# check_report_rows.py: run-bench's check of the report store after a run
# with reporting on. The daemon records one row per message whose DMARC
# evaluation found a policy record (truth.jsonl: dmarc is pass or fail;
# "none" means the From domain publishes none), so after PASSES replays of
# the corpus plus the PRIMER first messages the store must hold exactly
# that many rows, with the same count per (header From domain, DMARC
# result), and nothing may have been dropped: the StatsSocket counter
# authmilter_report_dropped_total is 0 (or absent) and the log has no
# "DMARC reports: ... dropped" warning.
#
#   check_report_rows.py --truth T --db FILE --passes N [--primer K]
#                        [--metrics FILE] [--log FILE] [--summary OUT]
#
# Exit 0 when everything matches, 1 otherwise (the differences printed).
import argparse
import collections
import json
import re
import sqlite3
import sys


def expected(truth, passes, primer):
    want = collections.Counter()
    msgs = [json.loads(line) for line in open(truth)]
    for i, t in enumerate(msgs):
        if t['dmarc'] == 'none':
            continue
        n = passes + (1 if i < primer else 0)
        want[(t['from_domain'].lower(), t['dmarc'])] += n
    return want


def stored(db):
    got = collections.Counter()
    con = sqlite3.connect('file:%s?mode=ro' % db, uri=True)
    for dom, res, n in con.execute(
            'SELECT lower(header_from), dmarc, count(*) FROM report_row'
            ' GROUP BY 1, 2'):
        got[(dom, res)] = n
    con.close()
    return got


def dropped_metric(path):
    """The counter's value; None when the page is missing, 0 when absent."""
    try:
        text = open(path).read()
    except OSError:
        return None
    if not text:
        return None
    m = re.search(r'^authmilter_report_dropped_total(?:\{[^}]*\})?\s+(\S+)',
                  text, re.M)
    return int(float(m.group(1))) if m else 0


def dropped_log(path):
    try:
        return sum(1 for line in open(path, errors='replace')
                   if 'DMARC reports:' in line and 'dropped' in line)
    except OSError:
        return None


def main():
    ap = argparse.ArgumentParser(description='report store vs ground truth')
    ap.add_argument('--truth', required=True)
    ap.add_argument('--db', required=True)
    ap.add_argument('--passes', type=int, required=True)
    ap.add_argument('--primer', type=int, default=0)
    ap.add_argument('--metrics')
    ap.add_argument('--log')
    ap.add_argument('--summary')
    a = ap.parse_args()
    want = expected(a.truth, a.passes, a.primer)
    got = stored(a.db)
    diff = {'%s %s' % k: {'want': want[k], 'got': got[k]}
            for k in sorted(set(want) | set(got)) if want[k] != got[k]}
    res = {'rows_expected': sum(want.values()), 'rows': sum(got.values()),
           'groups': len(want), 'groups_differing': len(diff),
           'dropped_metric': dropped_metric(a.metrics) if a.metrics else None,
           'dropped_log_lines': dropped_log(a.log) if a.log else None}
    res['ok'] = (not diff and res['dropped_metric'] in (0, None) and
                 not res['dropped_log_lines'])
    print('report store: %d rows, %d expected (%d passes + %d primer), '
          '%d of %d (From domain, dmarc) groups differ' % (
              res['rows'], res['rows_expected'], a.passes, a.primer,
              len(diff), len(want)))
    print('dropped: metric %s, log warnings %s' % (
        'unavailable' if res['dropped_metric'] is None else
        res['dropped_metric'], res['dropped_log_lines']))
    for k, v in list(diff.items())[:8]:
        print('  %s: want %d, got %d' % (k, v['want'], v['got']))
    if a.summary:
        res['differences'] = diff
        with open(a.summary, 'w') as f:
            json.dump(res, f, indent=1, sort_keys=True)
    return 0 if res['ok'] else 1


if __name__ == '__main__':
    sys.exit(main())
