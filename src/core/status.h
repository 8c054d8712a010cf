/*
 * status.h - setting the per-thread error message that onyx_last_error() returns.
 *
 * Every fallible internal function returns onyx_status. The function that detects a failure
 * formats the message once with onyx_error(); callers above it may prefix context with
 * onyx_error_prefix() ("node 'Add_3' (Add): " + the kernel's words). The buffer is a fixed
 * thread-local array, so reporting never allocates and out-of-memory can be reported.
 */
#ifndef ONYX_CORE_STATUS_H
#define ONYX_CORE_STATUS_H

#include "onyx/onyx.h"

#define ONYX_ERROR_CAPACITY 2048

/* Replace this thread's message with the formatted text; returns status. */
onyx_status onyx_error(onyx_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Put the formatted text in front of this thread's message; returns status. */
onyx_status onyx_error_prefix(onyx_status status, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
/* Clear this thread's message (called at the start of each public call). */
void onyx_error_clear(void);

/* Propagate a failing status. */
#define ONYX_TRY(expr)                                                                            \
    do {                                                                                          \
        onyx_status onyx_try_status_ = (expr);                                                    \
        if (onyx_try_status_ != ONYX_OK) return onyx_try_status_;                                 \
    } while (0)

#endif
