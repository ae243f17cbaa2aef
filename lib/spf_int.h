/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * spf_int: what the spf*.c files share and nobody else sees.
 *
 *   spf_parse.c  record syntax (RFC 7208 s.4.6.1, s.12): struct spf_record
 *   spf_macro.c  macro-string syntax and expansion (s.7)
 *   spf_eval.c   check_host() (s.4): record lookup, modifiers, exp
 *   spf_mech.c   the DNS mechanisms (s.5) and the validated name of %{p}
 *   spf.c        entry points: identities, responses, result names
 *
 * A parsed record points into the record text it came from (the TXT answer),
 * which must outlive it. All evaluation state is in struct spf_ctx, one per
 * am_spf_check_host() call, on the caller's stack.
 */
#ifndef AM_SPF_INT_H
#define AM_SPF_INT_H

#include <sys/socket.h>

#include "spf.h"

/* RFC 7208 s.4.6.4 limits. */
#define SPF_MAX_DNS_TERMS  10
#define SPF_MAX_VOID       2
#define SPF_MAX_MX         10
#define SPF_MAX_PTR        10
/* Longest sender we keep for %{s} %{l} %{o} (RFC 5321 paths are 256). */
#define SPF_SENDER_MAX     1024

enum spf_mech {
	SPF_M_ALL,
	SPF_M_INCLUDE,
	SPF_M_A,
	SPF_M_MX,
	SPF_M_PTR,
	SPF_M_IP4,
	SPF_M_IP6,
	SPF_M_EXISTS,
};

/* A string slice into the record text. */
struct spf_str {
	const char *p;
	size_t n;
};

struct spf_term {
	enum spf_mech mech;
	enum am_spf_result qual;  /* PASS, FAIL, SOFTFAIL or NEUTRAL */
	struct spf_str text;      /* the whole term, for reasons */
	struct spf_str spec;      /* domain-spec; n == 0 when absent */
	int cidr4, cidr6;         /* a, mx: prefix lengths (32, 128 default) */
	struct am_addr net;       /* ip4, ip6: the network */
	int prefix;               /* ip4, ip6: its prefix length */
};

struct spf_record {
	struct spf_term *terms;   /* mechanisms in order (malloc'd) */
	size_t nterms;
	struct spf_str redirect;  /* n == 0: none */
	struct spf_str exp;       /* n == 0: none */
};

/* Evaluation state of one check_host() call and its recursions. */
struct spf_ctx {
	struct am_dns *dns;       /* NULL: no lookups (%{p} is "unknown") */
	const struct am_spf_request *req;
	struct am_spf_response *r;
	char sender[SPF_SENDER_MAX + 1]; /* <sender>, local part filled in */
	size_t local_len;         /* bytes of the local part in sender */
	int local_8bit;           /* the local part is not ASCII (RFC 8616
	                             s.4: %{s} and %{l} terms match nothing) */
	const char *helo;         /* %{h}: req->helo, or helo_a */
	char helo_a[AM_DNS_NAME_MAX + 1]; /* a HELO name with U-labels as
	                             A-labels */
	unsigned terms;           /* DNS-querying terms so far */
	unsigned voids;           /* void lookups so far */
	int ptr_done;             /* validated names of the client looked up */
	enum am_dns_status ptr_status; /* of the client's PTR query */
	size_t nvalid;
	char valid[SPF_MAX_PTR][AM_DNS_NAME_MAX + 1];
};

/* Macro expansion contexts. */
#define SPF_MX_DOMAIN  0          /* domain-spec: no c r t, 253 truncation */
#define SPF_MX_EXPLAIN 1          /* explain-string: c r t and SP allowed */
#define SPF_MX_UNKNOWN 2          /* unknown-modifier value: syntax only */

/* Fill the context's sender from the request (s.4.3: "postmaster"). */
void spf_ctx_init(struct spf_ctx *c, struct am_dns *dns,
    const struct am_spf_request *req, struct am_spf_response *r);

/*
 * Parse a record (already selected by its "v=spf1" prefix) into rec;
 * 0, or -1 with why. rec points into text; free it with spf_record_clear.
 */
int spf_record_parse(const char *text, size_t len, struct spf_record *rec,
    struct am_buf *why);
void spf_record_clear(struct spf_record *rec);

/* Check macro-string syntax for a context; 0, or -1 with why. */
int spf_macro_check(const char *s, size_t n, int mode, struct am_buf *why);

/*
 * Expand s in a context (SPF_MX_DOMAIN or SPF_MX_EXPLAIN) for <domain>
 * into out (reset first); 0, or -1 with why on a syntax error.
 */
int spf_macro_expand(struct spf_ctx *c, const char *s, size_t n,
    const char *domain, int mode, struct am_buf *out, struct am_buf *why);

/* Outcome of expanding a domain-spec into a name to look up. */
enum spf_target {
	SPF_TGT_OK,               /* out is an ASCII name (A-labels) */
	SPF_TGT_LOCAL,            /* the spec uses %{s} or %{l} and the local
	                             part is not ASCII: RFC 8616 s.4 says the
	                             term matches nothing */
	SPF_TGT_BAD,              /* a macro syntax error, or a name with
	                             non-ASCII bytes that IDNA2008 refuses:
	                             why says which (permerror) */
};

/*
 * Expand the domain-spec s for <domain> into out (reset first) and make it
 * a name we may query: non-ASCII bytes (from a macro value) are converted
 * to A-labels by lib/idna, never sent to DNS raw.
 */
enum spf_target spf_target_expand(struct spf_ctx *c, const char *s,
    size_t n, const char *domain, struct am_buf *out, struct am_buf *why);

/* Reverse-lookup name of an address ("4.3.2.1.in-addr.arpa"). */
void spf_rev_name(const struct am_addr *a, char *out, size_t len, int upper);

/* toplabel of s.7.1 (s.12 ABNF). */
int spf_toplabel_ok(const char *p, size_t n);

/* 1 when name is name of or below parent (case-insensitive). */
int spf_name_under(const char *name, const char *parent);

/*
 * The validated domain names of the client (s.5.5), at most SPF_MAX_PTR,
 * looked up once per context into c->valid.
 */
void spf_ptr_validate(struct spf_ctx *c);

/* Outcome of one mechanism. */
enum spf_match {
	SPF_NOMATCH,
	SPF_MATCH,
	SPF_ETEMP,                /* temperror; reason in c->r->reason */
	SPF_EPERM,                /* permerror; reason in c->r->reason */
};

/* Evaluate one mechanism for <domain> at recursion depth. */
enum spf_match spf_mech_eval(struct spf_ctx *c, const struct spf_term *t,
    const char *domain, int depth);

/* check_host() proper; in_include: an exp= is not used (s.6.2). */
enum am_spf_result spf_check_host(struct spf_ctx *c, const char *domain,
    int depth, int in_include);

#endif
