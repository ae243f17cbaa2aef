/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns_priv: helpers shared by the dns back ends (dns.c, dns_ldns.c,
 * dns_answer.c, dns_zone.c, dns_cache.c). Not part of the engine's public
 * interface: nothing outside lib/dns*.c includes this file.
 *
 * Names: a query name is taken literally, label by label: every '.'
 * separates labels and there are no backslash escapes (SPF macro output
 * and DKIM selectors are plain octets). am_dns_name_wire() turns such a
 * name into lower-cased wire form, which is the key of both the zone table
 * and the cache. am_dns_rdf_name() turns a name from a packet or zone file
 * back into that literal form; names whose labels hold a '.' or a NUL cannot
 * be written that way and are refused.
 */
#ifndef AM_DNS_PRIV_H
#define AM_DNS_PRIV_H

#include <ldns/ldns.h>

#include "dns.h"

/* Wire form of a name is at most 255 octets (RFC 1035 s.2.3.4). */
#define AM_DNS_WIRE_MAX 255
/*
 * Caps on one answer, against hostile servers and zone files. A DNS message
 * is at most 65,535 octets (RFC 1035 s.4.2.2) and a record takes at least
 * 11 (a compression pointer or the root as owner, type, class, TTL,
 * RDLENGTH), so no reply holds more than 5,957 records: the message size
 * already bounds the count, and a smaller cap would turn a large but valid
 * answer (300 TXT records at a name) into TEMPFAIL, which an attacker
 * could use against a domain's mail. This cap is that bound, as a guard.
 */
#define AM_DNS_MAX_RRS  (65535 / 11)
#define AM_DNS_MAX_TEXT (64 * 1024)
/* Negative TTL when no SOA tells one (RFC 2308 s.5 leaves it to us). */
#define AM_DNS_NEG_TTL_DEFAULT 300

/*
 * Lower-cased wire form of a literal name (no trailing dot, already checked
 * by am_dns_name_check) into out[AM_DNS_WIRE_MAX]; returns its length, or 0
 * if the name does not fit.
 */
size_t am_dns_name_wire(const char *name, unsigned char *out);

/* 32-bit FNV-1a hash of n bytes, for the hash tables. */
uint32_t am_dns_hash(const void *p, size_t n, uint32_t h);
#define AM_DNS_HASH_INIT 2166136261u

/*
 * Literal lower-case text of a dname rdf, without the trailing dot, in a
 * new string (caller frees); NULL if it has a label with '.' or NUL, or on
 * out of memory. The root name gives "".
 */
char *am_dns_rdf_name(const ldns_rdf *d);

/*
 * Fill out from rr (type, ttl, and the data of A, AAAA, MX, TXT, PTR,
 * CNAME, NS; other types keep only type and ttl). Returns 0; -1 when the
 * record cannot be represented (a name with '.' or NUL in a label, bad
 * rdata): skip it; -2 when a TXT record would go past *budget (the TXT
 * bytes still allowed in this answer, decreased on success) or memory ran
 * out: fail the answer. out->text is NULL on any failure.
 */
int am_dns_rr_from_ldns(struct am_dns_rr *out, const ldns_rr *rr,
    size_t *budget);

/*
 * A reply that matched its query (ID and question checked) into a status
 * and, on OK/NODATA/NXDOMAIN, a new answer in *ans (RFC 1034 s.3.6.2
 * CNAMEs, RFC 2308 negative TTLs); TEMPFAIL with why naming from (the
 * server, "127.0.0.1@53") on SERVFAIL, other RCODEs, a truncated reply,
 * a CNAME loop, or an answer over the caps.
 */
enum am_dns_status am_dns_answer_from_pkt(const ldns_pkt *p,
    const ldns_rdf *qname, int type, const char *from,
    struct am_dns_answer **ans, struct am_buf *why);

#endif
