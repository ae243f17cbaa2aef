/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * nullfilter: the do-nothing libmilter filter, the benchmark's framework
 * floor. It takes every step (connect, helo, mail, rcpt, headers, end of
 * headers, body) and answers "continue", negotiates nothing special (no
 * xxfi_negotiate: libmilter's defaults, a reply to every step), and adds
 * one header at end of message, as a verifying milter must.
 *
 *   nullfilter -p SOCKET        e.g. -p unix:/tmp/null.sock,
 *                               -p inet:9999@127.0.0.1
 *
 * Runs in the foreground until SIGTERM/SIGINT (libmilter handles them).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

static sfsistat
nf_connect(SMFICTX *ctx, char *host, _SOCK_ADDR *sa)
{
	(void)ctx;
	(void)host;
	(void)sa;
	return SMFIS_CONTINUE;
}

static sfsistat
nf_args(SMFICTX *ctx, char **argv)
{
	(void)ctx;
	(void)argv;
	return SMFIS_CONTINUE;
}

static sfsistat
nf_helo(SMFICTX *ctx, char *helo)
{
	(void)ctx;
	(void)helo;
	return SMFIS_CONTINUE;
}

static sfsistat
nf_header(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return SMFIS_CONTINUE;
}

static sfsistat
nf_step(SMFICTX *ctx)
{
	(void)ctx;
	return SMFIS_CONTINUE;
}

static sfsistat
nf_body(SMFICTX *ctx, unsigned char *buf, size_t len)
{
	(void)ctx;
	(void)buf;
	(void)len;
	return SMFIS_CONTINUE;
}

static sfsistat
nf_eom(SMFICTX *ctx)
{
	if (smfi_insheader(ctx, 0, "X-Null-Filter", "seen") != MI_SUCCESS)
		return SMFIS_TEMPFAIL;
	return SMFIS_CONTINUE;
}

static struct smfiDesc desc = {
	.xxfi_name = "nullfilter",
	.xxfi_version = SMFI_VERSION,
	.xxfi_flags = SMFIF_ADDHDRS,
	.xxfi_connect = nf_connect,
	.xxfi_helo = nf_helo,
	.xxfi_envfrom = nf_args,
	.xxfi_envrcpt = nf_args,
	.xxfi_header = nf_header,
	.xxfi_eoh = nf_step,
	.xxfi_body = nf_body,
	.xxfi_eom = nf_eom,
	.xxfi_abort = nf_step,
	.xxfi_close = nf_step,
	.xxfi_data = nf_step,
};

int
main(int argc, char **argv)
{
	const char *sock = NULL;
	int ch;

	while ((ch = getopt(argc, argv, "p:")) != -1) {
		if (ch == 'p')
			sock = optarg;
		else
			sock = NULL, optind = argc;
	}
	if (sock == NULL) {
		fprintf(stderr, "usage: nullfilter -p SOCKET\n");
		return 2;
	}
	if (strncmp(sock, "unix:", 5) == 0 || strncmp(sock, "local:", 6) == 0)
		(void)unlink(strchr(sock, ':') + 1);
	if (smfi_setconn((char *)sock) != MI_SUCCESS ||
	    smfi_register(desc) != MI_SUCCESS) {
		fprintf(stderr, "nullfilter: cannot set up %s\n", sock);
		return 1;
	}
	if (smfi_opensocket(1) != MI_SUCCESS) {
		fprintf(stderr, "nullfilter: cannot open %s\n", sock);
		return 1;
	}
	return smfi_main() == MI_SUCCESS ? 0 : 1;
}
