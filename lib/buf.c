/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * buf: growable byte strings with a hard size cap. See buf.h.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "buf.h"

void
am_buf_init(struct am_buf *b, size_t cap)
{
	b->data = NULL;
	b->len = b->size = 0;
	b->cap = cap;
	b->truncated = 0;
}

void
am_buf_reset(struct am_buf *b)
{
	b->len = 0;
	b->truncated = 0;
	if (b->data != NULL)
		b->data[0] = '\0';
}

void
am_buf_release(struct am_buf *b)
{
	free(b->data);
	am_buf_init(b, b->cap);
}

/* Make room for need more bytes plus the NUL, within cap. */
static int
reserve(struct am_buf *b, size_t need)
{
	size_t want, nsize;
	char *p;

	want = b->len + need + 1;
	if (want <= b->size)
		return 0;
	nsize = b->size ? b->size : 64;
	while (nsize < want)
		nsize *= 2;
	if (nsize > b->cap + 1)
		nsize = b->cap + 1;
	if ((p = realloc(b->data, nsize)) == NULL)
		return -1;
	b->data = p;
	b->size = nsize;
	return 0;
}

int
am_buf_add(struct am_buf *b, const void *p, size_t n)
{
	int cut = 0;

	if (n > b->cap - b->len) {
		n = b->cap - b->len;
		cut = 1;
	}
	if (reserve(b, n) != 0)
		return -1;
	if (n > 0)
		memcpy(b->data + b->len, p, n);
	b->len += n;
	if (b->data != NULL)
		b->data[b->len] = '\0';
	if (cut)
		b->truncated = 1;
	return cut ? -1 : 0;
}

int
am_buf_addc(struct am_buf *b, int c)
{
	char ch = (char)c;

	return am_buf_add(b, &ch, 1);
}

int
am_buf_adds(struct am_buf *b, const char *s)
{
	return am_buf_add(b, s, strlen(s));
}

int
am_buf_vprintf(struct am_buf *b, const char *fmt, va_list ap)
{
	char small[256];
	va_list cp;
	int n, r;
	char *big;

	va_copy(cp, ap);
	n = vsnprintf(small, sizeof(small), fmt, cp);
	va_end(cp);
	if (n < 0)
		return -1;
	if ((size_t)n < sizeof(small))
		return am_buf_add(b, small, (size_t)n);
	if ((big = malloc((size_t)n + 1)) == NULL)
		return -1;
	vsnprintf(big, (size_t)n + 1, fmt, ap);
	r = am_buf_add(b, big, (size_t)n);
	free(big);
	return r;
}

int
am_buf_printf(struct am_buf *b, const char *fmt, ...)
{
	va_list ap;
	int r;

	va_start(ap, fmt);
	r = am_buf_vprintf(b, fmt, ap);
	va_end(ap);
	return r;
}

const char *
am_buf_str(const struct am_buf *b)
{
	return b->data != NULL ? b->data : "";
}

void
am_buf_setf(struct am_buf *b, const char *fmt, ...)
{
	va_list ap;

	if (b == NULL)
		return;
	am_buf_reset(b);
	va_start(ap, fmt);
	(void)am_buf_vprintf(b, fmt, ap);
	va_end(ap);
}

char *
am_buf_steal(struct am_buf *b)
{
	char *p = b->data;

	if (p == NULL)
		p = calloc(1, 1);
	am_buf_init(b, b->cap);
	return p;
}

int
am_buf_hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}
