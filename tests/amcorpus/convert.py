#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""tests/amcorpus/convert.py: the authentication_milter corpus
($AM_CORPUS/authentication_milter, see its README) made usable by a real
name server and by our runners.

  convert.py zones OUTDIR   the corpus zonefile (a Net::DNS::Resolver::Mock
                            file) as master files, one per zone, for nsd:
                            OUTDIR/APEX.zone with $ORIGIN, SOA (and NS when
                            the data has none); OUTDIR/nxdomain.list, the
                            names the corpus says must be NXDOMAIN.
  convert.py cases OUTFILE  cases.yml as a JSON list of the milter cases,
                            each with an "id" (the expected file's name
                            without .eml: unique), then the 4 DMARC handler
                            cases (id handler_ID, config "handler", only
                            dmarc= compared; their messages are written
                            next to OUTFILE).

Zones. Every owner name goes to the longest apex of APEXES that holds it; a
name under none is an error (nsd would answer REFUSED, our resolver
temperror, where upstream's mock answered NXDOMAIN). The empty top-level
zones make every other name under them NXDOMAIN, as in the mock; they also
answer the RFC 9989 DNS tree walk (_dmarc.com, _dmarc.net, ...), which
otherwise would be REFUSED. Registered domains are zones of their own
because the data has NS records at their apex (inside a "com" zone those
would be delegations).

Lines (RFC 1035 s.5.1 master-file syntax, with the mock's liberties):
  name [ttl] [class] type rdata
  * every owner name is absolute, with or without its trailing dot
    (cnamea.example.com has none);
  * TXT rdata: quoted strings and bare tokens, in ( ... ) or not, are
    concatenated with no separator (README: tfe2._domainkey.marcbradshaw.net
    is split mid-key); the result is re-split in 255-octet strings
    (RFC 1035 s.3.3.14, RFC 7208 s.3.3, RFC 6376 s.3.6.2.2);
  * a TXT with no rdata at all (_domainkey.goestheweasel.com,
    _policy._domainkey.goestheweasel.com) becomes one empty string: the
    name exists, with a record that means nothing;
  * ";ERROR,NAME,TYPE,NXDOMAIN" comments go to nxdomain.list;
  * an RRset keeps one TTL, the lowest (RFC 2181 s.5.2), and no duplicate
    records (example.com A twice).
"""
import json
import os
import re
import sys

import yaml

CORPUS = os.path.join(os.environ.get("AM_CORPUS", "/work/shared/corpus"),
                      "authentication_milter")

APEXES = [
    # top-level zones: empty but for SOA/NS
    "com", "net", "org", "uk", "host", "arpa", "localhost",
    # the corpus' own
    "in-addr.arpa", "ip6.arpa", "authmilter.org", "1e100.net",
    "example.com", "goestheweasel.com", "google.com", "spfuvictim.com",
    "marcbradshaw.net", "mandrillapp.com", "twofiftyeight.ltd.uk",
    # named by the cases (HELO, MAIL FROM, From), no data: NXDOMAIN
    "example.org", "example.net", "fastmail.com", "local.host",
]
NAME_TYPES = {"CNAME", "PTR", "NS"}


def tokens(rest):
    """Master-file tokens: quoted strings keep their quotes."""
    return re.findall(r'"(?:[^"\\]|\\.)*"|[()]|[^\s()"]+', rest)


def absolute(name):
    """A name in absolute, lower-case form."""
    return name.rstrip(".").lower() + "."


def txt_rdata(toks):
    """TXT rdata: pieces concatenated, re-split at 255 octets."""
    text = "".join(t[1:-1] if t.startswith('"') else t
                   for t in toks if t not in ("(", ")"))
    parts = [text[i:i + 255] for i in range(0, len(text), 255)] or [""]
    return " ".join('"%s"' % p.replace("\\", "\\\\").replace('"', '\\"')
                    for p in parts)


def parse_line(line):
    """(owner, ttl, type, rdata) of one data line, or None."""
    toks = tokens(line)
    if not toks:
        return None
    owner, i, ttl = absolute(toks[0]), 1, None
    while i < len(toks):
        t = toks[i].upper()
        if t.isdigit():
            ttl = int(t)
        elif t != "IN":
            break
        i += 1
    if i >= len(toks):
        raise ValueError("no type: %r" % line)
    rtype, rd = toks[i].upper(), toks[i + 1:]
    if rtype == "TXT":
        rdata = txt_rdata(rd)
    elif rtype in NAME_TYPES:
        rdata = absolute(rd[0])
    elif rtype == "MX":
        rdata = "%s %s" % (rd[0], absolute(rd[1]))
    else:
        rdata = " ".join(t for t in rd if t not in ("(", ")"))
    return owner, ttl if ttl is not None else 3600, rtype, rdata


def apex_of(name):
    """The longest apex of APEXES holding name."""
    best = None
    for a in APEXES:
        if name == a + "." or name.endswith("." + a + "."):
            if best is None or len(a) > len(best):
                best = a
    if best is None:
        raise ValueError("no zone for %s: add its apex to APEXES" % name)
    return best


def zones(outdir):
    """The zones command (see the top)."""
    rrsets, nx = {}, []
    with open(os.path.join(CORPUS, "zonefile"), encoding="utf-8") as f:
        for line in f:
            line = line.rstrip("\n")
            m = re.match(r";ERROR,([^,]+),([^,]+),NXDOMAIN", line)
            if m:
                nx.append((m.group(1), m.group(2)))
                continue
            if not line.strip() or line.lstrip().startswith(";"):
                continue
            owner, ttl, rtype, rdata = parse_line(line)
            key = (owner, rtype)
            ent = rrsets.setdefault(key, [ttl, []])
            ent[0] = min(ent[0], ttl)
            if rdata not in ent[1]:
                ent[1].append(rdata)
    per = {a: [] for a in APEXES}
    for (owner, rtype), (ttl, rdatas) in sorted(rrsets.items()):
        for rd in rdatas:
            per[apex_of(owner)].append("%s %d IN %s %s" % (owner, ttl, rtype, rd))
    os.makedirs(outdir, exist_ok=True)
    for a, lines in per.items():
        with open(os.path.join(outdir, a + ".zone"), "w") as out:
            out.write("; generated by tests/amcorpus/convert.py\n")
            out.write("$ORIGIN %s.\n$TTL 3600\n" % a)
            out.write("@ IN SOA ns.amcorpus.invalid. hostmaster.amcorpus."
                      "invalid. 1 3600 600 86400 300\n")
            if not any(l.startswith(a + ". ") and " IN NS " in l for l in lines):
                out.write("@ IN NS ns.amcorpus.invalid.\n")
            for l in lines:
                out.write(l + "\n")
    with open(os.path.join(outdir, "nxdomain.list"), "w") as out:
        for name, rtype in nx:
            if re.match(r"^[0-9.]+$", name):      # an IPv4 PTR query
                name = ".".join(reversed(name.split("."))) + ".in-addr.arpa"
            apex_of(absolute(name))
            out.write("%s %s\n" % (absolute(name), rtype))


def cases(outfile):
    """The cases command (see the top)."""
    with open(os.path.join(CORPUS, "cases.yml"), encoding="utf-8") as f:
        data = yaml.safe_load(f)
    out, seen = [], set()
    for c in data["cases"]:
        cid = os.path.basename(c["expected"])[:-len(".eml")]
        if cid in seen:
            raise ValueError("duplicate case id " + cid)
        seen.add(cid)
        out.append({
            "id": cid, "desc": c["desc"], "config": c["milter_config"],
            "source": os.path.join(CORPUS, c["source"]),
            "expected": os.path.join(CORPUS, c["expected"]),
            "client_ip": str(c["client_ip"]), "helo": str(c["helo"]),
            "mail_from": str(c.get("mail_from") or ""),
            "rcpt_to": str(c["rcpt_to"]),
            "expected_ar": c.get("expected_ar"),
            "expected_reject": c.get("expected_reject"),
        })
    for h in data.get("handler_dmarc_cases", []):
        cid = "handler_" + h["id"]
        msg = os.path.join(os.path.dirname(os.path.abspath(outfile)), cid + ".eml")
        with open(msg, "w") as f:
            f.write(h["message"])
        out.append({
            "id": cid, "desc": "DMARC handler " + h["id"], "config": "handler",
            "source": msg, "expected": None,
            "client_ip": h["client_ip"], "helo": h["helo"],
            "mail_from": h["mail_from"], "rcpt_to": h["rcpt_to"][0],
            "expected_ar": {"dmarc": [h["expected_dmarc"]]},
            "expected_reject": None, "only": ["dmarc"],
        })
    with open(outfile, "w") as f:
        json.dump(out, f, indent=1)
        f.write("\n")


def main():
    """Dispatches the two commands."""
    if len(sys.argv) != 3 or sys.argv[1] not in ("zones", "cases"):
        sys.exit("usage: convert.py zones OUTDIR | cases OUTFILE")
    (zones if sys.argv[1] == "zones" else cases)(sys.argv[2])


if __name__ == "__main__":
    main()
