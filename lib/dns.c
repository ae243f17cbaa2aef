/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dns: the generic layer of the DNS interface. See dns.h.
 *
 * am_dns_query() strips a trailing dot, checks the name (RFC 1035 s.2.3.4
 * lengths, no empty labels) so that no back end ever sees a bad name,
 * counts the query and hands it to the back end. Answers are reference
 * counted with atomic operations, so the cache may share one answer among
 * threads; they are never changed after the back end built them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "dns.h"
#include "dns_priv.h"

struct am_dns *
am_dns_new(const struct am_dns_backend *be, void *state)
{
	struct am_dns *d;

	if ((d = calloc(1, sizeof(*d))) == NULL)
		return NULL;
	d->be = be;
	d->state = state;
	return d;
}

struct am_dns *
am_dns_free(struct am_dns *d)
{
	if (d == NULL)
		return NULL;
	if (d->be != NULL && d->be->close != NULL)
		d->be->close(d->state);
	free(d);
	return NULL;
}

int
am_dns_name_check(const char *name, struct am_buf *why)
{
	size_t len, label;
	const char *p;

	if (name == NULL || *name == '\0' || strcmp(name, ".") == 0) {
		am_buf_setf(why, "empty domain name");
		return -1;
	}
	len = strlen(name);
	if (name[len - 1] == '.')
		len--;
	if (len > AM_DNS_NAME_MAX) {
		am_buf_setf(why, "domain name longer than %d octets",
		    AM_DNS_NAME_MAX);
		return -1;
	}
	label = 0;
	for (p = name; p <= name + len; p++) {
		if (p < name + len && *p != '.') {
			if (++label > 63) {
				am_buf_setf(why, "label longer than 63 octets "
				    "in domain name");
				return -1;
			}
			continue;
		}
		if (label == 0) {
			am_buf_setf(why, "empty label in domain name");
			return -1;
		}
		label = 0;
	}
	return 0;
}

/* Make the back end's result consistent with the contract in dns.h. */
static enum am_dns_status
settle(enum am_dns_status st, struct am_dns_answer **ans, struct am_buf *why)
{
	switch (st) {
	case AM_DNS_OK:
	case AM_DNS_NODATA:
	case AM_DNS_NXDOMAIN:
		if (*ans != NULL && (*ans)->status == st)
			return st;
		am_buf_setf(why, "DNS back end gave an inconsistent answer");
		break;
	default:
		if (st != AM_DNS_TEMPFAIL)
			am_buf_setf(why, "DNS back end gave status %d", (int)st);
		break;
	}
	*ans = am_dns_answer_free(*ans);
	return AM_DNS_TEMPFAIL;
}

uint64_t
am_dns_clock(struct am_dns *d)
{
	struct timespec ts;

	if (d != NULL && d->be->clock != NULL)
		return d->be->clock(d->state);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

enum am_dns_status
am_dns_query(struct am_dns *d, const char *name, int type,
    struct am_dns_answer **ans, struct am_buf *why)
{
	struct am_dns_ctl ctl = { 0, NULL, 0, 0 };

	return am_dns_query_ctl(d, name, type, &ctl, ans, why);
}

enum am_dns_status
am_dns_query_until(struct am_dns *d, const char *name, int type,
    uint64_t deadline, struct am_dns_answer **ans, struct am_buf *why)
{
	struct am_dns_ctl ctl = { deadline, NULL, 0, 0 };

	return am_dns_query_ctl(d, name, type, &ctl, ans, why);
}

enum am_dns_status
am_dns_query_ctl(struct am_dns *d, const char *name, int type,
    struct am_dns_ctl *ctl, struct am_dns_answer **ans, struct am_buf *why)
{
	char qname[AM_DNS_NAME_MAX + 1];
	enum am_dns_status st;
	size_t len;

	*ans = NULL;
	ctl->from_cache = 0;
	ctl->timed_out = 0;
	if (am_dns_name_check(name, why) != 0)
		return AM_DNS_BADNAME;
	if (type <= 0 || type > 65535) {
		am_buf_setf(why, "bad query type %d", type);
		return AM_DNS_BADNAME;
	}
	len = strlen(name);
	if (name[len - 1] == '.')
		len--;
	memcpy(qname, name, len);
	qname[len] = '\0';
	if (ctl->deadline != 0 && am_dns_clock(d) >= ctl->deadline) {
		am_buf_setf(why, "lookup deadline passed");
		ctl->timed_out = 1;
		return AM_DNS_TEMPFAIL;
	}
	__atomic_add_fetch(&d->queries, 1, __ATOMIC_RELAXED);
	if (d->be->query_ctl != NULL)
		st = d->be->query_ctl(d->state, qname, type, ctl, ans, why);
	else
		st = d->be->query(d->state, qname, type, ans, why);
	return settle(st, ans, why);
}

void
am_dns_prefetch(struct am_dns *d, const char *name, int type, int follow)
{
	char qname[AM_DNS_NAME_MAX + 1];
	size_t len;

	if (d == NULL || d->be->prefetch == NULL ||
	    am_dns_name_check(name, NULL) != 0 || type <= 0 || type > 65535)
		return;
	len = strlen(name);
	if (name[len - 1] == '.')
		len--;
	memcpy(qname, name, len);
	qname[len] = '\0';
	d->be->prefetch(d->state, qname, type, follow);
}

int
am_dns_submit(struct am_dns *d, const char *name, int type,
    const struct am_dns_ctl *ctl, struct am_dns_req *r)
{
	struct am_dns_ctl none = { 0, NULL, 0, 0 };
	char qname[AM_DNS_NAME_MAX + 1];
	size_t len;

	if (d == NULL || d->be->submit == NULL ||
	    am_dns_name_check(name, NULL) != 0 || type <= 0 || type > 65535)
		return -1;
	len = strlen(name);
	if (name[len - 1] == '.')
		len--;
	memcpy(qname, name, len);
	qname[len] = '\0';
	r->status = AM_DNS_TEMPFAIL;
	r->ans = NULL;
	r->from_cache = r->timed_out = 0;
	r->why[0] = '\0';
	r->next = NULL;
	r->link = NULL;
	r->state = 0;
	__atomic_add_fetch(&d->queries, 1, __ATOMIC_RELAXED);
	return d->be->submit(d->state, qname, type, ctl ? ctl : &none, r);
}

void
am_dns_cancel(struct am_dns *d, struct am_dns_req *r)
{
	if (d != NULL && d->be->cancel != NULL)
		d->be->cancel(d->state, r);
}

int
am_dns_cached(struct am_dns *d, const char *name, int type)
{
	if (d == NULL || d->be->cached == NULL ||
	    am_dns_name_check(name, NULL) != 0)
		return 0;
	return d->be->cached(d->state, name, type);
}

size_t
am_dns_name_wire(const char *name, unsigned char *out)
{
	size_t n, i, start;
	unsigned char c;

	n = 0;
	start = 0;
	for (i = 0;; i++) {
		if (name[i] != '.' && name[i] != '\0')
			continue;
		if (i - start > 63 || n + 1 + (i - start) + 1 > AM_DNS_WIRE_MAX)
			return 0;
		if (i > start) {
			out[n++] = (unsigned char)(i - start);
			for (; start < i; start++) {
				c = (unsigned char)name[start];
				out[n++] = (c >= 'A' && c <= 'Z') ? c + 32 : c;
			}
		}
		start = i + 1;
		if (name[i] == '\0')
			break;
	}
	out[n++] = 0;
	return n;
}

uint32_t
am_dns_hash(const void *p, size_t n, uint32_t h)
{
	const unsigned char *s = p;

	while (n-- > 0) {
		h ^= *s++;
		h *= 16777619u;
	}
	return h;
}

struct am_dns_answer *
am_dns_answer_new(enum am_dns_status st, int type, size_t n)
{
	struct am_dns_answer *a;

	/* The records follow the header in the same allocation. */
	if (n > AM_DNS_MAX_RRS * 4)
		return NULL;
	if ((a = calloc(1, sizeof(*a) + n * sizeof(struct am_dns_rr))) == NULL)
		return NULL;
	a->status = st;
	a->type = type;
	a->count = n;
	a->rr = n > 0 ? (struct am_dns_rr *)(a + 1) : NULL;
	a->refs = 1;
	return a;
}

struct am_dns_answer *
am_dns_answer_ref(struct am_dns_answer *a)
{
	if (a != NULL)
		__atomic_add_fetch(&a->refs, 1, __ATOMIC_RELAXED);
	return a;
}

struct am_dns_answer *
am_dns_answer_free(struct am_dns_answer *a)
{
	size_t i;

	if (a == NULL)
		return NULL;
	if (__atomic_sub_fetch(&a->refs, 1, __ATOMIC_ACQ_REL) != 0)
		return NULL;
	for (i = 0; i < a->count; i++)
		free(a->rr[i].text);
	free(a);
	return NULL;
}

const char *
am_dns_source_name(enum am_dns_source s)
{
	switch (s) {
	case AM_DNS_SRC_WIRE:
		return "wire";
	case AM_DNS_SRC_CACHE:
		return "cache";
	case AM_DNS_SRC_MESSAGE:
		return "message";
	case AM_DNS_SRC_SHARED:
		return "shared";
	case AM_DNS_SRC_DEADLINE:
		return "deadline";
	}
	return "unknown";
}

const char *
am_dns_type_name(int type, char *buf, size_t len)
{
	switch (type) {
	case AM_DNS_T_A:
		return "A";
	case AM_DNS_T_CNAME:
		return "CNAME";
	case AM_DNS_T_PTR:
		return "PTR";
	case AM_DNS_T_MX:
		return "MX";
	case AM_DNS_T_TXT:
		return "TXT";
	case AM_DNS_T_AAAA:
		return "AAAA";
	}
	snprintf(buf, len, "TYPE%d", type);
	return buf;
}

const char *
am_dns_status_name(enum am_dns_status st)
{
	switch (st) {
	case AM_DNS_OK:
		return "ok";
	case AM_DNS_NODATA:
		return "nodata";
	case AM_DNS_NXDOMAIN:
		return "nxdomain";
	case AM_DNS_TEMPFAIL:
		return "tempfail";
	case AM_DNS_BADNAME:
		return "badname";
	}
	return "unknown";
}
