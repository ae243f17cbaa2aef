/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for the SMTP transport of authmilter-report
 * (milter/report_smtp.c through am_report_deliver): a named case table
 * run against a scripted fake SMTP server in a thread, on 127.0.0.1 or
 * ::1. The fake is a mock, so that it can be hostile in ways a real MTA
 * never is: silent, one byte at a time, a 10 MB reply line, floods of
 * reply lines, garbage after a 250, control characters in a 5xx. Each
 * case checks the return value, the reason and what the server received
 * (CRLF line ends, dot-stuffing, the envelope). The real MTA is
 * tests/e2e/test_reports_dest.sh (Postfix's smtpd).
 *
 * The client's deadline is 500 ms a step here; no case asserts how long
 * anything took, only that the hostile ones end with the right reason.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <cmocka.h>

#include "report_send.h"

enum mode {
	SCRIPT,     /* replies[] in turn: one per command, DATA read to "." */
	CLOSE,      /* replies[] in turn, reads a command, closes */
	SILENT,     /* accepts, never answers */
	SLOW,       /* "220 " then one byte every 20 ms, never a newline */
	HUGE,       /* "220-" then 10 MB without a newline */
	FLOOD_LINES,/* "220-x" lines, without end */
	FLOOD_BYTES,/* 900-byte "220-" lines, without end */
	REFUSED,    /* nothing listens on the port */
	SLOW_BODY,  /* GOOD up to 354, then 8 KB of the message every 200 ms */
};

struct smtp_case {
	const char *name;
	int v6;
	enum mode mode;
	const char *replies[10];   /* SCRIPT: greeting, then per command */
	const char *from, *rcpt;
	int want_rc;
	const char *want_why;      /* a substring of why (rc -1) */
	const char *want_got;      /* a substring of what the server read */
};

#define OK220 "220 fake.test ESMTP\r\n"
#define EHLO250 "250-fake.test\r\n250-PIPELINING\r\n250 8BITMIME\r\n"
#define GOOD OK220, EHLO250, "250 2.1.0 ok\r\n", "250 2.1.5 ok\r\n", \
	"354 go ahead\r\n", "250 2.0.0 queued as X\r\n", "221 bye\r\n"

/* What the writer produces, and what must arrive between DATA and "." */
#define MSG "From: r@sub.example\nSubject: t\n\n.leading dot\nline\n" \
	"..two dots\r\nCRLF kept\n.\nlast line without LF"
#define WIRE "From: r@sub.example\r\nSubject: t\r\n\r\n..leading dot\r\n" \
	"line\r\n...two dots\r\nCRLF kept\r\n..\r\nlast line without LF\r\n" \
	".\r\n"

static const struct smtp_case cases[] = {
	{ "good session, dot-stuffed CRLF body", 0, SCRIPT, { GOOD },
	  "from@sub.example", "to@rua.example", 0, NULL,
	  "EHLO sub.example\r\nMAIL FROM:<from@sub.example>\r\n"
	  "RCPT TO:<to@rua.example>\r\nDATA\r\n" WIRE "QUIT\r\n" },
	{ "IPv6 literal [::1]", 1, SCRIPT, { GOOD },
	  "from@sub.example", "to@rua.example", 0, NULL, "DATA\r\n" WIRE },
	{ "QUIT unanswered still sent", 0, SCRIPT, { OK220, EHLO250,
	  "250 ok\r\n", "250 ok\r\n", "354 go\r\n", "250 queued\r\n" },
	  "from@sub.example", "to@rua.example", 0, NULL, "QUIT\r\n" },
	{ "EHLO refused, HELO accepted", 0, SCRIPT, { OK220,
	  "502 5.5.2 what\r\n", "250 hello\r\n", "250 ok\r\n", "250 ok\r\n",
	  "354 go\r\n", "250 queued\r\n", "221 bye\r\n" },
	  "from@sub.example", "to@rua.example", 0, NULL,
	  "EHLO sub.example\r\nHELO sub.example\r\n" },
	{ "greeting 554", 0, SCRIPT, { "554 5.3.2 no service\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "greeting: server replied 554 5.3.2 no service", NULL },
	{ "EHLO 421", 0, SCRIPT, { OK220, "421 4.3.2 shutting down\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "EHLO: server replied 421 4.3.2 shutting down", NULL },
	{ "MAIL 451", 0, SCRIPT, { OK220, EHLO250,
	  "451 4.3.0 try later\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "MAIL FROM: server replied 451 4.3.0 try later", NULL },
	{ "RCPT 550 multi-line", 0, SCRIPT, { OK220, EHLO250, "250 ok\r\n",
	  "550-5.1.1 no such\r\n550 5.1.1 user\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "RCPT TO: server replied 550 5.1.1 no such 5.1.1 user", NULL },
	{ "DATA 554", 0, SCRIPT, { OK220, EHLO250, "250 ok\r\n",
	  "250 ok\r\n", "554 5.5.1 no valid recipients\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "DATA: server replied 554", NULL },
	{ "end of DATA 552", 0, SCRIPT, { OK220, EHLO250, "250 ok\r\n",
	  "250 ok\r\n", "354 go\r\n", "552 5.3.4 too big\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "end of DATA: server replied 552 5.3.4 too big", WIRE },
	{ "354 expected, 250 got", 0, SCRIPT, { OK220, EHLO250, "250 ok\r\n",
	  "250 ok\r\n", "250 ok\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "DATA: server replied 250", NULL },
	{ "control characters in the reply made printable", 0, SCRIPT,
	  { OK220, EHLO250, "550 \x1b[31mred\x07\x01 bell\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "server replied 550 ?[31mred?? bell", NULL },
	{ "250 followed by garbage", 0, SCRIPT, { OK220,
	  "250 ok\r\n\x01garbage after the reply\r\n", "250 ok\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "\"?garbage after the reply", NULL },
	{ "250 then an unasked 250", 0, SCRIPT, { OK220,
	  "250 ok\r\n250 ok\r\n", "250 ok\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "EHLO: unexpected data after the reply: \"250 ok??\"", NULL },
	{ "reply code not three digits", 0, SCRIPT, { "22 hello\r\n" },
	  "from@sub.example", "to@rua.example", -1, "malformed reply", NULL },
	{ "reply code 600", 0, SCRIPT, { "600 hello\r\n" },
	  "from@sub.example", "to@rua.example", -1, "malformed reply", NULL },
	{ "multi-line codes differ", 0, SCRIPT, { OK220,
	  "250-fake\r\n550 no\r\n" },
	  "from@sub.example", "to@rua.example", -1,
	  "EHLO: reply lines with codes 250 and 550", NULL },
	{ "server closes mid-session", 0, CLOSE, { OK220 },
	  "from@sub.example", "to@rua.example", -1,
	  "EHLO: connection closed by the server", NULL },
	{ "silent server", 0, SILENT, { NULL },
	  "from@sub.example", "to@rua.example", -1,
	  "greeting: timed out (ReportSMTPTimeout 500 ms a step", NULL },
	/*
	 * Each 8 KB block of a 16 MB message is taken within the step
	 * timeout, so only the session limit (10 x 500 ms) ends it.
	 */
	{ "message taken 8 KB at a time", 0, SLOW_BODY, { NULL },
	  "from@sub.example", "to@rua.example", -1,
	  "DATA: timed out (ReportSMTPTimeout 500 ms a step, 5000 ms the "
	  "session)", NULL },
	{ "one byte at a time", 0, SLOW, { NULL },
	  "from@sub.example", "to@rua.example", -1,
	  "greeting: timed out (ReportSMTPTimeout 500 ms a step", NULL },
	{ "10 MB reply line", 0, HUGE, { NULL },
	  "from@sub.example", "to@rua.example", -1,
	  "greeting: reply line longer than 1000 bytes", NULL },
	{ "endless reply lines", 0, FLOOD_LINES, { NULL },
	  "from@sub.example", "to@rua.example", -1,
	  "greeting: reply of more than 100 lines", NULL },
	{ "endless long reply lines", 0, FLOOD_BYTES, { NULL },
	  "from@sub.example", "to@rua.example", -1,
	  "greeting: reply longer than 16384 bytes", NULL },
	{ "connection refused", 0, REFUSED, { NULL },
	  "from@sub.example", "to@rua.example", -1,
	  "connect to 127.0.0.1 port", NULL },
	{ "CRLF in the recipient refused", 0, SCRIPT, { NULL },
	  "from@sub.example", "to@rua.example>\r\nRCPT TO:<x@evil.example",
	  -1, "refused to send", NULL },
	{ "angle bracket in the sender refused", 0, SCRIPT, { NULL },
	  "a>b@sub.example", "to@rua.example", -1, "refused to send", NULL },
};

struct fake {
	const struct smtp_case *c;
	int lfd;
	struct am_buf got;
	unsigned long long sent;
};

/* Send it all; 0, or -1 once the client has gone. */
static int
put(struct fake *f, int fd, const char *p, size_t n)
{
	ssize_t w;

	while (n > 0) {
		if ((w = send(fd, p, n, MSG_NOSIGNAL)) <= 0)
			return -1;
		p += w;
		n -= (size_t)w;
		f->sent += (unsigned long long)w;
	}
	return 0;
}

/* One line into f->got; its start offset, or -1 at end of stream. */
static long
get_line(struct fake *f, int fd)
{
	size_t start = f->got.len;
	char ch;

	for (;;) {
		if (recv(fd, &ch, 1, 0) != 1)
			return -1;
		am_buf_addc(&f->got, ch);
		if (ch == '\n')
			return (long)start;
	}
}

static void
drain(int fd)
{
	char b[4096];

	while (recv(fd, b, sizeof(b), 0) > 0)
		;
}

static void
run_script(struct fake *f, int fd)
{
	const char *const *r = f->c->replies;
	size_t i;
	long at;

	if (r[0] == NULL || put(f, fd, r[0], strlen(r[0])) != 0)
		return;
	for (i = 1; i < 10 && r[i] != NULL; i++) {
		if (get_line(f, fd) < 0)
			return;
		if (strncmp(r[i - 1], "354", 3) == 0) {
			/* the message: lines up to "." */
			do {
				if ((at = get_line(f, fd)) < 0)
					return;
			} while (strcmp(f->got.data + at, ".\r\n") != 0);
		}
		if (put(f, fd, r[i], strlen(r[i])) != 0)
			return;
	}
	/*
	 * SCRIPT: whatever the client still says (QUIT), until it closes.
	 * CLOSE: the next command is read first, so the close is a FIN,
	 * never a reset for unread data.
	 */
	if (f->c->mode == CLOSE)
		get_line(f, fd);
	while (f->c->mode == SCRIPT && get_line(f, fd) >= 0)
		;
}

/* Read n bytes; 0, or -1 once the client has gone. */
static int
take(int fd, size_t n)
{
	char b[1024];
	ssize_t r;

	while (n > 0) {
		if ((r = recv(fd, b, n < sizeof(b) ? n : sizeof(b), 0)) <= 0)
			return -1;
		n -= (size_t)r;
	}
	return 0;
}

static void
run_flood(struct fake *f, int fd)
{
	char line[1024];
	struct timespec ts = { 0, 20 * 1000000L };
	int i;

	switch (f->c->mode) {
	case SLOW:  /* bounded: 1,000 bytes, 20 s, far over the deadline */
		put(f, fd, "220 ", 4);
		for (i = 0; i < 1000 && put(f, fd, "x", 1) == 0; i++)
			nanosleep(&ts, NULL);
		break;
	case HUGE:
		memset(line, 'x', sizeof(line));
		put(f, fd, "220-", 4);
		for (i = 0; i < 10 * 1024 && put(f, fd, line, 1024) == 0; i++)
			;
		break;
	case FLOOD_LINES:
		for (i = 0; i < 100000 && put(f, fd, "220-x\r\n", 7) == 0; i++)
			;
		break;
	case FLOOD_BYTES:
		memset(line, 'y', 900);
		memcpy(line, "220-", 4);
		memcpy(line + 898, "\r\n", 2);
		for (i = 0; i < 10000 && put(f, fd, line, 900) == 0; i++)
			;
		break;
	case SLOW_BODY:  /* bounded: 60 blocks, 12 s, over the session */
		for (i = 0; i < 5; i++) {
			static const char *const r[] = { OK220, EHLO250,
			    "250 ok\r\n", "250 ok\r\n", "354 go\r\n" };
			if ((i > 0 && get_line(f, fd) < 0) ||
			    put(f, fd, r[i], strlen(r[i])) != 0)
				return;
		}
		ts.tv_nsec = 200 * 1000000L;
		for (i = 0; i < 60 && take(fd, 8192) == 0; i++)
			nanosleep(&ts, NULL);
		break;
	default:
		break;
	}
}

static void *
server(void *arg)
{
	struct fake *f = arg;
	int fd;

	if ((fd = accept(f->lfd, NULL, NULL)) < 0)
		return NULL;
	if (f->c->mode == SCRIPT || f->c->mode == CLOSE)
		run_script(f, fd);
	else if (f->c->mode == SILENT)
		drain(fd);
	else
		run_flood(f, fd);
	close(fd);
	return NULL;
}

/* A listening socket on the loopback address; its port in spec. */
static int
listen_on(int v6, int do_listen, char *spec, size_t specsz)
{
	struct sockaddr_storage ss;
	struct sockaddr_in *s4 = (struct sockaddr_in *)&ss;
	struct sockaddr_in6 *s6 = (struct sockaddr_in6 *)&ss;
	socklen_t len;
	int fd;

	memset(&ss, 0, sizeof(ss));
	if (v6) {
		s6->sin6_family = AF_INET6;
		s6->sin6_addr = in6addr_loopback;
		len = sizeof(*s6);
	} else {
		s4->sin_family = AF_INET;
		s4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
		len = sizeof(*s4);
	}
	fd = socket(ss.ss_family, SOCK_STREAM, 0);
	assert_true(fd >= 0);
	assert_int_equal(bind(fd, (struct sockaddr *)&ss, len), 0);
	assert_int_equal(getsockname(fd, (struct sockaddr *)&ss, &len), 0);
	if (do_listen)
		assert_int_equal(listen(fd, 1), 0);
	snprintf(spec, specsz, v6 ? "[::1]:%u" : "127.0.0.1:%u",
	    ntohs(v6 ? s6->sin6_port : s4->sin_port));
	return fd;
}

static int
writer(void *arg, FILE *out, struct am_buf *why)
{
	(void)why;
	return fputs(arg, out) == EOF ? -1 : 0;
}

/* 16 MB of 64-byte lines: more than the socket buffers hold */
static int
big_writer(void *arg, FILE *out, struct am_buf *why)
{
	int i;

	(void)arg;
	(void)why;
	for (i = 0; i < 16 * 1024 * 1024 / 64; i++)
		if (fputs("xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"
		    "xxxxxxxxxxxxx\n", out) == EOF)
			return -1;
	return 0;
}

static void
run_case(const struct smtp_case *c)
{
	struct am_report_transport t;
	struct am_buf why = AM_BUF_INIT(1024);
	struct fake f;
	pthread_t th;
	char spec[64];
	int rc, threaded;

	memset(&f, 0, sizeof(f));
	f.c = c;
	am_buf_init(&f.got, 1 << 20);
	f.lfd = listen_on(c->v6, c->mode != REFUSED, spec, sizeof(spec));
	if (c->mode == REFUSED) {
		close(f.lfd);
		f.lfd = -1;
	}
	/* a refused address never connects: no server to wait for */
	threaded = c->mode != REFUSED && (c->mode != SCRIPT ||
	    c->replies[0] != NULL);
	if (threaded)
		assert_int_equal(pthread_create(&th, NULL, server, &f), 0);
	memset(&t, 0, sizeof(t));
	t.sendmail = "/nonexistent/sendmail";
	t.smtp_host = spec;
	t.smtp_timeout_ms = 500;
	t.helo = "sub.example";
	rc = am_report_deliver(&t, c->from, c->rcpt,
	    c->mode == SLOW_BODY ? big_writer : writer, MSG, &why);
	if (threaded)
		pthread_join(th, NULL);
	if (f.lfd >= 0)
		close(f.lfd);
	if (rc != c->want_rc ||
	    (c->want_why != NULL && strstr(am_buf_str(&why), c->want_why) ==
	    NULL) ||
	    (c->want_got != NULL && strstr(am_buf_str(&f.got), c->want_got) ==
	    NULL)) {
		print_error("case \"%s\": rc %d (want %d), why \"%s\" (want "
		    "\"%s\"), server got \"%s\" (want \"%s\")\n", c->name, rc,
		    c->want_rc, am_buf_str(&why), c->want_why ? c->want_why : "",
		    am_buf_str(&f.got), c->want_got ? c->want_got : "");
		fail();
	}
	am_buf_release(&f.got);
	am_buf_release(&why);
}

static void
test_smtp_cases(void **state)
{
	size_t i;

	(void)state;
	for (i = 0; i < sizeof(cases) / sizeof(cases[0]); i++)
		run_case(&cases[i]);
}

struct hp_case {
	const char *name, *spec, *host, *port;   /* host NULL: refused */
};

static const struct hp_case hp_cases[] = {
	{ "host only", "relay.example", "relay.example", "25" },
	{ "host and port", "127.0.0.1:2525", "127.0.0.1", "2525" },
	{ "IPv6 literal", "[::1]", "::1", "25" },
	{ "IPv6 literal and port", "[2001:db8::1]:587", "2001:db8::1", "587" },
	{ "bare IPv6 refused", "::1", NULL, NULL },
	{ "port 0 refused", "h:0", NULL, NULL },
	{ "port over 65535 refused", "h:65536", NULL, NULL },
	{ "port not a number", "h:smtp", NULL, NULL },
	{ "empty port", "h:", NULL, NULL },
	{ "empty host", ":25", NULL, NULL },
	{ "unclosed bracket", "[::1:25", NULL, NULL },
	{ "junk after bracket", "[::1]x", NULL, NULL },
	{ "space in host", "a b:25", NULL, NULL },
	{ "sign in port", "h:+25", NULL, NULL },
};

static void
test_hostport(void **state)
{
	struct am_buf why = AM_BUF_INIT(512);
	char host[256], port[8];
	size_t i;
	int rc;

	(void)state;
	for (i = 0; i < sizeof(hp_cases) / sizeof(hp_cases[0]); i++) {
		const struct hp_case *c = &hp_cases[i];
		rc = am_report_smtp_hostport(c->spec, host, sizeof(host), port,
		    sizeof(port), &why);
		if ((c->host == NULL) != (rc != 0) || (rc == 0 &&
		    (strcmp(host, c->host) != 0 || strcmp(port, c->port) != 0))) {
			print_error("case \"%s\": rc %d host \"%s\" port \"%s\", "
			    "want %s:%s\n", c->name, rc, rc == 0 ? host : "",
			    rc == 0 ? port : "", c->host ? c->host : "(refused)",
			    c->port ? c->port : "");
			fail();
		}
	}
	am_buf_release(&why);
}

/* A writer that fails: no session is opened, the reason is the writer's. */
static int
bad_writer(void *arg, FILE *out, struct am_buf *why)
{
	(void)arg;
	(void)out;
	am_buf_setf(why, "the writer failed");
	return -1;
}

static void
test_writer_fails(void **state)
{
	struct am_report_transport t;
	struct am_buf why = AM_BUF_INIT(256);

	(void)state;
	memset(&t, 0, sizeof(t));
	t.smtp_host = "127.0.0.1:1";
	t.smtp_timeout_ms = 500;
	t.helo = "sub.example";
	assert_int_equal(am_report_deliver(&t, "a@b.example", "c@d.example",
	    bad_writer, NULL, &why), -1);
	assert_string_equal(am_buf_str(&why), "the writer failed");
	am_buf_release(&why);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_hostport),
		cmocka_unit_test(test_smtp_cases),
		cmocka_unit_test(test_writer_fails),
	};

	signal(SIGPIPE, SIG_IGN);
	return cmocka_run_group_tests(tests, NULL, NULL);
}
