/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * testdns: a test-only DNS back end over a zone back end that makes chosen
 * queries fail as timeouts (AM_DNS_TEMPFAIL), as the SPF suites' TIMEOUT
 * entries and "_dns_error." names ask. Not part of lib/.
 */
#ifndef AM_TEST_TESTDNS_H
#define AM_TEST_TESTDNS_H

#include "dns.h"

struct testdns;

/* Wrap inner (taken over). Returns the am_dns and its rule set in *rules. */
struct am_dns *testdns_new(struct am_dns *inner, struct testdns **rules);
/* Queries of name fail unless their type is in answered ("TXT,A"). */
int testdns_timeout(struct testdns *t, const char *name,
    const char *answered);
/* Queries of any name containing sub fail. */
int testdns_errsub(struct testdns *t, const char *sub);
/* AM_DNS_T_* of a type name, or -1. */
int testdns_type(const char *name);

#endif
