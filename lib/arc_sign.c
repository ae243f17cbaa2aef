/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arc_sign: sealing, RFC 8617 s.5.1: the ARC-Authentication-Results,
 * ARC-Message-Signature and ARC-Seal of our new instance.
 *
 *   am_arc_key_load()  PEM private key (RSA >= 1024 bits or Ed25519) from
 *                      a regular file owned by root or by the caller's
 *                      user, that only its owner and group may read and
 *                      only its owner may write
 *   am_arc_seal()      the new set, from a finished verifier of the same
 *                      message (made with conf->seal: it hashed the body
 *                      with relaxed canonicalization)
 *
 * Format: tags in alphabetical order, "; " between them, no trailing ';'
 * (the "standardized" form of the ARC test suite, so its expected b=
 * values can be reproduced); lines folded before 78 columns at tag
 * boundaries; b= is not folded. The values are built and signed with CRLF
 * folds, as a receiver sees them (relaxed canonicalization removes CRLF,
 * and only CRLF, RFC 6376 s.3.4.2), and handed out with "\n" folds, as
 * libmilter expects (the MTA writes them as CRLF).
 *
 * AMS (s.4.1.2): c=relaxed/relaxed, hashed over the message's header with
 * our AAR on top (a receiver sees it there). AS (s.5.1.1): the sets
 * 1..N and ours; when the chain failed, ours only (s.5.1.2; cv=fail ends
 * the chain; dkimpy and the test suite do the same). No set at all when
 * the newest AS already says cv=fail (s.5.1 step 1); an older cv=fail
 * under a later cv=pass gets our cv=fail seal (arc.h). Signatures: RSA PKCS#1
 * v1.5 over the SHA-256 digest (deterministic), or Ed25519 over the 32
 * digest bytes (RFC 8463 s.3).
 */
#include <sys/stat.h>

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rsa.h>

#include "arc.h"

#define KEYFILE_MAX (64 * 1024)
#define FOLD_COL    78

struct am_arc_key {
	EVP_PKEY *pkey;
	int ed25519;
	unsigned bits;
};

/* A passphrase is never asked for: an encrypted key fails to load. */
static int
no_pass(char *buf, int size, int rw, void *u)
{
	(void)buf, (void)size, (void)rw, (void)u;
	return -1;
}

struct am_arc_key *
am_arc_key_from_pem(const char *pem, size_t len, struct am_buf *why)
{
	struct am_arc_key *k;
	BIO *bio;
	EVP_PKEY *pk;

	if ((bio = BIO_new_mem_buf(pem, (int)len)) == NULL)
		return NULL;
	pk = PEM_read_bio_PrivateKey(bio, NULL, no_pass, NULL);
	BIO_free(bio);
	if (pk == NULL) {
		am_buf_setf(why, "no PEM private key (or it is encrypted)");
		return NULL;
	}
	if (EVP_PKEY_get_base_id(pk) != EVP_PKEY_RSA &&
	    EVP_PKEY_get_base_id(pk) != EVP_PKEY_ED25519) {
		am_buf_setf(why, "key is neither RSA nor Ed25519");
	} else if (EVP_PKEY_get_base_id(pk) == EVP_PKEY_RSA &&
	    EVP_PKEY_get_bits(pk) < 1024) {
		am_buf_setf(why, "RSA key of %d bits (RFC 8301: at least 1024)",
		    EVP_PKEY_get_bits(pk));
	} else if ((k = calloc(1, sizeof(*k))) != NULL) {
		k->pkey = pk;
		k->ed25519 = EVP_PKEY_get_base_id(pk) == EVP_PKEY_ED25519;
		k->bits = (unsigned)EVP_PKEY_get_bits(pk);
		return k;
	}
	EVP_PKEY_free(pk);
	return NULL;
}

/* Read an open key file whose mode was checked; NULL with why. */
static struct am_arc_key *
read_key(int fd, const char *path, size_t size, struct am_buf *why)
{
	struct am_buf tmp = AM_BUF_INIT(256);
	struct am_arc_key *k;
	char *buf;
	ssize_t r;
	size_t got = 0;

	if ((buf = malloc(size + 1)) == NULL)
		return NULL;
	while (got < size && (r = read(fd, buf + got, size - got)) > 0)
		got += (size_t)r;
	if ((k = am_arc_key_from_pem(buf, got, &tmp)) == NULL)
		am_buf_setf(why, "%s: %s", path, am_buf_str(&tmp));
	am_buf_release(&tmp);
	memset(buf, 0, size);
	free(buf);
	return k;
}

/*
 * 0 when st may hold a private key: a regular file owned by root or by
 * us, not group-writable, nothing for others; else -1 with why.
 */
static int
key_mode_check(const struct stat *st, const char *path, struct am_buf *why)
{
	unsigned mode = (unsigned)(st->st_mode & 07777);

	if (!S_ISREG(st->st_mode))
		am_buf_setf(why, "%s: not a regular file", path);
	else if (st->st_mode & (S_IROTH | S_IWOTH))
		am_buf_setf(why, "%s: mode %04o is world-%s; chmod 600 it",
		    path, mode, (st->st_mode & S_IROTH) ? "readable" : "writable");
	else if (st->st_mode & S_IWGRP)
		am_buf_setf(why, "%s: mode %04o is group-writable; chmod 600 it",
		    path, mode);
	else if (st->st_uid != 0 && st->st_uid != geteuid())
		am_buf_setf(why, "%s: owned by uid %u, neither root nor the user "
		    "authmilter runs as (uid %u); chown it", path,
		    (unsigned)st->st_uid, (unsigned)geteuid());
	else
		return 0;
	return -1;
}

struct am_arc_key *
am_arc_key_load(const char *path, struct am_buf *why)
{
	struct am_arc_key *k = NULL;
	struct stat st;
	int fd;

	/* O_NONBLOCK: a FIFO must not hang the start; fstat refuses it. */
	if ((fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)) < 0) {
		am_buf_setf(why, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fd, &st) != 0)
		am_buf_setf(why, "%s: %s", path, strerror(errno));
	else if (key_mode_check(&st, path, why) != 0)
		;
	else if (st.st_size > KEYFILE_MAX)
		am_buf_setf(why, "%s: over %d bytes, not a key", path,
		    KEYFILE_MAX);
	else
		k = read_key(fd, path, (size_t)st.st_size, why);
	close(fd);
	return k;
}

struct am_arc_key *
am_arc_key_free(struct am_arc_key *k)
{
	if (k != NULL) {
		EVP_PKEY_free(k->pkey);
		free(k);
	}
	return NULL;
}

const char *
am_arc_key_alg(const struct am_arc_key *k)
{
	return k->ed25519 ? "ed25519-sha256" : "rsa-sha256";
}

/* Sign a SHA-256 digest; the signature in base64 into out. */
static int
sign_digest(const struct am_arc_key *k, const unsigned char *dig,
    size_t dlen, struct am_buf *out)
{
	unsigned char sig[1024], b64[1400];
	size_t slen = sizeof(sig);
	EVP_PKEY_CTX *pc = NULL;
	EVP_MD_CTX *mc = NULL;
	int ok;

	if (k->ed25519) {
		ok = (mc = EVP_MD_CTX_new()) != NULL &&
		    EVP_DigestSignInit(mc, NULL, NULL, NULL, k->pkey) == 1 &&
		    EVP_DigestSign(mc, sig, &slen, dig, dlen) == 1;
	} else {
		ok = (pc = EVP_PKEY_CTX_new(k->pkey, NULL)) != NULL &&
		    EVP_PKEY_sign_init(pc) == 1 &&
		    EVP_PKEY_CTX_set_rsa_padding(pc, RSA_PKCS1_PADDING) == 1 &&
		    EVP_PKEY_CTX_set_signature_md(pc, EVP_sha256()) == 1 &&
		    EVP_PKEY_sign(pc, NULL, &slen, dig, dlen) == 1 &&
		    slen <= sizeof(sig) &&
		    EVP_PKEY_sign(pc, sig, &slen, dig, dlen) == 1;
	}
	EVP_MD_CTX_free(mc);
	EVP_PKEY_CTX_free(pc);
	if (!ok)
		return -1;
	EVP_EncodeBlock(b64, sig, (int)slen);
	return am_buf_adds(out, (const char *)b64);
}

/* ---- header values ---- */

struct tagline {
	struct am_buf *out;
	size_t col;
};

/* Append "; " (or a fold) and tag=value; the first tag has no separator. */
static void
add_tag(struct tagline *t, const char *name, const char *val)
{
	size_t w = strlen(name) + 1 + strlen(val);

	if (t->out->len > 0) {
		if (t->col + 2 + w > FOLD_COL) {
			am_buf_adds(t->out, ";\r\n ");
			t->col = 1;
		} else {
			am_buf_adds(t->out, "; ");
			t->col += 2;
		}
	}
	am_buf_printf(t->out, "%s=%s", name, val);
	t->col += w;
}

/*
 * Append "; b=" and the base64 value, unfolded: the AMS's b= is part of
 * the AS's signing input, and folding inside it would change that input
 * from what the ARC test suite (and dkimpy) compute. It goes on a line
 * of its own when it does not fit (344 characters for RSA-2048, well
 * under the 998 of RFC 5322 s.2.1.1).
 */
static void
add_b(struct tagline *t, const char *b64)
{
	size_t n = strlen(b64);

	if (t->col + 4 + n > FOLD_COL) {
		am_buf_adds(t->out, ";\r\n\tb=");
		t->col = 10;
	} else {
		am_buf_adds(t->out, "; b=");
		t->col += 4;
	}
	am_buf_adds(t->out, b64);
	t->col += n;
}

/* The AAR: "i=N; authserv-id; results", folded at "; " when one line. */
static int
build_aar(const struct am_arc_seal_params *p, unsigned inst,
    struct am_buf *out)
{
	const char *r = p->results && *p->results ? p->results : "none";
	size_t col, i;

	am_buf_printf(out, "i=%u; %s; ", inst, p->authserv_id);
	col = 28 + out->len;
	for (i = 0; r[i] != '\0'; i++) {
		if (r[i] == '\r')
			continue;
		if (!strchr(r, '\n') && r[i] == ' ' && i > 0 &&
		    r[i - 1] == ';' && col > FOLD_COL - 16) {
			am_buf_adds(out, "\r\n\t");
			col = 8;
			continue;
		}
		if (r[i] == '\n')
			am_buf_addc(out, '\r');
		am_buf_addc(out, r[i]);
		col = r[i] == '\n' ? 0 : col + 1;
	}
	return out->truncated ? -1 : 0;
}

/* ---- the new set ---- */

/* Fields signed by default when present (dkimpy's should_sign list plus
 * DKIM-Signature); ARC and A-R fields are never among them. */
static const char *const default_sign[] = {
	"from", "sender", "reply-to", "subject", "date", "message-id", "to",
	"cc", "mime-version", "content-type", "content-transfer-encoding",
	"content-id", "content-description", "resent-date", "resent-from",
	"resent-sender", "resent-to", "resent-cc", "resent-message-id",
	"in-reply-to", "references", "list-id", "list-help",
	"list-unsubscribe", "list-subscribe", "list-post", "list-owner",
	"list-archive", "dkim-signature",
};

static int
is_default(const struct am_hdr *f)
{
	size_t k;

	for (k = 0; k < sizeof(default_sign) / sizeof(default_sign[0]); k++)
		if (am_hdr_is(f, default_sign[k]))
			return 1;
	return 0;
}

/* Append name to h= (lower case, ':' separated); -1 past AM_DKIM_H_MAX. */
static int
add_hname(struct am_buf *h, char **names, size_t *nh, const char *name,
    size_t len)
{
	size_t i;

	if (*nh >= AM_DKIM_H_MAX || len == 0)
		return -1;
	if ((names[*nh] = malloc(len + 1)) == NULL)
		return -1;
	for (i = 0; i < len; i++)
		names[*nh][i] = (char)(name[i] >= 'A' && name[i] <= 'Z' ?
		    name[i] + 32 : name[i]);
	names[*nh][len] = '\0';
	if (*nh > 0)
		am_buf_addc(h, ':');
	am_buf_adds(h, names[(*nh)++]);
	return 0;
}

/* The AMS h= list: p's names, or the default ones present (From always). */
static int
pick_headers(const struct am_arc_seal_params *p, const struct am_hdrs *hdrs,
    char **names, size_t *nh, struct am_buf *h, struct am_buf *why)
{
	size_t k;
	int from = 0;

	if (p->sign_headers != NULL) {
		for (k = 0; k < p->nsign; k++)
			if (strcasecmp(p->sign_headers[k], "arc-seal") == 0 ||
			    add_hname(h, names, nh, p->sign_headers[k],
			    strlen(p->sign_headers[k])) != 0) {
				am_buf_setf(why, "bad or too many names to sign");
				return -1;
			}
		return 0;
	}
	for (k = 0; k < hdrs->n && *nh < AM_DKIM_H_MAX - 1; k++) {
		if (!is_default(&hdrs->v[k]))
			continue;
		from |= am_hdr_is(&hdrs->v[k], "from");
		add_hname(h, names, nh, hdrs->v[k].name, hdrs->v[k].namelen);
	}
	if (!from)
		add_hname(h, names, nh, "from", 4);
	return 0;
}

struct seal {
	const struct am_arc_seal_params *p;
	unsigned inst;
	enum am_arc_cv cv;
	char ts[24], is[8];
	struct am_buf aar, ams, as;
	struct am_hdr faar, fams, fas;
};

/* The AMS value with b= set to b64 ("" for the signing input). */
static void
ams_value(struct seal *s, const char *bh, const char *h, const char *b64)
{
	struct tagline t = { &s->ams, 23 };

	am_buf_reset(&s->ams);
	add_tag(&t, "a", am_arc_key_alg(s->p->key));
	add_b(&t, b64);
	add_tag(&t, "bh", bh);
	add_tag(&t, "c", "relaxed/relaxed");
	add_tag(&t, "d", s->p->domain);
	add_tag(&t, "h", h);
	add_tag(&t, "i", s->is);
	add_tag(&t, "s", s->p->selector);
	add_tag(&t, "t", s->ts);
	s->fams.value = s->ams.data;
	s->fams.vlen = s->ams.len;
}

static void
as_value(struct seal *s, const char *b64)
{
	struct tagline t = { &s->as, 10 };

	am_buf_reset(&s->as);
	add_tag(&t, "a", am_arc_key_alg(s->p->key));
	add_b(&t, b64);
	add_tag(&t, "cv", am_arc_cv_name(s->cv));
	add_tag(&t, "d", s->p->domain);
	add_tag(&t, "i", s->is);
	add_tag(&t, "s", s->p->selector);
	add_tag(&t, "t", s->ts);
	s->fas.value = s->as.data;
	s->fas.vlen = s->as.len;
}

/* Sign the AMS over hdrs with our AAR on top. */
static int
make_ams(struct seal *s, const struct am_arc *a, struct am_buf *why)
{
	const struct am_hdrs *hdrs = am_arc_hdrs(a);
	struct am_dkim_sigparams sp;
	struct am_buf h = AM_BUF_INIT(4096), b = AM_BUF_INIT(1400);
	struct am_hdrs view;
	unsigned char bh[AM_DKIM_HASH_MAX], dig[AM_DKIM_HASH_MAX], bh64[128];
	size_t bhlen, dlen = 0, k;
	int r = -1;

	memset(&sp, 0, sizeof(sp));
	memset(&view, 0, sizeof(view));
	sp.alg = s->p->key->ed25519 ? AM_DKIM_ED25519_SHA256 :
	    AM_DKIM_RSA_SHA256;
	sp.hcanon = sp.bcanon = AM_DKIM_RELAXED;
	if ((bhlen = am_arc_seal_bh(a, bh)) == 0)
		am_buf_setf(why, "no body hash (verifier made without seal)");
	else if ((sp.h = calloc(AM_DKIM_H_MAX, sizeof(*sp.h))) != NULL &&
	    pick_headers(s->p, hdrs, sp.h, &sp.nh, &h, why) == 0 &&
	    (view.v = calloc(hdrs->n + 1, sizeof(*view.v))) != NULL) {
		view.n = hdrs->n + 1;
		view.v[0] = s->faar;
		if (hdrs->n > 0)   /* hdrs->v is NULL with no fields */
			memcpy(view.v + 1, hdrs->v, hdrs->n * sizeof(*view.v));
		EVP_EncodeBlock(bh64, bh, (int)bhlen);
		ams_value(s, (const char *)bh64, am_buf_str(&h), "");
		if ((dlen = am_dkim_hash_headers(&sp, &view, &s->fams, dig)) &&
		    sign_digest(s->p->key, dig, dlen, &b) == 0) {
			ams_value(s, (const char *)bh64, am_buf_str(&h),
			    am_buf_str(&b));
			r = 0;
		} else
			am_buf_setf(why, "cannot sign the AMS");
	}
	for (k = 0; sp.h != NULL && k < sp.nh; k++)
		free(sp.h[k]);
	free(sp.h);
	free(view.v);
	am_buf_release(&h);
	am_buf_release(&b);
	return r;
}

/* Sign the AS over the chain (sets 1..N unless cv=fail) and ours. */
static int
make_as(struct seal *s, const struct am_arc *a, struct am_buf *why)
{
	const struct am_hdr *fl[3 * AM_ARC_MAX_INSTANCES];
	const struct am_arc_fields *f;
	struct am_buf b = AM_BUF_INIT(1400);
	unsigned char dig[AM_DKIM_HASH_MAX];
	size_t n = 0, dlen;
	unsigned i;
	int r = -1;

	for (i = 1; s->cv != AM_ARC_FAIL && i < s->inst; i++) {
		if ((f = am_arc_fields(a, i)) == NULL) {
			am_buf_setf(why, "instance %u missing", i);
			return -1;
		}
		fl[n++] = f->aar;
		fl[n++] = f->ams;
		fl[n++] = f->as;
	}
	as_value(s, "");
	fl[n++] = &s->faar;
	fl[n++] = &s->fams;
	fl[n++] = &s->fas;
	if ((dlen = am_arc_seal_digest(fl, n, dig)) != 0 &&
	    sign_digest(s->p->key, dig, dlen, &b) == 0) {
		as_value(s, am_buf_str(&b));
		r = 0;
	} else
		am_buf_setf(why, "cannot sign the AS");
	am_buf_release(&b);
	return r;
}

/* Which instance and cv= we seal with; AM_ARC_SEALED when we may. */
static enum am_arc_seal_status
seal_plan(const struct am_arc *a, struct seal *s, struct am_buf *why)
{
	const struct am_arc_result *res = am_arc_result(a);
	unsigned i;

	if (res->cv == AM_ARC_TEMPERROR) {
		am_buf_setf(why, "chain verdict is temperror: not sealing");
		return AM_ARC_NOSEAL;
	}
	/* s.5.1 step 1: only the most recent AS saying fail ends sealing.
	 * An older cv=fail under a later cv=pass makes the chain fail
	 * (s.5.2 step 3), and we seal that: cv=fail over our set only. */
	if ((i = am_arc_newest_cv_fail(a)) != 0) {
		am_buf_setf(why, "the newest ARC-Seal (i=%u) says cv=fail", i);
		return AM_ARC_NOSEAL;
	}
	if (res->count >= AM_ARC_MAX_INSTANCES) {
		am_buf_setf(why, "the chain has %u instances",
		    AM_ARC_MAX_INSTANCES);
		return AM_ARC_NOSEAL;
	}
	s->inst = res->count + 1;
	s->cv = res->cv;
	return AM_ARC_SEALED;
}

static int
params_ok(const struct am_arc_seal_params *p, struct am_buf *why)
{
	if (p->key == NULL || p->domain == NULL || !*p->domain ||
	    p->selector == NULL || !*p->selector || p->authserv_id == NULL ||
	    !*p->authserv_id || strpbrk(p->domain, "; \t\r\n") ||
	    strpbrk(p->selector, "; \t\r\n")) {
		am_buf_setf(why, "sealing needs a key, d=, s= and authserv-id");
		return -1;
	}
	return 0;
}

/* The value v (CRLF folds, no other CR) with "\n" folds, in place. */
static char *
lf_folds(char *v)
{
	char *o = v, *p = v;

	if (v == NULL)
		return NULL;
	for (; *p != '\0'; p++)
		if (*p != '\r')
			*o++ = *p;
	*o = '\0';
	return v;
}

enum am_arc_seal_status
am_arc_seal(const struct am_arc *a, const struct am_arc_seal_params *p,
    struct am_arc_sealed *out, struct am_buf *why)
{
	struct seal s;
	enum am_arc_seal_status st;

	memset(out, 0, sizeof(*out));
	memset(&s, 0, sizeof(s));
	if (params_ok(p, why) != 0 || am_arc_hdrs(a) == NULL)
		return AM_ARC_SEAL_ERROR;
	if ((st = seal_plan(a, &s, why)) != AM_ARC_SEALED)
		return st;
	s.p = p;
	snprintf(s.ts, sizeof(s.ts), "%lld",
	    (long long)(p->now ? p->now : time(NULL)));
	snprintf(s.is, sizeof(s.is), "%u", s.inst);
	am_buf_init(&s.aar, AM_ARC_AAR_MAX);
	am_buf_init(&s.ams, AM_DKIM_SIG_MAX);
	am_buf_init(&s.as, AM_DKIM_SIG_MAX);
	s.faar.name = (char *)"ARC-Authentication-Results";
	s.fams.name = (char *)"ARC-Message-Signature";
	s.fas.name = (char *)"ARC-Seal";
	s.faar.namelen = 26, s.fams.namelen = 21, s.fas.namelen = 8;
	st = AM_ARC_SEAL_ERROR;
	if (build_aar(p, s.inst, &s.aar) != 0)
		am_buf_setf(why, "results text too long");
	else {
		s.faar.value = s.aar.data;
		s.faar.vlen = s.aar.len;
		if (make_ams(&s, a, why) == 0 && make_as(&s, a, why) == 0)
			st = AM_ARC_SEALED;
	}
	if (st == AM_ARC_SEALED) {
		out->instance = s.inst;
		out->cv = s.cv;
		out->aar = lf_folds(am_buf_steal(&s.aar));
		out->ams = lf_folds(am_buf_steal(&s.ams));
		out->as = lf_folds(am_buf_steal(&s.as));
	}
	am_buf_release(&s.aar);
	am_buf_release(&s.ams);
	am_buf_release(&s.as);
	return st;
}

void
am_arc_sealed_release(struct am_arc_sealed *out)
{
	free(out->as);
	free(out->ams);
	free(out->aar);
	out->as = out->ams = out->aar = NULL;
}
