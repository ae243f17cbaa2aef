/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * main: the authmilter daemon's life: options, configuration, DNS set-up,
 * privileges, the pid file, and handing control to libmilter.
 *
 *   authmilter [-f] [-c FILE]          run the daemon
 *   authmilter -n [-c FILE]            check the configuration and exit
 *   authmilter -V | --version          print the version
 *   authmilter -h | --help             print the usage
 *   authmilter [-c FILE] --check MSG --client-ip IP [--helo NAME]
 *              [--mail-from ADDR] [--rcpt ADDR] [--auth-user NAME]
 *                                      what the daemon would do with MSG
 *
 * Startup errors are fatal (exit 1, one line saying why); once smfi_main()
 * runs, the daemon ends only when told to stop, or when smfi_main() fails.
 *
 * Signals (run_daemon, serve): smfi_main() runs on a thread of its own and
 * the main thread takes SIGTERM, SIGINT, SIGHUP and SIGUSR1, which every
 * other thread blocks. libmilter also waits for SIGTERM, SIGINT and SIGHUP
 * in a thread of its own and stops on each; the kernel gives a signal to
 * the main thread when it does not block it, so we get it first, and when
 * libmilter does, smfi_main() returns and we stop the same way. Hence
 * SIGHUP stops the daemon like SIGTERM: it cannot be made a reload that
 * works every time, and SIGUSR1 reloads.
 *  - SIGTERM, SIGINT, SIGHUP: new messages are tempfailed, messages in
 *    flight get STOP_GRACE_MS to finish on the engine they started on,
 *    then "authmilter stopped" is logged and the engines are freed. What
 *    is still running then is left to the MTA (its milter default action
 *    applies when the connection closes) and the process ends without
 *    freeing.
 *  - SIGUSR1: the configuration file is read again and a new generation
 *    (gen.h) built and installed; messages in flight finish on the old
 *    one. A file with errors is refused (logged with file:line) and the
 *    running configuration stays. Socket, SocketMode, SocketGroup,
 *    PidFile, UserID, Syslog and SyslogFacility take effect only at the
 *    next start.
 *
 * Start order, and why: the socket is opened as the starting user (root
 * may bind anywhere), refused if another daemon answers on it, created
 * 0600 and then given SocketMode and SocketGroup. Then the switch to
 * UserID (with that user's groups only), and everything after it runs as
 * that user: the trial engine (key files, PSL: an unreadable key fails
 * here, on the terminal, as it fails `-n` run as root), the pid file
 * (created O_EXCL|O_NOFOLLOW in a directory the user may write, so root
 * never writes into a user's directory and the user can remove it at
 * the stop), the fork, the engine. A reload runs as that user too.
 */
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/types.h>

#include <netinet/in.h>
#include <netinet/tcp.h>

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pthread.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/un.h>
#include <unistd.h>

#include <libmilter/mfapi.h>
#include <openssl/crypto.h>

#include "amconfig.h"
#include "config.h"
#include "callbacks.h"
#include "check.h"
#include "dns.h"
#include "gen.h"
#include "log.h"
#include "msg.h"
#include "report.h"
#include "stats.h"
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

/* The usage on fp; exits with status (0 for --help, 2 for an error). */
static void
usage(FILE *fp, int status)
{
	fprintf(fp,
	    "usage: authmilter [-fnVh] [-c FILE]\n"
	    "       authmilter [-c FILE] --check MSGFILE --client-ip IP [--helo NAME]\n"
	    "                  [--mail-from ADDR] [--rcpt ADDR] [--auth-user NAME]\n"
	    "  -c FILE    configuration (default " DEFAULT_CONF ")\n"
	    "  -f         stay in the foreground\n"
	    "  -n         check the configuration (as UserID when root) and exit\n"
	    "  -V, --version  print the version;  -h, --help  print this\n");
	exit(status);
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
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{ NULL, 0, NULL, 0 },
	};
	int ch;

	memset(o, 0, sizeof(*o));
	o->conf = DEFAULT_CONF;
	while ((ch = getopt_long(argc, argv, "c:fnVh", longopts, NULL)) != -1) {
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
		case 'h': usage(stdout, 0); break;
		default: usage(stderr, 2);
		}
	}
	if (optind != argc)
		usage(stderr, 2);
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

/*
 * Switch to UserID ("user" or "user:group") with that user's groups only;
 * nothing when already running as that user and group (systemd's User=).
 * Fatal on failure.
 */
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
	if (getuid() == pw->pw_uid && geteuid() == pw->pw_uid &&
	    getgid() == gid && getegid() == gid)
		return;
	if (initgroups(pw->pw_name, gid) != 0 || setgid(gid) != 0 ||
	    setuid(pw->pw_uid) != 0)
		fatal("UserID %s: cannot switch user: %s", spec, strerror(errno));
	if (pw->pw_uid != 0 && setuid(0) == 0)
		fatal("UserID %s: could switch back to root", spec);
}

/*
 * Refuse an existing pid file unless it is stale: a regular file (not a
 * symlink) naming no running process. A stale one is removed.
 */
static void
pidfile_stale(const char *path)
{
	char buf[32];
	ssize_t n;
	long pid;
	struct stat st;
	int fd;

	if ((fd = open(path, O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC)) < 0)
		fatal("PidFile %s exists and cannot be opened (a symlink?): %s",
		    path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode))
		fatal("PidFile %s exists and is not a regular file", path);
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	buf[n > 0 ? n : 0] = '\0';
	pid = strtol(buf, NULL, 10);
	if (pid > 0 && (kill((pid_t)pid, 0) == 0 || errno == EPERM))
		fatal("PidFile %s: process %ld is running (another authmilter?)",
		    path, pid);
	if (unlink(path) != 0)
		fatal("PidFile %s: cannot remove the stale file: %s", path,
		    strerror(errno));
}

/*
 * Create the pid file as the user the daemon runs as, never through a
 * symlink; -1 when none is configured. pidfile_write() fills it after the
 * fork.
 */
static int
pidfile_open(const char *path)
{
	int fd, tries;

	if (path == NULL || *path == '\0')
		return -1;
	for (tries = 0; tries < 2; tries++) {
		fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
		    0644);
		if (fd >= 0)
			return fd;
		if (errno != EEXIST)
			break;
		pidfile_stale(path);
	}
	fatal("PidFile %s: %s%s", path, strerror(errno), geteuid() != 0 ?
	    " (it is written after the switch to UserID: use a directory "
	    "that user may write)" : "");
	return -1;
}

static void
pidfile_write(int fd, const char *path)
{
	if (fd < 0)
		return;
	if (dprintf(fd, "%ld\n", (long)getpid()) < 0 || close(fd) != 0)
		fatal("PidFile %s: %s", path, strerror(errno));
}

/* The path of a unix: or local: socket spec, else NULL. */
static const char *
unix_path(const char *spec)
{
	if (strncmp(spec, "unix:", 5) == 0)
		return spec + 5;
	if (strncmp(spec, "local:", 6) == 0)
		return spec + 6;
	return NULL;
}

/*
 * Before binding a unix socket: fatal when something that is not a socket
 * is in its place, or when a program accepts connections on it (libmilter
 * would remove it and take the address over). A stale socket is left for
 * libmilter to remove.
 */
static void
unix_socket_check(const char *path)
{
	struct sockaddr_un sun;
	struct stat st;
	int fd, r;

	if (lstat(path, &st) != 0)
		return;
	if (!S_ISSOCK(st.st_mode))
		fatal("Socket %s: exists and is not a socket", path);
	memset(&sun, 0, sizeof(sun));
	sun.sun_family = AF_UNIX;
	if (strlen(path) >= sizeof(sun.sun_path))
		fatal("Socket %s: path too long", path);
	memcpy(sun.sun_path, path, strlen(path));
	if ((fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0)) < 0)
		fatal("socket: %s", strerror(errno));
	r = connect(fd, (struct sockaddr *)&sun, sizeof(sun));
	close(fd);
	if (r == 0)
		fatal("Socket %s: another daemon is listening on it", path);
	if (errno != ECONNREFUSED)
		fatal("Socket %s: %s", path, strerror(errno));
}

/* SocketMode and SocketGroup on a unix socket just created. */
static void
unix_socket_perms(const struct am_config *c, const char *path)
{
	struct group *gr;

	if (*c->socket_group != '\0') {
		if ((gr = getgrnam(c->socket_group)) == NULL)
			fatal("SocketGroup: no such group \"%s\"", c->socket_group);
		if (chown(path, (uid_t)-1, gr->gr_gid) != 0)
			fatal("SocketGroup %s: %s: %s", c->socket_group, path,
			    strerror(errno));
	}
	if (chmod(path, (mode_t)c->socket_mode) != 0)
		fatal("SocketMode %04o: %s: %s", c->socket_mode, path,
		    strerror(errno));
}

/* Open the milter socket: refused when in use; a unix one 0600 first. */
static void
open_socket(const struct am_config *c)
{
	const char *path = unix_path(c->socket);
	mode_t old;
	int r;

	if (smfi_setconn(c->socket) != MI_SUCCESS)
		fatal("Socket %s: cannot use it", c->socket);
	if (path != NULL)
		unix_socket_check(path);
	old = umask(0177);
	r = smfi_opensocket(1);
	umask(old);
	if (r != MI_SUCCESS)
		fatal("Socket %s: cannot listen (in use, or no permission?)", c->socket);
	if (path != NULL)
		unix_socket_perms(c, path);
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

/* How long messages in flight get to finish after SIGTERM. */
#define STOP_GRACE_MS 4000
/* Bytes on the signal pipe besides signal numbers. */
#define EV_REAP 0           /* a retired generation lost its last user */
#define EV_MILTER_DONE 255  /* smfi_main() returned */

static int sig_pipe[2] = { -1, -1 };
static int milter_rc = MI_SUCCESS;  /* smfi_main()'s result (atomic) */
static int milter_failed;           /* it failed before we stopped it */

static void
pipe_byte(unsigned char b)
{
	int e = errno;
	ssize_t r;

	/* Non-blocking: when the pipe is full, events are queued already. */
	r = write(sig_pipe[1], &b, 1);
	(void)r;
	errno = e;
}

static void
on_signal(int sig)
{
	pipe_byte((unsigned char)sig);
}

static void
on_retired_idle(void)
{
	pipe_byte(EV_REAP);
}

/* Block (how SIG_BLOCK) or unblock the signals the main thread takes. */
static void
mask_signals(int how)
{
	sigset_t set;

	sigemptyset(&set);
	sigaddset(&set, SIGTERM);
	sigaddset(&set, SIGINT);
	sigaddset(&set, SIGHUP);
	sigaddset(&set, SIGUSR1);
	if (pthread_sigmask(how, &set, NULL) != 0)
		fatal("pthread_sigmask failed");
}

/* The signal pipe and the handlers that write to it; fatal on error. */
static void
signals_setup(void)
{
	static const int sigs[] = { SIGTERM, SIGINT, SIGHUP, SIGUSR1 };
	struct sigaction sa;
	size_t i;

	if (pipe2(sig_pipe, O_CLOEXEC) != 0 ||
	    fcntl(sig_pipe[1], F_SETFL, O_NONBLOCK) != 0)
		fatal("signal pipe: %s", strerror(errno));
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = on_signal;
	sigemptyset(&sa.sa_mask);
	for (i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
		if (sigaction(sigs[i], &sa, NULL) != 0)
			fatal("sigaction: %s", strerror(errno));
}

static void *
milter_thread(void *arg)
{
	(void)arg;
	/* libmilter's threads, its signal thread too, start from this one. */
	mask_signals(SIG_BLOCK);
	__atomic_store_n(&milter_rc, smfi_main(), __ATOMIC_SEQ_CST);
	pipe_byte(EV_MILTER_DONE);
	return NULL;
}

/* smfi_stop() waits for libmilter's listener (up to 5 s): off the main thread. */
static void *
stopper_thread(void *arg)
{
	(void)arg;
	(void)smfi_stop();
	return NULL;
}

/* Dropped report rows, said at most once a minute (report_queue.c). */
static void
report_warn(void *arg, const char *msg)
{
	(void)arg;
	log_warnx("DMARC reports: %s", msg);
}

/* Dropped report rows, counted for the metrics page. */
static void
report_dropped(void *arg, uint64_t n)
{
	(void)arg;
	am_stats_add(AM_STATS_REPORT_DROP, n);
}

/*
 * The reporter of ReportStore, or NULL when reporting is off (no store,
 * or no reporter identity: ReportOrgName and ReportEmail). -1 in *err with
 * why when the store cannot be opened.
 */
static struct am_reporter *
reporter_open(const struct am_config *c, int *err, struct am_buf *why)
{
	struct am_reporter_opts o;
	struct am_reporter *r;

	*err = 0;
	if (c->report_store[0] == '\0') {
		if (c->failure_reports)
			log_warnx("FailureReports is yes but ReportStore is not "
			    "set: DMARC failure reports are off");
		return NULL;
	}
	if (c->report_org_name[0] == '\0' || c->report_email[0] == '\0') {
		log_warnx("ReportStore is set but ReportOrgName or ReportEmail is "
		    "not: DMARC reports are off");
		return NULL;
	}
	memset(&o, 0, sizeof(o));
	o.warn = report_warn;
	o.dropped = report_dropped;
	if ((r = am_reporter_open(c->report_store, &o, why)) == NULL)
		*err = -1;
	return r;
}

/* A generation of c, dns and e (all taken over) with its reporter; NULL
 * with why. */
static struct am_gen *
gen_with_reporter(struct am_config *c, int own_conf, struct am_dns *d,
    struct am_engine *e, struct am_buf *why)
{
	struct am_reporter *rep;
	struct am_gen *g;
	int err;

	rep = reporter_open(c, &err, why);
	if (err != 0) {
		am_engine_free(e);
		am_dns_free(d);
		if (own_conf)
			am_config_free(c);
		return NULL;
	}
	if ((g = am_gen_new(c, own_conf, d, e)) == NULL) {
		am_reporter_free(rep);
		am_buf_setf(why, "out of memory");
		return NULL;
	}
	am_gen_set_reporter(g, rep);
	return g;
}

/* A generation from c (taken over); NULL with why. */
static struct am_gen *
gen_build(struct am_config *c, struct am_buf *why)
{
	struct am_engine *e;
	struct am_dns *d;

	if ((d = dns_setup(c, why)) == NULL) {
		am_config_free(c);
		return NULL;
	}
	if ((e = am_engine_new(c, d, why)) == NULL) {
		am_dns_free(d);
		am_config_free(c);
		return NULL;
	}
	return gen_with_reporter(c, 1, d, e, why);
}

/* Warn about options a reload cannot apply to the running process. */
static void
warn_restart_only(const struct am_config *old, const struct am_config *new)
{
	if (strcmp(old->socket, new->socket) != 0 ||
	    old->socket_mode != new->socket_mode ||
	    strcmp(old->socket_group, new->socket_group) != 0)
		log_warnx("reload: Socket, SocketMode or SocketGroup changed; it "
		    "takes effect at the next start");
	if (strcmp(old->pidfile, new->pidfile) != 0)
		log_warnx("reload: PidFile changed; it takes effect at the next start");
	if (strcmp(old->userid, new->userid) != 0)
		log_warnx("reload: UserID changed; it takes effect at the next start");
	if (old->syslog != new->syslog || old->syslog_facility != new->syslog_facility)
		log_warnx("reload: Syslog or SyslogFacility changed; it takes "
		    "effect at the next start");
}

/* SIGUSR1: a new generation from path, or the old one stays. */
static void
reload(const char *path)
{
	struct am_buf why = AM_BUF_INIT(1024);
	struct am_config *c;
	struct am_gen *g;

	if ((c = am_config_load(path, &why)) == NULL)
		goto refused;
	warn_restart_only(am_gen_current()->conf, c);
	if ((g = gen_build(c, &why)) == NULL)
		goto refused;
	am_log_set_level(g->conf->log_level);
	am_gen_install(g, on_retired_idle);
	log_info("reloaded %s (configuration %lu)", path, g->nr);
	am_stats_reload();
	am_gen_reap();
	am_buf_release(&why);
	return;
refused:
	log_error("reload refused, the running configuration stays: %s",
	    am_buf_str(&why));
	am_buf_release(&why);
}

/*
 * Run libmilter on its own thread and handle signals until told to stop;
 * then stop (see the top of the file). The number of messages that were
 * still in flight when the grace period ended (0: everything is freed).
 */
static unsigned
serve(const char *path)
{
	unsigned char ev[64];
	pthread_t t;
	ssize_t n, i;
	int stop = 0, usr1, done = 0;
	unsigned left;

	/*
	 * Unblock first: a signal that came during start-up is pending, and
	 * must reach our handler, not libmilter's sigwait() once its thread
	 * runs. From now on the main thread never blocks them, so none stays
	 * pending. (A signal the new thread takes before it blocks them runs
	 * the same handler.)
	 */
	mask_signals(SIG_UNBLOCK);
	if (pthread_create(&t, NULL, milter_thread, NULL) != 0)
		fatal("cannot start the milter thread");
	pthread_detach(t);
	while (!stop) {
		if ((n = read(sig_pipe[0], ev, sizeof(ev))) <= 0) {
			if (n < 0 && errno == EINTR)
				continue;
			log_warn("signal pipe");
			break;
		}
		for (i = 0, usr1 = 0; i < n; i++) {
			if (ev[i] == SIGUSR1)
				usr1 = 1;
			else if (ev[i] == EV_REAP)
				am_gen_reap();
			else {
				if (ev[i] == EV_MILTER_DONE)
					done = 1;
				else
					log_info("signal %d (%s): stopping", ev[i],
					    strsignal(ev[i]));
				stop = 1;
			}
		}
		if (usr1 && !stop)
			reload(path);
	}
	/* Once we stop libmilter, smfi_main() may fail: not an error then. */
	if (done && __atomic_load_n(&milter_rc, __ATOMIC_SEQ_CST) != MI_SUCCESS) {
		log_error("smfi_main returned an error");
		milter_failed = 1;
	}
	if (!done && (pthread_create(&t, NULL, stopper_thread, NULL) != 0 ||
	    pthread_detach(t) != 0))
		log_warnx("cannot start a thread to stop libmilter");
	if ((left = am_gen_stop(STOP_GRACE_MS)) > 0)
		log_warnx("%u messages still in progress after %d s are left to "
		    "the MTA (its milter default action applies)", left,
		    STOP_GRACE_MS / 1000);
	am_gen_close();
	log_info("authmilter stopped");
	if (left == 0)
		am_gen_shutdown();
	return left;
}

/*
 * Set up libmilter and run until SIGTERM; the exit status. The engine's
 * threads are started after the fork, which does not copy them.
 */
static int
run_daemon(struct am_config *c, int foreground)
{
	struct am_buf why = AM_BUF_INIT(1024);
	struct am_stats_http *stats = am_stats_http_open(c->stats_socket);
	struct am_engine *engine;
	struct am_dns *dns;
	struct am_gen *g;
	char path[PATH_MAX];
	unsigned left;
	int pidfd;

	/*
	 * No OpenSSL clean-up at exit: it would free OpenSSL's state while
	 * connection threads may still be using it or exiting (they stay
	 * until the MTA closes them). First, before any other OpenSSL call.
	 */
	if (OPENSSL_init_crypto(OPENSSL_INIT_NO_ATEXIT, NULL) != 1)
		fatal("OpenSSL initialisation failed");
	/*
	 * Before any thread starts (an engine starts lookup threads), so that
	 * every thread inherits the mask; a signal that comes during start-up
	 * waits for serve().
	 */
	mask_signals(SIG_BLOCK);
	signals_setup();
	/* A reload reads the file again, after daemonize()'s chdir("/"). */
	if (realpath(c->path, path) == NULL)
		fatal("%s: %s", c->path, strerror(errno));
	if (smfi_register(*am_callbacks_desc()) != MI_SUCCESS)
		fatal("smfi_register failed");
	open_socket(c);
	tcp_nodelay();
	drop_privileges(c->userid);
	/* Fail on the terminal, not after detaching: a trial engine (and
	 * report store, created as UserID) first. */
	engine = engine_setup(c, &dns);
	if ((g = gen_with_reporter(c, 0, dns, engine, &why)) == NULL)
		fatal("ReportStore %s: %s", c->report_store, am_buf_str(&why));
	am_gen_free(g);
	pidfd = pidfile_open(c->pidfile);
	if (!foreground)
		daemonize();
	pidfile_write(pidfd, c->pidfile);
	engine = engine_setup(c, &dns);
	if ((g = gen_with_reporter(c, 0, dns, engine, &why)) == NULL)
		fatal("ReportStore %s: %s", c->report_store, am_buf_str(&why));
	am_gen_install(g, on_retired_idle);
	am_stats_http_start(stats);
	log_info("authmilter %s listening on %s", PACKAGE_VERSION, c->socket);
	left = serve(path);
	stats = am_stats_http_stop(stats);
	if (c->pidfile != NULL && *c->pidfile != '\0')
		(void)unlink(c->pidfile);
	/* libmilter removes a unix socket only when smfi_main() has returned,
	 * which serve() does not wait for: remove ours (start-up made sure
	 * no other daemon had it). */
	if (strncmp(c->socket, "unix:", 5) == 0 || strncmp(c->socket, "local:", 6) == 0)
		(void)unlink(strchr(c->socket, ':') + 1);
	if (left > 0) {
		/* Threads may still be inside an engine: no exit handlers. */
		fflush(NULL);
		_exit(0);
	}
	return milter_failed;
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
		/*
		 * Also what the engine reads at start: PSL, key files, servers,
		 * read as the daemon reads them: as UserID when started as root.
		 */
		if (*conf->socket_group != '\0' && getgrnam(conf->socket_group) == NULL)
			fatal("SocketGroup: no such group \"%s\"", conf->socket_group);
		if (geteuid() == 0)
			drop_privileges(conf->userid);
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
