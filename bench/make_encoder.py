#!/usr/bin/env python3
"""make_encoder.py - a BERT-shaped encoder as ONNX with random weights, written with the onnx
package alone (Debian's python3-onnx and python3-numpy; no PyTorch), for CPU benchmarks on any
machine (bench/cpu-vs-ort).

    python3 bench/make_encoder.py OUT.onnx [--layers 12] [--hidden 768] [--heads 12] [--ffn 3072]
                                           [--vocab 30522] [--max-positions 512] [--seed 0]

The graph follows what the TorchScript exporter writes for transformers' BertModel at opset 17
(inputs input_ids, attention_mask, token_type_ids (batch, sequence); output last_hidden_state):
word + position + token-type embeddings (Gather), LayerNormalization, and per layer the
attention (MatMul + Add projections, Reshape/Transpose to heads, MatMul, Div by sqrt(head size),
Add of the (1 - mask) * min-float mask, Softmax, MatMul, Transpose/Reshape back, MatMul + Add,
residual Add, LayerNormalization) and the feed-forward block (MatMul + Add, erf GELU as
x * 0.5 * (1 + Erf(x / sqrt(2))), MatMul + Add, residual Add, LayerNormalization). Shapes of the
Reshapes come from Shape/Gather/Concat chains of the input, as exports make them.
"""
import argparse

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--layers", type=int, default=12)
p.add_argument("--hidden", type=int, default=768)
p.add_argument("--heads", type=int, default=12)
p.add_argument("--ffn", type=int, default=3072)
p.add_argument("--vocab", type=int, default=30522)
p.add_argument("--max-positions", type=int, default=512)
p.add_argument("--seed", type=int, default=0)
a = p.parse_args()
H, NH, F = a.hidden, a.heads, a.ffn
D = H // NH
rng = np.random.default_rng(a.seed)
nodes, inits = [], []
counter = [0]


def name(hint):
    counter[0] += 1
    return f"{hint}_{counter[0]}"


def weight(hint, shape, scale=0.02):
    n = name(hint)
    inits.append(numpy_helper.from_array((rng.standard_normal(shape) * scale).astype(np.float32), n))
    return n


def const(hint, value, dtype=np.int64):
    n = name(hint)
    inits.append(numpy_helper.from_array(np.array(value, dtype=dtype), n))
    return n


def node(op, inputs, hint=None, n_out=1, **attrs):
    outs = [name(hint or op.lower()) for _ in range(n_out)]
    nodes.append(helper.make_node(op, inputs, outs, name=outs[0], **attrs))
    return outs[0] if n_out == 1 else outs


def linear(x, n_in, n_out):
    return node("Add", [node("MatMul", [x, weight("w", (n_in, n_out))]), weight("b", (n_out,), 0.01)])


def layer_norm(x):
    return node("LayerNormalization", [x, const("gamma", np.ones(H), np.float32), const("beta", np.zeros(H), np.float32)],
                axis=-1, epsilon=1e-12)


# shapes of the input, as exports compute them
shape = node("Shape", ["input_ids"])
batch = node("Unsqueeze", [node("Gather", [shape, const("i0", 0)], axis=0), const("ax0", [0])])
seq = node("Unsqueeze", [node("Gather", [shape, const("i1", 1)], axis=0), const("ax0", [0])])
heads_shape = node("Concat", [batch, seq, const("nh", [NH]), const("d", [D])], axis=0)
hidden_shape = node("Concat", [batch, seq, const("h", [H])], axis=0)
seq_scalar = node("Gather", [shape, const("i1s", 1)], axis=0)
positions = node("Unsqueeze", [node("Range", [const("zero", 0), seq_scalar, const("one", 1)]), const("ax0", [0])])

x = node("Add", [node("Gather", [weight("word_embeddings", (a.vocab, H)), "input_ids"], axis=0),
                 node("Gather", [weight("token_type_embeddings", (2, H)), "token_type_ids"], axis=0)])
x = node("Add", [x, node("Gather", [weight("position_embeddings", (a.max_positions, H)), positions], axis=0)])
x = layer_norm(x)
mask = node("Cast", [node("Unsqueeze", ["attention_mask", const("ax12", [1, 2])])], to=TensorProto.FLOAT)
mask = node("Mul", [node("Sub", [const("onef", 1.0, np.float32), mask]), const("minf", np.finfo(np.float32).min, np.float32)])
scale = const("scale", np.sqrt(D), np.float32)
for _ in range(a.layers):
    def heads(t):
        return node("Transpose", [node("Reshape", [t, heads_shape])], perm=[0, 2, 1, 3])
    q, k, v = (heads(linear(x, H, H)) for _ in range(3))
    scores = node("Div", [node("MatMul", [q, node("Transpose", [k], perm=[0, 1, 3, 2])]), scale])
    probs = node("Softmax", [node("Add", [scores, mask])], axis=-1)
    context = node("Reshape", [node("Transpose", [node("MatMul", [probs, v])], perm=[0, 2, 1, 3]), hidden_shape])
    x = layer_norm(node("Add", [linear(context, H, H), x]))
    h = linear(x, H, F)
    gelu = node("Mul", [node("Mul", [h, node("Add", [node("Erf", [node("Div", [h, const("sqrt2", np.sqrt(2.0), np.float32)])]),
                                                       const("onef", 1.0, np.float32)])]), const("half", 0.5, np.float32)])
    x = layer_norm(node("Add", [linear(gelu, F, H), x]))
nodes.append(helper.make_node("Identity", [x], ["last_hidden_state"], name="output"))

inputs = [helper.make_tensor_value_info(n, TensorProto.INT64, ["batch_size", "sequence_length"])
          for n in ("input_ids", "attention_mask", "token_type_ids")]
outputs = [helper.make_tensor_value_info("last_hidden_state", TensorProto.FLOAT, ["batch_size", "sequence_length", H])]
graph = helper.make_graph(nodes, "encoder", inputs, outputs, inits)
model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)], producer_name="onyx bench/make_encoder.py")
model.ir_version = 8
onnx.checker.check_model(model)
onnx.save(model, a.out)
print(f"{a.out}: {a.layers} layers, hidden {H}, {NH} heads, ffn {F}, {len(nodes)} nodes, "
      f"{sum(np.prod(t.dims) for t in inits) / 1e6:.1f}M parameters")
