"""Run a TensorFlow.js graph model (model.json + .bin weight shards) with torch on the CPU.

Hand-written because no maintained library evaluates a TF.js graph model without TensorFlow itself
(tfjs-converter, tf2onnx and onnx-tf all import TensorFlow). It covers only the ops that the shipped
NanoDet and MediaPipe's palm detector and hand landmark model use (`SUPPORTED_OPS`); a graph with any other
op is refused when it is loaded, naming the op.
Every op follows TensorFlow's definition, layouts included: NHWC unless a node's data_format says NCHW.
"""

from __future__ import annotations

import base64
import json
import math
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from vstream_ros.backends.lite import onnx_cpu

# weightsManifest dtypes -> numpy; int64 tensors are stored as int32 by the converter
_STORED = {"float32": np.float32, "int32": np.int32, "bool": np.bool_}
_QUANTISED = {"float16": np.float16, "uint8": np.uint8, "uint16": np.uint16}


class UnsupportedOpError(NotImplementedError):
    """The graph holds an op this executor does not implement."""


def load_weights(manifest: list[dict], folder: Path) -> dict[str, torch.Tensor]:
    """All tensors of a weightsManifest: each group's shards concatenated, then cut in manifest order."""
    out: dict[str, torch.Tensor] = {}
    for group in manifest:
        buf = b"".join((folder / p).read_bytes() for p in group["paths"])
        offset = 0
        for w in group["weights"]:
            name, shape, count = w["name"], [int(d) for d in w["shape"]], math.prod(int(d) for d in w["shape"])
            quant = w.get("quantization")
            if w["dtype"] not in _STORED:
                raise ValueError(f"weight {name!r}: dtype {w['dtype']!r} is not supported")
            stored = np.dtype(_QUANTISED[quant["dtype"]] if quant else _STORED[w["dtype"]])
            if offset + count * stored.itemsize > len(buf):
                raise ValueError(f"weight {name!r} runs past the end of {group['paths']} ({len(buf)} bytes)")
            arr = np.frombuffer(buf, stored, count, offset)
            offset += count * stored.itemsize
            if quant and quant["dtype"] != "float16":        # affine uint8/uint16: q * scale + min
                arr = arr.astype(np.float32) * np.float32(quant["scale"]) + np.float32(quant["min"])
            arr = arr.astype(_STORED[w["dtype"]]).reshape(shape)
            t = torch.from_numpy(arr.copy())
            out[name] = t.long() if t.dtype == torch.int32 else t
        if offset != len(buf):
            raise ValueError(f"{group['paths']}: {len(buf)} bytes, but the manifest describes {offset}")
    return out


def _attr(node: dict, key: str, default=None):
    """A node attribute as a Python value (TF's AttrValue in JSON: s is base64, i is a string)."""
    a = node.get("attr", {}).get(key)
    if a is None:
        return default
    if "list" in a:
        lst = a["list"]
        return ([int(v) for v in lst.get("i", [])] or [float(v) for v in lst.get("f", [])]
                or [base64.b64decode(v).decode() for v in lst.get("s", [])])
    if "s" in a:
        return base64.b64decode(a["s"]).decode()
    if "i" in a:
        return int(a["i"])
    if "f" in a:
        return float(a["f"])
    if "b" in a:
        return bool(a["b"])
    return a.get("type", default)


def _to_nchw(x: torch.Tensor, fmt: str) -> torch.Tensor:
    return x.permute(0, 3, 1, 2) if fmt == "NHWC" else x


def _from_nchw(x: torch.Tensor, fmt: str) -> torch.Tensor:
    return x.permute(0, 2, 3, 1) if fmt == "NHWC" else x


def _hw(values: list[int], fmt: str) -> list[int]:
    """The H, W entries of a 4-element strides/ksize/dilations list."""
    return values[1:3] if fmt == "NHWC" else values[2:4]


def _spatial_pads(node: dict, x: torch.Tensor, kernel: list[int], strides: list[int],
                  dilations: list[int]) -> list[int]:
    """F.pad amounts (left, right, top, bottom) for TF's VALID / SAME / EXPLICIT padding of NCHW x."""
    padding, fmt = _attr(node, "padding"), _attr(node, "data_format", "NHWC")
    if padding == "VALID":
        return [0, 0, 0, 0]
    if padding == "EXPLICIT":
        p = _attr(node, "explicit_paddings")                 # 4 (before, after) pairs in data_format order
        (t, b), (left, r) = (p[2:4], p[4:6]) if fmt == "NHWC" else (p[4:6], p[6:8])
        return [left, r, t, b]
    if padding != "SAME":
        raise ValueError(f"{node['name']}: padding {padding!r}")
    pads = []
    for size, k, s, d in zip(x.shape[2:], kernel, strides, dilations, strict=True):
        total = max((math.ceil(size / s) - 1) * s + (k - 1) * d + 1 - size, 0)
        pads.append((total // 2, total - total // 2))        # TF puts the odd pixel after
    return [*pads[1], *pads[0]]


def _padded(node: dict, x: torch.Tensor, kernel: list[int], strides: list[int],
            dilations: list[int]) -> tuple[torch.Tensor, tuple[int, int]]:
    """x with TF's padding applied, and the (top, left) padding left for the convolution itself: an even
    padding (SAME at stride 1) is the convolution's own, so that an ONNX export is one Conv, not a Pad and a
    Conv, which ONNX Runtime cannot keep in its blocked layout (the palm detector's optimised graph: 8 Pads
    and 69 layout reorders where there were 45 and 97; its time did not change measurably)."""
    left, right, top, bottom = _spatial_pads(node, x, kernel, strides, dilations)
    if left == right and top == bottom:
        return x, (top, left)
    return F.pad(x, [left, right, top, bottom]), (0, 0)


def _conv2d(node: dict, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    fmt = _attr(node, "data_format", "NHWC")
    strides, dil = _hw(_attr(node, "strides"), fmt), _hw(_attr(node, "dilations", [1, 1, 1, 1]), fmt)
    x, own = _padded(node, _to_nchw(x, fmt), list(w.shape[:2]), strides, dil)
    groups = x.shape[1] // w.shape[2]                        # TF: filter depth below input depth = grouped
    oihw = node.get("_oihw")                                 # GraphModel's: the constant filter, permuted once
    y = F.conv2d(x, oihw if oihw is not None else w.permute(3, 2, 0, 1), stride=strides, dilation=dil,
                 groups=groups, padding=node.get("_pad", own))   # HWIO -> OIHW
    return _from_nchw(y, fmt)


# a fused activation's extra operand (prelu's alpha) is the fused node's input after the bias. TF.js's prelu: x
# where positive, alpha * x elsewhere (alpha per channel, on the last axis)
_ACTIVATIONS: dict[str, Callable[..., torch.Tensor]] = {
    "Relu": lambda n, x: F.relu(x), "Relu6": lambda n, x: F.relu6(x),
    "LeakyRelu": lambda n, x: F.leaky_relu(x, _attr(n, "leakyrelu_alpha", 0.2)),
    "Prelu": lambda n, x, alpha: torch.where(x > 0, x, x * alpha),
}


def _fused_conv2d(node: dict, x: torch.Tensor, w: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
    """TF.js's converter fuses a Conv2D with its BiasAdd and activation (`fused_ops`)."""
    ops = _attr(node, "fused_ops", [])
    if not ops or ops[0] != "BiasAdd" or len(ops) > 2 or (len(ops) == 2 and ops[1] not in _ACTIVATIONS):
        raise ValueError(f"{node['name']}: fused ops {ops} are not supported")
    y = _conv2d(node, x, w) + args[0]                        # NHWC: the bias is on the last axis
    return _ACTIVATIONS[ops[1]](node, y, *args[1:]) if len(ops) == 2 else y


def _fused_matmul(node: dict, a: torch.Tensor, b: torch.Tensor, *args: torch.Tensor) -> torch.Tensor:
    """A MatMul fused with its BiasAdd (and activation), as for the dense layers of a graph's head."""
    ops = _attr(node, "fused_ops", [])
    if not ops or ops[0] != "BiasAdd" or len(ops) > 2 or (len(ops) == 2 and ops[1] not in _ACTIVATIONS):
        raise ValueError(f"{node['name']}: fused ops {ops} are not supported")
    a = a.transpose(-1, -2) if _attr(node, "transpose_a", False) else a
    b = b.transpose(-1, -2) if _attr(node, "transpose_b", False) else b
    y = a @ b + args[0]
    return _ACTIVATIONS[ops[1]](node, y, *args[1:]) if len(ops) == 2 else y


def _mean(node: dict, x: torch.Tensor, axes: torch.Tensor) -> torch.Tensor:
    dims = [int(a) % x.dim() for a in axes.reshape(-1).tolist()]
    return x.mean(dim=dims, keepdim=bool(_attr(node, "keep_dims", False)))


def _depthwise_conv2d(node: dict, x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Filter [H, W, C, M] -> C*M output channels, channel c's m-th at c*M + m (TF's order)."""
    fmt = _attr(node, "data_format", "NHWC")
    strides, dil = _hw(_attr(node, "strides"), fmt), _hw(_attr(node, "dilations", [1, 1, 1, 1]), fmt)
    x, own = _padded(node, _to_nchw(x, fmt), list(w.shape[:2]), strides, dil)
    kh, kw, c, m = w.shape
    weight = node.get("_oihw")
    weight = weight if weight is not None else w.reshape(kh, kw, 1, c * m).permute(3, 2, 0, 1)
    return _from_nchw(F.conv2d(x, weight, stride=strides, dilation=dil, groups=c, padding=own), fmt)


def _conv2d_transpose(node: dict, shape: torch.Tensor, w: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
    """Conv2DBackpropInput (a transposed convolution, filter [H, W, out, in]) to the given output shape: the
    whole transposed output, cut where TF's SAME or VALID padding of the forward convolution puts it."""
    fmt = _attr(node, "data_format", "NHWC")
    strides, dil = _hw(_attr(node, "strides"), fmt), _hw(_attr(node, "dilations", [1, 1, 1, 1]), fmt)
    if _attr(node, "padding") not in ("SAME", "VALID"):
        raise ValueError(f"{node['name']}: padding {_attr(node, 'padding')!r}")
    y = F.conv_transpose2d(_to_nchw(x, fmt), w.permute(3, 2, 0, 1), stride=strides, dilation=dil)
    out = _hw(shape.tolist(), fmt)
    cut = []
    for size, full, k, s, d in zip(out, y.shape[2:], w.shape[:2], strides, dil, strict=True):
        inner = math.ceil(size / s)
        before = max((inner - 1) * s + (k - 1) * d + 1 - size, 0) // 2 if _attr(node, "padding") == "SAME" else 0
        if before + size > full:
            raise ValueError(f"{node['name']}: output {out} does not fit the transposed {list(y.shape[2:])}")
        cut.append(slice(before, before + size))
    return _from_nchw(y[:, :, cut[0], cut[1]], fmt)


def _max_pool(node: dict, x: torch.Tensor) -> torch.Tensor:
    fmt = _attr(node, "data_format", "NHWC")
    k, s = _hw(_attr(node, "ksize"), fmt), _hw(_attr(node, "strides"), fmt)
    x = _to_nchw(x, fmt).contiguous(memory_format=torch.channels_last)   # torch's CPU pool: ~10x faster so
    pads = _spatial_pads(node, x, k, s, [1, 1])
    x = F.pad(x, pads, value=-math.inf) if any(pads) else x
    return _from_nchw(F.max_pool2d(x, k, s), fmt)


def _pad(x: torch.Tensor, paddings: torch.Tensor, value: float | torch.Tensor = 0.0) -> torch.Tensor:
    return F.pad(x, paddings.flip(0).flatten().tolist(), value=float(value))   # F.pad lists the last dim first


def _resize_axis(x: torch.Tensor, axis: int, size: int, align_corners: bool, half_pixel: bool) -> torch.Tensor:
    """Linear interpolation along one axis with TF's source-coordinate rule for ResizeBilinear."""
    n, dst = x.shape[axis], torch.arange(size, dtype=torch.float64)
    if align_corners and size > 1:
        src = dst * (n - 1) / (size - 1)
    elif half_pixel:
        src = ((dst + 0.5) * n / size - 0.5).clamp(min=0)
    else:
        src = dst * n / size
    lo = src.floor().long().clamp(max=n - 1)
    hi = (lo + 1).clamp(max=n - 1)
    frac = (src - lo).to(x.dtype).reshape([-1] + [1] * (x.dim() - axis - 1))
    a, b = x.index_select(axis, lo), x.index_select(axis, hi)
    return a + (b - a) * frac


def _resize_bilinear(node: dict, x: torch.Tensor, size: torch.Tensor) -> torch.Tensor:
    ac, hp = _attr(node, "align_corners", False), _attr(node, "half_pixel_centers", False)
    h, w = size.tolist()
    return _resize_axis(_resize_axis(x.float(), 1, h, ac, hp), 2, w, ac, hp)   # NHWC


def _sparse_to_dense(idx: torch.Tensor, shape: torch.Tensor, values: torch.Tensor,
                     default: torch.Tensor) -> torch.Tensor:
    out = torch.full(shape.tolist(), default.item(), dtype=values.dtype)
    if idx.numel():
        idx = idx.reshape(-1, 1) if idx.dim() < 2 else idx    # scalar/vector indices address dim 0
        out[tuple(idx.t())] = values
    return out


def _split_v(x: torch.Tensor, sizes: torch.Tensor, axis: torch.Tensor) -> tuple[torch.Tensor, ...]:
    dim, sizes = int(axis), sizes.tolist()
    if -1 in sizes:
        sizes[sizes.index(-1)] = x.shape[dim] - (sum(sizes) + 1)
    return torch.split(x, sizes, dim)


# op -> fn(node, *inputs); Const and Placeholder are filled in by GraphModel itself
_OPS: dict[str, Callable[..., torch.Tensor | tuple[torch.Tensor, ...]]] = {
    "Identity": lambda n, x: x,
    "Transpose": lambda n, x, perm: x.permute(perm.tolist()),
    "Add": lambda n, a, b: a + b,
    "AddV2": lambda n, a, b: a + b,
    "Conv2D": _conv2d,
    "Pad": lambda n, x, p: _pad(x, p),
    "PadV2": lambda n, x, p, v: _pad(x, p, v),
    "LeakyRelu": lambda n, x: F.leaky_relu(x, _attr(n, "alpha", 0.2)),
    "ConcatV2": lambda n, *xs: torch.cat(xs[:-1], int(xs[-1])),
    "SparseToDense": lambda n, i, s, v, d: _sparse_to_dense(i, s, v, d),
    "Reshape": lambda n, x, shape: x.reshape(shape.tolist()),
    "ResizeBilinear": _resize_bilinear,
    "SplitV": lambda n, x, sizes, axis: _split_v(x, sizes, axis),
    "Sigmoid": lambda n, x: torch.sigmoid(x),
    "MaxPool": _max_pool,
    "_FusedConv2D": _fused_conv2d,
    "DepthwiseConv2dNative": _depthwise_conv2d,
    "Conv2DBackpropInput": _conv2d_transpose,
    "Mul": lambda n, a, b: a * b,
    **{op: _ACTIVATIONS[op] for op in ("Relu", "Relu6", "Prelu")},     # also as ops of their own
    "AddN": lambda n, *xs: torch.stack(torch.broadcast_tensors(*xs)).sum(0),
    "_FusedMatMul": _fused_matmul,
    "Mean": _mean,
}
SUPPORTED_OPS = frozenset(_OPS) | {"Const", "Placeholder"}


def _ref(name: str) -> tuple[str, int]:
    """'node:1' -> ('node', 1); 'node' -> ('node', 0)."""
    node, _, index = name.partition(":")
    return node, int(index or 0)


class GraphModel:
    """A TF.js graph model, evaluated node by node in an order worked out once at load."""

    def __init__(self, model_json: str | Path) -> None:
        path = self.path = Path(model_json)
        spec = json.loads(path.read_text())
        self.nodes = {n["name"]: n for n in spec["modelTopology"]["node"]}
        unsupported = sorted({n["op"] for n in self.nodes.values()} - SUPPORTED_OPS)
        if unsupported:
            raise UnsupportedOpError(f"{path}: ops not supported by vstream_ros.backends.lite.tfjs: {unsupported}")
        self.consts = load_weights(spec.get("weightsManifest", []), path.parent)
        missing = [k for k, n in self.nodes.items() if n["op"] == "Const" and k not in self.consts]
        if missing:
            raise ValueError(f"{path}: Const nodes without weights: {missing[:5]}")
        self.inputs = [k for k, n in self.nodes.items() if n["op"] == "Placeholder"]
        # output node name -> its signature entry (dtype, tensorShape), where the file has one; the entry's key is
        # the node's name or an alias ("output_faceflag" for "Identity_1:0"): `aliases` maps it to the node
        # (the converter writes the signature at the top, or in userDefinedMetadata as blazeface.json has it)
        signature = spec.get("signature") or spec.get("userDefinedMetadata", {}).get("signature", {})
        signature = signature.get("outputs", {})
        self.aliases = {k: _ref(v.get("name", k))[0] for k, v in signature.items()}
        self.output_specs = {self.aliases[k]: v for k, v in signature.items()}
        if self.output_specs:
            self.outputs = sorted(self.output_specs)
        else:                                              # graph sinks: nodes nobody reads
            read = {_ref(i.lstrip("^"))[0] for n in self.nodes.values() for i in n.get("input", [])}
            self.outputs = [k for k, n in self.nodes.items() if k not in read and n["op"] != "Const"]
        self._prepare_convolutions()
        self.order = self._topological_order(self.outputs)

    def _prepare_convolutions(self) -> None:
        """Work done once rather than every frame: each constant filter permuted to torch's OIHW, and
        the zero Pad that onnx-tf writes before every padded convolution (Pad in NCHW, Transpose to NHWC,
        Conv2D VALID) made the convolution's own padding. Why: on the NanoDet graph the pads' fill and
        copy of every activation and the filters' permutes were about a fifth of the CPU time."""
        readers = Counter(_ref(i)[0] for n in self.nodes.values() for i in n.get("input", []) if i[0] != "^")
        for node in self.nodes.values():
            if node["op"] not in ("Conv2D", "_FusedConv2D", "DepthwiseConv2dNative"):
                continue
            filt = _ref(node["input"][1])[0]
            if filt in self.consts:
                w = self.consts[filt]
                if node["op"] == "DepthwiseConv2dNative":        # [H, W, C, M] -> [C*M, 1, H, W]
                    w = w.reshape(*w.shape[:2], 1, w.shape[2] * w.shape[3])
                node["_oihw"] = w.permute(3, 2, 0, 1).contiguous()
            if node["op"] != "Conv2D":
                continue
            t = self.nodes.get(_ref(node["input"][0])[0])
            if _attr(node, "padding") != "VALID" or t is None or t["op"] != "Transpose" or readers[t["name"]] != 1:
                continue
            pad, perm = self.nodes.get(_ref(t["input"][0])[0]), self.consts.get(_ref(t["input"][1])[0])
            if pad is None or pad["op"] != "Pad" or readers[pad["name"]] != 1 or perm is None \
                    or perm.tolist() != [0, 2, 3, 1] or _attr(node, "data_format", "NHWC") != "NHWC" \
                    or {t["name"], pad["name"]} & set(self.outputs):     # an output keeps its value
                continue
            amounts = self.consts.get(_ref(pad["input"][1])[0])
            if amounts is None or amounts.shape != (4, 2):
                continue
            (n0, n1), (c0, c1), (h0, h1), (w0, w1) = amounts.tolist()
            if n0 == n1 == c0 == c1 == 0 and h0 == h1 and w0 == w1:    # NCHW pads on H and W, even sides
                t["input"] = [pad["input"][0], *t["input"][1:]]
                node["_pad"] = (int(h0), int(w0))

    def _topological_order(self, targets: list[str]) -> list[str]:
        order, done, stack = [], set(), [(t, False) for t in reversed(targets)]
        while stack:                                       # iterative DFS: graphs can be deep
            name, expanded = stack.pop()
            if name in done:
                continue
            if expanded:
                done.add(name)
                order.append(name)
                continue
            if name not in self.nodes:
                raise ValueError(f"graph refers to a missing node {name!r}")
            stack.append((name, True))
            for i in reversed(self.nodes[name].get("input", [])):
                if not i.startswith("^") and _ref(i)[0] not in done:
                    stack.append((_ref(i)[0], False))
        return [n for n in order if self.nodes[n]["op"] != "Const"]

    def fast(self, name: str, outputs: list[str], example: torch.Tensor):
        """The network to run for `outputs`: the graph's ONNX export in ONNX Runtime where that is wanted and
        works (onnx_cpu.py; keyed by the model file, its weights and this executor's code), else the graph."""
        if not onnx_cpu.wanted():
            return self
        key = onnx_cpu.digest(self.path, self.path.with_suffix(".bin"), Path(__file__))
        return onnx_cpu.load(name, onnx_cpu.Outputs(self, outputs), example, outputs, key) or self

    @torch.inference_mode()
    def __call__(self, feeds: Mapping[str, torch.Tensor] | torch.Tensor) -> dict[str, torch.Tensor]:
        """Inputs by Placeholder name (or one tensor for a one-input graph) -> outputs by node name."""
        if isinstance(feeds, torch.Tensor):
            if len(self.inputs) != 1:
                raise ValueError(f"the graph has inputs {self.inputs}: pass them by name")
            feeds = {self.inputs[0]: feeds}
        feeds = {_ref(k)[0]: v for k, v in feeds.items()}
        if set(feeds) != set(self.inputs):
            raise ValueError(f"the graph's inputs are {self.inputs}, got {sorted(feeds)}")
        values: dict[str, tuple[torch.Tensor, ...]] = {k: (v,) for k, v in self.consts.items()}
        for name in self.order:
            node = self.nodes[name]
            if node["op"] == "Placeholder":
                values[name] = (feeds[name].float().cpu(),)
                continue
            args = [values[n][i] for n, i in map(_ref, (x for x in node.get("input", []) if x[0] != "^"))]
            try:
                out = _OPS[node["op"]](node, *args)
            except Exception as e:
                raise RuntimeError(f"{node['op']} node {name!r} failed: {e}") from e
            values[name] = out if isinstance(out, tuple) else (out,)
        return {k: values[k][0] for k in self.outputs}
