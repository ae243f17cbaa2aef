#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""tests/e2e/smtp_session.py: one SMTP session driven by a small script.

Usage: smtp_session.py HOST:PORT SCRIPT

SCRIPT has one command a line ('#' comments):
  xclient ATTR=VALUE...   XCLIENT (Postfix), expects 220, then EHLO is due
  ehlo NAME               EHLO, expects 250
  mail ADDR [PARAM...]    MAIL FROM:<ADDR> PARAM..., expects 250 ('<>' for
                          null); a UTF-8 ADDR is sent as UTF-8 (give the
                          SMTPUTF8 parameter, RFC 6531 s.3.4)
  rcpt ADDR               RCPT TO:<ADDR>, expects 250
  data FILE [CODE]        DATA with FILE's bytes, expects CODE (default 250,
                          queued)
  rset                    RSET, expects 250
  quit                    QUIT
Every reply is printed; an unexpected code exits 1. Timeouts: 30 s a reply.
"""
import smtplib
import sys


def expect(what, reply, codes):
    code, text = reply
    print("%s -> %d %s" % (what, code, text.decode(errors="replace")))
    if code not in codes:
        sys.exit("unexpected reply to %s: %d" % (what, code))


def run(smtp, cmd, arg):
    if cmd == "xclient":
        expect("XCLIENT " + arg, smtp.docmd("XCLIENT", arg), (220,))
    elif cmd == "ehlo":
        expect("EHLO " + arg, smtp.ehlo(arg), (250,))
    elif cmd == "mail":
        arg, _, params = arg.partition(" ")
        addr = "<>" if arg == "<>" else "<%s>" % arg
        if not addr.isascii():
            smtp.command_encoding = "utf-8"
        expect("MAIL " + addr, smtp.docmd("MAIL", "FROM:" + addr +
                                          (" " + params if params else "")),
               (250,))
    elif cmd == "rcpt":
        expect("RCPT " + arg, smtp.docmd("RCPT", "TO:<%s>" % arg), (250,))
    elif cmd == "data":
        path, _, code = arg.partition(" ")
        with open(path, "rb") as f:
            msg = f.read()
        expect("DATA " + path, smtp.data(msg), (int(code or 250),))
    elif cmd == "rset":
        expect("RSET", smtp.docmd("RSET"), (250,))
    elif cmd == "quit":
        expect("QUIT", smtp.docmd("QUIT"), (221,))
    else:
        sys.exit("unknown command %r" % cmd)


def main():
    host, port = sys.argv[1].rsplit(":", 1)
    smtp = smtplib.SMTP(timeout=30)
    expect("connect", smtp.connect(host, int(port)), (220,))
    with open(sys.argv[2], encoding="utf-8") as f:
        for line in f:
            line = line.strip()
            if not line or line.startswith("#"):
                continue
            cmd, _, arg = line.partition(" ")
            run(smtp, cmd, arg.strip())
    smtp.close()


if __name__ == "__main__":
    main()
