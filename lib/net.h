/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * net: IP addresses and CIDR lists.
 *
 * struct am_addr holds an IPv4 or IPv6 address in network byte order. An
 * IPv4-mapped IPv6 address (::ffff:a.b.c.d) is stored as IPv4, because
 * RFC 7208 s.5 treats such clients as IPv4, and so do TrustedNetworks.
 */
#ifndef AM_NET_H
#define AM_NET_H

#include <stddef.h>

#include "buf.h"

struct am_addr {
	int family;               /* AF_INET or AF_INET6 */
	unsigned char b[16];      /* 4 or 16 bytes used */
};

struct am_cidr {
	struct am_addr addr;      /* network address, host bits cleared */
	int prefix;               /* 0..32 or 0..128 */
};

struct am_cidrlist {
	struct am_cidr *v;
	size_t n;
};

/* Parse a textual IPv4/IPv6 address; 0 on success, -1 if not an address. */
int am_addr_parse(struct am_addr *a, const char *s);
/* Format an address into out (at least 46 bytes); returns out. */
char *am_addr_format(const struct am_addr *a, char *out, size_t len);
/* Byte length of the address: 4 or 16. */
size_t am_addr_len(const struct am_addr *a);
/* 1 when the first prefix bits of a and b are equal (same family), else 0. */
int am_addr_match(const struct am_addr *a, const struct am_addr *b, int prefix);

/* Parse "addr" or "addr/prefix"; 0, or -1 with a reason in why. */
int am_cidr_parse(struct am_cidr *c, const char *s, struct am_buf *why);
/*
 * Parse a list of CIDRs separated by commas and/or white space, appending to
 * list; 0, or -1 with the offending item named in why.
 */
int am_cidrlist_parse(struct am_cidrlist *list, const char *s, struct am_buf *why);
/* 1 when a lies in one of the list's networks. */
int am_cidrlist_match(const struct am_cidrlist *list, const struct am_addr *a);
/* Free the list's entries; the list is empty afterwards. */
void am_cidrlist_clear(struct am_cidrlist *list);

#endif
