/*
 * dim_expr.c - the value of a symbolic dim as exports write them: a name ("batch_size"), or an
 * expression of names and integers ("past_sequence_length + sequence_length", "2*s0 + 1",
 * "(s1 - 1) // 2 + 1"), with + - * and floor division (/ or //), unary minus and parentheses,
 * by the usual precedence. Names take the caller's values (onyx_session_output_shape).
 *
 * Grammar: expr = term {("+" | "-") term}; term = unary {("*" | "/" | "//") unary};
 * unary = "-" unary | primary; primary = integer | name | "(" expr ")".
 */
#include <ctype.h>
#include <stdio.h>
#include <string.h>

#include "core/status.h"
#include "runtime/dim_expr.h"

typedef struct dim_parser {
    const char *text, *p;
    const char *const *names;
    const int64_t *values;
    size_t n;
    onyx_status st;
} dim_parser;

static void skip_space(dim_parser *d) {
    while (*d->p == ' ' || *d->p == '\t') d->p++;
}

static int64_t fail(dim_parser *d, onyx_status st, const char *what) {
    if (d->st == ONYX_OK)
        d->st = onyx_error(st, "dim '%s': %s at character %d", d->text, what, (int)(d->p - d->text) + 1);
    return 0;
}

static int64_t parse_expr(dim_parser *d, int depth);

static int64_t parse_primary(dim_parser *d, int depth) {
    skip_space(d);
    if (depth > 64) return fail(d, ONYX_ERR_INVALID_ARGUMENT, "nested too deeply");
    if (*d->p == '(') {
        d->p++;
        int64_t v = parse_expr(d, depth + 1);
        skip_space(d);
        if (*d->p != ')') return fail(d, ONYX_ERR_INVALID_ARGUMENT, "expected ')'");
        d->p++;
        return v;
    }
    if (isdigit((unsigned char)*d->p)) {
        int64_t v = 0;
        while (isdigit((unsigned char)*d->p)) {
            int digit = *d->p - '0';
            if (v > (INT64_MAX - digit) / 10) return fail(d, ONYX_ERR_INVALID_ARGUMENT, "integer too large");
            v = v * 10 + digit;
            d->p++;
        }
        return v;
    }
    if (isalpha((unsigned char)*d->p) || *d->p == '_') {
        const char *start = d->p;
        while (isalnum((unsigned char)*d->p) || *d->p == '_' || *d->p == '.') d->p++;
        size_t len = (size_t)(d->p - start);
        for (size_t i = 0; i < d->n; i++)
            if (d->names[i] && strlen(d->names[i]) == len && memcmp(d->names[i], start, len) == 0) return d->values[i];
        if (d->st == ONYX_OK)
            d->st = onyx_error(ONYX_ERR_INVALID_ARGUMENT, "dim '%s': no value given for '%.*s'", d->text, (int)len, start);
        return 0;
    }
    return fail(d, ONYX_ERR_INVALID_ARGUMENT, *d->p ? "unexpected character" : "unexpected end");
}

static int64_t parse_unary(dim_parser *d, int depth) {
    skip_space(d);
    if (depth > 64) return fail(d, ONYX_ERR_INVALID_ARGUMENT, "nested too deeply");
    if (*d->p == '-') {
        d->p++;
        int64_t v = parse_unary(d, depth + 1);
        if (v == INT64_MIN) return fail(d, ONYX_ERR_INVALID_ARGUMENT, "overflow");
        return -v;
    }
    return parse_primary(d, depth);
}

static int64_t floor_div(dim_parser *d, int64_t a, int64_t b) {
    if (b == 0) return fail(d, ONYX_ERR_INVALID_ARGUMENT, "division by zero");
    if (a == INT64_MIN && b == -1) return fail(d, ONYX_ERR_INVALID_ARGUMENT, "overflow");
    int64_t q = a / b;
    if ((a % b != 0) && ((a < 0) != (b < 0))) q--;
    return q;
}

static int64_t parse_term(dim_parser *d, int depth) {
    int64_t v = parse_unary(d, depth);
    for (;;) {
        skip_space(d);
        if (*d->p == '*') {
            d->p++;
            int64_t r = parse_unary(d, depth);
            if (__builtin_mul_overflow(v, r, &v)) return fail(d, ONYX_ERR_INVALID_ARGUMENT, "overflow");
        } else if (*d->p == '/') {
            d->p += d->p[1] == '/' ? 2 : 1;
            v = floor_div(d, v, parse_unary(d, depth));
        } else {
            return v;
        }
    }
}

static int64_t parse_expr(dim_parser *d, int depth) {
    int64_t v = parse_term(d, depth);
    for (;;) {
        skip_space(d);
        char op = *d->p;
        if (op != '+' && op != '-') return v;
        d->p++;
        int64_t r = parse_term(d, depth);
        if (op == '+' ? __builtin_add_overflow(v, r, &v) : __builtin_sub_overflow(v, r, &v))
            return fail(d, ONYX_ERR_INVALID_ARGUMENT, "overflow");
    }
}

onyx_status onyx_dim_expr_eval(const char *text, const char *const *names, const int64_t *values, size_t n,
                               int64_t *out) {
    dim_parser d = {text, text, names, values, n, ONYX_OK};
    int64_t v = parse_expr(&d, 0);
    skip_space(&d);
    if (d.st == ONYX_OK && *d.p) fail(&d, ONYX_ERR_INVALID_ARGUMENT, "unexpected character");
    if (d.st != ONYX_OK) return d.st;
    *out = v;
    return ONYX_OK;
}
