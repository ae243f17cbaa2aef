/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * manifest: reader of the manifests written by suite2manifest.py, shared by
 * run_suite (our evaluator) and diff_libspf2 (libspf2). Test code only.
 *
 * A manifest is a list of lines of tab-separated fields (escapes \xHH);
 * see suite2manifest.py for the line kinds.
 */
#ifndef AM_TEST_MANIFEST_H
#define AM_TEST_MANIFEST_H

#include <stdio.h>

#define MF_MAXF 10

struct mf_line {
	char *f[MF_MAXF];        /* unescaped fields; f[0] is the kind */
	int n;
	char *buf;               /* owns the fields */
};

/* Read the next line into l (freeing the previous one); 0, or -1 at EOF. */
int mf_next(FILE *fp, struct mf_line *l);
/* Free l's storage. */
void mf_clear(struct mf_line *l);
/* Field i, or "" when absent. */
const char *mf_field(const struct mf_line *l, int i);

/* One known failure: "suite:id reason". */
struct mf_known {
	char *key;
	char *reason;
	int seen;
};

/* Load a known-failures file (missing file: none); count in *n. */
struct mf_known *mf_known_load(const char *path, size_t *n);
/* The entry for suite:id, or NULL. */
struct mf_known *mf_known_find(struct mf_known *k, size_t n,
    const char *suite, const char *id);
void mf_known_free(struct mf_known *k, size_t n);

/* 1 when the comma-separated list has word (case-insensitive). */
int mf_list_has(const char *list, const char *word);

#endif
