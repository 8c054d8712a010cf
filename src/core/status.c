/*
 * status.c - per-thread error messages (see status.h).
 */
#include "core/status.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

static _Thread_local char error_message[ONYX_ERROR_CAPACITY];

onyx_status onyx_error(onyx_status status, const char *fmt, ...) {
    va_list args;
    va_start(args, fmt);
    vsnprintf(error_message, sizeof error_message, fmt, args);
    va_end(args);
    return status;
}

onyx_status onyx_error_prefix(onyx_status status, const char *fmt, ...) {
    char prefix[512];
    va_list args;
    va_start(args, fmt);
    int n = vsnprintf(prefix, sizeof prefix, fmt, args);
    va_end(args);
    if (n < 0) return status;
    size_t plen = strlen(prefix);
    size_t mlen = strlen(error_message);
    if (plen + mlen + 1 > sizeof error_message) mlen = sizeof error_message - plen - 1;
    memmove(error_message + plen, error_message, mlen);
    memcpy(error_message, prefix, plen);
    error_message[plen + mlen] = '\0';
    return status;
}

void onyx_error_clear(void) { error_message[0] = '\0'; }

const char *onyx_last_error(void) { return error_message; }

const char *onyx_status_name(onyx_status status) {
    switch (status) {
    case ONYX_OK: return "OK";
    case ONYX_ERR_INVALID_ARGUMENT: return "INVALID_ARGUMENT";
    case ONYX_ERR_INVALID_MODEL: return "INVALID_MODEL";
    case ONYX_ERR_NOT_IMPLEMENTED: return "NOT_IMPLEMENTED";
    case ONYX_ERR_OUT_OF_MEMORY: return "OUT_OF_MEMORY";
    case ONYX_ERR_IO: return "IO";
    case ONYX_ERR_NO_PROVIDER: return "NO_PROVIDER";
    case ONYX_ERR_RUNTIME: return "RUNTIME";
    }
    return "UNKNOWN_STATUS";
}
