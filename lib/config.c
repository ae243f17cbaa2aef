/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * config: authmilter.conf, "Keyword value" lines. See config.h.
 *
 * The table below is the only place an option is declared. A row says its
 * keyword, its type, its default and where it lives; parsing, defaults and
 * dumping all walk it.
 */
#include <sys/stat.h>

#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "amconfig.h"
#include "config.h"
#include "idna.h"

#define OFF(f) offsetof(struct am_config, f)

static int parse_uint(const char *s, unsigned long long *out);

static const char *const bool_words[] = { "no", "yes", NULL };
static const char *const spf_words[] = { "off", "mailfrom", "helo+mailfrom", NULL };
static const char *const log_words[] = { "error", "warning", "info", "debug", NULL };
static const char *const onoff_words[] = { "off", "on", NULL };
static const char *const dmarc_words[] = { "off", "rfc9989", "rfc7489", NULL };
static const char *const logformat_words[] = { "text", "json", NULL };
static const char *const facility_words[] = { "mail", "daemon", "user", "local0",
	"local1", "local2", "local3", "local4", "local5", "local6", "local7", NULL };

static const char *const forged_words[] = { "remove", "rename", NULL };
static const char *const period_words[] = { "day", "hour", NULL };

static const struct am_conf_opt options[] = {
	{ "Socket", AM_CONF_SOCKET, "inet:8891@127.0.0.1", OFF(socket), NULL, 0, 0 },
	{ "SocketMode", AM_CONF_MODE, "0660", OFF(socket_mode), NULL, 0, 0777 },
	{ "SocketGroup", AM_CONF_STRING, "", OFF(socket_group), NULL, 0, 0 },
	{ "PidFile", AM_CONF_PATH, "", OFF(pidfile), NULL, 0, 0 },
	{ "UserID", AM_CONF_STRING, "", OFF(userid), NULL, 0, 0 },
	{ "Syslog", AM_CONF_BOOL, "yes", OFF(syslog), bool_words, 0, 0 },
	{ "SyslogFacility", AM_CONF_ENUM, "mail", OFF(syslog_facility), facility_words, 0, 0 },
	{ "LogLevel", AM_CONF_ENUM, "info", OFF(log_level), log_words, 0, 0 },
	{ "AuthservID", AM_CONF_DOMAIN, "", OFF(authserv_id), NULL, 0, 0 },
	{ "AuthservIDAliases", AM_CONF_STRLIST, "", OFF(authserv_aliases), NULL, 0, 0 },
	{ "DNSServer", AM_CONF_SERVERS, "", OFF(dns_servers), NULL, 0, 0 },
	{ "DNSTimeout", AM_CONF_DURATION, "5s", OFF(dns_timeout_ms), NULL, 100, 60000 },
	{ "DNSRetries", AM_CONF_UINT, "2", OFF(dns_retries), NULL, 1, 10 },
	{ "DNSCacheSize", AM_CONF_UINT, "10000", OFF(dns_cache_size), NULL, 0, 10000000 },
	{ "LookupThreads", AM_CONF_UINT, "8", OFF(lookup_threads), NULL, 0, 256 },
	{ "MessageTimeout", AM_CONF_DURATION, "60s", OFF(message_timeout_ms), NULL, 5000, 240000 },
	{ "TrustedNetworks", AM_CONF_CIDRLIST, "127.0.0.1/32, ::1/128", OFF(trusted_networks), NULL, 0, 0 },
	{ "SkipAuthenticated", AM_CONF_BOOL, "yes", OFF(skip_authenticated), bool_words, 0, 0 },
	{ "MaxHeaders", AM_CONF_UINT, "1000", OFF(max_headers), NULL, 10, 100000 },
	{ "MaxHeaderBytes", AM_CONF_UINT, "262144", OFF(max_header_bytes), NULL, 1024, 67108864 },
	{ "SPFMode", AM_CONF_ENUM, "helo+mailfrom", OFF(spf_mode), spf_words, 0, 0 },
	{ "SPFTimeout", AM_CONF_DURATION, "20s", OFF(spf_timeout_ms), NULL, 20000, 240000 },
	{ "DKIMMode", AM_CONF_ENUM, "on", OFF(dkim_mode), onoff_words, 0, 0 },
	{ "DKIMMinKeyBits", AM_CONF_UINT, "1024", OFF(dkim_min_key_bits), NULL, 512, 16384 },
	{ "DKIMMaxSignatures", AM_CONF_UINT, "10", OFF(dkim_max_signatures), NULL, 1, 100 },
	{ "DMARCMode", AM_CONF_ENUM, "rfc9989", OFF(dmarc_mode), dmarc_words, 0, 0 },
	{ "DMARCEnforce", AM_CONF_BOOL, "no", OFF(dmarc_enforce), bool_words, 0, 0 },
	{ "DMARCRejectText", AM_CONF_STRING, "Rejected by the DMARC policy of %d", OFF(dmarc_reject_text), NULL, 0, 0 },
	{ "DMARCRejectMultiFrom", AM_CONF_BOOL, "yes", OFF(dmarc_reject_multi_from), bool_words, 0, 0 },
	{ "DMARCTrustedForwarders", AM_CONF_HOSTLIST, "", OFF(dmarc_trusted_forwarders), NULL, 0, 0 },
	{ "DMARCIgnoreDomains", AM_CONF_STRLIST, "", OFF(dmarc_ignore_domains), NULL, 0, 0 },
	{ "TempFailOnDNSError", AM_CONF_BOOL, "no", OFF(tempfail_on_dns_error), bool_words, 0, 0 },
	{ "PublicSuffixList", AM_CONF_PATH, AM_DEFAULT_PSL, OFF(public_suffix_list), NULL, 0, 0 },
	{ "ARCMode", AM_CONF_ENUM, "on", OFF(arc_mode), onoff_words, 0, 0 },
	{ "ARCSealDomain", AM_CONF_STRING, "", OFF(arc_seal_domain), NULL, 0, 0 },
	{ "ARCSealSelector", AM_CONF_STRING, "", OFF(arc_seal_selector), NULL, 0, 0 },
	{ "ARCSealKeyFile", AM_CONF_PATH, "", OFF(arc_seal_key_file), NULL, 0, 0 },
	{ "ARCTrustedSealers", AM_CONF_STRLIST, "", OFF(arc_trusted_sealers), NULL, 0, 0 },
	{ "IgnoreRecipients", AM_CONF_STRLIST, "", OFF(ignore_recipients), NULL, 0, 0 },
	{ "ForgedHeaders", AM_CONF_ENUM, "remove", OFF(forged_headers), forged_words, 0, 0 },
	{ "ReportStore", AM_CONF_STRING, "", OFF(report_store), NULL, 0, 0 },
	{ "ReportOrgName", AM_CONF_STRING, "", OFF(report_org_name), NULL, 0, 0 },
	{ "ReportEmail", AM_CONF_STRING, "", OFF(report_email), NULL, 0, 0 },
	{ "ReportSubmitter", AM_CONF_STRING, "", OFF(report_submitter), NULL, 0, 0 },
	{ "ReportPeriod", AM_CONF_ENUM, "day", OFF(report_period), period_words, 0, 0 },
	{ "ReportRetention", AM_CONF_UINT, "30", OFF(report_retention), NULL, 1, 3650 },
	{ "ReportSendmail", AM_CONF_STRING, "/usr/sbin/sendmail -oi", OFF(report_sendmail), NULL, 0, 0 },
	{ "ReportSMTPHost", AM_CONF_STRING, "", OFF(report_smtp_host), NULL, 0, 0 },
	{ "ReportSMTPTimeout", AM_CONF_DURATION, "60s", OFF(report_smtp_timeout_ms), NULL, 1000, 600000 },
	{ "FailureReports", AM_CONF_BOOL, "no", OFF(failure_reports), bool_words, 0, 0 },
	{ "FailureReportRate", AM_CONF_UINT, "10", OFF(failure_report_rate), NULL, 1, 100000 },
	{ "StatsSocket", AM_CONF_INET, "", OFF(stats_socket), NULL, 0, 0 },
	{ "LogFormat", AM_CONF_ENUM, "text", OFF(log_format), logformat_words, 0, 0 },
	{ NULL, 0, NULL, 0, NULL, 0, 0 },
};

const struct am_conf_opt *
am_config_options(void)
{
	return options;
}

static void
strlist_clear(struct am_strlist *l)
{
	size_t i;

	for (i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static int
strlist_parse(struct am_strlist *l, const char *s)
{
	size_t n;
	char **v;

	strlist_clear(l);
	while (*s != '\0') {
		while (*s == ',' || isspace((unsigned char)*s))
			s++;
		if (*s == '\0')
			break;
		n = strcspn(s, ", \t\r\n");
		if ((v = realloc(l->v, (l->n + 1) * sizeof(*v))) == NULL)
			return -1;
		l->v = v;
		if ((l->v[l->n] = strndup(s, n)) == NULL)
			return -1;
		l->n++;
		s += n;
	}
	return 0;
}

/* 1 when s looks like a host name: letters, digits, '-', '.', '_'. */
static int
is_hostname(const char *s)
{
	if (*s == '\0' || strlen(s) > 253)
		return 0;
	for (; *s != '\0'; s++)
		if (!isalnum((unsigned char)*s) && strchr("-._", *s) == NULL)
			return 0;
	return 1;
}

/*
 * 0 when s is a domain name as an authserv-id must be here: RFC 8601
 * s.2.2 allows any value (token or quoted-string), but we compare it as a
 * domain name and write it unquoted, so it is one: labels of letters,
 * digits, '-' and '_', 1 to 63 bytes each, 253 bytes at most, no empty
 * label (a trailing dot is refused too: write the name without it).
 */
static int
domain_check(const char *s, struct am_buf *why)
{
	size_t len = strlen(s), label = 0;
	const char *p;

	if (len > 253) {
		am_buf_setf(why, "\"%.40s...\" is longer than 253 bytes", s);
		return -1;
	}
	for (p = s; *p != '\0'; p++) {
		if (*p == '.') {
			if (label == 0)
				goto empty;
			label = 0;
			continue;
		}
		if (!isalnum((unsigned char)*p) && *p != '-' && *p != '_') {
			am_buf_setf(why, "\"%s\" is not a domain name (%s)", s,
			    isspace((unsigned char)*p) ? "white space in it" :
			    (unsigned char)*p >= 0x80 ? "write U-labels as A-labels, xn--..." :
			    "letters, digits, '-', '_' and dots only");
			return -1;
		}
		if (++label > 63) {
			am_buf_setf(why, "\"%s\": a label is longer than 63 bytes", s);
			return -1;
		}
	}
	if (len == 0 || label > 0)
		return 0;
empty:
	am_buf_setf(why, "\"%s\" is not a domain name (empty label)", s);
	return -1;
}

static void
hostlist_clear(struct am_hostlist *l)
{
	am_cidrlist_clear(&l->nets);
	strlist_clear(&l->names);
}

/* Items that parse as addresses/networks are networks, the rest names. */
static int
hostlist_parse(struct am_hostlist *l, const char *s, struct am_buf *why)
{
	struct am_strlist items = { NULL, 0 };
	struct am_cidr c;
	size_t i, j;
	char **v;
	int r = 0;

	hostlist_clear(l);
	if (strlist_parse(&items, s) != 0) {
		am_buf_setf(why, "out of memory");
		return -1;
	}
	for (i = 0; i < items.n && r == 0; i++) {
		const char *it = items.v[i];
		if (strchr(it, '/') != NULL || strchr(it, ':') != NULL ||
		    am_cidr_parse(&c, it, NULL) == 0) {
			r = am_cidrlist_parse(&l->nets, it, why);
		} else if (!is_hostname(it)) {
			am_buf_setf(why, "\"%s\" is neither an address nor a host name", it);
			r = -1;
		} else if ((v = realloc(l->names.v, (l->names.n + 1) * sizeof(*v))) != NULL) {
			l->names.v = v;
			l->names.v[l->names.n] = strdup(it);
			for (j = 0; l->names.v[l->names.n] != NULL && l->names.v[l->names.n][j]; j++)
				l->names.v[l->names.n][j] = (char)tolower((unsigned char)it[j]);
			l->names.n++;
		}
	}
	strlist_clear(&items);
	return r;
}

int
am_hostlist_match(const struct am_hostlist *l, const struct am_addr *a,
    const char *name)
{
	size_t i;

	if (a != NULL && am_cidrlist_match(&l->nets, a))
		return 1;
	if (name != NULL)
		for (i = 0; i < l->names.n; i++)
			if (strcasecmp(l->names.v[i], name) == 0)
				return 1;
	return 0;
}

int
am_rcpt_ignored(const struct am_strlist *l, const char *addr)
{
	char a[512];
	const char *at;
	size_t i, n, loc;

	while (*addr == '<' || isspace((unsigned char)*addr))
		addr++;
	n = strcspn(addr, ">");
	if (n == 0 || n >= sizeof(a))
		return 0;
	memcpy(a, addr, n);
	a[n] = '\0';
	if ((at = strrchr(a, '@')) == NULL)
		return 0;
	loc = (size_t)(at - a);
	for (i = 0; i < l->n; i++) {
		const char *e = l->v[i], *eat = strrchr(e, '@');
		size_t el = strlen(e);
		if (eat == NULL) {		/* "postmaster": a local part */
			if (el == loc && strncasecmp(e, a, loc) == 0)
				return 1;
		} else if (eat == e) {		/* "@example.com": a domain */
			if (strcasecmp(e + 1, at + 1) == 0)
				return 1;
		} else if (eat[1] == '\0') {	/* "postmaster@": any domain */
			if (el - 1 == loc && strncasecmp(e, a, loc) == 0)
				return 1;
		} else if (strcasecmp(e, a) == 0)	/* an address */
			return 1;
	}
	return 0;
}

int
am_strlist_has(const struct am_strlist *l, const char *domain)
{
	size_t i;

	/* as domain names: any case, U-labels, a trailing dot (RFC 8616) */
	for (i = 0; i < l->n; i++)
		if (am_idna_equal(l->v[i], domain))
			return 1;
	return 0;
}

/* Check one name server: "IP", "IP@port" or "[IPv6]@port". */
static int
server_check(const char *s, struct am_buf *why)
{
	char host[64];
	const char *at = strrchr(s, '@');
	size_t n = at != NULL ? (size_t)(at - s) : strlen(s);
	struct am_addr a;
	unsigned long long port;

	if (n >= sizeof(host))
		goto bad;
	memcpy(host, s, n);
	host[n] = '\0';
	if (n >= 2 && host[0] == '[' && host[n - 1] == ']') {
		memmove(host, host + 1, n - 2);
		host[n - 2] = '\0';
	}
	if (am_addr_parse(&a, host) != 0)
		goto bad;
	if (at != NULL && (parse_uint(at + 1, &port) != 0 || port == 0 || port > 65535)) {
		am_buf_setf(why, "\"%s\": the port must be a number from 1 to 65535", s);
		return -1;
	}
	return 0;
bad:
	am_buf_setf(why, "\"%s\" is not a name server address (IP, IP@port or [IPv6]@port)", s);
	return -1;
}

/* Parse an octal file mode ("660", "0660"); -1 unless 1 to 4 octal digits. */
static int
parse_mode(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;
	size_t n = 0;

	for (; *s >= '0' && *s <= '7' && n < 5; s++, n++)
		v = v * 8 + (unsigned)(*s - '0');
	if (n == 0 || n > 4 || *s != '\0')
		return -1;
	*out = v;
	return 0;
}

/* Parse "500ms", "5s", "2m", "1h", "5" (seconds) into milliseconds. */
static int
parse_duration(const char *s, unsigned long long *ms)
{
	unsigned long long v = 0, mult;
	const char *p = s;

	if (!isdigit((unsigned char)*p))
		return -1;
	for (; isdigit((unsigned char)*p); p++) {
		v = v * 10 + (unsigned)(*p - '0');
		if (v > 100000000ULL)
			return -1;
	}
	if (*p == '\0' || strcmp(p, "s") == 0)
		mult = 1000;
	else if (strcmp(p, "ms") == 0)
		mult = 1;
	else if (strcmp(p, "m") == 0)
		mult = 60000;
	else if (strcmp(p, "h") == 0)
		mult = 3600000;
	else
		return -1;
	*ms = v * mult;
	return 0;
}

static int
parse_uint(const char *s, unsigned long long *out)
{
	unsigned long long v = 0;

	if (*s == '\0')
		return -1;
	for (; *s != '\0'; s++) {
		if (!isdigit((unsigned char)*s))
			return -1;
		v = v * 10 + (unsigned)(*s - '0');
		if (v > UINT_MAX)
			return -1;
	}
	*out = v;
	return 0;
}

static int
parse_word(const char *const *words, const char *s, int *out)
{
	int i;

	for (i = 0; words[i] != NULL; i++)
		if (strcasecmp(words[i], s) == 0) {
			*out = i;
			return 0;
		}
	if (words == bool_words) {
		if (strcasecmp(s, "true") == 0 || strcasecmp(s, "on") == 0 ||
		    strcmp(s, "1") == 0)
			return *out = 1, 0;
		if (strcasecmp(s, "false") == 0 || strcasecmp(s, "off") == 0 ||
		    strcmp(s, "0") == 0)
			return *out = 0, 0;
	}
	return -1;
}

/* "a, b or c" for an error message. */
static void
word_choices(const char *const *words, char *out, size_t len)
{
	size_t i;

	out[0] = '\0';
	for (i = 0; words[i] != NULL; i++) {
		if (i > 0)
			strncat(out, words[i + 1] == NULL ? " or " : ", ",
			    len - strlen(out) - 1);
		strncat(out, words[i], len - strlen(out) - 1);
	}
}

int
am_config_socket_check(const char *spec, struct am_buf *why)
{
	const char *p, *at;
	unsigned long port;
	char *end;

	if (strncmp(spec, "unix:", 5) == 0 || strncmp(spec, "local:", 6) == 0) {
		p = strchr(spec, ':') + 1;
		if (*p != '/') {
			am_buf_setf(why, "\"%s\": a unix socket needs an absolute path", spec);
			return -1;
		}
		return 0;
	}
	if (strncmp(spec, "inet:", 5) == 0)
		p = spec + 5;
	else if (strncmp(spec, "inet6:", 6) == 0)
		p = spec + 6;
	else {
		am_buf_setf(why, "\"%s\" is not a socket (unix:/path, inet:port@host or inet6:port@host)", spec);
		return -1;
	}
	errno = 0;
	port = strtoul(p, &end, 10);
	if (!isdigit((unsigned char)*p) || errno != 0 || port == 0 || port > 65535 ||
	    (*end != '\0' && *end != '@')) {
		am_buf_setf(why, "\"%s\": the port must be a number from 1 to 65535", spec);
		return -1;
	}
	at = strchr(p, '@');
	if (at != NULL && at[1] == '\0') {
		am_buf_setf(why, "\"%s\": empty host after '@'", spec);
		return -1;
	}
	return 0;
}

/* Store value into c according to row o; -1 with why (no prefix) on error. */
static int
store(struct am_config *c, const struct am_conf_opt *o, const char *value,
    struct am_buf *why)
{
	void *field = (char *)c + o->off;
	unsigned long long n;
	char choices[256];
	int w;

	switch (o->type) {
	case AM_CONF_STRING:
	case AM_CONF_PATH:
	case AM_CONF_SOCKET:
	case AM_CONF_DOMAIN:
	case AM_CONF_INET:
		if (o->type == AM_CONF_SOCKET && am_config_socket_check(value, why) != 0)
			return -1;
		if (o->type == AM_CONF_DOMAIN && domain_check(value, why) != 0)
			return -1;
		if (o->type == AM_CONF_INET && *value != '\0' &&
		    (strncmp(value, "inet", 4) != 0 ||
		    am_config_socket_check(value, why) != 0)) {
			if (strncmp(value, "inet", 4) != 0)
				am_buf_setf(why, "\"%s\" is not inet:port@host or inet6:port@host", value);
			return -1;
		}
		free(*(char **)field);
		if ((*(char **)field = strdup(value)) == NULL)
			goto nomem;
		return 0;
	case AM_CONF_BOOL:
	case AM_CONF_ENUM:
		if (parse_word(o->words, value, &w) != 0) {
			word_choices(o->words, choices, sizeof(choices));
			am_buf_setf(why, "\"%s\" is not one of %s", value, choices);
			return -1;
		}
		*(int *)field = w;
		return 0;
	case AM_CONF_UINT:
		if (parse_uint(value, &n) != 0) {
			am_buf_setf(why, "\"%s\" is not a number", value);
			return -1;
		}
		if (n < o->min || n > o->max) {
			am_buf_setf(why, "%s is out of range (%u to %u)", value, o->min, o->max);
			return -1;
		}
		*(unsigned *)field = (unsigned)n;
		return 0;
	case AM_CONF_DURATION:
		if (parse_duration(value, &n) != 0) {
			am_buf_setf(why, "\"%s\" is not a duration (like 500ms, 5s, 2m)", value);
			return -1;
		}
		if (n < o->min || n > o->max) {
			am_buf_setf(why, "%s is out of range (%ums to %ums)", value, o->min, o->max);
			return -1;
		}
		*(unsigned *)field = (unsigned)n;
		return 0;
	case AM_CONF_MODE:
		if (parse_mode(value, &n) != 0 || n > o->max) {
			am_buf_setf(why, "\"%s\" is not a file mode (octal, like 0660)", value);
			return -1;
		}
		*(unsigned *)field = (unsigned)n;
		return 0;
	case AM_CONF_STRLIST:
		if (strlist_parse(field, value) != 0)
			goto nomem;
		return 0;
	case AM_CONF_CIDRLIST:
		am_cidrlist_clear(field);
		return am_cidrlist_parse(field, value, why);
	case AM_CONF_HOSTLIST:
		return hostlist_parse(field, value, why);
	case AM_CONF_SERVERS:
		if (strlist_parse(field, value) != 0)
			goto nomem;
		for (w = 0; (size_t)w < ((struct am_strlist *)field)->n; w++)
			if (server_check(((struct am_strlist *)field)->v[w], why) != 0)
				return -1;
		return 0;
	}
	return -1;
nomem:
	am_buf_setf(why, "out of memory");
	return -1;
}

static const struct am_conf_opt *
find_option(const char *keyword)
{
	const struct am_conf_opt *o;

	for (o = options; o->name != NULL; o++)
		if (strcasecmp(o->name, keyword) == 0)
			return o;
	return NULL;
}

/* 1 when a value starts with '#' or has one after white space (or, in a
 * list, after a comma: "a,# old" would read as the entries "#" and "old",
 * and the dump writes them back as "a, #, old"): a comment. */
static int
trailing_comment(const char *value, int list)
{
	const char *p;

	for (p = value; (p = strchr(p, '#')) != NULL; p++)
		if (p == value || isspace((unsigned char)p[-1]) ||
		    (list && p[-1] == ','))
			return 1;
	return 0;
}

/* 1 for the list types, which may be read from a file. */
static int
is_list(const struct am_conf_opt *o)
{
	return o->type == AM_CONF_STRLIST || o->type == AM_CONF_CIDRLIST ||
	    o->type == AM_CONF_HOSTLIST;
}

/*
 * "file:/path": the list is the file's entries, one or more a line, "#"
 * starting a comment. Each line is checked as it is read (errors say
 * path:line); the whole list is then stored as if written on one line. A
 * file anyone may write is refused: it would let any local user set
 * TrustedNetworks.
 */
static int
store_file(struct am_config *c, const struct am_conf_opt *o, const char *path,
    struct am_buf *why)
{
	struct am_buf all = AM_BUF_INIT(1 << 24), tmp = AM_BUF_INIT(512);
	char line[8192], *hash;
	unsigned lineno = 0;
	struct stat st;
	FILE *fp;
	int r = -1;

	if (*path != '/') {
		am_buf_setf(why, "\"file:%s\": the path must be absolute", path);
		return -1;
	}
	if ((fp = fopen(path, "r")) == NULL) {
		am_buf_setf(why, "%s: %s", path, strerror(errno));
		return -1;
	}
	if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode) ||
	    (st.st_mode & S_IWOTH) != 0) {
		am_buf_setf(why, "%s: not a regular file, or writable by anyone", path);
		goto out;
	}
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			am_buf_setf(why, "%s:%u: line too long", path, lineno);
			goto out;
		}
		if ((hash = strchr(line, '#')) != NULL)
			*hash = '\0';
		if (store(c, o, line, &tmp) != 0) {
			am_buf_setf(why, "%s:%u: %s", path, lineno, am_buf_str(&tmp));
			goto out;
		}
		am_buf_printf(&all, "%s,", line);
	}
	if (all.truncated) {
		am_buf_setf(why, "%s: over 16 MB", path);
		goto out;
	}
	r = store(c, o, all.len > 0 ? am_buf_str(&all) : "", why);
out:
	fclose(fp);
	am_buf_release(&all);
	am_buf_release(&tmp);
	return r;
}

int
am_config_set(struct am_config *c, const char *keyword, const char *value,
    const char *file, unsigned line, struct am_buf *why)
{
	const struct am_conf_opt *o = find_option(keyword);
	struct am_buf tmp = AM_BUF_INIT(512);
	int r;

	if (o == NULL) {
		am_buf_setf(why, "%s:%u: unknown keyword \"%s\"", file, line, keyword);
		return -1;
	}
	if (trailing_comment(value, is_list(o) || o->type == AM_CONF_SERVERS)) {
		am_buf_setf(why, "%s:%u: %s: \"%s\": a comment must stand on a line "
		    "of its own ('#' after white space in a value)", file, line,
		    o->name, value);
		return -1;
	}
	if (*value == '\0' && o->type != AM_CONF_STRING && o->type != AM_CONF_PATH &&
	    o->type != AM_CONF_DOMAIN &&
	    o->type != AM_CONF_STRLIST && o->type != AM_CONF_CIDRLIST &&
	    o->type != AM_CONF_HOSTLIST && o->type != AM_CONF_SERVERS &&
	    o->type != AM_CONF_INET) {
		am_buf_setf(why, "%s:%u: %s: missing value", file, line, o->name);
		return -1;
	}
	if (is_list(o) && strncmp(value, "file:", 5) == 0)
		r = store_file(c, o, value + 5, &tmp);
	else
		r = store(c, o, value, &tmp);
	if (r != 0)
		am_buf_setf(why, "%s:%u: %s: %s", file, line, o->name, am_buf_str(&tmp));
	am_buf_release(&tmp);
	return r;
}

struct am_config *
am_config_new(void)
{
	struct am_config *c;
	const struct am_conf_opt *o;

	if ((c = calloc(1, sizeof(*c))) == NULL)
		return NULL;
	if ((c->path = strdup("(defaults)")) == NULL)
		return am_config_free(c);
	for (o = options; o->name != NULL; o++)
		if (am_config_set(c, o->name, o->def, "(defaults)", 0, NULL) != 0)
			return am_config_free(c);
	return c;
}

/* Split a line into keyword and value in place; 0 for a blank/comment line. */
static int
split_line(char *line, char **kw, char **val)
{
	char *p = line, *e;

	while (isspace((unsigned char)*p))
		p++;
	if (*p == '\0' || *p == '#')
		return 0;
	*kw = p;
	while (*p != '\0' && !isspace((unsigned char)*p))
		p++;
	if (*p != '\0')
		*p++ = '\0';
	while (isspace((unsigned char)*p))
		p++;
	e = p + strlen(p);
	while (e > p && isspace((unsigned char)e[-1]))
		*--e = '\0';
	*val = p;
	return 1;
}

/* Read every line of fp into c; 0 or -1 with why. */
static int
read_lines(struct am_config *c, FILE *fp, const char *path, struct am_buf *why)
{
	char line[8192], *kw, *val;
	unsigned lineno = 0, seen[sizeof(options) / sizeof(options[0])];
	const struct am_conf_opt *o;

	memset(seen, 0, sizeof(seen));
	while (fgets(line, sizeof(line), fp) != NULL) {
		lineno++;
		if (strchr(line, '\n') == NULL && !feof(fp)) {
			am_buf_setf(why, "%s:%u: line too long", path, lineno);
			return -1;
		}
		if (!split_line(line, &kw, &val))
			continue;
		if ((o = find_option(kw)) != NULL && seen[o - options] != 0) {
			am_buf_setf(why, "%s:%u: %s: already set at line %u",
			    path, lineno, o->name, seen[o - options]);
			return -1;
		}
		if (am_config_set(c, kw, val, path, lineno, why) != 0)
			return -1;
		seen[o - options] = lineno;
	}
	if (ferror(fp)) {
		am_buf_setf(why, "%s: read error: %s", path, strerror(errno));
		return -1;
	}
	return 0;
}

struct am_config *
am_config_load(const char *path, struct am_buf *why)
{
	struct stat st;
	struct am_config *c;
	FILE *fp;
	int r;

	if ((fp = fopen(path, "r")) == NULL) {
		am_buf_setf(why, "%s: %s", path, strerror(errno));
		return NULL;
	}
	if (fstat(fileno(fp), &st) == 0 && S_ISREG(st.st_mode) &&
	    (st.st_mode & S_IWOTH) != 0) {
		am_buf_setf(why, "%s: mode %04o is world-writable: any local user "
		    "could change it; chmod o-w it", path,
		    (unsigned)(st.st_mode & 07777));
		fclose(fp);
		return NULL;
	}
	if ((c = am_config_new()) == NULL) {
		fclose(fp);
		am_buf_setf(why, "out of memory");
		return NULL;
	}
	free(c->path);
	c->path = strdup(path);
	r = read_lines(c, fp, path, why);
	fclose(fp);
	if (r != 0 || c->path == NULL)
		return am_config_free(c);
	return c;
}

struct am_config *
am_config_free(struct am_config *c)
{
	const struct am_conf_opt *o;
	void *field;

	if (c == NULL)
		return NULL;
	for (o = options; o->name != NULL; o++) {
		field = (char *)c + o->off;
		if (o->type == AM_CONF_STRING || o->type == AM_CONF_PATH ||
		    o->type == AM_CONF_SOCKET || o->type == AM_CONF_DOMAIN ||
		    o->type == AM_CONF_INET)
			free(*(char **)field);
		else if (o->type == AM_CONF_STRLIST || o->type == AM_CONF_SERVERS)
			strlist_clear(field);
		else if (o->type == AM_CONF_CIDRLIST)
			am_cidrlist_clear(field);
		else if (o->type == AM_CONF_HOSTLIST)
			hostlist_clear(field);
	}
	free(c->path);
	free(c);
	return NULL;
}

/* Append row o's value from c to out. */
static void
dump_value(const struct am_config *c, const struct am_conf_opt *o, struct am_buf *out)
{
	const void *field = (const char *)c + o->off;
	const struct am_strlist *sl;
	const struct am_cidrlist *cl;
	const struct am_hostlist *hl;
	char a[64];
	size_t i;

	switch (o->type) {
	case AM_CONF_STRING:
	case AM_CONF_PATH:
	case AM_CONF_SOCKET:
	case AM_CONF_DOMAIN:
	case AM_CONF_INET:
		am_buf_adds(out, *(char *const *)field);
		break;
	case AM_CONF_BOOL:
	case AM_CONF_ENUM:
		am_buf_adds(out, o->words[*(const int *)field]);
		break;
	case AM_CONF_UINT:
		am_buf_printf(out, "%u", *(const unsigned *)field);
		break;
	case AM_CONF_DURATION:
		am_buf_printf(out, "%ums", *(const unsigned *)field);
		break;
	case AM_CONF_MODE:
		am_buf_printf(out, "%04o", *(const unsigned *)field);
		break;
	case AM_CONF_STRLIST:
	case AM_CONF_SERVERS:
		sl = field;
		for (i = 0; i < sl->n; i++)
			am_buf_printf(out, "%s%s", i ? ", " : "", sl->v[i]);
		break;
	case AM_CONF_CIDRLIST:
		cl = field;
		for (i = 0; i < cl->n; i++)
			am_buf_printf(out, "%s%s/%d", i ? ", " : "",
			    am_addr_format(&cl->v[i].addr, a, sizeof(a)), cl->v[i].prefix);
		break;
	case AM_CONF_HOSTLIST:
		hl = field;
		for (i = 0; i < hl->nets.n; i++)
			am_buf_printf(out, "%s%s/%d", i ? ", " : "",
			    am_addr_format(&hl->nets.v[i].addr, a, sizeof(a)), hl->nets.v[i].prefix);
		for (i = 0; i < hl->names.n; i++)
			am_buf_printf(out, "%s%s", i || hl->nets.n ? ", " : "", hl->names.v[i]);
		break;
	}
}

void
am_config_dump(const struct am_config *c, struct am_buf *out)
{
	const struct am_conf_opt *o;

	for (o = options; o->name != NULL; o++) {
		am_buf_printf(out, "%s ", o->name);
		dump_value(c, o, out);
		am_buf_addc(out, '\n');
	}
}
