/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_xml: RFC 9990 aggregate report XML, streamed from the store.
 * See report_xml.h. Element order follows the Appendix A schema: the
 * xs:sequence of <feedback>, <record>, <policy_evaluated> and
 * <auth_results> is kept; xs:all groups are written in the sample's order.
 */
#include <stdio.h>
#include <string.h>

#include <openssl/evp.h>

#include "report_xml.h"

#define NS "urn:ietf:params:xml:ns:dmarc-2.0"

struct xw {
	am_report_out out;
	void *arg;
	struct am_buf buf;         /* pending output, flushed per record */
	struct am_buf scratch;     /* decoded list items */
	int failed;
	uint64_t records;
};

/* ---- escaping ---- */

void
am_report_xml_escape(struct am_buf *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;
	unsigned cp;
	size_t n;

	while (p != NULL && *p != '\0') {
		n = am_report_utf8_seq(p, &cp);
		if (n == 0) {
			am_buf_adds(out, "\xEF\xBF\xBD");
			p++;
			continue;
		}
		switch (cp) {
		case '&': am_buf_adds(out, "&amp;"); break;
		case '<': am_buf_adds(out, "&lt;"); break;
		case '>': am_buf_adds(out, "&gt;"); break;
		case '"': am_buf_adds(out, "&quot;"); break;
		case '\'': am_buf_adds(out, "&apos;"); break;
		case '\t': am_buf_adds(out, "&#9;"); break;
		case '\n': am_buf_adds(out, "&#10;"); break;
		case '\r': am_buf_adds(out, "&#13;"); break;
		default:
			if (cp < 0x20 || (cp >= 0x7F && cp <= 0x9F) ||
			    cp == 0xFFFE || cp == 0xFFFF)
				am_buf_adds(out, "\xEF\xBF\xBD");
			else
				am_buf_add(out, p, n);
		}
		p += n;
	}
}

/* ---- output ---- */

/* Hand what is buffered to the sink. */
static void
xw_flush(struct xw *w)
{
	if (w->buf.truncated)
		w->failed = 1;
	if (!w->failed && w->buf.len > 0 &&
	    w->out(w->arg, w->buf.data, w->buf.len) != 0)
		w->failed = 1;
	am_buf_reset(&w->buf);
}

/* <name>escaped value</name>, at indent depth. */
static void
elem(struct xw *w, int depth, const char *name, const char *value)
{
	am_buf_printf(&w->buf, "%*s<%s>", depth * 2, "", name);
	am_report_xml_escape(&w->buf, value);
	am_buf_printf(&w->buf, "</%s>\n", name);
}

static void
open_el(struct xw *w, int depth, const char *name)
{
	am_buf_printf(&w->buf, "%*s<%s>\n", depth * 2, "", name);
}

static void
close_el(struct xw *w, int depth, const char *name)
{
	am_buf_printf(&w->buf, "%*s</%s>\n", depth * 2, "", name);
}

/* 1 when v is one of the NULL-terminated words. */
static int
one_of(const char *v, const char *const *words)
{
	for (; v != NULL && *words != NULL; words++)
		if (strcmp(v, *words) == 0)
			return 1;
	return 0;
}

static const char *const w_disp[] = { "none", "quarantine", "reject", NULL };
static const char *const w_action[] = { "none", "pass", "quarantine",
	"reject", NULL };
static const char *const w_align[] = { "r", "s", NULL };
static const char *const w_yn[] = { "n", "y", NULL };
static const char *const w_disc[] = { "psl", "treewalk", NULL };
static const char *const w_passfail[] = { "pass", "fail", NULL };
static const char *const w_ovr[] = { "local_policy", "mailing_list", "other",
	"policy_test_mode", "trusted_forwarder", NULL };
static const char *const w_dkim[] = { "none", "pass", "fail", "policy",
	"neutral", "temperror", "permerror", NULL };
static const char *const w_spf[] = { "none", "pass", "fail", "softfail",
	"policy", "neutral", "temperror", "permerror", NULL };

/* An optional element: written only when value is one of words. */
static void
opt_word(struct xw *w, int depth, const char *name, const char *value,
    const char *const *words)
{
	if (one_of(value, words))
		elem(w, depth, name, value);
}

/* A required element: value if it is one of words, else fallback. */
static void
req_word(struct xw *w, int depth, const char *name, const char *value,
    const char *const *words, const char *fallback)
{
	elem(w, depth, name, one_of(value, words) ? value : fallback);
}

static void
write_head(struct xw *w, const struct am_report_meta *m,
    const struct am_report_published *pp)
{
	char num[32];

	am_buf_adds(&w->buf, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	    "<feedback xmlns=\"" NS "\">\n");
	elem(w, 1, "version", "1.0");
	open_el(w, 1, "report_metadata");
	elem(w, 2, "org_name", m->org_name);
	elem(w, 2, "email", m->email);
	if (m->extra_contact != NULL)
		elem(w, 2, "extra_contact_info", m->extra_contact);
	elem(w, 2, "report_id", m->report_id);
	open_el(w, 2, "date_range");
	snprintf(num, sizeof(num), "%lld", (long long)m->begin);
	elem(w, 3, "begin", num);
	snprintf(num, sizeof(num), "%lld", (long long)m->end);
	elem(w, 3, "end", num);
	close_el(w, 2, "date_range");
	if (m->generator != NULL)
		elem(w, 2, "generator", m->generator);
	close_el(w, 1, "report_metadata");
	open_el(w, 1, "policy_published");
	elem(w, 2, "domain", pp->domain);
	req_word(w, 2, "p", pp->p, w_disp, "none");
	opt_word(w, 2, "sp", pp->sp, w_disp);
	opt_word(w, 2, "np", pp->np, w_disp);
	opt_word(w, 2, "adkim", pp->adkim, w_align);
	opt_word(w, 2, "aspf", pp->aspf, w_align);
	opt_word(w, 2, "discovery_method", pp->discovery, w_disc);
	if (pp->fo != NULL && *pp->fo != '\0')
		elem(w, 2, "fo", pp->fo);
	opt_word(w, 2, "testing", pp->testing, w_yn);
	close_el(w, 1, "policy_published");
}

/* <reason> elements from the encoded list. */
static void
write_reasons(struct xw *w, const char *enc)
{
	const char *f[2], *pos = enc;
	size_t n;

	while ((n = am_report_dec_item(&pos, &w->scratch, f, 2)) > 0) {
		open_el(w, 4, "reason");
		if (one_of(f[0], w_ovr)) {
			elem(w, 5, "type", f[0]);
			if (n > 1 && *f[1] != '\0')
				elem(w, 5, "comment", f[1]);
		} else {
			/* sampled_out (RFC 7489 pct) has no word of its own */
			elem(w, 5, "type", "other");
			elem(w, 5, "comment", f[0]);
		}
		close_el(w, 4, "reason");
	}
}

static void
write_auth(struct xw *w, const struct am_report_group *g)
{
	const char *f[4], *pos = g->dkim;
	size_t n, k = 0;

	open_el(w, 2, "auth_results");
	while (k < AM_REPORT_DKIM_MAX &&
	    (n = am_report_dec_item(&pos, &w->scratch, f, 4)) > 0) {
		if (n < 3)
			continue;
		open_el(w, 3, "dkim");
		elem(w, 4, "domain", f[0]);
		elem(w, 4, "selector", f[1]);
		req_word(w, 4, "result", f[2], w_dkim, "none");
		if (n > 3 && *f[3] != '\0')
			elem(w, 4, "human_result", f[3]);
		close_el(w, 3, "dkim");
		k++;
	}
	if (g->spf_domain != NULL) {
		open_el(w, 3, "spf");
		elem(w, 4, "domain", g->spf_domain);
		/* the schema knows only mfrom: a HELO result has no scope */
		if (g->spf_scope != NULL && strcmp(g->spf_scope, "mfrom") == 0)
			elem(w, 4, "scope", "mfrom");
		req_word(w, 4, "result", g->spf_result, w_spf, "none");
		if (g->spf_human != NULL && *g->spf_human != '\0')
			elem(w, 4, "human_result", g->spf_human);
		close_el(w, 3, "spf");
	}
	close_el(w, 2, "auth_results");
}

static int
write_record(void *arg, const struct am_report_group *g)
{
	struct xw *w = arg;
	char num[32];

	open_el(w, 1, "record");
	open_el(w, 2, "row");
	elem(w, 3, "source_ip", g->source_ip);
	snprintf(num, sizeof(num), "%llu", (unsigned long long)g->count);
	elem(w, 3, "count", num);
	open_el(w, 3, "policy_evaluated");
	req_word(w, 4, "disposition", g->disposition, w_action, "none");
	req_word(w, 4, "dkim", g->dkim_aligned, w_passfail, "fail");
	req_word(w, 4, "spf", g->spf_aligned, w_passfail, "fail");
	write_reasons(w, g->reasons);
	close_el(w, 3, "policy_evaluated");
	close_el(w, 2, "row");
	open_el(w, 2, "identifiers");
	elem(w, 3, "header_from", g->header_from);
	if (g->envelope_from != NULL)
		elem(w, 3, "envelope_from", g->envelope_from);
	if (g->envelope_to != NULL)
		elem(w, 3, "envelope_to", g->envelope_to);
	close_el(w, 2, "identifiers");
	write_auth(w, g);
	close_el(w, 1, "record");
	w->records++;
	xw_flush(w);
	return w->failed ? -1 : 0;
}

int
am_report_xml_write(struct am_report_store *s,
    const struct am_report_meta *m, const char *domain, am_report_out out,
    void *arg, struct am_buf *why)
{
	struct am_report_published pp;
	struct xw w;
	int rc;

	memset(&w, 0, sizeof(w));
	w.out = out;
	w.arg = arg;
	/* a record: 100 DKIM results of capped fields, each escaped (x6) */
	am_buf_init(&w.buf, 4 * 1024 * 1024);
	am_buf_init(&w.scratch, 64 * 1024);
	rc = s->ops->published(s->state, domain, m->begin, m->end, &pp, why);
	if (rc != 0)
		goto done;
	write_head(&w, m, &pp);
	xw_flush(&w);
	rc = s->ops->groups(s->state, domain, m->begin, m->end, write_record,
	    &w, why);
	if (rc == 0 && !w.failed) {
		am_buf_adds(&w.buf, "</feedback>\n");
		xw_flush(&w);
	}
	if (w.failed) {
		am_buf_setf(why, "report output failed");
		rc = -1;
	} else if (rc == 0 && w.records == 0) {
		am_buf_setf(why, "no rows");
		rc = -1;
	}
	rc = rc != 0 ? -1 : 0;
done:
	am_buf_release(&w.buf);
	am_buf_release(&w.scratch);
	return rc;
}

void
am_report_id(const char *submitter, const char *domain, int64_t begin,
    int64_t end, char out[AM_REPORT_ID_LEN + 1])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int mdlen = 0, i;
	char text[600];
	int n;

	n = snprintf(text, sizeof(text), "%s!%s!%lld!%lld", submitter, domain,
	    (long long)begin, (long long)end);
	if (n < 0 || (size_t)n >= sizeof(text))
		n = (int)sizeof(text) - 1;
	EVP_Digest(text, (size_t)n, md, &mdlen, EVP_sha256(), NULL);
	for (i = 0; i < AM_REPORT_ID_LEN / 2 && i < mdlen; i++)
		snprintf(out + 2 * i, 3, "%02x", md[i]);
	out[AM_REPORT_ID_LEN] = '\0';
}
