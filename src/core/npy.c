/*
 * npy.c - NumPy .npy reading and writing (see npy.h).
 *
 * Layout: the magic "\x93NUMPY", a major and minor version byte, the header length (2 bytes
 * little-endian in version 1.0, 4 bytes in 2.0 and 3.0), then a Python dict literal such as
 * {'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), } padded with spaces and a
 * newline, then the raw C-order elements. The header is parsed by a small scanner that accepts
 * exactly the literals NumPy writes; every length is checked against the bytes present.
 */
#include "core/npy.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "core/tensor.h"

static const struct {
    const char *code; /* descr without the byte-order character */
    onyx_dtype dtype;
} npy_types[] = {
    {"f4", ONYX_DTYPE_FLOAT32}, {"f8", ONYX_DTYPE_FLOAT64}, {"f2", ONYX_DTYPE_FLOAT16},
    {"i8", ONYX_DTYPE_INT64},   {"i4", ONYX_DTYPE_INT32},   {"i2", ONYX_DTYPE_INT16},
    {"i1", ONYX_DTYPE_INT8},    {"u1", ONYX_DTYPE_UINT8},   {"u2", ONYX_DTYPE_UINT16},
    {"u4", ONYX_DTYPE_UINT32},  {"u8", ONYX_DTYPE_UINT64},  {"b1", ONYX_DTYPE_BOOL},
    {"c8", ONYX_DTYPE_COMPLEX64}, {"c16", ONYX_DTYPE_COMPLEX128},
};

/* ---- header scanner ---- */

typedef struct scanner {
    const char *pos, *end;
    const char *file;
} scanner;

static void skip_space(scanner *s) {
    while (s->pos < s->end && (*s->pos == ' ' || *s->pos == '\t' || *s->pos == '\n' || *s->pos == '\r'))
        s->pos++;
}

static int accept(scanner *s, char c) {
    skip_space(s);
    if (s->pos < s->end && *s->pos == c) {
        s->pos++;
        return 1;
    }
    return 0;
}

/* A quoted string ('...' or "..."), no escapes (NumPy writes none in headers). */
static int scan_string(scanner *s, const char **out, size_t *len) {
    skip_space(s);
    if (s->pos >= s->end || (*s->pos != '\'' && *s->pos != '"')) return -1;
    char quote = *s->pos++;
    const char *start = s->pos;
    while (s->pos < s->end && *s->pos != quote) s->pos++;
    if (s->pos >= s->end) return -1;
    *out = start;
    *len = (size_t)(s->pos - start);
    s->pos++;
    return 0;
}

static int scan_word(scanner *s, const char *word) {
    skip_space(s);
    size_t n = strlen(word);
    if ((size_t)(s->end - s->pos) >= n && memcmp(s->pos, word, n) == 0) {
        s->pos += n;
        return 1;
    }
    return 0;
}

static onyx_status header_error(scanner *s, const char *what) {
    return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: malformed .npy header: %s", s->file, what);
}

/* (d0, d1, ...) with an optional trailing comma; () is a scalar. */
static onyx_status scan_shape(scanner *s, int64_t *dims, int *rank) {
    *rank = 0;
    if (!accept(s, '(')) return header_error(s, "'shape' is not a tuple");
    for (;;) {
        if (accept(s, ')')) return ONYX_OK;
        skip_space(s);
        if (s->pos >= s->end || *s->pos < '0' || *s->pos > '9')
            return header_error(s, "'shape' has an entry that is not a non-negative integer");
        int64_t v = 0;
        while (s->pos < s->end && *s->pos >= '0' && *s->pos <= '9') {
            int d = *s->pos++ - '0';
            if (v > (INT64_MAX - d) / 10) return header_error(s, "a 'shape' entry overflows int64");
            v = v * 10 + d;
        }
        while (s->pos < s->end && (*s->pos == 'L')) s->pos++; /* Python 2 longs */
        if (*rank >= ONYX_MAX_RANK)
            return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: .npy array has more than %d dims",
                              s->file, ONYX_MAX_RANK);
        dims[(*rank)++] = v;
        if (accept(s, ')')) return ONYX_OK;
        if (!accept(s, ',')) return header_error(s, "'shape' entries are not separated by commas");
    }
}

static onyx_status parse_header(scanner *s, onyx_dtype *dtype, int64_t *dims, int *rank) {
    int have_descr = 0, have_order = 0, have_shape = 0;
    if (!accept(s, '{')) return header_error(s, "it does not start with '{'");
    while (!accept(s, '}')) {
        const char *key;
        size_t key_len;
        if (scan_string(s, &key, &key_len)) return header_error(s, "expected a quoted key");
        if (!accept(s, ':')) return header_error(s, "expected ':' after a key");
        if (key_len == 5 && memcmp(key, "descr", 5) == 0) {
            const char *descr;
            size_t len;
            if (scan_string(s, &descr, &len)) return header_error(s, "'descr' is not a string");
            if (len < 2 || len > 8) return header_error(s, "'descr' is not a simple type code");
            char order = descr[0];
            char code[8];
            memcpy(code, descr + 1, len - 1);
            code[len - 1] = '\0';
            if (order == '>')
                return onyx_error(ONYX_ERR_NOT_IMPLEMENTED,
                                  "%s: big-endian .npy data ('%.*s') is not supported; save it "
                                  "little-endian (arr.astype(arr.dtype.newbyteorder('<')))",
                                  s->file, (int)len, descr);
            if (order != '<' && order != '|' && order != '=')
                return header_error(s, "'descr' does not start with '<', '|' or '='");
            size_t k;
            for (k = 0; k < sizeof npy_types / sizeof npy_types[0]; k++)
                if (strcmp(npy_types[k].code, code) == 0) break;
            if (k == sizeof npy_types / sizeof npy_types[0])
                return onyx_error(ONYX_ERR_NOT_IMPLEMENTED,
                                  "%s: .npy dtype '%.*s' is not supported (expected one of <f4 <f8 "
                                  "<f2 <i8 <i4 <i2 |i1 |u1 <u2 <u4 <u8 |b1 <c8 <c16)",
                                  s->file, (int)len, descr);
            *dtype = npy_types[k].dtype;
            have_descr = 1;
        } else if (key_len == 13 && memcmp(key, "fortran_order", 13) == 0) {
            if (scan_word(s, "True"))
                return onyx_error(ONYX_ERR_NOT_IMPLEMENTED,
                                  "%s: .npy array is in Fortran (column-major) order; save it with "
                                  "np.ascontiguousarray first",
                                  s->file);
            if (!scan_word(s, "False")) return header_error(s, "'fortran_order' is not True or False");
            have_order = 1;
        } else if (key_len == 5 && memcmp(key, "shape", 5) == 0) {
            ONYX_TRY(scan_shape(s, dims, rank));
            have_shape = 1;
        } else {
            return header_error(s, "unknown key (expected 'descr', 'fortran_order', 'shape')");
        }
        if (accept(s, '}')) break;
        if (!accept(s, ',')) return header_error(s, "entries are not separated by commas");
    }
    if (!have_descr || !have_order || !have_shape)
        return header_error(s, "it lacks one of 'descr', 'fortran_order', 'shape'");
    return ONYX_OK;
}

onyx_status onyx_npy_read_memory(const void *data, size_t size, const char *display_name,
                                  onyx_tensor **out) {
    *out = NULL;
    const char *file = display_name ? display_name : "<memory>";
    const uint8_t *bytes = data;
    if (!bytes && size) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: data is NULL", file);
    if (size < 10 || memcmp(bytes, "\x93NUMPY", 6) != 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: not a .npy file (no \\x93NUMPY magic)",
                          file);
    int major = bytes[6];
    size_t header_len, header_start;
    if (major == 1) {
        header_len = (size_t)bytes[8] | (size_t)bytes[9] << 8;
        header_start = 10;
    } else if (major == 2 || major == 3) {
        if (size < 12)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: .npy header is truncated", file);
        header_len = (size_t)bytes[8] | (size_t)bytes[9] << 8 | (size_t)bytes[10] << 16 |
                     (size_t)bytes[11] << 24;
        header_start = 12;
    } else {
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "%s: .npy format version %d.%d is not supported",
                          file, major, bytes[7]);
    }
    if (header_len > size - header_start)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "%s: .npy header length %zu runs past the end of the file (%zu bytes)",
                          file, header_len, size);
    scanner s = {(const char *)bytes + header_start,
                 (const char *)bytes + header_start + header_len, file};
    onyx_dtype dtype = ONYX_DTYPE_UNDEFINED;
    int64_t dims[ONYX_MAX_RANK];
    int rank = 0;
    ONYX_TRY(parse_header(&s, &dtype, dims, &rank));
    size_t data_start = header_start + header_len;
    size_t have = size - data_start;
    int64_t numel = onyx_shape_numel(dims, rank);
    size_t need;
    char shape[200];
    if (numel < 0 || (uint64_t)numel > SIZE_MAX ||
        onyx_mul_size((size_t)numel, onyx_dtype_size(dtype), &need))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: .npy shape %s is too large", file,
                          onyx_shape_describe(dims, rank, shape, sizeof shape));
    if (have < need)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "%s: .npy data is truncated: %s %s needs %zu bytes, the file has %zu",
                          file, onyx_dtype_name(dtype),
                          onyx_shape_describe(dims, rank, shape, sizeof shape), need, have);
    onyx_tensor *t;
    ONYX_TRY(onyx_tensor_new(dtype, dims, rank, &t));
    if (need) memcpy(t->data, bytes + data_start, need);
    *out = t;
    return ONYX_OK;
}

onyx_status onyx_npy_read_file(const char *path, onyx_tensor **out) {
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f) return onyx_error(ONYX_ERR_IO, "cannot open '%s': %s", path, strerror(errno));
    onyx_status st = ONYX_OK;
    long size = -1;
    if (fseek(f, 0, SEEK_END) == 0) size = ftell(f);
    if (size < 0 || fseek(f, 0, SEEK_SET) != 0)
        st = onyx_error(ONYX_ERR_IO, "cannot read '%s': %s", path, strerror(errno));
    uint8_t *buf = NULL;
    if (st == ONYX_OK) {
        buf = onyx_malloc((size_t)size ? (size_t)size : 1);
        if (!buf) st = ONYX_ERR_OUT_OF_MEMORY;
    }
    if (st == ONYX_OK && fread(buf, 1, (size_t)size, f) != (size_t)size)
        st = onyx_error(ONYX_ERR_IO, "cannot read %ld bytes from '%s'", size, path);
    fclose(f);
    if (st == ONYX_OK) st = onyx_npy_read_memory(buf, (size_t)size, path, out);
    onyx_free(buf);
    return st;
}

onyx_status onyx_npy_write_file(const char *path, const onyx_tensor *t) {
    const char *code = NULL;
    for (size_t k = 0; k < sizeof npy_types / sizeof npy_types[0]; k++)
        if (npy_types[k].dtype == t->dtype) code = npy_types[k].code;
    if (!code)
        return onyx_error(ONYX_ERR_NOT_IMPLEMENTED, "cannot write a %s tensor as .npy to '%s'",
                          onyx_dtype_name(t->dtype), path);
    if (t->device != ONYX_DEVICE_CPU)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "cannot write a device tensor to '%s'", path);
    char order = onyx_dtype_size(t->dtype) == 1 ? '|' : '<';
    char header[1024];
    int n = snprintf(header, sizeof header, "{'descr': '%c%s', 'fortran_order': False, 'shape': (",
                     order, code);
    for (int i = 0; i < t->rank; i++)
        n += snprintf(header + n, sizeof header - (size_t)n, "%lld%s", (long long)t->dims[i],
                      t->rank == 1 ? "," : i + 1 < t->rank ? ", " : "");
    n += snprintf(header + n, sizeof header - (size_t)n, "), }");
    /* pad with spaces so that magic + version + length + header is a multiple of 64 */
    size_t total = 10 + (size_t)n + 1;
    size_t padded = (total + 63) / 64 * 64;
    size_t header_len = padded - 10;
    memset(header + n, ' ', header_len - 1 - (size_t)n);
    header[header_len - 1] = '\n';
    uint8_t prefix[10] = {0x93, 'N', 'U', 'M', 'P', 'Y', 1, 0, (uint8_t)(header_len & 0xff),
                          (uint8_t)(header_len >> 8)};
    FILE *f = fopen(path, "wb");
    if (!f) return onyx_error(ONYX_ERR_IO, "cannot create '%s': %s", path, strerror(errno));
    int ok = fwrite(prefix, 1, 10, f) == 10 && fwrite(header, 1, header_len, f) == header_len &&
             (t->nbytes == 0 || fwrite(t->data, 1, t->nbytes, f) == t->nbytes);
    if (fclose(f) != 0) ok = 0;
    if (!ok) return onyx_error(ONYX_ERR_IO, "cannot write '%s': %s", path, strerror(errno));
    return ONYX_OK;
}
