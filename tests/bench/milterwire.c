/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * milterwire: the milter protocol, MTA side, for milterload (see
 * milterload.c for the contract and milterload.h for the entry points).
 *
 * Packets are a 4-byte length (command + data, network order), the command
 * byte, the data. The MTA offers protocol version 6, every action and every
 * protocol flag Postfix offers; the milter's reply decides which steps are
 * sent (SMFIP_NO*), which are answered (SMFIP_NR_*), whether header values
 * keep their leading space (SMFIP_HDR_LEADSPC), and which macros go with
 * each step (its symbol lists).
 */
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <arpa/inet.h>
#include <linux/sockios.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>
#include <unistd.h>

#include "milterload.h"

/* ---- wire ---- */

static int
write_all(int fd, const void *buf, size_t len)
{
	const char *p = buf;
	ssize_t w;

	while (len > 0) {
		if ((w = write(fd, p, len)) < 0) {
			if (errno == EINTR)
				continue;
			return -1;
		}
		p += w;
		len -= (size_t)w;
	}
	return 0;
}

static int
read_all(int fd, void *buf, size_t len)
{
	char *p = buf;
	ssize_t r;

	while (len > 0) {
		if ((r = read(fd, p, len)) <= 0) {
			if (r < 0 && errno == EINTR)
				continue;
			return -1;
		}
		p += r;
		len -= (size_t)r;
	}
	return 0;
}

/*
 * W_POSTFIX: write what is buffered. The first write of a burst (mc->judge:
 * smtpd's envelope, cleanup's content) is judged when it is smaller than
 * one segment (MSS): data the kernel still holds unsent right after it
 * (SIOCOUTQNSD) waits for the milter's ACK of our earlier small segment,
 * Nagle; on loopback nothing else holds back so little. Larger writes may
 * also wait for the milter's receive window, and are not judged.
 */
static int
flush_out(struct mconn *mc)
{
	int unsent = 0, small = mc->olen < mc->mss;

	if (mc->olen == 0)
		return 0;
	if (write_all(mc->fd, mc->obuf, mc->olen) != 0)
		return -1;
	mc->olen = 0;
	if (mc->judge && small && ioctl(mc->fd, SIOCOUTQNSD, &unsent) == 0 &&
	    unsent > 0)
		mc->held++;
	mc->judge = 0;
	return 0;
}

/* W_POSTFIX: a packet into the buffer; written when it passes 64 KB. */
static int
buffer_cmd(struct mconn *mc, const unsigned char *hdr, const void *data,
    size_t len)
{
	if (mc->olen + 5 + len > mc->ocap) {
		mc->ocap = (mc->olen + 5 + len) * 2;
		mc->obuf = xrealloc(mc->obuf, mc->ocap);
	}
	memcpy(mc->obuf + mc->olen, hdr, 5);
	if (len > 0)
		memcpy(mc->obuf + mc->olen + 5, data, len);
	mc->olen += 5 + len;
	return mc->olen > 65536 ? flush_out(mc) : 0;
}

/* One packet: length (command + data), command, data. */
int
send_cmd(struct mconn *mc, char cmd, const void *data, size_t len)
{
	unsigned char hdr[5];
	uint32_t n = htonl((uint32_t)len + 1);

	memcpy(hdr, &n, 4);
	hdr[4] = (unsigned char)cmd;
	if (mc->writes == W_POSTFIX)
		return buffer_cmd(mc, hdr, data, len);
	if (len < 4096) {
		char small[4096 + 5];
		memcpy(small, hdr, 5);
		if (len > 0)
			memcpy(small + 5, data, len);
		return write_all(mc->fd, small, len + 5);
	}
	if (write_all(mc->fd, hdr, 5) != 0)
		return -1;
	return write_all(mc->fd, data, len);
}

/* Read one reply packet into mc->rbuf; *cmd and *len set. */
static int
read_reply(struct mconn *mc, char *cmd, size_t *len)
{
	uint32_t n;

	/* As Postfix's VSTREAM: what is buffered goes before a read. */
	if (flush_out(mc) != 0 || read_all(mc->fd, &n, 4) != 0)
		return -1;
	n = ntohl(n);
	if (n == 0 || n > MAXREPLY)
		return -1;
	if (mc->rcap < n + 1)
		mc->rbuf = xrealloc(mc->rbuf, mc->rcap = n + 1);
	if (read_all(mc->fd, mc->rbuf, n) != 0)
		return -1;
	*cmd = mc->rbuf[0];
	*len = n - 1;
	memmove(mc->rbuf, mc->rbuf + 1, n - 1);
	mc->rbuf[n - 1] = '\0';
	return 0;
}

/* A growing packet body. */
struct pkt {
	char *p;
	size_t len, cap;
};

static void
pkt_add(struct pkt *k, const void *data, size_t len)
{
	if (k->len + len > k->cap) {
		k->cap = (k->len + len) * 2 + 64;
		k->p = xrealloc(k->p, k->cap);
	}
	memcpy(k->p + k->len, data, len);
	k->len += len;
}

static void
pkt_str(struct pkt *k, const char *s)
{
	pkt_add(k, s, strlen(s) + 1);
}

/* ---- macros ---- */

/* Is macro name (e.g. "{client_addr}" or "j") in the milter's list? */
static int
macro_wanted(const char *list, const char *name)
{
	char bare[64], tok[64];
	const char *p = list;
	size_t n;

	if (list == NULL)
		return 1;
	snprintf(bare, sizeof(bare), "%s", name);
	if (bare[0] == '{' && (n = strlen(bare)) > 2 && bare[n - 1] == '}') {
		memmove(bare, bare + 1, n - 2);
		bare[n - 2] = '\0';
	}
	while (*p != '\0') {
		while (*p == ' ' || *p == ',')
			p++;
		for (n = 0; p[n] != '\0' && p[n] != ' ' && p[n] != ','; n++)
			;
		if (n > 0 && n < sizeof(tok)) {
			memcpy(tok, p, n);
			tok[n] = '\0';
			if (strcmp(tok, name) == 0 || strcmp(tok, bare) == 0 ||
			    (tok[0] == '{' && n > 2 && strncmp(tok + 1, bare, n - 2) == 0 &&
			    bare[n - 2] == '\0'))
				return 1;
		}
		p += n;
	}
	return 0;
}

/* SMFIC_MACRO for the command cmd, pairs name, value, ..., NULL. */
static int
send_macros(struct mconn *mc, char cmd, int stage, ...)
{
	struct pkt k = { NULL, 0, 0 };
	const char *name, *value;
	va_list ap;
	int rc, any = 0;

	pkt_add(&k, &cmd, 1);
	va_start(ap, stage);
	while ((name = va_arg(ap, const char *)) != NULL) {
		value = va_arg(ap, const char *);
		if (value == NULL || !macro_wanted(mc->symlist[stage], name))
			continue;
		pkt_str(&k, name);
		pkt_str(&k, value);
		any = 1;
	}
	va_end(ap);
	rc = any ? send_cmd(mc, 'D', k.p, k.len) : 0;
	free(k.p);
	return rc;
}

/* ---- steps ---- */

enum step { S_CONT, S_FINAL, S_SKIP, S_ERR };

/* Record a final reply (r, t, y, d, a) into r. */
static void
final_reply(struct result *r, char cmd, const char *data)
{
	switch (cmd) {
	case 'a':
		snprintf(r->action, sizeof(r->action), "accept");
		break;
	case 'r':
		snprintf(r->action, sizeof(r->action), "reject");
		break;
	case 't':
		snprintf(r->action, sizeof(r->action), "tempfail");
		break;
	case 'd':
		snprintf(r->action, sizeof(r->action), "discard");
		break;
	case 'y':
		snprintf(r->reply, sizeof(r->reply), "%s", data);
		snprintf(r->action, sizeof(r->action), "%s",
		    data[0] == '4' ? "tempfail" : data[0] == '5' ? "reject" :
		    "accept");
		break;
	}
}

static void
record_mod(struct result *r, struct mconn *mc, char cmd, size_t len)
{
	const char *p = mc->rbuf;
	struct mod *m;
	uint32_t idx = 0;
	size_t nl;

	if (r->nmods == MAXMODS)
		return;
	m = &r->mods[r->nmods];
	if (cmd == 'i' || cmd == 'm') {
		if (len < 4)
			return;
		memcpy(&idx, p, 4);
		idx = ntohl(idx);
		p += 4;
		len -= 4;
	}
	nl = strnlen(p, len);
	if (nl >= len)
		return;
	m->kind = cmd;
	m->idx = idx;
	m->name = xstrdup(p);
	m->value = xstrdup(p + nl + 1 < p + len ? p + nl + 1 : "");
	r->nmods++;
}

/*
 * Wait for the reply to a step. At EOM (eom set) modifications come first
 * and 'c' is final too.
 */
static enum step
await(struct mconn *mc, struct result *r, int eom)
{
	size_t len;
	char cmd;
	int i;

	for (i = 0; i < 100000; i++) {
		if (read_reply(mc, &cmd, &len) != 0) {
			seterr(r, "reading reply: %s", errno ? strerror(errno) : "closed");
			return S_ERR;
		}
		switch (cmd) {
		case 'c':
			if (eom)
				snprintf(r->action, sizeof(r->action), "accept");
			return eom ? S_FINAL : S_CONT;
		case 'p':
			continue;
		case 's':
			return S_SKIP;
		case 'a': case 'r': case 't': case 'd': case 'y':
			final_reply(r, cmd, mc->rbuf);
			return S_FINAL;
		case 'h': case 'i': case 'm':
			if (eom) {
				record_mod(r, mc, cmd, len);
				continue;
			}
			break;
		case 'q':
			if (eom) {
				if (r->nmods < MAXMODS) {
					r->mods[r->nmods].kind = 'q';
					r->mods[r->nmods].idx = 0;
					r->mods[r->nmods].name = xstrdup("quarantine");
					r->mods[r->nmods].value = xstrdup(mc->rbuf);
					r->nmods++;
				}
				continue;
			}
			break;
		case '+': case '-': case '2': case 'b': case 'e':
			if (eom)
				continue;
			break;
		}
		seterr(r, "unexpected reply '%c' (eom=%d)", cmd, eom);
		return S_ERR;
	}
	seterr(r, "too many replies");
	return S_ERR;
}

/* Send a step unless skipped; wait for its reply unless no-reply. */
static enum step
step(struct mconn *mc, struct result *r, char cmd, const void *data,
    size_t len, uint32_t noflag, uint32_t nrflag)
{
	if (noflag != 0 && (mc->pflags & noflag) != 0)
		return S_CONT;
	if (send_cmd(mc, cmd, data, len) != 0) {
		seterr(r, "sending '%c': %s", cmd, strerror(errno));
		return S_ERR;
	}
	if (nrflag != 0 && (mc->pflags & nrflag) != 0)
		return S_CONT;
	return await(mc, r, 0);
}

static int
parse_optneg(struct mconn *mc, size_t len)
{
	const char *p = mc->rbuf, *end = mc->rbuf + len;
	uint32_t v[3], stage;
	size_t nl;

	if (len < 12)
		return -1;
	memcpy(v, p, 12);
	mc->version = ntohl(v[0]);
	mc->actions = ntohl(v[1]);
	mc->pflags = ntohl(v[2]);
	for (p += 12; p + 4 < end; p += nl + 1) {
		memcpy(&stage, p, 4);
		stage = ntohl(stage);
		p += 4;
		nl = strnlen(p, (size_t)(end - p));
		if (stage < M_N) {
			free(mc->symlist[stage]);
			mc->symlist[stage] = strndup(p, nl);
		}
	}
	return 0;
}

/* Connect to "unix:/path", "local:/path", "inet:PORT@HOST" or "HOST:PORT". */
static int
dial(const char *spec, struct result *r)
{
	char host[256], *port;
	struct addrinfo hints, *ai;
	struct sockaddr_un sun;
	int fd;

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		memset(&sun, 0, sizeof(sun));
		sun.sun_family = AF_UNIX;
		snprintf(sun.sun_path, sizeof(sun.sun_path), "%s",
		    strchr(spec, ':') + 1);
		if ((fd = socket(AF_UNIX, SOCK_STREAM, 0)) >= 0 &&
		    connect(fd, (struct sockaddr *)&sun, sizeof(sun)) == 0)
			return fd;
		seterr(r, "connect %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		return -1;
	}
	if (strncmp(spec, "inet:", 5) == 0 && strchr(spec, '@') != NULL) {
		snprintf(host, sizeof(host), "%s", strchr(spec, '@') + 1);
		port = strndup(spec + 5, (size_t)(strchr(spec, '@') - spec - 5));
	} else {
		snprintf(host, sizeof(host), "%s", spec);
		if (strrchr(host, ':') == NULL)
			return seterr(r, "bad milter %s", spec), -1;
		*strrchr(host, ':') = '\0';
		port = strdup(host + strlen(host) + 1);
	}
	memset(&hints, 0, sizeof(hints));
	hints.ai_socktype = SOCK_STREAM;
	if (port == NULL || getaddrinfo(host, port, &hints, &ai) != 0) {
		free(port);
		return seterr(r, "cannot resolve %s", spec), -1;
	}
	free(port);
	fd = socket(ai->ai_family, SOCK_STREAM, 0);
	if (fd < 0 || connect(fd, ai->ai_addr, ai->ai_addrlen) != 0) {
		seterr(r, "connect %s: %s", spec, strerror(errno));
		if (fd >= 0)
			close(fd);
		fd = -1;
	}
	freeaddrinfo(ai);
	return fd;
}

int
mconn_open(struct mconn *mc, const char *spec, enum writes w, double timeout,
    struct result *r)
{
	struct timeval tv;
	uint32_t v[3];
	socklen_t sl = sizeof(int);
	size_t len;
	char cmd;
	int one = 1, dom = 0, mss = 0;

	memset(mc, 0, sizeof(*mc));
	mc->writes = w;
	if ((mc->fd = dial(spec, r)) < 0)
		return -1;
	/* mss stays 0 on a unix socket: no write is judged there. */
	if (getsockopt(mc->fd, SOL_SOCKET, SO_DOMAIN, &dom, &sl) == 0 &&
	    dom != AF_UNIX && getsockopt(mc->fd, IPPROTO_TCP, TCP_MAXSEG,
	    &mss, &sl) == 0 && mss > 0)
		mc->mss = (size_t)mss;
	tv.tv_sec = (time_t)timeout;
	tv.tv_usec = (suseconds_t)((timeout - (double)tv.tv_sec) * 1e6);
	if (setsockopt(mc->fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv)) != 0 ||
	    setsockopt(mc->fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv)) != 0)
		return seterr(r, "setsockopt: %s", strerror(errno)), -1;
	/* Postfix sets no TCP options on milter sockets: W_POSTFIX neither.
	 * W_EACH's many small writes must not wait (Nagle). */
	if (w == W_EACH)
		(void)setsockopt(mc->fd, IPPROTO_TCP, TCP_NODELAY, &one,
		    sizeof(one));
	v[0] = htonl(6);
	v[1] = htonl(A_MTA_OFFERS);
	v[2] = htonl(P_MTA_OFFERS);
	if (send_cmd(mc, 'O', v, sizeof(v)) != 0 ||
	    read_reply(mc, &cmd, &len) != 0 || cmd != 'O' ||
	    parse_optneg(mc, len) != 0)
		return seterr(r, "option negotiation with %s failed", spec), -1;
	if ((mc->pflags & ~(uint32_t)P_MTA_OFFERS & 0xffffff) != 0)
		return seterr(r, "%s wants protocol flags %#x we did not offer",
		    spec, mc->pflags), -1;
	return 0;
}

void
mconn_close(struct mconn *mc)
{
	int i;

	if (mc->fd >= 0) {
		if (send_cmd(mc, 'Q', NULL, 0) == 0)
			(void)flush_out(mc);
		close(mc->fd);
	}
	for (i = 0; i < M_N; i++)
		free(mc->symlist[i]);
	free(mc->rbuf);
	free(mc->obuf);
	mc->fd = -1;
}

/* CONNECT and HELO for the session of m. */
int
session_start(struct mconn *mc, const struct msg *m, struct result *r)
{
	struct pkt k = { NULL, 0, 0 };
	uint16_t port = htons(40000);
	enum step s;

	if (send_macros(mc, 'C', M_CONNECT, "j", "relay.bench.test",
	    "{daemon_name}", "smtpd", "v", "Postfix 3.7.11", "_",
	    "unknown [bench]", "{client_addr}", m->ip, "{client_name}", "unknown",
	    "{daemon_addr}", "127.0.0.1", (char *)NULL) != 0)
		return seterr(r, "macro: %s", strerror(errno)), -1;
	pkt_str(&k, "unknown");
	pkt_add(&k, strchr(m->ip, ':') != NULL ? "6" : "4", 1);
	pkt_add(&k, &port, 2);
	pkt_str(&k, m->ip);
	s = step(mc, r, 'C', k.p, k.len, P_NOCONNECT, P_NR_CONN);
	free(k.p);
	if (s != S_CONT)
		return -1;
	if (send_macros(mc, 'H', M_HELO, (char *)NULL) != 0)
		return -1;
	return step(mc, r, 'H', m->helo, strlen(m->helo) + 1, P_NOHELO,
	    P_NR_HELO) == S_CONT ? 0 : -1;
}

static void
hlist_apply(struct hlist *hl, const struct result *r, size_t from)
{
	size_t i, j, seen;

	for (i = from; i < r->nmods; i++) {
		const struct mod *m = &r->mods[i];
		size_t at = m->kind == 'i' ? (m->idx < hl->n ? m->idx : hl->n) : hl->n;
		if (m->kind == 'm') {
			for (j = 0, seen = 0; j < hl->n; j++)
				if (strcasecmp(hl->h[j].name, m->name) == 0 &&
				    ++seen == (m->idx ? m->idx : 1))
					break;
			if (j < hl->n && m->value[0] == '\0') {
				memmove(&hl->h[j], &hl->h[j + 1],
				    (hl->n - j - 1) * sizeof(*hl->h));
				hl->n--;
			} else if (j < hl->n)
				hl->h[j].value = m->value;
			continue;
		}
		if (m->kind != 'h' && m->kind != 'i')
			continue;
		hl->h = xrealloc(hl->h, (hl->n + 1) * sizeof(*hl->h));
		memmove(&hl->h[at + 1], &hl->h[at], (hl->n - at) * sizeof(*hl->h));
		hl->h[at].name = m->name;
		hl->h[at].value = m->value;
		hl->n++;
	}
}

static enum step
send_headers(struct mconn *mc, const struct hlist *hl, struct result *r)
{
	struct pkt k = { NULL, 0, 0 };
	enum step s = S_CONT;
	const char *v;
	size_t i;

	for (i = 0; i < hl->n && s == S_CONT; i++) {
		v = hl->h[i].value;
		if ((mc->pflags & P_HDR_LEADSPC) == 0)
			while (*v == ' ' || *v == '\t')
				v++;
		k.len = 0;
		pkt_str(&k, hl->h[i].name);
		pkt_str(&k, v);
		s = step(mc, r, 'L', k.p, k.len, P_NOHDRS, P_NR_HDR);
	}
	free(k.p);
	return s;
}

static enum step
send_body(struct mconn *mc, const struct msg *m, struct result *r)
{
	size_t off, n;
	enum step s;

	if (mc->pflags & P_NOBODY)
		return S_CONT;
	for (off = 0; off < m->bodylen; off += n) {
		n = m->bodylen - off > CHUNK ? CHUNK : m->bodylen - off;
		s = step(mc, r, 'B', m->body + off, n, P_NOBODY, P_NR_BODY);
		if (s == S_SKIP)
			return S_CONT;
		if (s != S_CONT)
			return s;
	}
	return S_CONT;
}

/* The envelope steps: MAIL, RCPT, DATA. */
static enum step
send_envelope(struct mconn *mc, const struct msg *m, struct result *r)
{
	char addr[1024];
	enum step s;

	snprintf(addr, sizeof(addr), "<%s>", m->mail_from);
	if (send_macros(mc, 'M', M_ENVFROM, "i", m->id, "{mail_addr}",
	    m->mail_from, "{mail_host}", "", "{mail_mailer}", "smtp",
	    (char *)NULL) != 0)
		return S_ERR;
	if ((s = step(mc, r, 'M', addr, strlen(addr) + 1, P_NOMAIL,
	    P_NR_MAIL)) != S_CONT)
		return s;
	snprintf(addr, sizeof(addr), "<%s>", m->rcpt);
	if (send_macros(mc, 'R', M_ENVRCPT, "i", m->id, "{rcpt_addr}", m->rcpt,
	    "{rcpt_host}", "", "{rcpt_mailer}", "virtual", (char *)NULL) != 0)
		return S_ERR;
	if ((s = step(mc, r, 'R', addr, strlen(addr) + 1, P_NORCPT,
	    P_NR_RCPT)) != S_CONT)
		return s;
	if (mc->version < 4)
		return S_CONT;
	if (send_macros(mc, 'T', M_DATA, "i", m->id, (char *)NULL) != 0)
		return S_ERR;
	return step(mc, r, 'T', NULL, 0, P_NODATA, P_NR_DATA);
}

/* One message through one milter; S_FINAL when it ended the message. */
static enum step
transaction(struct mconn *mc, const struct msg *m, const struct hlist *hl,
    struct result *r)
{
	enum step s;

	mc->judge = 1;
	if ((s = send_envelope(mc, m, r)) != S_CONT)
		return s;
	/* Postfix's smtpd(8) hands the milter socket to cleanup(8) here,
	 * flushing what it has buffered; cleanup writes the content. */
	if (flush_out(mc) != 0) {
		seterr(r, "writing the envelope: %s", strerror(errno));
		return S_ERR;
	}
	mc->judge = 1;
	if ((s = send_headers(mc, hl, r)) != S_CONT)
		return s;
	if (send_macros(mc, 'N', M_EOH, "i", m->id, (char *)NULL) != 0)
		return S_ERR;
	if ((s = step(mc, r, 'N', NULL, 0, P_NOEOH, P_NR_EOH)) != S_CONT)
		return s;
	if ((s = send_body(mc, m, r)) != S_CONT)
		return s;
	if (send_macros(mc, 'E', M_EOM, "i", m->id, (char *)NULL) != 0)
		return S_ERR;
	if (send_cmd(mc, 'E', NULL, 0) != 0) {
		seterr(r, "sending EOM: %s", strerror(errno));
		return S_ERR;
	}
	return await(mc, r, 1);
}

/* A message through the chain; the result is the chain's. */
int
run_message(struct mconn *mcs, size_t nm, const struct msg *m,
    struct result *r)
{
	struct hlist hl;
	size_t i, before;
	unsigned long held;
	enum step s;
	double t0 = now();

	hl.n = m->nh;
	hl.h = xmalloc(m->nh * sizeof(*hl.h));
	memcpy(hl.h, m->h, m->nh * sizeof(*hl.h));
	snprintf(r->action, sizeof(r->action), "accept");
	for (i = 0; i < nm; i++) {
		before = r->nmods;
		r->action[0] = '\0';
		held = mcs[i].held;
		s = transaction(&mcs[i], m, &hl, r);
		r->held += mcs[i].held - held;
		if (s == S_ERR || r->action[0] == '\0') {
			seterr(r, "milter %zu: no final reply", i + 1);
			free(hl.h);
			return -1;
		}
		if (strcmp(r->action, "accept") != 0)
			break;
		hlist_apply(&hl, r, before);
	}
	free(hl.h);
	for (i = 0; i < r->nmods; i++)
		if (r->mods[i].kind == 'q' && strcmp(r->action, "accept") == 0)
			snprintf(r->action, sizeof(r->action), "quarantine");
	r->lat_us = (now() - t0) * 1e6;
	r->t_mail = t0;
	return 0;
}
