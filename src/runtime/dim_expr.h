/*
 * dim_expr.h - evaluate a symbolic dim's text (a name or an expression of names and integers)
 * for given values of the names. See dim_expr.c for the grammar.
 */
#ifndef ONYX_RUNTIME_DIM_EXPR_H
#define ONYX_RUNTIME_DIM_EXPR_H

#include <stddef.h>
#include <stdint.h>

#include "onyx/onyx.h"

/* *out = the value of text with names[i] = values[i] (n pairs). ONYX_ERR_INVALID_ARGUMENT names
 * a symbol without a value, a syntax error (with its position), division by zero or overflow. */
onyx_status onyx_dim_expr_eval(const char *text, const char *const *names, const int64_t *values, size_t n,
                               int64_t *out);

#endif
