#!/usr/bin/env python3
"""The bookkeeping of bench/: which pairs the suite calls valid, what a resumed suite runs after a
crash, which commit the report credits a row to, and Nsight Compute sums. No GPU, torch or onyx
build is needed; numpy is (exit 77, a skip, without it)."""
import contextlib
import csv
import io
import json
import os
import sys
import tempfile
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
BENCH = os.path.join(HERE, "..", "..", "bench")
sys.path.insert(0, BENCH)
try:
    import numpy as np
except ImportError:
    print("numpy is not installed: skipped")
    sys.exit(77)
import generation_bench as G  # noqa: E402
import ncu_summary  # noqa: E402
import report  # noqa: E402


def rows_for(out, *extra):
    args = G.parse_args(["build", out, "--models", "gpt2", "--lengths", "32", "--batches", "1",
                         "--searches", "greedy,beam5", "--variants", "onyx-fp32,torch-fp32",
                         "--sections", "generate", *extra])
    return args, G.plan(args)


def find(rows, variant, search):
    return next(r for r in rows if r["variant"] == variant and r["search"] == search)


def one_row_measured(out):
    """A results folder whose plan has one row measured (onyx fp32 greedy); that row."""
    _, rows = rows_for(out)
    results = G.Results(out)
    G.pending(rows, results, False)
    done = find(rows, "onyx-fp32", "greedy")
    done["status"] = "ok"
    results.write()
    return done


class Validity(unittest.TestCase):
    def setUp(self):
        self.dir = tempfile.TemporaryDirectory()
        self.out = self.dir.name
        os.makedirs(os.path.join(self.out, "ids"))
        _, self.rows = rows_for(self.out)
        self.results = G.Results(self.out)
        for r in self.rows:
            self.results.rows[G.row_key(r)] = r
        self.onyx, self.torch = find(self.rows, "onyx-fp32", "greedy"), find(self.rows, "torch-fp32", "greedy")
        for r, ms in ((self.onyx, "50.0"), (self.torch, "200.0")):
            r.update(status="ok", p50_ms=ms, per_token_ms="1.0")
        self.ids = np.arange(2 * 96, dtype=np.int64).reshape(2, 96)  # 32 prompt + 64 new tokens, 2 rows

    def tearDown(self):
        self.dir.cleanup()

    def write(self, r, ids):
        np.save(G.ids_path(self.out, r), ids)

    def test_same_tokens_are_valid(self):
        self.write(self.onyx, self.ids)
        self.write(self.torch, self.ids)
        G.derive(self.results, {}, {})
        self.assertEqual(self.onyx["valid"], "yes")
        self.assertEqual(self.onyx["matched_tokens"], "64/64")
        self.assertEqual(self.onyx["savings_pct"], "75.0")
        self.assertEqual(self.torch["compared_with"], "onyx-fp32")

    def test_a_parting_row_makes_the_pair_invalid(self):
        other = self.ids.copy()
        other[1, 32 + 10] += 1
        self.write(self.onyx, self.ids)
        self.write(self.torch, other)
        G.derive(self.results, {}, {})
        self.assertEqual(self.onyx["valid"], "no")
        self.assertEqual(self.onyx["matched_tokens"], "10/64")
        self.assertEqual(self.onyx["rows_matching"], "1/2")

    def test_a_different_prompt_is_invalid_even_with_the_same_new_tokens(self):
        other = self.ids.copy()
        other[0, 3] += 1
        self.write(self.onyx, self.ids)
        self.write(self.torch, other)
        G.derive(self.results, {}, {})
        self.assertEqual(self.onyx["valid"], "no")

    def test_missing_ids_are_unknown_not_valid(self):
        self.write(self.onyx, self.ids)
        G.derive(self.results, {}, {})
        self.assertEqual(self.onyx["valid"], "unknown")


class Resume(unittest.TestCase):
    def test_a_row_that_killed_the_process_is_failed_and_its_kind_skipped(self):
        with tempfile.TemporaryDirectory() as out:
            args, rows = rows_for(out, "--lengths", "32,128")
            results = G.Results(out)
            todo = G.pending(rows, results, False)
            self.assertEqual(len(todo), len(rows))
            first = find(todo, "torch-fp32", "beam5")
            first["status"] = G.RUNNING  # what the suite writes before it measures a row
            results.write()
            # the next run reads it back
            _, rows = rows_for(out, "--lengths", "32,128")
            results = G.Results(out)
            todo = G.pending(rows, results, False)
            self.assertEqual(results.rows[G.row_key(first)]["status"], G.DIED)
            kinds = {(r["variant"], r["search"]) for r in todo}
            self.assertNotIn(("torch-fp32", "beam5"), kinds)
            self.assertIn(("torch-fp32", "greedy"), kinds)
            skipped = [r for r in results.rows.values() if r["status"].startswith("not run: a torch-fp32 beam5")]
            self.assertEqual(len(skipped), 1)  # the same kind at the other length
            # and in every later run that resumes the folder, not only the first
            results.write()
            _, rows = rows_for(out, "--lengths", "32,128")
            todo = G.pending(rows, G.Results(out), False)
            self.assertNotIn(("torch-fp32", "beam5"), {(r["variant"], r["search"]) for r in todo})
            # --retry-failed runs both again
            _, rows = rows_for(out, "--lengths", "32,128")
            todo = G.pending(rows, G.Results(out), True)
            self.assertEqual(sum(1 for r in todo if (r["variant"], r["search"]) == ("torch-fp32", "beam5")), 2)

    def test_a_committed_folder_resumes_with_its_packed_ids(self):
        import tarfile
        with tempfile.TemporaryDirectory() as src, tempfile.TemporaryDirectory() as out:
            onyx = one_row_measured(src)
            os.makedirs(os.path.join(src, "pack", "ids"))
            np.save(os.path.join(src, "pack", "ids", os.path.basename(G.ids_path(src, onyx))), np.zeros((1, 96), np.int64))
            with tarfile.open(os.path.join(src, "ids-inputs.tgz"), "w:gz") as tar:
                tar.add(os.path.join(src, "pack", "ids"), arcname="ids")
            G.resume_from(src, out)
            self.assertTrue(os.path.exists(G.ids_path(out, onyx)))
            self.assertEqual(G.Results(out).rows[G.row_key(onyx)]["status"], "ok")

    def test_measured_rows_are_not_run_again(self):
        with tempfile.TemporaryDirectory() as out:
            done = one_row_measured(out)
            _, rows = rows_for(out)
            todo = G.pending(rows, G.Results(out), False)
            self.assertNotIn(G.row_key(done), {G.row_key(r) for r in todo})
            self.assertEqual(len(todo), len(rows) - 1)


class FakeOrt:
    """Enough of onnxruntime's Python API to see what the suite asks of it."""
    class ExecutionMode:
        ORT_SEQUENTIAL = "sequential"

    class GraphOptimizationLevel:
        ORT_ENABLE_ALL = "all"

    class SessionOptions:
        pass

    class Input:
        def __init__(self, name, shape, type_):
            self.name, self.shape, self.type = name, shape, type_

    class InferenceSession:
        made = []

        def __init__(self, path, options, providers):
            self.path, self.options, self.providers, self.calls = path, options, providers, 0
            FakeOrt.InferenceSession.made.append(self)

        def get_inputs(self):
            return [FakeOrt.Input("input_ids", ["batch_size", "sequence_length"], "tensor(int64)"),
                    FakeOrt.Input("attention_mask", ["batch_size", "sequence_length"], "tensor(int64)"),
                    FakeOrt.Input("past_key_values.0.key", ["batch_size", 12, "past_sequence_length", 64],
                                  "tensor(float16)")]

        def run(self, outputs, feeds):
            self.calls += 1
            return []


class OrtSide(unittest.TestCase):
    def setUp(self):
        self.saved = sys.modules.get("onnxruntime")
        sys.modules["onnxruntime"] = FakeOrt

    def tearDown(self):
        if self.saved is None:
            del sys.modules["onnxruntime"]
        else:
            sys.modules["onnxruntime"] = self.saved

    def test_the_session_runs_on_the_cpu_with_the_threads_asked(self):
        sess = G.ort_session("m.onnx", 16)
        self.assertEqual(sess.providers, ["CPUExecutionProvider"])
        o = sess.options
        self.assertEqual((o.intra_op_num_threads, o.inter_op_num_threads), (16, 1))
        self.assertEqual((o.execution_mode, o.graph_optimization_level), ("sequential", "all"))

    def test_feeds_and_timing(self):
        sess = G.ort_session("m.onnx", 2)
        feeds = G.ort_feeds(sess, {"batch_size": 2, "sequence_length": 5, "past_sequence_length": 3})
        self.assertEqual(feeds["input_ids"].shape, (2, 5))
        self.assertTrue((feeds["input_ids"] < 1000).all())
        self.assertTrue((feeds["attention_mask"] == 1).all())
        self.assertEqual((feeds["past_key_values.0.key"].shape, str(feeds["past_key_values.0.key"].dtype)),
                         ((2, 12, 3, 64), "float16"))
        times = G.ort_time(sess, feeds, 4, warmup=2)
        self.assertEqual((len(times), sess.calls), (4, 6))


class BlasCoreHint(unittest.TestCase):
    VERSION = ("onyx 0.1.0\ncpu: OpenBLAS 0.3.21 DYNAMIC_ARCH; kernels for Prescott (this CPU has AVX-512: "
               "OPENBLAS_CORETYPE=SkylakeX would choose faster kernels); OpenMP threading")

    def setUp(self):
        self.saved = os.environ.pop("OPENBLAS_CORETYPE", None)

    def tearDown(self):
        os.environ.pop("OPENBLAS_CORETYPE", None)
        if self.saved is not None:
            os.environ["OPENBLAS_CORETYPE"] = self.saved

    def test_the_suggested_kernels_are_set_unless_the_user_chose(self):
        with contextlib.redirect_stdout(io.StringIO()):
            self.assertIsNone(G.apply_blas_core_hint("onyx 0.1.0\ncpu: OpenBLAS; kernels for Haswell; OpenMP"))
            self.assertNotIn("OPENBLAS_CORETYPE", os.environ)
            self.assertEqual(G.apply_blas_core_hint(self.VERSION), "SkylakeX")
            self.assertEqual(os.environ["OPENBLAS_CORETYPE"], "SkylakeX")
            os.environ["OPENBLAS_CORETYPE"] = "Haswell"
            self.assertIsNone(G.apply_blas_core_hint(self.VERSION))
            self.assertEqual(os.environ["OPENBLAS_CORETYPE"], "Haswell")


class Supervise(unittest.TestCase):
    def test_a_child_ended_by_a_signal_is_started_again_with_the_budget_left(self):
        calls = []

        def run(args):
            calls.append(list(args))
            return -11 if len(calls) < 3 else 0  # two segmentation faults, then done

        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(G.supervise(["build", "out", "--time-budget", "300"], run), 0)
        self.assertEqual(len(calls), 3)
        budgets = [float(c[c.index("--time-budget") + 1]) for c in calls]
        self.assertTrue(all(b <= 300 for b in budgets) and budgets == sorted(budgets, reverse=True))

    def test_an_error_exit_is_not_retried_and_restarts_are_bounded(self):
        calls = []
        with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
            self.assertEqual(G.supervise(["b", "o"], lambda a: calls.append(a) or 2), 2)
            self.assertEqual(len(calls), 1)
            self.assertEqual(G.supervise(["b", "o"], lambda a: calls.append(a) or -9), 1)
        self.assertEqual(len(calls), 1 + G.MAX_RESTARTS + 1)


class ReportCommits(unittest.TestCase):
    def test_rows_are_credited_to_the_run_they_were_measured_in(self):
        t0 = 1796169600.0  # 2026-12-02 00:00:00 UTC
        env = {"runs": [{"started": t0, "elapsed_s": 100, "onyx_commit": "aaaaaaa"},
                        {"started": t0 + 3600, "elapsed_s": 50, "onyx_commit": "bbbbbbb"}]}
        rows = [{"status": "ok", "measured_utc": "2026-12-02T00:01:00Z"},
                {"status": "ok", "measured_utc": "2026-12-02T01:00:30Z"},
                {"status": "ok", "measured_utc": "2026-12-02T01:00:40Z"},
                {"status": "ok", "measured_utc": "2026-12-02T05:00:00Z"},
                {"status": "not run: time budget", "measured_utc": ""}]
        self.assertEqual(report.rows_by_commit(rows, env), "aaaaaaa: 1; bbbbbbb: 2; not placed: 1")
        self.assertEqual(report.rows_by_commit(rows[:1], env), "")  # one commit: nothing to say


    def test_a_merged_row_is_set_against_its_own_runs_copy_bandwidth(self):
        t0 = 1796169600.0  # 2026-12-02 00:00:00 UTC
        env = {"copy_bandwidth_gbps": 4000.0,
               "runs": [{"started": t0, "elapsed_s": 100, "copy_bandwidth_gbps": 2000.0},
                        {"started": t0 + 50, "elapsed_s": 10, "copy_bandwidth_gbps": 1000.0}]}
        with tempfile.TemporaryDirectory() as out:
            _, rows = rows_for(out)
            results = G.Results(out)
            for r in rows:
                results.rows[G.row_key(r)] = r
            r = find(rows, "onyx-fp32", "greedy")
            r.update(status="ok", p50_ms="50", per_token_ms="1.0", new_tokens="64", num_beams="1")
            facts = {"gpt2": {"layers": 1, "heads": 1, "head_dim": 1, "decode_step_params": 250_000_000}}
            for utc, pct in (("2026-12-02T00:02:30Z", "50.0"),   # the first run: 1 GB a step in 1 ms
                             ("2026-12-02T00:00:55Z", "100.0"),  # inside both: the later run's
                             ("2026-12-02T05:00:00Z", "25.0")):  # in no run: the folder's
                r["measured_utc"] = utc
                G.derive(results, facts, env)
                self.assertEqual(r["gbps_pct_of_copy"], pct, utc)


class NcuSummary(unittest.TestCase):
    def write(self, path, kernels):
        with open(path, "w", newline="") as f:
            f.write("==PROF== Connected to process 1\n")
            w = csv.writer(f, quoting=csv.QUOTE_ALL)
            w.writerow(["ID", "Kernel Name", "Metric Name", "Metric Unit", "Metric Value"])
            for i, (name, us) in enumerate(kernels):
                w.writerow([i, name, "gpu__time_duration.sum", "usecond", f"{us:,.2f}"])

    def test_the_difference_of_two_profiles_is_one_run(self):
        with tempfile.TemporaryDirectory() as d:
            warm = [("tune", 500.0), ("gemm", 10.0), ("softmax", 2.0)]
            one_run = [("gemm", 10.0), ("softmax", 2.0)]
            self.write(os.path.join(d, "a.csv"), warm + one_run)
            self.write(os.path.join(d, "b.csv"), warm + one_run + one_run)
            text = io.StringIO()
            with contextlib.redirect_stdout(text):
                self.assertEqual(ncu_summary.main(["x", os.path.join(d, "b.csv"), os.path.join(d, "a.csv")]), 0)
            lines = text.getvalue().splitlines()
            self.assertIn("2 kernels in one run", lines[0])
            self.assertIn("12.0 us of GPU time", lines[0])
            self.assertNotIn("tune", text.getvalue())


if __name__ == "__main__":
    sys.exit(0 if unittest.main(exit=False, verbosity=1).result.wasSuccessful() else 1)
