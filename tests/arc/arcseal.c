/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * arcseal: run lib/arc on one message file: verify its chain, or seal it.
 * Used by the suite runner (tests/arc/suite.py) and the dkimpy round trip
 * (tests/arc/test_arcverify.sh).
 *
 *   arcseal [-z zonefile]... [-T name]... [-m minbits] [-c chunk] [-L]
 *           verify message
 *     prints "cv=CV count=N oldest_pass=K reason=TEXT", then for each
 *     instance "set i=I cv=CV seal_d=D ams_d=D ams=0|1 as=0|1
 *     authserv=ID aar=TEXT"
 *   arcseal [options] -k keyfile|-K pemfile -d domain -s selector
 *           -a authserv-id [-r results | -f resultsfile] [-H h1:h2:...]
 *           [-t now] [-o] seal message
 *     prints the new set as header fields "ARC-Seal: ..." (CRLF line
 *     ends, folds "\r\n\t"), then with -o the message itself, or
 *     "NOSEAL: why". -K reads the key without the mode check.
 *   -z  load a master file into the zone back end;  -T  TEMPFAIL name
 *   -c  body chunk size (default 4096, 0 = whole);  -L  LF -> CRLF first
 * Exit 0 unless the program itself failed (2) or sealing failed (1).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "arc.h"
#include "../dkim/testmsg.h"

#define MAXZ 16

struct opts {
	const char *zones[MAXZ], *fail[MAXZ];
	size_t nz, nf, chunk;
	struct am_arc_conf conf;
	struct am_arc_seal_params sp;
	const char *keyfile, *pemfile, *results, *resfile, *hlist, *mode;
	char *hnames[AM_DKIM_H_MAX];
	int lf, whole;
};

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->chunk = 4096;
	while ((c = getopt(argc, argv, "z:T:m:c:Lk:K:d:s:a:r:f:H:t:o")) != -1) {
		switch (c) {
		case 'z': if (o->nz < MAXZ) o->zones[o->nz++] = optarg; break;
		case 'T': if (o->nf < MAXZ) o->fail[o->nf++] = optarg; break;
		case 'm': o->conf.min_key_bits = (unsigned)atoi(optarg); break;
		case 'c': o->chunk = strtoul(optarg, NULL, 10); break;
		case 'L': o->lf = 1; break;
		case 'k': o->keyfile = optarg; break;
		case 'K': o->pemfile = optarg; break;
		case 'd': o->sp.domain = optarg; break;
		case 's': o->sp.selector = optarg; break;
		case 'a': o->sp.authserv_id = optarg; break;
		case 'r': o->results = optarg; break;
		case 'f': o->resfile = optarg; break;
		case 'H': o->hlist = optarg; break;
		case 't': o->sp.now = (time_t)strtoll(optarg, NULL, 10); break;
		case 'o': o->whole = 1; break;
		default: return -1;
		}
	}
	if (optind + 2 != argc)
		return -1;
	o->mode = argv[optind];
	o->conf.seal = strcmp(o->mode, "seal") == 0;
	return 0;
}

static void
print_verdict(const struct am_arc *a)
{
	const struct am_arc_result *r = am_arc_result(a);
	const struct am_arc_set *s;
	unsigned i;

	printf("cv=%s count=%u oldest_pass=%u reason=%s\n",
	    am_arc_cv_name(r->cv), r->count, r->oldest_pass, r->reason);
	for (i = 1; (s = am_arc_set(a, i)) != NULL; i++)
		printf("set i=%u cv=%s seal_d=%s ams_d=%s ams=%d as=%d "
		    "authserv=%s aar=%s\n", s->instance, am_arc_cv_name(s->cv),
		    s->seal_domain, s->ams_domain, s->ams_pass, s->as_pass,
		    s->authserv_id, s->aar);
}

/* Print one field, turning "\n" folds into CRLF. */
static void
print_field(const char *name, const char *v)
{
	printf("%s: ", name);
	for (; *v; v++) {
		if (*v == '\n')
			putchar('\r');
		putchar(*v);
	}
	printf("\r\n");
}

static struct am_arc_key *
load_key(struct opts *o)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_arc_key *k = NULL;
	char *pem;
	size_t len;

	if (o->keyfile)
		k = am_arc_key_load(o->keyfile, &why);
	else if (o->pemfile && (pem = am_test_readfile(o->pemfile, &len))) {
		k = am_arc_key_from_pem(pem, len, &why);
		free(pem);
	}
	if (k == NULL)
		fprintf(stderr, "arcseal: key: %s\n", am_buf_str(&why));
	am_buf_release(&why);
	return k;
}

static void
split_names(struct opts *o)
{
	char *s, *save = NULL, *t;

	if (o->hlist == NULL)
		return;
	s = strdup(o->hlist);
	for (t = strtok_r(s, ":", &save); t && o->sp.nsign < AM_DKIM_H_MAX;
	    t = strtok_r(NULL, ":", &save))
		o->hnames[o->sp.nsign++] = strdup(t);
	free(s);
	o->sp.sign_headers = (const char *const *)o->hnames;
}

static int
do_seal(struct opts *o, const struct am_arc *a, const char *msg, size_t len)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_arc_sealed out;
	enum am_arc_seal_status st;
	char *res = NULL;
	size_t rl;

	if ((o->sp.key = load_key(o)) == NULL)
		return 2;
	if (o->resfile && (res = am_test_readfile(o->resfile, &rl)) != NULL) {
		while (rl > 0 && strchr("\r\n", res[rl - 1]))
			res[--rl] = '\0';
		o->results = res;
	}
	o->sp.results = o->results;
	split_names(o);
	st = am_arc_seal(a, &o->sp, &out, &why);
	if (st == AM_ARC_SEALED) {
		print_field("ARC-Seal", out.as);
		print_field("ARC-Message-Signature", out.ams);
		print_field("ARC-Authentication-Results", out.aar);
		if (o->whole)
			fwrite(msg, 1, len, stdout);
	} else
		printf("%s: %s\n", st == AM_ARC_NOSEAL ? "NOSEAL" : "ERROR",
		    am_buf_str(&why));
	am_arc_sealed_release(&out);
	while (o->sp.nsign > 0)
		free(o->hnames[--o->sp.nsign]);
	free(res);
	am_arc_key_free((struct am_arc_key *)o->sp.key);
	am_buf_release(&why);
	return st == AM_ARC_SEAL_ERROR ? 1 : 0;
}

static struct am_dns *
make_dns(const struct opts *o)
{
	struct am_buf why = AM_BUF_INIT(512);
	struct am_dns *dns;

	dns = am_dns_zone_new(o->zones, o->nz, &why);
	if (dns == NULL)
		fprintf(stderr, "arcseal: zone: %s\n", am_buf_str(&why));
	else if (o->nf > 0)
		dns = am_test_failing_dns(dns, o->fail, o->nf);
	am_buf_release(&why);
	return dns;
}

/* Verify (and seal) msg[0..len). */
static int
run(struct opts *o, struct am_dns *dns, const char *msg, size_t len)
{
	struct am_hdrs h;
	struct am_arc *a;
	size_t off, n;
	int rc = 0;

	am_hdrs_init(&h, 1000, 1024 * 1024);
	if (am_test_msg_split(msg, len, &h, &off) != 0 ||
	    (a = am_arc_new(&o->conf, dns)) == NULL) {
		am_hdrs_release(&h);
		return 2;
	}
	am_arc_headers(a, &h);
	while (off < len) {
		n = o->chunk == 0 || len - off < o->chunk ? len - off : o->chunk;
		am_arc_body(a, (const unsigned char *)msg + off, n);
		off += n;
	}
	am_arc_finish(a);
	if (o->conf.seal)
		rc = do_seal(o, a, msg, len);
	else
		print_verdict(a);
	am_arc_free(a);
	am_hdrs_release(&h);
	return rc;
}

int
main(int argc, char **argv)
{
	struct opts o;
	struct am_dns *dns;
	char *msg, *conv;
	size_t len;
	int rc;

	if (parse_opts(argc, argv, &o) != 0 || (strcmp(o.mode, "seal") != 0 &&
	    strcmp(o.mode, "verify") != 0)) {
		fprintf(stderr, "usage: arcseal [-z zone]... [-T name]... "
		    "[-c chunk] [-L] [seal options] verify|seal message\n");
		return 2;
	}
	if ((msg = am_test_readfile(argv[argc - 1], &len)) == NULL) {
		perror(argv[argc - 1]);
		return 2;
	}
	if (o.lf) {
		conv = am_test_lf2crlf(msg, len, &len);
		free(msg);
		msg = conv;
	}
	if (msg == NULL || (dns = make_dns(&o)) == NULL)
		return 2;
	rc = run(&o, dns, msg, len);
	am_dns_free(dns);
	free(msg);
	return rc;
}
