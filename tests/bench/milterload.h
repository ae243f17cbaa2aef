/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * milterload.h: what the two halves of milterload share. milterload.c has
 * the corpus, the threads and the report; milterwire.c speaks the milter
 * protocol (version 6, the MTA side): packets, macros, option negotiation,
 * the steps of a session and of a message, a chain of milters. See
 * milterload.c for the whole contract.
 */
#ifndef MILTERLOAD_H
#define MILTERLOAD_H

#include <stddef.h>
#include <stdint.h>

#define MAXMILTERS 4
#define CHUNK 65535
#define MAXREPLY (1024 * 1024)
#define MAXMODS 32

/* Protocol flags (SMFIP_*) and the steps they concern. */
#define P_NOCONNECT 0x1
#define P_NOHELO 0x2
#define P_NOMAIL 0x4
#define P_NORCPT 0x8
#define P_NOBODY 0x10
#define P_NOHDRS 0x20
#define P_NOEOH 0x40
#define P_NR_HDR 0x80
#define P_NOUNKNOWN 0x100
#define P_NODATA 0x200
#define P_SKIP 0x400
#define P_RCPT_REJ 0x800
#define P_NR_CONN 0x1000
#define P_NR_HELO 0x2000
#define P_NR_MAIL 0x4000
#define P_NR_RCPT 0x8000
#define P_NR_DATA 0x10000
#define P_NR_UNKN 0x20000
#define P_NR_EOH 0x40000
#define P_NR_BODY 0x80000
#define P_HDR_LEADSPC 0x100000
#define P_MTA_OFFERS 0x1fffff
#define A_MTA_OFFERS 0x1ff

/* Macro stages of the OPTNEG symbol lists (SMFIM_*). */
enum { M_CONNECT, M_HELO, M_ENVFROM, M_ENVRCPT, M_DATA, M_EOM, M_EOH, M_N };

struct hdr {
	const char *name;
	const char *value;       /* with its leading space */
};

struct msg {
	char *id, *session, *ip, *helo, *mail_from, *rcpt;
	char *raw;               /* whole file */
	struct hdr *h;
	size_t nh;
	const char *body;
	size_t bodylen;
};

struct mod {
	char kind;               /* 'h' add, 'i' insert, 'm' change */
	unsigned idx;
	char *name, *value;
};

struct result {
	char action[16];         /* accept reject tempfail discard quarantine */
	char reply[256];
	struct mod mods[MAXMODS];
	size_t nmods;
	char err[160];
	double lat_us;
	double t_mail;           /* now() at MAIL: places it among DNS logs */
	unsigned long held;      /* writes of this message held by Nagle */
};

/* How the MTA side writes (--writes). */
enum writes {
	W_EACH,                  /* one write per packet, TCP_NODELAY */
	W_POSTFIX                /* as Postfix: buffered, Nagle on (milterload.c) */
};

struct mconn {
	int fd;
	enum writes writes;
	size_t mss;              /* TCP: the segment size; 0 on unix */
	uint32_t version, actions, pflags;
	char *symlist[M_N];      /* NULL: send all macros of the stage */
	char *rbuf;
	size_t rcap;
	char *obuf;              /* W_POSTFIX: packets not yet written */
	size_t olen, ocap;
	int judge;               /* the next write starts a burst */
	unsigned long held;      /* such writes the kernel kept back (Nagle) */
};

/* The header list a milter sees: the message's, with earlier changes. */
struct hlist {
	struct hdr *h;
	size_t n;
};

/* helpers (milterload.c) */
double now(void);
void *xmalloc(size_t n);
void *xrealloc(void *p, size_t n);
char *xstrdup(const char *s);
/* Set r's error text unless it has one. */
void seterr(struct result *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* protocol (milterwire.c) */
/* One packet: length, command, data. 0 or -1 (errno). */
int send_cmd(struct mconn *mc, char cmd, const void *data, size_t len);
/* Connect to spec, writing as w says, and negotiate options; -1 with
 * r's error set. */
int mconn_open(struct mconn *mc, const char *spec, enum writes w,
    double timeout, struct result *r);
/* QUIT, close, free. */
void mconn_close(struct mconn *mc);
/* CONNECT and HELO for the session of m; -1 with r's error set. */
int session_start(struct mconn *mc, const struct msg *m, struct result *r);
/* Message m through the nm milters of mcs, as a chain; -1 on error. */
int run_message(struct mconn *mcs, size_t nm, const struct msg *m,
    struct result *r);

#endif
