/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * dkim_canon_bench: body-hash throughput of the streaming canonicalizer
 * (lib/dkim_canon.c). Builds SIZE MiB (default 64) of mail-like text
 * (words, double spaces after sentences, some tabs and trailing blanks,
 * quoted lines, empty lines), feeds it in 64 KiB chunks to relaxed and
 * simple SHA-256 body hashers and to plain SHA-256, and prints MB/s
 * (10^6 bytes per second, as `openssl speed` does). Not a test.
 *   usage: dkim_canon_bench [SIZE_MiB] [CHUNK_bytes]
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <openssl/evp.h>

#include "dkim_int.h"

static const char *const words[] = {
	"the", "message", "of", "authentication", "results", "is", "a",
	"header", "we", "lost", "game", "Are", "you", "hungry", "yet",
	"mail", "server", "DKIM", "signature", "and", "body", "hash",
};

static char *
make_text(size_t size)
{
	char *t = malloc(size);
	size_t o = 0, col = 0;
	unsigned seed = 42;

	while (o + 32 < size) {
		const char *w;
		seed = seed * 1103515245u + 12345u;
		w = words[(seed >> 16) % (sizeof(words) / sizeof(words[0]))];
		if (col == 0 && (seed & 0x700) == 0)
			t[o++] = '>', t[o++] = ' ';
		memcpy(t + o, w, strlen(w));
		o += strlen(w);
		col += strlen(w) + 1;
		if (col > 68) {
			if ((seed & 0x3000) == 0)
				t[o++] = ' ';		/* trailing blank */
			t[o++] = '\r', t[o++] = '\n';
			if ((seed & 0xf0000) == 0)
				t[o++] = '\r', t[o++] = '\n';
			col = 0;
		} else if ((seed & 0x1f000) == 0)
			t[o++] = '.', t[o++] = ' ', t[o++] = ' ';
		else if ((seed & 0x3f0000) == 0)
			t[o++] = '\t';
		else
			t[o++] = ' ';
	}
	while (o < size)
		t[o++] = '\n';
	return t;
}

static double
now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static double
run_canon(int relaxed, const char *t, size_t size, size_t chunk)
{
	unsigned char out[AM_DKIM_HASH_MAX];
	struct am_dkim_bh *bh;
	double t0 = now();
	size_t o, n;

	bh = am_dkim_bh_new(relaxed ? AM_DKIM_RELAXED : AM_DKIM_SIMPLE,
	    "sha256", -1);
	for (o = 0; o < size; o += n) {
		n = size - o < chunk ? size - o : chunk;
		am_dkim_bh_update(bh, (const unsigned char *)t + o, n);
	}
	am_dkim_bh_final(bh, out, NULL);
	am_dkim_bh_free(bh);
	return size / (now() - t0) / 1e6;
}

static double
run_sha(const char *t, size_t size, size_t chunk)
{
	unsigned char out[EVP_MAX_MD_SIZE];
	EVP_MD_CTX *c = EVP_MD_CTX_new();
	double t0 = now();
	size_t o, n;

	EVP_DigestInit_ex(c, EVP_sha256(), NULL);
	for (o = 0; o < size; o += n) {
		n = size - o < chunk ? size - o : chunk;
		EVP_DigestUpdate(c, t + o, n);
	}
	EVP_DigestFinal_ex(c, out, NULL);
	EVP_MD_CTX_free(c);
	return size / (now() - t0) / 1e6;
}

int
main(int argc, char **argv)
{
	size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 64;
	size_t chunk = argc > 2 ? strtoul(argv[2], NULL, 10) : 65536;
	size_t size = mib << 20;
	char *t = make_text(size);
	double best[3] = { 0, 0, 0 }, v;
	int i;

	for (i = 0; i < 3; i++) {
		if ((v = run_sha(t, size, chunk)) > best[0])
			best[0] = v;
		if ((v = run_canon(0, t, size, chunk)) > best[1])
			best[1] = v;
		if ((v = run_canon(1, t, size, chunk)) > best[2])
			best[2] = v;
	}
	printf("body %zu MiB in %zu-byte chunks, best of 3:\n", mib, chunk);
	printf("  sha256 alone      %8.1f MB/s\n", best[0]);
	printf("  simple  + sha256  %8.1f MB/s\n", best[1]);
	printf("  relaxed + sha256  %8.1f MB/s\n", best[2]);
	free(t);
	return 0;
}
