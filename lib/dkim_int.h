/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dkim_int: the building blocks of DKIM verification, shared by the
 * dkim*.c files and by ARC (RFC 8617 reuses DKIM's tags, canonicalization,
 * keys and signature checks); the per-message verifier's API is dkim.h.
 *
 *   dkim_tag.c     am_dkim_tags_parse(), am_dkim_tag_find(),
 *                  am_dkim_base64(): tag=value lists (RFC 6376 s.3.2)
 *   dkim_sig.c     am_dkim_sig_parse_kind(): the one tag-list-to-signature
 *                  parser, for DKIM-Signature (s.3.5, s.6.1.1),
 *                  ARC-Message-Signature and ARC-Seal (RFC 8617 s.4.1.2,
 *                  s.4.1.3); its value helpers am_dkim_dupn(),
 *                  am_dkim_tag_is(), am_dkim_name_ok(), am_dkim_tag_num()
 *   dkim_key.c     am_dkim_key_parse(), am_dkim_key_fetch() and their
 *                  _cached variants: key records (s.3.6.1, s.3.6.2), RSA
 *                  and Ed25519 (RFC 8463) public keys; am_dkim_pk_verify()
 *   dkim_canon.c   am_dkim_canon_header() (s.3.4.1, s.3.4.2) and the
 *                  streaming body hasher am_dkim_bh_*() (s.3.4.3, s.3.4.4,
 *                  erratum 3192), l= (s.3.5)
 *   dkim_verify.c  am_dkim_hash_headers() (s.3.7, s.5.4.2) and
 *                  am_dkim_verify_sig() (s.6.1.2, s.6.1.3, RFC 8301)
 *
 * Ownership: struct am_dkim_sigparams owns its strings until
 * am_dkim_sig_release(); a struct am_dkim_tag points into the text it was
 * parsed from. Nothing here keeps state between calls, except the key
 * cache (locked, see dkim.h).
 */
#ifndef AM_DKIM_INT_H
#define AM_DKIM_INT_H

#include "dkim.h"

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

/* Tag-value helpers of dkim_sig.c. */
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

/* The fields that share the DKIM-Signature's tags (RFC 8617 s.4.1.2,
 * s.4.1.3 list how the ARC ones differ; dkim_sig.c has the rules). */
enum am_dkim_sigkind {
	AM_DKIM_SIGKIND_DKIM,   /* DKIM-Signature: v=1, i= the AUID, h=
	                           names From */
	AM_DKIM_SIGKIND_AMS,    /* ARC-Message-Signature: v= ignored, i= the
	                           instance (the caller reads it), ARC's h=
	                           rules; identity "@" d= */
	AM_DKIM_SIGKIND_AS,     /* ARC-Seal: as the AMS, and cv= required
	                           (the caller reads it), no h=, no bh=,
	                           relaxed header canonicalization */
};

/*
 * Parse a signature field value of kind (raw, after the colon) into sp,
 * which is zeroed first. When tg is not NULL it gets the tag list (room
 * for AM_DKIM_TAGS_MAX tags, *ntg of them used; they point into value)
 * so that the caller can read the tags it owns (ARC's i= and cv=).
 * Returns 0, or -1 with why (sp then holds what was parsed before the
 * error, for reporting d= and s=). Release with am_dkim_sig_release() in
 * both cases.
 */
int am_dkim_sig_parse_kind(enum am_dkim_sigkind kind, const char *value,
    size_t len, struct am_dkim_sigparams *sp, struct am_dkim_tag *tg,
    size_t *ntg, struct am_buf *why);
/* The same for a DKIM-Signature. */
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
/* The _cached variants of parse and fetch use the key cache of dkim.h
 * (cache may be NULL). */
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
