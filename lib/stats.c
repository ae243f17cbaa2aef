/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats: process-wide counters and their Prometheus text page. See stats.h.
 *
 * Each counter is an unsigned 64-bit integer updated with a relaxed atomic
 * add; the page reads each with a relaxed atomic load. Nothing orders two
 * counters against each other, which the text format does not promise
 * either. The histogram keeps one counter per bucket (not cumulative), and
 * the page adds them up, so its buckets never decrease from left to right
 * even while messages are being counted; its sum is kept in microseconds.
 */
#include <stdint.h>
#include <string.h>

#include "amconfig.h"
#include "stats.h"

#define N_ACTION (AM_ACTION_TEMPFAIL + 1)
#define N_SPF (AM_SPF_PERMERROR + 1)
#define N_DKIM (AM_DKIM_PERMERROR + 1)
#define N_DMARC (AM_DMARC_PERMERROR + 1)
#define N_ARC (AM_ARC_TEMPERROR + 1)

/* Upper bounds of the duration buckets, in seconds; +Inf follows. */
static const double bounds[] = {
	0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
};
#define N_BOUNDS (sizeof(bounds) / sizeof(bounds[0]))

static struct {
	uint64_t action[N_ACTION];
	uint64_t not_judged;
	uint64_t spf[N_SPF], spf_helo[N_SPF], dkim[N_DKIM];
	uint64_t dmarc[N_DMARC], arc[N_ARC];
	uint64_t bucket[N_BOUNDS + 1];  /* [N_BOUNDS]: over the last bound */
	uint64_t sum_us;
	uint64_t count[AM_STATS_NCOUNTERS];
} st;

static void
inc(uint64_t *c)
{
	__atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

static uint64_t
get(const uint64_t *c)
{
	return __atomic_load_n(c, __ATOMIC_RELAXED);
}

void
am_stats_count(enum am_stats_counter c)
{
	if ((unsigned)c < AM_STATS_NCOUNTERS)
		inc(&st.count[c]);
}

void
am_stats_add(enum am_stats_counter c, unsigned long long n)
{
	if ((unsigned)c < AM_STATS_NCOUNTERS)
		__atomic_add_fetch(&st.count[c], n, __ATOMIC_RELAXED);
}

void
am_stats_reload(void)
{
	am_stats_count(AM_STATS_RELOAD);
}

unsigned long long
am_stats_get(enum am_stats_counter c)
{
	return (unsigned)c < AM_STATS_NCOUNTERS ? get(&st.count[c]) : 0;
}

void
am_stats_reset(void)
{
	memset(&st, 0, sizeof(st));
}

/* The time per message into its bucket and the sum. */
static void
observe(double seconds)
{
	size_t i;

	if (!(seconds >= 0))  /* also NaN */
		seconds = 0;
	for (i = 0; i < N_BOUNDS && seconds > bounds[i]; i++)
		;
	inc(&st.bucket[i]);
	if (seconds > 1e9)
		seconds = 1e9;
	__atomic_add_fetch(&st.sum_us, (uint64_t)(seconds * 1e6 + 0.5),
	    __ATOMIC_RELAXED);
}

void
am_stats_verdict(const struct am_verdict *v, double seconds)
{
	size_t i, n;

	if ((unsigned)v->action < N_ACTION)
		inc(&st.action[v->action]);
	observe(seconds);
	if (!v->judged) {
		inc(&st.not_judged);
		return;
	}
	if (v->spf_none_reason != NULL)
		inc(&st.spf[AM_SPF_NONE]);
	if (v->spf_mailfrom_done && (unsigned)v->spf_mailfrom.result < N_SPF)
		inc(&st.spf[v->spf_mailfrom.result]);
	if (v->spf_helo_done && (unsigned)v->spf_helo.result < N_SPF)
		inc(&st.spf_helo[v->spf_helo.result]);
	if (v->dkim != NULL) {
		n = am_dkim_count(v->dkim);
		if (n == 0)
			inc(&st.dkim[AM_DKIM_NONE]);
		for (i = 0; i < n; i++)
			if ((unsigned)am_dkim_sig(v->dkim, i)->result < N_DKIM)
				inc(&st.dkim[am_dkim_sig(v->dkim, i)->result]);
	}
	if (v->dmarc != NULL && (unsigned)v->dmarc->result < N_DMARC)
		inc(&st.dmarc[v->dmarc->result]);
	if (v->arc != NULL && (unsigned)v->arc->cv < N_ARC)
		inc(&st.arc[v->arc->cv]);
}

/* ---- the page ---- */

void
am_stats_label(struct am_buf *out, const char *s)
{
	for (; *s != '\0'; s++) {
		if (*s == '\\')
			am_buf_adds(out, "\\\\");
		else if (*s == '"')
			am_buf_adds(out, "\\\"");
		else if (*s == '\n')
			am_buf_adds(out, "\\n");
		else
			am_buf_addc(out, *s);
	}
}

static void
head(struct am_buf *out, const char *name, const char *type, const char *help)
{
	am_buf_printf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static void
counter(struct am_buf *out, const char *name, const char *help, const uint64_t *c)
{
	head(out, name, "counter", help);
	am_buf_printf(out, "%s %llu\n", name, (unsigned long long)get(c));
}

/* One results_total line per value of one method. */
static void
results(struct am_buf *out, const char *method, const uint64_t *c, int n,
    const char *(*name)(int))
{
	int i;

	for (i = 0; i < n; i++) {
		am_buf_printf(out, "authmilter_results_total{method=\"%s\",result=\"",
		    method);
		am_stats_label(out, name(i));
		am_buf_printf(out, "\"} %llu\n", (unsigned long long)get(&c[i]));
	}
}

static const char *spf_name(int r) { return am_spf_result_name((enum am_spf_result)r); }
static const char *dkim_name(int r) { return am_dkim_result_name((enum am_dkim_result)r); }
static const char *dmarc_name(int r) { return am_dmarc_result_name((enum am_dmarc_result)r); }
static const char *arc_name(int r) { return am_arc_cv_name((enum am_arc_cv)r); }

static void
histogram(struct am_buf *out)
{
	const char *name = "authmilter_message_duration_seconds";
	uint64_t cum = 0;
	size_t i;

	head(out, name, "histogram",
	    "Time from a message's first milter callback to its end of message.");
	for (i = 0; i <= N_BOUNDS; i++) {
		cum += get(&st.bucket[i]);
		if (i < N_BOUNDS)
			am_buf_printf(out, "%s_bucket{le=\"%g\"} %llu\n", name,
			    bounds[i], (unsigned long long)cum);
		else
			am_buf_printf(out, "%s_bucket{le=\"+Inf\"} %llu\n", name,
			    (unsigned long long)cum);
	}
	am_buf_printf(out, "%s_sum %.6f\n%s_count %llu\n", name,
	    (double)get(&st.sum_us) / 1e6, name, (unsigned long long)cum);
}

static void
write_messages(struct am_buf *out)
{
	int a;

	head(out, "authmilter_messages_total", "counter",
	    "Messages decided, by the action taken.");
	for (a = 0; a < (int)N_ACTION; a++)
		am_buf_printf(out, "authmilter_messages_total{action=\"%s\"} %llu\n",
		    am_action_name((enum am_action)a),
		    (unsigned long long)get(&st.action[a]));
	counter(out, "authmilter_messages_not_judged_total",
	    "Messages not checked (trusted network or authenticated client).",
	    &st.not_judged);
	head(out, "authmilter_results_total", "counter",
	    "Results by method and value: spf (MAIL FROM), spf_helo, dkim "
	    "(one per signature), dmarc, arc.");
	results(out, "spf", st.spf, N_SPF, spf_name);
	results(out, "spf_helo", st.spf_helo, N_SPF, spf_name);
	results(out, "dkim", st.dkim, N_DKIM, dkim_name);
	results(out, "dmarc", st.dmarc, N_DMARC, dmarc_name);
	results(out, "arc", st.arc, N_ARC, arc_name);
}

int
am_stats_write(struct am_buf *out)
{
	static const struct {
		enum am_stats_counter c;
		const char *name, *help;
	} rows[] = {
		{ AM_STATS_DNS_LOOKUP, "authmilter_dns_lookups_total",
		  "DNS lookups asked of the cache." },
		{ AM_STATS_DNS_CACHE_HIT, "authmilter_dns_cache_hits_total",
		  "DNS lookups answered from the cache." },
		{ AM_STATS_DNS_QUERY, "authmilter_dns_queries_total",
		  "DNS lookups sent on to the resolver." },
		{ AM_STATS_DNS_SHARED, "authmilter_dns_shared_total",
		  "DNS lookups that joined the same query already in flight "
		  "(lookups = hits + queries + shared)." },
		{ AM_STATS_DNS_TEMPFAIL, "authmilter_dns_tempfail_total",
		  "DNS lookups sent on that failed for now (timeout, SERVFAIL, other RCODE)." },
		{ AM_STATS_RELOAD, "authmilter_reloads_total",
		  "Configuration reloads that took effect." },
		{ AM_STATS_LOG_DROP, "authmilter_log_dropped_total",
		  "Decision log records dropped." },
		{ AM_STATS_REPORT_DROP, "authmilter_report_dropped_total",
		  "Report records dropped from the report queue." },
		{ AM_STATS_UNCHECKED, "authmilter_messages_unchecked_total",
		  "Messages tempfailed without a verdict (out of memory, stopping)." },
	};
	size_t i;

	head(out, "authmilter_build_info", "gauge", "The running version.");
	am_buf_adds(out, "authmilter_build_info{version=\"");
	am_stats_label(out, PACKAGE_VERSION);
	am_buf_adds(out, "\"} 1\n");
	write_messages(out);
	histogram(out);
	for (i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
		counter(out, rows[i].name, rows[i].help, &st.count[rows[i].c]);
	return out->truncated ? -1 : 0;
}
