/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * idna: one domain name in the form we look it up and compare it in.
 *
 * RFC 8616 (SPF s.4, DKIM s.5, DMARC s.6) says an internationalised
 * domain is looked up by its A-labels. am_idna_to_ascii() turns any
 * spelling of a domain -- ASCII in any case, U-labels in NFC, NFD or upper
 * case, mixed A- and U-labels, one trailing dot -- into one canonical
 * string: lower-case A-labels (RFC 5890 s.2.3.2.1), no trailing dot, so
 * that two spellings of one name compare equal with strcmp().
 *
 * U-labels are converted by libidn2: IDNA2008 (RFC 5891 s.5 lookup) after
 * the UTS #46 non-transitional mapping (case folding, compatibility
 * mappings, NFC; "ß" stays "ß"). A name with a U-label has all its labels
 * checked by IDNA2008 (hyphens, CONTEXTJ, bidi). A name of ASCII bytes only
 * takes a fast path without libidn2: it is lower-cased, nothing more (an
 * "xn--" label is not decoded, as DNS would not either); this runs for every
 * message.
 *
 * Both paths then check the DNS shape: labels of 1..63 octets, at most
 * AM_DNS_NAME_MAX octets in all. Which characters a name may contain beyond
 * that (LDH, underscore) is the caller's rule: DKIM, SPF and RFC 5322 differ.
 *
 * No state; safe on any number of threads (libidn2 keeps none either).
 */
#ifndef AM_IDNA_H
#define AM_IDNA_H

#include <stddef.h>

#include "buf.h"
#include "dns.h"

/* Longest input we convert (bytes of UTF-8): a valid A-label name of 253
 * octets can be longer than that in UTF-8, never longer than this. */
#define AM_IDNA_IN_MAX 1024

enum am_idna_status {
	AM_IDNA_OK,    /* out holds the lower-case A-label form */
	AM_IDNA_BAD,   /* not a domain name: invalid UTF-8, a code point
	                  IDNA2008 disallows, an empty label, a label over
	                  63 or a name over AM_DNS_NAME_MAX octets after
	                  conversion; why says which */
};

/*
 * Convert the NUL-terminated domain in (UTF-8) to its lower-case A-label
 * form without a trailing dot into out, which holds AM_DNS_NAME_MAX + 1
 * bytes. Returns AM_IDNA_OK, or AM_IDNA_BAD with the reason in why (may be
 * NULL) and out set to "". in may be out.
 */
enum am_idna_status am_idna_to_ascii(const char *in,
    char out[AM_DNS_NAME_MAX + 1], struct am_buf *why);

/*
 * 1 when a and b are the same domain name: equal after am_idna_to_ascii
 * (any case, U-labels in any normalisation, one trailing dot); 0 when they
 * differ or either is not a domain name.
 */
int am_idna_equal(const char *a, const char *b);

/* 1 when the n bytes at s are all ASCII (no libidn2 needed), else 0. */
int am_idna_is_ascii(const char *s, size_t n);

#endif
