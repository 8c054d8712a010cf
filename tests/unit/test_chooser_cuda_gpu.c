/*
 * test_chooser_cuda_gpu.c - the token chooser graph on the cuda provider against the C reference
 * of chooser_cases.h, and the placement: every chooser node runs on cuda except what the runtime
 * keeps on the cpu for shapes. Exits 77 where there is no GPU.
 */
#include "chooser_cases.h"

static int cuda_available(void) {
    onyx_session_options o;
    onyx_session_options_init(&o);
    o.providers = "cuda";
    onyx_session *s = NULL;
    char path[4096];
    snprintf(path, sizeof path, "%s/tests/models/gpt2-ts17/model.onnx", ONYX_SOURCE_DIR);
    if (onyx_session_create(path, &o, &s) != ONYX_OK) return 0;
    onyx_session_destroy(s);
    return 1;
}

static void test_chooser_cuda(void) {
    if (!cuda_available()) {
        onyx_test_skip("no CUDA device");
        return;
    }
    run_chooser_cases("cuda,cpu");
}

/* The compute nodes of a beam chooser are placed on cuda (only shape work may stay on cpu). */
static void test_chooser_placement(void) {
    if (!cuda_available()) {
        onyx_test_skip("no CUDA device");
        return;
    }
    char dir[4096];
    snprintf(dir, sizeof dir, "%s/tests/models/gpt2-ts17", ONYX_SOURCE_DIR);
    onyx_model_options o;
    onyx_model_options_init(&o);
    o.session.providers = "cuda,cpu";
    onyx_model *m = NULL;
    ONYX_CHECK_OK(onyx_model_load(dir, ONYX_TASK_AUTO, &o, &m));
    if (!m) return;
    onyx_chooser_spec spec = {ONYX_CHOOSER_SAMPLE, ONYX_DTYPE_FLOAT16, CV, 1, 0, 1.2f, 0.7f, 20, 0.9f, 1};
    onyx_session *s = NULL;
    ONYX_CHECK_OK(onyx_model_chooser(m, &spec, &s));
    for (size_t i = 0; s && i < onyx_session_node_count(s); i++) {
        const char *op = NULL, *name = NULL, *provider = NULL;
        ONYX_CHECK_OK(onyx_session_node_info(s, i, &op, &name, &provider));
        if (provider && strcmp(provider, "cuda") != 0) {
            onyx_test_checks++;
            onyx_test_failures++;
            fprintf(stderr, "FAIL %s: chooser node %s (%s) runs on %s\n", onyx_test_current, name, op, provider);
        }
    }
    onyx_model_destroy(m);
}

int main(void) {
    ONYX_TEST_RUN(test_chooser_cuda);
    ONYX_TEST_RUN(test_chooser_placement);
    return onyx_test_finish();
}
