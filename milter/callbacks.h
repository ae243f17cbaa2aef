/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * callbacks: the libmilter callbacks. They only translate: SMFICTX in,
 * am_msg_* calls, the verdict out as SMFIS_* and header changes.
 */
#ifndef AM_CALLBACKS_H
#define AM_CALLBACKS_H

#include <libmilter/mfapi.h>

#include "msg.h"

/* The engine all callbacks use; set once before smfi_main(). */
void am_callbacks_set_engine(struct am_engine *e);
/* The filter description for smfi_register(). */
struct smfiDesc *am_callbacks_desc(void);

#endif
