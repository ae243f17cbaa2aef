/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg_arc: ARC (RFC 8617) in the engine: the chain's verdict in our
 * header, the DMARC override for trusted sealers, and our own seal.
 *
 * Vouching (RFC 8617 s.7.2): when the chain validates and the newest
 * instance sealed by a domain in ARCTrustedSealers carries an
 * ARC-Authentication-Results saying dmarc=pass -- or spf=pass / dkim=pass
 * for a domain aligned with the From domain -- am_msg_arc_vouches() says
 * so, with a note naming the instance and the sealer; the override step
 * (policy.c) then lowers a failing disposition to none, reason
 * mailing_list (RFC 9990 PolicyOverrideType).
 *
 * Seal (s.5.1): with ARCSealDomain, ARCSealSelector and ARCSealKeyFile, a
 * judged message that is delivered gets a new ARC set carrying our
 * Authentication-Results, with cv= from our verdict on the chain.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "idna.h"
#include "msg_int.h"

int
am_msg_arc_engine_init(struct am_engine *e, struct am_buf *why)
{
	const struct am_config *c = e->conf;
	struct am_buf kwhy = AM_BUF_INIT(512);
	int set = (c->arc_seal_domain[0] != '\0') + (c->arc_seal_selector[0] != '\0') +
	    (c->arc_seal_key_file[0] != '\0');

	if (set == 0)
		return 0;
	if (set != 3) {
		am_buf_setf(why, "%s: ARCSealDomain, ARCSealSelector and ARCSealKeyFile "
		    "go together: set all three to seal, or none", c->path);
		return -1;
	}
	if ((e->arc_key = am_arc_key_load(c->arc_seal_key_file, &kwhy)) == NULL) {
		am_buf_setf(why, "ARCSealKeyFile: %s", am_buf_str(&kwhy));
		am_buf_release(&kwhy);
		return -1;
	}
	am_buf_release(&kwhy);
	return 0;
}

void
am_msg_arc_engine_free(struct am_engine *e)
{
	e->arc_key = am_arc_key_free(e->arc_key);
}

int
am_msg_arc_new(struct am_msg *m)
{
	struct am_arc_conf ac;

	if (!m->e->conf->arc_mode || m->v.skip_reason != NULL)
		return 0;
	memset(&ac, 0, sizeof(ac));
	ac.min_key_bits = m->e->conf->dkim_min_key_bits;
	ac.seal = m->e->arc_key != NULL;
	return (m->arc = am_arc_new(&ac, m->e->dns)) != NULL ? 0 : -1;
}

void
am_msg_run_arc(struct am_msg *m)
{
	if (m->arc == NULL || m->hdr_overflow)
		return;
	am_arc_finish(m->arc);
	m->v.arc = am_arc_result(m->arc);
}

/* 1 when a and b share the From domain's organizational domain. */
static int
aligned(struct am_msg *m, const char *domain)
{
	char a[AM_DNS_NAME_MAX + 1], b[AM_DNS_NAME_MAX + 1];
	unsigned q = 0;

	if (domain == NULL || domain[0] == '\0')
		return 0;
	if (am_idna_equal(domain, m->dmarc.from_domain))
		return 1;
	if (am_dmarc_org_domain(&m->e->dmarc, m->e->dns, domain, a, &q, NULL) != AM_DNS_OK ||
	    am_dmarc_org_domain(&m->e->dmarc, m->e->dns, m->dmarc.from_domain, b, &q,
	    NULL) != AM_DNS_OK)
		return 0;
	return strcasecmp(a, b) == 0;
}

/* Does this AAR vouch for the From domain (dmarc=pass, or aligned pass)? */
static const char *
aar_vouches(struct am_msg *m, const char *aar)
{
	struct am_authres_item it[16];
	const char *d;
	size_t i, n = am_authres_scan(aar, it, 16);

	for (i = 0; i < n; i++) {
		if (strcmp(it[i].result, "pass") == 0 &&
		    strcmp(it[i].method, "dmarc") == 0 &&
		    (d = am_authres_item_prop(&it[i], "header.from")) != NULL &&
		    am_idna_equal(d, m->dmarc.from_domain))
			return "dmarc=pass";
	}
	for (i = 0; i < n; i++) {
		if (strcmp(it[i].result, "pass") != 0)
			continue;
		if (strcmp(it[i].method, "dkim") == 0 &&
		    aligned(m, am_authres_item_prop(&it[i], "header.d")))
			return "dkim=pass";
		if (strcmp(it[i].method, "spf") == 0) {
			d = am_authres_item_prop(&it[i], "smtp.mailfrom");
			if (d != NULL && strchr(d, '@') != NULL)
				d = strchr(d, '@') + 1;
			if (aligned(m, d))
				return "spf=pass";
		}
	}
	return NULL;
}

int
am_msg_arc_vouches(struct am_msg *m, struct am_buf *note)
{
	const struct am_strlist *trusted = &m->e->conf->arc_trusted_sealers;
	const struct am_arc_result *r;
	const struct am_arc_set *set;
	const char *why;
	unsigned i;

	if (m->arc == NULL || m->v.arc == NULL || trusted->n == 0)
		return 0;
	r = m->v.arc;
	if (r->cv != AM_ARC_PASS)
		return 0;
	for (i = r->count; i >= 1 && i >= r->oldest_pass; i--) {
		if ((set = am_arc_set(m->arc, i)) == NULL ||
		    !am_strlist_has(trusted, set->seal_domain))
			continue;
		if ((why = aar_vouches(m, set->aar)) == NULL)
			continue;
		am_buf_setf(note, "arc=pass as=%u d=%s %s", i, set->seal_domain, why);
		return 1;
	}
	return 0;
}

void
am_msg_arc_seal(struct am_msg *m)
{
	struct am_arc_seal_params p;
	struct am_buf why = AM_BUF_INIT(512);
	const char *results;
	enum am_arc_seal_status st;

	if (m->arc == NULL || m->e->arc_key == NULL || m->v.authres == NULL ||
	    m->v.action == AM_ACTION_REJECT || m->v.action == AM_ACTION_TEMPFAIL)
		return;
	results = strchr(m->v.authres, ';');
	results = results != NULL ? results + 1 : "";
	while (*results == ' ' || *results == '\n' || *results == '\t')
		results++;
	memset(&p, 0, sizeof(p));
	p.domain = m->e->conf->arc_seal_domain;
	p.selector = m->e->conf->arc_seal_selector;
	p.key = m->e->arc_key;
	p.authserv_id = m->authserv_id;
	p.results = results;
	st = am_arc_seal(m->arc, &p, &m->sealed, &why);
	if (st == AM_ARC_SEALED) {
		m->v.arc_seal = m->sealed.as;
		m->v.arc_message_signature = m->sealed.ams;
		m->v.arc_authres = m->sealed.aar;
		am_buf_printf(&m->seal_note, "i=%u cv=%s", m->sealed.instance,
		    am_arc_cv_name(m->sealed.cv));
	} else
		am_buf_printf(&m->seal_note, "none (%s)", am_buf_str(&why));
	m->v.arc_seal_note = am_buf_str(&m->seal_note);
	am_buf_release(&why);
}
