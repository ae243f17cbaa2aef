/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * net: IP addresses and CIDR lists. See net.h.
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "net.h"

static const unsigned char v4mapped[12] =
    { 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff };

int
am_addr_parse(struct am_addr *a, const char *s)
{
	memset(a, 0, sizeof(*a));
	if (inet_pton(AF_INET, s, a->b) == 1) {
		a->family = AF_INET;
		return 0;
	}
	if (inet_pton(AF_INET6, s, a->b) != 1)
		return -1;
	a->family = AF_INET6;
	if (memcmp(a->b, v4mapped, sizeof(v4mapped)) == 0) {
		memmove(a->b, a->b + 12, 4);
		memset(a->b + 4, 0, 12);
		a->family = AF_INET;
	}
	return 0;
}

char *
am_addr_format(const struct am_addr *a, char *out, size_t len)
{
	if (inet_ntop(a->family, a->b, out, (socklen_t)len) == NULL && len > 0)
		out[0] = '\0';
	return out;
}

size_t
am_addr_len(const struct am_addr *a)
{
	return a->family == AF_INET ? 4 : 16;
}

int
am_addr_match(const struct am_addr *a, const struct am_addr *b, int prefix)
{
	int full = prefix / 8, rest = prefix % 8;
	unsigned char mask;

	if (a->family != b->family || prefix < 0 ||
	    (size_t)prefix > am_addr_len(a) * 8)
		return 0;
	if (memcmp(a->b, b->b, (size_t)full) != 0)
		return 0;
	if (rest == 0)
		return 1;
	mask = (unsigned char)(0xff << (8 - rest));
	return (a->b[full] & mask) == (b->b[full] & mask);
}

/* Clear the bits after prefix. */
static void
clear_host_bits(struct am_addr *a, int prefix)
{
	size_t i, len = am_addr_len(a);

	for (i = 0; i < len; i++) {
		int bit = (int)i * 8;
		if (bit >= prefix + 8 || bit + 8 <= prefix) {
			if (bit >= prefix)
				a->b[i] = 0;
			continue;
		}
		a->b[i] &= (unsigned char)(0xff << (8 - (prefix - bit)));
	}
}

int
am_cidr_parse(struct am_cidr *c, const char *s, struct am_buf *why)
{
	char tmp[64], *slash, *end;
	long prefix;
	int v6mapped;

	if (strlen(s) >= sizeof(tmp)) {
		am_buf_setf(why, "\"%.64s...\" is not a network", s);
		return -1;
	}
	strcpy(tmp, s);
	slash = strchr(tmp, '/');
	if (slash != NULL)
		*slash++ = '\0';
	v6mapped = strchr(tmp, ':') != NULL;
	if (am_addr_parse(&c->addr, tmp) != 0) {
		am_buf_setf(why, "\"%s\" is not an IP address", s);
		return -1;
	}
	prefix = (long)am_addr_len(&c->addr) * 8;
	if (slash != NULL) {
		errno = 0;
		if (!isdigit((unsigned char)*slash) ||
		    (prefix = strtol(slash, &end, 10), *end != '\0') ||
		    errno != 0) {
			am_buf_setf(why, "\"%s\" has a bad prefix length", s);
			return -1;
		}
		/* ::ffff:a.b.c.d/N counts N over the 128-bit address. */
		if (v6mapped && c->addr.family == AF_INET)
			prefix -= 96;
		if (prefix < 0 || prefix > (long)am_addr_len(&c->addr) * 8) {
			am_buf_setf(why, "\"%s\": prefix length out of range", s);
			return -1;
		}
	}
	c->prefix = (int)prefix;
	clear_host_bits(&c->addr, c->prefix);
	return 0;
}

int
am_cidrlist_parse(struct am_cidrlist *list, const char *s, struct am_buf *why)
{
	char item[128];
	size_t n;
	struct am_cidr c, *v;

	while (*s != '\0') {
		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		n = strcspn(s, ", \t\r\n");
		if (n >= sizeof(item)) {
			am_buf_setf(why, "\"%.40s...\" is not a network", s);
			return -1;
		}
		memcpy(item, s, n);
		item[n] = '\0';
		s += n;
		if (am_cidr_parse(&c, item, why) != 0)
			return -1;
		if ((v = realloc(list->v, (list->n + 1) * sizeof(*v))) == NULL) {
			am_buf_setf(why, "out of memory");
			return -1;
		}
		list->v = v;
		list->v[list->n++] = c;
	}
	return 0;
}

int
am_cidrlist_match(const struct am_cidrlist *list, const struct am_addr *a)
{
	size_t i;

	for (i = 0; i < list->n; i++)
		if (am_addr_match(&list->v[i].addr, a, list->v[i].prefix))
			return 1;
	return 0;
}

void
am_cidrlist_clear(struct am_cidrlist *list)
{
	free(list->v);
	list->v = NULL;
	list->n = 0;
}
