/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * milterload: a milter-protocol load client (the MTA side, protocol version
 * 6, written from the protocol description; no libmilter).
 *
 *   milterload --corpus DIR --milter HOST:PORT [--milter HOST:PORT ...]
 *              [-c CONC] [--per-conn K] [--limit N] [--repeat R]
 *              [--time-limit SECONDS] [--timeout SECONDS]
 *              [--writes each|postfix] [--stop-file PATH]
 *              [--out RESULTS.jsonl] [--label NAME]
 *
 * It replays DIR/manifest.tsv (id, session, client_ip, helo, mail_from,
 * rcpt, path; see gen_corpus.py) over CONC connections, one thread each.
 * Consecutive messages of one session go over one milter connection (at
 * most K of them when --per-conn K is given), as Postfix does for one SMTP
 * connection: OPTNEG, CONNECT, HELO, then per message MAIL, RCPT, DATA,
 * HEADER*, EOH, BODY* (chunks of at most 65535 bytes), BODYEOB, with ABORT
 * between messages and QUIT at the end. Each step is preceded by the macros
 * Postfix sends for it (j, {daemon_name}, v, {client_addr}, {client_name};
 * i at MAIL and later; {mail_addr}; {rcpt_addr}; no {auth_authen}), filtered
 * by the macro lists the milter asks for in its OPTNEG reply.
 *
 * The milter's OPTNEG reply is obeyed: skipped steps (SMFIP_NO*) are not
 * sent, no-reply steps (SMFIP_NR_*) are not waited for, header values keep
 * their leading space only with SMFIP_HDR_LEADSPC. Replies: c continue,
 * a accept, r reject, t tempfail, y reply code, d discard, s skip (body),
 * p progress; at end of message the modifications h (add), i (insert),
 * m (change) and q (quarantine) are recorded.
 *
 * --writes each (the default) writes every packet at once, with
 * TCP_NODELAY. --writes postfix writes as Postfix does: no TCP_NODELAY,
 * packets buffered (up to 64 KB) until a reply is awaited, and a flush
 * after the DATA step, where Postfix's smtpd(8) hands the socket to
 * cleanup(8), which then writes the content. Over TCP this shows what
 * Postfix meets: a write that Nagle holds until the milter's (delayed) ACK
 * of an earlier small one. The first write of each burst (the envelope,
 * the content) is judged when smaller than one segment, and counted when
 * the kernel holds it back (unsent bytes right after it, SIOCOUTQNSD).
 *
 * Several --milter options make a chain, as Postfix's smtpd_milters: each
 * message goes to the first milter, then, with the first one's header
 * changes applied, to the second; a reject ends the chain.
 *
 * Output: with --out, one JSON line per message (id, action, reply, the
 * headers the milters added, latency; t_mail, the CLOCK_MONOTONIC seconds
 * at MAIL, lines it up with dnsdelay.py's query log); on stdout one JSON summary: messages,
 * errors, seconds, msgs_per_s, latency p50/p99/max in ms (from MAIL to the
 * final end-of-message reply of the last milter), nagle_held (writes held,
 * above; each message's count is "held" in its line). Exit 0 when every message
 * got a final reply, 1 on any error, 2 on bad usage.
 *
 * Every loop is bounded: the corpus is replayed R times at most, no new
 * connection starts after --time-limit, every socket read and write times
 * out after --timeout. With --stop-file, no new connection starts once PATH
 * exists (a test's way to end a run that overlaps something else), and the
 * messages never started for that reason are left out of the results.
 */
#include <sys/stat.h>

#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "milterload.h"

struct corpus {
	struct msg *m;
	size_t n;
};

/* A unit of work: messages [first, first + count) on one connection. */
struct unit {
	size_t first, count;
};

struct opts {
	const char *corpus, *out, *label, *stop_file;
	char *milters[MAXMILTERS];
	size_t nmilters;
	int conc, per_conn, repeat;
	enum writes writes;
	long limit;
	double time_limit, timeout;
};

struct shared {
	const struct opts *o;
	struct corpus *c;
	struct unit *units;
	size_t nunits, next;
	struct result *res;      /* one per replayed message */
	size_t *res_msg;         /* corpus index of each result */
	size_t *unit_res;        /* first result slot of each unit */
	double t0;
	pthread_mutex_t lock;
	unsigned long errors;
	int stopped;             /* the stop file appeared (atomic) */
};

double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

void *
xmalloc(size_t n)
{
	void *p = malloc(n == 0 ? 1 : n);

	if (p == NULL) {
		fprintf(stderr, "milterload: out of memory\n");
		exit(1);
	}
	return p;
}

void *
xrealloc(void *p, size_t n)
{
	if ((p = realloc(p, n == 0 ? 1 : n)) == NULL) {
		fprintf(stderr, "milterload: out of memory\n");
		exit(1);
	}
	return p;
}

char *
xstrdup(const char *s)
{
	char *p = xmalloc(strlen(s) + 1);

	return strcpy(p, s);
}

void
seterr(struct result *r, const char *fmt, ...)
{
	va_list ap;

	if (r->err[0] != '\0')
		return;
	va_start(ap, fmt);
	vsnprintf(r->err, sizeof(r->err), fmt, ap);
	va_end(ap);
}

/* ---- corpus ---- */

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

/*
 * Split raw into header fields and body, in place. Values keep their
 * leading space; folded lines are joined with "\n" (the form an MTA sends:
 * LF, not CRLF, inside a milter header value).
 */
static int
parse_message(struct msg *m, size_t len)
{
	char *p = m->raw, *end = m->raw + len, *w, *colon;
	size_t cap = 16;

	m->h = xmalloc(cap * sizeof(*m->h));
	while (p < end && !(p[0] == '\r' && p + 1 < end && p[1] == '\n')) {
		if ((colon = memchr(p, ':', (size_t)(end - p))) == NULL)
			return -1;
		*colon = '\0';
		if (m->nh == cap)
			m->h = xrealloc(m->h, (cap *= 2) * sizeof(*m->h));
		m->h[m->nh].name = p;
		m->h[m->nh].value = w = colon + 1;
		m->nh++;
		for (p = colon + 1; p < end; ) {
			if (p[0] == '\r' && p + 1 < end && p[1] == '\n') {
				if (p + 2 < end && (p[2] == ' ' || p[2] == '\t')) {
					*w++ = '\n';
					p += 2;
					continue;
				}
				p += 2;
				break;
			}
			*w++ = *p++;
		}
		*w = '\0';
	}
	if (p >= end)
		return -1;
	m->body = p + 2;
	m->bodylen = (size_t)(end - m->body);
	return 0;
}

static int
load_line(struct msg *m, char *line, const char *dir)
{
	char *f[7], *s = line, path[4096];
	size_t i, len;

	for (i = 0; i < 7; i++) {
		f[i] = s;
		if ((s = strchr(s, i < 6 ? '\t' : '\n')) == NULL && i < 6)
			return -1;
		if (s != NULL)
			*s++ = '\0';
	}
	m->id = xstrdup(f[0]);
	m->session = xstrdup(f[1]);
	m->ip = xstrdup(f[2]);
	m->helo = xstrdup(f[3]);
	m->mail_from = xstrdup(f[4]);
	m->rcpt = xstrdup(f[5]);
	snprintf(path, sizeof(path), "%s/%s", dir, f[6]);
	if ((m->raw = read_file(path, &len)) == NULL) {
		fprintf(stderr, "milterload: %s: %s\n", path, strerror(errno));
		return -1;
	}
	if (parse_message(m, len) != 0) {
		fprintf(stderr, "milterload: %s: no header/body boundary\n", path);
		return -1;
	}
	return 0;
}

static int
load_corpus(struct corpus *c, const char *dir, long limit)
{
	char path[4096], line[8192];
	size_t cap = 256;
	FILE *fp;

	snprintf(path, sizeof(path), "%s/manifest.tsv", dir);
	if ((fp = fopen(path, "r")) == NULL) {
		fprintf(stderr, "milterload: %s: %s\n", path, strerror(errno));
		return -1;
	}
	c->m = xmalloc(cap * sizeof(*c->m));
	while (fgets(line, sizeof(line), fp) != NULL &&
	    (limit <= 0 || (long)c->n < limit)) {
		if (c->n == cap)
			c->m = xrealloc(c->m, (cap *= 2) * sizeof(*c->m));
		memset(&c->m[c->n], 0, sizeof(c->m[0]));
		if (load_line(&c->m[c->n], line, dir) != 0) {
			fclose(fp);
			return -1;
		}
		c->n++;
	}
	fclose(fp);
	return c->n > 0 ? 0 : -1;
}

/* Units: runs of one session, cut at per_conn messages; repeated. */
static struct unit *
make_units(const struct corpus *c, int per_conn, int repeat, size_t *n)
{
	struct unit *u = xmalloc(c->n * (size_t)repeat * sizeof(*u));
	size_t i, k = 0;
	int r;

	for (r = 0; r < repeat; r++)
		for (i = 0; i < c->n; i++) {
			if (i > 0 && u[k - 1].first + u[k - 1].count == i &&
			    strcmp(c->m[i].session, c->m[i - 1].session) == 0 &&
			    (per_conn <= 0 || u[k - 1].count < (size_t)per_conn)) {
				u[k - 1].count++;
				continue;
			}
			u[k].first = i;
			u[k].count = 1;
			k++;
		}
	*n = k;
	return u;
}

/* ---- threads ---- */

/* Mark the messages of a unit from i on as not sent, after an error. */
static void
unit_fail_rest(struct shared *sh, size_t u, size_t i, const char *why)
{
	for (; i < sh->units[u].count; i++)
		seterr(&sh->res[sh->unit_res[u] + i], "not sent: %s", why);
}

static void
run_unit(struct shared *sh, size_t u)
{
	const struct unit *un = &sh->units[u];
	struct mconn mcs[MAXMILTERS];
	size_t i, j, nm = sh->o->nmilters, opened = 0;
	struct result *r0 = &sh->res[sh->unit_res[u]], *r;
	int bad = 0;

	for (j = 0; j < nm && !bad; j++) {
		opened = j + 1;
		if (mconn_open(&mcs[j], sh->o->milters[j], sh->o->writes,
		    sh->o->timeout, r0) != 0 ||
		    session_start(&mcs[j], &sh->c->m[un->first], r0) != 0)
			bad = 1;
	}
	for (i = 0; i < un->count && !bad; i++) {
		r = &sh->res[sh->unit_res[u] + i];
		for (j = 0; i > 0 && j < nm; j++)
			if (send_cmd(&mcs[j], 'A', NULL, 0) != 0)
				seterr(r, "sending ABORT: %s", strerror(errno));
		if (r->err[0] != '\0' ||
		    run_message(mcs, nm, &sh->c->m[un->first + i], r) != 0)
			bad = 1;
	}
	for (j = 0; j < opened; j++)
		mconn_close(&mcs[j]);
	if (bad) {
		unit_fail_rest(sh, u, i, r0->err[0] ? r0->err : "earlier error");
		pthread_mutex_lock(&sh->lock);
		sh->errors++;
		pthread_mutex_unlock(&sh->lock);
	}
}

static void *
worker(void *arg)
{
	struct shared *sh = arg;
	size_t u;

	for (;;) {
		u = __atomic_fetch_add(&sh->next, 1, __ATOMIC_RELAXED);
		if (u >= sh->nunits || now() - sh->t0 > sh->o->time_limit)
			break;
		if (sh->o->stop_file != NULL && access(sh->o->stop_file, F_OK) == 0) {
			__atomic_store_n(&sh->stopped, 1, __ATOMIC_RELAXED);
			break;
		}
		run_unit(sh, u);
	}
	return NULL;
}

/* ---- output ---- */

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
		else if (*p == '\r')
			fputs("\\r", fp);
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
write_result(FILE *fp, const struct msg *m, const struct result *r, int done)
{
	size_t i;

	fputs("{\"id\":", fp);
	json_str(fp, m->id);
	fputs(",\"action\":", fp);
	json_str(fp, done ? r->action : "");
	fputs(",\"reply\":", fp);
	json_str(fp, r->reply);
	fputs(",\"err\":", fp);
	json_str(fp, done ? r->err : "not run (time limit)");
	fprintf(fp, ",\"lat_us\":%.0f,\"t_mail\":%.6f,\"held\":%lu,\"mods\":[",
	    r->lat_us, r->t_mail, r->held);
	for (i = 0; i < r->nmods; i++) {
		fprintf(fp, "%s[\"%c\",%u,", i ? "," : "", r->mods[i].kind,
		    r->mods[i].idx);
		json_str(fp, r->mods[i].name);
		fputc(',', fp);
		json_str(fp, r->mods[i].value);
		fputc(']', fp);
	}
	fputs("]}\n", fp);
}

static int
cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double
pct(const double *v, size_t n, double p)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(p * (double)(n - 1) + 0.5);
	return v[i < n ? i : n - 1];
}

static int
report(struct shared *sh, size_t nres, double secs)
{
	double *lat = xmalloc(nres * sizeof(double)), sum = 0;
	size_t i, ok = 0, bad = 0, skipped = 0;
	unsigned long long bytes = 0;
	unsigned long held = 0;
	FILE *fp = NULL;

	if (sh->o->out != NULL && (fp = fopen(sh->o->out, "w")) == NULL) {
		fprintf(stderr, "milterload: %s: %s\n", sh->o->out, strerror(errno));
		free(lat);
		return 1;
	}
	for (i = 0; i < nres; i++) {
		const struct result *r = &sh->res[i];
		int done = r->action[0] != '\0' || r->err[0] != '\0';
		if (!done && __atomic_load_n(&sh->stopped, __ATOMIC_RELAXED)) {
			skipped++;
			continue;
		}
		if (fp != NULL)
			write_result(fp, &sh->c->m[sh->res_msg[i]], r, done);
		held += r->held;
		if (done && r->err[0] == '\0' && r->action[0] != '\0') {
			lat[ok++] = r->lat_us / 1000.0;
			sum += r->lat_us / 1000.0;
			bytes += sh->c->m[sh->res_msg[i]].bodylen;
		} else if (done)
			bad++;
	}
	if (fp != NULL)
		fclose(fp);
	qsort(lat, ok, sizeof(double), cmp_double);
	nres -= skipped;
	printf("{\"label\":\"%s\",\"milters\":%zu,\"conc\":%d,\"messages\":%zu,"
	    "\"planned\":%zu,\"errors\":%zu,\"seconds\":%.3f,\"msgs_per_s\":%.1f,"
	    "\"body_mb_per_s\":%.2f,\"lat_mean_ms\":%.3f,\"lat_p50_ms\":%.3f,"
	    "\"lat_p99_ms\":%.3f,\"lat_max_ms\":%.3f,\"writes\":\"%s\","
	    "\"nagle_held\":%lu}\n", sh->o->label, sh->o->nmilters, sh->o->conc,
	    ok, nres, bad + (nres - ok - bad), secs, secs > 0 ? ok / secs : 0,
	    secs > 0 ? bytes / secs / 1e6 : 0, ok ? sum / (double)ok : 0,
	    pct(lat, ok, 0.50),
	    pct(lat, ok, 0.99), ok ? lat[ok - 1] : 0,
	    sh->o->writes == W_POSTFIX ? "postfix" : "each", held);
	free(lat);
	return ok == nres && bad == 0 ? 0 : 1;
}

static void
usage(void)
{
	fprintf(stderr, "usage: milterload --corpus DIR --milter HOST:PORT "
	    "[--milter HOST:PORT...] [-c CONC]\n"
	    "       [--per-conn K] [--limit N] [--repeat R] [--time-limit S] "
	    "[--timeout S]\n       [--writes each|postfix] [--stop-file PATH] [--out FILE] "
	    "[--label NAME]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	int i;

	memset(o, 0, sizeof(*o));
	o->conc = 1;
	o->repeat = 1;
	o->time_limit = 600;
	o->timeout = 30;
	o->label = "run";
	for (i = 1; i < argc; i++) {
		const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		if (v == NULL)
			usage();
		if (strcmp(a, "--corpus") == 0)
			o->corpus = v;
		else if (strcmp(a, "--milter") == 0 && o->nmilters < MAXMILTERS)
			o->milters[o->nmilters++] = argv[i + 1];
		else if (strcmp(a, "-c") == 0)
			o->conc = atoi(v);
		else if (strcmp(a, "--per-conn") == 0)
			o->per_conn = atoi(v);
		else if (strcmp(a, "--limit") == 0)
			o->limit = atol(v);
		else if (strcmp(a, "--repeat") == 0)
			o->repeat = atoi(v);
		else if (strcmp(a, "--time-limit") == 0)
			o->time_limit = atof(v);
		else if (strcmp(a, "--timeout") == 0)
			o->timeout = atof(v);
		else if (strcmp(a, "--out") == 0)
			o->out = v;
		else if (strcmp(a, "--label") == 0)
			o->label = v;
		else if (strcmp(a, "--writes") == 0 && strcmp(v, "each") == 0)
			o->writes = W_EACH;
		else if (strcmp(a, "--writes") == 0 && strcmp(v, "postfix") == 0)
			o->writes = W_POSTFIX;
		else if (strcmp(a, "--stop-file") == 0)
			o->stop_file = v;
		else
			usage();
		i++;
	}
	if (o->corpus == NULL || o->nmilters == 0 || o->conc < 1 ||
	    o->conc > 1024 || o->repeat < 1 || o->repeat > 1000 ||
	    o->timeout <= 0 || o->time_limit <= 0)
		usage();
}

/* Give back everything main() and the workers allocated. */
static void
free_all(struct shared *sh, size_t nres, struct corpus *c)
{
	size_t i, k;

	for (i = 0; i < nres; i++)
		for (k = 0; k < sh->res[i].nmods; k++) {
			free(sh->res[i].mods[k].name);
			free(sh->res[i].mods[k].value);
		}
	free(sh->res);
	free(sh->res_msg);
	free(sh->unit_res);
	free(sh->units);
	for (i = 0; i < c->n; i++) {
		struct msg *m = &c->m[i];
		free(m->id);
		free(m->session);
		free(m->ip);
		free(m->helo);
		free(m->mail_from);
		free(m->rcpt);
		free(m->raw);
		free(m->h);
	}
	free(c->m);
	pthread_mutex_destroy(&sh->lock);
}

/* Units and result slots for the corpus; the index of each result. */
static size_t
plan(struct shared *sh, struct corpus *c, const struct opts *o)
{
	size_t i, j, nres = 0;

	memset(sh, 0, sizeof(*sh));
	sh->o = o;
	sh->c = c;
	sh->units = make_units(c, o->per_conn, o->repeat, &sh->nunits);
	sh->unit_res = xmalloc(sh->nunits * sizeof(size_t));
	for (i = 0; i < sh->nunits; i++) {
		sh->unit_res[i] = nres;
		nres += sh->units[i].count;
	}
	if ((sh->res = calloc(nres, sizeof(*sh->res))) == NULL) {
		fprintf(stderr, "milterload: out of memory\n");
		exit(1);
	}
	sh->res_msg = xmalloc(nres * sizeof(size_t));
	for (i = 0; i < sh->nunits; i++)
		for (j = 0; j < sh->units[i].count; j++)
			sh->res_msg[sh->unit_res[i] + j] = sh->units[i].first + j;
	pthread_mutex_init(&sh->lock, NULL);
	return nres;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct corpus c = { NULL, 0 };
	struct shared sh;
	pthread_t *th;
	size_t nres;
	int t, rc, started = 0;

	parse_args(argc, argv, &o);
	if (load_corpus(&c, o.corpus, o.limit) != 0)
		return 1;
	nres = plan(&sh, &c, &o);
	th = xmalloc((size_t)o.conc * sizeof(*th));
	sh.t0 = now();
	for (t = 0; t < o.conc; t++, started++)
		if (pthread_create(&th[t], NULL, worker, &sh) != 0) {
			fprintf(stderr, "milterload: cannot start thread\n");
			/* the started workers take no more units */
			__atomic_store_n(&sh.next, sh.nunits, __ATOMIC_RELAXED);
			break;
		}
	for (t = 0; t < started; t++)
		pthread_join(th[t], NULL);
	free(th);
	rc = started == o.conc ? report(&sh, nres, now() - sh.t0) : 1;
	free_all(&sh, nres, &c);
	return rc;
}
