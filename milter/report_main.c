/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * authmilter-report: builds and sends DMARC aggregate reports (RFC 9990)
 * from the rows the daemon recorded in ReportStore, and the failure
 * reports (RFC 9991) recorded with them. Run from cron or a systemd
 * timer; see authmilter-report(8).
 *
 *   --list          closed, unsent periods per policy domain, with counts,
 *                   and the number of unsent failure reports
 *   --print DOMAIN  the XML of DOMAIN's oldest pending period, to stdout
 *   --failures      send the pending failure reports only (run often)
 *                   (failure reports are sent, listed, only with
 *                   FailureReports yes: turning it off stops them)
 *   (no option)     send: per policy domain and closed period (UTC day, or
 *                   hour with ReportPeriod hour), the XML gzipped and mailed
 *                   to every verified rua mailto address, then the period
 *                   marked sent; then the failure reports (below); then
 *                   rows older than ReportRetention are purged
 *
 * Failure reports (RFC 9991, report_fail.c): each recorded entry goes, as
 * one AFRF message (lib/report_afrf.c), to each verified ruf mailto
 * address, within FailureReportRate per address per hour (a counter in
 * the store); over it the entry is dropped for that address and counted.
 * An entry is marked sent when every address is settled (sent, refused or
 * over the rate); a failed send or DNS failure keeps it for the next run.
 *
 * A period is marked sent only when every destination was settled: sent,
 * or refused for good (not mailto, not authorized). A failed send or a DNS
 * failure leaves it for the next run, which sends it with the same
 * Report-ID and file name (RFC 9990 s.3.5.2), so a receiver can drop a
 * duplicate when a run is cut between sending and marking. Sending runs
 * over one store never overlap (the store's lock: PATH.lock for SQLite,
 * an advisory lock for PostgreSQL, so also across a fleet's hosts).
 */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "amconfig.h"
#include "config.h"
#include "dmarc.h"
#include "dns.h"
#include "psl.h"
#include "report_dest.h"
#include "report_fail.h"
#include "report_mail.h"
#include "report_store.h"
#include "report_xml.h"

#ifndef AM_SYSCONFDIR
#define AM_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF AM_SYSCONFDIR "/authmilter.conf"

struct ctx {
	const struct am_config *conf;
	struct am_report_store *store;
	struct am_dns *dns;
	struct am_psl *psl;
	struct am_dmarc_conf dconf;
	struct am_report_transport transport;
	struct am_report_fail_ctx fail;
	char submitter[AM_DNS_NAME_MAX + 1];
	int64_t now, period;
	const char *print_domain;
	int printed;
	unsigned sent, kept, failed;
};

static void
usage(void)
{
	fprintf(stderr, "usage: authmilter-report [-c FILE] [--list | "
	    "--print DOMAIN | --failures]\n");
	exit(2);
}

static void
warnx_(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

static void
warnx_(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "authmilter-report: ");
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
}

/* A domain safe to put in a Subject and a file name. */
static int
valid_domain(const char *d)
{
	size_t n = strlen(d), i;

	if (n == 0 || n > AM_DNS_NAME_MAX)
		return 0;
	for (i = 0; i < n; i++)
		if (!((d[i] >= 'a' && d[i] <= 'z') || (d[i] >= 'A' && d[i] <= 'Z')
		    || (d[i] >= '0' && d[i] <= '9') || d[i] == '-' ||
		    d[i] == '.' || d[i] == '_'))
			return 0;
	return 1;
}

static void
iso(int64_t t, char *out, size_t size)
{
	time_t tt = (time_t)t;
	struct tm tm;

	strftime(out, size, "%Y-%m-%dT%H:%M:%SZ", gmtime_r(&tt, &tm));
}

static int
list_one(void *arg, const struct am_report_period *p)
{
	char b[32], e[32];

	(void)arg;
	iso(p->begin, b, sizeof(b));
	iso(p->end, e, sizeof(e));
	printf("%s %s %s %llu\n", p->domain, b, e, (unsigned long long)p->count);
	return 0;
}

static void
meta_init(struct ctx *c, struct am_report_meta *m, const char *domain,
    const struct am_report_period *p, char id[AM_REPORT_ID_LEN + 1])
{
	am_report_id(c->submitter, domain, p->begin, p->end, id);
	memset(m, 0, sizeof(*m));
	m->org_name = c->conf->report_org_name;
	m->email = c->conf->report_email;
	m->report_id = id;
	m->generator = PACKAGE_STRING;
	m->begin = p->begin;
	m->end = p->end;
}

static int
to_stdout(void *arg, const void *p, size_t n)
{
	(void)arg;
	return fwrite(p, 1, n, stdout) == n ? 0 : -1;
}

static int
print_one(void *arg, const struct am_report_period *p)
{
	struct ctx *c = arg;
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_meta m;
	char id[AM_REPORT_ID_LEN + 1];
	int rc;

	if (c->printed++ > 0)
		return 0;               /* the oldest only; count the rest */
	meta_init(c, &m, p->domain, p, id);
	rc = am_report_xml_write(c->store, &m, p->domain, to_stdout, NULL, &why);
	if (rc != 0)
		warnx_("%s: %s", p->domain, am_buf_str(&why));
	am_buf_release(&why);
	return rc != 0 ? -1 : 0;
}

/* The rua URIs of a period's published policy, decoded, up to 32. */
struct dests {
	size_t n;
	char addr[AM_REPORT_URI_COUNT][AM_REPORT_ADDR_MAX];
	int tempfail;
};

static void
add_dest(struct dests *d, const char *addr)
{
	size_t i;

	for (i = 0; i < d->n; i++)
		if (strcmp(d->addr[i], addr) == 0)
			return;
	if (d->n < AM_REPORT_URI_COUNT)
		snprintf(d->addr[d->n++], AM_REPORT_ADDR_MAX, "%s", addr);
}

/* Settle the destinations of domain's rua list (RFC 9990 s.3.5, s.4). */
static int
destinations(struct ctx *c, const char *domain,
    const struct am_report_period *p, struct dests *d)
{
	struct am_buf why = AM_BUF_INIT(512), scratch = AM_BUF_INIT(16384);
	struct am_report_published pp;
	char *rua, addr[AM_REPORT_ADDR_MAX], host[AM_DNS_NAME_MAX + 1];
	const char *pos, *f[1];
	int rc;

	memset(d, 0, sizeof(*d));
	rc = c->store->ops->published(c->store->state, domain, p->begin, p->end,
	    &pp, &why);
	if (rc != 0 || (rua = strdup(pp.rua != NULL ? pp.rua : "")) == NULL) {
		warnx_("%s: %s", domain, rc < 0 ? am_buf_str(&why) : "no rows");
		am_buf_release(&why);
		return -1;
	}
	for (pos = rua; am_report_dec_item(&pos, &scratch, f, 1) > 0;) {
		am_buf_reset(&why);
		if (am_report_rua_mailto(f[0], addr, host, &why) != 0) {
			warnx_("%s: rua %s skipped: %s", domain, f[0],
			    am_buf_str(&why));
			continue;
		}
		switch (am_report_dest_verify(&c->dconf, c->dns, domain, addr,
		    host, &why)) {
		case AM_REPORT_DEST_OK:
			add_dest(d, addr);
			break;
		case AM_REPORT_DEST_REFUSED:
			warnx_("%s: rua %s refused: %s", domain, f[0],
			    am_buf_str(&why));
			break;
		case AM_REPORT_DEST_TEMPFAIL:
			warnx_("%s: rua %s: %s (will retry)", domain, f[0],
			    am_buf_str(&why));
			d->tempfail = 1;
			break;
		}
	}
	free(rua);
	am_buf_release(&why);
	am_buf_release(&scratch);
	return 0;
}

/* Build, compress and mail one report; mark it sent when all went out. */
static int
send_one(void *arg, const struct am_report_period *p)
{
	struct ctx *c = arg;
	struct am_buf why = AM_BUF_INIT(512);
	struct am_report_mail mail;
	struct am_report_meta m;
	struct am_report_gz *gz = NULL;
	struct dests d;
	char id[AM_REPORT_ID_LEN + 1], *domain;
	FILE *fp = NULL;
	size_t i;
	int ok = 1;

	memset(&d, 0, sizeof(d));
	if ((domain = strdup(p->domain)) == NULL)
		return -1;
	meta_init(c, &m, domain, p, id);
	if (!valid_domain(domain)) {
		warnx_("policy domain \"%.64s\" is not a domain name: not "
		    "reported", domain);
	} else if (destinations(c, domain, p, &d) != 0) {
		ok = 0;
	} else if (d.n > 0) {
		if ((gz = am_report_gz_new(&why)) == NULL ||
		    am_report_xml_write(c->store, &m, domain, am_report_gz_write,
		    gz, &why) != 0 || (fp = am_report_gz_finish(gz, &why)) == NULL) {
			warnx_("%s: %s", domain, am_buf_str(&why));
			ok = 0;
		}
		memset(&mail, 0, sizeof(mail));
		mail.from = c->conf->report_email;
		mail.submitter = c->submitter;
		mail.domain = domain;
		mail.report_id = id;
		mail.begin = p->begin;
		mail.end = p->end;
		mail.now = c->now;
		for (i = 0; ok && i < d.n; i++) {
			am_buf_reset(&why);
			if (am_report_mail_send(&c->transport, &mail, fp,
			    d.addr[i], &why) != 0) {
				warnx_("%s: to %s: %s (will retry)", domain,
				    d.addr[i], am_buf_str(&why));
				ok = 0;
			} else {
				printf("sent %s %s to %s (%llu messages)\n",
				    domain, id, d.addr[i],
				    (unsigned long long)p->count);
			}
		}
	}
	if (ok && d.tempfail)
		ok = 0;
	if (ok) {
		am_buf_reset(&why);
		if (c->store->ops->mark_sent(c->store->state, domain, p->begin,
		    p->end, id, c->now, &why) < 0) {
			warnx_("%s: %s", domain, am_buf_str(&why));
			ok = 0;
		}
	}
	if (ok)
		c->sent++;
	else
		c->kept++;
	am_report_gz_free(gz);
	am_buf_release(&why);
	free(domain);
	return 0;
}

/* Open store, DNS and PSL per the configuration; exit on failure. */
static void
setup(struct ctx *c, int need_identity)
{
	const struct am_config *conf = c->conf;
	struct am_dns_ldns_opts lo;
	struct am_buf why = AM_BUF_INIT(512);
	const char *at;

	if (need_identity && (*conf->report_org_name == '\0' ||
	    *conf->report_email == '\0')) {
		warnx_("ReportOrgName and ReportEmail must be set");
		exit(1);
	}
	at = strrchr(conf->report_email, '@');
	snprintf(c->submitter, sizeof(c->submitter), "%s",
	    *conf->report_submitter != '\0' ? conf->report_submitter :
	    at != NULL ? at + 1 : "");
	if (need_identity && !valid_domain(c->submitter)) {
		warnx_("ReportSubmitter (or the domain of ReportEmail) \"%s\" "
		    "is not a domain name", c->submitter);
		exit(1);
	}
	c->transport.sendmail = conf->report_sendmail;
	c->transport.smtp_host = conf->report_smtp_host;
	c->transport.smtp_timeout_ms = conf->report_smtp_timeout_ms;
	c->transport.helo = c->submitter;
	if (need_identity && *conf->report_smtp_host != '\0') {
		char h[256], port[8];

		if (am_report_smtp_hostport(conf->report_smtp_host, h, sizeof(h),
		    port, sizeof(port), &why) != 0) {
			warnx_("%s", am_buf_str(&why));
			exit(1);
		}
	}
	if ((c->store = am_report_store_open(conf->report_store, &why)) == NULL) {
		warnx_("ReportStore %s: %s", conf->report_store, am_buf_str(&why));
		exit(1);
	}
	memset(&lo, 0, sizeof(lo));
	lo.servers = (const char *const *)conf->dns_servers.v;
	lo.nservers = conf->dns_servers.n;
	lo.timeout_ms = conf->dns_timeout_ms;
	lo.retries = conf->dns_retries;
	if ((c->dns = am_dns_ldns_new(&lo, &why)) == NULL) {
		warnx_("DNS: %s", am_buf_str(&why));
		exit(1);
	}
	c->dns = am_dns_cache_new(c->dns, 10000, 3600);
	c->dconf.mode = conf->dmarc_mode == AM_DMARCMODE_RFC7489 ?
	    AM_DMARC_RFC7489 : AM_DMARC_RFC9989;
	if (c->dconf.mode == AM_DMARC_RFC7489) {
		if ((c->psl = am_psl_load(conf->public_suffix_list, AM_PSL_ALL,
		    &why)) == NULL) {
			warnx_("PublicSuffixList: %s", am_buf_str(&why));
			exit(1);
		}
		c->dconf.psl = c->psl;
	}
	am_buf_release(&why);
}

/* The pending periods, read before any is marked sent. */
struct plist {
	struct am_report_period *v;
	size_t n, size;
};

static int
collect(void *arg, const struct am_report_period *p)
{
	struct plist *l = arg;
	struct am_report_period *v;

	if (l->n == l->size) {
		l->size = l->size ? 2 * l->size : 64;
		if ((v = realloc(l->v, l->size * sizeof(*v))) == NULL)
			return -1;
		l->v = v;
	}
	l->v[l->n] = *p;
	if ((l->v[l->n].domain = strdup(p->domain)) == NULL)
		return -1;
	l->n++;
	return 0;
}

/* Settings of the failure report sender (report_fail.c). */
static void
fail_setup(struct ctx *c)
{
	c->fail.store = c->store;
	c->fail.dns = c->dns;
	c->fail.dconf = &c->dconf;
	c->fail.transport = &c->transport;
	c->fail.from = c->conf->report_email;
	c->fail.submitter = c->submitter;
	c->fail.user_agent = PACKAGE_STRING;
	c->fail.rate = c->conf->failure_report_rate;
	c->fail.now = c->now;
	c->fail.warn = warnx_;
}

/* Send the pending failure reports; -1 when some were kept back. */
static int
run_failures(struct ctx *c)
{
	fail_setup(c);
	am_report_fail_send(&c->fail);
	printf("%u failure reports sent, %u over FailureReportRate, "
	    "%u kept for the next run\n", c->fail.sent, c->fail.over_rate,
	    c->fail.kept);
	return c->fail.kept > 0 || c->fail.failed ? -1 : 0;
}

static int
run_send(struct ctx *c)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct plist l = { NULL, 0, 0 };
	uint64_t purged = 0;
	size_t i;
	int rc;

	rc = c->store->ops->periods(c->store->state, c->period, c->now, NULL,
	    collect, &l, &why);
	if (rc != 0)
		warnx_("listing periods: %s", rc < 0 ? am_buf_str(&why) :
		    "out of memory");
	for (i = 0; rc == 0 && i < l.n; i++)
		send_one(c, &l.v[i]);
	for (i = 0; i < l.n; i++)
		free((void *)(uintptr_t)l.v[i].domain);
	free(l.v);
	if (c->conf->failure_reports && run_failures(c) != 0)
		rc = -1;
	if (c->store->ops->purge(c->store->state, c->now -
	    (int64_t)c->conf->report_retention * 86400, &purged, &why) != 0) {
		warnx_("purge: %s", am_buf_str(&why));
		rc = -1;
	}
	printf("%u reports sent, %u kept for the next run, %llu rows purged\n",
	    c->sent, c->kept, (unsigned long long)purged);
	am_buf_release(&why);
	return rc != 0 || c->kept > 0 ? 1 : 0;
}

int
main(int argc, char **argv)
{
	static const struct option longopts[] = {
		{ "list", no_argument, NULL, 'l' },
		{ "print", required_argument, NULL, 'p' },
		{ "failures", no_argument, NULL, 'f' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct am_buf why = AM_BUF_INIT(1024);
	const char *conf_path = DEFAULT_CONF;
	struct am_config *conf;
	struct ctx c;
	int ch, list = 0, failures = 0, rc = 0, lk;
	size_t pending;

	memset(&c, 0, sizeof(c));
	while ((ch = getopt_long(argc, argv, "c:", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': conf_path = optarg; break;
		case 'l': list = 1; break;
		case 'p': c.print_domain = optarg; break;
		case 'f': failures = 1; break;
		default: usage();
		}
	}
	if (optind != argc || list + failures + (c.print_domain != NULL) > 1)
		usage();
	if ((conf = am_config_load(conf_path, &why)) == NULL) {
		warnx_("%s", am_buf_str(&why));
		return 1;
	}
	if (*conf->report_store == '\0') {
		warnx_("reporting is off (no ReportStore in %s)", conf_path);
		am_config_free(conf);
		return 0;
	}
	signal(SIGPIPE, SIG_IGN);
	c.conf = conf;
	c.now = (int64_t)time(NULL);
	c.period = conf->report_period == AM_REPORTPERIOD_HOUR ? 3600 : 86400;
	setup(&c, !list);
	/* one sending run at a time per store (a fleet's too) */
	if (!list && c.print_domain == NULL &&
	    (lk = c.store->ops->lock(c.store->state, &why)) != 0) {
		warnx_("%s", lk > 0 ? "another authmilter-report run is "
		    "sending from this store" : am_buf_str(&why));
		rc = 1;
		goto out;
	}
	if (list) {
		rc = c.store->ops->periods(c.store->state, c.period, c.now, NULL,
		    list_one, NULL, &why) != 0;
		if (conf->failure_reports) {
			if (am_report_fail_count(c.store, &pending, &why) != 0)
				rc = 1;
			else
				printf("failure reports pending: %zu\n", pending);
		}
	} else if (failures && !conf->failure_reports) {
		warnx_("failure reports are off (FailureReports no in %s)",
		    conf_path);
	} else if (failures) {
		rc = run_failures(&c) != 0;
	} else if (c.print_domain != NULL) {
		rc = c.store->ops->periods(c.store->state, c.period, c.now,
		    c.print_domain, print_one, &c, &why) != 0;
		if (c.printed == 0)
			warnx_("%s: no closed period to report", c.print_domain);
		else if (c.printed > 1)
			warnx_("%s: %d more closed periods pending",
			    c.print_domain, c.printed - 1);
		rc = rc || c.printed == 0;
	} else {
		rc = run_send(&c);
	}
	if (rc != 0 && why.len > 0)
		warnx_("%s", am_buf_str(&why));
out:
	am_report_store_close(c.store);
	am_dns_free(c.dns);
	am_psl_free(c.psl);
	am_config_free(conf);
	am_buf_release(&why);
	return rc;
}
