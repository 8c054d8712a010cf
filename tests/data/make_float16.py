"""Write a float16 copy of an ONNX model folder: every float32 initializer, Constant and
ConstantOfShape value, Cast target and declared value type becomes float16, in subgraphs too
(If branches of merged decoders). For tests that need a float16 merged decoder, which the
fixture exporter (tools/fixtures) does not make:

    python3 tests/data/make_float16.py tests/models/t5-ts17 tests/data/t5-ts17-fp16 \
        encoder_model.onnx decoder_model_merged.onnx

copies config.json and generation_config.json beside the converted files. Needs onnx and numpy.
The weights are random already; values beyond float16's range become infinities, which the
tests do not mind (they compare onyx with onyx)."""
import os
import shutil
import sys

import numpy as np
import onnx
from onnx import TensorProto, numpy_helper


def to_half_tensor(t):
    if t.data_type == TensorProto.FLOAT:
        with np.errstate(over="ignore"):
            half = numpy_helper.to_array(t).astype(np.float16)
        t.CopyFrom(numpy_helper.from_array(half, t.name))


def to_half_type(value_info):
    tt = value_info.type.tensor_type
    if tt.elem_type == TensorProto.FLOAT:
        tt.elem_type = TensorProto.FLOAT16


def convert(graph):
    for t in graph.initializer:
        to_half_tensor(t)
    for vi in list(graph.input) + list(graph.output) + list(graph.value_info):
        to_half_type(vi)
    for node in graph.node:
        for a in node.attribute:
            if a.type == onnx.AttributeProto.TENSOR:
                to_half_tensor(a.t)
            elif a.type == onnx.AttributeProto.GRAPH:
                convert(a.g)
            elif node.op_type == "Cast" and a.name == "to" and a.i == TensorProto.FLOAT:
                a.i = TensorProto.FLOAT16


def main():
    src, dst, files = sys.argv[1], sys.argv[2], sys.argv[3:]
    os.makedirs(dst, exist_ok=True)
    for name in files:
        model = onnx.load(os.path.join(src, name))
        convert(model.graph)
        onnx.save(model, os.path.join(dst, name))
    for name in ("config.json", "generation_config.json"):
        shutil.copy(os.path.join(src, name), dst)


if __name__ == "__main__":
    main()
