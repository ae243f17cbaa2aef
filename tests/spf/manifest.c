/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * manifest: reader of suite manifests. See manifest.h.
 */
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "manifest.h"

static int
hexval(int c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* Unescape s in place (\xHH); returns s. */
static char *
unescape(char *s)
{
	char *o = s, *p = s;

	while (*p != '\0') {
		if (p[0] == '\\' && p[1] == 'x' && hexval(p[2]) >= 0 &&
		    hexval(p[3]) >= 0) {
			*o++ = (char)(hexval(p[2]) * 16 + hexval(p[3]));
			p += 4;
		} else
			*o++ = *p++;
	}
	*o = '\0';
	return s;
}

void
mf_clear(struct mf_line *l)
{
	free(l->buf);
	memset(l, 0, sizeof(*l));
}

int
mf_next(FILE *fp, struct mf_line *l)
{
	size_t cap = 0;
	ssize_t len;
	char *p;

	mf_clear(l);
	if ((len = getline(&l->buf, &cap, fp)) < 0)
		return -1;
	if (len > 0 && l->buf[len - 1] == '\n')
		l->buf[len - 1] = '\0';
	for (p = l->buf; l->n < MF_MAXF; ) {
		l->f[l->n++] = p;
		if ((p = strchr(p, '\t')) == NULL)
			break;
		*p++ = '\0';
	}
	for (int i = 0; i < l->n; i++)
		unescape(l->f[i]);
	return 0;
}

const char *
mf_field(const struct mf_line *l, int i)
{
	return i < l->n ? l->f[i] : "";
}

struct mf_known *
mf_known_load(const char *path, size_t *n)
{
	struct mf_known *k = NULL, *nk;
	char *line = NULL, *sp;
	size_t cap = 0;
	ssize_t len;
	FILE *fp;

	*n = 0;
	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	while ((len = getline(&line, &cap, fp)) >= 0) {
		if (len > 0 && line[len - 1] == '\n')
			line[--len] = '\0';
		if (line[0] == '#' || line[0] == '\0')
			continue;
		if ((nk = realloc(k, (*n + 1) * sizeof(*k))) == NULL)
			break;
		k = nk;
		sp = line + strcspn(line, " \t");
		k[*n].reason = strdup(*sp ? sp + strspn(sp, " \t") : "");
		*sp = '\0';
		k[*n].key = strdup(line);
		k[*n].seen = 0;
		(*n)++;
	}
	free(line);
	fclose(fp);
	return k;
}

struct mf_known *
mf_known_find(struct mf_known *k, size_t n, const char *suite,
    const char *id)
{
	size_t i, sl = strlen(suite);

	for (i = 0; i < n; i++)
		if (strncmp(k[i].key, suite, sl) == 0 && k[i].key[sl] == ':' &&
		    strcmp(k[i].key + sl + 1, id) == 0)
			return &k[i];
	return NULL;
}

void
mf_known_free(struct mf_known *k, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(k[i].key);
		free(k[i].reason);
	}
	free(k);
}

int
mf_list_has(const char *list, const char *word)
{
	size_t wl = strlen(word);
	const char *p = list;

	while (*p != '\0') {
		size_t n = strcspn(p, ",");
		if (n == wl && strncasecmp(p, word, wl) == 0)
			return 1;
		p += n;
		if (*p == ',')
			p++;
	}
	return 0;
}
