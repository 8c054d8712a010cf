/*
 * iobinding.c - runs with inputs and outputs bound by name to tensors on any device (ONNX
 * Runtime's IOBinding; see onyx.h). Outputs bound to a preallocated tensor are written in place
 * when the run produces exactly that dtype, shape and device (else copied there); outputs bound
 * to a device are detached from the arena and handed to the caller without a copy.
 */
#include <string.h>

#include "core/alloc.h"
#include "core/status.h"
#include "runtime/session_internal.h"

typedef struct bound_output {
    onyx_tensor *preallocated;  /* borrowed, or NULL */
    int to_device;              /* bound to a device: allocate there and hand over */
    onyx_device_type device;
    onyx_tensor *result;        /* what the last run produced for to_device outputs (owned) */
} bound_output;

struct onyx_io_binding {
    onyx_session *session;
    const onyx_tensor **inputs; /* per session input */
    onyx_tensor **given;        /* per session input: handed over (onyx_io_binding_give_input), owned
                                   until a run takes it */
    bound_output *outputs;      /* per session output */
};

onyx_status onyx_io_binding_create(onyx_session *s, onyx_io_binding **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_io_binding_create: out is NULL");
    *out = NULL;
    if (!s) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_io_binding_create: session is NULL");
    onyx_io_binding *b = onyx_calloc(1, sizeof *b);
    if (!b) return ONYX_ERR_OUT_OF_MEMORY;
    b->session = s;
    b->inputs = onyx_calloc(s->n_inputs + 1, sizeof *b->inputs);
    b->given = onyx_calloc(s->n_inputs + 1, sizeof *b->given);
    b->outputs = onyx_calloc(s->n_outputs + 1, sizeof *b->outputs);
    if (!b->inputs || !b->given || !b->outputs) {
        onyx_io_binding_destroy(b);
        return ONYX_ERR_OUT_OF_MEMORY;
    }
    *out = b;
    return ONYX_OK;
}

static void drop_results(onyx_io_binding *b) {
    for (size_t i = 0; i < b->session->n_outputs; i++) {
        onyx_tensor_destroy(b->outputs[i].result);
        b->outputs[i].result = NULL;
    }
}

/* Input i's given tensor (if any) destroyed, and the input unbound. */
static void drop_given(onyx_io_binding *b, size_t i) {
    if (!b->given[i]) return;
    onyx_tensor_destroy(b->given[i]);
    b->given[i] = NULL;
    b->inputs[i] = NULL;
}

void onyx_io_binding_destroy(onyx_io_binding *b) {
    if (!b) return;
    if (b->outputs) drop_results(b);
    if (b->inputs && b->given)
        for (size_t i = 0; i < b->session->n_inputs; i++) drop_given(b, i);
    onyx_free(b->given);
    onyx_free(b->inputs);
    onyx_free(b->outputs);
    onyx_free(b);
}

/* Bind input name to t; *index gets the input's number. */
static onyx_status bind_input_at(onyx_io_binding *b, const char *name, const onyx_tensor *t, int *index) {
    onyx_error_clear();
    if (!b || !name || !t) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_io_binding_bind_input: NULL argument");
    const onyx_session *s = b->session;
    int i = session_find_input(s, name);
    char names[1024];
    if (i < 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: '%s' is not an input of the model; the inputs are [%s]",
                          s->model->display_name, name, session_list_names(s->inputs, s->n_inputs, names, sizeof names));
    ONYX_TRY(session_check_input(s, &s->inputs[i], t));
    if (b->given[i] != t) drop_given(b, (size_t)i); /* what was given there before */
    b->inputs[i] = t;
    *index = i;
    return ONYX_OK;
}

onyx_status onyx_io_binding_bind_input(onyx_io_binding *b, const char *name, const onyx_tensor *t) {
    int i;
    return bind_input_at(b, name, t, &i);
}

onyx_status onyx_io_binding_give_input(onyx_io_binding *b, const char *name, onyx_tensor *t) {
    int i;
    ONYX_TRY(bind_input_at(b, name, t, &i));
    for (size_t k = 0; k < b->session->n_inputs; k++)
        if (b->given[k] == t && (int)k != i) {
            b->inputs[i] = NULL;
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' is given a tensor already given to '%s'",
                              b->session->model->display_name, name, b->session->inputs[k].info.name);
        }
    b->given[i] = t;
    return ONYX_OK;
}

static onyx_status find_output(const onyx_io_binding *b, const char *name, const char *fn, int *out) {
    const onyx_session *s = b->session;
    char names[1024];
    *out = session_find_output(s, name);
    if (*out < 0)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: %s: '%s' is not an output of the model; the outputs are [%s]",
                          s->model->display_name, fn, name,
                          session_list_names(s->outputs, s->n_outputs, names, sizeof names));
    return ONYX_OK;
}

onyx_status onyx_io_binding_bind_output(onyx_io_binding *b, const char *name, onyx_tensor *t) {
    onyx_error_clear();
    if (!b || !name || !t) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_io_binding_bind_output: NULL argument");
    int i;
    ONYX_TRY(find_output(b, name, "onyx_io_binding_bind_output", &i));
    if (t->device != ONYX_DEVICE_CPU && !onyx_provider_for_device(b->session->providers, b->session->n_providers, t->device))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: output '%s' is bound to a GPU tensor, but the session's providers are [%s]",
                          b->session->model->display_name, name, b->session->providers_used);
    b->outputs[i].preallocated = t;
    b->outputs[i].to_device = 0;
    return ONYX_OK;
}

onyx_status onyx_io_binding_bind_output_to_device(onyx_io_binding *b, const char *name, onyx_device_type device) {
    onyx_error_clear();
    if (!b || !name) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_io_binding_bind_output_to_device: NULL argument");
    int i;
    ONYX_TRY(find_output(b, name, "onyx_io_binding_bind_output_to_device", &i));
    if (device != ONYX_DEVICE_CPU && device != ONYX_DEVICE_CUDA)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_io_binding_bind_output_to_device: unknown device %d", (int)device);
    if (device != ONYX_DEVICE_CPU && !onyx_provider_for_device(b->session->providers, b->session->n_providers, device))
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: output '%s' is bound to the GPU, but the session's providers are [%s]",
                          b->session->model->display_name, name, b->session->providers_used);
    b->outputs[i].preallocated = NULL;
    b->outputs[i].to_device = 1;
    b->outputs[i].device = device;
    return ONYX_OK;
}

onyx_status onyx_session_tensor_to_device(onyx_session *s, const onyx_tensor *t, onyx_device_type device,
                                          onyx_tensor **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_tensor_to_device: out is NULL");
    *out = NULL;
    if (!s || !t) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_tensor_to_device: NULL argument");
    if (device == ONYX_DEVICE_CPU) return onyx_tensor_to_host(t, out);
    onyx_provider *p = onyx_provider_for_device(s->providers, s->n_providers, device);
    if (!p)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: onyx_session_tensor_to_device: no provider of [%s] runs on that device",
                          s->model->display_name, s->providers_used);
    if (t->dtype == ONYX_DTYPE_STRING)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_tensor_to_device: string tensors stay on the host");
    ONYX_TRY(onyx_provider_tensor_copy(p, t, out));
    onyx_status st = p->ops->sync ? p->ops->sync(p) : ONYX_OK;
    if (st != ONYX_OK) {
        onyx_tensor_destroy(*out);
        *out = NULL;
    }
    return st;
}

void onyx_io_binding_clear_inputs(onyx_io_binding *b) {
    if (!b) return;
    for (size_t i = 0; i < b->session->n_inputs; i++) drop_given(b, i);
    memset(b->inputs, 0, b->session->n_inputs * sizeof *b->inputs);
}

void onyx_io_binding_clear_outputs(onyx_io_binding *b) {
    if (!b) return;
    drop_results(b);
    for (size_t i = 0; i < b->session->n_outputs; i++) {
        b->outputs[i].preallocated = NULL;
        b->outputs[i].to_device = 0;
    }
}

onyx_status onyx_session_run_with_binding(onyx_session *s, onyx_io_binding *b) { return session_run_binding(s, b, 1); }

onyx_status session_run_binding(onyx_session *s, onyx_io_binding *b, int sync) {
    onyx_error_clear();
    if (!s || !b) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_run_with_binding: NULL argument");
    if (b->session != s)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_session_run_with_binding: the binding belongs to another session");
    const char *model = s->model->display_name;
    char names[1024];
    drop_results(b);
    int any_output = 0;
    for (size_t i = 0; i < s->n_outputs; i++) any_output |= b->outputs[i].preallocated || b->outputs[i].to_device;
    if (!any_output)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: no output is bound; the outputs are [%s]", model,
                          session_list_names(s->outputs, s->n_outputs, names, sizeof names));
    for (size_t i = 0; i < s->n_inputs; i++) {
        if (!b->inputs[i] && s->graph->values[s->inputs[i].value_id].kind == ONYX_VALUE_INPUT)
            return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: input '%s' is not bound; the inputs are [%s]", model,
                              s->inputs[i].info.name, session_list_names(s->inputs, s->n_inputs, names, sizeof names));
        onyx_exec_bind(s->exec, s->inputs[i].value_id, b->inputs[i]);
    }
    /* Given inputs are the run's from here: it destroys them after their last reader, and
     * onyx_exec_release_given below whatever it left. */
    for (size_t i = 0; i < s->n_inputs; i++)
        if (b->given[i]) {
            onyx_exec_give(s->exec, s->inputs[i].value_id);
            b->given[i] = NULL;
            b->inputs[i] = NULL;
        }
    for (size_t i = 0; i < s->n_outputs; i++) {
        int id = s->outputs[i].value_id;
        onyx_exec_bind_output(s->exec, id, b->outputs[i].preallocated);
        onyx_exec_set_detach(s->exec, id, b->outputs[i].to_device);
    }
    onyx_device_memory_stats before;
    session_memory_snapshot(s, &before);
    uint64_t t0 = onyx_clock_ns();
    onyx_status st = onyx_exec_run(s->exec);
    for (size_t i = 0; i < s->n_outputs && st == ONYX_OK; i++) {
        int id = s->outputs[i].value_id;
        if (b->outputs[i].preallocated)
            st = onyx_exec_output_into(s->exec, id, b->outputs[i].preallocated, s->outputs[i].info.name);
        else if (b->outputs[i].to_device)
            st = onyx_exec_take_output(s->exec, id, b->outputs[i].device, &b->outputs[i].result);
    }
    uint64_t t1 = onyx_clock_ns();
    if (st == ONYX_OK && sync) st = session_sync(s);
    session_record_stats(s, &before, t1 - t0, onyx_clock_ns() - t1);
    onyx_exec_finish(s->exec);
    onyx_exec_release_given(s->exec);
    for (size_t i = 0; i < s->n_inputs; i++) onyx_exec_bind(s->exec, s->inputs[i].value_id, NULL);
    for (size_t i = 0; i < s->n_outputs; i++) {
        onyx_exec_bind_output(s->exec, s->outputs[i].value_id, NULL);
        onyx_exec_set_detach(s->exec, s->outputs[i].value_id, 0);
    }
    if (st != ONYX_OK) drop_results(b);
    return st;
}

onyx_status onyx_io_binding_get_output(onyx_io_binding *b, const char *name, onyx_tensor **out) {
    onyx_error_clear();
    if (!out) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_io_binding_get_output: out is NULL");
    *out = NULL;
    if (!b || !name) return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "onyx_io_binding_get_output: NULL argument");
    int i;
    ONYX_TRY(find_output(b, name, "onyx_io_binding_get_output", &i));
    bound_output *o = &b->outputs[i];
    if (o->preallocated) return ONYX_OK;
    if (!o->to_device)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT, "%s: output '%s' is not bound", b->session->model->display_name, name);
    if (!o->result)
        return onyx_error(ONYX_ERR_INVALID_ARGUMENT,
                          "%s: output '%s' has no result: the binding has not run, the run failed, or it was taken already",
                          b->session->model->display_name, name);
    *out = o->result;
    o->result = NULL;
    return ONYX_OK;
}
