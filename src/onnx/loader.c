/*
 * loader.c - ONNX ModelProto / GraphProto / NodeProto / AttributeProto / TensorProto decoding
 * into onyx's IR (see loader.h), straight from the mapped bytes with the wire reader.
 *
 * Each message is read in two passes over its bytes: the first counts repeated fields and
 * checks wire types, the second fills arrays sized from the counts, so nothing is allocated per
 * byte and the work is linear in the file size. A loader context carries the model, the message
 * path being decoded ("graph.node[12].attribute[3].t.dims") and the base of the buffer, so every
 * error names the model, where in it, and the byte offset.
 *
 * Field numbers are those of onnx.proto (ONNX 1.12+); unknown fields are skipped.
 */
#include "onnx/loader.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "core/alloc.h"
#include "core/dtype.h"
#include "core/status.h"
#include "core/tensor.h"
#include "onnx/mapping.h"
#include "onnx/wire.h"

/* Deeper If/Loop nesting than this is refused (protects the stack against hostile files). */
#define MAX_GRAPH_DEPTH 48

typedef struct loader {
    onyx_onnx_model *model; /* NULL when reading a standalone TensorProto */
    const char *name;  /* model name for messages */
    char path[640];    /* message path of what is being decoded */
    size_t path_len;
    int graph_depth;
} loader;

/* ---- context: paths and errors ---- */

static size_t path_push(loader *L, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static size_t path_push(loader *L, const char *fmt, ...) {
    size_t saved = L->path_len;
    if (L->path_len < sizeof L->path - 1) {
        va_list args;
        va_start(args, fmt);
        int n = vsnprintf(L->path + L->path_len, sizeof L->path - L->path_len, fmt, args);
        va_end(args);
        if (n > 0) L->path_len += (size_t)n;
        if (L->path_len > sizeof L->path - 1) L->path_len = sizeof L->path - 1;
    }
    return saved;
}

static void path_pop(loader *L, size_t saved) {
    L->path_len = saved;
    L->path[saved] = '\0';
}

/* An error at byte offset of what is being decoded: "<model>: <path> (byte N): <message>". */
static onyx_status fail(loader *L, onyx_status status, size_t offset, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static onyx_status fail(loader *L, onyx_status status, size_t offset, const char *fmt, ...) {
    char message[1024];
    va_list args;
    va_start(args, fmt);
    vsnprintf(message, sizeof message, fmt, args);
    va_end(args);
    return onyx_error(status, "%s: %s (byte %zu): %s", L->name, L->path[0] ? L->path : "model",
                      offset, message);
}

/* Add the model name and path in front of a message set by the wire reader or a helper. */
static onyx_status wrap(loader *L, onyx_status status) {
    if (status == ONYX_OK || status == ONYX_ERR_OUT_OF_MEMORY) return status;
    return onyx_error_prefix(status, "%s: %s: ", L->name, L->path[0] ? L->path : "model");
}

#define WIRE(L, expr)                                                                             \
    do {                                                                                          \
        onyx_status wire_status_ = (expr);                                                        \
        if (wire_status_ != ONYX_OK) return wrap((L), wire_status_);                              \
    } while (0)

static onyx_status expect(loader *L, const onyx_wire_field *f, int wire_type, const char *what) {
    return wrap(L, onyx_wire_expect(f, wire_type, what));
}

/* A NUL-terminated copy of a LEN field's bytes in the model's region. */
static onyx_status copy_string(loader *L, const onyx_wire_field *f, const char **out) {
    char *s = onyx_region_strndup(&L->model->region, (const char *)f->data, f->size);
    if (!s) return ONYX_ERR_OUT_OF_MEMORY;
    *out = s;
    return ONYX_OK;
}

/* Printable, truncated form of a name for messages. */
static void name_for_message(const uint8_t *data, size_t size, char *buf, size_t buf_size) {
    size_t n = size < buf_size - 1 ? size : buf_size - 1;
    for (size_t i = 0; i < n; i++) buf[i] = (data[i] >= 32 && data[i] < 127) ? (char)data[i] : '?';
    buf[n] = '\0';
}

/* ---- TensorProto ---- */

enum { TENSOR_LOCATION_EXTERNAL = 1 };

typedef struct tensor_fields {
    size_t offset;
    char name[160];
    const uint8_t *name_data;
    size_t name_size;
    int64_t dims[ONYX_MAX_RANK];
    int rank;
    uint64_t data_type;
    const uint8_t *raw;
    size_t raw_size;
    int has_raw;
    uint64_t data_location;
    const uint8_t *location;
    size_t location_size;
    int has_location;
    uint64_t ext_offset, ext_length;
    int has_ext_length;
} tensor_fields;

/* Parse a decimal external-data number (offset/length) with overflow checks. */
static int parse_u64(const uint8_t *s, size_t n, uint64_t *out) {
    if (n == 0) return -1;
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9') return -1;
        uint64_t d = (uint64_t)(s[i] - '0');
        if (v > (UINT64_MAX - d) / 10) return -1;
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

static onyx_status read_external_entry(loader *L, onyx_wire *entry_msg, tensor_fields *tf) {
    const uint8_t *key = NULL, *value = (const uint8_t *)"";
    size_t key_size = 0, value_size = 0;
    size_t entry_offset = onyx_wire_offset(entry_msg, entry_msg->pos);
    while (!onyx_wire_done(entry_msg)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(entry_msg, &f));
        if (f.number == 1 || f.number == 2) {
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, f.number == 1 ? "key" : "value"));
            if (f.number == 1) key = f.data, key_size = f.size;
            else value = f.data, value_size = f.size;
        }
    }
    if (!key) return ONYX_OK;
    if (key_size == 8 && memcmp(key, "location", 8) == 0) {
        tf->location = value;
        tf->location_size = value_size;
        tf->has_location = 1;
    } else if ((key_size == 6 && memcmp(key, "offset", 6) == 0) ||
               (key_size == 6 && memcmp(key, "length", 6) == 0)) {
        int is_offset = key[0] == 'o';
        uint64_t v;
        if (parse_u64(value, value_size, &v)) {
            char text[64];
            name_for_message(value, value_size, text, sizeof text);
            return fail(L, ONYX_ERR_INVALID_MODEL, entry_offset,
                        "tensor '%s': external data %s '%s' is not a non-negative integer that "
                        "fits in 64 bits",
                        tf->name, is_offset ? "offset" : "length", text);
        }
        if (is_offset) tf->ext_offset = v;
        else tf->ext_length = v, tf->has_ext_length = 1;
    }
    return ONYX_OK; /* checksum and unknown keys are ignored */
}

static onyx_status add_dim(loader *L, tensor_fields *tf, size_t offset, uint64_t v) {
    if (tf->rank >= ONYX_MAX_RANK)
        return fail(L, ONYX_ERR_NOT_IMPLEMENTED, offset,
                    "tensor has more than %d dims; onyx supports ranks up to %d", ONYX_MAX_RANK,
                    ONYX_MAX_RANK);
    if ((int64_t)v < 0)
        return fail(L, ONYX_ERR_INVALID_MODEL, offset, "tensor has negative dim %lld",
                    (long long)(int64_t)v);
    tf->dims[tf->rank++] = (int64_t)v;
    return ONYX_OK;
}

/* Pass 1 over a TensorProto: scalars, dims, raw data, external data entries. */
static onyx_status scan_tensor(loader *L, const onyx_wire *msg, tensor_fields *tf) {
    onyx_wire w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        switch (f.number) {
        case 1: { /* dims, packed or not */
            size_t saved = path_push(L, ".dims");
            onyx_status st = ONYX_OK;
            if (f.wire_type == ONYX_WIRE_VARINT) {
                st = add_dim(L, tf, f.offset, f.value);
            } else if (f.wire_type == ONYX_WIRE_LEN) {
                onyx_wire run = onyx_wire_sub(&w, &f);
                while (st == ONYX_OK && !onyx_wire_done(&run)) {
                    uint64_t v;
                    st = wrap(L, onyx_wire_varint(&run, &v));
                    if (st == ONYX_OK) st = add_dim(L, tf, f.offset, v);
                }
            } else {
                st = expect(L, &f, ONYX_WIRE_VARINT, "TensorProto.dims");
            }
            path_pop(L, saved);
            ONYX_TRY(st);
            break;
        }
        case 2:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_VARINT, "TensorProto.data_type"));
            tf->data_type = f.value;
            break;
        case 3:
            return fail(L, ONYX_ERR_NOT_IMPLEMENTED, f.offset,
                        "segmented tensors (TensorProto.segment) are not supported");
        case 8:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "TensorProto.name"));
            tf->name_data = f.data;
            tf->name_size = f.size;
            name_for_message(f.data, f.size, tf->name, sizeof tf->name);
            break;
        case 9:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "TensorProto.raw_data"));
            tf->raw = f.data;
            tf->raw_size = f.size;
            tf->has_raw = 1;
            break;
        case 12:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "TensorProto.doc_string"));
            break;
        case 13: {
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "TensorProto.external_data"));
            size_t saved = path_push(L, ".external_data");
            onyx_wire entry = onyx_wire_sub(&w, &f);
            onyx_status st = read_external_entry(L, &entry, tf);
            path_pop(L, saved);
            ONYX_TRY(st);
            break;
        }
        case 14:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_VARINT, "TensorProto.data_location"));
            tf->data_location = f.value;
            break;
        default:
            break; /* typed data fields are read in pass 2; unknown fields skipped */
        }
    }
    return ONYX_OK;
}

/* The typed field that holds dtype's elements: field number, element wire type, bytes stored
 * per value and values per element (2 for complex). */
static void typed_field(onyx_dtype dtype, uint32_t *number, int *wire_type, size_t *width,
                        size_t *per_elem, const char **field_name) {
    *per_elem = 1;
    *width = onyx_dtype_size(dtype);
    switch (dtype) {
    case ONYX_DTYPE_FLOAT32:
        *number = 4, *wire_type = ONYX_WIRE_FIXED32, *field_name = "float_data";
        break;
    case ONYX_DTYPE_COMPLEX64:
        *number = 4, *wire_type = ONYX_WIRE_FIXED32, *field_name = "float_data";
        *width = 4, *per_elem = 2;
        break;
    case ONYX_DTYPE_INT64:
        *number = 7, *wire_type = ONYX_WIRE_VARINT, *field_name = "int64_data";
        break;
    case ONYX_DTYPE_FLOAT64:
        *number = 10, *wire_type = ONYX_WIRE_FIXED64, *field_name = "double_data";
        break;
    case ONYX_DTYPE_COMPLEX128:
        *number = 10, *wire_type = ONYX_WIRE_FIXED64, *field_name = "double_data";
        *width = 8, *per_elem = 2;
        break;
    case ONYX_DTYPE_UINT32:
    case ONYX_DTYPE_UINT64:
        *number = 11, *wire_type = ONYX_WIRE_VARINT, *field_name = "uint64_data";
        break;
    case ONYX_DTYPE_STRING:
        *number = 6, *wire_type = ONYX_WIRE_LEN, *field_name = "string_data";
        break;
    default: /* int32, int16, int8, uint16, uint8, bool, float16, bfloat16 */
        *number = 5, *wire_type = ONYX_WIRE_VARINT, *field_name = "int32_data";
        break;
    }
}

static onyx_status check_dtype_code(loader *L, size_t offset, uint64_t code, const char *what) {
    if (code >= 1 && code <= 16) return ONYX_OK;
    if (code >= 17 && code <= 23)
        return fail(L, ONYX_ERR_NOT_IMPLEMENTED, offset,
                    "%s has data_type %llu (float8/int4/float4 types), which onyx does not support",
                    what, (unsigned long long)code);
    if (code == 0)
        return fail(L, ONYX_ERR_INVALID_MODEL, offset, "%s has no data_type (UNDEFINED)", what);
    return fail(L, ONYX_ERR_INVALID_MODEL, offset, "%s has unknown data_type code %llu", what,
                (unsigned long long)code);
}

/* Decode the TensorProto msg into t (initialized, no data). allow_view lets raw bytes stay in
 * the mapping when aligned; otherwise t owns a copy. */
static onyx_status decode_tensor(loader *L, const onyx_wire *msg, onyx_tensor *t, int allow_view,
                                 tensor_fields *tf) {
    memset(tf, 0, sizeof *tf);
    tf->offset = onyx_wire_offset(msg, msg->pos);
    ONYX_TRY(scan_tensor(L, msg, tf));
    char what[200];
    snprintf(what, sizeof what, "tensor '%s'", tf->name);
    ONYX_TRY(check_dtype_code(L, tf->offset, tf->data_type, what));
    onyx_dtype dtype = (onyx_dtype)tf->data_type;
    int64_t numel = onyx_shape_numel(tf->dims, tf->rank);
    size_t elem = onyx_dtype_size(dtype), nbytes;
    char shape[200];
    onyx_shape_describe(tf->dims, tf->rank, shape, sizeof shape);
    if (numel < 0 || (uint64_t)numel > SIZE_MAX || onyx_mul_size((size_t)numel, elem, &nbytes))
        return fail(L, ONYX_ERR_INVALID_MODEL, tf->offset, "%s has dims %s whose size overflows",
                    what, shape);
    ONYX_TRY(wrap(L, onyx_tensor_set_shape(t, dtype, tf->dims, tf->rank, what)));

    const uint8_t *bytes = NULL;
    size_t n_bytes = 0;
    const char *source = NULL;
    if (tf->data_location == TENSOR_LOCATION_EXTERNAL) {
        if (dtype == ONYX_DTYPE_STRING)
            return fail(L, ONYX_ERR_INVALID_MODEL, tf->offset,
                        "%s is a string tensor stored as external data, which ONNX does not allow",
                        what);
        if (!tf->has_location)
            return fail(L, ONYX_ERR_INVALID_MODEL, tf->offset,
                        "%s has data_location EXTERNAL but no 'location' entry", what);
        if (!L->model)
            return fail(L, ONYX_ERR_INVALID_MODEL, tf->offset,
                        "%s uses external data, which a standalone tensor file cannot have", what);
        const char *location;
        onyx_wire_field lf = {.data = tf->location, .size = tf->location_size};
        ONYX_TRY(copy_string(L, &lf, &location));
        if (strlen(location) != tf->location_size)
            return fail(L, ONYX_ERR_INVALID_MODEL, tf->offset,
                        "%s: external data location contains a NUL byte", what);
        onyx_status st = onyx_mapping_external(L->model, location, tf->ext_offset, tf->ext_length,
                                               tf->has_ext_length, what, &bytes, &n_bytes);
        if (st != ONYX_OK) return wrap(L, st);
        source = "external data";
    } else if (tf->data_location != 0) {
        return fail(L, ONYX_ERR_INVALID_MODEL, tf->offset, "%s has unknown data_location %llu",
                    what, (unsigned long long)tf->data_location);
    } else if (tf->has_raw) {
        if (dtype == ONYX_DTYPE_STRING)
            return fail(L, ONYX_ERR_INVALID_MODEL, tf->offset,
                        "%s is a string tensor with raw_data; strings must use string_data", what);
        bytes = tf->raw;
        n_bytes = tf->raw_size;
        source = "raw_data";
    }

    if (source) {
        if (n_bytes != nbytes)
            return fail(L, ONYX_ERR_INVALID_MODEL, tf->offset,
                        "%s has %zu bytes of %s but %s%s needs %zu (%lld elements of %zu bytes)",
                        what, n_bytes, source, onyx_dtype_name(dtype), shape, nbytes,
                        (long long)numel, elem);
        size_t align = elem > 8 ? 8 : elem;
        if (allow_view && nbytes && ((uintptr_t)bytes % align) == 0) {
            t->data = (void *)bytes;
            t->owns_data = 0;
            return ONYX_OK;
        }
        ONYX_TRY(onyx_tensor_alloc_data(t));
        if (nbytes) memcpy(t->data, bytes, nbytes);
        return ONYX_OK;
    }

    uint32_t number;
    int wire_type;
    size_t width, per_elem;
    const char *field_name;
    typed_field(dtype, &number, &wire_type, &width, &per_elem, &field_name);
    size_t saved = path_push(L, ".%s", field_name);
    size_t count = 0;
    onyx_status st;
    if (wire_type == ONYX_WIRE_LEN) {
        onyx_wire w = *msg;
        st = ONYX_OK;
        while (st == ONYX_OK && !onyx_wire_done(&w)) {
            onyx_wire_field f;
            st = wrap(L, onyx_wire_next(&w, &f));
            if (st == ONYX_OK && f.number == number) {
                st = expect(L, &f, ONYX_WIRE_LEN, "TensorProto.string_data");
                count++;
            }
        }
    } else {
        st = wrap(L, onyx_wire_count_repeated(msg, number, wire_type, field_name, &count));
    }
    if (st == ONYX_OK && count != (size_t)numel * per_elem)
        st = fail(L, ONYX_ERR_INVALID_MODEL, tf->offset,
                  "%s has %zu values in %s but its dims %s need %lld", what, count, field_name,
                  shape, (long long)numel * (long long)per_elem);
    if (st == ONYX_OK) st = onyx_tensor_alloc_data(t);
    if (st == ONYX_OK && dtype == ONYX_DTYPE_STRING) {
        onyx_string *strings = t->data;
        onyx_wire w = *msg;
        size_t k = 0;
        while (st == ONYX_OK && !onyx_wire_done(&w) && k < count) {
            onyx_wire_field f;
            st = wrap(L, onyx_wire_next(&w, &f));
            if (st != ONYX_OK || f.number != number) continue;
            char *s = onyx_strndup((const char *)f.data, f.size);
            if (!s) st = ONYX_ERR_OUT_OF_MEMORY;
            else strings[k].data = s, strings[k].size = f.size, k++;
        }
    } else if (st == ONYX_OK && count) {
        st = wrap(L, onyx_wire_read_repeated(msg, number, wire_type, field_name, t->data, width,
                                             count));
    }
    path_pop(L, saved);
    return st;
}

/* A model-owned tensor decoded from the LEN field f of w. */
static onyx_status decode_model_tensor(loader *L, const onyx_wire *w, const onyx_wire_field *f,
                                       onyx_tensor **out, tensor_fields *tf) {
    onyx_tensor *t;
    ONYX_TRY(onyx_onnx_model_new_tensor(L->model, &t));
    onyx_wire msg = onyx_wire_sub(w, f);
    ONYX_TRY(decode_tensor(L, &msg, t, 1, tf));
    *out = t;
    return ONYX_OK;
}

/* ---- ValueInfoProto / TypeProto ---- */

typedef struct value_decl {
    const char *name;
    size_t offset;
    onyx_dtype dtype;
    int rank;
    onyx_dim dims[ONYX_MAX_RANK];
} value_decl;

static onyx_status decode_shape(loader *L, onyx_wire *shape_msg, value_decl *d) {
    d->rank = 0;
    while (!onyx_wire_done(shape_msg)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(shape_msg, &f));
        if (f.number != 1) continue;
        ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "TensorShapeProto.dim"));
        if (d->rank >= ONYX_MAX_RANK)
            return fail(L, ONYX_ERR_NOT_IMPLEMENTED, f.offset,
                        "value '%s' has more than %d dims; onyx supports ranks up to %d", d->name,
                        ONYX_MAX_RANK, ONYX_MAX_RANK);
        onyx_dim *dim = &d->dims[d->rank++];
        dim->value = -1;
        dim->param = NULL;
        onyx_wire dm = onyx_wire_sub(shape_msg, &f);
        while (!onyx_wire_done(&dm)) {
            onyx_wire_field g;
            WIRE(L, onyx_wire_next(&dm, &g));
            if (g.number == 1) {
                ONYX_TRY(expect(L, &g, ONYX_WIRE_VARINT, "Dimension.dim_value"));
                dim->value = (int64_t)g.value >= 0 ? (int64_t)g.value : -1;
                dim->param = NULL;
            } else if (g.number == 2) {
                ONYX_TRY(expect(L, &g, ONYX_WIRE_LEN, "Dimension.dim_param"));
                ONYX_TRY(copy_string(L, &g, &dim->param));
                dim->value = -1;
            }
        }
    }
    return ONYX_OK;
}

static onyx_status decode_value_info(loader *L, const onyx_wire *w, const onyx_wire_field *vf,
                                     value_decl *d) {
    memset(d, 0, sizeof *d);
    d->name = "";
    d->rank = -1;
    d->offset = vf->offset;
    onyx_wire msg = onyx_wire_sub(w, vf);
    onyx_wire_field type_field = {0};
    int has_type = 0;
    while (!onyx_wire_done(&msg)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&msg, &f));
        if (f.number == 1) {
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "ValueInfoProto.name"));
            ONYX_TRY(copy_string(L, &f, &d->name));
        } else if (f.number == 2) {
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "ValueInfoProto.type"));
            type_field = f;
            has_type = 1;
        }
    }
    if (!has_type) return ONYX_OK;
    /* TypeProto: only tensor_type (1) gives a dtype and shape; sequence, map, optional and
     * sparse types leave the value UNDEFINED for kernel lookup to reject. */
    onyx_wire type_msg = onyx_wire_sub(&msg, &type_field);
    while (!onyx_wire_done(&type_msg)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&type_msg, &f));
        if (f.number != 1) continue;
        ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "TypeProto.tensor_type"));
        onyx_wire tensor_type = onyx_wire_sub(&type_msg, &f);
        while (!onyx_wire_done(&tensor_type)) {
            onyx_wire_field g;
            WIRE(L, onyx_wire_next(&tensor_type, &g));
            if (g.number == 1) {
                ONYX_TRY(expect(L, &g, ONYX_WIRE_VARINT, "TypeProto.Tensor.elem_type"));
                if (g.value != 0) {
                    char what[200];
                    snprintf(what, sizeof what, "value '%s'", d->name);
                    ONYX_TRY(check_dtype_code(L, g.offset, g.value, what));
                }
                d->dtype = (onyx_dtype)g.value;
            } else if (g.number == 2) {
                ONYX_TRY(expect(L, &g, ONYX_WIRE_LEN, "TypeProto.Tensor.shape"));
                onyx_wire shape = onyx_wire_sub(&tensor_type, &g);
                ONYX_TRY(decode_shape(L, &shape, d));
            }
        }
    }
    return ONYX_OK;
}

static void apply_decl(onyx_value *v, const value_decl *d) {
    v->dtype = d->dtype;
    v->rank = d->rank;
    for (int i = 0; i < d->rank; i++) v->dims[i] = d->dims[i];
}

/* ---- graphs, nodes, attributes ---- */

static onyx_status decode_graph(loader *L, const onyx_wire *msg, onyx_graph *g);

/* A subgraph held in the LEN field f of w, child of parent. */
static onyx_status decode_subgraph(loader *L, const onyx_wire *w, const onyx_wire_field *f,
                                   onyx_graph *parent, onyx_graph **out) {
    if (L->graph_depth >= MAX_GRAPH_DEPTH)
        return fail(L, ONYX_ERR_NOT_IMPLEMENTED, f->offset,
                    "subgraphs nested more than %d deep", MAX_GRAPH_DEPTH);
    onyx_graph *sub;
    ONYX_TRY(onyx_graph_new(L->model, parent, "", &sub));
    onyx_wire msg = onyx_wire_sub(w, f);
    L->graph_depth++;
    onyx_status st = decode_graph(L, &msg, sub);
    L->graph_depth--;
    if (st != ONYX_OK) return st;
    /* Names the subgraph uses without defining come from an enclosing scope; that they are
     * really defined there is checked once the whole model is read. */
    for (int v = 0; v < sub->n_values; v++) {
        onyx_value *val = &sub->values[v];
        if (val->kind == ONYX_VALUE_INTERMEDIATE && val->producer < 0) val->kind = ONYX_VALUE_OUTER;
    }
    *out = sub;
    return ONYX_OK;
}

typedef struct attr_fields {
    const char *name;
    int has_type, has_f, has_i, has_s, has_t, has_g, has_tp, has_sparse;
    uint64_t type;
    uint32_t f_bits;
    int64_t i;
    onyx_wire_field s, t, g;
    size_t n_floats, n_ints, n_strings, n_tensors, n_graphs, n_type_protos, n_sparse;
} attr_fields;

static onyx_status scan_attribute(loader *L, const onyx_wire *msg, attr_fields *af) {
    onyx_wire w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        switch (f.number) {
        case 1:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.name"));
            ONYX_TRY(copy_string(L, &f, &af->name));
            break;
        case 2:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_FIXED32, "AttributeProto.f"));
            af->f_bits = (uint32_t)f.value, af->has_f = 1;
            break;
        case 3:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_VARINT, "AttributeProto.i"));
            af->i = (int64_t)f.value, af->has_i = 1;
            break;
        case 4:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.s"));
            af->s = f, af->has_s = 1;
            break;
        case 5:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.t"));
            af->t = f, af->has_t = 1;
            break;
        case 6:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.g"));
            af->g = f, af->has_g = 1;
            break;
        case 9:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.strings"));
            af->n_strings++;
            break;
        case 10:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.tensors"));
            af->n_tensors++;
            break;
        case 11:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.graphs"));
            af->n_graphs++;
            break;
        case 13:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.doc_string"));
            break;
        case 14:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.tp"));
            af->has_tp = 1;
            break;
        case 15:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.type_protos"));
            af->n_type_protos++;
            break;
        case 20:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_VARINT, "AttributeProto.type"));
            af->type = f.value, af->has_type = 1;
            break;
        case 21:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.ref_attr_name"));
            break;
        case 22:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.sparse_tensor"));
            af->has_sparse = 1;
            break;
        case 23:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "AttributeProto.sparse_tensors"));
            af->n_sparse++;
            break;
        default:
            break;
        }
    }
    WIRE(L, onyx_wire_count_repeated(msg, 7, ONYX_WIRE_FIXED32, "AttributeProto.floats",
                                     &af->n_floats));
    WIRE(L, onyx_wire_count_repeated(msg, 8, ONYX_WIRE_VARINT, "AttributeProto.ints", &af->n_ints));
    return ONYX_OK;
}

/* Old files leave AttributeProto.type unset: the kind is the field that holds a value. */
static onyx_attr_type infer_attr_type(const attr_fields *af) {
    if (af->has_f) return ONYX_ATTR_FLOAT;
    if (af->has_i) return ONYX_ATTR_INT;
    if (af->has_s) return ONYX_ATTR_STRING;
    if (af->has_t) return ONYX_ATTR_TENSOR;
    if (af->has_g) return ONYX_ATTR_GRAPH;
    if (af->n_floats) return ONYX_ATTR_FLOATS;
    if (af->n_ints) return ONYX_ATTR_INTS;
    if (af->n_strings) return ONYX_ATTR_STRINGS;
    if (af->n_tensors) return ONYX_ATTR_TENSORS;
    if (af->n_graphs) return ONYX_ATTR_GRAPHS;
    if (af->has_tp) return ONYX_ATTR_TYPE_PROTO;
    if (af->n_type_protos) return ONYX_ATTR_TYPE_PROTOS;
    if (af->has_sparse) return ONYX_ATTR_SPARSE_TENSOR;
    if (af->n_sparse) return ONYX_ATTR_SPARSE_TENSORS;
    return ONYX_ATTR_UNDEFINED;
}

static onyx_status decode_attribute(loader *L, const onyx_wire *msg, size_t offset, onyx_graph *g,
                                    onyx_attr *a) {
    attr_fields af;
    memset(&af, 0, sizeof af);
    af.name = "";
    ONYX_TRY(scan_attribute(L, msg, &af));
    a->name = af.name;
    if (!af.name[0]) return fail(L, ONYX_ERR_INVALID_MODEL, offset, "attribute has no name");
    onyx_attr_type type;
    if (af.has_type) {
        if (af.type < 1 || af.type > 14)
            return fail(L, ONYX_ERR_INVALID_MODEL, offset, "attribute '%s' has unknown type %llu",
                        af.name, (unsigned long long)af.type);
        type = (onyx_attr_type)af.type;
    } else {
        type = infer_attr_type(&af);
        if (type == ONYX_ATTR_UNDEFINED)
            return fail(L, ONYX_ERR_INVALID_MODEL, offset,
                        "attribute '%s' has neither a type nor a value", af.name);
    }
    a->type = type;
    onyx_region *r = &L->model->region;
    onyx_wire w = *msg;
    switch (type) {
    case ONYX_ATTR_FLOAT:
        memcpy(&a->f, &af.f_bits, sizeof a->f);
        break;
    case ONYX_ATTR_INT:
        a->i = af.i;
        break;
    case ONYX_ATTR_STRING: {
        const char *s = "";
        if (af.has_s) ONYX_TRY(copy_string(L, &af.s, &s));
        a->s = s;
        a->s_len = af.has_s ? af.s.size : 0;
        break;
    }
    case ONYX_ATTR_TENSOR: {
        if (!af.has_t)
            return fail(L, ONYX_ERR_INVALID_MODEL, offset, "attribute '%s' of type TENSOR has no t",
                        af.name);
        tensor_fields tf;
        size_t saved = path_push(L, ".t");
        onyx_status st = decode_model_tensor(L, msg, &af.t, &a->t, &tf);
        path_pop(L, saved);
        ONYX_TRY(st);
        break;
    }
    case ONYX_ATTR_GRAPH: {
        if (!af.has_g)
            return fail(L, ONYX_ERR_INVALID_MODEL, offset, "attribute '%s' of type GRAPH has no g",
                        af.name);
        size_t saved = path_push(L, ".g");
        onyx_status st = decode_subgraph(L, msg, &af.g, g, &a->g);
        path_pop(L, saved);
        ONYX_TRY(st);
        break;
    }
    case ONYX_ATTR_FLOATS:
        a->count = af.n_floats;
        a->floats = onyx_region_array(r, af.n_floats ? af.n_floats : 1, sizeof(float));
        if (!a->floats) return ONYX_ERR_OUT_OF_MEMORY;
        WIRE(L, onyx_wire_read_repeated(msg, 7, ONYX_WIRE_FIXED32, "AttributeProto.floats",
                                        a->floats, sizeof(float), af.n_floats));
        break;
    case ONYX_ATTR_INTS:
        a->count = af.n_ints;
        a->ints = onyx_region_array(r, af.n_ints ? af.n_ints : 1, sizeof(int64_t));
        if (!a->ints) return ONYX_ERR_OUT_OF_MEMORY;
        WIRE(L, onyx_wire_read_repeated(msg, 8, ONYX_WIRE_VARINT, "AttributeProto.ints", a->ints,
                                        sizeof(int64_t), af.n_ints));
        break;
    case ONYX_ATTR_STRINGS: {
        a->count = af.n_strings;
        a->strings = onyx_region_array(r, af.n_strings ? af.n_strings : 1, sizeof(onyx_string));
        if (!a->strings) return ONYX_ERR_OUT_OF_MEMORY;
        size_t k = 0;
        while (!onyx_wire_done(&w) && k < af.n_strings) {
            onyx_wire_field f;
            WIRE(L, onyx_wire_next(&w, &f));
            if (f.number != 9) continue;
            const char *s;
            ONYX_TRY(copy_string(L, &f, &s));
            a->strings[k].data = s;
            a->strings[k].size = f.size;
            k++;
        }
        break;
    }
    case ONYX_ATTR_TENSORS: {
        a->count = af.n_tensors;
        a->tensors = onyx_region_array(r, af.n_tensors ? af.n_tensors : 1, sizeof(onyx_tensor *));
        if (!a->tensors) return ONYX_ERR_OUT_OF_MEMORY;
        size_t k = 0;
        while (!onyx_wire_done(&w) && k < af.n_tensors) {
            onyx_wire_field f;
            WIRE(L, onyx_wire_next(&w, &f));
            if (f.number != 10) continue;
            tensor_fields tf;
            size_t saved = path_push(L, ".tensors[%zu]", k);
            onyx_status st = decode_model_tensor(L, &w, &f, &a->tensors[k], &tf);
            path_pop(L, saved);
            ONYX_TRY(st);
            k++;
        }
        break;
    }
    case ONYX_ATTR_GRAPHS: {
        a->count = af.n_graphs;
        a->graphs = onyx_region_array(r, af.n_graphs ? af.n_graphs : 1, sizeof(onyx_graph *));
        if (!a->graphs) return ONYX_ERR_OUT_OF_MEMORY;
        size_t k = 0;
        while (!onyx_wire_done(&w) && k < af.n_graphs) {
            onyx_wire_field f;
            WIRE(L, onyx_wire_next(&w, &f));
            if (f.number != 11) continue;
            size_t saved = path_push(L, ".graphs[%zu]", k);
            onyx_status st = decode_subgraph(L, &w, &f, g, &a->graphs[k]);
            path_pop(L, saved);
            ONYX_TRY(st);
            k++;
        }
        break;
    }
    case ONYX_ATTR_TYPE_PROTOS:
        a->count = af.n_type_protos;
        break;
    case ONYX_ATTR_SPARSE_TENSORS:
        a->count = af.n_sparse;
        break;
    default: /* TYPE_PROTO, SPARSE_TENSOR: the kind is recorded, the payload is not kept */
        break;
    }
    return ONYX_OK;
}

/* Count one more repeated field; counts are ints in the IR. */
static onyx_status count_field(loader *L, const onyx_wire_field *f, int *count) {
    if (*count == INT32_MAX - 1)
        return fail(L, ONYX_ERR_NOT_IMPLEMENTED, f->offset, "more than %d entries of field %u",
                    INT32_MAX - 1, f->number);
    (*count)++;
    return ONYX_OK;
}

/* The value id for name in g; a "" name is an absent optional (-1). */
static onyx_status value_for(loader *L, onyx_graph *g, const onyx_wire_field *f, int *out_id) {
    if (f->size == 0) {
        *out_id = -1;
        return ONYX_OK;
    }
    const char *name;
    ONYX_TRY(copy_string(L, f, &name));
    return onyx_graph_value(g, name, out_id);
}

static onyx_status decode_node(loader *L, const onyx_wire *msg, size_t offset, onyx_graph *g) {
    int n_inputs = 0, n_outputs = 0, n_attrs = 0;
    const char *name = "", *op_type = "", *domain = "";
    onyx_wire w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        switch (f.number) {
        case 1:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "NodeProto.input"));
            ONYX_TRY(count_field(L, &f, &n_inputs));
            break;
        case 2:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "NodeProto.output"));
            ONYX_TRY(count_field(L, &f, &n_outputs));
            break;
        case 3:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "NodeProto.name"));
            ONYX_TRY(copy_string(L, &f, &name));
            break;
        case 4:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "NodeProto.op_type"));
            ONYX_TRY(copy_string(L, &f, &op_type));
            break;
        case 5:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "NodeProto.attribute"));
            ONYX_TRY(count_field(L, &f, &n_attrs));
            break;
        case 6:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "NodeProto.doc_string"));
            break;
        case 7:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "NodeProto.domain"));
            ONYX_TRY(copy_string(L, &f, &domain));
            break;
        default:
            break;
        }
    }
    if (!op_type[0]) return fail(L, ONYX_ERR_INVALID_MODEL, offset, "node '%s' has no op_type", name);
    if (onyx_onnx_model_opset(L->model, domain) < 0)
        return fail(L, ONYX_ERR_INVALID_MODEL, offset,
                    "node '%s' (%s) is in domain '%s', which the model's opset_import does not "
                    "list",
                    name, op_type, domain);
    int index;
    ONYX_TRY(onyx_graph_add_node(g, op_type, domain, name, n_inputs, n_outputs, n_attrs, &index));
    int k_in = 0, k_out = 0, k_attr = 0;
    w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        if (f.number == 1 && k_in < n_inputs) {
            int id;
            ONYX_TRY(value_for(L, g, &f, &id));
            g->nodes[index].inputs[k_in++] = id;
        } else if (f.number == 2 && k_out < n_outputs) {
            int id;
            ONYX_TRY(value_for(L, g, &f, &id));
            g->nodes[index].outputs[k_out++] = id;
            if (id < 0) continue;
            onyx_value *v = &g->values[id];
            char desc[300];
            if (v->kind != ONYX_VALUE_INTERMEDIATE)
                return fail(L, ONYX_ERR_INVALID_MODEL, f.offset,
                            "%s writes '%s', which is already a graph input or initializer",
                            onyx_node_describe(g, &g->nodes[index], desc, sizeof desc), v->name);
            if (v->producer >= 0) {
                char other[300];
                return fail(L, ONYX_ERR_INVALID_MODEL, f.offset,
                            "'%s' is defined twice: by %s and by %s", v->name,
                            onyx_node_describe(g, &g->nodes[v->producer], other, sizeof other),
                            onyx_node_describe(g, &g->nodes[index], desc, sizeof desc));
            }
            v->producer = index;
        } else if (f.number == 5 && k_attr < n_attrs) {
            onyx_wire attr_msg = onyx_wire_sub(&w, &f);
            size_t saved = path_push(L, ".attribute[%d]", k_attr);
            onyx_status st = decode_attribute(L, &attr_msg, f.offset, g,
                                              &g->nodes[index].attrs[k_attr]);
            path_pop(L, saved);
            ONYX_TRY(st);
            k_attr++;
        }
    }
    return ONYX_OK;
}

/* Grow-free list append for inputs/outputs (arrays sized by the first pass). */
static onyx_status alloc_ids(int count, int **out) {
    *out = onyx_malloc((size_t)(count ? count : 1) * sizeof(int));
    return *out ? ONYX_OK : ONYX_ERR_OUT_OF_MEMORY;
}

/* Graph inputs in declared order: new INPUT values, or initializers declared as inputs. Only
 * values below n_constants are initializers; listed_constants marks those already declared. */
static onyx_status decode_inputs(loader *L, const onyx_wire *msg, onyx_graph *g, int n_constants,
                                 char *listed_constants) {
    int k = 0;
    onyx_wire w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        if (f.number != 11) continue;
        size_t saved = path_push(L, ".input[%d]", k);
        value_decl d;
        onyx_status st = decode_value_info(L, &w, &f, &d);
        if (st == ONYX_OK && !d.name[0])
            st = fail(L, ONYX_ERR_INVALID_MODEL, f.offset, "graph input has no name");
        int id = onyx_graph_find_value(g, d.name);
        if (st == ONYX_OK && id >= 0) {
            /* only initializers (ids below n_constants) may be declared as inputs, once */
            if (id >= n_constants || listed_constants[id])
                st = fail(L, ONYX_ERR_INVALID_MODEL, f.offset, "graph input '%s' is declared twice",
                          d.name);
            else
                listed_constants[id] = 1;
        } else if (st == ONYX_OK) {
            st = onyx_graph_value(g, d.name, &id);
            if (st == ONYX_OK) {
                g->values[id].kind = ONYX_VALUE_INPUT;
                apply_decl(&g->values[id], &d);
            }
        }
        path_pop(L, saved);
        ONYX_TRY(st);
        g->inputs[g->n_inputs++] = id;
        k++;
    }
    return ONYX_OK;
}

static onyx_status decode_graph(loader *L, const onyx_wire *msg, onyx_graph *g) {
    int n_nodes = 0, n_inputs = 0, n_outputs = 0;
    onyx_wire w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        switch (f.number) {
        case 1:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "GraphProto.node"));
            ONYX_TRY(count_field(L, &f, &n_nodes));
            break;
        case 2:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "GraphProto.name"));
            ONYX_TRY(copy_string(L, &f, &g->name));
            break;
        case 5:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "GraphProto.initializer"));
            break;
        case 10:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "GraphProto.doc_string"));
            break;
        case 11:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "GraphProto.input"));
            ONYX_TRY(count_field(L, &f, &n_inputs));
            break;
        case 12:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "GraphProto.output"));
            ONYX_TRY(count_field(L, &f, &n_outputs));
            break;
        case 13:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "GraphProto.value_info"));
            break;
        case 15:
            return fail(L, ONYX_ERR_NOT_IMPLEMENTED, f.offset,
                        "sparse initializers (GraphProto.sparse_initializer) are not supported");
        default:
            break;
        }
    }
    ONYX_TRY(alloc_ids(n_inputs, &g->inputs));
    ONYX_TRY(alloc_ids(n_outputs, &g->outputs));

    /* initializers */
    int k = 0;
    w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        if (f.number != 5) continue;
        size_t saved = path_push(L, ".initializer[%d]", k++);
        onyx_tensor *t;
        tensor_fields tf;
        onyx_status st = decode_model_tensor(L, &w, &f, &t, &tf);
        const char *name = NULL;
        if (st == ONYX_OK && tf.name_size == 0)
            st = fail(L, ONYX_ERR_INVALID_MODEL, f.offset, "initializer has no name");
        onyx_wire_field nf = {.data = tf.name_data, .size = tf.name_size};
        if (st == ONYX_OK) st = copy_string(L, &nf, &name);
        if (st == ONYX_OK && onyx_graph_find_value(g, name) >= 0)
            st = fail(L, ONYX_ERR_INVALID_MODEL, f.offset, "initializer '%s' is defined twice",
                      name);
        int id;
        if (st == ONYX_OK) st = onyx_graph_value(g, name, &id);
        if (st == ONYX_OK) {
            onyx_value *v = &g->values[id];
            v->kind = ONYX_VALUE_CONSTANT;
            v->constant = t;
            v->dtype = t->dtype;
            v->rank = t->rank;
            for (int d = 0; d < t->rank; d++) v->dims[d] = (onyx_dim){t->dims[d], NULL};
        }
        path_pop(L, saved);
        ONYX_TRY(st);
    }

    /* inputs, in declared order */
    int n_constants = g->n_values;
    char *listed_constants = onyx_calloc((size_t)(n_constants ? n_constants : 1), 1);
    if (!listed_constants) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_status inputs_status = decode_inputs(L, msg, g, n_constants, listed_constants);
    onyx_free(listed_constants);
    ONYX_TRY(inputs_status);

    /* nodes */
    k = 0;
    w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        if (f.number != 1) continue;
        size_t saved = path_push(L, ".node[%d]", k++);
        onyx_wire node_msg = onyx_wire_sub(&w, &f);
        onyx_status st = decode_node(L, &node_msg, f.offset, g);
        path_pop(L, saved);
        ONYX_TRY(st);
    }

    /* outputs */
    k = 0;
    w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        if (f.number != 12) continue;
        size_t saved = path_push(L, ".output[%d]", k++);
        value_decl d;
        onyx_status st = decode_value_info(L, &w, &f, &d);
        if (st == ONYX_OK && !d.name[0])
            st = fail(L, ONYX_ERR_INVALID_MODEL, f.offset, "graph output has no name");
        int id = -1;
        if (st == ONYX_OK) st = onyx_graph_value(g, d.name, &id);
        if (st == ONYX_OK) {
            onyx_value *v = &g->values[id];
            if (v->is_graph_output)
                st = fail(L, ONYX_ERR_INVALID_MODEL, f.offset, "graph output '%s' is declared twice",
                          d.name);
            v->is_graph_output = 1;
            if (v->kind == ONYX_VALUE_INTERMEDIATE && d.dtype != ONYX_DTYPE_UNDEFINED)
                apply_decl(v, &d);
        }
        path_pop(L, saved);
        ONYX_TRY(st);
        g->outputs[g->n_outputs++] = id;
    }

    /* value_info: declared types of intermediate values */
    k = 0;
    w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        if (f.number != 13) continue;
        size_t saved = path_push(L, ".value_info[%d]", k++);
        value_decl d;
        onyx_status st = decode_value_info(L, &w, &f, &d);
        path_pop(L, saved);
        ONYX_TRY(st);
        int id = onyx_graph_find_value(g, d.name);
        if (id >= 0 && g->values[id].kind == ONYX_VALUE_INTERMEDIATE &&
            d.dtype != ONYX_DTYPE_UNDEFINED && g->values[id].dtype == ONYX_DTYPE_UNDEFINED)
            apply_decl(&g->values[id], &d);
    }
    return ONYX_OK;
}

/* Every OUTER value of a subgraph must be defined by some enclosing graph. */
static onyx_status check_outer_values(loader *L) {
    onyx_onnx_model *m = L->model;
    for (int gi = 0; gi < m->n_graphs; gi++) {
        onyx_graph *g = m->graphs[gi];
        for (int v = 0; v < g->n_values; v++) {
            if (g->values[v].kind != ONYX_VALUE_OUTER) continue;
            const char *name = g->values[v].name;
            int found = 0;
            for (onyx_graph *p = g->parent; p && !found; p = p->parent) {
                int id = onyx_graph_find_value(p, name);
                if (id < 0) continue;
                const onyx_value *pv = &p->values[id];
                found = pv->kind != ONYX_VALUE_INTERMEDIATE || pv->producer >= 0;
                if (!found) break; /* named there but dangling: that graph is wrong */
            }
            if (found) continue;
            char desc[300] = "a graph output";
            for (int i = 0; i < g->n_nodes; i++)
                for (int k = 0; k < g->nodes[i].n_inputs; k++)
                    if (g->nodes[i].inputs[k] == v && !strcmp(desc, "a graph output"))
                        onyx_node_describe(g, &g->nodes[i], desc, sizeof desc);
            return onyx_error(ONYX_ERR_INVALID_MODEL,
                              "%s: subgraph '%s': %s uses '%s' which no node, input or "
                              "initializer defines (in it or any enclosing graph)",
                              L->name, g->name, desc, name);
        }
    }
    return ONYX_OK;
}

/* ---- ModelProto ---- */

static onyx_status decode_model(loader *L, const onyx_wire *msg) {
    onyx_onnx_model *m = L->model;
    int n_opsets = 0, n_metadata = 0, n_functions = 0;
    onyx_wire_field graph_field;
    int has_graph = 0;
    char function_names[300] = "";
    size_t functions_offset = 0;
    onyx_wire w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        switch (f.number) {
        case 1:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_VARINT, "ModelProto.ir_version"));
            m->ir_version = (int64_t)f.value;
            break;
        case 2:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "ModelProto.producer_name"));
            ONYX_TRY(copy_string(L, &f, &m->producer_name));
            break;
        case 3:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "ModelProto.producer_version"));
            ONYX_TRY(copy_string(L, &f, &m->producer_version));
            break;
        case 4:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "ModelProto.domain"));
            ONYX_TRY(copy_string(L, &f, &m->domain));
            break;
        case 5:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_VARINT, "ModelProto.model_version"));
            m->model_version = (int64_t)f.value;
            break;
        case 6:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "ModelProto.doc_string"));
            ONYX_TRY(copy_string(L, &f, &m->doc_string));
            break;
        case 7:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "ModelProto.graph"));
            graph_field = f;
            has_graph = 1;
            break;
        case 8:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "ModelProto.opset_import"));
            ONYX_TRY(count_field(L, &f, &n_opsets));
            break;
        case 14:
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "ModelProto.metadata_props"));
            ONYX_TRY(count_field(L, &f, &n_metadata));
            break;
        case 25: {
            ONYX_TRY(expect(L, &f, ONYX_WIRE_LEN, "ModelProto.functions"));
            if (!n_functions++) functions_offset = f.offset;
            onyx_wire fn = onyx_wire_sub(&w, &f);
            while (!onyx_wire_done(&fn)) {
                onyx_wire_field g;
                WIRE(L, onyx_wire_next(&fn, &g));
                if (g.number != 1 || g.wire_type != ONYX_WIRE_LEN) continue;
                size_t used = strlen(function_names);
                char fname[64];
                name_for_message(g.data, g.size, fname, sizeof fname);
                if (used + strlen(fname) + 8 < sizeof function_names)
                    snprintf(function_names + used, sizeof function_names - used, "%s'%s'",
                             used ? ", " : "", fname);
            }
            break;
        }
        default:
            break;
        }
    }
    if (n_functions)
        return fail(L, ONYX_ERR_NOT_IMPLEMENTED, functions_offset,
                    "model-local functions are not supported (the model defines %d: %s)",
                    n_functions, function_names);
    m->opsets = onyx_region_array(&m->region, (size_t)(n_opsets ? n_opsets : 1), sizeof *m->opsets);
    m->metadata = onyx_region_array(&m->region, (size_t)(n_metadata ? n_metadata : 1),
                                    sizeof *m->metadata);
    if (!m->opsets || !m->metadata) return ONYX_ERR_OUT_OF_MEMORY;
    w = *msg;
    while (!onyx_wire_done(&w)) {
        onyx_wire_field f;
        WIRE(L, onyx_wire_next(&w, &f));
        if (f.number != 8 && f.number != 14) continue;
        int is_opset = f.number == 8;
        size_t saved = is_opset ? path_push(L, "opset_import[%d]", m->n_opsets)
                                : path_push(L, "metadata_props[%d]", m->n_metadata);
        const char *first = "", *second = "";
        int64_t version = 0;
        onyx_wire entry = onyx_wire_sub(&w, &f);
        onyx_status st = ONYX_OK;
        while (st == ONYX_OK && !onyx_wire_done(&entry)) {
            onyx_wire_field g;
            st = wrap(L, onyx_wire_next(&entry, &g));
            if (st != ONYX_OK) break;
            if (g.number == 1) {
                st = expect(L, &g, ONYX_WIRE_LEN, is_opset ? "OperatorSetIdProto.domain"
                                                           : "StringStringEntryProto.key");
                if (st == ONYX_OK) st = copy_string(L, &g, &first);
            } else if (g.number == 2 && is_opset) {
                st = expect(L, &g, ONYX_WIRE_VARINT, "OperatorSetIdProto.version");
                version = (int64_t)g.value;
            } else if (g.number == 2) {
                st = expect(L, &g, ONYX_WIRE_LEN, "StringStringEntryProto.value");
                if (st == ONYX_OK) st = copy_string(L, &g, &second);
            }
        }
        path_pop(L, saved);
        ONYX_TRY(st);
        if (is_opset) m->opsets[m->n_opsets++] = (onyx_opset){first, version};
        else m->metadata[m->n_metadata++] = (onyx_metadata){first, second};
    }
    if (!has_graph)
        return fail(L, ONYX_ERR_INVALID_MODEL, 0, "the model has no graph (ModelProto.graph)");
    ONYX_TRY(onyx_graph_new(m, NULL, "", &m->graph));
    size_t saved = path_push(L, "graph");
    onyx_wire graph_msg = onyx_wire_sub(msg, &graph_field);
    onyx_status st = decode_graph(L, &graph_msg, m->graph);
    path_pop(L, saved);
    ONYX_TRY(st);
    ONYX_TRY(check_outer_values(L));
    return onyx_graph_sort(m->graph);
}

/* Decode the bytes of mapping (already registered with model) into model. */
static onyx_status load_mapped(onyx_onnx_model *model, const struct onyx_mapping *mapping) {
    loader L;
    memset(&L, 0, sizeof L);
    L.model = model;
    L.name = model->display_name;
    onyx_wire msg;
    onyx_wire_init(&msg, mapping->data, mapping->size);
    return decode_model(&L, &msg);
}

/* The folder part of path ("." when there is none), in the model's region. */
static const char *folder_of(onyx_onnx_model *model, const char *path) {
    const char *slash = strrchr(path, '/');
    if (!slash) return onyx_region_strdup(&model->region, ".");
    if (slash == path) return onyx_region_strdup(&model->region, "/");
    return onyx_region_strndup(&model->region, path, (size_t)(slash - path));
}

onyx_status onyx_onnx_load_file(const char *path, onyx_onnx_model **out) {
    *out = NULL;
    if (!path) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "model path is NULL");
    onyx_onnx_model *model;
    ONYX_TRY(onyx_onnx_model_new(path, &model));
    struct onyx_mapping *mapping;
    onyx_status st = ONYX_OK;
    model->dir = folder_of(model, path);
    if (!model->dir) st = ONYX_ERR_OUT_OF_MEMORY;
    if (st == ONYX_OK) st = onyx_mapping_open_file(path, &mapping);
    if (st == ONYX_OK) st = onyx_onnx_model_add_mapping(model, mapping);
    if (st == ONYX_OK) st = load_mapped(model, mapping);
    if (st != ONYX_OK) {
        onyx_onnx_model_destroy(model);
        return st;
    }
    *out = model;
    return ONYX_OK;
}

onyx_status onyx_onnx_load_memory(const void *data, size_t size, const char *display_name,
                                  onyx_onnx_model **out) {
    *out = NULL;
    onyx_onnx_model *model;
    ONYX_TRY(onyx_onnx_model_new(display_name ? display_name : "<memory>", &model));
    model->dir = NULL;
    struct onyx_mapping *mapping;
    onyx_status st = onyx_mapping_from_memory(data, size, &mapping);
    if (st == ONYX_OK) st = onyx_onnx_model_add_mapping(model, mapping);
    if (st == ONYX_OK) st = load_mapped(model, mapping);
    if (st != ONYX_OK) {
        onyx_onnx_model_destroy(model);
        return st;
    }
    *out = model;
    return ONYX_OK;
}

/* ---- standalone TensorProto files ---- */

/* Decode a standalone TensorProto; display_name names it in messages. */
static onyx_status read_tensor(const void *data, size_t size, const char *display_name,
                               onyx_tensor **out, char **name_out) {
    *out = NULL;
    if (name_out) *name_out = NULL;
    if (!data && size)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "tensor bytes are NULL but size is %zu", size);
    loader L;
    memset(&L, 0, sizeof L);
    L.name = display_name;
    L.path_len = (size_t)snprintf(L.path, sizeof L.path, "TensorProto");
    onyx_wire msg;
    onyx_wire_init(&msg, data ? data : "", size);
    onyx_tensor *t = onyx_malloc(sizeof *t);
    if (!t) return ONYX_ERR_OUT_OF_MEMORY;
    onyx_tensor_init(t);
    tensor_fields tf;
    onyx_status st = decode_tensor(&L, &msg, t, 0, &tf);
    char *name = NULL;
    if (st == ONYX_OK && name_out) {
        name = onyx_strndup(tf.name_data ? (const char *)tf.name_data : "", tf.name_size);
        if (!name) st = ONYX_ERR_OUT_OF_MEMORY;
    }
    if (st != ONYX_OK) {
        onyx_tensor_destroy(t);
        return st;
    }
    *out = t;
    if (name_out) *name_out = name;
    return ONYX_OK;
}

onyx_status onyx_onnx_read_tensor_memory(const void *data, size_t size, onyx_tensor **out,
                                         char **name_out) {
    return read_tensor(data, size, "<memory>", out, name_out);
}

onyx_status onyx_onnx_read_tensor_file(const char *path, onyx_tensor **out, char **name_out) {
    *out = NULL;
    if (name_out) *name_out = NULL;
    if (!path) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "tensor path is NULL");
    struct onyx_mapping *mapping;
    ONYX_TRY(onyx_mapping_open_file(path, &mapping));
    onyx_status st = read_tensor(mapping->data, mapping->size, path, out, name_out);
    onyx_mapping_destroy(mapping);
    return st;
}
