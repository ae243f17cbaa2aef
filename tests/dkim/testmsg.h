/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * testmsg: helpers shared by the DKIM test programs (not part of lib/).
 *
 * am_test_msg_split() splits a message (CRLF line ends) into header fields
 * as the engine receives them (lib/hdr.h: name before the colon, raw value
 * after it, no final CRLF) and the offset of the body (after the empty
 * line; the end of data when there is none). Lines without a colon in the
 * header are skipped, as an MTA would refuse them.
 * am_test_lf2crlf() turns every bare LF into CRLF (malloc'd, caller frees).
 * am_test_readfile() reads a whole file (malloc'd, NUL added).
 * am_test_failing_dns() wraps inner (taken over): names in fail[] (copied)
 * answer TEMPFAIL, as a timed out server would.
 */
#ifndef AM_TESTMSG_H
#define AM_TESTMSG_H

#include <stddef.h>

#include "dns.h"
#include "hdr.h"

int am_test_msg_split(const char *data, size_t len, struct am_hdrs *h,
    size_t *body_off);
char *am_test_lf2crlf(const char *data, size_t len, size_t *outlen);
char *am_test_readfile(const char *path, size_t *len);
struct am_dns *am_test_failing_dns(struct am_dns *inner,
    const char *const *fail, size_t nfail);

#endif
