/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_smtp: the SMTP transport of authmilter-report (ReportSMTPHost),
 * a small client for one message to one recipient. See report_send.h.
 *
 *   am_report_smtp_hostport()  "host", "host:port", "[v6]", "[v6]:port"
 *   am_report_smtp_send()      EHLO (HELO when EHLO is refused), MAIL,
 *                              RCPT, DATA, QUIT (RFC 5321 s.3, s.4.1.1)
 *
 * Every read and write is bounded by the step's deadline (poll on a
 * non-blocking socket): the connect, each command with its whole reply,
 * and each block of the message; a peer that answers a byte at a time
 * cannot stretch a step past ReportSMTPTimeout, nor the whole session
 * past AM_SMTP_SESSION_STEPS times it. A reply is read into a
 * fixed buffer: a line over AM_SMTP_LINE_MAX or a reply over
 * AM_SMTP_REPLY_MAX bytes or AM_SMTP_REPLY_LINES lines is a failure, so
 * memory never grows with what the server sends. Replies must be
 * three digits and ' ' or '-' (s.4.2), the same code on every line, and
 * nothing may follow a reply before the next command; anything else ends
 * the session. The message is sent with CRLF line ends
 * and dot-stuffing (s.4.5.2). Addresses with a control character,
 * space, '<' or '>' are refused before connecting (they would inject
 * commands). Any 4xx or 5xx, timeout or protocol error gives -1 with
 * why naming the step and the server's reply, made printable and capped.
 *
 * No STARTTLS and no AUTH: the transport is meant for the local relay
 * (127.0.0.1:25, the MTA's own smtpd), which then delivers with its own
 * TLS policy; a remote submission host is better reached through
 * ReportSendmail and the MTA.
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "report_dest.h"
#include "report_send.h"

#define AM_SMTP_LINE_MAX    1000   /* s.4.5.3.1.5 reply line, with CRLF: 512 */
#define AM_SMTP_REPLY_MAX   16384  /* one whole (multi-line) reply */
#define AM_SMTP_REPLY_LINES 100
#define AM_SMTP_WHY_TEXT    200    /* reply text kept in why */
#define AM_SMTP_SESSION_STEPS 10   /* the whole session: 10 timeouts */

struct smtp {
	int fd;
	unsigned timeout_ms;
	struct timespec deadline;
	struct timespec session_end;  /* AM_SMTP_SESSION_STEPS timeouts */
	/* received bytes not yet parsed */
	unsigned char in[4096];
	size_t inpos, inlen;
	/* the last reply: code and its text, printable, capped */
	int code;
	char text[AM_SMTP_WHY_TEXT + 1];
	size_t textlen;
	/* the message, buffered for the wire */
	unsigned char out[8192];
	size_t outlen;
};

int
am_report_smtp_hostport(const char *spec, char *host, size_t hostsz,
    char *port, size_t portsz, struct am_buf *why)
{
	const char *h = spec, *p = NULL, *e;
	size_t hl;
	char *end;
	unsigned long n;

	if (*spec == '[') {
		if ((e = strchr(spec, ']')) == NULL || (e[1] != '\0' &&
		    e[1] != ':'))
			goto bad;
		h = spec + 1;
		hl = (size_t)(e - h);
		p = e[1] == ':' ? e + 2 : NULL;
	} else {
		e = strchr(spec, ':');
		if (e != NULL && strchr(e + 1, ':') != NULL)
			goto bad;       /* a bare IPv6 address needs [] */
		hl = e != NULL ? (size_t)(e - spec) : strlen(spec);
		p = e != NULL ? e + 1 : NULL;
	}
	if (hl == 0 || hl >= hostsz || strcspn(h, " \t/") < hl)
		goto bad;
	memcpy(host, h, hl);
	host[hl] = '\0';
	if (p == NULL)
		p = "25";
	n = strtoul(p, &end, 10);
	if (*p < '0' || *p > '9' || *end != '\0' || n == 0 || n > 65535)
		goto bad;
	snprintf(port, portsz, "%lu", n);
	return 0;
bad:
	am_buf_setf(why, "ReportSMTPHost \"%.300s\" is not host, host:port, "
	    "[address] or [address]:port", spec);
	return -1;
}

/* now + ms into t */
static void
time_after(struct timespec *t, unsigned long long ms)
{
	clock_gettime(CLOCK_MONOTONIC, t);
	t->tv_sec += (time_t)(ms / 1000);
	t->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (t->tv_nsec >= 1000000000L) {
		t->tv_sec++;
		t->tv_nsec -= 1000000000L;
	}
}

/* The step's deadline: one timeout from now, never past the session's. */
static void
deadline_set(struct smtp *s)
{
	time_after(&s->deadline, s->timeout_ms);
	if (s->deadline.tv_sec > s->session_end.tv_sec ||
	    (s->deadline.tv_sec == s->session_end.tv_sec &&
	    s->deadline.tv_nsec > s->session_end.tv_nsec))
		s->deadline = s->session_end;
}

/* Milliseconds left before the deadline; 0 when it has passed. */
static int
deadline_left(const struct smtp *s)
{
	struct timespec now;
	long long ms;

	clock_gettime(CLOCK_MONOTONIC, &now);
	ms = (long long)(s->deadline.tv_sec - now.tv_sec) * 1000 +
	    (s->deadline.tv_nsec - now.tv_nsec) / 1000000;
	return ms <= 0 ? 0 : ms > 600000 ? 600000 : (int)ms;
}

/* Wait for events on the socket until the deadline; 0 ready, -1 why. */
static int
wait_fd(struct smtp *s, short events, const char *step, struct am_buf *why)
{
	struct pollfd pf;
	int left, rc;

	for (;;) {
		if ((left = deadline_left(s)) == 0) {
			am_buf_setf(why, "%s: timed out (ReportSMTPTimeout "
			    "%u ms a step, %u ms the session)", step,
			    s->timeout_ms, s->timeout_ms * AM_SMTP_SESSION_STEPS);
			return -1;
		}
		pf.fd = s->fd;
		pf.events = events;
		pf.revents = 0;
		rc = poll(&pf, 1, left);
		if (rc > 0)
			return 0;
		if (rc < 0 && errno != EINTR) {
			am_buf_setf(why, "%s: poll: %s", step, strerror(errno));
			return -1;
		}
	}
}

/* Write all n bytes before the deadline. */
static int
write_all(struct smtp *s, const void *p, size_t n, const char *step,
    struct am_buf *why)
{
	const unsigned char *b = p;
	ssize_t w;

	while (n > 0) {
		if (wait_fd(s, POLLOUT, step, why) != 0)
			return -1;
		w = send(s->fd, b, n, MSG_NOSIGNAL);
		if (w < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (w <= 0) {
			am_buf_setf(why, "%s: %s", step, w < 0 ? strerror(errno) :
			    "connection closed");
			return -1;
		}
		b += w;
		n -= (size_t)w;
	}
	return 0;
}

/* One received byte, before the deadline; 0, or -1 with why. */
static int
read_byte(struct smtp *s, unsigned char *c, const char *step,
    struct am_buf *why)
{
	ssize_t r;

	while (s->inpos == s->inlen) {
		if (wait_fd(s, POLLIN, step, why) != 0)
			return -1;
		r = recv(s->fd, s->in, sizeof(s->in), 0);
		if (r < 0 && (errno == EAGAIN || errno == EINTR))
			continue;
		if (r <= 0) {
			am_buf_setf(why, "%s: %s", step, r < 0 ? strerror(errno) :
			    "connection closed by the server");
			return -1;
		}
		s->inpos = 0;
		s->inlen = (size_t)r;
	}
	*c = s->in[s->inpos++];
	return 0;
}

/* One reply line into line (NUL-terminated, without CRLF); its length. */
static int
read_line(struct smtp *s, char *line, size_t *total, const char *step,
    struct am_buf *why)
{
	unsigned char c;
	size_t n = 0;

	for (;;) {
		if (read_byte(s, &c, step, why) != 0)
			return -1;
		if (++*total > AM_SMTP_REPLY_MAX) {
			am_buf_setf(why, "%s: reply longer than %d bytes", step,
			    AM_SMTP_REPLY_MAX);
			return -1;
		}
		if (c == '\n')
			break;
		if (n == AM_SMTP_LINE_MAX) {
			am_buf_setf(why, "%s: reply line longer than %d bytes",
			    step, AM_SMTP_LINE_MAX);
			return -1;
		}
		line[n++] = (char)c;
	}
	if (n > 0 && line[n - 1] == '\r')
		n--;
	line[n] = '\0';
	return (int)n;
}

/* Append reply text to s->text, printable ASCII only, capped. */
static void
text_add(struct smtp *s, const char *p)
{
	if (s->textlen > 0 && s->textlen < AM_SMTP_WHY_TEXT)
		s->text[s->textlen++] = ' ';
	for (; *p != '\0' && s->textlen < AM_SMTP_WHY_TEXT; p++)
		s->text[s->textlen++] = (*p >= 0x20 && *p < 0x7f) ? *p : '?';
	s->text[s->textlen] = '\0';
}

/*
 * Bytes already received after a whole reply: we never pipeline, so a
 * server that sends them is out of step with us (s.4.2: a reply answers
 * one command); -1 with why showing them, 0 when there are none. Only
 * what arrived with the reply is seen; later bytes fail the next reply.
 */
static int
unsolicited(struct smtp *s, const char *step, struct am_buf *why)
{
	char extra[64];
	size_t n = s->inlen - s->inpos, i;

	if (n == 0)
		return 0;
	if (n >= sizeof(extra))
		n = sizeof(extra) - 1;
	for (i = 0; i < n; i++) {
		unsigned char c = s->in[s->inpos + i];
		extra[i] = c >= 0x20 && c < 0x7f ? (char)c : '?';
	}
	extra[n] = '\0';
	am_buf_setf(why, "%s: unexpected data after the reply: \"%s\"", step,
	    extra);
	return -1;
}

/* A whole reply (s.4.2): sets s->code and s->text; 0, or -1 with why. */
static int
read_reply(struct smtp *s, const char *step, struct am_buf *why)
{
	char line[AM_SMTP_LINE_MAX + 1];
	size_t total = 0;
	int n, i, code;

	s->code = 0;
	s->textlen = 0;
	s->text[0] = '\0';
	for (i = 0; i < AM_SMTP_REPLY_LINES; i++) {
		if ((n = read_line(s, line, &total, step, why)) < 0)
			return -1;
		if (n < 3 || line[0] < '2' || line[0] > '5' ||
		    line[1] < '0' || line[1] > '9' || line[2] < '0' ||
		    line[2] > '9' || (n > 3 && line[3] != ' ' &&
		    line[3] != '-')) {
			text_add(s, line);
			am_buf_setf(why, "%s: malformed reply \"%s\"", step,
			    s->text);
			return -1;
		}
		code = (line[0] - '0') * 100 + (line[1] - '0') * 10 +
		    (line[2] - '0');
		if (s->code != 0 && code != s->code) {
			am_buf_setf(why, "%s: reply lines with codes %d and %d",
			    step, s->code, code);
			return -1;
		}
		s->code = code;
		text_add(s, n > 4 ? line + 4 : "");
		if (n == 3 || line[3] == ' ')
			return unsolicited(s, step, why);
	}
	am_buf_setf(why, "%s: reply of more than %d lines", step,
	    AM_SMTP_REPLY_LINES);
	return -1;
}

/* Send cmd (CRLF added), read the reply; 0 when its class is want. */
static int
command(struct smtp *s, const char *cmd, int want, const char *step,
    struct am_buf *why)
{
	char line[AM_REPORT_ADDR_MAX + 600];
	int n;

	deadline_set(s);
	if (cmd != NULL) {
		n = snprintf(line, sizeof(line), "%s\r\n", cmd);
		if (n < 0 || (size_t)n >= sizeof(line)) {
			am_buf_setf(why, "%s: command too long", step);
			return -1;
		}
		if (write_all(s, line, (size_t)n, step, why) != 0)
			return -1;
	}
	if (read_reply(s, step, why) != 0)
		return -1;
	if (s->code / 100 != want) {
		am_buf_setf(why, "%s: server replied %d %s", step, s->code,
		    s->text);
		return -1;
	}
	return 0;
}

/* Connect the socket to ai before the deadline: 0, or an errno value. */
static int
connect_one(struct smtp *s, const struct addrinfo *ai, struct am_buf *why)
{
	socklen_t len;
	int err;

	if (connect(s->fd, ai->ai_addr, ai->ai_addrlen) == 0)
		return 0;
	if (errno != EINPROGRESS)
		return errno;
	if (wait_fd(s, POLLOUT, "connect", why) != 0)
		return ETIMEDOUT;
	len = sizeof(err);
	if (getsockopt(s->fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0)
		return errno;
	return err;
}

/* Connect to one of host's addresses before the deadline. */
static int
smtp_connect(struct smtp *s, const char *host, const char *port,
    struct am_buf *why)
{
	struct addrinfo hints, *res, *ai;
	int rc, err = 0;

	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((rc = getaddrinfo(host, port, &hints, &res)) != 0) {
		am_buf_setf(why, "connect to %s: %s", host, gai_strerror(rc));
		return -1;
	}
	deadline_set(s);
	for (ai = res; ai != NULL; ai = ai->ai_next) {
		s->fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK |
		    SOCK_CLOEXEC, ai->ai_protocol);
		if (s->fd < 0) {
			err = errno;
			continue;
		}
		if ((err = connect_one(s, ai, why)) == 0)
			break;
		close(s->fd);
		s->fd = -1;
		if (deadline_left(s) == 0)
			break;
	}
	freeaddrinfo(res);
	if (s->fd < 0) {
		am_buf_setf(why, "connect to %s port %s: %s", host, port,
		    err != 0 ? strerror(err) : "no address");
		return -1;
	}
	return 0;
}

/* Queue one byte of the message; flush the buffer when full. */
static int
out_byte(struct smtp *s, unsigned char c, struct am_buf *why)
{
	if (s->outlen == sizeof(s->out)) {
		deadline_set(s);
		if (write_all(s, s->out, s->outlen, "DATA", why) != 0)
			return -1;
		s->outlen = 0;
	}
	s->out[s->outlen++] = c;
	return 0;
}

/* The message from msg: CRLF line ends, dot-stuffed, then "." (s.4.5.2). */
static int
send_body(struct smtp *s, FILE *msg, struct am_buf *why)
{
	int c, bol = 1, prev = 0;

	while ((c = getc(msg)) != EOF) {
		if (bol && c == '.' && out_byte(s, '.', why) != 0)
			return -1;
		/* a bare LF becomes CRLF; a CRLF stays one */
		if (c == '\n' && prev != '\r' && out_byte(s, '\r', why) != 0)
			return -1;
		if (out_byte(s, (unsigned char)c, why) != 0)
			return -1;
		bol = c == '\n';
		prev = c;
	}
	if (ferror(msg)) {
		am_buf_setf(why, "DATA: reading the message failed");
		return -1;
	}
	if (!bol && (out_byte(s, '\r', why) != 0 || out_byte(s, '\n', why) != 0))
		return -1;
	if (out_byte(s, '.', why) != 0 || out_byte(s, '\r', why) != 0 ||
	    out_byte(s, '\n', why) != 0)
		return -1;
	deadline_set(s);
	if (write_all(s, s->out, s->outlen, "DATA", why) != 0)
		return -1;
	s->outlen = 0;
	return 0;
}

/* 1 when addr can go between < and > on a command line. */
static int
addr_safe(const char *addr)
{
	const unsigned char *p;

	if (strlen(addr) >= AM_REPORT_ADDR_MAX)
		return 0;
	for (p = (const unsigned char *)addr; *p != '\0'; p++)
		if (*p <= 0x20 || *p >= 0x7f || *p == '<' || *p == '>')
			return 0;
	return 1;
}

/* The dialogue after connecting: greeting to the end of DATA. */
static int
session(struct smtp *s, const char *helo, const char *from, const char *rcpt,
    FILE *msg, struct am_buf *why)
{
	char cmd[AM_REPORT_ADDR_MAX + 300];

	if (command(s, NULL, 2, "greeting", why) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "EHLO %s", helo);
	if (command(s, cmd, 2, "EHLO", why) != 0) {
		/* s.4.1.4: a server that does not know EHLO may know HELO */
		if (s->code != 500 && s->code != 502)
			return -1;
		am_buf_reset(why);
		snprintf(cmd, sizeof(cmd), "HELO %s", helo);
		if (command(s, cmd, 2, "HELO", why) != 0)
			return -1;
	}
	snprintf(cmd, sizeof(cmd), "MAIL FROM:<%s>", from);
	if (command(s, cmd, 2, "MAIL FROM", why) != 0)
		return -1;
	snprintf(cmd, sizeof(cmd), "RCPT TO:<%s>", rcpt);
	if (command(s, cmd, 2, "RCPT TO", why) != 0)
		return -1;
	if (command(s, "DATA", 3, "DATA", why) != 0)
		return -1;
	if (send_body(s, msg, why) != 0)
		return -1;
	if (command(s, NULL, 2, "end of DATA", why) != 0)
		return -1;
	return 0;
}

int
am_report_smtp_send(const struct am_report_transport *t, const char *from,
    const char *rcpt, FILE *msg, struct am_buf *why)
{
	char host[256], port[8];
	struct am_buf ignore = AM_BUF_INIT(256);
	struct smtp *s;
	int rc;

	if (am_report_smtp_hostport(t->smtp_host, host, sizeof(host), port,
	    sizeof(port), why) != 0)
		return -1;
	if (!addr_safe(from) || !addr_safe(rcpt) || t->helo == NULL ||
	    !addr_safe(t->helo)) {
		am_buf_setf(why, "SMTP: refused to send: an address or the "
		    "EHLO name has a space, control character, '<' or '>'");
		return -1;
	}
	if ((s = calloc(1, sizeof(*s))) == NULL) {
		am_buf_setf(why, "out of memory");
		return -1;
	}
	s->fd = -1;
	s->timeout_ms = t->smtp_timeout_ms > 0 ? t->smtp_timeout_ms : 60000;
	time_after(&s->session_end,
	    (unsigned long long)s->timeout_ms * AM_SMTP_SESSION_STEPS);
	rc = smtp_connect(s, host, port, why);
	if (rc == 0) {
		rc = session(s, t->helo, from, rcpt, msg, why);
		if (rc == 0)    /* the message is accepted; QUIT is courtesy */
			command(s, "QUIT", 2, "QUIT", &ignore);
	}
	if (rc != 0 && why->len > 0)
		am_buf_printf(why, " (SMTP %s port %s)", host, port);
	if (s->fd >= 0)
		close(s->fd);
	free(s);
	am_buf_release(&ignore);
	return rc;
}
