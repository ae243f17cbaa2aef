/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns_util: helpers shared by test_dns.c and test_dns_ldns.c: the table of
 * named lookup cases run against every back end, rendering answers as
 * text, the zone files in tests/unit/dns/, and an 8-thread load test.
 * Include after <cmocka.h>.
 */
#ifndef AM_TEST_DNS_UTIL_H
#define AM_TEST_DNS_UTIL_H

#include "buf.h"
#include "dns.h"

/* Which back ends a case of the table applies to. */
#define ZONE 1
#define NSD  2
#define BOTH (ZONE | NSD)

/* AM_TOP_SRCDIR from the environment, else from the build. */
const char *srcdir(void);
/* out = srcdir/tests/unit/dns/file */
void zpath(char *out, size_t n, const char *file);
/* All records of a, rendered ("\\DDD" for odd octets), sorted, " | " between. */
void render(const struct am_dns_answer *a, struct am_buf *out);
/* Run the table's cases marked where on d; returns how many failed. */
int run_table(struct am_dns *d, int where, const char *be);
/* The zone back end on the three good zone files (asserts it loads). */
struct am_dns *zone_open(void);
/* Ask (name, type) and assert status st; returns the answer to free. */
struct am_dns_answer *ask(struct am_dns *d, const char *name, int type,
    enum am_dns_status st);
/* Assert a is the 2000-byte TXT of big.example.test. */
void check_big_txt(const struct am_dns_answer *a);
/* 8 threads ask d iters times each (mixed cases, all answers checked). */
void run_threads(struct am_dns *d, int iters);

#endif
