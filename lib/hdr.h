/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hdr: a message's header fields as received, in order.
 *
 * Each field is kept as its name and its raw value: everything after the
 * colon, leading white space included, with every line break as CRLF and no
 * final CRLF. So "name:value" is the field exactly as it was on the wire,
 * which is what DKIM "simple" header canonicalization (RFC 6376 s.3.4.1)
 * needs. Caps on field count and total bytes are fixed in am_hdrs_init().
 */
#ifndef AM_HDR_H
#define AM_HDR_H

#include <stddef.h>

struct am_hdr {
	char *name;        /* field name, as received (case kept) */
	size_t namelen;
	char *value;       /* raw value, CRLF line breaks, NUL terminated */
	size_t vlen;
};

struct am_hdrs {
	struct am_hdr *v;
	size_t n, alloc;
	size_t bytes;      /* total name+value bytes held */
	size_t max_count;  /* cap on fields */
	size_t max_bytes;  /* cap on bytes */
};

enum am_hdr_status {
	AM_HDR_OK,         /* stored */
	AM_HDR_TOO_MANY,   /* field count cap reached: not stored */
	AM_HDR_TOO_BIG,    /* byte cap reached: not stored */
	AM_HDR_NOMEM,      /* out of memory: not stored */
};

/* Initialise an empty list with caps. */
void am_hdrs_init(struct am_hdrs *h, size_t max_count, size_t max_bytes);
/* Free every field. */
void am_hdrs_release(struct am_hdrs *h);
/*
 * Append a field. value is as the MTA gave it after the colon; bare LF line
 * breaks are turned into CRLF.
 */
enum am_hdr_status am_hdrs_add(struct am_hdrs *h, const char *name,
    const char *value, size_t vlen);
/* 1 when the field's name equals name, ignoring case. */
int am_hdr_is(const struct am_hdr *f, const char *name);

#endif
