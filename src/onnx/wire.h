/*
 * wire.h - a protobuf wire-format reader over a byte range, with no protobuf runtime.
 *
 * A cursor walks [pos,end) of a buffer whose first byte is base, so every error can report the
 * absolute byte offset in the file. Fields come out one at a time (number, wire type, and either
 * the varint/fixed value or the bytes of a length-delimited field, which point into the buffer:
 * nothing is copied). Groups (wire types 3, 4) and the undefined wire types 6, 7 are errors.
 * Repeated numeric fields are read in both encodings, packed (one length-delimited run) and
 * unpacked (one field per element), as protobuf requires of parsers.
 */
#ifndef ONYX_ONNX_WIRE_H
#define ONYX_ONNX_WIRE_H

#include <stddef.h>
#include <stdint.h>

#include "onyx/onyx.h"

enum {
    ONYX_WIRE_VARINT = 0,
    ONYX_WIRE_FIXED64 = 1,
    ONYX_WIRE_LEN = 2,
    ONYX_WIRE_FIXED32 = 5
};

typedef struct onyx_wire {
    const uint8_t *base; /* byte 0 of the whole buffer, for offsets in messages */
    const uint8_t *pos;
    const uint8_t *end;
} onyx_wire;

typedef struct onyx_wire_field {
    uint32_t number;
    int wire_type;
    uint64_t value;      /* VARINT, FIXED64 and FIXED32 fields */
    const uint8_t *data; /* LEN fields: the payload, size bytes */
    size_t size;
    size_t offset;       /* absolute offset of the field's tag */
} onyx_wire_field;

/* A cursor over size bytes at data; data is also the base for offsets. */
void onyx_wire_init(onyx_wire *w, const void *data, size_t size);
/* A cursor over the payload of a LEN field, sharing w's base. */
onyx_wire onyx_wire_sub(const onyx_wire *w, const onyx_wire_field *f);
/* Absolute offset of p in the buffer. */
static inline size_t onyx_wire_offset(const onyx_wire *w, const uint8_t *p) {
    return (size_t)(p - w->base);
}
static inline int onyx_wire_done(const onyx_wire *w) { return w->pos >= w->end; }

/* Read one varint (at most 10 bytes; errors on truncation and on values past 64 bits). */
onyx_status onyx_wire_varint(onyx_wire *w, uint64_t *out);
/* Read the next field into *f (its payload consumed). Call only when !onyx_wire_done(w). */
onyx_status onyx_wire_next(onyx_wire *w, onyx_wire_field *f);

/* Error unless f has the wire type wanted; what names the field ("TensorProto.dims"). */
onyx_status onyx_wire_expect(const onyx_wire_field *f, int wire_type, const char *what);

/* Repeated scalar fields. elem_wire_type is VARINT, FIXED32 or FIXED64. A field with that wire
 * type is one element; a LEN field is a packed run. count_repeated adds the elements of field
 * number in message msg to *count; read_repeated stores them (each truncated to out_size bytes,
 * 1, 2, 4 or 8, little-endian) into out, which holds capacity elements. */
onyx_status onyx_wire_count_repeated(const onyx_wire *msg, uint32_t number, int elem_wire_type,
                                     const char *what, size_t *count);
onyx_status onyx_wire_read_repeated(const onyx_wire *msg, uint32_t number, int elem_wire_type,
                                    const char *what, void *out, size_t out_size, size_t capacity);

/* Name of a wire type for messages ("varint", "64-bit", "length-delimited", ...). */
const char *onyx_wire_type_name(int wire_type);

#endif
