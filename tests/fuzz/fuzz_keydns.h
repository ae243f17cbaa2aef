/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * fuzz_keydns: the fake DNS of the targets that verify signatures
 * (fuzz_dkim, fuzz_arc). Every TXT query under "._domainkey." gets the
 * same Ed25519 key record, that of RFC 8463 s.A.2; every other query gets
 * NXDOMAIN. Nothing leaves the process. Linked into each of those targets
 * (tests/Makefile.am).
 */
#ifndef AM_FUZZ_KEYDNS_H
#define AM_FUZZ_KEYDNS_H

#include "dns.h"

/* The back end for am_dns_new(&fuzz_keydns_backend, NULL); no state. */
extern const struct am_dns_backend fuzz_keydns_backend;

#endif
