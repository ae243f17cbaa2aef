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

/* The sendmail transport: run the command, write to its standard input. */
static int
via_sendmail(const char *cmdline, const char *from, const char *rcpt,
    am_report_writer write, void *arg, struct am_buf *why)
{
	char *buf, *argv[ARGV_MAX + 5];
	int fds[2], n, status, rc;
	FILE *out;
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
	if (pipe(fds) != 0 || (pid = fork()) < 0) {
		am_buf_setf(why, "cannot run %s: %s", argv[0], strerror(errno));
		free(buf);
		return -1;
	}
	if (pid == 0) {
		dup2(fds[0], 0);
		close(fds[0]);
		close(fds[1]);
		execv(argv[0], argv);
		_exit(127);
	}
	close(fds[0]);
	rc = -1;
	if ((out = fdopen(fds[1], "w")) != NULL) {
		rc = write(arg, out, why);
		if (fclose(out) != 0)
			rc = -1;
	} else {
		close(fds[1]);
	}
	while (waitpid(pid, &status, 0) < 0 && errno == EINTR)
		;
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
		am_buf_setf(why, "%s exited with status %d", argv[0],
		    WIFEXITED(status) ? WEXITSTATUS(status) : -1);
		rc = -1;
	} else if (rc != 0) {
		am_buf_setf(why, "writing to %s failed", argv[0]);
	}
	free(buf);
	return rc;
}

/* The SMTP transport: the message into a temporary file, then sent. */
static int
via_smtp(const struct am_report_transport *t, const char *from,
    const char *rcpt, am_report_writer write, void *arg, struct am_buf *why)
{
	FILE *tmp;
	int rc;

	if ((tmp = tmpfile()) == NULL) {
		am_buf_setf(why, "temporary file: %s", strerror(errno));
		return -1;
	}
	rc = write(arg, tmp, why);
	if (rc == 0 && (fflush(tmp) != 0 || ferror(tmp))) {
		am_buf_setf(why, "writing the message to a temporary file "
		    "failed");
		rc = -1;
	}
	if (rc == 0) {
		rewind(tmp);
		rc = am_report_smtp_send(t, from, rcpt, tmp, why);
	}
	fclose(tmp);
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
