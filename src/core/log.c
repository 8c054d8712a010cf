/*
 * log.c - leveled logging (see log.h). The level and callback are process-wide atomics set by
 * the application; messages are formatted into a stack buffer.
 */
#include "core/log.h"

#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>

static atomic_int log_level = ONYX_LOG_WARNING;
static onyx_log_fn _Atomic log_callback;
static void *_Atomic log_user;

void onyx_log_set_level(onyx_log_level level) { atomic_store(&log_level, (int)level); }
onyx_log_level onyx_log_get_level(void) { return (onyx_log_level)atomic_load(&log_level); }

void onyx_log_set_callback(onyx_log_fn fn, void *user) {
    atomic_store(&log_user, user);
    atomic_store(&log_callback, fn);
}

int onyx_log_enabled(onyx_log_level session_level, onyx_log_level level) {
    return (int)level >= atomic_load(&log_level) || level >= session_level;
}

void onyx_log(onyx_log_level session_level, onyx_log_level level, const char *fmt, ...) {
    if (!onyx_log_enabled(session_level, level)) return;
    char line[4096];
    va_list args;
    va_start(args, fmt);
    vsnprintf(line, sizeof line, fmt, args);
    va_end(args);
    onyx_log_fn fn = atomic_load(&log_callback);
    if (fn) {
        fn(atomic_load(&log_user), level, line);
        return;
    }
    static const char *names[] = {"verbose", "info", "warning", "error", "fatal"};
    fprintf(stderr, "onyx %s: %s\n", (unsigned)level < 5 ? names[level] : "log", line);
}
