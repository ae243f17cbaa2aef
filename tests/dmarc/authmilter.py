#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
#
# Runs the DMARC verdicts of the authentication_milter corpus
# ($AM_CORPUS/authentication_milter, see its README) through lib/dmarc:
# every milter case whose expected Authentication-Results has a dmarc=
# result (or that expects the DMARC reject), and the 4 DMARC handler cases.
# SPF and DKIM are not ours to evaluate here: their results come from the
# expected header (spf=, dkim= with header.d=), as upstream computed them;
# the From fields come from the source message, the _dmarc records from the
# corpus zonefile (copied to a clean zone file for am_dns_zone_new).
# The C driver dmarc/dmarc_cases prints one line per case and the count.
import os, re, subprocess, sys, tempfile
import yaml

corpus = os.environ.get("AM_CORPUS", os.path.join(
    os.environ.get("AM_TOP_SRCDIR", "."), "..", "shared", "corpus"))
base = os.path.join(corpus, "authentication_milter")
builddir = os.environ.get("AM_TOP_BUILDDIR", ".")
driver = os.path.join(builddir, "tests", "dmarc", "dmarc_cases")

# SPF results of the handler cases, from their comments in cases.yml.
HANDLER_SPF = {"none": "none", "spf_fail": "fail", "spf_invalid": "permerror",
               "spf_pass": "pass"}


def dmarc_zone(path, out):
    """Copy the _dmarc TXT records; TXT pieces are concatenated."""
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            m = re.match(r'\s*(_dmarc\.[^\s]+)\s+.*?\bTXT\s+(.*)$', line)
            if not m or "._report." in line:
                continue
            owner = m.group(1).rstrip(".") + "."
            text = "".join(re.findall(r'"([^"]*)"', m.group(2)))
            out.write('%s 300 IN TXT "%s"\n' % (owner, text))


def ar_header(path):
    """The unfolded Authentication-Results value of an expected message."""
    val, inar = None, False
    with open(path, encoding="utf-8", errors="replace") as f:
        for line in f:
            line = line.rstrip("\r\n")
            if line == "":
                break
            if line[:1] in " \t" and inar:
                val += " " + line.strip()
                continue
            inar = line.lower().startswith("authentication-results:")
            if inar:
                val = line.split(":", 1)[1].strip()
    return val or ""


def dkim_spec(ar):
    out = []
    for item in ar.split(";"):
        m = re.match(r'\s*dkim=(\w+)', item)
        d = re.search(r'header\.d=([^\s;]+)', item)
        if m and d:
            out.append("%s:%s" % (m.group(1), d.group(1)))
    return ",".join(out) or "-"


def spf_domain(mail_from, helo):
    addr = mail_from.strip().strip("<>")
    return addr.rsplit("@", 1)[1].strip() if "@" in addr else helo


def main():
    with open(os.path.join(base, "cases.yml")) as f:
        data = yaml.safe_load(f)
    tmp = tempfile.mkdtemp(prefix="am-dmarc-")
    zone = os.path.join(tmp, "dmarc.zone")
    with open(zone, "w") as out:
        dmarc_zone(os.path.join(base, "zonefile"), out)
    lines = []
    for c in data["cases"]:
        ear = c.get("expected_ar") or {}
        want, dis = ear.get("dmarc"), "-"
        if c.get("expected_reject"):
            want, dis = ["fail"], "reject"
        if not want:
            continue
        ar = ar_header(os.path.join(base, c["expected"])) \
            if not c.get("expected_reject") else ""
        spf = (ear.get("spf") or ["none"])[0]
        if c.get("expected_reject"):
            spf = "fail"
        lines.append("\t".join([
            "%s [%s]" % (c["desc"], c["expected"]),
            os.path.join(base, c["source"]), spf,
            spf_domain(str(c.get("mail_from", "")), str(c.get("helo", ""))),
            dkim_spec(ar), ",".join(want), dis]))
    for h in data.get("handler_dmarc_cases", []):
        msg = os.path.join(tmp, h["id"] + ".eml")
        with open(msg, "w") as f:
            f.write(h["message"])
        lines.append("\t".join([
            "handler " + h["id"], msg, HANDLER_SPF[h["id"]],
            spf_domain(h["mail_from"], h["helo"]), "-",
            h["expected_dmarc"], "-"]))
    r = subprocess.run([driver, zone], input="\n".join(lines) + "\n",
                       text=True)
    sys.exit(r.returncode)


main()
