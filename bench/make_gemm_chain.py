"""make_gemm_chain.py - a chain of decode-step products as ONNX, written with the onnx package:
x (m, hidden) -> Gemm with a (hidden, width) weight and bias -> the first hidden columns -> the next
Gemm, `--count` times, each Gemm with weights of its own (random), so the chain streams
count * hidden * width * 4 bytes of weights per run, like the layers of a decode step. m is the
symbolic dim "m": the rows of one step (1 greedy, the beams or the batch).

    python3 bench/make_gemm_chain.py OUT.onnx [--count 8] [--hidden 768] [--width 2304]

Used by bench/cpu-vs-ort --gemm-rows to compare few-row products with ONNX Runtime's.
"""
import argparse

import numpy as np
from onnx import TensorProto, helper, numpy_helper, save

p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
p.add_argument("out")
p.add_argument("--count", type=int, default=8)
p.add_argument("--hidden", type=int, default=768)
p.add_argument("--width", type=int, default=2304)
a = p.parse_args()
rng = np.random.default_rng(7)
nodes, inits = [], [numpy_helper.from_array(np.array([0], np.int64), "starts"),
                    numpy_helper.from_array(np.array([a.hidden], np.int64), "ends"),
                    numpy_helper.from_array(np.array([1], np.int64), "axes")]
prev = "x"
for i in range(a.count):
    w = (rng.standard_normal((a.hidden, a.width)) * 0.02).astype(np.float32)
    b = (rng.standard_normal(a.width) * 0.02).astype(np.float32)
    inits += [numpy_helper.from_array(w, f"w{i}"), numpy_helper.from_array(b, f"b{i}")]
    nodes.append(helper.make_node("Gemm", [prev, f"w{i}", f"b{i}"], [f"h{i}"]))
    nodes.append(helper.make_node("Slice", [f"h{i}", "starts", "ends", "axes"], [f"y{i}"]))
    prev = f"y{i}"
graph = helper.make_graph(nodes, "gemm_chain", [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["m", a.hidden])],
                          [helper.make_tensor_value_info(prev, TensorProto.FLOAT, ["m", a.hidden])], inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onyx bench/make_gemm_chain.py")
model.ir_version = 8
save(model, a.out)
