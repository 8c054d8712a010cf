/*
 * onyx.h - the public C API of onyx, a runtime for transformer models stored as ONNX.
 *
 * This header is the specification. Conventions that hold for every function:
 *  - Names are onyx_<noun>_<verb>. Handles are opaque. Each _create has one _destroy, and
 *    _destroy(NULL) does nothing.
 *  - Fallible calls return onyx_status (ONYX_OK == 0). On failure, out-parameters are set to
 *    NULL (or 0), and onyx_last_error() returns a message for the calling thread that names the
 *    model, node and tensor at fault. The error path allocates nothing, so out-of-memory is
 *    reported like any other error.
 *  - Out-parameters come last. Ownership is stated on each function: "caller owns" means the
 *    caller must pass the object to its _destroy function.
 *  - The library never exits, aborts or writes to stdout. Log lines go to stderr, or to the
 *    callback set with onyx_log_set_callback().
 *  - Options structs carry their own size in their first field so they can grow without new
 *    function names: always initialise them with the matching _init function.
 *
 * Threads: sessions may be created concurrently. One session runs one onyx_session_run() at a
 * time; call it from several threads only with your own lock. Tensors are not synchronised.
 */
#ifndef ONYX_ONYX_H
#define ONYX_ONYX_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32)
#define ONYX_API __declspec(dllexport)
#elif defined(__GNUC__)
#define ONYX_API __attribute__((visibility("default")))
#else
#define ONYX_API
#endif

#define ONYX_VERSION_MAJOR 0
#define ONYX_VERSION_MINOR 1
#define ONYX_VERSION_PATCH 0

/* The library's version as "MAJOR.MINOR.PATCH". Static storage. */
ONYX_API const char *onyx_version(void);

/* What onyx runs on here, one line per provider: for cpu, OpenBLAS's version, build and the CPU
 * kernels it picked for this machine; for cuda, the CUDA runtime, driver and cuBLASLt versions and
 * the GPUs seen, or why CUDA cannot be used. Written into buf (size bytes, cut short if need be,
 * always NUL-terminated); returns buf. `onyx --version` prints it. */
ONYX_API const char *onyx_runtime_info(char *buf, size_t size);

/* ---------------------------------------------------------------------------------------------
 * Status and errors
 */
typedef enum onyx_status {
    ONYX_OK = 0,
    ONYX_ERR_INVALID_ARGUMENT = 1, /* a caller mistake: NULL pointer, wrong name, shape or dtype */
    ONYX_ERR_INVALID_MODEL = 2,    /* the model file or graph is malformed or inconsistent */
    ONYX_ERR_NOT_IMPLEMENTED = 3,  /* valid ONNX that onyx cannot run (an op, dtype or attribute) */
    ONYX_ERR_OUT_OF_MEMORY = 4,    /* host or device allocation failed */
    ONYX_ERR_IO = 5,               /* a file could not be opened, mapped or read */
    ONYX_ERR_NO_PROVIDER = 6,      /* an asked-for execution provider cannot be created here */
    ONYX_ERR_RUNTIME = 7           /* a kernel failed at run time (for example a device error) */
} onyx_status;

/* A short constant name for a status, e.g. "INVALID_MODEL". Static storage. */
ONYX_API const char *onyx_status_name(onyx_status status);

/* The message of the last failed call on this thread ("" if none). Valid until the next onyx
 * call on this thread. */
ONYX_API const char *onyx_last_error(void);

/* ---------------------------------------------------------------------------------------------
 * Logging
 */
typedef enum onyx_log_level {
    ONYX_LOG_VERBOSE = 0, /* node placement per provider, folding and planning decisions */
    ONYX_LOG_INFO = 1,
    ONYX_LOG_WARNING = 2, /* the default */
    ONYX_LOG_ERROR = 3,
    ONYX_LOG_FATAL = 4
} onyx_log_level;

typedef void (*onyx_log_fn)(void *user, onyx_log_level level, const char *message);

/* Process-wide minimum level of messages that are emitted. */
ONYX_API void onyx_log_set_level(onyx_log_level level);
ONYX_API onyx_log_level onyx_log_get_level(void);
/* Send log lines to fn(user, level, line) instead of stderr; fn == NULL restores stderr. */
ONYX_API void onyx_log_set_callback(onyx_log_fn fn, void *user);

/* ---------------------------------------------------------------------------------------------
 * Data types. The numbers are ONNX's TensorProto.DataType codes.
 */
typedef enum onyx_dtype {
    ONYX_DTYPE_UNDEFINED = 0,
    ONYX_DTYPE_FLOAT32 = 1,
    ONYX_DTYPE_UINT8 = 2,
    ONYX_DTYPE_INT8 = 3,
    ONYX_DTYPE_UINT16 = 4,
    ONYX_DTYPE_INT16 = 5,
    ONYX_DTYPE_INT32 = 6,
    ONYX_DTYPE_INT64 = 7,
    ONYX_DTYPE_STRING = 8, /* elements are onyx_string */
    ONYX_DTYPE_BOOL = 9,   /* one byte per element, 0 or 1 */
    ONYX_DTYPE_FLOAT16 = 10,
    ONYX_DTYPE_FLOAT64 = 11,
    ONYX_DTYPE_UINT32 = 12,
    ONYX_DTYPE_UINT64 = 13,
    ONYX_DTYPE_COMPLEX64 = 14,
    ONYX_DTYPE_COMPLEX128 = 15,
    ONYX_DTYPE_BFLOAT16 = 16
} onyx_dtype;

/* An element of a STRING tensor: bytes (not necessarily NUL-terminated) and their length. */
typedef struct onyx_string {
    const char *data;
    size_t size;
} onyx_string;

/* "float32", "int64", ... ; "invalid" for unknown codes. Static storage. */
ONYX_API const char *onyx_dtype_name(onyx_dtype dtype);
/* Bytes per element; 0 for UNDEFINED and unknown codes. */
ONYX_API size_t onyx_dtype_size(onyx_dtype dtype);

/* ---------------------------------------------------------------------------------------------
 * Tensors: dtype, shape, and data on a device. Zero-size tensors (a dim of 0) are legal.
 */
#define ONYX_MAX_RANK 12

typedef enum onyx_device_type { ONYX_DEVICE_CPU = 0, ONYX_DEVICE_CUDA = 1 } onyx_device_type;

typedef struct onyx_tensor onyx_tensor;

/* A new host tensor whose zero-filled memory the tensor owns. Caller owns the tensor. */
ONYX_API onyx_status onyx_tensor_create(onyx_dtype dtype, const int64_t *dims, size_t rank,
                                        onyx_tensor **out);
/* A host tensor over caller memory of data_bytes bytes, which must hold the whole tensor and
 * outlive it; the tensor never frees it. Caller owns the tensor. STRING tensors must use
 * onyx_tensor_create and fill elements with onyx_tensor_set_string. */
ONYX_API onyx_status onyx_tensor_create_borrowed(onyx_dtype dtype, const int64_t *dims,
                                                 size_t rank, void *data, size_t data_bytes,
                                                 onyx_tensor **out);
ONYX_API void onyx_tensor_destroy(onyx_tensor *tensor);

ONYX_API onyx_dtype onyx_tensor_dtype(const onyx_tensor *tensor);
ONYX_API size_t onyx_tensor_rank(const onyx_tensor *tensor);
/* The dims, rank of them; valid while the tensor lives. */
ONYX_API const int64_t *onyx_tensor_dims(const onyx_tensor *tensor);
ONYX_API int64_t onyx_tensor_numel(const onyx_tensor *tensor);
ONYX_API size_t onyx_tensor_nbytes(const onyx_tensor *tensor);
ONYX_API void *onyx_tensor_data(onyx_tensor *tensor);
ONYX_API onyx_device_type onyx_tensor_device(const onyx_tensor *tensor);
ONYX_API int onyx_tensor_device_id(const onyx_tensor *tensor);

/* A tensor over caller memory on a device (ONYX_DEVICE_CUDA: a device pointer from cudaMalloc,
 * a PyTorch tensor's data_ptr(), ...), which must hold data_bytes bytes and outlive the tensor.
 * ONYX_DEVICE_CPU is the same as onyx_tensor_create_borrowed. Caller owns the tensor. */
ONYX_API onyx_status onyx_tensor_create_borrowed_on(onyx_dtype dtype, const int64_t *dims,
                                                    size_t rank, void *data, size_t data_bytes,
                                                    onyx_device_type device, int device_id,
                                                    onyx_tensor **out);
/* A new host tensor holding a copy of tensor's elements, wherever they live (copies from the
 * GPU wait for the copy to finish). Caller owns *out. */
ONYX_API onyx_status onyx_tensor_to_host(const onyx_tensor *tensor, onyx_tensor **out);

/* ---------------------------------------------------------------------------------------------
 * DLPack: exchange tensors with PyTorch, CuPy, JAX, ... without copies. The structs are
 * DLPack's (dlpack/dlpack.h, ABI version 0.6: DLManagedTensor). onyx supports contiguous
 * row-major tensors on kDLCPU and kDLCUDA with onyx's dtypes.
 */
struct DLManagedTensor;

/* Wrap a DLPack tensor. onyx takes ownership: managed->deleter runs when *out is destroyed
 * (and also when this call fails). Non-contiguous strides, byte_offset misalignment, lanes != 1
 * and unsupported devices or dtypes are errors naming what was wrong. Caller owns *out. */
ONYX_API onyx_status onyx_tensor_from_dlpack(struct DLManagedTensor *managed, onyx_tensor **out);
/* Export tensor as a DLPack tensor that shares its memory. The tensor is moved into the
 * DLManagedTensor: after success, *tensor is NULL and the consumer calls (*out)->deleter(*out)
 * when done, which destroys the onyx tensor. On failure *tensor is left as it was. */
ONYX_API onyx_status onyx_tensor_to_dlpack(onyx_tensor **tensor, struct DLManagedTensor **out);
/* Copy bytes into element index of a STRING tensor the tensor owns. */
ONYX_API onyx_status onyx_tensor_set_string(onyx_tensor *tensor, int64_t index, const char *bytes,
                                            size_t size);

/* ---------------------------------------------------------------------------------------------
 * Session options
 */
typedef enum onyx_opt_level {
    ONYX_OPT_NONE = 0,  /* run the graph as written */
    ONYX_OPT_BASIC = 1, /* constant folding, dead-node removal, shape folding per input shape */
    ONYX_OPT_ALL = 2    /* BASIC plus fusions that change the node list */
} onyx_opt_level;

typedef struct onyx_session_options {
    size_t struct_size; /* sizeof(onyx_session_options), set by onyx_session_options_init */
    /* Providers in priority order, comma-separated: "cpu", "cuda,cpu". Short names and ONNX
     * Runtime's names (CPUExecutionProvider, CUDAExecutionProvider) are accepted. NULL = "cpu".
     * A provider that cannot be created here is an error listing the available ones. */
    const char *providers;
    /* Provider options as "provider.key=value" pairs separated by ';' or newlines, using ONNX
     * Runtime's option names where they exist (e.g. "cuda.device_id=0;cuda.gpu_mem_limit=2e9").
     * Unknown keys are errors. NULL = none. */
    const char *provider_options;
    onyx_opt_level opt_level; /* default ONYX_OPT_ALL */
    int intra_op_threads;     /* 0 = one per core */
    /* Log level for this session's messages; the process level applies if more verbose.
     * Default ONYX_LOG_WARNING. */
    onyx_log_level log_level;
    /* A name used in error messages instead of the model's path (optional). */
    const char *model_name;
    /* Time every node of every run (ONNX Runtime's enable_profiling); read the times with
     * onyx_session_node_time and onyx_session_op_times. Default 0 (off).
     * ONYX_PROFILE_NODES (1): the runtime waits for the device after each node, so a node's time
     * is its work, and runs get slower. ONYX_PROFILE_HOST (2): nothing is waited for, so a
     * node's time is what the host spent preparing and queueing it (with a GPU, the launch
     * cost), and runs keep their speed. */
    int enable_profiling;
    /* Outputs wanted only at the last position of their axis 1, comma-separated (transformers'
     * logits_to_keep=1 for a generate loop: "logits"). Where such an output (declared with rank
     * 3 or more) is a MatMul of the
     * sequence by a 2-D weight (through Casts, elementwise ops with scalar or 1-D constants and
     * If branches), the product reads only the last row: a prefill of S tokens runs the LM head
     * once per sequence, and the output has 1 entry on axis 1. Other outputs named are left
     * whole. A name that is not an output is an error. NULL = none (the default). */
    const char *last_position_outputs;
} onyx_session_options;

enum { ONYX_PROFILE_OFF = 0, ONYX_PROFILE_NODES = 1, ONYX_PROFILE_HOST = 2 };

ONYX_API void onyx_session_options_init(onyx_session_options *options);

/* ---------------------------------------------------------------------------------------------
 * Sessions
 */
typedef struct onyx_session onyx_session;

/* Load, check, optimise and place the model in the file at path. External data files are read
 * from the model's folder. options may be NULL for defaults. Caller owns *out. */
ONYX_API onyx_status onyx_session_create(const char *path, const onyx_session_options *options,
                                         onyx_session **out);
/* The same from a model in memory, which is copied. Models with external data must be loaded
 * from a file. */
ONYX_API onyx_status onyx_session_create_from_memory(const void *data, size_t size,
                                                     const onyx_session_options *options,
                                                     onyx_session **out);
ONYX_API void onyx_session_destroy(onyx_session *session);

/* Inputs and outputs of the model, in the graph's order. Dims are >= 0 when fixed and -1 when
 * symbolic or unknown; dim_params[i] names a symbolic dim ("batch_size") or is NULL. rank is -1
 * when the model does not say. Pointers stay valid while the session lives. */
typedef struct onyx_value_info {
    const char *name;
    onyx_dtype dtype;
    int rank;
    const int64_t *dims;
    const char *const *dim_params;
} onyx_value_info;

ONYX_API size_t onyx_session_input_count(const onyx_session *session);
ONYX_API size_t onyx_session_output_count(const onyx_session *session);
ONYX_API onyx_status onyx_session_input_info(const onyx_session *session, size_t index,
                                             onyx_value_info *out);
ONYX_API onyx_status onyx_session_output_info(const onyx_session *session, size_t index,
                                              onyx_value_info *out);

/* The dims output index will have when the graph's symbolic dims take the values given:
 * names[i] = values[i], n pairs ("batch_size" = 2, "past_sequence_length" = 7, ...). Dims the
 * graph writes as expressions ("past_sequence_length + sequence_length", "2*s0 + 1") are
 * evaluated (integers, + - * and floor division, parentheses), as Optimum does to preallocate
 * IOBinding outputs. dims receives rank values (capacity ONYX_MAX_RANK); *rank receives the
 * output's rank. ONYX_ERR_INVALID_ARGUMENT names a symbol without a value, an expression that
 * does not parse, or an output the graph gives no shape (rank -1) or an unnamed unknown dim. */
ONYX_API onyx_status onyx_session_output_shape(const onyx_session *session, size_t index,
                                               const char *const *names, const int64_t *values,
                                               size_t n, int64_t *dims, int *rank);

/* Providers in use after placement, in priority order, comma-separated ("cpu"). */
ONYX_API const char *onyx_session_providers(const onyx_session *session);

/* Run the model. Inputs are bound by name (n_inputs of them; every graph input without an
 * initializer must be given); they may live on the host or on a device of one of the session's
 * providers. output_names selects n_outputs outputs by name; output_names == NULL with
 * n_outputs == 0 is not allowed. outputs[i] receives a new host tensor the caller owns. The call
 * returns when the run's work is done (GPU work included). On failure every outputs[i] is NULL. */
ONYX_API onyx_status onyx_session_run(onyx_session *session, const char *const *input_names,
                                      const onyx_tensor *const *inputs, size_t n_inputs,
                                      const char *const *output_names, size_t n_outputs,
                                      onyx_tensor **outputs);

/* Counters of the last run. */
typedef struct onyx_run_stats {
    size_t struct_size;
    uint64_t nodes_run;        /* kernels launched, folded nodes excluded */
    uint64_t host_allocations; /* heap allocations the run made for intermediate tensors */
    uint64_t device_copies;    /* copies between devices inserted at provider boundaries (inputs,
                                  outputs and weights moved to where a node runs) */
    uint64_t arena_bytes;      /* size of the planned host arena for this input shape */
    int plan_reused;           /* 1 when a plan for these input shapes existed already */
    uint64_t device_arena_bytes;  /* size of the planned device arena for this input shape */
    uint64_t device_allocations;  /* device memory obtained from the driver (cudaMalloc) */
    uint64_t device_bytes_copied; /* bytes moved between host and device */
    /* 1 when this run (a recording run) left a plan for its input shapes. Shapes are planned on
     * first sight while plans get reused; when plans keep being evicted unused (a decode loop,
     * where each step has a new past length), only shapes that come back within the plan
     * cache's reach (16 runs) are planned, and the others run as recording runs. */
    int plan_made;
    uint64_t host_ns; /* the run on the host: every node prepared and run, or queued on its device */
    uint64_t wait_ns; /* then the wait for the devices to finish, and the copies of outputs to the host */
    /* 1 when the run's device work was recorded and launched as CUDA graphs (the cuda
     * provider's enable_cuda_graph, on by default; see docs/cuda.md). */
    int graph_launched;
    /* Of those graphs (the run goes out in parts of cuda_graph_part_nodes nodes), how many were
     * instantiated anew rather than updated from the previous run's. */
    uint64_t graph_instantiations;
} onyx_run_stats;

ONYX_API void onyx_run_stats_init(onyx_run_stats *stats);
ONYX_API onyx_status onyx_session_last_run_stats(const onyx_session *session,
                                                 onyx_run_stats *out);

/* Device memory of the session's GPU provider (its caching arena). */
typedef struct onyx_device_memory_stats {
    size_t struct_size;
    uint64_t limit_bytes;         /* gpu_mem_limit; 0 = none */
    uint64_t reserved_bytes;      /* obtained from the driver and not given back */
    uint64_t in_use_bytes;        /* handed out to tensors, plans and caches */
    uint64_t peak_reserved_bytes;
    uint64_t peak_in_use_bytes;
    uint64_t driver_allocations;  /* cudaMalloc calls so far */
    uint64_t driver_frees;        /* cudaFree calls so far */
} onyx_device_memory_stats;

ONYX_API void onyx_device_memory_stats_init(onyx_device_memory_stats *stats);
/* Counters of the session's device arena. ONYX_ERR_INVALID_ARGUMENT when the session uses no
 * GPU provider. */
ONYX_API onyx_status onyx_session_device_memory(const onyx_session *session,
                                                onyx_device_memory_stats *out);
/* Give the device memory the arena caches but does not use back to the driver (ONNX Runtime's
 * memory.enable_memory_arena_shrinkage), and free the host blocks that destroyed output tensors
 * gave back for later outputs (kept, up to 256 MB, while any session exists). Plans keep
 * working; the next run obtains what it needs again. */
ONYX_API onyx_status onyx_session_release_cached_memory(onyx_session *session);

/* ---------------------------------------------------------------------------------------------
 * IOBinding: inputs and outputs that live on a device, bound by name before a run (ONNX
 * Runtime's IOBinding). Bind inputs to host or device tensors; bind outputs either to a tensor
 * the caller preallocated (the run writes into it: its dtype and shape must be what the run
 * produces) or to a device, where the session allocates the output and hands it over. The
 * outputs of one run can be bound as inputs of the next without copies (the KV-cache loop).
 */
typedef struct onyx_io_binding onyx_io_binding;

/* A binding for session, which must outlive it. Caller owns *out. */
ONYX_API onyx_status onyx_io_binding_create(onyx_session *session, onyx_io_binding **out);
ONYX_API void onyx_io_binding_destroy(onyx_io_binding *binding);
/* Bind input name to tensor (borrowed: it must stay valid until the binding is cleared, bound
 * again, or destroyed). Wrong names, dtypes and ranks are errors, as in onyx_session_run. */
ONYX_API onyx_status onyx_io_binding_bind_input(onyx_io_binding *binding, const char *name,
                                                const onyx_tensor *tensor);
/* Bind input name to tensor and hand tensor over: the next run destroys it right after the
 * last node that reads it, or at the end of the run if none does, if the run fails, or if it
 * is recorded as a CUDA graph (a recording that proves unusable is run again, reading the
 * inputs again). For a KV cache loop: the past tensors go while the presents are written, so
 * the cache is not held twice. On an error here the caller keeps tensor; a binding cleared or
 * destroyed before a run destroys what it was given. Never give one tensor twice. */
ONYX_API onyx_status onyx_io_binding_give_input(onyx_io_binding *binding, const char *name,
                                                onyx_tensor *tensor);
/* Bind output name to a preallocated tensor (borrowed like inputs). */
ONYX_API onyx_status onyx_io_binding_bind_output(onyx_io_binding *binding, const char *name,
                                                 onyx_tensor *tensor);
/* Bind output name to a device: each run allocates it there (on the GPU from the session's
 * arena, so a steady-state loop makes no cudaMalloc) and onyx_io_binding_get_output hands it
 * over. Tensors allocated this way must be destroyed before the session. */
ONYX_API onyx_status onyx_io_binding_bind_output_to_device(onyx_io_binding *binding,
                                                           const char *name,
                                                           onyx_device_type device);
/* A copy of tensor (on any device) on device, in memory of the session's arena there (for
 * the GPU: no cudaMalloc once the arena has the memory cached). Destroy it before the session.
 * Caller owns *out. */
ONYX_API onyx_status onyx_session_tensor_to_device(onyx_session *session, const onyx_tensor *tensor,
                                                   onyx_device_type device, onyx_tensor **out);
ONYX_API void onyx_io_binding_clear_inputs(onyx_io_binding *binding);
ONYX_API void onyx_io_binding_clear_outputs(onyx_io_binding *binding);
/* Run with the bound inputs and outputs. Every graph input without an initializer must be
 * bound; at least one output must be. Outputs of the previous run not yet taken are destroyed. */
ONYX_API onyx_status onyx_session_run_with_binding(onyx_session *session,
                                                   onyx_io_binding *binding);
/* The output name of the last run: for outputs bound to a device, a tensor the caller now owns
 * (asking twice is an error); for preallocated outputs, NULL (the result is in the caller's
 * tensor). */
ONYX_API onyx_status onyx_io_binding_get_output(onyx_io_binding *binding, const char *name,
                                                onyx_tensor **out);

/* Placement of node i of the optimised graph: its op type, name and provider. */
ONYX_API size_t onyx_session_node_count(const onyx_session *session);
ONYX_API onyx_status onyx_session_node_info(const onyx_session *session, size_t index,
                                            const char **op_type, const char **name,
                                            const char **provider);
/* With enable_profiling: the time node i (as numbered by onyx_session_node_info) took over all
 * runs so far, in nanoseconds, and how many runs executed it. An If's time includes its branch. */
ONYX_API onyx_status onyx_session_node_time(const onyx_session *session, size_t index,
                                            uint64_t *total_ns, uint64_t *calls);

/* With enable_profiling: time per op type and provider over all runs so far, the nodes of
 * subgraphs (If branches) included, largest first. An If counts only its own time here, not
 * its branch's nodes. Writes up to capacity entries into out and their number into *count; the
 * strings live as long as the session. */
typedef struct onyx_op_time {
    const char *op_type;
    const char *provider;
    uint64_t nodes;    /* nodes of this op type and provider (all graphs) */
    uint64_t calls;    /* node executions, over all runs */
    uint64_t total_ns; /* their time, as enable_profiling defines it */
} onyx_op_time;
ONYX_API onyx_status onyx_session_op_times(const onyx_session *session, onyx_op_time *out,
                                           size_t capacity, size_t *count);

/* Counters of every run since the session was created or last reset, whether or not profiling
 * is on: how many runs reused a plan, and where their time went. The reset also sets the
 * profile's node times (enable_profiling) back to zero. */
typedef struct onyx_run_totals {
    size_t struct_size;
    uint64_t runs;
    uint64_t planned_runs;     /* runs that found a plan for their input shapes */
    uint64_t nodes_run;
    uint64_t device_copies;
    uint64_t host_allocations;
    uint64_t device_allocations;
    uint64_t host_ns;          /* sum of onyx_run_stats.host_ns */
    uint64_t wait_ns;          /* sum of onyx_run_stats.wait_ns */
    uint64_t graph_runs;       /* runs launched as CUDA graphs (onyx_run_stats.graph_launched) */
    uint64_t graph_instantiations; /* sum of onyx_run_stats.graph_instantiations */
} onyx_run_totals;
ONYX_API void onyx_run_totals_init(onyx_run_totals *totals);
ONYX_API onyx_status onyx_session_run_totals(const onyx_session *session, onyx_run_totals *out);
ONYX_API void onyx_session_reset_run_totals(onyx_session *session);

#ifdef __cplusplus
}
#endif

#endif /* ONYX_ONYX_H */
