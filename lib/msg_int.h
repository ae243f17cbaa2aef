/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * msg_int: what the engine's files (msg.c, msg_checks.c, msg_arc.c) share:
 * the engine and per-message structures and the steps of am_msg_finish().
 * Not for use outside lib/msg*.c.
 */
#ifndef AM_MSG_INT_H
#define AM_MSG_INT_H

#include "arc.h"
#include "authres.h"
#include "dkim.h"
#include "dmarc.h"
#include "from.h"
#include "hdr.h"
#include "jobs.h"
#include "msg.h"
#include "net.h"
#include "policy.h"
#include "psl.h"

struct am_engine {
	const struct am_config *conf;
	struct am_dns *dns;
	struct am_psl *psl;         /* RFC 7489 mode only; read-only */
	struct am_dmarc_conf dmarc;
	struct am_jobs *jobs;       /* early lookups (LookupThreads) */
	struct am_arc_key *arc_key; /* ARCSealKeyFile, or NULL: no sealing */
	struct am_dkim_keycache *keycache; /* decoded DKIM keys, all threads */
	char hostname[256];
};

/* Decoded DKIM keys kept (direct-mapped slots). */
#define KEYCACHE_SLOTS 4096

/* Names whose records are fetched at end of header, ahead of need. */
#define PREFETCH_MAX 12

struct am_msg {
	struct am_engine *e;
	struct am_dns *dns;         /* this message's DNS layer over e->dns
	                               (dns_msg.c, thread safe): every lookup
	                               of the message goes through it */
	char *queue_id, *client_ip, *helo, *mail_from, *auth_user;
	char *authserv_id, *receiver;
	struct am_addr addr;
	int have_addr;
	struct am_hdrs hdrs;
	struct am_dkim *dkim;       /* NULL when DKIMMode is off */
	struct am_arc *arc;         /* NULL when ARCMode is off */
	struct am_arc_sealed sealed;
	struct am_buf override_note; /* why DMARC was overridden (ARC) */
	size_t ar_seen;             /* A-R fields seen so far */
	int hdr_overflow;           /* a header cap was hit */
	int headers_done;
	int finished;
	struct am_authres ar;
	struct am_from from;
	struct am_dmarc_response dmarc;
	int dmarc_done;
	int dkim_temperror;
	int from_parsed;
	struct am_buf from_why;
	struct am_job spf_job, prefetch_job;
	int spf_async;              /* spf_job was handed to the pool */
	char *prefetch[PREFETCH_MAX];   /* "sel._domainkey.d" TXT names */
	size_t nprefetch;
	char *prefetch_from;            /* From domain for DMARC discovery */
	struct am_policy_out pol;
	struct am_verdict v;
};

/* 1 when SPF is to be evaluated; the job that evaluates it. */
int am_msg_spf_wanted(const struct am_msg *m);
void am_msg_spf_job(void *arg);
/* Parse the From fields once (for DMARC and its prefetch). */
void am_msg_parse_from(struct am_msg *m);
/* The steps of am_msg_finish(), in order: each adds its A-R entries and
 * log words. */
void am_msg_run_spf(struct am_msg *m);
void am_msg_run_dkim(struct am_msg *m);
void am_msg_run_dmarc(struct am_msg *m);
void am_msg_run_policy(struct am_msg *m);

/* ARC (msg_arc.c): seal key at engine start, verifier per message, the
 * arc= entry, the trusted-sealer override of DMARC, and our seal. */
int am_msg_arc_engine_init(struct am_engine *e, struct am_buf *why);
void am_msg_arc_engine_free(struct am_engine *e);
int am_msg_arc_new(struct am_msg *m);
void am_msg_run_arc(struct am_msg *m);
int am_msg_arc_override(struct am_msg *m);
void am_msg_arc_seal(struct am_msg *m);

#endif
