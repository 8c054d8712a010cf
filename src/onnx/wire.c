/*
 * wire.c - the protobuf wire-format reader (see wire.h). Every read checks the bytes left
 * before touching them, so no input can make it read outside [pos,end).
 */
#include "onnx/wire.h"

#include <string.h>

#include "core/status.h"

void onyx_wire_init(onyx_wire *w, const void *data, size_t size) {
    w->base = data;
    w->pos = data;
    w->end = w->pos + size;
}

onyx_wire onyx_wire_sub(const onyx_wire *w, const onyx_wire_field *f) {
    onyx_wire sub = {w->base, f->data, f->data + f->size};
    return sub;
}

const char *onyx_wire_type_name(int wire_type) {
    switch (wire_type) {
    case 0: return "varint";
    case 1: return "64-bit";
    case 2: return "length-delimited";
    case 3: return "start-group";
    case 4: return "end-group";
    case 5: return "32-bit";
    }
    return "undefined";
}

onyx_status onyx_wire_varint(onyx_wire *w, uint64_t *out) {
    const uint8_t *start = w->pos;
    uint64_t value = 0;
    for (int i = 0; i < 10; i++) {
        if (w->pos >= w->end)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "truncated varint at byte %zu",
                              onyx_wire_offset(w, start));
        uint8_t byte = *w->pos++;
        if (i == 9 && byte > 1)
            return onyx_error(ONYX_ERR_INVALID_MODEL, "varint at byte %zu overflows 64 bits",
                              onyx_wire_offset(w, start));
        value |= (uint64_t)(byte & 0x7f) << (7 * i);
        if (!(byte & 0x80)) {
            *out = value;
            return ONYX_OK;
        }
    }
    return onyx_error(ONYX_ERR_INVALID_MODEL, "varint at byte %zu is longer than 10 bytes",
                      onyx_wire_offset(w, start));
}

static uint64_t load_le(const uint8_t *p, int n) {
    uint64_t v = 0;
    for (int i = n - 1; i >= 0; i--) v = (v << 8) | p[i];
    return v;
}

onyx_status onyx_wire_next(onyx_wire *w, onyx_wire_field *f) {
    memset(f, 0, sizeof *f);
    f->offset = onyx_wire_offset(w, w->pos);
    uint64_t tag;
    ONYX_TRY(onyx_wire_varint(w, &tag));
    uint64_t number = tag >> 3;
    f->wire_type = (int)(tag & 7);
    if (number == 0 || number > 536870911u)
        return onyx_error(ONYX_ERR_INVALID_MODEL, "invalid field number %llu at byte %zu",
                          (unsigned long long)number, f->offset);
    f->number = (uint32_t)number;
    size_t left;
    switch (f->wire_type) {
    case ONYX_WIRE_VARINT:
        return onyx_wire_varint(w, &f->value);
    case ONYX_WIRE_FIXED64:
    case ONYX_WIRE_FIXED32: {
        int n = f->wire_type == ONYX_WIRE_FIXED64 ? 8 : 4;
        if ((size_t)(w->end - w->pos) < (size_t)n)
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "field %u at byte %zu: %d-byte value truncated (%zu bytes left)",
                              f->number, f->offset, n, (size_t)(w->end - w->pos));
        f->value = load_le(w->pos, n);
        w->pos += n;
        return ONYX_OK;
    }
    case ONYX_WIRE_LEN: {
        uint64_t len;
        ONYX_TRY(onyx_wire_varint(w, &len));
        left = (size_t)(w->end - w->pos);
        if (len > left)
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "field %u at byte %zu: length %llu runs past the end of its message "
                              "(%zu bytes left)",
                              f->number, f->offset, (unsigned long long)len, left);
        f->data = w->pos;
        f->size = (size_t)len;
        w->pos += len;
        return ONYX_OK;
    }
    case 3:
    case 4:
        return onyx_error(ONYX_ERR_INVALID_MODEL,
                          "field %u at byte %zu uses the %s wire type (groups are not supported)",
                          f->number, f->offset, onyx_wire_type_name(f->wire_type));
    default:
        return onyx_error(ONYX_ERR_INVALID_MODEL, "field %u at byte %zu has invalid wire type %d",
                          f->number, f->offset, f->wire_type);
    }
}

onyx_status onyx_wire_expect(const onyx_wire_field *f, int wire_type, const char *what) {
    if (f->wire_type == wire_type) return ONYX_OK;
    return onyx_error(ONYX_ERR_INVALID_MODEL,
                      "%s (field %u) at byte %zu has wire type %s, expected %s", what, f->number,
                      f->offset, onyx_wire_type_name(f->wire_type), onyx_wire_type_name(wire_type));
}

static size_t elem_bytes(int elem_wire_type) {
    return elem_wire_type == ONYX_WIRE_FIXED32 ? 4 : elem_wire_type == ONYX_WIRE_FIXED64 ? 8 : 0;
}

static void store(void *out, size_t out_size, size_t index, uint64_t v) {
    uint8_t *p = (uint8_t *)out + index * out_size;
    for (size_t b = 0; b < out_size; b++) p[b] = (uint8_t)(v >> (8 * b));
}

/* Walk field number of msg, counting (out == NULL) or storing its elements. */
static onyx_status walk_repeated(const onyx_wire *msg, uint32_t number, int elem_wire_type,
                                 const char *what, void *out, size_t out_size, size_t capacity,
                                 size_t *count) {
    onyx_wire w = *msg;
    size_t n = 0;
    size_t fixed = elem_bytes(elem_wire_type);
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        ONYX_TRY(onyx_wire_next(&w, &f));
        if (f.number != number) continue;
        if (f.wire_type == elem_wire_type) {
            if (out) {
                if (n >= capacity) break;
                store(out, out_size, n, f.value);
            }
            n++;
        } else if (f.wire_type == ONYX_WIRE_LEN) {
            if (fixed) {
                if (f.size % fixed)
                    return onyx_error(ONYX_ERR_INVALID_MODEL,
                                      "packed %s at byte %zu has %zu bytes, not a multiple of %zu",
                                      what, f.offset, f.size, fixed);
                size_t k = f.size / fixed;
                if (out) {
                    if (k > capacity - n) k = capacity - n;
                    if (out_size == fixed && k) /* same width: the bytes are already little-endian */
                        memcpy((uint8_t *)out + n * out_size, f.data, k * fixed);
                    else
                        for (size_t i = 0; i < k; i++)
                            store(out, out_size, n + i, load_le(f.data + i * fixed, (int)fixed));
                }
                n += k;
            } else {
                onyx_wire run = onyx_wire_sub(&w, &f);
                while (!onyx_wire_done(&run)) {
                    uint64_t v;
                    ONYX_TRY(onyx_wire_varint(&run, &v));
                    if (out) {
                        if (n >= capacity) break;
                        store(out, out_size, n, v);
                    }
                    n++;
                }
            }
        } else {
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "%s (field %u) at byte %zu has wire type %s, expected %s or packed",
                              what, f.number, f.offset, onyx_wire_type_name(f.wire_type),
                              onyx_wire_type_name(elem_wire_type));
        }
    }
    if (count) *count += n;
    return ONYX_OK;
}

onyx_status onyx_wire_count_repeated(const onyx_wire *msg, uint32_t number, int elem_wire_type,
                                     const char *what, size_t *count) {
    return walk_repeated(msg, number, elem_wire_type, what, NULL, 0, 0, count);
}

onyx_status onyx_wire_read_repeated(const onyx_wire *msg, uint32_t number, int elem_wire_type,
                                    const char *what, void *out, size_t out_size, size_t capacity) {
    return walk_repeated(msg, number, elem_wire_type, what, out, out_size, capacity, NULL);
}
