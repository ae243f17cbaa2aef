#!/usr/bin/python3
# SPDX-License-Identifier: BSD-2-Clause
"""tests/e2e/sign.py: DKIM-sign a message with Debian's dkimpy, a signer
independent of authmilter (RFC 6376 s.5, RFC 8463).

Usage: sign.py IN OUT SIG...

Each SIG is comma-separated KEY=VALUE pairs:
  d=DOMAIN s=SELECTOR key=PEMFILE (required)
  a=rsa-sha256|ed25519-sha256 (default rsa-sha256)
  h=from:to:subject (signed header fields, default dkimpy's list)
  c=relaxed/simple (default relaxed/relaxed)
The signatures are made in order, each over the message as the previous
ones left it, and each is put on top (as successive signers would).
The t= tag is always 1767225600 (the Date of tests/e2e messages, 2026-01-01)
so that signatures, and the header.b values reported, are the same on every
run (RSA PKCS#1 v1.5 and Ed25519 signing are deterministic).
The Ed25519 PEM is PKCS#8; dkimpy wants the raw 32-byte seed in base64,
which is the last 32 bytes of its DER. Exits 1 with a message on error.
"""
import base64
import sys

import dkim

SIGN_TIME = 1767225600


class FixedTime:
    """Stands for the time module inside dkimpy: only t= uses it."""

    @staticmethod
    def time():
        return SIGN_TIME


def ed25519_seed(pem):
    body = b"".join(l for l in pem.splitlines() if not l.startswith(b"-----"))
    der = base64.b64decode(body)
    return base64.b64encode(der[-32:])


def parse_sig(spec):
    opts = {"a": "rsa-sha256", "c": "relaxed/relaxed", "h": None}
    for part in spec.split(","):
        k, sep, v = part.partition("=")
        if not sep:
            sys.exit("sign.py: bad SIG part %r" % part)
        opts[k] = v
    for k in ("d", "s", "key"):
        if k not in opts:
            sys.exit("sign.py: SIG %r lacks %s=" % (spec, k))
    return opts


def sign_one(msg, o):
    with open(o["key"], "rb") as f:
        key = f.read()
    algo = o["a"].encode()
    if algo == b"ed25519-sha256":
        key = ed25519_seed(key)
    hdrs = None
    if o["h"] is not None:
        hdrs = [h.encode() for h in o["h"].split(":")]
    canon = tuple(x.encode() for x in o["c"].split("/"))
    sig = dkim.sign(msg, o["s"].encode(), o["d"].encode(), key,
                    canonicalize=canon, signature_algorithm=algo,
                    include_headers=hdrs, linesep=b"\r\n")
    return sig + msg


def main():
    dkim.time = FixedTime
    if len(sys.argv) < 4:
        sys.exit(__doc__)
    with open(sys.argv[1], "rb") as f:
        msg = f.read()
    for spec in sys.argv[3:]:
        msg = sign_one(msg, parse_sig(spec))
    with open(sys.argv[2], "wb") as f:
        f.write(msg)


if __name__ == "__main__":
    main()
