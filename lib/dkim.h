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
 * Building blocks, public so that ARC (RFC 8617) can reuse them on its own
 * header lists:
 *   dkim_tag.c    am_dkim_tags_parse(): tag=value lists (s.3.2)
 *   dkim_sig.c    am_dkim_sig_parse(): DKIM-Signature tags (s.3.5, s.6.1.1)
 *   dkim_key.c    am_dkim_key_parse(), am_dkim_key_fetch(): key records
 *                 (s.3.6.1, s.3.6.2), RSA and Ed25519 public keys,
 *                 am_dkim_pk_verify()
 *   dkim_canon.c  am_dkim_canon_header() (s.3.4.1, s.3.4.2) and the
 *                 streaming body hasher am_dkim_bh_*() (s.3.4.3, s.3.4.4,
 *                 erratum 3192), l= (s.3.5)
 *   dkim.c        the driver above, am_dkim_hash_headers() (s.3.7, s.5.4)
 *                 and am_dkim_verify_sig() (s.6.1.3)
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
};

struct am_dkim;

/* A verifier for one message; conf may be NULL (defaults). dns is
 * borrowed and must outlive it. NULL when out of memory. */
struct am_dkim *am_dkim_new(const struct am_dkim_conf *conf,
    struct am_dns *dns);
/* Free everything; returns NULL. NULL is a no-op. */
struct am_dkim *am_dkim_free(struct am_dkim *d);
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

/* ---- tag lists (RFC 6376 s.3.2) ---- */

struct am_dkim_tag {
	const char *name;    /* points into the parsed text */
	size_t nlen;
	const char *val;     /* value without surrounding FWS */
	size_t vlen;
	size_t raw_start;    /* offset just after '=' */
	size_t raw_end;      /* offset of the ';' ending the value, or len */
};

/*
 * Parse a tag-list of len bytes into tags[0..max) and set *n. Values keep
 * their inner folding white space. Returns 0, or -1 with why on a syntax
 * error, a duplicate tag, or more than max tags.
 */
int am_dkim_tags_parse(const char *s, size_t len, struct am_dkim_tag *tags,
    size_t max, size_t *n, struct am_buf *why);
/* The tag called name in tags[0..n), or NULL. */
const struct am_dkim_tag *am_dkim_tag_find(const struct am_dkim_tag *tags,
    size_t n, const char *name);
/*
 * Decode base64 that may hold folding white space into out[0..max);
 * returns the decoded length, or -1 on bad characters or padding, or
 * when it does not fit.
 */
long am_dkim_base64(const char *s, size_t len, unsigned char *out,
    size_t max);

/* ---- signatures (RFC 6376 s.3.5) ---- */

/* Tag-value helpers of dkim_sig.c, shared with ARC (RFC 8617 s.4.1). */
/* A new NUL-terminated copy of s[0..n), lower-cased when lower. */
char *am_dkim_dupn(const char *s, size_t n, int lower);
/* 1 when the tag's value is s (case-insensitive). */
int am_dkim_tag_is(const struct am_dkim_tag *t, const char *s);
/* 1 when s[0..n) is a domain or selector: labels of letters, digits, - _. */
int am_dkim_name_ok(const char *s, size_t n);
/*
 * A d= or s= value s[0..n) as the name we look up, in a new string: ASCII
 * as it is (lower-cased when lower), UTF-8 (U-labels, which RFC 8616 s.5
 * allows in internationalised headers) as lower-case A-labels (lib/idna).
 * NULL when it is not a name (am_dkim_name_ok after conversion); why (may
 * be NULL) then says why IDNA2008 refused it, if it did.
 */
char *am_dkim_name_dup(const char *s, size_t n, int lower,
    struct am_buf *why);
/* A tag value of 1 to 19 digits into *out; 0, or -1. */
int am_dkim_tag_num(const struct am_dkim_tag *t, uint64_t *out);

enum am_dkim_canon { AM_DKIM_SIMPLE, AM_DKIM_RELAXED };
enum am_dkim_alg {
	AM_DKIM_RSA_SHA256,
	AM_DKIM_ED25519_SHA256,
	AM_DKIM_RSA_SHA1,
};

struct am_dkim_sigparams {
	enum am_dkim_alg alg;
	enum am_dkim_canon hcanon, bcanon;
	char *algname;          /* a= lower case */
	char *domain;           /* d= lower-case A-labels */
	char *selector;         /* s= (A-labels when it had U-labels) */
	char *identity;         /* i= decoded (domain as A-labels), or "@" d= */
	char **h;               /* h= names, as written */
	size_t nh;
	unsigned char b[AM_DKIM_B_MAX];
	size_t blen;
	unsigned char bh[AM_DKIM_HASH_MAX];
	size_t bhlen;
	char b_prefix[9];
	int has_l;
	uint64_t l;
	int has_t, has_x;
	uint64_t t, x;
};

/* a= into sp->alg/algname, c= into sp->hcanon/bcanon (s.3.5); 0 or -1
 * with why. */
int am_dkim_tag_alg(struct am_dkim_sigparams *sp, const struct am_dkim_tag *t,
    struct am_buf *why);
int am_dkim_tag_canon(struct am_dkim_sigparams *sp,
    const struct am_dkim_tag *t, struct am_buf *why);
/* h= into sp->h/nh; arc nonzero: the AMS rules of RFC 8617 s.4.1.2 (empty
 * names allowed, no ARC-Seal, From not required). 0 or -1 with why. */
int am_dkim_tag_h(struct am_dkim_sigparams *sp, const struct am_dkim_tag *t,
    int arc, struct am_buf *why);

/*
 * Parse a DKIM-Signature value (raw, after the colon) into sp, which is
 * zeroed first. Returns 0, or -1 with why (sp then holds what was parsed
 * before the error, for reporting d= and s=). Release with
 * am_dkim_sig_release() in both cases.
 */
int am_dkim_sig_parse(const char *value, size_t len,
    struct am_dkim_sigparams *sp, struct am_buf *why);
/* Free what am_dkim_sig_parse() allocated. */
void am_dkim_sig_release(struct am_dkim_sigparams *sp);
/* Name of a hash algorithm as key records write it: "sha256", "sha1". */
const char *am_dkim_alg_hash(enum am_dkim_alg alg);

/* ---- key records (RFC 6376 s.3.6.1, RFC 8463) ---- */

enum am_dkim_ktype { AM_DKIM_K_RSA, AM_DKIM_K_ED25519 };

struct am_dkim_key {
	enum am_dkim_ktype type;
	void *pkey;            /* EVP_PKEY *, owned */
	unsigned bits;         /* RSA modulus bits; 256 for Ed25519 */
	int has_h;             /* h= present */
	int h_sha256, h_sha1;  /* hash algorithms allowed by h= */
	int testing;           /* t=y */
	int strict;            /* t=s: i= must not be a subdomain */
};

enum am_dkim_keystat {
	AM_DKIM_KEY_OK,        /* key filled in */
	AM_DKIM_KEY_PERM,      /* no key or unusable record: permerror */
	AM_DKIM_KEY_TEMP,      /* DNS failure: temperror */
};

/* Parse one key record; AM_DKIM_KEY_OK or AM_DKIM_KEY_PERM with why. */
enum am_dkim_keystat am_dkim_key_parse(const char *txt, size_t len,
    struct am_dkim_key *key, struct am_buf *why);
/* Fetch and parse SELECTOR._domainkey.DOMAIN (TXT) through dns. */
enum am_dkim_keystat am_dkim_key_fetch(struct am_dns *dns,
    const char *selector, const char *domain, struct am_dkim_key *key,
    struct am_buf *why);
/*
 * A cache of decoded public keys, shared by threads (one mutex): n slots,
 * direct-mapped by a hash of the key bytes. The _cached variants of parse
 * and fetch use it (cache may be NULL).
 */
struct am_dkim_keycache;
struct am_dkim_keycache *am_dkim_keycache_new(size_t n);
struct am_dkim_keycache *am_dkim_keycache_free(struct am_dkim_keycache *c);
enum am_dkim_keystat am_dkim_key_parse_cached(struct am_dkim_keycache *cache,
    const char *txt, size_t len, struct am_dkim_key *key, struct am_buf *why);
enum am_dkim_keystat am_dkim_key_fetch_cached(struct am_dns *dns,
    struct am_dkim_keycache *cache, const char *selector, const char *domain,
    struct am_dkim_key *key, struct am_buf *why);
/* Free the key's EVP_PKEY; key is zeroed. */
void am_dkim_key_release(struct am_dkim_key *key);
/*
 * Check signature sig over the SHA-256 (or SHA-1) digest of the header data:
 * RSA PKCS#1 v1.5 with that digest, or Ed25519 over the 32 digest bytes
 * (RFC 8463 s.3). 1 if it verifies, 0 if not.
 */
int am_dkim_pk_verify(const struct am_dkim_key *key, enum am_dkim_alg alg,
    const unsigned char *digest, size_t dlen, const unsigned char *sig,
    size_t slen);

/* ---- canonicalization (RFC 6376 s.3.4) ---- */

/*
 * Append the canonical form of one header field to out: name ":" value,
 * with a final CRLF when crlf is set (the signature field itself is hashed
 * without one, s.3.7). Returns 0, or -1 when out is full.
 */
int am_dkim_canon_header(enum am_dkim_canon c, const char *name, size_t nlen,
    const char *value, size_t vlen, int crlf, struct am_buf *out);

struct am_dkim_bh;

/* A streaming body hasher; md is "sha256" or "sha1"; limit < 0: no l=. */
struct am_dkim_bh *am_dkim_bh_new(enum am_dkim_canon c, const char *md,
    int64_t limit);
struct am_dkim_bh *am_dkim_bh_free(struct am_dkim_bh *bh);
/* Feed body bytes. */
void am_dkim_bh_update(struct am_dkim_bh *bh, const unsigned char *p,
    size_t n);
/*
 * End of body: write the digest to out[AM_DKIM_HASH_MAX], return its length
 * (0 on error). *canonlen gets the canonical body length; with l= the
 * count may stop early, but it is above l= whenever the body is longer).
 */
size_t am_dkim_bh_final(struct am_dkim_bh *bh, unsigned char *out,
    uint64_t *canonlen);
/* 1 when bh was made with these parameters. */
int am_dkim_bh_is(const struct am_dkim_bh *bh, enum am_dkim_canon c,
    const char *md, int64_t limit);

/* ---- header hash and signature check ---- */

/*
 * Digest (hash of the signature's algorithm) of the canonical header data
 * of s.3.7: the fields named in sp->h picked bottom-up from hdrs (absent
 * ones contribute nothing), then the signature field sigf with its b=
 * value emptied and no final CRLF. Returns the digest length, 0 on error.
 */
size_t am_dkim_hash_headers(const struct am_dkim_sigparams *sp,
    const struct am_hdrs *hdrs, const struct am_hdr *sigf,
    unsigned char *out);
/*
 * Verify one parsed signature whose key is loaded and whose body hash has
 * been computed (bh, bhlen): checks t=s, h=, key type, key size, the body
 * hash and the signature. Returns PASS, FAIL, POLICY or PERMERROR with why.
 */
enum am_dkim_result am_dkim_verify_sig(const struct am_dkim_sigparams *sp,
    const struct am_dkim_key *key, unsigned min_key_bits,
    const struct am_hdrs *hdrs, const struct am_hdr *sigf,
    const unsigned char *bh, size_t bhlen, struct am_buf *why);

#endif
