#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# dkimpy_verify.py PORT MESSAGE: ARC-verify MESSAGE with Debian's
# python3-dkim (dkim.arc_verify), an implementation independent of ours,
# asking its key records of the nameserver on 127.0.0.1:PORT (dnspython).
# Prints "CV reason" (CV: pass, fail, none, or terminated when the newest
# ARC-Seal says cv=fail) and exits 0; 2 on a usage error.
import sys

import dkim
import dns.resolver


def main():
    if len(sys.argv) != 3:
        print('usage: dkimpy_verify.py PORT MESSAGE', file=sys.stderr)
        return 2
    res = dns.resolver.Resolver(configure=False)
    res.nameservers = ['127.0.0.1']
    res.port = int(sys.argv[1])
    res.lifetime = 5

    def dnsfunc(name, timeout=5):
        try:
            ans = res.resolve(name.decode().rstrip('.'), 'TXT')
        except Exception:
            return None
        for rr in ans:
            return b''.join(rr.strings)
        return None

    msg = open(sys.argv[2], 'rb').read()
    cv, _, reason = dkim.arc_verify(msg, dnsfunc=dnsfunc)
    print('%s %s' % (cv.decode() if cv else 'terminated', reason))
    return 0


if __name__ == '__main__':
    sys.exit(main())
