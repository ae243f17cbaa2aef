/* SPDX-License-Identifier: BSD-2-Clause */
/*
 * callbacks: the libmilter callbacks. They only translate: SMFICTX in,
 * am_msg_* calls, the verdict out as SMFIS_* and header changes.
 */
#ifndef AM_CALLBACKS_H
#define AM_CALLBACKS_H

#include <libmilter/mfapi.h>

#include "msg.h"

/*
 * Messages run on the current generation of gen.h (am_gen_acquire()); one
 * that gets none, or no memory, is tempfailed at end of message.
 */
/* The filter description for smfi_register(). */
struct smfiDesc *am_callbacks_desc(void);

#endif
