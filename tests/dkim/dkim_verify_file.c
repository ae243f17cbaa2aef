/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dkim_verify_file: run lib/dkim on one message file and print one line per
 * DKIM-Signature: "RESULT d=D s=S a=A l=0|1 bits=N reason=...". Used by the
 * corpus runner and the signer round trip (tests/dkim/corpus.py, roundtrip.py).
 *
 *   dkim_verify_file [-z zonefile]... [-T name]... [-t now] [-m minbits]
 *                    [-c chunk] [-L] message
 *   -z  load a master file into the zone back end (several allowed)
 *   -T  answer TEMPFAIL for this name (a timed out server)
 *   -t  the clock for x= (Unix time)
 *   -m  min_key_bits;  -c  body chunk size (default 4096, 0 = whole)
 *   -L  the file has LF line ends: make them CRLF first
 *   -B simple|relaxed [-A sha256|sha1] [-l N] [-R]: print only the base64
 *       body hash of the message's body (-R: the file is the body alone)
 * A message without DKIM-Signature prints "none". Exit 0 unless the
 * program itself failed (bad arguments, unreadable file, bad zone).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <openssl/evp.h>

#include "dkim_int.h"
#include "testmsg.h"

#define MAXZ 16

struct opts {
	const char *zones[MAXZ], *fail[MAXZ];
	size_t nz, nf, chunk;
	struct am_dkim_conf conf;
	int lf, body_only, bcanon;
	const char *alg;
	int64_t limit;
};

static int
parse_opts(int argc, char **argv, struct opts *o)
{
	int c;

	memset(o, 0, sizeof(*o));
	o->chunk = 4096;
	o->bcanon = -1;
	o->alg = "sha256";
	o->limit = -1;
	while ((c = getopt(argc, argv, "z:T:t:m:c:LB:A:l:R")) != -1) {
		switch (c) {
		case 'B':
			o->bcanon = strcmp(optarg, "relaxed") == 0 ?
			    AM_DKIM_RELAXED : AM_DKIM_SIMPLE;
			break;
		case 'A':
			o->alg = optarg;
			break;
		case 'l':
			o->limit = strtoll(optarg, NULL, 10);
			break;
		case 'R':
			o->body_only = 1;
			break;
		case 'z':
			if (o->nz < MAXZ)
				o->zones[o->nz++] = optarg;
			break;
		case 'T':
			if (o->nf < MAXZ)
				o->fail[o->nf++] = optarg;
			break;
		case 't':
			o->conf.now = (time_t)strtoll(optarg, NULL, 10);
			break;
		case 'm':
			o->conf.min_key_bits = (unsigned)strtoul(optarg, NULL, 10);
			break;
		case 'c':
			o->chunk = strtoul(optarg, NULL, 10);
			break;
		case 'L':
			o->lf = 1;
			break;
		default:
			return -1;
		}
	}
	return optind + 1 == argc ? 0 : -1;
}

static void
print_results(const struct am_dkim *d)
{
	const struct am_dkim_sig *s;
	size_t i;

	if (am_dkim_count(d) == 0)
		printf("none\n");
	for (i = 0; i < am_dkim_count(d); i++) {
		s = am_dkim_sig(d, i);
		printf("%s d=%s s=%s a=%s l=%d bits=%u b=%s reason=%s\n",
		    am_dkim_result_name(s->result), s->domain, s->selector,
		    s->algorithm, s->uses_l, s->key_bits, s->b_prefix,
		    s->reason);
	}
}

/* Print the base64 body hash of msg[off..len) fed in chunks. */
static int
body_hash(const struct opts *o, const char *msg, size_t off, size_t len)
{
	unsigned char dig[AM_DKIM_HASH_MAX], b64[2 * AM_DKIM_HASH_MAX];
	struct am_dkim_bh *bh;
	size_t n, dl;
	uint64_t clen;

	if ((bh = am_dkim_bh_new(o->bcanon, o->alg, o->limit)) == NULL)
		return 2;
	while (off < len) {
		n = o->chunk == 0 || len - off < o->chunk ? len - off : o->chunk;
		am_dkim_bh_update(bh, (const unsigned char *)msg + off, n);
		off += n;
	}
	dl = am_dkim_bh_final(bh, dig, &clen);
	EVP_EncodeBlock(b64, dig, (int)dl);
	printf("%s %llu\n", b64, (unsigned long long)clen);
	am_dkim_bh_free(bh);
	return 0;
}

static void
verify(const struct opts *o, struct am_dns *dns, const char *msg, size_t len)
{
	struct am_hdrs h;
	struct am_dkim *d;
	size_t off, n;

	am_hdrs_init(&h, 1000, 4 * 1024 * 1024);
	am_test_msg_split(msg, len, &h, &off);
	d = am_dkim_new(&o->conf, dns);
	am_dkim_headers(d, &h);
	while (off < len) {
		n = o->chunk == 0 || len - off < o->chunk ? len - off : o->chunk;
		am_dkim_body(d, (const unsigned char *)msg + off, n);
		off += n;
	}
	am_dkim_finish(d);
	print_results(d);
	am_dkim_free(d);
	am_hdrs_release(&h);
}

int
main(int argc, char **argv)
{
	struct am_buf why = AM_BUF_INIT(1024);
	struct am_dns *dns;
	struct opts o;
	char *raw, *msg;
	size_t len;

	if (parse_opts(argc, argv, &o) != 0) {
		fprintf(stderr, "usage: dkim_verify_file [-z zone]... [-T name]..."
		    " [-t now] [-m bits] [-c chunk] [-L] message\n");
		return 2;
	}
	if ((dns = am_dns_zone_new(o.zones, o.nz, &why)) == NULL) {
		fprintf(stderr, "zone: %s\n", am_buf_str(&why));
		return 2;
	}
	dns = am_test_failing_dns(dns, o.fail, o.nf);
	if ((raw = am_test_readfile(argv[optind], &len)) == NULL) {
		perror(argv[optind]);
		return 2;
	}
	msg = raw;
	if (o.lf) {
		msg = am_test_lf2crlf(raw, len, &len);
		free(raw);
	}
	if (o.bcanon >= 0) {
		size_t off = 0;
		struct am_hdrs h;
		if (!o.body_only) {
			am_hdrs_init(&h, 1000, 4 * 1024 * 1024);
			am_test_msg_split(msg, len, &h, &off);
			am_hdrs_release(&h);
		}
		body_hash(&o, msg, off, len);
	} else
		verify(&o, dns, msg, len);
	free(msg);
	am_dns_free(dns);
	am_buf_release(&why);
	return 0;
}
