/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * psl: the Public Suffix List. See psl.h.
 *
 * Rules live in one open-addressing hash table keyed by the rule's name
 * (without "*." or "!"), with flags saying which kinds of rule the name
 * carries. A lookup asks the table once or twice per label of the name.
 * Punycode is RFC 3492 s.6.3 (encoding only).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "psl.h"

#define F_RULE 0x1   /* "name" */
#define F_WILD 0x2   /* "*.name" */
#define F_EXC  0x4   /* "!name" */

struct slot {
	char *key;
	unsigned flags;
};

struct am_psl {
	struct slot *tab;
	size_t size;     /* slots, a power of two */
	size_t used;     /* keys */
	size_t rules;    /* rules read */
};

static uint32_t
hash(const char *s)
{
	uint32_t h = 2166136261u;

	for (; *s != '\0'; s++)
		h = (h ^ (unsigned char)*s) * 16777619u;
	return h;
}

static struct slot *
find(const struct am_psl *psl, const char *key)
{
	size_t i = hash(key) & (psl->size - 1);

	while (psl->tab[i].key != NULL) {
		if (strcmp(psl->tab[i].key, key) == 0)
			return &psl->tab[i];
		i = (i + 1) & (psl->size - 1);
	}
	return &psl->tab[i];
}

static int
grow(struct am_psl *psl)
{
	struct slot *old = psl->tab, *s;
	size_t i, osize = psl->size;

	psl->size = osize ? osize * 2 : 1024;
	if ((psl->tab = calloc(psl->size, sizeof(*psl->tab))) == NULL) {
		psl->tab = old;
		psl->size = osize;
		return -1;
	}
	for (i = 0; i < osize; i++)
		if (old[i].key != NULL) {
			s = find(psl, old[i].key);
			*s = old[i];
		}
	free(old);
	return 0;
}

static int
insert(struct am_psl *psl, const char *key, unsigned flags)
{
	struct slot *s;

	if ((psl->used + 1) * 2 > psl->size && grow(psl) != 0)
		return -1;
	s = find(psl, key);
	if (s->key == NULL) {
		if ((s->key = strdup(key)) == NULL)
			return -1;
		psl->used++;
	}
	s->flags |= flags;
	return 0;
}

static unsigned
flags_of(const struct am_psl *psl, const char *key)
{
	const struct slot *s = find(psl, key);

	return s->key != NULL ? s->flags : 0;
}

/* ---- Punycode (RFC 3492) ---- */

static int
adapt(uint32_t delta, uint32_t npoints, int first)
{
	uint32_t k = 0;

	delta = first ? delta / 700 : delta / 2;
	delta += delta / npoints;
	while (delta > ((36 - 1) * 26) / 2) {
		delta /= 36 - 1;
		k += 36;
	}
	return (int)(k + (36 * delta) / (delta + 38));
}

static int
put(char *out, size_t *o, size_t cap, int c)
{
	if (*o >= cap)
		return -1;
	out[(*o)++] = (char)c;
	return 0;
}

static int
digit(int d)
{
	return d < 26 ? 'a' + d : '0' + d - 26;
}

/* Emit delta as a generalized variable-length integer. */
static int
put_delta(char *out, size_t *o, size_t cap, uint32_t q, int bias)
{
	uint32_t k, t;

	for (k = 36;; k += 36) {
		t = k <= (uint32_t)bias ? 1 : k >= (uint32_t)bias + 26 ? 26 :
		    k - (uint32_t)bias;
		if (q < t)
			break;
		if (put(out, o, cap, digit((int)(t + (q - t) % (36 - t)))))
			return -1;
		q = (q - t) / (36 - t);
	}
	return put(out, o, cap, digit((int)q));
}

/* Punycode of n code points cp into out (cap bytes); length or -1. */
static int
punycode(const uint32_t *cp, size_t n, char *out, size_t cap)
{
	uint32_t cur = 128, delta = 0, m;
	size_t i, h, b = 0, o = 0;
	int bias = 72;

	for (i = 0; i < n; i++)
		if (cp[i] < 0x80 && put(out, &o, cap, (int)cp[i]) == 0)
			b++;
		else if (cp[i] < 0x80)
			return -1;
	if (b > 0 && put(out, &o, cap, '-') != 0)
		return -1;
	for (h = b; h < n; delta++, cur++) {
		for (m = UINT32_MAX, i = 0; i < n; i++)
			if (cp[i] >= cur && cp[i] < m)
				m = cp[i];
		if ((m - cur) > (UINT32_MAX - delta) / (h + 1))
			return -1;
		delta += (m - cur) * (uint32_t)(h + 1);
		cur = m;
		for (i = 0; i < n; i++) {
			if (cp[i] < cur && ++delta == 0)
				return -1;
			if (cp[i] != cur)
				continue;
			if (put_delta(out, &o, cap, delta, bias) != 0)
				return -1;
			bias = adapt(delta, (uint32_t)h + 1, h == b);
			delta = 0;
			h++;
		}
	}
	return (int)o;
}

/* Decode one UTF-8 sequence at s (up to end); code point or -1. */
static long
utf8_next(const unsigned char **s, const unsigned char *end)
{
	const unsigned char *p = *s;
	long c;
	int n, i;

	if (*p < 0x80)
		n = 0, c = *p;
	else if ((*p & 0xe0) == 0xc0)
		n = 1, c = *p & 0x1f;
	else if ((*p & 0xf0) == 0xe0)
		n = 2, c = *p & 0x0f;
	else if ((*p & 0xf8) == 0xf0)
		n = 3, c = *p & 0x07;
	else
		return -1;
	if (end - p <= n)
		return -1;
	for (i = 1; i <= n; i++) {
		if ((p[i] & 0xc0) != 0x80)
			return -1;
		c = (c << 6) | (p[i] & 0x3f);
	}
	if ((n == 1 && c < 0x80) || (n == 2 && c < 0x800) ||
	    (n == 3 && c < 0x10000) || c > 0x10ffff ||
	    (c >= 0xd800 && c <= 0xdfff))
		return -1;
	*s = p + n + 1;
	return c;
}

/* One label [s, end) to A-label form at out+*o. */
static int
label_to_ascii(const unsigned char *s, const unsigned char *end, char *out,
    size_t *o, size_t cap)
{
	uint32_t cp[64];
	size_t n = 0, start = *o;
	int ascii = 1, len;
	long c;

	if (s == end)
		return -1;	/* empty label */
	while (s < end) {
		if ((c = utf8_next(&s, end)) < 0 || n == 64)
			return -1;
		if (c >= 'A' && c <= 'Z')
			c += 32;
		ascii &= c < 0x80;
		cp[n++] = (uint32_t)c;
	}
	if (ascii) {
		for (size_t i = 0; i < n; i++)
			if (put(out, o, cap, (int)cp[i]) != 0)
				return -1;
	} else {
		if (cap - *o < 4)
			return -1;
		memcpy(out + *o, "xn--", 4);
		*o += 4;
		if ((len = punycode(cp, n, out + *o, cap - *o)) < 0)
			return -1;
		*o += (size_t)len;
	}
	return *o - start > 63 ? -1 : 0;
}

int
am_psl_to_ascii(const char *in, char *out, size_t outsz)
{
	const unsigned char *s = (const unsigned char *)in, *e;
	size_t o = 0;

	if (outsz == 0)
		return -1;
	for (;;) {
		e = (const unsigned char *)strchr((const char *)s, '.');
		if (e == NULL)
			e = s + strlen((const char *)s);
		if (label_to_ascii(s, e, out, &o, outsz - 1) != 0)
			return -1;
		if (*e == '\0')
			break;
		if (put(out, &o, outsz - 1, '.') != 0)
			return -1;
		s = e + 1;
	}
	out[o] = '\0';
	return 0;
}

/* ---- loading ---- */

/* Add one rule line's first word, in both forms. */
static int
add_rule(struct am_psl *psl, char *rule)
{
	char alabel[256];
	unsigned f = F_RULE;
	char *p;

	if (rule[0] == '!') {
		f = F_EXC;
		rule++;
	} else if (rule[0] == '*' && rule[1] == '.') {
		f = F_WILD;
		rule += 2;
	}
	if (rule[0] == '\0' || strchr(rule, '*') != NULL)
		return 0;	/* not a rule form the list uses */
	for (p = rule; *p != '\0'; p++)
		if (*p >= 'A' && *p <= 'Z')
			*p += 32;
	if (insert(psl, rule, f) != 0)
		return -1;
	psl->rules++;
	if (am_psl_to_ascii(rule, alabel, sizeof(alabel)) == 0 &&
	    strcmp(alabel, rule) != 0)
		return insert(psl, alabel, f);
	return 0;
}

/* Handle one line; *section tracks the current section. */
static int
parse_line(struct am_psl *psl, char *line, int sections, int *section)
{
	char *end;

	if (line[0] == '/' && line[1] == '/') {
		if (strstr(line, "===BEGIN ICANN DOMAINS===") != NULL)
			*section = AM_PSL_ICANN;
		else if (strstr(line, "===BEGIN PRIVATE DOMAINS===") != NULL)
			*section = AM_PSL_PRIVATE;
		return 0;
	}
	line += strspn(line, " \t");
	end = line + strcspn(line, " \t\r");
	*end = '\0';
	if (line[0] == '\0' || !(sections & *section))
		return 0;
	return add_rule(psl, line);
}

struct am_psl *
am_psl_parse(const char *text, size_t len, int sections, struct am_buf *why)
{
	struct am_psl *psl;
	int section = AM_PSL_ICANN;
	char *copy, *line, *next;

	if ((psl = calloc(1, sizeof(*psl))) == NULL ||
	    (copy = malloc(len + 1)) == NULL || grow(psl) != 0) {
		am_buf_setf(why, "out of memory");
		free(psl);
		return NULL;
	}
	memcpy(copy, text, len);
	copy[len] = '\0';
	for (line = copy; line != NULL; line = next) {
		if ((next = strchr(line, '\n')) != NULL)
			*next++ = '\0';
		if (parse_line(psl, line, sections, &section) != 0) {
			am_buf_setf(why, "out of memory");
			free(copy);
			return am_psl_free(psl);
		}
	}
	free(copy);
	if (psl->rules == 0) {
		am_buf_setf(why, "no rule in public suffix list");
		return am_psl_free(psl);
	}
	return psl;
}

struct am_psl *
am_psl_load(const char *path, int sections, struct am_buf *why)
{
	struct am_psl *psl;
	FILE *fp;
	char *text;
	size_t n;

	if ((fp = fopen(path, "r")) == NULL) {
		am_buf_setf(why, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if ((text = malloc(AM_PSL_MAX_FILE + 1)) == NULL) {
		fclose(fp);
		am_buf_setf(why, "out of memory");
		return NULL;
	}
	n = fread(text, 1, AM_PSL_MAX_FILE + 1, fp);
	fclose(fp);
	if (n > AM_PSL_MAX_FILE) {
		free(text);
		am_buf_setf(why, "%s: larger than %u bytes", path,
		    AM_PSL_MAX_FILE);
		return NULL;
	}
	psl = am_psl_parse(text, n, sections, why);
	free(text);
	if (psl == NULL)
		am_buf_printf(why, " (%s)", path);
	return psl;
}

struct am_psl *
am_psl_free(struct am_psl *psl)
{
	size_t i;

	if (psl == NULL)
		return NULL;
	for (i = 0; i < psl->size; i++)
		free(psl->tab[i].key);
	free(psl->tab);
	free(psl);
	return NULL;
}

size_t
am_psl_count(const struct am_psl *psl)
{
	return psl->rules;
}

/* ---- lookup ---- */

/* Labels of d at suffix[k-1] = the suffix of k labels; count or -1. */
static int
split(const char *d, const char **suffix, int max)
{
	const char *p = d + strlen(d);
	int n = 0;

	if (*d == '\0' || *d == '.' || p[-1] == '.')
		return -1;
	for (;;) {
		while (p > d && p[-1] != '.')
			p--;
		if (n == max)
			return -1;
		suffix[n++] = p;
		if (p == d)
			return n;
		p--;
		if (p == d || p[-1] == '.')
			return -1;	/* empty label */
	}
}

int
am_psl_org_domain(const struct am_psl *psl, const char *domain, char *out,
    size_t outsz)
{
	const char *suffix[128];
	char low[256];
	int n, k, ps = 1, exc = 0;
	size_t i, len = strlen(domain);

	if (len >= sizeof(low))
		return -1;
	for (i = 0; i <= len; i++)
		low[i] = (domain[i] >= 'A' && domain[i] <= 'Z') ?
		    domain[i] + 32 : domain[i];
	if ((n = split(low, suffix, 128)) < 0)
		return -1;
	for (k = 1; k <= n; k++) {
		unsigned f = flags_of(psl, suffix[k - 1]);

		if ((f & F_RULE) && k > ps)
			ps = k;
		if (f & F_EXC)
			exc = k;
		if (k >= 2 && (flags_of(psl, suffix[k - 2]) & F_WILD) &&
		    k > ps)
			ps = k;
	}
	if (exc)
		ps = exc - 1;
	if (n <= ps || strlen(suffix[ps]) >= outsz)
		return -1;
	memcpy(out, suffix[ps], strlen(suffix[ps]) + 1);
	return 0;
}
