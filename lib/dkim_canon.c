/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dkim_canon: DKIM canonicalization (RFC 6376 s.3.4) and the streaming
 * body hasher.
 *
 * Headers (s.3.4.1, s.3.4.2): am_dkim_canon_header() appends one field to
 * a buffer. "relaxed" lower-cases the name, drops WSP before the colon,
 * unfolds (removes each CRLF of the value, and only CRLF: a bare CR or LF,
 * as in a line ending CR CR LF, stays as an octet of the value, as s.3.4.2
 * says), turns each WSP run into one SP and trims WSP (only SP and HTAB)
 * from both ends of the value. "simple" changes nothing. (dkimpy trims a
 * bare CR at the very end of a value too, Python's bytes.strip(); the RFC
 * trims WSP only, and so do we.)
 *
 * Body (s.3.4.3, s.3.4.4 with erratum 3192): struct am_dkim_bh hashes the
 * canonical body as chunks arrive, in constant memory. Line ends are CRLF;
 * a bare CR or LF is an ordinary octet. Empty lines are held back as a
 * count (they are dropped if nothing follows), a pending WSP run as a
 * flag, and a CR at the end of a chunk as a flag until the next chunk
 * says whether an LF follows. At the end "simple" always adds one CRLF
 * (the empty body becomes CRLF, trailing empty lines become one), and
 * "relaxed" adds one only when there was content (the empty body stays
 * empty). Runs of unchanged bytes are hashed straight from the caller's
 * buffer: simple passes each chunk through whole, relaxed scans with a
 * class table and breaks runs only where its output differs. l= stops the
 * hash after that many canonical octets; the canonical length is still
 * counted up to l= + 1 so that the caller can tell "l= exceeds body".
 */
#include <stdlib.h>
#include <string.h>

#include <openssl/evp.h>
#ifdef __SSE2__
#include <emmintrin.h>
#endif

#include "dkim_int.h"

struct am_dkim_bh {
	enum am_dkim_canon c;
	const EVP_MD *md;
	int64_t limit;          /* l=, or -1 */
	EVP_MD_CTX *ctx;
	uint64_t total;         /* canonical octets produced */
	uint64_t hashed;        /* of which hashed (<= limit) */
	uint64_t crlf;          /* CRLFs held back */
	int cr;                 /* last chunk ended in CR */
	int wsp;                /* relaxed: WSP run held back */
	int any;                /* relaxed: some content was produced */
	int err;                /* a digest call failed */
};

/* 1 for octets where relaxed output may differ from its input. */
static const unsigned char special[256] = {
	['\t'] = 1, ['\r'] = 1, [' '] = 1,
};

#define CRLF8 "\r\n\r\n\r\n\r\n\r\n\r\n\r\n\r\n"
static const char crlfs[] = CRLF8 CRLF8 CRLF8 CRLF8;	/* 32 CRLFs */

static const EVP_MD *
md_by_name(const char *md)
{
	if (strcmp(md, "sha256") == 0)
		return EVP_sha256();
	if (strcmp(md, "sha1") == 0)
		return EVP_sha1();
	return NULL;
}

int
am_dkim_canon_header(enum am_dkim_canon c, const char *name, size_t nlen,
    const char *value, size_t vlen, int crlf, struct am_buf *out)
{
	size_t i, start;
	int r = 0, ws = 0;

	if (c == AM_DKIM_SIMPLE) {
		r |= am_buf_add(out, name, nlen);
		r |= am_buf_addc(out, ':');
		r |= am_buf_add(out, value, vlen);
	} else {
		while (nlen > 0 && (name[nlen - 1] == ' ' ||
		    name[nlen - 1] == '\t'))
			nlen--;
		for (i = 0; i < nlen; i++) {
			char ch = name[i];
			r |= am_buf_addc(out, ch >= 'A' && ch <= 'Z' ?
			    ch + ('a' - 'A') : ch);
		}
		r |= am_buf_addc(out, ':');
		start = out->len;
		for (i = 0; i < vlen; i++) {
			char ch = value[i];
			/* Unfolding removes CRLF only; a bare CR or LF is
			 * an ordinary octet (s.3.4.2). */
			if (ch == '\r' && i + 1 < vlen && value[i + 1] == '\n') {
				i++;
				continue;
			}
			if (ch == ' ' || ch == '\t') {
				ws = 1;
				continue;
			}
			if (ws && out->len > start)
				r |= am_buf_addc(out, ' ');
			ws = 0;
			r |= am_buf_addc(out, ch);
		}
	}
	if (crlf)
		r |= am_buf_add(out, "\r\n", 2);
	return r != 0 ? -1 : 0;
}

struct am_dkim_bh *
am_dkim_bh_new(enum am_dkim_canon c, const char *md, int64_t limit)
{
	struct am_dkim_bh *bh;

	if ((bh = calloc(1, sizeof(*bh))) == NULL)
		return NULL;
	bh->c = c;
	bh->limit = limit < 0 ? -1 : limit;
	if ((bh->md = md_by_name(md)) == NULL ||
	    (bh->ctx = EVP_MD_CTX_new()) == NULL ||
	    EVP_DigestInit_ex(bh->ctx, bh->md, NULL) != 1)
		return am_dkim_bh_free(bh);
	return bh;
}

struct am_dkim_bh *
am_dkim_bh_free(struct am_dkim_bh *bh)
{
	if (bh != NULL) {
		EVP_MD_CTX_free(bh->ctx);
		free(bh);
	}
	return NULL;
}

int
am_dkim_bh_is(const struct am_dkim_bh *bh, enum am_dkim_canon c,
    const char *md, int64_t limit)
{
	return bh->c == c && bh->md == md_by_name(md) &&
	    bh->limit == (limit < 0 ? -1 : limit);
}

/* Hash n canonical octets (up to the limit) and count them. */
static void
emit(struct am_dkim_bh *bh, const void *p, size_t n)
{
	bh->total += n;
	if (bh->limit >= 0) {
		uint64_t room = (uint64_t)bh->limit - bh->hashed;
		if (n > room)
			n = (size_t)room;
	}
	if (n > 0 && EVP_DigestUpdate(bh->ctx, p, n) != 1)
		bh->err = 1;
	bh->hashed += n;
}

static void
flush_crlf(struct am_dkim_bh *bh)
{
	size_t k;

	while (bh->crlf > 0) {
		k = bh->crlf > 32 ? 32 : (size_t)bh->crlf;
		emit(bh, crlfs, 2 * k);
		bh->crlf -= k;
	}
}

/* Content follows: what was held back is not trailing after all. */
static void
flush_pending(struct am_dkim_bh *bh)
{
	flush_crlf(bh);
	if (bh->wsp) {
		emit(bh, " ", 1);
		bh->wsp = 0;
	}
	bh->any = 1;
}

static void
simple_update(struct am_dkim_bh *bh, const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n, *t, *s;
	uint64_t k = 0;
	int cr = 0;

	if (bh->cr) {
		bh->cr = 0;
		if (*p == '\n') {
			bh->crlf++;
			p++;
		} else {
			flush_crlf(bh);
			emit(bh, "\r", 1);
		}
	}
	if (p == end)
		return;
	t = end;
	if (t[-1] == '\r') {
		cr = 1;
		t--;
	}
	for (s = t; s - p >= 2 && s[-1] == '\n' && s[-2] == '\r'; s -= 2)
		k++;
	if (s > p) {
		flush_crlf(bh);
		emit(bh, p, (size_t)(s - p));
		bh->crlf = k;
	} else
		bh->crlf += k;
	bh->cr = cr;
}

/*
 * Skip 16 octets at a time while relaxed leaves them as they are: no HTAB,
 * no SP before WSP or CR, and every CR followed by LF and an ordinary
 * octet. Returns the first octet the byte loop must look at. SSE2 only
 * (every x86-64); elsewhere the byte loop does all the work.
 */
static const unsigned char *
skip16(const unsigned char *q, const unsigned char *end)
{
#ifdef __SSE2__
	const __m128i sp = _mm_set1_epi8(' '), tab = _mm_set1_epi8('\t');
	const __m128i cr = _mm_set1_epi8('\r'), lf = _mm_set1_epi8('\n');
	unsigned msp, mtab, mcr, lfs, spec, bad;
	__m128i v;

	while (end - q >= 18) {
		v = _mm_loadu_si128((const __m128i *)(const void *)q);
		msp = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, sp));
		mtab = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, tab));
		mcr = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, cr));
		lfs = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(v, lf)) |
		    (unsigned)(q[16] == '\n') << 16;
		spec = msp | mtab | mcr | (unsigned)special[q[16]] << 16 |
		    (unsigned)special[q[17]] << 17;
		bad = (mtab | (msp & (spec >> 1)) |
		    (mcr & (~(lfs >> 1) | (spec >> 2)))) & 0xffff;
		if (bad != 0)
			return q + __builtin_ctz(bad);
		q += 16;
	}
#else
	(void)end;
#endif
	return q;
}

/* End of a run of octets that relaxed leaves as they are; p is ordinary. */
static const unsigned char *
run_end(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *q = p + 1;

	for (;;) {
		q = skip16(q, end);
		while (q < end && !special[*q])
			q++;
		if (end - q < 2)
			return q;
		if (q[0] == ' ' && !special[q[1]])
			q += 2;
		else if (q[0] == '\r' && q[1] == '\n' && end - q >= 3 &&
		    !special[q[2]])
			q += 3;
		else
			return q;
	}
}

static void
relaxed_update(struct am_dkim_bh *bh, const unsigned char *p, size_t n)
{
	const unsigned char *end = p + n, *q;

	if (bh->cr) {
		bh->cr = 0;
		if (*p == '\n') {
			bh->wsp = 0;
			bh->crlf++;
			p++;
		} else {
			flush_pending(bh);
			emit(bh, "\r", 1);
		}
	}
	while (p < end) {
		if (*p == ' ' || *p == '\t') {
			bh->wsp = 1;
			p++;
		} else if (*p == '\r' && p + 1 == end) {
			bh->cr = 1;
			p++;
		} else if (*p == '\r' && p[1] == '\n') {
			bh->wsp = 0;
			bh->crlf++;
			p += 2;
		} else {
			q = *p == '\r' ? p + 1 : run_end(p, end);
			flush_pending(bh);
			emit(bh, p, (size_t)(q - p));
			p = q;
		}
	}
}

void
am_dkim_bh_update(struct am_dkim_bh *bh, const unsigned char *p, size_t n)
{
	if (n == 0)
		return;
	/* Past l= the rest of the body cannot matter. */
	if (bh->limit >= 0 && bh->total > (uint64_t)bh->limit)
		return;
	if (bh->c == AM_DKIM_SIMPLE)
		simple_update(bh, p, n);
	else
		relaxed_update(bh, p, n);
}

size_t
am_dkim_bh_final(struct am_dkim_bh *bh, unsigned char *out,
    uint64_t *canonlen)
{
	unsigned int len = 0;

	if (!(bh->limit >= 0 && bh->total > (uint64_t)bh->limit)) {
		if (bh->cr) {
			if (bh->c == AM_DKIM_SIMPLE)
				flush_crlf(bh);
			else
				flush_pending(bh);
			emit(bh, "\r", 1);
			bh->cr = 0;
		}
		if (bh->c == AM_DKIM_SIMPLE || bh->any)
			emit(bh, "\r\n", 2);
	}
	if (canonlen != NULL)
		*canonlen = bh->total;
	if (bh->err || EVP_DigestFinal_ex(bh->ctx, out, &len) != 1)
		return 0;
	return len;
}
