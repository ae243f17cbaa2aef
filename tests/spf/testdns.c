/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * testdns: timeouts on top of a zone back end. See testdns.h.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "testdns.h"
#include "manifest.h"

struct rule {
	char *name;             /* exact name, or substring when sub */
	char *answered;         /* types answered normally */
	int sub;
};

struct testdns {
	struct am_dns *inner;
	struct rule *v;
	size_t n;
};

static const struct {
	const char *name;
	int type;
} types[] = {
	{ "A", AM_DNS_T_A }, { "AAAA", AM_DNS_T_AAAA }, { "MX", AM_DNS_T_MX },
	{ "PTR", AM_DNS_T_PTR }, { "CNAME", AM_DNS_T_CNAME },
	{ "TXT", AM_DNS_T_TXT },
};

int
testdns_type(const char *name)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (strcasecmp(types[i].name, name) == 0)
			return types[i].type;
	return -1;
}

static const char *
type_name(int type)
{
	size_t i;

	for (i = 0; i < sizeof(types) / sizeof(types[0]); i++)
		if (types[i].type == type)
			return types[i].name;
	return "?";
}

/* Case-insensitive substring test. */
static int
has_sub(const char *s, const char *sub)
{
	size_t n = strlen(sub);

	for (; *s != '\0'; s++)
		if (strncasecmp(s, sub, n) == 0)
			return 1;
	return 0;
}

static enum am_dns_status
tquery(void *state, const char *name, int type, struct am_dns_answer **ans,
    struct am_buf *why)
{
	struct testdns *t = state;
	size_t i;

	for (i = 0; i < t->n; i++) {
		struct rule *r = &t->v[i];
		if (r->sub ? !has_sub(name, r->name) :
		    strcasecmp(name, r->name) != 0)
			continue;
		if (!r->sub && mf_list_has(r->answered, type_name(type)))
			continue;
		am_buf_setf(why, "timeout (test data)");
		return AM_DNS_TEMPFAIL;
	}
	return am_dns_query(t->inner, name, type, ans, why);
}

static void
tclose(void *state)
{
	struct testdns *t = state;
	size_t i;

	am_dns_free(t->inner);
	for (i = 0; i < t->n; i++) {
		free(t->v[i].name);
		free(t->v[i].answered);
	}
	free(t->v);
	free(t);
}

static const struct am_dns_backend testdns_backend = {
	.name = "testdns",
	.query = tquery,
	.close = tclose,
};

struct am_dns *
testdns_new(struct am_dns *inner, struct testdns **rules)
{
	struct testdns *t;
	struct am_dns *d;

	if ((t = calloc(1, sizeof(*t))) == NULL)
		return NULL;
	t->inner = inner;
	if ((d = am_dns_new(&testdns_backend, t)) == NULL) {
		tclose(t);
		return NULL;
	}
	*rules = t;
	return d;
}

static int
add_rule(struct testdns *t, const char *name, const char *answered, int sub)
{
	struct rule *v;

	if ((v = realloc(t->v, (t->n + 1) * sizeof(*v))) == NULL)
		return -1;
	t->v = v;
	v[t->n].name = strdup(name);
	v[t->n].answered = strdup(answered);
	v[t->n].sub = sub;
	t->n++;
	return 0;
}

int
testdns_timeout(struct testdns *t, const char *name, const char *answered)
{
	return add_rule(t, name, answered, 0);
}

int
testdns_errsub(struct testdns *t, const char *sub)
{
	return add_rule(t, sub, "", 1);
}
