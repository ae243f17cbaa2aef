#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""tests/amcorpus/amcorpus.py: the authentication_milter corpus through the
whole engine (SPF + DKIM + DMARC + A-R removal + action), driven by
run-check.sh (authmilter --check) and run-daemon.sh (the daemon in Postfix).

  amcorpus.py conf CONFIG MODE DNSPORT           an authmilter config on stdout
  amcorpus.py keys                               every keyword conf may set
  amcorpus.py check CASES KNOWN BIN CONFDIR      every case by --check, both
                                                 DMARC modes, against the corpus
  amcorpus.py daemon CASES KNOWN CONFIG BIN CONF SMTPPORT MAILDIR MODE
                                                 the cases of CONFIG through
                                                 Postfix; the daemon's A-R and
                                                 reply against --check's

CASES is convert.py's case list. Corpus configs map to ours in CONFIGS
below. What is compared with the corpus (RFC 8601 method=result pairs of
expected_ar, and the message's fate):
  spf    the results (upstream reports the MAIL FROM identity, or HELO for a
         null sender: our SPFMode mailfrom);
  dkim   one result per DKIM-Signature, as a multiset (X-Google-DKIM-
         Signature is upstream's x-google-dkim, not DKIM);
  dmarc  the results, as a multiset;
  action reject (5xx) exactly when upstream rejected;
  remove the forged A-R headers we remove are ones upstream removed too,
         and every one carrying exactly our authserv-id or an alias is
         removed (RFC 8601 s.5; upstream also removes subdomains and
         suffixes, a local extension).
A method upstream did not report must be absent from ours, except under
hide_none, where upstream hides "none": ours may then say none. An
expected_ar of null means no A-R header at all. iprev, senderid,
dkim-adsp and the x-* methods are upstream's alone: counted as not
applicable. A case passes when every comparison does; tests/amcorpus/
known-failures lists, with the reason, the cases that may not (and must
not pass: a listed case that passes is an error too).
"""
import json
import os
import re
import smtplib
import subprocess
import sys
import time

OURS = ("spf", "dkim", "dmarc")
MODES = ("rfc7489", "rfc9989")
SANITIZER = re.compile(r"Sanitizer|runtime error:")

# corpus config -> (authserv-id, our keywords); every one also gets the
# DNS and log lines of conf().
BASE = {
    "AuthservID": "test.module",
    "AuthservIDAliases": "example.com",
    "TrustedNetworks": "127.0.0.1/32, ::1/128, 123.123.12.3/32",
    "SPFMode": "mailfrom",
    "DKIMMode": "on",
    "DMARCEnforce": "no",
}
CONFIGS = {
    # handlers SPF DKIM DMARC, LocalIP + TrustedIP 123.123.12.3, Sanitize
    # example.com (and our own id)
    "normal": {},
    # DMARC hard_reject, whitelisted 99.0.0.0/8 (trusted_forwarder);
    # Sanitize test.module only
    "dmarc_reject": {"DMARCEnforce": "yes", "AuthservIDAliases": "",
                     "DMARCTrustedForwarders": "99.0.0.0/8"},
    # also whitelisted dkim:marcbradshaw.net (no such option here) and DKIM
    # no_strict (rsa-sha1; RFC 8301 forbids it): see known-failures
    "dmarc_reject_wl": {"DMARCEnforce": "yes", "AuthservIDAliases": "",
                        "DMARCTrustedForwarders": "99.0.0.0/8"},
    # dryrun: checks run, message left alone. No such mode here: our
    # nearest is monitor only (DMARCEnforce no), which still adds the A-R
    "dryrun": {"AuthservIDAliases": ""},
    # own authserv_id; no LocalIP / TrustedIP handlers; hide_none (upstream
    # hides none results: see the comparison)
    "hide_none": {"AuthservID": "mx.example.net",
                  "TrustedNetworks": "127.0.0.1/32, ::1/128"},
    # only the TestTimeout handler: no checks at all
    "timeout": {"SPFMode": "off", "DKIMMode": "off", "DMARCMode": "off"},
    # t/04-unit-handler-dmarc.t: DKIM, SPF, DMARC with default settings
    "handler": {},
}


def conf_values(name, mode, dnsport):
    """Our keywords for corpus config name in DMARC mode."""
    v = dict(BASE)
    v["DMARCMode"] = mode
    v.update(CONFIGS[name])
    v.update({"DNSServer": "127.0.0.1@%s" % dnsport, "DNSTimeout": "2s",
              "DNSRetries": "1", "Syslog": "no"})
    return v


def conf_text(name, mode, dnsport):
    """The config file text (empty values left out)."""
    return "".join("%s %s\n" % kv for kv in
                   conf_values(name, mode, dnsport).items() if kv[1] != "")


# ---- A-R parsing (RFC 8601 s.2.2) ----

def strip_comments(s):
    """s without (comments), nested, quoted strings kept."""
    out, depth, i, q = [], 0, 0, False
    while i < len(s):
        c = s[i]
        if c == "\\" and i + 1 < len(s):
            if depth == 0:
                out.append(s[i:i + 2])
            i += 2
            continue
        if q:
            q = c != '"'
            out.append(c)
        elif c == '"' and depth == 0:
            q = True
            out.append(c)
        elif c == "(":
            depth += 1
        elif c == ")" and depth > 0:
            depth -= 1
        elif depth == 0:
            out.append(c)
        i += 1
    return "".join(out)


def split_semi(s):
    """Splits at ";" outside quoted strings."""
    parts, cur, q = [], [], False
    for c in s:
        if c == '"':
            q = not q
        if c == ";" and not q:
            parts.append("".join(cur))
            cur = []
        else:
            cur.append(c)
    parts.append("".join(cur))
    return parts


def unfold(v):
    """A header value unfolded (RFC 5322 s.2.2.3), trimmed."""
    return re.sub(r"\r?\n[ \t]+", " ", v).strip()


def ar_parse(value):
    """(authserv-id, {method: [results]}) of an A-R value."""
    parts = split_semi(strip_comments(unfold(value)))
    aid = parts[0].split()[0].lower() if parts[0].split() else ""
    res = {}
    for p in parts[1:]:
        m = re.match(r"\s*([A-Za-z0-9_.-]+)\s*=\s*([A-Za-z0-9_-]+)", p)
        if m:
            res.setdefault(m.group(1).lower(), []).append(m.group(2).lower())
    return aid, res


def ar_strip_id(value):
    """The unfolded A-R value without its authserv-id (and version)."""
    v = unfold(value)
    return v.split(";", 1)[1].strip() if ";" in v else ""


def headers(path):
    """[(name, value)] of a message's header block (RFC 5322 s.2.2)."""
    out = []
    with open(path, "rb") as f:
        data = f.read().decode("utf-8", "replace")
    for line in re.split(r"\r?\n", data):
        if line == "":
            break
        if line[:1] in (" ", "\t") and out:
            out[-1][1] += "\n" + line
        elif ":" in line:
            n, v = line.split(":", 1)
            out.append([n.strip(), v])
    return out


def ar_ids(path):
    """The authserv-ids of the A-R headers of a message, in order."""
    return [ar_parse(v)[0] for n, v in headers(path)
            if n.lower() == "authentication-results"]


# ---- --check ----

def run_check(binp, conf, c, mail_from=None, rcpt=None):
    """authmilter --check on case c: a dict of what it printed."""
    cmd = [binp, "-c", conf, "--check", c["source"], "--client-ip",
           c["client_ip"], "--helo", c["helo"], "--mail-from",
           c["mail_from"] if mail_from is None else mail_from,
           "--rcpt", c["rcpt_to"] if rcpt is None else rcpt]
    p = subprocess.run(cmd, capture_output=True, timeout=60)
    out = p.stdout.decode("utf-8", "replace")
    r = {"rc": p.returncode, "stderr": p.stderr.decode("utf-8", "replace"),
         "out": out, "ar": None, "remove": [], "action": None, "reply": None}
    lines = out.split("\n")
    for i, line in enumerate(lines):
        m = re.match(r"# remove: Authentication-Results #(\d+)", line)
        if m:
            r["remove"].append(int(m.group(1)))
        elif line.startswith("Authentication-Results:"):
            v = [line.split(":", 1)[1]]
            for cont in lines[i + 1:]:
                if cont[:1] not in (" ", "\t"):
                    break
                v.append(cont)
            r["ar"] = "\n".join(v)
        elif line.startswith("action: "):
            a = line[len("action: "):].split(" ", 1)
            r["action"] = a[0]
            if len(a) > 1 and re.match(r"[45]\d\d ", a[1]):
                r["reply"] = a[1]
    return r


def compare(c, r, hide_none):
    """[(check, ok, detail)] for case c against --check result r."""
    out, ear = [], c["expected_ar"]
    got = ar_parse(r["ar"])[1] if r["ar"] is not None else {}
    if ear is None and not c["expected_reject"]:
        out.append(("header", r["ar"] is None,
                    "upstream adds no A-R header; ours: %s" %
                    (unfold(r["ar"]) if r["ar"] else "none")))
        ear = {}
    for m in c.get("only", OURS) if c["expected_reject"] is None else ():
        e, g = ear.get(m), got.get(m, [])
        if e is None:
            if not g:
                continue
            ok = hide_none and set(g) == {"none"}
            why = "upstream hides none" if hide_none else "upstream has none"
            out.append((m, ok, "%s=%s, %s" % (m, ",".join(g), why)))
        else:
            out.append((m, sorted(e) == sorted(g), "%s: upstream %s, ours %s" %
                        (m, ",".join(e), ",".join(g) or "(absent)")))
    want_rej = c["expected_reject"] is not None
    out.append(("action", (r["action"] == "reject") == want_rej,
                "action: upstream %s, ours %s %s" % (
                    c["expected_reject"] or "accept", r["action"],
                    r["reply"] or "")))
    out.extend(compare_remove(c, r, hide_none))
    return out


def compare_remove(c, r, hide_none):
    """The "remove" check: forged A-R headers removed (see the top)."""
    src = ar_ids(c["source"])
    if not src or c["expected_reject"] or c["expected"] is None:
        return []
    kept = ar_ids(c["expected"])[1:] if c["expected_ar"] else ar_ids(c["expected"])
    upstream = []
    for i, aid in enumerate(src, 1):
        if aid in kept:
            kept.remove(aid)
        else:
            upstream.append(i)
    v = conf_values(c["config"], "rfc7489", 0)
    mine = {v["AuthservID"].lower()} | {a.strip().lower() for a in
                                        v["AuthservIDAliases"].split(",") if a.strip()}
    must = [i for i, aid in enumerate(src, 1) if aid in mine]
    ok = set(r["remove"]) <= set(upstream) and set(must) <= set(r["remove"])
    return [("remove", ok, "removed A-R #: upstream %s, ours %s, ours must %s"
             % (upstream, r["remove"], must))]


def na_methods(c):
    """Upstream-only methods of case c: {method: results}."""
    return {m: len(v) for m, v in (c["expected_ar"] or {}).items()
            if m not in OURS}


def load_known(path):
    """{(id, scope): reason}; scope check (both modes of --check, the
    default), rfc7489 or rfc9989 (one of them), or daemon."""
    known = {}
    with open(path, encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if line and not line.startswith("#"):
                k, _, why = line.partition(" ")
                cid, _, scope = k.partition("@")
                known[(cid, scope or "check")] = why.strip()
    return known


def known_why(known, cid, scopes):
    """The reason case cid is listed for the first of scopes, or None."""
    for sc in scopes:
        if (cid, sc) in known:
            return known[(cid, sc)]
    return None


def check_mode(cases, known, binp, confdir, mode):
    """Runs and reports one DMARC mode; (failures, {id: results})."""
    bad, per, na, seen = 0, {}, {}, {}
    tally = {"milter": [0, 0, 0], "handler": [0, 0, 0]}  # pass, known, all
    for c in cases:
        t = tally["handler" if c["config"] == "handler" else "milter"]
        t[2] += 1
        conf = os.path.join(confdir, "%s.%s.conf" % (c["config"], mode))
        r = run_check(binp, conf, c)
        kwhy = known_why(known, c["id"], ("check", mode))
        if r["rc"] != 0 or SANITIZER.search(r["stderr"]):
            print("FAIL: %s [%s]: --check exited %d: %s" % (
                c["id"], mode, r["rc"], r["stderr"].strip()[:400]))
            bad += 1
            continue
        res = compare(c, r, c["config"] == "hide_none")
        seen[c["id"]] = r
        for m, ok, _ in res:
            p = per.setdefault(m, [0, 0])
            p[0] += ok
            p[1] += 1
        for m, n in na_methods(c).items():
            na[m] = na.get(m, 0) + n
        diffs = ["%s" % d for _, ok, d in res if not ok]
        if not diffs:
            t[0] += 1
            if kwhy is not None:
                print("FAIL: %s [%s]: passes but is listed in known-failures"
                      % (c["id"], mode))
                bad += 1
            else:
                print("PASS: %s [%s]" % (c["id"], mode))
        elif kwhy is not None:
            t[1] += 1
            print("KNOWN: %s [%s]: %s -- %s" % (c["id"], mode, "; ".join(diffs), kwhy))
        else:
            bad += 1
            print("FAIL: %s [%s] (%s): %s" % (c["id"], mode, c["desc"], "; ".join(diffs)))
            print("\tours: %s" % (unfold(r["ar"]) if r["ar"] else "(no A-R)"))
    label = "" if mode == MODES[0] else " (DMARCMode %s)" % mode
    m, h = tally["milter"], tally["handler"]
    print("authentication_milter corpus%s: %d/%d cases pass (%d known failures)"
          % (label, m[0], m[2], m[1]))
    print("  DMARC handler cases: %d/%d pass (%d known failures)" % (h[0], h[2], h[1]))
    print("  per method (pass/compared): " + ", ".join(
        "%s %d/%d" % (k, per[k][0], per[k][1]) for k in
        ("spf", "dkim", "dmarc", "action", "remove", "header") if k in per))
    print("  not applicable (upstream-only methods, results in expected_ar): "
          + ", ".join("%s %d" % kv for kv in sorted(na.items())))
    return bad, seen


def cmd_check(args):
    """The check command: both modes, then their differences."""
    cases_path, known_path, binp, confdir = args
    with open(cases_path) as f:
        cases = json.load(f)
    known = load_known(known_path)
    ids = {c["id"] for c in cases}
    bad = 0
    for cid, scope in known:
        if cid not in ids or scope not in ("check", "daemon") + MODES:
            print("FAIL: known-failures: unknown case or scope %s@%s" % (cid, scope))
            bad += 1
    results = {}
    for mode in MODES:
        b, results[mode] = check_mode(cases, known, binp, confdir, mode)
        bad += b
    ndiff = 0
    for c in cases:
        a, b = results[MODES[0]].get(c["id"]), results[MODES[1]].get(c["id"])
        if a and b and (a["ar"] != b["ar"] or a["action"] != b["action"]):
            ndiff += 1
            print("rfc7489 vs rfc9989 differ on %s:\n\t%s\n\t%s" % (
                c["id"], unfold(a["ar"] or "(no A-R)"), unfold(b["ar"] or "(no A-R)")))
    print("rfc7489 vs rfc9989: %d of %d cases give a different header or action"
          % (ndiff, len(cases)))
    return 1 if bad else 0


# ---- the daemon ----

def smtp_case(port, c, rcpt, msg):
    """One SMTP session; (ok, mail_from_sent, (code, text) of the end)."""
    s = smtplib.SMTP(timeout=30)
    s.connect("127.0.0.1", port)
    steps = [("EHLO", c["helo"]), ("XCLIENT", "ADDR=" + c["client_ip"]),
             ("EHLO", c["helo"])]
    mf = c["mail_from"]
    mf = mf if mf.startswith("<") else "<%s>" % mf
    steps += [("MAIL", "FROM:" + mf), ("RCPT", "TO:<%s>" % rcpt)]
    try:
        for verb, arg in steps:
            code, text = s.docmd(verb, arg)
            if code not in (220, 250):
                return False, mf, (code, "%s %s: %s" % (verb, arg, text.decode()))
        code, text = s.data(msg)
        s.quit()
    except (smtplib.SMTPException, OSError) as e:
        return False, mf, (0, str(e))
    return True, mf, (code, text.decode("utf-8", "replace"))


def delivered(maildir, rcpt, wait=20):
    """The maildir file delivered to rcpt, waited for; None."""
    end = time.time() + wait
    while time.time() < end:
        for d in ("new", "cur"):
            p = os.path.join(maildir, d)
            for f in os.listdir(p) if os.path.isdir(p) else ():
                with open(os.path.join(p, f), "rb") as fh:
                    if ("\nDelivered-To: %s\n" % rcpt).encode() in \
                            b"\n" + fh.read(4096).replace(b"\r", b""):
                        return os.path.join(p, f)
        time.sleep(0.1)
    return None


def our_ars(path, aid):
    """The A-R values of a message that carry authserv-id aid."""
    return [v for n, v in headers(path) if n.lower() == "authentication-results"
            and ar_parse(v)[0] == aid.lower()]


def daemon_case(c, binp, conf, port, maildir, aid, mode):
    """(ok, detail) for one case through Postfix."""
    rcpt = "%s.%s@rcpt.test" % (c["id"], mode)
    with open(c["source"], "rb") as f:
        msg = f.read()
    ok, mf, (code, text) = smtp_case(port, c, rcpt, msg)
    if not ok:
        return False, "SMTP: %d %s" % (code, text)
    # --check gets the MAIL FROM argument as sent: the milter's envfrom
    # argument is that, whatever Postfix makes of it (Return-Path)
    mf = mf[1:-1]
    if code == 250:
        path = delivered(maildir, rcpt)
        if path is None:
            return False, "queued (%s) but not delivered in 20 s" % text
        rp = [v.strip() for n, v in headers(path) if n.lower() == "return-path"]
        note = "" if not rp or rp[0] == "<%s>" % mf else \
            " (Postfix's sender: %s)" % rp[0]
        got = our_ars(path, aid)
        r = run_check(binp, conf, c, mail_from=mf, rcpt=rcpt)
        if r["rc"] != 0 or SANITIZER.search(r["stderr"]):
            return False, "--check failed: %s" % r["stderr"][:300]
        want = [ar_strip_id(r["ar"])] if r["ar"] is not None else []
        got = [ar_strip_id(v) for v in got]
        if r["action"] == "reject":
            return False, "delivered, but --check says %s %s" % (r["action"], r["reply"])
        if got != want:
            return False, "A-R differs%s:\n\tdaemon: %s\n\tcheck:  %s" % (
                note, got, want)
        return True, "same A-R%s" % note
    r = run_check(binp, conf, c, mail_from=mf, rcpt=rcpt)
    reply = "%d %s" % (code, text)
    if r["reply"] != reply:
        return False, "daemon replied %r, --check says %s %s" % (
            reply, r["action"], r["reply"])
    return True, "same reply: %s" % reply


def cmd_daemon(args):
    """PASS/FAIL/KNOWN lines; a listed case that passes is a FAIL."""
    cases_path, known_path, config, binp, conf, port, maildir, mode = args
    with open(cases_path) as f:
        cases = [c for c in json.load(f) if c["config"] == config]
    known = load_known(known_path)
    aid = conf_values(config, "rfc7489", 0)["AuthservID"]
    for c in cases:
        ok, detail = daemon_case(c, binp, conf, int(port), maildir, aid, mode)
        kwhy = known_why(known, c["id"], ("daemon",))
        tag = "%s [%s %s]" % (c["id"], config, mode)
        if ok and kwhy is not None:
            print("FAIL: %s: passes but is listed in known-failures (@daemon)" % tag)
        elif ok:
            print("PASS: %s: %s" % (tag, detail))
        elif kwhy is not None:
            print("KNOWN: %s: %s -- %s" % (tag, detail.replace("\n", " "), kwhy))
        else:
            print("FAIL: %s: %s" % (tag, detail))
    return 0


def main():
    """Dispatches the subcommands; the exit status."""
    if len(sys.argv) == 2 and sys.argv[1] == "keys":
        print(" ".join(sorted({k for n in CONFIGS for k in
                               conf_values(n, "rfc7489", 0)})))
        return 0
    if len(sys.argv) >= 5 and sys.argv[1] == "conf":
        sys.stdout.write(conf_text(*sys.argv[2:5]))
        return 0
    if len(sys.argv) == 6 and sys.argv[1] == "check":
        return cmd_check(sys.argv[2:])
    if len(sys.argv) == 10 and sys.argv[1] == "daemon":
        return cmd_daemon(sys.argv[2:])
    sys.exit(__doc__)


if __name__ == "__main__":
    sys.exit(main())
