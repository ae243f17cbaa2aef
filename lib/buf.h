/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * buf: growable byte strings with a hard size cap.
 *
 * Every string built from hostile input (DNS answers, header values, macro
 * expansions) goes through a struct am_buf whose cap is fixed when it is
 * initialised: appending past the cap truncates and sets `truncated`, it never
 * grows the buffer further. The data is always NUL terminated.
 *
 * Ownership: the struct is usually embedded in its owner; am_buf_release()
 * frees the data and leaves an empty buffer with the same cap.
 *
 * am_buf_hexval() is the one hex digit decoder of the library, for the
 * escapes decoded into buffers (DKIM i= qp-section, the report store's
 * %XX list encoding).
 */
#ifndef AM_BUF_H
#define AM_BUF_H

#include <stdarg.h>
#include <stddef.h>

struct am_buf {
	char *data;      /* NUL terminated; NULL until the first append */
	size_t len;      /* bytes in use, without the NUL */
	size_t size;     /* bytes allocated */
	size_t cap;      /* most bytes it may hold (without the NUL) */
	int truncated;   /* an append was cut at cap */
};

#define AM_BUF_DEFAULT_CAP 4096
#define AM_BUF_INIT(cap) { NULL, 0, 0, (cap), 0 }

/* Initialise an empty buffer that holds at most cap bytes. */
void am_buf_init(struct am_buf *b, size_t cap);
/* Forget the contents, keep the allocation. */
void am_buf_reset(struct am_buf *b);
/* Free the data; the buffer is empty and reusable afterwards. */
void am_buf_release(struct am_buf *b);
/* Append n bytes; 0, or -1 when truncated at cap (or out of memory). */
int am_buf_add(struct am_buf *b, const void *p, size_t n);
/* Append one byte; 0 or -1 as am_buf_add. */
int am_buf_addc(struct am_buf *b, int c);
/* Append a NUL terminated string; 0 or -1 as am_buf_add. */
int am_buf_adds(struct am_buf *b, const char *s);
/* Append formatted text; 0 or -1 as am_buf_add. */
int am_buf_printf(struct am_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
int am_buf_vprintf(struct am_buf *b, const char *fmt, va_list ap);
/* The contents as a C string; "" when empty. Valid until the next change. */
const char *am_buf_str(const struct am_buf *b);
/* Replace the contents with formatted text (for "why" reasons); NULL b is a no-op. */
void am_buf_setf(struct am_buf *b, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* Take the data out as a malloc'd string (caller frees); the buffer is left empty. */
char *am_buf_steal(struct am_buf *b);
/* The value of the hex digit c (0-9, A-F, a-f); -1 for any other byte. */
int am_buf_hexval(int c);

#endif
