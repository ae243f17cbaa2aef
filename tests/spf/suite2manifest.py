#!/usr/bin/env python3
# SPDX-License-Identifier: BSD-2-Clause
"""Convert SPF conformance suites into zone files and a manifest.

  suite2manifest.py rfc7208  SUITE.yml     OUTDIR
  suite2manifest.py stalwart STALWART_DIR  OUTDIR
  suite2manifest.py macro    EXAMPLES.yml  OUTDIR

Writes OUTDIR/<n>.zone (RFC 1035 master files, absolute names, \\DDD escapes
for anything but letters, digits, '-' and '_') and OUTDIR/manifest, read by
run_suite (our evaluator) and diff_libspf2 (libspf2). Manifest lines are
tab separated; fields escape tab, newline, backslash and every byte outside
0x20-0x7e as \\xHH:

  suite    NAME
  scenario TITLE
  zone     PATH
  tmo      NAME  TYPES     queries of NAME time out except for TYPES
                           (comma separated; empty: every type)
  errsub   TEXT            queries of names containing TEXT time out
  rr       NAME  TYPE DATA the zone data again, for libspf2 (MX: "PREF HOST")
  test     ID MODE HOST HELO MAILFROM RESULTS EXP
                           MODE mailfrom (check_host of the MAIL FROM
                           identity, postmaster@HELO when null) or stalwart
                           (HELO first, then MAIL FROM if HELO passed);
                           RESULTS comma separated; EXP "=text" or ""
  macro    ID IP SENDER DOMAIN SPEC EXPECTED CASE   CASE "i": compare
                           case-insensitively
  end                      end of a scenario

DNS rules for rfc7208-tests.yml are those of the corpus README: SPF values
are served as TXT when a name has no TXT entry; TXT/SPF NONE suppresses
that; a list value is one RR of several strings; strings go out as UTF-8;
TIMEOUT makes every type not listed before it time out.
"""
import ipaddress
import os
import re
import sys

import yaml

TYPES = ("A", "AAAA", "MX", "PTR", "CNAME", "TXT")


def esc_field(s):
    out = []
    for b in s.encode("utf-8") if isinstance(s, str) else s:
        if b < 0x20 or b > 0x7e or b == 0x5c:
            out.append("\\x%02x" % b)
        else:
            out.append(chr(b))
    return "".join(out)


def line(*fields):
    return "\t".join(esc_field(str(f)) for f in fields) + "\n"


def zone_name(name):
    """A literal name in master-file form, absolute."""
    name = name.rstrip(".")
    if name == "":
        return "."
    labels = []
    for lab in name.split("."):
        o = []
        for b in lab.encode("utf-8"):
            c = chr(b)
            if c.isascii() and (c.isalnum() or c in "-_"):
                o.append(c)
            else:
                o.append("\\%03d" % b)
        labels.append("".join(o))
    return ".".join(labels) + "."


def zone_txt(strings):
    """TXT rdata: each string quoted, split at 255 octets."""
    parts = []
    for s in strings or [""]:
        data = s.encode("utf-8")
        chunks = [data[i:i + 255] for i in range(0, len(data), 255)] or [b""]
        for ch in chunks:
            o = []
            for b in ch:
                if b < 0x20 or b > 0x7e or b in (0x22, 0x5c):
                    o.append("\\%03d" % b)
                else:
                    o.append(chr(b))
            parts.append('"' + "".join(o) + '"')
    return " ".join(parts)


class Zone:
    """Records of one scenario: (name, type) -> list of values."""

    def __init__(self):
        self.rrs = []           # (name, type, value)
        self.timeouts = []      # (name, [answered types])

    def add(self, name, typ, value):
        self.rrs.append((name, typ, value))

    def replace(self, name, typ, values):
        key = (name.lower(), typ)
        self.rrs = [r for r in self.rrs if (r[0].lower(), r[1]) != key]
        for v in values:
            self.add(name, typ, v)

    def write(self, path, out):
        with open(path, "w", encoding="ascii") as f:
            f.write("$TTL 300\n")
            for name, typ, v in self.rrs:
                f.write("%s IN %s %s\n" % (zone_name(name), typ,
                                          self.rdata(typ, v)))
        out.write(line("zone", path))
        for name, types in self.timeouts:
            out.write(line("tmo", name.rstrip("."), ",".join(types)))
        for name, typ, v in self.rrs:
            out.write(line("rr", name.rstrip("."), typ, self.plain(typ, v)))

    @staticmethod
    def rdata(typ, v):
        if typ == "TXT":
            return zone_txt(v)
        if typ == "MX":
            return "%d %s" % (v[0], zone_name(v[1]))
        if typ in ("PTR", "CNAME"):
            return zone_name(v)
        return str(v)

    @staticmethod
    def plain(typ, v):
        if typ == "TXT":
            return "".join(v)
        if typ == "MX":
            return "%d %s" % (v[0], v[1].rstrip("."))
        if typ in ("PTR", "CNAME"):
            return v.rstrip(".")
        return str(v)


def txt_value(v):
    if isinstance(v, list):
        return [str(x) for x in v]
    return [str(v)]


def rfc_zone(zonedata):
    z = Zone()
    for name, entries in (zonedata or {}).items():
        name = str(name)
        has_txt = any(isinstance(e, dict) and "TXT" in e for e in entries)
        seen, spf, timeout = [], [], False
        for e in entries:
            if e == "TIMEOUT":
                timeout = True
                z.timeouts.append((name, list(seen)))
                continue
            (typ, v), = e.items()
            if v == "NONE":
                continue
            if typ == "SPF":
                spf.append(txt_value(v))
                continue
            if typ == "TXT":
                v = txt_value(v)
            if not timeout and typ not in seen:
                seen.append(typ)
            z.add(name, typ, v)
        if not has_txt:
            for v in spf:
                z.add(name, "TXT", v)
    return z


def results_of(t):
    r = t["result"]
    return ",".join(r) if isinstance(r, list) else str(r)


def do_rfc7208(src, outdir, out):
    out.write(line("suite", "rfc7208-tests"))
    with open(src, encoding="utf-8") as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for n, doc in enumerate(docs):
        out.write(line("scenario", doc.get("description", "scenario %d" % n)))
        rfc_zone(doc.get("zonedata")).write(
            os.path.join(outdir, "rfc-%02d.zone" % n), out)
        for tid, t in doc["tests"].items():
            exp = t.get("explanation")
            out.write(line("test", tid, "mailfrom", t["host"], t["helo"],
                           t["mailfrom"], results_of(t),
                           "" if exp is None else "=" + str(exp)))
        out.write(line("end"))


def ip_reverse(ip):
    return ipaddress.ip_address(ip).reverse_pointer


def stalwart_record(z, key, rest):
    name, _, val = rest.partition(" ")
    val = val.strip()
    if key in ("spf", "exp"):
        z.replace(name, "TXT", [[val]])
        return
    items = [x.strip() for x in val.split(",") if x.strip()]
    if key in ("a", "aaaa"):
        for typ, fam in (("A", 4), ("AAAA", 6)):
            ips = [i for i in items if ipaddress.ip_address(i).version == fam]
            if ips:
                z.replace(name, typ, ips)
    elif key == "ptr":
        z.replace(ip_reverse(name), "PTR", items)
    elif key == "mx":
        mxs = []
        for k, ip in enumerate(items):
            host = "mx.%s.%d" % (ip, k)
            typ = "A" if ipaddress.ip_address(ip).version == 4 else "AAAA"
            z.replace(host, typ, [ip])
            mxs.append((k + 1, host))
        z.replace(name, "MX", mxs)


def valid_name(name):
    labels = name.rstrip(".").split(".")
    return len(name.rstrip(".")) <= 253 and all(0 < len(x) <= 63
                                                for x in labels)


class StalwartFile:
    """Reads one file line by line, as upstream does: DNS data accumulates
    over the whole file and each check sees the records defined so far."""

    def __init__(self, base, outdir, out):
        self.base, self.outdir, self.out = base, outdir, out
        self.z = Zone()
        self.dirty, self.nzone, self.name, self.k = True, 0, "", 0
        self.open = False
        self.reset()

    def reset(self):
        self.helo, self.sender, self.ip = "", "", "127.0.0.1"

    def set_name(self, name):
        if self.open:
            self.out.write(line("end"))
        self.open, self.name, self.k, self.dirty = False, name, 0, True

    def check(self, rest):
        if not self.open:
            self.out.write(line("scenario", "%s: %s" % (self.base,
                                                        self.name)))
            self.open = True
        if self.dirty:
            self.nzone += 1
            self.z.write(os.path.join(self.outdir, "st-%s-%d.zone" % (
                self.base, self.nzone)), self.out)
            self.out.write(line("errsub", "_dns_error."))
            self.dirty = False
        self.k += 1
        res, _, exp = rest.partition(" ")
        tid = "%s:%s#%d" % (self.base, self.name.replace(" ", "_"), self.k)
        self.out.write(line("test", tid, "stalwart", self.ip, self.helo,
                            self.sender, res, "=" + exp if exp else ""))

    def feed(self, raw):
        s = raw.strip()
        if s == "---":
            self.reset()
            return
        if s.startswith("-"):
            s = s[1:].strip()
        key, sep, rest = s.partition(":")
        rest = rest.strip()
        if not sep or s.startswith("#"):
            return
        if key == "name":
            self.set_name(rest)
        elif key in ("spf", "exp", "a", "aaaa", "ptr", "mx"):
            name = rest.partition(" ")[0]
            if key == "ptr" or valid_name(name):
                stalwart_record(self.z, key, rest)
                self.dirty = True
        elif key == "domain":
            self.helo = rest
        elif key == "sender":
            self.sender = rest
        elif key == "ip":
            self.ip = rest
        elif key == "expect":
            self.check(rest)

    def finish(self):
        if self.open:
            self.out.write(line("end"))


def do_stalwart_file(path, outdir, out, base):
    f = StalwartFile(base, outdir, out)
    for raw in open(path, encoding="utf-8").read().splitlines():
        f.feed(raw)
    f.finish()


def do_stalwart(src, outdir, out):
    out.write(line("suite", "stalwart"))
    for fn in sorted(os.listdir(src)):
        if fn.endswith(".yml"):
            do_stalwart_file(os.path.join(src, fn), outdir, out, fn)


def do_macro(src, outdir, out):
    with open(src, encoding="utf-8") as f:
        d = yaml.safe_load(f)
    ctx = d["context"]
    out.write(line("suite", "rfc7208-macro-examples"))
    out.write(line("scenario", "RFC 7208 s.7.4 examples"))
    n = 0
    for key, ip, case in (("ipv4_examples", ctx["ip4"], ""),
                          ("ipv6_examples", ctx["ip6"], "i")):
        for spec, want in d[key]:
            n += 1
            out.write(line("macro", "%s#%d" % (key, n), ip, ctx["sender"],
                           ctx["domain"], spec, want, case))
    out.write(line("end"))


def main():
    mode, src, outdir = sys.argv[1:4]
    outdir = os.path.abspath(outdir)
    os.makedirs(outdir, exist_ok=True)
    with open(os.path.join(outdir, "manifest"), "w", encoding="ascii") as out:
        {"rfc7208": do_rfc7208, "stalwart": do_stalwart,
         "macro": do_macro}[mode](src, outdir, out)


if __name__ == "__main__":
    main()
