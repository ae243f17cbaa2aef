/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * testmsg: helpers shared by the DKIM test programs. See testmsg.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "testmsg.h"

/* End of the line starting at p (the offset after its CRLF or LF). */
static size_t
line_end(const char *data, size_t len, size_t p)
{
	const char *nl = memchr(data + p, '\n', len - p);

	return nl ? (size_t)(nl - data) + 1 : len;
}

static void
add_field(struct am_hdrs *h, const char *data, size_t start, size_t end)
{
	const char *colon = memchr(data + start, ':', end - start);
	char *name;
	size_t vend = end;

	if (colon == NULL)
		return;
	if (vend > start && data[vend - 1] == '\n')
		vend--;
	if (vend > start && data[vend - 1] == '\r')
		vend--;
	name = strndup(data + start, (size_t)(colon - (data + start)));
	if (name == NULL)
		return;
	(void)am_hdrs_add(h, name, colon + 1, vend - (size_t)(colon + 1 - data));
	free(name);
}

int
am_test_msg_split(const char *data, size_t len, struct am_hdrs *h,
    size_t *body_off)
{
	size_t p = 0, start, e;

	for (;;) {
		if (p >= len) {
			*body_off = len;
			return 0;
		}
		if (data[p] == '\n' || (data[p] == '\r' && p + 1 < len &&
		    data[p + 1] == '\n')) {
			*body_off = line_end(data, len, p);
			return 0;
		}
		start = p;
		e = line_end(data, len, p);
		while (e < len && (data[e] == ' ' || data[e] == '\t'))
			e = line_end(data, len, e);
		add_field(h, data, start, e);
		p = e;
	}
}

char *
am_test_lf2crlf(const char *data, size_t len, size_t *outlen)
{
	char *out = malloc(2 * len + 1);
	size_t i, n = 0;

	if (out == NULL)
		return NULL;
	for (i = 0; i < len; i++) {
		if (data[i] == '\n' && (i == 0 || data[i - 1] != '\r'))
			out[n++] = '\r';
		out[n++] = data[i];
	}
	out[n] = '\0';
	*outlen = n;
	return out;
}

char *
am_test_readfile(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	char *buf = NULL, *nb;
	size_t n = 0, cap = 0, r;

	if (fp == NULL)
		return NULL;
	do {
		if (cap - n < 65536) {
			cap = cap ? cap * 2 : 131072;
			if ((nb = realloc(buf, cap + 1)) == NULL) {
				free(buf);
				fclose(fp);
				return NULL;
			}
			buf = nb;
		}
		r = fread(buf + n, 1, cap - n, fp);
		n += r;
	} while (r > 0);
	fclose(fp);
	buf[n] = '\0';
	*len = n;
	return buf;
}

struct failing {
	struct am_dns *inner;
	char **fail;
	size_t nfail;
};

static enum am_dns_status
failing_query(void *state, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct failing *f = state;
	size_t i;

	for (i = 0; i < f->nfail; i++)
		if (strcasecmp(f->fail[i], name) == 0) {
			am_buf_setf(why, "query timed out (test)");
			return AM_DNS_TEMPFAIL;
		}
	return am_dns_query(f->inner, name, type, ans, why);
}

static void
failing_close(void *state)
{
	struct failing *f = state;
	size_t i;

	am_dns_free(f->inner);
	for (i = 0; i < f->nfail; i++)
		free(f->fail[i]);
	free(f->fail);
	free(f);
}

static const struct am_dns_backend failing_be = {
	.name = "test-failing",
	.query = failing_query,
	.close = failing_close,
};

struct am_dns *
am_test_failing_dns(struct am_dns *inner, const char *const *fail,
    size_t nfail)
{
	struct failing *f = calloc(1, sizeof(*f));
	size_t i;

	if (f == NULL)
		return NULL;
	f->inner = inner;
	f->fail = calloc(nfail + 1, sizeof(*f->fail));
	for (i = 0; f->fail && i < nfail; i++)
		f->fail[f->nfail++] = strdup(fail[i]);
	return am_dns_new(&failing_be, f);
}
