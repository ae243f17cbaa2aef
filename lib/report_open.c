/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_open: open a store by its ReportStore scheme ("sqlite:",
 * "postgresql://"), the store struct every back end's open returns, and am_reporter_open(), the daemon's one call to start
 * reporting. See report_store.h and report.h.
 */
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
am_report_store_new(const struct am_report_store_ops *ops, void *state,
    struct am_buf *why)
{
	struct am_report_store *store;

	if ((store = calloc(1, sizeof(*store))) == NULL) {
		am_buf_setf(why, "out of memory");
		return NULL;
	}
	store->ops = ops;
	store->state = state;
	store->sink.name = ops->name;
	store->sink.insert = ops->insert;
	return store;
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

struct am_reporter *
am_reporter_open(const char *spec, const struct am_reporter_opts *o,
    struct am_buf *why)
{
	struct am_report_store *s;
	struct am_reporter *r;

	if ((s = am_report_store_open(spec, why)) == NULL)
		return NULL;
	if ((r = am_reporter_new(&owned_sink, s, o, why)) == NULL)
		am_report_store_close(s);
	return r;
}
