/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_open: open a store by its ReportStore scheme ("sqlite:",
 * "postgresql://"), and am_reporter_open(), the daemon's one call to start
 * reporting. See report_store.h and report.h.
 *
 * A PostgreSQL server that does not answer when the daemon starts (or
 * reloads) does not stop it: a failing store must not hold up mail. The
 * reporter then starts without its store and opens it at the first batch
 * that comes after the server answers (the batches before are dropped and
 * counted, as for a store that fails later). A bad URI, a refused login
 * or a schema newer than ours still fails the start.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report_store.h"

struct am_report_store *
am_report_store_open(const char *spec, struct am_buf *why)
{
	if (spec == NULL || *spec == '\0') {
		am_buf_setf(why, "no ReportStore given");
		return NULL;
	}
	if (strncmp(spec, "sqlite:", 7) == 0)
		return am_report_sqlite_open(spec + 7, why);
	if (strncmp(spec, "postgresql://", 13) == 0 ||
	    strncmp(spec, "postgres://", 11) == 0)
		return am_report_pgsql_open(spec, why);
	am_buf_setf(why, "\"%s\": unknown store (want sqlite:/path or "
	    "postgresql://...)", spec);
	return NULL;
}

struct am_report_store *
am_report_store_close(struct am_report_store *s)
{
	if (s == NULL)
		return NULL;
	s->ops->close(s->state);
	free(s);
	return NULL;
}

/* The reporter's sink over a whole store, which it then owns. */
static int
owned_insert(void *state, struct am_report_row *const *rows, size_t n,
    struct am_buf *why)
{
	struct am_report_store *s = state;

	return s->ops->insert(s->state, rows, n, why);
}

static void
owned_close(void *state)
{
	am_report_store_close(state);
}

static const struct am_report_sink owned_sink = {
	"ReportStore", owned_insert, owned_close
};

/* A store opened at its first batch (the server was away at start). */
struct deferred {
	char *spec;
	struct am_report_store *store;   /* NULL until it opens */
};

static int
deferred_insert(void *state, struct am_report_row *const *rows, size_t n,
    struct am_buf *why)
{
	struct deferred *d = state;

	if (d->store == NULL &&
	    (d->store = am_report_store_open(d->spec, why)) == NULL)
		return -1;
	return d->store->ops->insert(d->store->state, rows, n, why);
}

static void
deferred_close(void *state)
{
	struct deferred *d = state;

	am_report_store_close(d->store);
	free(d->spec);
	free(d);
}

static const struct am_report_sink deferred_sink = {
	"ReportStore", deferred_insert, deferred_close
};

/* A reporter whose store opens later (away: why it did not open now);
 * NULL with why. */
static struct am_reporter *
deferred_open(const char *spec, const struct am_reporter_opts *o,
    const char *away, struct am_buf *why)
{
	struct am_reporter *r;
	struct deferred *d;
	char msg[512];

	if ((d = calloc(1, sizeof(*d))) == NULL ||
	    (d->spec = strdup(spec)) == NULL) {
		free(d);
		am_buf_setf(why, "out of memory");
		return NULL;
	}
	snprintf(msg, sizeof(msg), "report: ReportStore does not answer (%s): "
	    "started without it; rows are dropped until it does", away);
	if ((r = am_reporter_new(&deferred_sink, d, o, why)) == NULL) {
		deferred_close(d);
		return NULL;
	}
	if (o != NULL && o->warn != NULL)
		o->warn(o->warn_arg, msg);
	return r;
}

struct am_reporter *
am_reporter_open(const char *spec, const struct am_reporter_opts *o,
    struct am_buf *why)
{
	struct am_buf err = AM_BUF_INIT(512);
	struct am_report_store *s;
	struct am_reporter *r;

	/* why is written only when we return NULL */
	if ((s = am_report_store_open(spec, &err)) == NULL) {
		if ((strncmp(spec, "postgresql://", 13) == 0 ||
		    strncmp(spec, "postgres://", 11) == 0) &&
		    am_report_pgsql_away(spec))
			r = deferred_open(spec, o, am_buf_str(&err), why);
		else {
			am_buf_setf(why, "%s", am_buf_str(&err));
			r = NULL;
		}
		am_buf_release(&err);
		return r;
	}
	if ((r = am_reporter_new(&owned_sink, s, o, why)) == NULL)
		am_report_store_close(s);
	return r;
}
