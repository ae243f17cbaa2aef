/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arc: Authenticated Received Chain (RFC 8617): chain validation and
 * sealing.
 *
 * Verifying, per message (the engine feeds it the same body chunks as
 * DKIM):
 *   am_arc_new()      a verifier for one message (caps from the conf)
 *   am_arc_headers()  group the ARC fields into sets, check the structure
 *                     (s.5.2 steps 1-3), set up the AMS body hashes
 *   am_arc_body()     body chunks as they stream (CRLF line ends)
 *   am_arc_finish()   fetch keys, verify the newest AMS (step 4), every
 *                     AS (step 6), and on a passing chain the older
 *                     AMSes for oldest-pass (step 5); see am_arc_result()
 *   am_arc_result(), am_arc_set()  the verdict and each instance's data
 *   am_arc_free()
 *
 * Sealing (lib/arc_sign.c, s.5.1):
 *   am_arc_key_load()  read a PEM private key (RSA or Ed25519); refuses a
 *                      file others can read or its group can write
 *   am_arc_seal()      the AAR, AMS and AS of our new instance, given the
 *                      verifier of the same message (chain verdict, the
 *                      existing sets, the relaxed body hash)
 *
 * Building blocks (lib/arc_parse.c), public for the unit tests:
 *   am_arc_instance()   the i= of an ARC field (s.4.1.1, s.4.2.1)
 *   am_arc_sig_parse()  AMS / AS tag lists (s.4.1.2, s.4.1.3)
 *   am_arc_collect()    the sets of a header list and their structure
 *
 * Decisions where RFC 8617 leaves room (each reason is what the A-R comment
 * and the log show):
 *   - any ARC field whose i= cannot be read, an i= outside 1..50, two fields
 *     of one kind with the same i=, a missing field or a gap in 1..N is a
 *     structure failure: fail (s.5.2 step 3);
 *   - an AS with cv=fail anywhere in the chain is fail (s.5.2 step 2 for
 *     the newest, step 3 for every other: cv= is none at i=1, pass above);
 *   - AMS and AS use the DKIM algorithms of RFC 8301/8463: rsa-sha256 and
 *     ed25519-sha256; rsa-sha1 and RSA keys under min_key_bits fail;
 *   - the AMS has DKIM-Signature semantics (s.4.1.2) and is read by the
 *     DKIM-Signature parser (am_dkim_sig_parse_kind(), lib/dkim_sig.c):
 *     c= defaults to simple/simple, q= and x= after t= are checked as
 *     DKIM's, v= is ignored, h= may be empty but must not name ARC-Seal;
 *   - a key lookup that fails for now (DNS) gives AM_ARC_TEMPERROR, never
 *     fail (DESIGN.md); a missing key is fail;
 *   - AAR "i=N;" must come first (s.4.1.1: arc-info = instance ";" ...);
 *   - sealing after a cv=fail: only the newest ARC-Seal counts. When the
 *     most recent AS (i=N) says cv=fail we add no set (s.5.1 step 1: "no
 *     new ARC Set should be created"). When an older AS says cv=fail but a
 *     later hop sealed on with cv=pass, the chain fails validation (s.5.2
 *     step 3: no AS may say cv=fail), so we seal i=N+1 with cv=fail (s.5.1
 *     step 4: the AS carries the status we determined) over our own set
 *     only (s.5.1.2: the AS of a failed chain signs only the set being
 *     added). Refusing would leave the false cv=pass as the newest word on
 *     the chain; our cv=fail ends it for every later validator (s.5.2
 *     step 2). dkimpy does the same.
 *
 * Ownership: struct am_arc owns every string it hands out; they live until
 * am_arc_free(). The header list given to am_arc_headers() is borrowed
 * until am_arc_seal() or am_arc_free(), whichever is last.
 * Thread safety: a struct am_arc belongs to one message and one thread; a
 * struct am_arc_key is read only after loading and may be shared.
 */
#ifndef AM_ARC_H
#define AM_ARC_H

#include <stddef.h>
#include <time.h>

#include "buf.h"
#include "dkim_int.h"
#include "dns.h"
#include "hdr.h"

#define AM_ARC_MAX_INSTANCES 50   /* s.4.2.1: i= is 1..50 */
#define AM_ARC_AAR_MAX       8192 /* bytes of one AAR value we keep */

/* Chain validation status (the cv= values of s.4.1.3, RFC 8601 arc=). */
enum am_arc_cv {
	AM_ARC_NONE,      /* no ARC sets in the message */
	AM_ARC_PASS,      /* every AS and the newest AMS verified */
	AM_ARC_FAIL,      /* structure broken, a signature did not verify,
	                     or a sealer said cv=fail */
	AM_ARC_TEMPERROR, /* a key lookup failed for now: retry later */
};

struct am_arc_conf {
	unsigned min_key_bits;    /* RSA keys below this fail; 0: 1024 */
	int seal;                 /* also hash the body (relaxed, sha256)
	                             for am_arc_seal() */
};

/* The chain verdict; strings are never NULL. */
struct am_arc_result {
	enum am_arc_cv cv;
	unsigned count;           /* N, the newest instance (0: no chain);
	                             on a structure failure the highest i=
	                             seen, or 0 */
	unsigned oldest_pass;     /* on pass: the oldest instance whose AMS
	                             and all later AMSes verify; 0 when every
	                             AMS down to i=1 verifies (s.5.2 step 5) */
	const char *reason;       /* "" on pass and none */
};

/* One instance of a structurally valid chain; strings never NULL. */
struct am_arc_set {
	unsigned instance;
	enum am_arc_cv cv;        /* the AS's cv= */
	const char *seal_domain;  /* AS d=, lower case ("" if unparsable) */
	const char *seal_selector;
	const char *ams_domain;   /* AMS d=, lower case */
	const char *authserv_id;  /* of the AAR ("" if none can be read) */
	const char *aar;          /* AAR value after "i=N;", trimmed: the
	                             authserv-id and the results */
	int ams_pass;             /* the AMS verified (the newest: always
	                             checked; older ones on a passing chain,
	                             down to the first that fails) */
	int as_pass;              /* the AS verified */
};

struct am_arc;

/* A verifier for one message; conf may be NULL (defaults). dns is
 * borrowed and must outlive it. NULL when out of memory. */
struct am_arc *am_arc_new(const struct am_arc_conf *conf, struct am_dns *dns);
/* Free everything; returns NULL. NULL is a no-op. */
struct am_arc *am_arc_free(struct am_arc *a);
/* Collect the ARC sets of hdrs (borrowed, see above). Call once, after
 * the last header. */
void am_arc_headers(struct am_arc *a, const struct am_hdrs *hdrs);
/* Feed a body chunk (CRLF line ends; any split). */
void am_arc_body(struct am_arc *a, const unsigned char *buf, size_t len);
/* End of body: fetch keys and decide. */
void am_arc_finish(struct am_arc *a);
/* The verdict (complete after am_arc_finish()). */
const struct am_arc_result *am_arc_result(const struct am_arc *a);
/* Instance i (1..count) of a structurally valid chain, or NULL. */
const struct am_arc_set *am_arc_set(const struct am_arc *a, unsigned i);
/* "none", "pass", "fail", "temperror". */
const char *am_arc_cv_name(enum am_arc_cv cv);

/* ---- sealing (lib/arc_sign.c) ---- */

struct am_arc_key;

/*
 * Load a PEM private key (PKCS#8 or traditional RSA) from path: RSA of
 * at least 1024 bits, or Ed25519. Refuses a file that is not a regular
 * file (a FIFO does not block: it is opened O_NONBLOCK), that others may
 * read or write, that its group may write, or that is owned by neither
 * root nor the effective user, with why such as
 * "/etc/x.pem: mode 0644 is world-readable; chmod 600 it" (the config
 * layer prefixes its keyword). NULL with why on any error.
 */
struct am_arc_key *am_arc_key_load(const char *path, struct am_buf *why);
/* The same from PEM text in memory (no mode check; for tests). */
struct am_arc_key *am_arc_key_from_pem(const char *pem, size_t len,
    struct am_buf *why);
/* Free; returns NULL. NULL is a no-op. */
struct am_arc_key *am_arc_key_free(struct am_arc_key *k);
/* "rsa-sha256" or "ed25519-sha256". */
const char *am_arc_key_alg(const struct am_arc_key *k);

struct am_arc_seal_params {
	const char *domain;       /* d= */
	const char *selector;     /* s= */
	const struct am_arc_key *key;
	const char *authserv_id;  /* ours, first in the AAR */
	const char *results;      /* our A-R results after the authserv-id:
	                             "arc=pass; spf=pass smtp.mailfrom=..." or
	                             "" (then "none"); line breaks LF or CRLF */
	const char *const *sign_headers; /* AMS h= names in order; NULL:
	                             the default set present in the message */
	size_t nsign;
	time_t now;               /* t=; 0: time(NULL) */
};

/* The new ARC set: values as for an A-R header (no name, no leading
 * space, folded with "\n\t"); malloc'd, release with am_arc_sealed_release.
 * Insert at the top of the message in the order as, ams, aar (ARC-Seal on
 * top). */
struct am_arc_sealed {
	unsigned instance;
	enum am_arc_cv cv;        /* the cv= we wrote */
	char *as;                 /* ARC-Seal */
	char *ams;                /* ARC-Message-Signature */
	char *aar;                /* ARC-Authentication-Results */
};

enum am_arc_seal_status {
	AM_ARC_SEALED,            /* out holds the three values */
	AM_ARC_NOSEAL,            /* nothing to add (why says why): the
	                             newest ARC-Seal says cv=fail, the chain
	                             is at i=50, or its verdict is temperror */
	AM_ARC_SEAL_ERROR,        /* bad parameters, signing failed */
};

/*
 * Seal the message of verifier a (after am_arc_finish(); made with
 * conf->seal set) with p: i = N+1, cv = none (no chain), pass (chain
 * passed) or fail (chain failed, also when an older AS says cv=fail under
 * a later cv=pass; then the AS covers our own set only, s.5.1.2, as dkimpy
 * and the ARC test suite do); no seal when the newest AS says cv=fail
 * (s.5.1 step 1, see the decisions above). AMS: relaxed/relaxed, h= p's names
 * (or the default set), bh=, t=. Fills out on AM_ARC_SEALED.
 */
enum am_arc_seal_status am_arc_seal(const struct am_arc *a,
    const struct am_arc_seal_params *p, struct am_arc_sealed *out,
    struct am_buf *why);
/* Free the values of out. */
void am_arc_sealed_release(struct am_arc_sealed *out);

/* ---- building blocks (lib/arc_parse.c) ---- */

enum am_arc_kind { AM_ARC_K_AAR, AM_ARC_K_AMS, AM_ARC_K_AS };

/*
 * The instance of an ARC field value: for AMS and AS its i= tag (the tag
 * list must parse), for the AAR the leading "i=N;". Returns 0 with *inst
 * (1..50), or -1 with why.
 */
int am_arc_instance(enum am_arc_kind kind, const char *value, size_t len,
    unsigned *inst, struct am_buf *why);

/* A parsed AMS or AS. sp holds what DKIM's building blocks need. */
struct am_arc_sig {
	struct am_dkim_sigparams sp;
	unsigned instance;
	enum am_arc_cv cv;        /* AS: cv= */
};

/*
 * Parse an AMS (kind AM_ARC_K_AMS: required i a b bh d h s, no arc-seal
 * in h=) or an AS (AM_ARC_K_AS: required i a b cv d s, no h=, no bh=
 * needed) into sig (zeroed first). t= must be a number when present.
 * Returns 0, or -1 with why; release with am_arc_sig_release() in both
 * cases.
 */
int am_arc_sig_parse(enum am_arc_kind kind, const char *value, size_t len,
    struct am_arc_sig *sig, struct am_buf *why);
void am_arc_sig_release(struct am_arc_sig *sig);

/* The three fields of one instance, pointing into a header list. */
struct am_arc_fields {
	const struct am_hdr *aar, *ams, *as;
};

/*
 * Group the ARC fields of hdrs into sets[1..*n] (sets[0] unused; the
 * array has AM_ARC_MAX_INSTANCES + 1 entries). Returns 0 (with *n = 0
 * when there is no ARC field), or -1 with why on a structure failure
 * (*n is then the highest instance seen, or 0).
 */
int am_arc_collect(const struct am_hdrs *hdrs, struct am_arc_fields *sets,
    unsigned *n, struct am_buf *why);
/* The kind of an ARC field, or -1 when f is not one. */
int am_arc_kind_of(const struct am_hdr *f);

/*
 * SHA-256 digest of the ARC-Seal signing input (s.5.1.1): fields[0..n-1]
 * (AAR, AMS, AS of instance 1, ... up to the AS in question) in relaxed
 * canonical form with CRLF each, except the last one, the AS itself,
 * which has its b= value emptied and no CRLF. Returns the digest length,
 * 0 on error (the last field has no b=, out of memory).
 */
size_t am_arc_seal_digest(const struct am_hdr *const *fields, size_t n,
    unsigned char *out);

/* What am_arc_seal() needs of a finished verifier: the header list, the
 * fields of instance i (1..count of a valid structure, else NULL), the
 * instance of the newest ARC-Seal when it says cv=fail (else 0), and the
 * relaxed SHA-256 body hash written to out[AM_DKIM_HASH_MAX] (its length;
 * 0 unless conf->seal was set). */
const struct am_hdrs *am_arc_hdrs(const struct am_arc *a);
const struct am_arc_fields *am_arc_fields(const struct am_arc *a,
    unsigned i);
unsigned am_arc_newest_cv_fail(const struct am_arc *a);
size_t am_arc_seal_bh(const struct am_arc *a, unsigned char *out);

#endif
