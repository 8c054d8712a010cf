/*
 * test_chooser.c - the token chooser graph on the cpu provider against the C reference of
 * chooser_cases.h (float32 and float16 logits; greedy, sampling, beam search, beam sampling).
 */
#include "chooser_cases.h"

static void test_chooser_cpu(void) { run_chooser_cases("cpu"); }

int main(void) {
    ONYX_TEST_RUN(test_chooser_cpu);
    return onyx_test_finish();
}
