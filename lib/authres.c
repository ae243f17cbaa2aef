/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * authres: the Authentication-Results header field, RFC 8601. See authres.h.
 */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "authres.h"

#define AR_CAP 16384

void
am_authres_begin(struct am_authres *ar, const char *id)
{
	am_buf_init(&ar->out, AR_CAP);
	ar->methods = 0;
	am_buf_adds(&ar->out, id);
}

/* Append comment text: printable ASCII, parens and backslash escaped. */
static void
add_comment(struct am_buf *b, const char *c)
{
	size_t n = 0;

	am_buf_adds(b, " (");
	for (; *c != '\0'; c++, n++) {
		unsigned char ch = (unsigned char)*c;
		if (n >= AM_AUTHRES_COMMENT_MAX) {
			am_buf_adds(b, "...");
			break;
		}
		if (ch == '(' || ch == ')' || ch == '\\')
			am_buf_addc(b, '\\');
		if (ch < 0x20 || ch >= 0x7f)
			ch = '?';
		am_buf_addc(b, ch);
	}
	am_buf_addc(b, ')');
}

void
am_authres_method(struct am_authres *ar, const char *method,
    const char *result, const char *comment)
{
	am_buf_adds(&ar->out, ";\n\t");
	am_buf_printf(&ar->out, "%s=%s", method, result);
	if (comment != NULL && *comment != '\0')
		add_comment(&ar->out, comment);
	ar->methods++;
}

/* 1 when s can stand unquoted: an RFC 2045 token, or local@domain. */
static int
plain_value(const char *s)
{
	if (*s == '\0')
		return 0;
	for (; *s != '\0'; s++) {
		unsigned char c = (unsigned char)*s;
		if (c <= 0x20 || c >= 0x7f || strchr("()<>,;:\\\"/[]?=", c) != NULL)
			return 0;
	}
	return 1;
}

void
am_authres_prop(struct am_authres *ar, const char *ptype_prop,
    const char *value)
{
	const char *p;

	if (strlen(value) > AM_AUTHRES_VALUE_MAX)
		return;
	am_buf_printf(&ar->out, " %s=", ptype_prop);
	if (plain_value(value)) {
		am_buf_adds(&ar->out, value);
		return;
	}
	am_buf_addc(&ar->out, '"');
	for (p = value; *p != '\0'; p++) {
		unsigned char c = (unsigned char)*p;
		if (c == '"' || c == '\\')
			am_buf_addc(&ar->out, '\\');
		am_buf_addc(&ar->out, c < 0x20 || c == 0x7f ? '?' : c);
	}
	am_buf_addc(&ar->out, '"');
}

const char *
am_authres_end(struct am_authres *ar)
{
	if (ar->methods == 0)
		am_buf_adds(&ar->out, "; none");
	return am_buf_str(&ar->out);
}

void
am_authres_release(struct am_authres *ar)
{
	am_buf_release(&ar->out);
}

/* Skip white space and (nested) comments; returns the first other byte. */
static const char *
skip_cfws(const char *p)
{
	int depth;

	for (;;) {
		while (isspace((unsigned char)*p))
			p++;
		if (*p != '(')
			return p;
		depth = 0;
		for (; *p != '\0'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			else if (*p == '(')
				depth++;
			else if (*p == ')' && --depth == 0) {
				p++;
				break;
			}
		}
	}
}

int
am_authres_id(const char *value, char *id, size_t idlen)
{
	const char *p = skip_cfws(value);
	size_t n = 0;

	if (idlen == 0)
		return -1;
	if (*p == '"') {
		for (p++; *p != '\0' && *p != '"'; p++) {
			if (*p == '\\' && p[1] != '\0')
				p++;
			if (n + 1 < idlen)
				id[n++] = *p;
		}
		if (*p != '"')
			return -1;
	} else {
		for (; *p != '\0' && *p != ';' && *p != '(' &&
		    !isspace((unsigned char)*p); p++)
			if (n + 1 < idlen)
				id[n++] = *p;
	}
	id[n] = '\0';
	return n > 0 ? 0 : -1;
}

/* Copy a token or quoted string at p into out (lower case if fold); returns the end. */
static const char *
read_value(const char *p, char *out, size_t len, int fold)
{
	size_t n = 0;
	int quoted = *p == '"';

	if (quoted)
		p++;
	for (; *p != '\0'; p++) {
		if (quoted && *p == '"') {
			p++;
			break;
		}
		if (!quoted && (isspace((unsigned char)*p) || strchr(";()=", *p) != NULL))
			break;
		if (quoted && *p == '\\' && p[1] != '\0')
			p++;
		if (n + 1 < len)
			out[n++] = fold ? (char)tolower((unsigned char)*p) : *p;
	}
	out[n] = '\0';
	return p;
}

/* Skip to just after the next ';' outside comments and quotes (or the end). */
static const char *
next_resinfo(const char *p)
{
	while (*p != '\0') {
		p = skip_cfws(p);
		if (*p == ';')
			return p + 1;
		if (*p == '"') {
			char junk[2];
			p = read_value(p, junk, sizeof(junk), 0);
		} else if (*p != '\0' && *p != '(')
			p++;
	}
	return p;
}

/* Read "method[/v]=result" and its "ptype.prop=value" list at p. */
static const char *
read_resinfo(const char *p, struct am_authres_item *it)
{
	char *slash;

	memset(it, 0, sizeof(*it));
	p = read_value(skip_cfws(p), it->method, sizeof(it->method), 1);
	if ((slash = strchr(it->method, '/')) != NULL)
		*slash = '\0';
	p = skip_cfws(p);
	if (*p != '=')
		return p;
	p = read_value(skip_cfws(p + 1), it->result, sizeof(it->result), 1);
	for (;;) {
		char name[48];
		p = skip_cfws(p);
		if (*p == '\0' || *p == ';')
			return p;
		p = read_value(p, name, sizeof(name), 1);
		p = skip_cfws(p);
		if (*p != '=') {
			if (name[0] == '\0' && *p != '\0' && *p != ';')
				p++;
			continue;
		}
		p = skip_cfws(p + 1);
		if (it->nprops < AM_AUTHRES_PROPS) {
			memcpy(it->props[it->nprops].name, name, sizeof(name));
			p = read_value(p, it->props[it->nprops].value,
			    sizeof(it->props[it->nprops].value), 0);
			it->nprops++;
		} else {
			char junk[2];
			p = read_value(p, junk, sizeof(junk), 0);
		}
	}
}

size_t
am_authres_scan(const char *value, struct am_authres_item *items, size_t max)
{
	const char *p = next_resinfo(value);    /* past the authserv-id */
	size_t n = 0;

	while (*p != '\0' && n < max) {
		p = read_resinfo(p, &items[n]);
		if (items[n].method[0] != '\0' && strcmp(items[n].method, "none") != 0)
			n++;
		p = next_resinfo(p);
	}
	return n;
}

const char *
am_authres_item_prop(const struct am_authres_item *item, const char *name)
{
	unsigned i;

	for (i = 0; i < item->nprops; i++)
		if (strcasecmp(item->props[i].name, name) == 0)
			return item->props[i].value;
	return NULL;
}
