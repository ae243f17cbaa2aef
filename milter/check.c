/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check: "authmilter --check FILE". See check.h.
 *
 * The message is read as an MTA would hand it to a milter: header fields
 * (with continuation lines) up to the first empty line, then the body with
 * CRLF line ends. LF-only files are accepted; every line break is made
 * CRLF, as Postfix and Sendmail do before the milter sees the message. A
 * line that is not a header field ends the header, as in Postfix.
 */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"

/* One header field being collected. */
struct field {
	struct am_buf name, value;
	int open;
};

static void
field_flush(struct am_msg *m, struct field *f)
{
	if (!f->open)
		return;
	am_msg_header(m, am_buf_str(&f->name), am_buf_str(&f->value), f->value.len);
	am_buf_reset(&f->name);
	am_buf_reset(&f->value);
	f->open = 0;
}

/* Strip the line break of line (length *n); returns 1 if there was one. */
static int
chomp(char *line, size_t *n)
{
	int had = 0;

	if (*n > 0 && line[*n - 1] == '\n') {
		(*n)--;
		had = 1;
		if (*n > 0 && line[*n - 1] == '\r')
			(*n)--;
	}
	line[*n] = '\0';
	return had;
}

/*
 * Feed one header line; 0 to go on, 1 when the header has ended (line is
 * then the first body line, not consumed unless it was the empty line).
 */
static int
header_line(struct am_msg *m, struct field *f, char *line, size_t n, int *consumed)
{
	const char *colon;
	size_t nlen;

	*consumed = 1;
	if (n == 0) {
		field_flush(m, f);
		return 1;
	}
	if ((line[0] == ' ' || line[0] == '\t') && f->open) {
		am_buf_add(&f->value, "\n", 1);
		am_buf_add(&f->value, line, n);
		return 0;
	}
	colon = memchr(line, ':', n);
	/* field-name, then (RFC 5322 s.4.5, obsolete) white space, then ':'. */
	for (nlen = colon != NULL ? (size_t)(colon - line) : 0;
	    nlen > 0 && (line[nlen - 1] == ' ' || line[nlen - 1] == '\t'); nlen--)
		;
	if (colon == NULL || nlen == 0 || memchr(line, ' ', nlen) != NULL ||
	    memchr(line, '\t', nlen) != NULL) {
		field_flush(m, f);
		*consumed = 0;
		return 1;
	}
	field_flush(m, f);
	am_buf_add(&f->name, line, nlen);
	am_buf_add(&f->value, colon + 1, n - (size_t)(colon + 1 - line));
	f->open = 1;
	return 0;
}

/* Feed a body line with CRLF. */
static void
body_line(struct am_msg *m, const char *line, size_t n, int eol)
{
	am_msg_body(m, line, n);
	if (eol)
		am_msg_body(m, "\r\n", 2);
}

static int
feed(struct am_msg *m, FILE *fp)
{
	struct field f;
	char *line = NULL;
	size_t cap = 0, n;
	ssize_t got;
	int in_body = 0, consumed, eol;

	am_buf_init(&f.name, 1024);
	am_buf_init(&f.value, 1 << 20);
	f.open = 0;
	while ((got = getline(&line, &cap, fp)) >= 0) {
		n = (size_t)got;
		eol = chomp(line, &n);
		if (!in_body) {
			if (!header_line(m, &f, line, n, &consumed))
				continue;
			in_body = 1;
			am_msg_end_headers(m);
			if (consumed)
				continue;
		}
		body_line(m, line, n, eol);
	}
	if (!in_body) {
		field_flush(m, &f);
		am_msg_end_headers(m);
	}
	free(line);
	am_buf_release(&f.name);
	am_buf_release(&f.value);
	return ferror(fp) ? -1 : 0;
}

/* Print the verdict the way the daemon would apply it. */
static void
print_verdict(const struct am_verdict *v)
{
	size_t i;

	for (i = 0; i < v->nar_remove; i++)
		printf("# remove: Authentication-Results #%zu (claims our authserv-id)\n",
		    v->ar_remove[i]);
	if (!v->judged)
		printf("# not judged: %s\n", v->skip_reason);
	if (v->arc_seal != NULL) {
		printf("ARC-Seal: %s\n", v->arc_seal);
		printf("ARC-Message-Signature: %s\n", v->arc_message_signature);
		printf("ARC-Authentication-Results: %s\n", v->arc_authres);
	}
	if (v->authres != NULL)
		printf("Authentication-Results: %s\n", v->authres);
	printf("action: %s", am_action_name(v->action));
	if (v->smtp_rcode != NULL)
		printf(" %s %s %s", v->smtp_rcode, v->smtp_xcode,
		    v->smtp_text != NULL ? v->smtp_text : "");
	else if (v->action == AM_ACTION_QUARANTINE && v->smtp_text != NULL)
		printf(" (%s)", v->smtp_text);
	printf("\n");
}

int
am_check_run(struct am_engine *e, const struct am_check_args *a)
{
	struct am_envelope env;
	struct am_msg *m;
	FILE *fp;
	int r;

	if (strcmp(a->file, "-") == 0)
		fp = stdin;
	else if ((fp = fopen(a->file, "r")) == NULL) {
		fprintf(stderr, "authmilter: %s: %s\n", a->file, strerror(errno));
		return 1;
	}
	memset(&env, 0, sizeof(env));
	env.queue_id = "CHECK";
	env.client_ip = a->client_ip;
	env.helo = a->helo;
	env.mail_from = a->mail_from;
	env.auth_user = a->auth_user;
	if (a->rcpt != NULL) {
		env.rcpts = &a->rcpt;
		env.nrcpts = 1;
	}
	if ((m = am_msg_new(e, &env)) == NULL) {
		fprintf(stderr, "authmilter: out of memory\n");
		return 1;
	}
	r = feed(m, fp);
	if (fp != stdin)
		fclose(fp);
	if (r != 0) {
		fprintf(stderr, "authmilter: %s: read error\n", a->file);
		am_msg_free(m);
		return 1;
	}
	print_verdict(am_msg_finish(m));
	am_msg_free(m);
	return 0;
}
