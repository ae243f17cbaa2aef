/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * check: "authmilter --check FILE": run one message through the same engine
 * the daemon uses and print what the daemon would do.
 */
#ifndef AM_CHECK_H
#define AM_CHECK_H

#include "msg.h"

struct am_check_args {
	const char *file;         /* message file, "-" for standard input */
	const char *client_ip;
	const char *helo;
	const char *mail_from;
	const char *rcpt;
	const char *auth_user;
};

/* Run the check and print the verdict on stdout; the exit status. */
int am_check_run(struct am_engine *e, const struct am_check_args *a);

#endif
