/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * hdr: a message's header fields as received. See hdr.h.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "hdr.h"

void
am_hdrs_init(struct am_hdrs *h, size_t max_count, size_t max_bytes)
{
	memset(h, 0, sizeof(*h));
	h->max_count = max_count;
	h->max_bytes = max_bytes;
}

void
am_hdrs_release(struct am_hdrs *h)
{
	size_t i;

	for (i = 0; i < h->n; i++) {
		free(h->v[i].name);
		free(h->v[i].value);
	}
	free(h->v);
	am_hdrs_init(h, h->max_count, h->max_bytes);
}

/* Copy value with bare LF turned into CRLF. */
static char *
crlf_copy(const char *value, size_t vlen, size_t *outlen)
{
	size_t i, n = 0, lf = 0;
	char *out;

	for (i = 0; i < vlen; i++)
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			lf++;
	if ((out = malloc(vlen + lf + 1)) == NULL)
		return NULL;
	for (i = 0; i < vlen; i++) {
		if (value[i] == '\n' && (i == 0 || value[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = value[i];
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

enum am_hdr_status
am_hdrs_add(struct am_hdrs *h, const char *name, const char *value, size_t vlen)
{
	struct am_hdr f, *v;
	size_t nlen = strlen(name);

	if (h->n >= h->max_count)
		return AM_HDR_TOO_MANY;
	if (nlen + vlen > h->max_bytes - h->bytes || nlen + vlen > h->max_bytes)
		return AM_HDR_TOO_BIG;
	if (h->n == h->alloc) {
		size_t na = h->alloc ? h->alloc * 2 : 32;
		if ((v = realloc(h->v, na * sizeof(*v))) == NULL)
			return AM_HDR_NOMEM;
		h->v = v;
		h->alloc = na;
	}
	f.namelen = nlen;
	if ((f.name = strdup(name)) == NULL)
		return AM_HDR_NOMEM;
	if ((f.value = crlf_copy(value, vlen, &f.vlen)) == NULL) {
		free(f.name);
		return AM_HDR_NOMEM;
	}
	/* bare LFs grew the value: the cap counts what is stored, so that
	 * bytes never passes max_bytes (max_bytes - bytes would wrap) */
	if (nlen + f.vlen > h->max_bytes - h->bytes) {
		free(f.name);
		free(f.value);
		return AM_HDR_TOO_BIG;
	}
	h->v[h->n++] = f;
	h->bytes += nlen + f.vlen;
	return AM_HDR_OK;
}

int
am_hdr_is(const struct am_hdr *f, const char *name)
{
	return strcasecmp(f->name, name) == 0;
}
