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
	struct am_reporter *reporter; /* DMARC report rows, or NULL; not owned */
	char hostname[256];
};

/* Decoded DKIM keys kept (direct-mapped slots). */
#define KEYCACHE_SLOTS 4096

/* The decision log line's size (the verdict first, DKIM results last). */
#define AM_MSG_LOG_MAX 2048

/* Lookups started while the header arrives, ahead of need. */
#define PREFETCH_MAX 12

/*
 * One early lookup, started as soon as its field is complete: a From
 * domain's DMARC policy and organizational domain (when the From field
 * arrives), a job of the pool since the tree walk is a chain of queries.
 * Its first query, and each DKIM key (TXT at name, when a DKIM-Signature
 * arrives), is a hint (am_dns_prefetch) that goes out at once without a
 * thread. The answers land in the shared cache and the message's DNS
 * layer, where the checks find them.
 */
struct am_early {
	struct am_job job;
	struct am_msg *m;
	int dmarc;                  /* 1: name is a From domain */
	char name[AM_DNS_NAME_MAX + 16];
};

/*
 * One message. Threads: the session thread (the MTA connection's thread in
 * the daemon, the only thread in --check) writes every field, except where
 * a field says otherwise: the SPF job (spf_job, run on a pool thread when
 * spf_async, else on the session thread) writes v.spf_mailfrom, v.spf_helo
 * and v.spf_*_done, and the session thread reads them only after
 * am_jobs_wait(spf_job); an early job (struct am_early) only reads its
 * own name (written before it is submitted) and writes nothing here.
 * After am_msg_finish() nothing is written but by am_msg_free().
 */
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
	struct am_buf seal_note;    /* what our ARC seal did, for the log */
	size_t ar_seen;             /* A-R fields seen so far */
	size_t ar_kept;             /* bytes of forged A-R values kept */
	int hdr_overflow;           /* a header cap was hit */
	int headers_done;
	int finished;
	struct am_authres ar;
	struct am_from from;
	struct am_dmarc_response dmarc;
	int dmarc_done;
	int from_parsed;
	struct am_buf from_why;
	struct am_job spf_job;
	int spf_async;              /* spf_job was handed to the pool */
	struct am_early early[PREFETCH_MAX]; /* early[0..nearly) submitted */
	size_t nearly;
	size_t nkeyhints;           /* DKIM keys hinted (am_dns_prefetch) */
	int early_from;             /* the first From field was looked at */
	struct am_policy_out pol;
	struct am_verdict v;        /* the verdict record */
};

/* 1 when SPF is to be evaluated; the job that evaluates it. */
int am_msg_spf_wanted(const struct am_msg *m);
void am_msg_spf_job(void *arg);
/* Parse the From fields once (for DMARC). */
void am_msg_parse_from(struct am_msg *m);
/* Wait until every early lookup has run (they feed the cache). */
void am_msg_wait_early(struct am_msg *m);

/*
 * The steps of am_msg_finish(), in order. The checks (msg_checks.c,
 * msg_arc.c) only fill results into the verdict record; they write no
 * header and no log.
 */
void am_msg_run_spf(struct am_msg *m);
void am_msg_run_dkim(struct am_msg *m);
void am_msg_run_arc(struct am_msg *m);
void am_msg_run_dmarc(struct am_msg *m);
/* Overrides (msg_checks.c): the one writer of the DMARC override. */
void am_msg_apply_overrides(struct am_msg *m);
/* The decision (policy.c, a pure function) into the verdict record. */
void am_msg_decide(struct am_msg *m);
/* Output from the verdict record (msg_verdict.c): header, log line. */
void am_msg_write_authres(struct am_msg *m);
void am_msg_write_log(struct am_msg *m);
/* The DMARC report row (msg_report.c), when the engine has a reporter. */
void am_msg_write_report(struct am_msg *m);

/* ARC (msg_arc.c): seal key at engine start, verifier per message, the
 * trusted-sealer vouching for DMARC, and our seal. */
int am_msg_arc_engine_init(struct am_engine *e, struct am_buf *why);
void am_msg_arc_engine_free(struct am_engine *e);
int am_msg_arc_new(struct am_msg *m);
/* 1 when a trusted sealer's ARC set vouches for the From domain (note
 * filled: "arc=pass as=2 d=list.example dmarc=pass"), else 0. */
int am_msg_arc_vouches(struct am_msg *m, struct am_buf *note);
void am_msg_arc_seal(struct am_msg *m);

#endif
