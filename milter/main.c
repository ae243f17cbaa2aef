/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * main: the authmilter daemon's life: options, configuration, DNS set-up,
 * privileges, the pid file, and handing control to libmilter.
 *
 *   authmilter [-f] [-c FILE]          run the daemon
 *   authmilter -n [-c FILE]            check the configuration and exit
 *   authmilter -V                      print the version
 *   authmilter [-c FILE] --check MSG --client-ip IP [--helo NAME]
 *              [--mail-from ADDR] [--rcpt ADDR] [--auth-user NAME]
 *                                      what the daemon would do with MSG
 *
 * Startup errors are fatal (exit 1, one line saying why); once smfi_main()
 * runs nothing here exits. SIGTERM and SIGINT are handled by libmilter,
 * which stops accepting, lets sessions end, and returns from smfi_main().
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <libmilter/mfapi.h>

#include "amconfig.h"
#include "config.h"
#include "callbacks.h"
#include "check.h"
#include "dns.h"
#include "log.h"
#include "msg.h"
#include "stats_http.h"

#ifndef AM_SYSCONFDIR
#define AM_SYSCONFDIR "/etc"
#endif
#define DEFAULT_CONF AM_SYSCONFDIR "/authmilter.conf"

struct opts {
	const char *conf;
	int foreground, check_only, version;
	struct am_check_args check;
	int do_check;
};

static void
usage(void)
{
	fprintf(stderr,
	    "usage: authmilter [-fnV] [-c FILE]\n"
	    "       authmilter [-c FILE] --check MSGFILE --client-ip IP [--helo NAME]\n"
	    "                  [--mail-from ADDR] [--rcpt ADDR] [--auth-user NAME]\n");
	exit(2);
}

static void
parse_args(int argc, char **argv, struct opts *o)
{
	static const struct option longopts[] = {
		{ "check", required_argument, NULL, 'K' },
		{ "client-ip", required_argument, NULL, 'I' },
		{ "helo", required_argument, NULL, 'H' },
		{ "mail-from", required_argument, NULL, 'M' },
		{ "rcpt", required_argument, NULL, 'R' },
		{ "auth-user", required_argument, NULL, 'A' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->conf = DEFAULT_CONF;
	while ((ch = getopt_long(argc, argv, "c:fnV", longopts, NULL)) != -1) {
		switch (ch) {
		case 'c': o->conf = optarg; break;
		case 'f': o->foreground = 1; break;
		case 'n': o->check_only = 1; break;
		case 'V': o->version = 1; break;
		case 'K': o->check.file = optarg; o->do_check = 1; break;
		case 'I': o->check.client_ip = optarg; break;
		case 'H': o->check.helo = optarg; break;
		case 'M': o->check.mail_from = optarg; break;
		case 'R': o->check.rcpt = optarg; break;
		case 'A': o->check.auth_user = optarg; break;
		default: usage();
		}
	}
	if (optind != argc)
		usage();
	if (o->do_check && o->check.client_ip == NULL) {
		fprintf(stderr, "authmilter: --check needs --client-ip\n");
		exit(2);
	}
}

/* The DNS stack the configuration asks for: resolver, then cache. */
static struct am_dns *
dns_setup(const struct am_config *c, struct am_buf *why)
{
	struct am_dns_ldns_opts lo;
	struct am_dns *d;

	memset(&lo, 0, sizeof(lo));
	lo.servers = (const char *const *)c->dns_servers.v;
	lo.nservers = c->dns_servers.n;
	lo.timeout_ms = c->dns_timeout_ms;
	lo.retries = c->dns_retries;
	if ((d = am_dns_ldns_new(&lo, why)) == NULL)
		return NULL;
	if (c->dns_cache_size > 0)
		d = am_dns_cache_new(d, c->dns_cache_size, 3600);
	return d;
}

/* Switch to UserID ("user" or "user:group"); fatal on failure. */
static void
drop_privileges(const char *spec)
{
	char user[256], *colon;
	struct passwd *pw;
	struct group *gr;
	gid_t gid;

	if (spec == NULL || *spec == '\0')
		return;
	snprintf(user, sizeof(user), "%s", spec);
	if ((colon = strchr(user, ':')) != NULL)
		*colon++ = '\0';
	if ((pw = getpwnam(user)) == NULL)
		fatal("UserID: no such user \"%s\"", user);
	gid = pw->pw_gid;
	if (colon != NULL) {
		if ((gr = getgrnam(colon)) == NULL)
			fatal("UserID: no such group \"%s\"", colon);
		gid = gr->gr_gid;
	}
	if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		fatal("UserID %s: cannot switch user: %s", spec, strerror(errno));
}

static void
write_pidfile(const char *path)
{
	FILE *fp;

	if (path == NULL || *path == '\0')
		return;
	if ((fp = fopen(path, "w")) == NULL)
		fatal("PidFile %s: %s", path, strerror(errno));
	fprintf(fp, "%ld\n", (long)getpid());
	if (fclose(fp) != 0)
		fatal("PidFile %s: %s", path, strerror(errno));
}

/* Detach from the terminal; the parent exits once the child is ready. */
static void
daemonize(void)
{
	pid_t pid;

	if ((pid = fork()) < 0)
		fatal("fork: %s", strerror(errno));
	if (pid > 0)
		_exit(0);
	if (setsid() < 0)
		fatal("setsid: %s", strerror(errno));
	if (chdir("/") != 0)
		fatal("chdir /: %s", strerror(errno));
	if (freopen("/dev/null", "r", stdin) == NULL ||
	    freopen("/dev/null", "w", stdout) == NULL ||
	    freopen("/dev/null", "w", stderr) == NULL)
		fatal("cannot redirect standard streams: %s", strerror(errno));
}

/*
 * TCP_NODELAY on libmilter's listening socket (accepted sockets inherit
 * it on Linux). Without it the final reply of a message, sent right after
 * a header change, waits for the MTA's delayed ACK: about 40 ms per
 * message over TCP. libmilter does not hand out the socket, so find it.
 */
static void
tcp_nodelay(void)
{
	int fd, on = 1, acc, dom;
	socklen_t len;

	for (fd = 0; fd < 1024; fd++) {
		len = sizeof(acc);
		if (getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &acc, &len) != 0 || !acc)
			continue;
		len = sizeof(dom);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &dom, &len) != 0 ||
		    (dom != AF_INET && dom != AF_INET6))
			continue;
		if (setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &on, sizeof(on)) != 0)
			log_warn("TCP_NODELAY on the milter socket");
	}
}

/* The DNS stack and the engine; fatal on error. */
static struct am_engine *
engine_setup(const struct am_config *c, struct am_dns **dns)
{
	struct am_buf why = AM_BUF_INIT(1024);
	struct am_engine *e;

	if ((*dns = dns_setup(c, &why)) == NULL ||
	    (e = am_engine_new(c, *dns, &why)) == NULL)
		fatal("%s", am_buf_str(&why));
	am_buf_release(&why);
	return e;
}

/*
 * Set up libmilter and run until SIGTERM; the exit status. The engine's
 * threads are started after the fork, which does not copy them.
 */
static int
run_daemon(const struct am_config *c, int foreground)
{
	struct am_stats_http *stats = am_stats_http_open(c->stats_socket);
	struct am_engine *engine;
	struct am_dns *dns;

	if (smfi_register(*am_callbacks_desc()) != MI_SUCCESS)
		fatal("smfi_register failed");
	if (smfi_setconn(c->socket) != MI_SUCCESS)
		fatal("Socket %s: cannot use it", c->socket);
	if (smfi_opensocket(1) != MI_SUCCESS)
		fatal("Socket %s: cannot listen (in use, or no permission?)", c->socket);
	tcp_nodelay();
	/* Fail on the terminal, not after detaching: a trial engine first. */
	engine = engine_setup(c, &dns);
	am_engine_free(engine);
	am_dns_free(dns);
	if (!foreground)
		daemonize();
	write_pidfile(c->pidfile);
	drop_privileges(c->userid);
	engine = engine_setup(c, &dns);
	am_callbacks_set_engine(engine);
	am_stats_http_start(stats);
	log_info("authmilter %s listening on %s", PACKAGE_VERSION, c->socket);
	if (smfi_main() != MI_SUCCESS)
		log_error("smfi_main returned an error");
	stats = am_stats_http_stop(stats);
	log_info("authmilter stopped");
	am_engine_free(engine);
	am_dns_free(dns);
	if (c->pidfile != NULL && *c->pidfile != '\0')
		(void)unlink(c->pidfile);
	return 0;
}

int
main(int argc, char **argv)
{
	struct am_buf why = AM_BUF_INIT(1024);
	struct am_config *conf;
	struct am_engine *engine;
	struct am_dns *dns;
	struct opts o;
	int r;

	parse_args(argc, argv, &o);
	if (o.version) {
		printf("authmilter %s\n", PACKAGE_VERSION);
		return 0;
	}
	if ((conf = am_config_load(o.conf, &why)) == NULL) {
		fprintf(stderr, "authmilter: %s\n", am_buf_str(&why));
		am_buf_release(&why);
		return 1;
	}
	/* Until the daemon runs, errors go to the terminal. */
	am_log_init("authmilter", 0, 0, conf->log_level);
	if (o.check_only) {
		/* Also what the engine reads at start: PSL, key files, servers. */
		engine = engine_setup(conf, &dns);
		am_engine_free(engine);
		am_dns_free(dns);
		printf("%s: configuration OK\n", o.conf);
		am_config_free(conf);
		return 0;
	}
	if (!o.do_check)
		am_log_init("authmilter", conf->syslog, conf->syslog_facility,
		    conf->log_level);
	signal(SIGPIPE, SIG_IGN);
	if (o.do_check) {
		engine = engine_setup(conf, &dns);
		r = am_check_run(engine, &o.check);
		am_engine_free(engine);
		am_dns_free(dns);
	} else
		r = run_daemon(conf, o.foreground);
	am_config_free(conf);
	am_buf_release(&why);
	return r;
}
