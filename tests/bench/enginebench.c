/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * enginebench: the lib/ engine alone over the benchmark corpus, no milter,
 * no DNS cost (the zone file is loaded with am_dns_zone_new), to show where
 * the CPU goes.
 *
 *   enginebench --corpus DIR --conf FILE [--passes P] [--limit N]
 *               [--out RESULTS.jsonl]
 *
 * Each message is fed as the daemon feeds it: am_msg_new with the
 * manifest's envelope, am_msg_header per field (leading space kept, folds as
 * "\n"), am_msg_end_headers, am_msg_body in 65535-byte chunks (CRLF),
 * am_msg_finish. The four phases are timed around those calls, in CPU
 * time of the one thread (CLOCK_THREAD_CPUTIME_ID: other load on the
 * machine does not count).
 *
 * The checks all happen in am_msg_body (body hashes) and am_msg_finish
 * (SPF, DKIM signatures, DMARC), so the per-stage split comes from variants
 * of the configuration, each run P times (the fastest pass is kept):
 *   all       the configuration as given
 *   nodkim    DKIMMode off          dkim = all - nodkim
 *   nospf     SPFMode off           spf  = all - nospf
 *   nodmarc   DMARCMode off         dmarc = all - nodmarc
 *   none      all three off         what is left: parsing, the A-R header
 * A variant whose keyword the configuration does not know is left out.
 *
 * Output: one JSON object on stdout: per variant the microseconds per
 * message in each phase, and the derived stages. With --out, the "all"
 * variant's verdicts in milterload's result format (for check_verdicts.py).
 */
#include <sys/stat.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "buf.h"
#include "config.h"
#include "dns.h"
#include "msg.h"

#define CHUNK 65535
#define NPHASE 4

enum { PH_HEADERS, PH_EOH, PH_BODY, PH_FINISH };
static const char *const phase_names[NPHASE] = { "headers", "eoh", "body",
	"finish" };

struct hdr {
	const char *name, *value;
};

struct msg {
	char *id, *ip, *helo, *mail_from, *raw, *body;
	struct hdr *h;
	size_t nh, bodylen;
};

struct variant {
	const char *name;
	const char *set[3][2];       /* keyword, value; NULL ends */
};

static const struct variant variants[] = {
	{ "all", { { NULL, NULL } } },
	{ "nodkim", { { "DKIMMode", "off" }, { NULL, NULL } } },
	{ "nospf", { { "SPFMode", "off" }, { NULL, NULL } } },
	{ "nodmarc", { { "DMARCMode", "off" }, { NULL, NULL } } },
	{ "none", { { "DKIMMode", "off" }, { "SPFMode", "off" },
	    { "DMARCMode", "off" } } },
};
#define NVARIANT (sizeof(variants) / sizeof(variants[0]))

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL) {
		fprintf(stderr, "enginebench: out of memory\n");
		exit(1);
	}
	return p;
}

static char *
read_file(const char *path, size_t *len)
{
	FILE *fp = fopen(path, "rb");
	struct stat st;
	char *buf;

	if (fp == NULL || fstat(fileno(fp), &st) != 0) {
		if (fp != NULL)
			fclose(fp);
		return NULL;
	}
	buf = xmalloc((size_t)st.st_size + 1);
	*len = fread(buf, 1, (size_t)st.st_size, fp);
	buf[*len] = '\0';
	fclose(fp);
	return buf;
}

/* Header fields (values as the milter gets them) and body, in place. */
static int
split_message(struct msg *m, size_t len)
{
	char *p = m->raw, *end = m->raw + len, *w, *colon;
	size_t cap = 16;

	m->h = xmalloc(cap * sizeof(*m->h));
	while (p + 1 < end && !(p[0] == '\r' && p[1] == '\n')) {
		if ((colon = memchr(p, ':', (size_t)(end - p))) == NULL)
			return -1;
		*colon = '\0';
		if (m->nh == cap && (m->h = realloc(m->h,
		    (cap *= 2) * sizeof(*m->h))) == NULL)
			return -1;
		m->h[m->nh].name = p;
		m->h[m->nh++].value = w = colon + 1;
		for (p = colon + 1; p + 1 < end; ) {
			if (p[0] == '\r' && p[1] == '\n') {
				p += 2;
				if (p < end && (*p == ' ' || *p == '\t')) {
					*w++ = '\n';
					continue;
				}
				break;
			}
			*w++ = *p++;
		}
		*w = '\0';
	}
	if (p + 1 >= end)
		return -1;
	m->body = p + 2;
	m->bodylen = (size_t)(end - m->body);
	return 0;
}

static int
load_msg(struct msg *m, char *line, const char *dir)
{
	char *f[7], *s = line, path[4096];
	size_t i, len;

	for (i = 0; i < 7; i++) {
		f[i] = s;
		s = strchr(s, i < 6 ? '\t' : '\n');
		if (s == NULL && i < 6)
			return -1;
		if (s != NULL)
			*s++ = '\0';
	}
	m->id = strdup(f[0]);
	m->ip = strdup(f[2]);
	m->helo = strdup(f[3]);
	m->mail_from = strdup(f[4]);
	snprintf(path, sizeof(path), "%s/%s", dir, f[6]);
	if ((m->raw = read_file(path, &len)) == NULL || split_message(m, len) != 0) {
		fprintf(stderr, "enginebench: cannot read %s\n", path);
		return -1;
	}
	return 0;
}

static struct msg *
load_corpus(const char *dir, long limit, size_t *n)
{
	char path[4096], line[8192];
	size_t cap = 256;
	struct msg *ms = xmalloc(cap * sizeof(*ms));
	FILE *fp;

	*n = 0;
	snprintf(path, sizeof(path), "%s/manifest.tsv", dir);
	if ((fp = fopen(path, "r")) == NULL)
		return NULL;
	while (fgets(line, sizeof(line), fp) != NULL && (limit <= 0 ||
	    (long)*n < limit)) {
		if (*n == cap && (ms = realloc(ms, (cap *= 2) * sizeof(*ms))) == NULL)
			exit(1);
		memset(&ms[*n], 0, sizeof(*ms));
		if (load_msg(&ms[*n], line, dir) != 0)
			exit(1);
		(*n)++;
	}
	fclose(fp);
	return ms;
}

static void
free_corpus(struct msg *ms, size_t n)
{
	size_t i;

	for (i = 0; i < n; i++) {
		free(ms[i].id);
		free(ms[i].ip);
		free(ms[i].helo);
		free(ms[i].mail_from);
		free(ms[i].raw);
		free(ms[i].h);
	}
	free(ms);
}

static void
json_str(FILE *fp, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', fp);
	for (; *p != '\0'; p++) {
		if (*p == '"' || *p == '\\')
			fprintf(fp, "\\%c", *p);
		else if (*p == '\n')
			fputs("\\n", fp);
		else if (*p == '\t')
			fputs("\\t", fp);
		else if (*p < 0x20 || *p >= 0x7f)
			fprintf(fp, "\\u%04x", *p);
		else
			fputc(*p, fp);
	}
	fputc('"', fp);
}

static void
write_verdict(FILE *fp, const struct msg *m, const struct am_verdict *v)
{
	const char *a = am_action_name(v->action);

	fputs("{\"id\":", fp);
	json_str(fp, m->id);
	fputs(",\"action\":", fp);
	json_str(fp, a);
	fputs(",\"reply\":\"\",\"err\":\"\",\"lat_us\":0,\"mods\":[", fp);
	if (v->authres != NULL) {
		fputs("[\"i\",0,\"Authentication-Results\",", fp);
		json_str(fp, v->authres);
		fputc(']', fp);
	}
	fputs("]}\n", fp);
}

/* One message through the engine; adds the phase times to t. */
static void
run_msg(struct am_engine *e, const struct msg *m, double *t, FILE *out)
{
	struct am_envelope env;
	const struct am_verdict *v;
	struct am_msg *am;
	double t0, t1;
	size_t i, off, n;

	memset(&env, 0, sizeof(env));
	env.queue_id = m->id;
	env.client_ip = m->ip;
	env.helo = m->helo;
	env.mail_from = m->mail_from;
	env.authserv_id = "relay.bench.test";
	env.receiver = "relay.bench.test";
	t0 = now();
	if ((am = am_msg_new(e, &env)) == NULL)
		exit(1);
	for (i = 0; i < m->nh; i++)
		am_msg_header(am, m->h[i].name, m->h[i].value, strlen(m->h[i].value));
	t1 = now();
	t[PH_HEADERS] += t1 - t0;
	am_msg_end_headers(am);
	t0 = now();
	t[PH_EOH] += t0 - t1;
	for (off = 0; off < m->bodylen; off += n) {
		n = m->bodylen - off > CHUNK ? CHUNK : m->bodylen - off;
		am_msg_body(am, m->body + off, n);
	}
	t1 = now();
	t[PH_BODY] += t1 - t0;
	v = am_msg_finish(am);
	t[PH_FINISH] += now() - t1;
	if (out != NULL)
		write_verdict(out, m, v);
	am_msg_free(am);
}

/* A configuration for variant vi; NULL if a keyword is unknown. */
static struct am_config *
variant_conf(const char *path, size_t vi)
{
	struct am_buf why;
	struct am_config *c;
	size_t k;

	am_buf_init(&why, 512);
	if ((c = am_config_load(path, &why)) == NULL) {
		fprintf(stderr, "enginebench: %s\n", am_buf_str(&why));
		exit(1);
	}
	for (k = 0; k < 3 && variants[vi].set[k][0] != NULL; k++)
		if (am_config_set(c, variants[vi].set[k][0], variants[vi].set[k][1],
		    "enginebench", 0, &why) != 0) {
			c = am_config_free(c);
			break;
		}
	am_buf_release(&why);
	return c;
}

/* Best-of-P phase times (seconds, whole corpus) of variant vi. */
static int
run_variant(const char *conf, struct am_dns *dns, struct msg *ms, size_t n,
    size_t vi, int passes, FILE *out, double *best)
{
	struct am_config *c = variant_conf(conf, vi);
	struct am_engine *e;
	struct am_buf why;
	double t[NPHASE], sum, bsum = 1e30;
	size_t i;
	int p, k;

	if (c == NULL)
		return -1;
	am_buf_init(&why, 512);
	if ((e = am_engine_new(c, dns, &why)) == NULL) {
		fprintf(stderr, "enginebench: %s\n", am_buf_str(&why));
		exit(1);
	}
	for (p = 0; p < passes; p++) {
		memset(t, 0, sizeof(t));
		for (i = 0; i < n; i++)
			run_msg(e, &ms[i], t, p == 0 ? out : NULL);
		for (sum = 0, k = 0; k < NPHASE; k++)
			sum += t[k];
		if (sum < bsum) {
			bsum = sum;
			memcpy(best, t, sizeof(t));
		}
	}
	am_engine_free(e);
	am_config_free(c);
	am_buf_release(&why);
	return 0;
}

static double
total(const double *t)
{
	return t[0] + t[1] + t[2] + t[3];
}

static void
report(double res[][NPHASE], const int *have, size_t n, size_t bytes)
{
	double us = 1e6 / (double)n;
	size_t v;
	int k;

	printf("{\"messages\":%zu,\"body_bytes\":%zu,\"variants\":{", n, bytes);
	for (v = 0; v < NVARIANT; v++) {
		if (!have[v])
			continue;
		printf("%s\"%s\":{", v ? "," : "", variants[v].name);
		for (k = 0; k < NPHASE; k++)
			printf("\"%s_us\":%.2f,", phase_names[k], res[v][k] * us);
		printf("\"total_us\":%.2f}", total(res[v]) * us);
	}
	printf("},\"stages_us\":{\"parse\":%.2f", (res[0][PH_HEADERS] +
	    res[0][PH_EOH]) * us);
	if (have[1])
		printf(",\"dkim_bodyhash\":%.2f,\"dkim_verify\":%.2f",
		    (res[0][PH_BODY] - res[1][PH_BODY]) * us,
		    (res[0][PH_FINISH] - res[1][PH_FINISH]) * us);
	if (have[2])
		printf(",\"spf\":%.2f", (total(res[0]) - total(res[2])) * us);
	if (have[3])
		printf(",\"dmarc\":%.2f", (total(res[0]) - total(res[3])) * us);
	if (have[4])
		printf(",\"rest\":%.2f", total(res[4]) * us);
	printf(",\"total\":%.2f}}\n", total(res[0]) * us);
}

int
main(int argc, char **argv)
{
	const char *corpus = NULL, *conf = NULL, *out = NULL, *zone[1];
	double res[NVARIANT][NPHASE];
	int have[NVARIANT], passes = 3, i;
	long limit = 0;
	struct am_dns *dns;
	struct am_buf why;
	struct msg *ms;
	size_t n, v, bytes = 0;
	char zpath[4096];
	FILE *fp = NULL;

	for (i = 1; i + 1 < argc; i += 2) {
		if (strcmp(argv[i], "--corpus") == 0)
			corpus = argv[i + 1];
		else if (strcmp(argv[i], "--conf") == 0)
			conf = argv[i + 1];
		else if (strcmp(argv[i], "--passes") == 0)
			passes = atoi(argv[i + 1]);
		else if (strcmp(argv[i], "--limit") == 0)
			limit = atol(argv[i + 1]);
		else if (strcmp(argv[i], "--out") == 0)
			out = argv[i + 1];
		else
			break;
	}
	if (i != argc || corpus == NULL || conf == NULL || passes < 1 ||
	    passes > 100) {
		fprintf(stderr, "usage: enginebench --corpus DIR --conf FILE "
		    "[--passes P] [--limit N] [--out FILE]\n");
		return 2;
	}
	if ((ms = load_corpus(corpus, limit, &n)) == NULL || n == 0) {
		fprintf(stderr, "enginebench: no corpus in %s\n", corpus);
		return 1;
	}
	for (v = 0; v < n; v++)
		bytes += ms[v].bodylen;
	snprintf(zpath, sizeof(zpath), "%s/corpus.zone", corpus);
	zone[0] = zpath;
	am_buf_init(&why, 512);
	if ((dns = am_dns_zone_new(zone, 1, &why)) == NULL) {
		fprintf(stderr, "enginebench: %s\n", am_buf_str(&why));
		return 1;
	}
	if (out != NULL && (fp = fopen(out, "w")) == NULL)
		return 1;
	for (v = 0; v < NVARIANT; v++)
		have[v] = run_variant(conf, dns, ms, n, v, passes,
		    v == 0 ? fp : NULL, res[v]) == 0;
	if (fp != NULL)
		fclose(fp);
	report(res, have, n, bytes);
	free_corpus(ms, n);
	am_dns_free(dns);
	am_buf_release(&why);
	return 0;
}
