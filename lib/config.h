/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config: authmilter.conf, "Keyword value" lines.
 *
 * One table (config.c) lists every option once: its keyword, type, default
 * and place in struct am_config. The table drives the parser, the defaults,
 * am_config_dump() and the test that every keyword is documented in
 * conf/authmilter.conf and man/authmilter.conf.5.
 *
 * Syntax: one option per line, the keyword, white space, the value (the rest
 * of the line, white space trimmed). Empty lines and lines whose first
 * non-blank character is '#' are ignored; there are no comments after a
 * value, and a '#' after white space inside one is refused (it would
 * otherwise silently become part of the value). Keywords are
 * case-insensitive; each may appear once. Errors read
 *   authmilter.conf:12: DNSTimeout: "5x" is not a duration
 *
 * A loaded struct am_config is never changed afterwards, so any number of
 * threads may read it; a reload builds a new one.
 */
#ifndef AM_CONFIG_H
#define AM_CONFIG_H

#include <stddef.h>

#include "buf.h"
#include "net.h"

enum am_conf_type {
	AM_CONF_STRING,    /* any text */
	AM_CONF_BOOL,      /* yes/no, true/false, on/off, 1/0 */
	AM_CONF_UINT,      /* decimal, 0..UINT_MAX (range in the row) */
	AM_CONF_DURATION,  /* 500ms, 5s, 2m, 1h; bare number = seconds;
	                      stored as milliseconds */
	AM_CONF_ENUM,      /* one of the row's words, stored as its index */
	AM_CONF_STRLIST,   /* items separated by commas and/or white space */
	AM_CONF_CIDRLIST,  /* IP addresses and networks */
	AM_CONF_SOCKET,    /* unix:/path, local:/path, inet:port[@host],
	                      inet6:port[@host] */
	AM_CONF_PATH,      /* a file name (absolute, or relative to cwd) */
	AM_CONF_HOSTLIST,  /* IP addresses, networks and host names */
	AM_CONF_SERVERS,   /* name servers: IP, IP@port, [IPv6]@port */
	AM_CONF_MODE,      /* file mode in octal, 0000..0777 */
	AM_CONF_DOMAIN,    /* a domain name in ASCII (A-labels), or empty */
	AM_CONF_INET,      /* "" (off), or inet:port[@host], inet6:port[@host]
	                      (host may be [IPv6]) */
};

struct am_strlist {
	char **v;
	size_t n;
};

/* Addresses/networks and host names, as DMARCTrustedForwarders takes. */
struct am_hostlist {
	struct am_cidrlist nets;
	struct am_strlist names;    /* lower case */
};

enum am_dmarc_mode { AM_DMARCMODE_OFF, AM_DMARCMODE_RFC9989, AM_DMARCMODE_RFC7489 };
enum am_spf_mode { AM_SPFMODE_OFF, AM_SPFMODE_MAILFROM, AM_SPFMODE_HELO_MAILFROM };
enum am_log_format { AM_LOGFORMAT_TEXT, AM_LOGFORMAT_JSON };
enum am_log_level { AM_LOGLEVEL_ERROR, AM_LOGLEVEL_WARNING, AM_LOGLEVEL_INFO,
	AM_LOGLEVEL_DEBUG };

struct am_config {
	char *path;                 /* file it was read from, or "(defaults)" */
	/* daemon */
	char *socket;
	unsigned socket_mode;       /* unix socket: chmod to this */
	char *socket_group;         /* unix socket: chgrp to this ("": none) */
	char *stats_socket;         /* "" = no metrics (AM_CONF_INET) */
	int log_format;             /* enum am_log_format */
	char *pidfile;
	char *userid;
	int syslog;
	int syslog_facility;        /* index: mail daemon user local0..7 */
	int log_level;              /* enum am_log_level */
	/* identity */
	char *authserv_id;          /* "" = MTA's j macro, else host name */
	struct am_strlist authserv_aliases;
	/* dns */
	struct am_strlist dns_servers;
	unsigned dns_timeout_ms;
	unsigned dns_retries;
	unsigned dns_cache_size;
	unsigned lookup_threads;
	unsigned message_timeout_ms; /* end of message to verdict, at most */
	/* who is judged */
	struct am_cidrlist trusted_networks;
	int skip_authenticated;
	/* limits */
	unsigned max_headers;
	unsigned max_header_bytes;
	/* spf */
	int spf_mode;               /* enum am_spf_mode */
	unsigned spf_timeout_ms;    /* one check_host() (RFC 7208 s.4.6.4) */
	/* dkim */
	int dkim_mode;
	unsigned dkim_min_key_bits;
	unsigned dkim_max_signatures;
	/* dmarc */
	int dmarc_mode;             /* enum am_dmarc_mode */
	int dmarc_enforce;
	char *dmarc_reject_text;    /* %d: the From domain */
	int dmarc_reject_multi_from;
	struct am_hostlist dmarc_trusted_forwarders;
	struct am_strlist dmarc_ignore_domains;  /* lower case */
	int tempfail_on_dns_error;
	char *public_suffix_list;
	/* arc */
	int arc_mode;
	char *arc_seal_domain;
	char *arc_seal_selector;
	char *arc_seal_key_file;
	struct am_strlist arc_trusted_sealers;
	struct am_strlist ignore_recipients;  /* "postmaster@", "@dom", "a@dom" */
	int forged_headers;                   /* enum am_forged */
	/* reports (RFC 9990): off until report_store and identity are set */
	char *report_store;         /* "sqlite:/path"; "" = off */
	char *report_org_name;
	char *report_email;
	char *report_submitter;     /* "" = the domain of report_email */
	int report_period;          /* enum am_reportperiod */
	unsigned report_retention;  /* days */
	char *report_sendmail;      /* command line, split at white space */
	char *report_smtp_host;     /* host[:port], [addr][:port]; "" = sendmail */
	unsigned report_smtp_timeout_ms;  /* per SMTP step */
	/* failure reports (RFC 9991): off unless failure_reports */
	int failure_reports;        /* record them (the daemon) */
	unsigned failure_report_rate; /* sent per destination per hour */
};

enum am_reportperiod { AM_REPORTPERIOD_DAY, AM_REPORTPERIOD_HOUR };

/* 1 when the list names the address (if given) or the host name. */
int am_hostlist_match(const struct am_hostlist *l, const struct am_addr *a,
    const char *name);
/* 1 when domain is in the list, compared as domain names (am_idna_equal). */
int am_strlist_has(const struct am_strlist *l, const char *domain);

/* One row of the option table (exposed for the documentation test). */
struct am_conf_opt {
	const char *name;
	enum am_conf_type type;
	const char *def;            /* default, parsed like a file value */
	size_t off;                 /* offsetof(struct am_config, field) */
	const char *const *words;   /* AM_CONF_ENUM: NULL-terminated list */
	unsigned min, max;          /* AM_CONF_UINT range; DURATION in ms */
};

/* ForgedHeaders: what happens to A-R fields that claim our id. */
enum am_forged { AM_FORGED_REMOVE, AM_FORGED_RENAME };

/*
 * 1 when addr (a recipient, with or without <>) matches an IgnoreRecipients
 * entry: "postmaster" or "postmaster@" (that local part at any domain),
 * "@example.com" (every address there) or "abuse@example.com"; ASCII case
 * ignored.
 */
int am_rcpt_ignored(const struct am_strlist *l, const char *addr);

/* The option table, terminated by a row with name NULL. */
const struct am_conf_opt *am_config_options(void);

/* A configuration holding every default. NULL only when out of memory. */
struct am_config *am_config_new(void);
/*
 * Read path into a new configuration (defaults for absent keywords).
 * NULL with why ("path:line: Keyword: ...") on any error, and when path
 * is world-writable (any local user could set TrustedNetworks).
 */
struct am_config *am_config_load(const char *path, struct am_buf *why);
/*
 * Set one option by keyword from text, as if it stood at file:line.
 * 0, or -1 with why. Used by am_config_load() and by tests.
 */
int am_config_set(struct am_config *c, const char *keyword, const char *value,
    const char *file, unsigned line, struct am_buf *why);
/* Free c and everything it owns; returns NULL. NULL is a no-op. */
struct am_config *am_config_free(struct am_config *c);
/* Write every option with its value, "Keyword value" lines, into out. */
void am_config_dump(const struct am_config *c, struct am_buf *out);

/* Check a milter socket specification; 0, or -1 with why. */
int am_config_socket_check(const char *spec, struct am_buf *why);

#endif
