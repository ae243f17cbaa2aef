/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * report_send: the transports authmilter-report mails through. See
 * report_send.h. The SMTP client itself is report_smtp.c.
 */
#include <sys/types.h>
#include <sys/wait.h>

#include <errno.h>
#include <stdio.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "report_send.h"

#define ARGV_MAX 32

/* Split cmdline at white space into argv (pointers into buf). */
static int
split_argv(char *buf, char **argv, int max)
{
	int n = 0;
	char *p, *save = NULL;

	for (p = strtok_r(buf, " \t", &save); p != NULL && n < max;
	    p = strtok_r(NULL, " \t", &save))
		argv[n++] = p;
	return p == NULL ? n : -1;
}

/* The message into a temporary file, rewound: NULL with why on failure
 * (the writer's own reason when it failed). */
static FILE *
spool(am_report_writer write, void *arg, struct am_buf *why)
{
	FILE *tmp;

	if ((tmp = tmpfile()) == NULL) {
		am_buf_setf(why, "temporary file: %s", strerror(errno));
		return NULL;
	}
	if (write(arg, tmp, why) != 0) {
		fclose(tmp);
		return NULL;
	}
	if (fflush(tmp) != 0 || ferror(tmp) || fseek(tmp, 0, SEEK_SET) != 0) {
		am_buf_setf(why, "writing the message to a temporary file "
		    "failed");
		fclose(tmp);
		return NULL;
	}
	return tmp;
}

/*
 * The sendmail transport: the command reads the spooled message on its
 * standard input. The message is whole before the command starts: a
 * writer that fails half way must not leave sendmail a truncated message,
 * which it would send on end of input.
 */
static int
via_sendmail(const char *cmdline, const char *from, const char *rcpt,
    am_report_writer write, void *arg, struct am_buf *why)
{
	char *buf, *argv[ARGV_MAX + 5];
	int n, status;
	FILE *msg;
	pid_t pid;

	if ((buf = strdup(cmdline)) == NULL ||
	    (n = split_argv(buf, argv, ARGV_MAX)) <= 0) {
		am_buf_setf(why, "ReportSendmail: bad command \"%s\"", cmdline);
		free(buf);
		return -1;
	}
	argv[n++] = "-f";
	argv[n++] = (char *)(uintptr_t)from;
	argv[n++] = "--";
	argv[n++] = (char *)(uintptr_t)rcpt;
	argv[n] = NULL;
	if ((msg = spool(write, arg, why)) == NULL) {
		free(buf);
		return -1;
	}
	/* the child reads from the file's start through its own offset */
	if (lseek(fileno(msg), 0, SEEK_SET) != 0 || (pid = fork()) < 0) {
		am_buf_setf(why, "cannot run %s: %s", argv[0], strerror(errno));
		fclose(msg);
		free(buf);
		return -1;
	}
	if (pid == 0) {
		if (dup2(fileno(msg), 0) < 0)
			_exit(127);
		if (fileno(msg) != 0)
			close(fileno(msg));
		execv(argv[0], argv);
		_exit(127);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	fclose(msg);
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		am_buf_setf(why, "%s exited with status %d", argv[0],
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		free(buf);
		return -1;
	}
	free(buf);
	return 0;
}

/* The SMTP transport: the spooled message, so that a failing writer
 * never opens a session. */
static int
via_smtp(const struct am_report_transport *t, const char *from,
    const char *rcpt, am_report_writer write, void *arg, struct am_buf *why)
{
	FILE *msg;
	int rc;

	if ((msg = spool(write, arg, why)) == NULL)
		return -1;
	rc = am_report_smtp_send(t, from, rcpt, msg, why);
	fclose(msg);
	return rc;
}

int
am_report_deliver(const struct am_report_transport *t, const char *from,
    const char *rcpt, am_report_writer write, void *arg, struct am_buf *why)
{
	if (t->smtp_host != NULL && *t->smtp_host != '\0')
		return via_smtp(t, from, rcpt, write, arg, why);
	return via_sendmail(t->sendmail, from, rcpt, write, arg, why);
}
