/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dmarc_cases: the driver of tests/dmarc/authmilter.py.
 *
 * Usage: dmarc_cases ZONEFILE < cases
 * Each input line is tab separated: name, message file, SPF result, SPF
 * domain, DKIM results ("pass:d,fail:d" or "-"), expected dmarc results
 * (comma separated, one per author domain), expected disposition or "-".
 * The message's header is read and its From fields parsed with
 * am_from_parse_hdrs(); DMARC is evaluated in RFC 7489 mode (what the
 * corpus's milter ran, Mail::DMARC with the PSL) and in RFC 9989 mode.
 *
 * Several From fields or authors: RFC 9989 s.5.3.1 makes that no DMARC
 * result, but lets a receiver go on; upstream evaluates each author domain
 * and writes one dmarc= per domain, so the driver does the same (each
 * domain as its own Author Domain) to compare verdicts, and prints our
 * strict answer beside it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "amconfig.h"
#include "dmarc.h"
#include "hdr.h"

#ifndef AM_DEFAULT_PSL
#define AM_DEFAULT_PSL "/usr/share/publicsuffix/public_suffix_list.dat"
#endif

#define MAX_MSG 65536

struct env {
	struct am_dns *dns;
	struct am_psl *psl;
};

struct tcase {
	char *name, *file, *spf, *spf_domain, *dkim, *want, *dis;
};

/* Add the header of the message in file to h (folded lines joined). */
static int
read_header(const char *file, struct am_hdrs *h)
{
	char *buf = malloc(MAX_MSG + 1), *p, *line, *colon, *end, *val;
	char name[256], value[8192];
	size_t n, vlen = 0;
	FILE *fp = fopen(file, "rb");

	if (fp == NULL || buf == NULL) {
		free(buf);
		if (fp != NULL)
			fclose(fp);
		return -1;
	}
	n = fread(buf, 1, MAX_MSG, fp);
	fclose(fp);
	buf[n] = '\0';
	name[0] = '\0';
	for (p = buf; p != NULL && *p != '\0'; p = end) {
		line = p;
		if ((end = strchr(p, '\n')) != NULL)
			*end++ = '\0';
		if (line[0] != '\0' && line[strlen(line) - 1] == '\r')
			line[strlen(line) - 1] = '\0';
		if ((line[0] == ' ' || line[0] == '\t') && name[0] != '\0') {
			vlen += (size_t)snprintf(value + vlen, sizeof(value) -
			    vlen, "\r\n%s", line);
			if (vlen >= sizeof(value))
				vlen = sizeof(value) - 1;
			continue;
		}
		if (name[0] != '\0')
			am_hdrs_add(h, name, value, vlen);
		name[0] = '\0';
		if (line[0] == '\0')
			break;
		if ((colon = strchr(line, ':')) == NULL)
			continue;
		val = colon + 1;
		*colon = '\0';
		while (colon > line && (colon[-1] == ' ' || colon[-1] == '\t'))
			*--colon = '\0';	/* obs: WSP before the colon */
		snprintf(name, sizeof(name), "%s", line);
		vlen = (size_t)snprintf(value, sizeof(value), "%s", val);
		if (vlen >= sizeof(value))
			vlen = sizeof(value) - 1;
	}
	if (name[0] != '\0')
		am_hdrs_add(h, name, value, vlen);
	free(buf);
	return 0;
}

static enum am_spf_result
spf_value(const char *s)
{
	static const char *const names[] = { "none", "neutral", "pass", "fail",
	    "softfail", "temperror", "permerror" };
	size_t i;

	for (i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (strcmp(s, names[i]) == 0)
			return (enum am_spf_result)i;
	return AM_SPF_NONE;
}

/* Evaluate one Author Domain; append "result" to got. */
static enum am_dmarc_policy
eval_one(const struct env *e, int mode, const struct tcase *c,
    enum am_from_status st, const char *domain, struct am_buf *got)
{
	struct am_dmarc_conf conf = { mode, e->psl };
	struct am_dmarc_dkim dkim[16];
	struct am_dmarc_input in;
	struct am_dmarc_response r;
	char spec[1024], *tok, *save = NULL;
	enum am_dmarc_policy dis;

	memset(&in, 0, sizeof(in));
	in.from_status = st;
	in.from_domain = domain;
	in.spf = spf_value(c->spf);
	in.spf_domain = c->spf_domain;
	snprintf(spec, sizeof(spec), "%s", c->dkim);
	for (tok = strtok_r(spec, ",", &save); tok != NULL && in.ndkim < 16;
	    tok = strtok_r(NULL, ",", &save))
		if (strchr(tok, ':') != NULL) {
			dkim[in.ndkim].pass = strncmp(tok, "pass:", 5) == 0;
			dkim[in.ndkim].temperror = strncmp(tok, "temperror:", 10) == 0;
			dkim[in.ndkim++].domain = strchr(tok, ':') + 1;
		}
	in.dkim = dkim;
	am_dmarc_response_init(&r);
	am_dmarc_eval(&conf, e->dns, &in, &r);
	am_buf_printf(got, "%s%s", got->len ? "," : "",
	    am_dmarc_result_name(r.result));
	dis = r.disposition;
	am_dmarc_response_release(&r);
	return dis;
}

/* Upstream's per-author evaluation of several From fields/domains. */
static enum am_dmarc_policy
per_author(const struct env *e, int mode, const struct tcase *c,
    const struct am_hdrs *h, struct am_buf *got)
{
	enum am_dmarc_policy dis = AM_DMARC_P_UNSET, d;
	struct am_from f;
	size_t i, j;

	for (i = 0; i < h->n; i++) {
		if (!am_hdr_is(&h->v[i], "From"))
			continue;
		am_from_parse(h->v[i].value, h->v[i].vlen, &f, NULL);
		for (j = 0; j < f.ndomains; j++) {
			d = eval_one(e, mode, c, AM_FROM_ONE, f.domain[j], got);
			if (dis == AM_DMARC_P_UNSET)
				dis = d;
		}
	}
	return dis;
}

/* Run one case in one mode; 1 when the verdicts match. */
static int
run(const struct env *e, int mode, const struct tcase *c)
{
	struct am_buf got = AM_BUF_INIT(1024), why = AM_BUF_INIT(256);
	struct am_hdrs h;
	struct am_from f;
	enum am_from_status st;
	enum am_dmarc_policy dis;
	const char *strict = "";
	int ok;

	am_hdrs_init(&h, 1000, 1 << 20);
	if (read_header(c->file, &h) != 0) {
		printf("FAIL %s: cannot read %s\n", c->name, c->file);
		return 0;
	}
	st = am_from_parse_hdrs(&h, &f, &why);
	if (st == AM_FROM_ONE || st == AM_FROM_MULTI_SAME)
		dis = eval_one(e, mode, c, st, f.domain[0], &got);
	else if (st == AM_FROM_MULTI_DIFF || f.nfields > 1) {
		dis = per_author(e, mode, c, &h, &got);
		strict = " (strict RFC 9989 s.5.3.1: permerror)";
	} else
		dis = eval_one(e, mode, c, st, NULL, &got);
	ok = strcmp(am_buf_str(&got), c->want) == 0 && (strcmp(c->dis, "-")
	    == 0 || strcmp(c->dis, am_dmarc_policy_name(dis)) == 0);
	printf("%s %s %s: got %s dis=%s, want %s dis=%s%s\n", ok ? "PASS" :
	    "FAIL", mode == AM_DMARC_RFC7489 ? "rfc7489" : "rfc9989", c->name,
	    am_buf_str(&got), am_dmarc_policy_name(dis), c->want, c->dis,
	    strict);
	am_hdrs_release(&h);
	am_buf_release(&got);
	am_buf_release(&why);
	return ok;
}

/* Split a tab-separated line into the case's fields. */
static int
split(char *line, struct tcase *c)
{
	char **f[] = { &c->name, &c->file, &c->spf, &c->spf_domain, &c->dkim,
	    &c->want, &c->dis };
	size_t i;

	line[strcspn(line, "\r\n")] = '\0';
	for (i = 0; i < sizeof(f) / sizeof(f[0]); i++) {
		*f[i] = line;
		if ((line = strchr(line, '\t')) == NULL)
			return i == sizeof(f) / sizeof(f[0]) - 1;
		*line++ = '\0';
	}
	return 1;
}

int
main(int argc, char **argv)
{
	struct am_buf why = AM_BUF_INIT(512);
	const char *zone = argc > 1 ? argv[1] : "";
	char line[4096];
	struct tcase c;
	struct env e;
	int n = 0, pass7 = 0, pass9 = 0;

	e.dns = am_dns_zone_new(&zone, 1, &why);
	e.psl = am_psl_load(AM_DEFAULT_PSL, AM_PSL_ALL, &why);
	if (e.dns == NULL || e.psl == NULL) {
		fprintf(stderr, "dmarc_cases: %s\n", am_buf_str(&why));
		return 1;
	}
	while (fgets(line, sizeof(line), stdin) != NULL) {
		if (line[0] == '\n' || !split(line, &c))
			continue;
		n++;
		pass7 += run(&e, AM_DMARC_RFC7489, &c);
		pass9 += run(&e, AM_DMARC_RFC9989, &c);
	}
	printf("authentication_milter DMARC cases: rfc7489 %d/%d pass, "
	    "rfc9989 %d/%d pass\n", pass7, n, pass9, n);
	am_dns_free(e.dns);
	am_psl_free(e.psl);
	am_buf_release(&why);
	return n > 0 && pass7 == n && pass9 == n ? 0 : 1;
}
