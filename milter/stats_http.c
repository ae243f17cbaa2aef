/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * stats_http: a minimal HTTP/1.x server for GET /metrics. See stats_http.h.
 *
 * One thread, one poll(2) loop over the listening socket, a wake-up pipe
 * and at most MAX_CLIENTS connections, all non-blocking. A client has
 * CLIENT_MS from accept to the last byte of the response, and its request
 * head may be at most REQ_MAX bytes, so a slow or hostile client holds one
 * slot for a bounded time and never the thread; while every slot is taken
 * new connections wait in the listen backlog. Every response closes the
 * connection (RFC 9112 s.9.6 "close"), so there is no keep-alive state.
 *
 * Answers (RFC 9110 s.15): 200 with the page for GET or HEAD /metrics
 * (a query string is ignored), 404 for another path, 405 for another
 * method, 400 for a request line that does not parse or a head over
 * REQ_MAX, 500 if the page did not fit. Content-Type is the text format's,
 * "text/plain; version=0.0.4; charset=utf-8".
 */
#include <sys/socket.h>
#include <sys/types.h>

#include <netinet/in.h>

#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "buf.h"
#include "log.h"
#include "stats.h"
#include "stats_http.h"

#define MAX_CLIENTS 16
#define CLIENT_MS 5000
#define REQ_MAX 4096
#define ACCEPT_PAUSE_MS 100

struct client {
	int fd;                     /* -1: free slot */
	long long deadline;         /* monotonic ms */
	char req[REQ_MAX + 1];
	size_t rlen;
	struct am_buf out;          /* the response, once the head is in */
	size_t sent;
};

/* Threads: open/stop run on the main thread; the rest on the server's. */
struct am_stats_http {
	int lfd;                    /* listening socket */
	int wake[2];                /* stop: a byte on wake[1] */
	pthread_t thread;
	int running;
	long long accept_after;     /* accept failed (EMFILE): not before this */
	struct client c[MAX_CLIENTS];
};

static long long
now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* Split spec into family, host and port; fatal on a bad one. */
static void
parse_spec(const char *spec, int *family, char *host, size_t hlen, char *port,
    size_t plen)
{
	const char *p, *at;
	size_t n;

	*family = strncmp(spec, "inet6:", 6) == 0 ? AF_INET6 : AF_UNSPEC;
	if (strncmp(spec, "inet:", 5) != 0 && *family != AF_INET6)
		fatal("StatsSocket %s: not inet:PORT@HOST or inet6:PORT@HOST", spec);
	p = strchr(spec, ':') + 1;
	at = strchr(p, '@');
	n = at != NULL ? (size_t)(at - p) : strlen(p);
	if (n == 0 || n >= plen)
		fatal("StatsSocket %s: bad port", spec);
	memcpy(port, p, n);
	port[n] = '\0';
	if (at == NULL) {
		snprintf(host, hlen, "%s", *family == AF_INET6 ? "::1" : "127.0.0.1");
		return;
	}
	at++;
	n = strlen(at);
	if (n >= 2 && at[0] == '[' && at[n - 1] == ']') {
		at++;
		n -= 2;
		*family = AF_INET6;
	}
	if (n == 0 || n >= hlen)
		fatal("StatsSocket %s: bad host", spec);
	memcpy(host, at, n);
	host[n] = '\0';
}

/* A listening socket on the first address of host:port; fatal on error. */
static int
listen_on(const char *spec)
{
	struct addrinfo hints, *res;
	char host[256], port[16];
	int fd, on = 1, r;

	memset(&hints, 0, sizeof(hints));
	parse_spec(spec, &hints.ai_family, host, sizeof(host), port, sizeof(port));
	hints.ai_socktype = SOCK_STREAM;
	hints.ai_flags = AI_NUMERICSERV;
	if ((r = getaddrinfo(host, port, &hints, &res)) != 0)
		fatal("StatsSocket %s: %s", spec, gai_strerror(r));
	fd = socket(res->ai_family, res->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		fatal("StatsSocket %s: socket: %s", spec, strerror(errno));
	(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &on, sizeof(on));
	if (bind(fd, res->ai_addr, res->ai_addrlen) != 0 || listen(fd, 16) != 0)
		fatal("StatsSocket %s: cannot listen: %s", spec, strerror(errno));
	freeaddrinfo(res);
	return fd;
}

struct am_stats_http *
am_stats_http_open(const char *spec)
{
	struct am_stats_http *h;
	int i;

	if (spec == NULL || *spec == '\0')
		return NULL;
	if ((h = calloc(1, sizeof(*h))) == NULL)
		fatal("StatsSocket: out of memory");
	h->lfd = listen_on(spec);
	if (pipe2(h->wake, O_CLOEXEC | O_NONBLOCK) != 0)
		fatal("StatsSocket: pipe: %s", strerror(errno));
	for (i = 0; i < MAX_CLIENTS; i++) {
		h->c[i].fd = -1;
		am_buf_init(&h->c[i].out, AM_STATS_PAGE_MAX + 512);
	}
	return h;
}

static void
client_close(struct client *c)
{
	if (c->fd >= 0)
		close(c->fd);
	c->fd = -1;
	c->rlen = 0;
	c->sent = 0;
	am_buf_reset(&c->out);
	c->out.truncated = 0;
}

/* The response head and, unless head_only, the body. */
static void
respond(struct client *c, const char *status, const char *body, size_t blen,
    const char *type, const char *extra, int head_only)
{
	am_buf_printf(&c->out, "HTTP/1.1 %s\r\nContent-Type: %s\r\n"
	    "Content-Length: %zu\r\n%sConnection: close\r\n\r\n", status, type,
	    blen, extra);
	if (!head_only)
		am_buf_add(&c->out, body, blen);
}

static void
respond_text(struct client *c, const char *status, const char *extra)
{
	char body[64];

	snprintf(body, sizeof(body), "%s\n", status);
	respond(c, status, body, strlen(body), "text/plain; charset=utf-8",
	    extra, 0);
}

/* Answer the request line at the start of c->req. */
static void
handle(struct client *c)
{
	char method[16], target[REQ_MAX], version[16];
	struct am_buf page = AM_BUF_INIT(AM_STATS_PAGE_MAX);
	size_t n;

	if (sscanf(c->req, "%15s %4095s HTTP/%15s", method, target, version) != 3 ||
	    (strcmp(version, "1.0") != 0 && strcmp(version, "1.1") != 0)) {
		respond_text(c, "400 Bad Request", "");
		return;
	}
	if (strcmp(method, "GET") != 0 && strcmp(method, "HEAD") != 0) {
		respond_text(c, "405 Method Not Allowed", "Allow: GET, HEAD\r\n");
		return;
	}
	n = strcspn(target, "?");
	if (n != strlen("/metrics") || strncmp(target, "/metrics", n) != 0) {
		respond_text(c, "404 Not Found", "");
		return;
	}
	if (am_stats_write(&page) != 0)
		respond_text(c, "500 Internal Server Error", "");
	else
		respond(c, "200 OK", page.data, page.len,
		    "text/plain; version=0.0.4; charset=utf-8", "",
		    strcmp(method, "HEAD") == 0);
	am_buf_release(&page);
}

/* Read what the client sent; answer once the head is complete. */
static void
client_read(struct client *c)
{
	ssize_t r;

	r = read(c->fd, c->req + c->rlen, REQ_MAX - c->rlen);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r <= 0) {
		client_close(c);
		return;
	}
	c->rlen += (size_t)r;
	c->req[c->rlen] = '\0';
	if (strstr(c->req, "\r\n\r\n") != NULL || strstr(c->req, "\n\n") != NULL)
		handle(c);
	else if (c->rlen == REQ_MAX || memchr(c->req, '\0', c->rlen) != NULL)
		respond_text(c, "400 Bad Request", "");
}

/* Send the rest of the response; close when all is sent. */
static void
client_write(struct client *c)
{
	ssize_t r;

	r = send(c->fd, c->out.data + c->sent, c->out.len - c->sent, MSG_NOSIGNAL);
	if (r < 0 && (errno == EAGAIN || errno == EINTR))
		return;
	if (r < 0) {
		client_close(c);
		return;
	}
	c->sent += (size_t)r;
	if (c->sent == c->out.len) {
		shutdown(c->fd, SHUT_WR);
		client_close(c);
	}
}

/* Take one waiting connection into a free slot. */
static void
accept_one(struct am_stats_http *h)
{
	int i, fd;

	if ((fd = accept4(h->lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC)) < 0) {
		/* out of descriptors: the backlog stays readable, so wait a
		 * little instead of spinning on it */
		if (errno != EAGAIN && errno != EINTR && errno != ECONNABORTED)
			h->accept_after = now_ms() + ACCEPT_PAUSE_MS;
		return;
	}
	for (i = 0; i < MAX_CLIENTS && h->c[i].fd >= 0; i++)
		;
	if (i == MAX_CLIENTS) {
		close(fd);
		return;
	}
	h->c[i].fd = fd;
	h->c[i].deadline = now_ms() + CLIENT_MS;
}

/* Fill fds for poll; the timeout until the nearest deadline (-1: none). */
static int
prepare(struct am_stats_http *h, struct pollfd *fds, int *map, nfds_t *nfds)
{
	long long t = now_ms(), next = -1;
	int i, busy = 0;

	fds[0] = (struct pollfd){ .fd = h->wake[0], .events = POLLIN };
	*nfds = 1;
	for (i = 0; i < MAX_CLIENTS; i++) {
		struct client *c = &h->c[i];
		if (c->fd < 0)
			continue;
		if (t >= c->deadline) {
			client_close(c);
			continue;
		}
		busy++;
		if (next < 0 || c->deadline < next)
			next = c->deadline;
		map[*nfds] = i;
		fds[(*nfds)++] = (struct pollfd){ .fd = c->fd,
		    .events = c->out.len > 0 ? POLLOUT : POLLIN };
	}
	if (busy < MAX_CLIENTS && t >= h->accept_after) {
		map[*nfds] = -1;
		fds[(*nfds)++] = (struct pollfd){ .fd = h->lfd, .events = POLLIN };
	} else if (busy < MAX_CLIENTS && (next < 0 || h->accept_after < next))
		next = h->accept_after;
	return next < 0 ? -1 : (int)(next - t);
}

static void *
serve(void *arg)
{
	struct am_stats_http *h = arg;
	struct pollfd fds[MAX_CLIENTS + 2];
	int map[MAX_CLIENTS + 2], timeout;
	nfds_t i, n;

	for (;;) {
		timeout = prepare(h, fds, map, &n);
		if (poll(fds, n, timeout) < 0 && errno != EINTR) {
			log_warn("StatsSocket: poll");
			return NULL;
		}
		if (fds[0].revents != 0)
			return NULL;
		for (i = 1; i < n; i++) {
			if (fds[i].revents == 0)
				continue;
			if (map[i] < 0)
				accept_one(h);
			else if (h->c[map[i]].out.len > 0)
				client_write(&h->c[map[i]]);
			else
				client_read(&h->c[map[i]]);
		}
	}
}

void
am_stats_http_start(struct am_stats_http *h)
{
	sigset_t all, old;
	int r;

	if (h == NULL)
		return;
	/* Signals belong to the main thread (and libmilter's). */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	r = pthread_create(&h->thread, NULL, serve, h);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	if (r != 0)
		fatal("StatsSocket: cannot start its thread: %s", strerror(r));
	h->running = 1;
}

struct am_stats_http *
am_stats_http_stop(struct am_stats_http *h)
{
	ssize_t w;
	int i;

	if (h == NULL)
		return NULL;
	if (h->running) {
		w = write(h->wake[1], "x", 1);
		(void)w;
		pthread_join(h->thread, NULL);
	}
	for (i = 0; i < MAX_CLIENTS; i++) {
		client_close(&h->c[i]);
		am_buf_release(&h->c[i].out);
	}
	close(h->lfd);
	close(h->wake[0]);
	close(h->wake[1]);
	free(h);
	return NULL;
}
