/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for milter/callbacks.c (issue 9 item 13): a message that
 * cannot be judged is tempfailed, never passed with forged headers kept,
 * and that state ends with the message, not with the connection.
 *
 * Also: a reload in the middle of a message does not change the message's
 * configuration, and a stop tempfails messages that had not started.
 *
 * The callbacks run against the real engine (all checks off, so no DNS is
 * asked) and stubs of the libmilter calls they make, which record what the
 * MTA would have been told. Out of memory is injected where its contract
 * says it shows: am_msg_new() returns NULL only when out of memory, and
 * the test binary is linked with -Wl,--wrap=am_msg_new so that the
 * callbacks' call can be made to fail once (no test hook in the daemon).
 */
#include <sys/socket.h>
#include <arpa/inet.h>
#include <netinet/in.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include <libmilter/mfapi.h>

#include "callbacks.h"
#include "config.h"
#include "gen.h"
#include "msg.h"

/* ---- what the MTA was told ---- */

struct smfi_str {
	void *priv;
	int inserted;          /* smfi_insheader calls */
	char ins_value[2048];  /* the last inserted value */
	int removed;           /* smfi_chgheader calls with value NULL */
	char rcode[8];         /* smfi_setreply */
};

void *
smfi_getpriv(SMFICTX *ctx)
{
	return ctx->priv;
}

int
smfi_setpriv(SMFICTX *ctx, void *p)
{
	ctx->priv = p;
	return MI_SUCCESS;
}

char *
smfi_getsymval(SMFICTX *ctx, char *name)
{
	(void)ctx;
	if (strcmp(name, "i") == 0)
		return (char *)"QID1";
	return NULL;
}

int
smfi_insheader(SMFICTX *ctx, int idx, char *name, char *value)
{
	(void)idx;
	if (strcmp(name, "Authentication-Results") == 0) {
		ctx->inserted++;
		snprintf(ctx->ins_value, sizeof(ctx->ins_value), "%s", value);
	}
	return MI_SUCCESS;
}

int
smfi_addheader(SMFICTX *ctx, char *name, char *value)
{
	(void)ctx;
	(void)name;
	(void)value;
	return MI_SUCCESS;
}

int
smfi_chgheader(SMFICTX *ctx, char *name, int idx, char *value)
{
	(void)name;
	(void)idx;
	if (value == NULL)
		ctx->removed++;
	return MI_SUCCESS;
}

int
smfi_setreply(SMFICTX *ctx, char *rcode, char *xcode, char *text)
{
	(void)xcode;
	(void)text;
	snprintf(ctx->rcode, sizeof(ctx->rcode), "%s", rcode);
	return MI_SUCCESS;
}

int
smfi_quarantine(SMFICTX *ctx, char *reason)
{
	(void)ctx;
	(void)reason;
	return MI_SUCCESS;
}

int
smfi_setsymlist(SMFICTX *ctx, int where, char *list)
{
	(void)ctx;
	(void)where;
	(void)list;
	return MI_SUCCESS;
}

/* ---- out of memory, once ---- */

struct am_msg *__real_am_msg_new(struct am_engine *e, const struct am_envelope *env);
struct am_msg *__wrap_am_msg_new(struct am_engine *e, const struct am_envelope *env);
static int fail_next_msg;

struct am_msg *
__wrap_am_msg_new(struct am_engine *e, const struct am_envelope *env)
{
	if (fail_next_msg) {
		fail_next_msg = 0;
		return NULL;
	}
	return __real_am_msg_new(e, env);
}

/* ---- a session ---- */

static int retired_idle;

static void
count_retired_idle(void)
{
	retired_idle++;
}

/* Install a generation with all checks off and this AuthservID. */
static void
install_engine(const char *authserv_id)
{
	static const char *const off[][2] = { { "SPFMode", "off" },
		{ "DKIMMode", "off" }, { "DMARCMode", "off" }, { "ARCMode", "off" },
		{ "TrustedNetworks", "" } };
	struct am_buf why = AM_BUF_INIT(256);
	struct am_config *c = am_config_new();
	struct am_engine *e;
	struct am_dns *d;
	struct am_gen *g;
	size_t i;

	assert_non_null(c);
	for (i = 0; i < sizeof(off) / sizeof(off[0]); i++)
		assert_int_equal(am_config_set(c, off[i][0], off[i][1], "test", 0, &why), 0);
	assert_int_equal(am_config_set(c, "AuthservID", authserv_id, "test", 0, &why), 0);
	d = am_dns_zone_new(NULL, 0, &why);
	assert_non_null(d);
	e = am_engine_new(c, d, &why);
	assert_non_null(e);
	g = am_gen_new(c, 1, d, e);
	assert_non_null(g);
	am_gen_install(g, count_retired_idle);
	am_buf_release(&why);
}

static void
session_open(SMFICTX *ctx)
{
	struct smfiDesc *d = am_callbacks_desc();
	unsigned long p0, p1, p2, p3;
	struct sockaddr_in sin;

	memset(ctx, 0, sizeof(*ctx));
	assert_int_equal(d->xxfi_negotiate(ctx, SMFIF_ADDHDRS | SMFIF_CHGHDRS,
	    SMFIP_HDR_LEADSPC, 0, 0, &p0, &p1, &p2, &p3), SMFIS_CONTINUE);
	memset(&sin, 0, sizeof(sin));
	sin.sin_family = AF_INET;
	inet_pton(AF_INET, "192.0.2.1", &sin.sin_addr);
	d->xxfi_connect(ctx, (char *)"client.example", (_SOCK_ADDR *)&sin);
	d->xxfi_helo(ctx, (char *)"client.example");
}

/* A message up to its body, carrying a forged A-R of ours. */
static void
message_start(SMFICTX *ctx)
{
	struct smfiDesc *d = am_callbacks_desc();
	char *from[] = { (char *)"<a@example.com>", NULL };

	ctx->inserted = ctx->removed = 0;
	ctx->rcode[0] = '\0';
	d->xxfi_envfrom(ctx, from);
	d->xxfi_header(ctx, (char *)"Authentication-Results",
	    (char *)" mx.test; dmarc=pass header.from=example.com");
}

/* The rest of the message; the end-of-message status. */
static sfsistat
message_end(SMFICTX *ctx)
{
	struct smfiDesc *d = am_callbacks_desc();
	unsigned char body[] = "hello\r\n";

	d->xxfi_header(ctx, (char *)"From", (char *)" <a@example.com>");
	d->xxfi_eoh(ctx);
	d->xxfi_body(ctx, body, sizeof(body) - 1);
	return d->xxfi_eom(ctx);
}

static sfsistat
message(SMFICTX *ctx)
{
	message_start(ctx);
	return message_end(ctx);
}

static void
test_out_of_memory_is_per_message(void **state)
{
	SMFICTX ctx;

	(void)state;
	session_open(&ctx);
	/* First message: no memory for it. 451, nothing delivered unjudged. */
	fail_next_msg = 1;
	assert_int_equal(message(&ctx), SMFIS_TEMPFAIL);
	assert_string_equal(ctx.rcode, "451");
	assert_int_equal(ctx.inserted, 0);
	/* The next message on the same connection is judged again. */
	assert_int_equal(message(&ctx), SMFIS_CONTINUE);
	assert_int_equal(ctx.removed, 1);
	assert_int_equal(ctx.inserted, 1);
	assert_true(strncmp(ctx.ins_value, " mx.test;", 9) == 0);
	am_callbacks_desc()->xxfi_close(&ctx);
	assert_null(ctx.priv);
}

/*
 * A reload in the middle of a message: the message finishes on the
 * configuration it started with, the next one uses the new one, and the
 * old one is freed once unused (ASan would see a use after free or a leak).
 */
static void
test_reload_mid_message(void **state)
{
	SMFICTX ctx;

	(void)state;
	session_open(&ctx);
	message_start(&ctx);
	install_engine("mx2.test");
	am_gen_reap();          /* the old one is in use: nothing freed */
	assert_int_equal(retired_idle, 0);
	assert_int_equal(message_end(&ctx), SMFIS_CONTINUE);
	assert_true(strncmp(ctx.ins_value, " mx.test;", 9) == 0);
	assert_int_equal(ctx.removed, 1);
	/* its last user is gone: the main thread is told to free it */
	assert_int_equal(retired_idle, 1);
	am_gen_reap();
	assert_int_equal(message(&ctx), SMFIS_CONTINUE);
	assert_true(strncmp(ctx.ins_value, " mx2.test;", 10) == 0);
	/* under mx2.test, "mx.test" is somebody else's id: kept */
	assert_int_equal(ctx.removed, 0);
	am_callbacks_desc()->xxfi_close(&ctx);
}

static void
test_stopping_tempfails(void **state)
{
	SMFICTX ctx;

	(void)state;
	session_open(&ctx);
	assert_int_equal(message(&ctx), SMFIS_CONTINUE);
	/* No message holds the engine: the stop does not wait. */
	assert_int_equal(am_gen_stop(0), 0);
	assert_int_equal(message(&ctx), SMFIS_TEMPFAIL);
	assert_string_equal(ctx.rcode, "451");
	assert_int_equal(ctx.inserted, 0);
	am_callbacks_desc()->xxfi_close(&ctx);
	am_gen_shutdown();
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_out_of_memory_is_per_message),
		cmocka_unit_test(test_reload_mid_message),
		/* last: a stop cannot be undone */
		cmocka_unit_test(test_stopping_tempfails),
	};

	install_engine("mx.test");
	return cmocka_run_group_tests(tests, NULL, NULL);
}
