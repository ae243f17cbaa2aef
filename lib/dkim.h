/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dkim: DKIM signature verification (RFC 6376, RFC 8301, RFC 8463).
 *
 * Entry points, per message:
 *   am_dkim_new()      a verifier for one message (caps from the conf)
 *   am_dkim_headers()  parse every DKIM-Signature, set up body hashes
 *   am_dkim_body()     body chunks as they stream (CRLF line ends)
 *   am_dkim_finish()   fetch keys, hash the headers, verify
 *   am_dkim_count(), am_dkim_sig()  the per-signature verdicts
 *   am_dkim_free()
 *
 * The building blocks (tag lists, the signature parser shared with ARC,
 * key records, canonicalization, the header hash and the check of one
 * signature) are declared in dkim_int.h, which says which file holds
 * each. This module's files:
 *   dkim.c         the per-message driver above: parses each field with
 *                  am_dkim_sig_parse(), shares body hashers, fetches keys
 *                  (through the key cache), checks x= and the signature
 *                  cap, and calls am_dkim_verify_sig()
 *   dkim_tag.c  dkim_sig.c  dkim_key.c  dkim_canon.c  dkim_verify.c
 *                  the building blocks (dkim_int.h)
 *
 * Decisions where the RFCs leave room (each reason string is what the
 * A-R comment and the log show):
 *   - a malformed signature (syntax, missing or duplicate tag, v!=1, h=
 *     without From, i= outside d=, x<=t, unknown a=/c=/q=) is permerror,
 *     never fail;
 *   - an expired signature (x= in the past, s.6.1.1 "signature expired")
 *     is permerror; a t= in the future is accepted (clock skew);
 *   - rsa-sha1 is policy "rsa-sha1 not accepted (RFC 8301)" without any
 *     key lookup; an RSA key under min_key_bits is policy "key too short";
 *   - l= larger than the canonical body is permerror "l= exceeds body
 *     length" (s.3.5 leaves the signature unverifiable, it is not a forgery);
 *   - no key record (NXDOMAIN, NODATA) is permerror "no key"; a DNS failure
 *     is temperror; of several TXT records the first that parses as a key
 *     record is used (s.3.6.2.2 calls the result undefined), and when none
 *     does the first record's error is reported;
 *   - signatures beyond max_signatures are policy "too many signatures";
 *   - caps: a signature value over AM_DKIM_SIG_MAX bytes, b= over
 *     AM_DKIM_B_MAX bytes decoded and h= over AM_DKIM_H_MAX names are
 *     permerror.
 *
 * Ownership: struct am_dkim owns every string a struct am_dkim_sig points
 * to; they live until am_dkim_free(). The header list given to
 * am_dkim_headers() is borrowed until am_dkim_finish() returns.
 * Thread safety: a struct am_dkim belongs to one message and one thread.
 */
#ifndef AM_DKIM_H
#define AM_DKIM_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "buf.h"
#include "dns.h"
#include "hdr.h"

/* Caps on hostile input. */
#define AM_DKIM_SIG_MAX   8192   /* bytes of one DKIM-Signature value */
#define AM_DKIM_B_MAX     2048   /* decoded b= bytes (RSA 16384 bits) */
#define AM_DKIM_H_MAX     64     /* names in h= */
#define AM_DKIM_TAGS_MAX  32     /* tags in one tag list */
#define AM_DKIM_KEY_MAX   8192   /* bytes of one key record */
#define AM_DKIM_HASH_MAX  64     /* bytes of the largest digest */

/* Per-signature results, named as in RFC 8601 s.2.7.1. */
enum am_dkim_result {
	AM_DKIM_NONE,      /* not signed (no verdict for this signature) */
	AM_DKIM_PASS,      /* signature and body hash verified */
	AM_DKIM_FAIL,      /* signature or body hash did not verify */
	AM_DKIM_POLICY,    /* verifiable, but not acceptable here (rsa-sha1,
	                      short key, too many signatures) */
	AM_DKIM_NEUTRAL,   /* not used by this module yet; kept for A-R */
	AM_DKIM_TEMPERROR, /* key lookup failed for now (DNS): retry later */
	AM_DKIM_PERMERROR, /* the signature or key record is unusable */
};

struct am_dkim_conf {
	unsigned min_key_bits;    /* RSA keys below this are policy; 0: 1024 */
	unsigned max_signatures;  /* verified at most; 0: 10 */
	time_t now;               /* for x=; 0: time(NULL) */
	struct am_dkim_keycache *keycache; /* shared decoded keys; may be NULL */
};

/* One signature's verdict; strings are never NULL ("" when unknown). */
struct am_dkim_sig {
	enum am_dkim_result result;
	const char *domain;       /* d=, lower-case A-labels */
	const char *selector;     /* s= (A-labels when it had U-labels) */
	const char *identity;     /* i= decoded, its domain lower-case
	                             A-labels; or "@" d= */
	const char *algorithm;    /* a= as written, lower case */
	char b_prefix[9];         /* first 8 characters of b= (RFC 6008) */
	const char *reason;       /* short text, "" on pass */
	int uses_l;               /* the signature has l= */
	unsigned key_bits;        /* key size when a key was loaded, else 0 */
	int unverified;           /* not verified: past DKIMMaxSignatures
	                             (result policy, "too many signatures") */
};

struct am_dkim;

/* A verifier for one message; conf may be NULL (defaults). dns is
 * borrowed and must outlive it. NULL when out of memory. */
struct am_dkim *am_dkim_new(const struct am_dkim_conf *conf,
    struct am_dns *dns);
/* Free everything; returns NULL. NULL is a no-op. */
struct am_dkim *am_dkim_free(struct am_dkim *d);
/*
 * Verify first, when there are more signatures than max_signatures, those
 * whose d= could align with domain (the From domain): equal to it or
 * sharing its last two labels. Call before am_dkim_headers(); domain is
 * copied. Without it signatures are taken in header order.
 */
void am_dkim_prefer(struct am_dkim *d, const char *domain);
/* Parse the DKIM-Signature fields of hdrs (borrowed until finish). Call
 * once, after the last header. */
void am_dkim_headers(struct am_dkim *d, const struct am_hdrs *hdrs);
/* Feed a body chunk (CRLF line ends; any split). */
void am_dkim_body(struct am_dkim *d, const unsigned char *buf, size_t len);
/* End of body: fetch keys and verify every signature. */
void am_dkim_finish(struct am_dkim *d);
/* Number of DKIM-Signature fields seen (verdicts available after finish). */
size_t am_dkim_count(const struct am_dkim *d);
/* Signature i (header order), or NULL when i is out of range. */
const struct am_dkim_sig *am_dkim_sig(const struct am_dkim *d, size_t i);
/* "none", "pass", "fail", "policy", "neutral", "temperror", "permerror". */
const char *am_dkim_result_name(enum am_dkim_result r);

struct am_dkim_keycache;

/*
 * A cache of decoded public keys, shared by threads (one mutex): n slots,
 * direct-mapped by a hash of the key bytes; give it to every verifier
 * through struct am_dkim_conf. NULL when out of memory.
 */
struct am_dkim_keycache *am_dkim_keycache_new(size_t n);
/* Free; returns NULL. NULL is a no-op. */
struct am_dkim_keycache *am_dkim_keycache_free(struct am_dkim_keycache *c);

#endif
