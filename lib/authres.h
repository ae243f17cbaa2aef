/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * authres: the Authentication-Results header field, RFC 8601.
 *
 * Building: am_authres_begin() writes the authserv-id, then for each result
 * am_authres_method() adds "method=result (comment)" and am_authres_prop()
 * adds "ptype.property=value"; am_authres_end() writes "none" (s.2.2) when
 * no method was added. Results are separated by ";" and folded with
 * "\n\t" (the form libmilter and the MTAs expect inside a header value).
 *
 * Recognising: am_authres_id() extracts the authserv-id of an existing
 * header's value, so that forged headers claiming ours can be removed
 * (s.5).
 *
 * Comments and values from hostile input are escaped or quoted here, so a
 * caller may pass any text.
 */
#ifndef AM_AUTHRES_H
#define AM_AUTHRES_H

#include <stddef.h>

#include "buf.h"

/* Longest comment text kept (longer text is cut with "..."). */
#define AM_AUTHRES_COMMENT_MAX 160
/*
 * Longest property value written: longer values are left out, never cut
 * (a cut value would be a wrong one). 320 holds any valid one: a 64-octet
 * local-part, "@" and a 253-octet domain (RFC 5321 s.4.5.3.1).
 */
#define AM_AUTHRES_VALUE_MAX 320
/* The size the engine keeps a header under (msg_verdict.c). */
#define AM_AUTHRES_MAX 8192

struct am_authres {
	struct am_buf out;   /* the header value being built */
	unsigned methods;    /* results added so far */
};

/* Start a header value for authserv-id id. */
void am_authres_begin(struct am_authres *ar, const char *id);
/* Add "method=result" with an optional comment (NULL or "": none). */
void am_authres_method(struct am_authres *ar, const char *method,
    const char *result, const char *comment);
/* Add " ptype.property=value" to the last result; value quoted if needed,
 * left out when longer than AM_AUTHRES_VALUE_MAX. */
void am_authres_prop(struct am_authres *ar, const char *ptype_prop,
    const char *value);
/* Finish; returns the value (owned by ar, valid until am_authres_release). */
const char *am_authres_end(struct am_authres *ar);
/* Free the buffer. */
void am_authres_release(struct am_authres *ar);

/*
 * Extract the authserv-id from an A-R header value (CFWS skipped, quoted
 * string unquoted) into id (NUL terminated, cut at idlen-1). 0, or -1 when
 * the value has no authserv-id.
 */
int am_authres_id(const char *value, char *id, size_t idlen);

/* One resinfo of an existing header, as am_authres_scan() reads it. */
#define AM_AUTHRES_PROPS 8
struct am_authres_item {
	char method[32];      /* lower case, without "/version" */
	char result[32];      /* lower case */
	unsigned nprops;
	struct {
		char name[48];    /* "header.d", lower case */
		char value[256];
	} props[AM_AUTHRES_PROPS];
};

/*
 * Read the resinfos of an A-R (or ARC-Authentication-Results) value after
 * its authserv-id: "id; spf=pass smtp.mailfrom=a.example; dkim=..." into
 * items[0..max). Comments are skipped, quoted values unquoted, overlong
 * tokens cut. Returns the number of items read.
 */
size_t am_authres_scan(const char *value, struct am_authres_item *items,
    size_t max);
/* The value of property name in item, or NULL. */
const char *am_authres_item_prop(const struct am_authres_item *item,
    const char *name);

#endif
