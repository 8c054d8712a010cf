/*
 * log.h - leveled logging to stderr or a user callback (see onyx.h). Never to stdout.
 */
#ifndef ONYX_CORE_LOG_H
#define ONYX_CORE_LOG_H

#include "onyx/onyx.h"

/* Emit when level >= the process level or >= session_level (pass ONYX_LOG_FATAL + 1 for none). */
void onyx_log(onyx_log_level session_level, onyx_log_level level, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Whether a message at level would be emitted. */
int onyx_log_enabled(onyx_log_level session_level, onyx_log_level level);

#endif
