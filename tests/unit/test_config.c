/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * Unit tests for lib/config: values of every type, errors with file:line,
 * defaults, and that every option of the table is documented in
 * conf/authmilter.conf and man/authmilter.conf.5.
 */
#include <sys/stat.h>

#include <stdarg.h>
#include <stddef.h>
#include <setjmp.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <cmocka.h>

#include "config.h"

struct err_case {
	const char *name;
	const char *text;      /* file contents */
	const char *want;      /* substring of the error after "FILE:" */
};

static const struct err_case err_cases[] = {
	{ "unknown keyword", "# c\n\nNoSuchThing 1\n", ":3: unknown keyword \"NoSuchThing\"" },
	{ "bad duration", "DNSTimeout 5x\n", ":1: DNSTimeout: \"5x\" is not a duration" },
	{ "duration range", "DNSTimeout 10m\n", ":1: DNSTimeout: 10m is out of range" },
	{ "bad bool", "Syslog maybe\n", ":1: Syslog: \"maybe\" is not one of no or yes" },
	{ "bad enum", "SPFMode helo\n", ":1: SPFMode: \"helo\" is not one of off, mailfrom or helo+mailfrom" },
	{ "bad number", "DNSRetries two\n", ":1: DNSRetries: \"two\" is not a number" },
	{ "number range", "DNSRetries 0\n", ":1: DNSRetries: 0 is out of range" },
	{ "bad cidr", "TrustedNetworks 10.0.0.0/8, 192.0.2.0/33\n", ":1: TrustedNetworks: \"192.0.2.0/33\": prefix length out of range" },
	{ "bad address", "TrustedNetworks 10.0.0.300\n", ":1: TrustedNetworks: \"10.0.0.300\" is not an IP address" },
	{ "bad socket scheme", "Socket tcp:8891\n", ":1: Socket: \"tcp:8891\" is not a socket" },
	{ "bad socket port", "Socket inet:99999@127.0.0.1\n", ":1: Socket: \"inet:99999@127.0.0.1\": the port must be a number" },
	{ "relative unix socket", "Socket unix:run/a.sock\n", ":1: Socket: \"unix:run/a.sock\": a unix socket needs an absolute path" },
	{ "missing value", "DNSTimeout\n", ":1: DNSTimeout: missing value" },
	{ "duplicate", "LogLevel info\nLogLevel debug\n", ":2: LogLevel: already set at line 1" },
	{ "bad facility", "SyslogFacility kern\n", ":1: SyslogFacility: \"kern\" is not one of" },
	{ "bad dns port", "DNSServer 127.0.0.1@domain\n", ":1: DNSServer: \"127.0.0.1@domain\": the port must be" },
	{ "bad dns server", "DNSServer ns1.example.net\n", ":1: DNSServer: \"ns1.example.net\" is not a name server address" },
	{ "bad socket mode", "SocketMode 0999\n", ":1: SocketMode: \"0999\" is not a file mode" },
	{ "socket mode too long", "SocketMode 00660\n", ":1: SocketMode: \"00660\" is not a file mode" },
	{ "bad forwarder", "DMARCTrustedForwarders 192.0.2.0/24, bad/name\n", ":1: DMARCTrustedForwarders: \"bad/name\" is not an IP address" },
	{ "authserv-id two words", "AuthservID two words\n", ":1: AuthservID: \"two words\" is not a domain name (white space in it)" },
	{ "authserv-id comment", "AuthservID mx.example.net # ours\n", ":1: AuthservID: \"mx.example.net # ours\": a comment must stand on a line of its own" },
	{ "authserv-id quoted", "AuthservID \"mx.example.net\"\n", ":1: AuthservID: \"\"mx.example.net\"\" is not a domain name" },
	{ "authserv-id semicolon", "AuthservID mx.example.net;\n", ":1: AuthservID: \"mx.example.net;\" is not a domain name" },
	{ "authserv-id empty label", "AuthservID mx..example.net\n", ":1: AuthservID: \"mx..example.net\" is not a domain name (empty label)" },
	{ "authserv-id trailing dot", "AuthservID mx.example.net.\n", ":1: AuthservID: \"mx.example.net.\" is not a domain name (empty label)" },
	{ "authserv-id utf-8", "AuthservID m\xc3\xbcller.example\n", "is not a domain name (write U-labels as A-labels" },
	{ "list comment", "AuthservIDAliases a.example, b.example # old ones\n", ":1: AuthservIDAliases: \"a.example, b.example # old ones\": a comment must stand" },
	{ "value is a comment", "DMARCIgnoreDomains # none yet\n", ":1: DMARCIgnoreDomains: \"# none yet\": a comment must stand" },
	/* fuzz_config: accepted, dumped as "a.example, #, old" that did not load */
	{ "list comment after a comma", "AuthservIDAliases a.example,# old\n", ":1: AuthservIDAliases: \"a.example,# old\": a comment must stand" },
	{ "server list comment after a comma", "DNSServer 127.0.0.1,#x\n", ":1: DNSServer: \"127.0.0.1,#x\": a comment must stand" },
};

/* Write text to a temporary file; returns its malloc'd path. */
static char *
temp_conf(const char *text)
{
	char *path = strdup("/tmp/am-test-conf-XXXXXX");
	int fd = mkstemp(path);
	FILE *fp = fdopen(fd, "w");

	fputs(text, fp);
	fclose(fp);
	return path;
}

static void
test_errors(void **state)
{
	size_t i;
	int failed = 0;

	(void)state;
	for (i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
		const struct err_case *c = &err_cases[i];
		struct am_buf why = AM_BUF_INIT(1024);
		char *path = temp_conf(c->text);
		struct am_config *conf = am_config_load(path, &why);
		const char *got = am_buf_str(&why);

		if (conf != NULL || strncmp(got, path, strlen(path)) != 0 ||
		    strstr(got, c->want) == NULL) {
			printf("FAIL %s: got \"%s\", want \"%s%s...\"\n", c->name,
			    conf != NULL ? "(accepted)" : got, path, c->want);
			failed++;
		}
		am_config_free(conf);
		unlink(path);
		free(path);
		am_buf_release(&why);
	}
	assert_int_equal(failed, 0);
}

static void
test_values(void **state)
{
	struct am_buf why = AM_BUF_INIT(1024);
	char *path = temp_conf(
	    "  # indented comment\n"
	    "socket   unix:/run/authmilter/a.sock  \n"
	    "DNSServer 127.0.0.1@5353, ::1, [::1]@5353\n"
	    "DNSTimeout 1500ms\n"
	    "AuthservID mx.example.net\n"
	    "DMARCRejectText Rejected (rule#5) for %d\n"
	    "TrustedNetworks 10.0.0.0/8 ::ffff:192.0.2.0/120\n"
	    "Syslog off\n"
	    "SocketMode 660\n"
	    "SocketGroup postfix\n"
	    "SPFMode mailfrom\n");
	struct am_config *c = am_config_load(path, &why);
	struct am_addr a;

	(void)state;
	if (c == NULL)
		printf("load failed: %s\n", am_buf_str(&why));
	assert_non_null(c);
	assert_string_equal(c->socket, "unix:/run/authmilter/a.sock");
	assert_int_equal(c->dns_servers.n, 3);
	assert_string_equal(c->dns_servers.v[0], "127.0.0.1@5353");
	assert_string_equal(c->dns_servers.v[1], "::1");
	assert_int_equal(c->dns_timeout_ms, 1500);
	assert_string_equal(c->authserv_id, "mx.example.net");
	/* a '#' not after white space is part of the value */
	assert_string_equal(c->dmarc_reject_text, "Rejected (rule#5) for %d");
	assert_int_equal(c->syslog, 0);
	assert_int_equal(c->spf_mode, AM_SPFMODE_MAILFROM);
	assert_int_equal(c->socket_mode, 0660);
	assert_string_equal(c->socket_group, "postfix");
	assert_int_equal(c->trusted_networks.n, 2);
	assert_int_equal(am_addr_parse(&a, "192.0.2.9"), 0);
	assert_true(am_cidrlist_match(&c->trusted_networks, &a));
	assert_int_equal(c->dns_retries, 2);        /* default kept */
	am_config_free(c);
	unlink(path);
	free(path);
	am_buf_release(&why);
}

static void
test_defaults(void **state)
{
	struct am_config *c = am_config_new();
	struct am_buf out = AM_BUF_INIT(65536);

	(void)state;
	assert_non_null(c);
	assert_string_equal(c->socket, "inet:8891@127.0.0.1");
	assert_int_equal(c->dns_timeout_ms, 5000);
	assert_int_equal(c->spf_mode, AM_SPFMODE_HELO_MAILFROM);
	assert_int_equal(c->skip_authenticated, 1);
	assert_int_equal(c->trusted_networks.n, 2);
	am_config_dump(c, &out);
	assert_non_null(strstr(am_buf_str(&out), "DNSTimeout 5000ms\n"));
	assert_non_null(strstr(am_buf_str(&out), "SocketMode 0660\n"));
	assert_non_null(strstr(am_buf_str(&out), "TrustedNetworks 127.0.0.1/32, ::1/128\n"));
	am_buf_release(&out);
	assert_null(am_config_free(c));
	assert_null(am_config_free(NULL));
}

/* A world-writable file is refused (any user could set TrustedNetworks). */
static void
test_world_writable(void **state)
{
	struct am_buf why = AM_BUF_INIT(1024);
	char *path = temp_conf("Syslog no\n");
	struct am_config *c;

	(void)state;
	assert_int_equal(chmod(path, 0666), 0);
	assert_null(c = am_config_load(path, &why));
	assert_non_null(strstr(am_buf_str(&why), ": mode 0666 is world-writable"));
	assert_int_equal(chmod(path, 0664), 0);
	assert_non_null(c = am_config_load(path, &why));
	am_config_free(c);
	unlink(path);
	free(path);
	am_buf_release(&why);
}

/* Read a whole file into a malloc'd string. */
static char *
slurp(const char *path)
{
	FILE *fp = fopen(path, "r");
	char *s;
	long n;

	if (fp == NULL)
		return NULL;
	fseek(fp, 0, SEEK_END);
	n = ftell(fp);
	fseek(fp, 0, SEEK_SET);
	s = calloc(1, (size_t)n + 1);
	if (fread(s, 1, (size_t)n, fp) != (size_t)n)
		s[0] = '\0';
	fclose(fp);
	return s;
}

/* Lists from files (file:/path): values, errors with the list's path:line,
 * and a file anyone may write refused. */
static void
test_list_files(void **state)
{
	struct am_buf why = AM_BUF_INIT(1024), text = AM_BUF_INIT(1024);
	char *nets = temp_conf("# our relays\n192.0.2.0/24\n\n2001:db8::/32 # v6\n");
	char *bad = temp_conf("10.0.0.0/8\n# fine so far\n10.0.0.300\n");
	char *conf, *conf2, *conf3;
	struct am_config *c;
	struct am_addr a;

	(void)state;
	am_buf_printf(&text, "TrustedNetworks file:%s\nIgnoreRecipients postmaster@ "
	    "@abuse.example.net\n", nets);
	conf = temp_conf(am_buf_str(&text));
	c = am_config_load(conf, &why);
	if (c == NULL)
		printf("load failed: %s\n", am_buf_str(&why));
	assert_non_null(c);
	assert_int_equal(c->trusted_networks.n, 2);
	assert_int_equal(am_addr_parse(&a, "2001:db8::5"), 0);
	assert_true(am_cidrlist_match(&c->trusted_networks, &a));
	am_config_free(c);

	am_buf_reset(&text);
	am_buf_printf(&text, "TrustedNetworks file:%s\n", bad);
	conf2 = temp_conf(am_buf_str(&text));
	am_buf_reset(&why);
	assert_null(am_config_load(conf2, &why));
	am_buf_reset(&text);
	am_buf_printf(&text, "%s:3: \"10.0.0.300\" is not an IP address", bad);
	if (strstr(am_buf_str(&why), am_buf_str(&text)) == NULL)
		printf("FAIL list file error: got \"%s\"\n", am_buf_str(&why));
	assert_non_null(strstr(am_buf_str(&why), am_buf_str(&text)));

	assert_int_equal(chmod(nets, 0666), 0);
	am_buf_reset(&why);
	assert_null(am_config_load(conf, &why));
	assert_non_null(strstr(am_buf_str(&why), "writable by anyone"));

	am_buf_reset(&text);
	am_buf_adds(&text, "DMARCIgnoreDomains file:relative/list\n");
	conf3 = temp_conf(am_buf_str(&text));
	am_buf_reset(&why);
	assert_null(am_config_load(conf3, &why));
	assert_non_null(strstr(am_buf_str(&why), "the path must be absolute"));
	unlink(nets), unlink(bad), unlink(conf), unlink(conf2), unlink(conf3);
	free(nets), free(bad), free(conf), free(conf2), free(conf3);
	am_buf_release(&why);
	am_buf_release(&text);
}

/* IgnoreRecipients entries: a local part anywhere, a domain, an address. */
static void
test_rcpt_ignored(void **state)
{
	static const struct {
		const char *addr;
		int want;
	} c[] = {
		{ "postmaster@example.net", 1 }, { "<POSTMASTER@Example.NET>", 1 },
		{ "postmaster+x@example.net", 0 }, { "xpostmaster@example.net", 0 },
		{ "abuse@example.net", 1 }, { "abuse@example.org", 0 },
		{ "x@reports.example", 1 }, { "x@sub.reports.example", 0 },
		{ "dmarc@example.org", 1 }, { "postmaster", 0 }, { "<>", 0 },
		{ "", 0 },
	};
	struct am_config *conf = am_config_new();
	struct am_buf why = AM_BUF_INIT(256);
	size_t i;
	int failed = 0;

	(void)state;
	assert_int_equal(am_config_set(conf, "IgnoreRecipients", "postmaster@, "
	    "abuse@example.net @reports.example dmarc", "t", 1, &why), 0);
	for (i = 0; i < sizeof(c) / sizeof(c[0]); i++)
		if (am_rcpt_ignored(&conf->ignore_recipients, c[i].addr) != c[i].want) {
			printf("FAIL rcpt %s: want %d\n", c[i].addr, c[i].want);
			failed++;
		}
	assert_int_equal(failed, 0);
	am_config_free(conf);
	am_buf_release(&why);
}

static void
test_documented(void **state)
{
	const char *top = getenv("AM_TOP_SRCDIR");
	char path[4096], needle[128];
	char *conf, *man;
	const struct am_conf_opt *o;
	int failed = 0;

	(void)state;
	assert_non_null(top);
	snprintf(path, sizeof(path), "%s/conf/authmilter.conf", top);
	assert_non_null(conf = slurp(path));
	snprintf(path, sizeof(path), "%s/man/authmilter.conf.5", top);
	assert_non_null(man = slurp(path));
	for (o = am_config_options(); o->name != NULL; o++) {
		/* conf: "#Keyword default" line; man: ".B Keyword" item. */
		snprintf(needle, sizeof(needle), "\n#%s", o->name);
		if (strstr(conf, needle) == NULL) {
			printf("FAIL %s: not in conf/authmilter.conf\n", o->name);
			failed++;
		}
		snprintf(needle, sizeof(needle), ".B %s ", o->name);
		if (strstr(man, needle) == NULL) {
			printf("FAIL %s: not in man/authmilter.conf.5\n", o->name);
			failed++;
		}
	}
	free(conf);
	free(man);
	assert_int_equal(failed, 0);
}

int
main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_errors),
		cmocka_unit_test(test_values),
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_world_writable),
		cmocka_unit_test(test_documented),
		cmocka_unit_test(test_list_files),
		cmocka_unit_test(test_rcpt_ignored),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
