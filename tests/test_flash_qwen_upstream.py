"""Flash-VStream-Qwen against straight transcriptions of upstream's functions (IVGSZ/Flash-VStream 8f6bde2,
Flash-VStream-Qwen/models/vstream_qwen2vl_model.py): get_rope_index (nominal positions, rope_deltas),
FlashMemory.spatial_enhance (the DAM, klarge_retrieve) and calc_am_rope (AM-RoPE), on streams short
enough that no k-means runs (up to 60 temporal tokens), so the result is upstream's exactly.

The transcriptions live here, in the test, and are never imported by the package. One change is
declared: the DAM's argsort of equal weights is made stable (`stable=True`); upstream ran on CUDA,
and torch's CPU sort of equal values is not stable (31 ones sort as [15, 30, 29, ...]).
"""

import numpy as np
import pytest
import torch

from vstream_ros.backends.flash_qwen.positions import block_positions, time_indices
from vstream_ros.backends.flash_qwen.prompting import build_prompt
from vstream_ros.backends.flash_qwen.tiny import build_tiny
from vstream_ros.backends.shared.generation import greedy_decode
from vstream_ros.memory import FlashMemory, FlashMemoryConfig, MultiCameraMemory
from vstream_ros.memory.flash_config import pack_frame_maps

SMALL = 112 * 112
D = 8


# ------------------------------------------------------- upstream, transcribed
def upstream_get_mm_index(thw_grid):
    """get_rope_index / calc_am_rope's get_mm_index: nominal (t, h, w) of a [t, h, w] patch grid merged 2x2."""
    t, h, w = int(thw_grid[0]), int(thw_grid[1]) // 2, int(thw_grid[2]) // 2
    t_index = torch.arange(t).view(-1, 1).expand(-1, h * w).flatten()
    h_index = torch.arange(h).view(1, -1, 1).expand(t, -1, w).flatten()
    w_index = torch.arange(w).view(1, 1, -1).expand(t, h, -1).flatten()
    return torch.stack([t_index, h_index, w_index]), t * h * w


def upstream_get_rope_index(input_ids, video_token_id, videos):
    """get_rope_index for one sequence (no padding): `videos` = [(spatial_real_grid, temporal_real_grid)],
    one per video placeholder run. Returns (position_ids [3, L], mrope_position_delta)."""
    input_tokens = list(input_ids)
    llm_pos_ids_list, st = [], 0
    for spa_grid, tem_grid in videos:
        ed = input_tokens.index(video_token_id, st)
        text_len = ed - st
        st_idx = llm_pos_ids_list[-1].max() + 1 if llm_pos_ids_list else 0
        llm_pos_ids_list.append(torch.arange(text_len).view(1, -1).expand(3, -1) + st_idx)
        spa_ids, spa_size = upstream_get_mm_index(spa_grid)
        tem_ids, tem_size = upstream_get_mm_index(tem_grid)
        llm_pos_ids_list.append(spa_ids + text_len + st_idx)
        llm_pos_ids_list.append(tem_ids + text_len + st_idx + spa_size)
        st = ed + spa_size + tem_size
    if st < len(input_tokens):
        last = llm_pos_ids_list[-1] if llm_pos_ids_list[-1].numel() > 0 else llm_pos_ids_list[-2]
        st_idx = last.max() + 1
        llm_pos_ids_list.append(torch.arange(len(input_tokens) - st).view(1, -1).expand(3, -1) + st_idx)
    llm_positions = torch.cat(llm_pos_ids_list, dim=1).reshape(3, -1)
    return llm_positions, int(llm_positions.max() + 1 - len(input_tokens))


def upstream_spatial_enhance(x, small_x, tem_x, tem_weights, spatial_length):
    """spatial_enhance with klarge_retrieve on [t, P, D] maps: (spa_x, spa_positions)."""
    t = x.shape[0]
    if t <= spatial_length:
        return x, torch.arange(t).long()
    sorted_indices = torch.argsort(tem_weights, descending=True, stable=True)   # upstream: stable on CUDA
    klarge_indices = sorted_indices[:spatial_length]
    centroids = tem_x[klarge_indices].reshape(spatial_length, -1)
    small = small_x.reshape(t, -1)
    dists = torch.sqrt((centroids ** 2).sum(1, keepdim=True) + (small ** 2).sum(1, keepdim=True).T
                       - 2 * centroids @ small.T)
    idx = torch.argmin(dists, dim=1)
    return x[idx], idx


def upstream_calc_am_rope(visual_start_id, tem_thw, tem_positions, spa_thw, spa_positions):
    """calc_am_rope's visual positions [3, n] (DAM block, then CSM block)."""
    def with_positions(thw, t_positions):
        ids, size = upstream_get_mm_index(thw)
        t, hw = int(thw[0]), (int(thw[1]) // 2) * (int(thw[2]) // 2)
        ids[0] = t_positions.view(-1, 1).expand(-1, hw).flatten() if t else ids[0]
        return ids, size
    spa_ids, spa_size = with_positions(spa_thw, spa_positions)
    tem_ids, _ = with_positions(tem_thw, tem_positions)
    return visual_start_id + torch.cat([spa_ids, tem_ids + spa_size], dim=1)


def upstream_flash_memory(full, small, temporal_length, spatial_length):
    """FlashMemory.forward for t <= temporal_length temporal tokens (temporal_compress keeps all, weights 1,
    timestamps arange(t)): (spa_x, spa_positions, tem_x, tem_positions)."""
    t = full.shape[0]
    assert t <= temporal_length
    tem_x, weights, tem_positions = small, torch.ones(t), torch.arange(t)
    spa_x, spa_positions = upstream_spatial_enhance(full, small, tem_x, weights, spatial_length)
    return spa_x, spa_positions, tem_x, tem_positions


# ------------------------------------------------------------ 1. decoding
class Recorder:
    """The language model, recording the position ids of every forward."""

    def __init__(self, llm):
        self.llm, self.config, self.positions = llm, llm.config, []

    def __call__(self, **kw):
        self.positions.append(kw["position_ids"])
        return self.llm(**kw)


@pytest.mark.slow
def test_decoded_tokens_take_upstreams_positions_after_a_long_stream():
    """150 frames: the CSM's times reach index 119, past the question's text. Each decoded token must sit
    where upstream's generate puts it (cache position + get_rope_index's rope_deltas), not after the
    largest AM-RoPE position (the old rule put the first answer token positions too far)."""
    tiny = build_tiny(0, max_pixels=SMALL)
    model, tok = tiny.model, tiny.tokenizer
    enc = tiny.model.encoder()
    mm = MultiCameraMemory(tiny.model.config.memory, enc.dim, enc.feature_grid, encoder_id=enc.id)
    g = torch.Generator().manual_seed(0)
    mm.update("front", torch.randn(150, *enc.feature_grid, enc.dim, generator=g), [float(i) for i in range(150)])
    read = mm.read()
    prompt = build_prompt(tok, "What did you see on the table by the door?", ["front"])
    embeds, pos = model.embed_prompt(prompt, read, 1.0)
    # the prompt as upstream's processor lays it out: one <|video_pad|> per merged visual token
    video = tok.convert_tokens_to_ids("<|video_pad|>")
    dam = [gr for gr in read.groups if gr.kind == "retrieved"]
    csm = [gr for gr in read.groups if gr.kind == "temporal"]
    n_visual = sum(gr.length for gr in read.groups) // 4
    ids = [*prompt.pieces[0], *[video] * n_visual, *prompt.pieces[2]]
    spa_grid, tem_grid = (len(dam), *dam[0].grid), (len(csm), *csm[0].grid)
    nominal, delta = upstream_get_rope_index(ids, video, [(spa_grid, tem_grid)])
    assert len(ids) == pos.shape[-1]
    text = [i for i, t in enumerate(ids) if t != video]
    assert torch.equal(pos[:, 0, text], nominal[:, text])          # text sits where upstream's does
    assert int(pos.max()) > int(nominal[:, -1].max())               # the memory's times reach past it
    rec = Recorder(model.qwen)
    out = list(greedy_decode(rec, embeds, 6, None, None, pos))
    assert len(out) == 6
    decoded = [int(p.reshape(3, -1)[0, 0]) for p in rec.positions[1:]]
    assert all(p.reshape(3, -1).unique().numel() == 1 for p in rec.positions[1:])   # t = h = w
    assert decoded == [len(ids) + step + delta for step in range(5)]


# ------------------------------------------------------------ 2. the DAM
def stream(n, seed=0, h=4, w=4):
    g = torch.Generator().manual_seed(seed)
    full = torch.randn(n, h, w, D, generator=g)
    small = torch.nn.functional.avg_pool2d(full.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    return full, small


def test_dam_csm_and_am_rope_are_upstreams_up_to_60_temporal_tokens():
    """Released sizes (60 CSM slots, 30 DAM frames): for 1..60 temporal tokens the read's token order, the
    DAM's frame indices and every visual position equal upstream's (spatial_enhance + calc_am_rope)."""
    cfg = FlashMemoryConfig(temporal_slots=60, retrieved_frames=30)
    for n in (1, 7, 29, 30, 31, 45, 59, 60):
        full, small = stream(n, seed=n)
        m = FlashMemory(cfg, D, cfg.packed_grid((4, 4)))
        m.update(pack_frame_maps(full, small), [10.0 + i for i in range(n)])
        read = m.read()
        spa_x, spa_pos, tem_x, tem_pos = upstream_flash_memory(full.reshape(n, 16, D), small.reshape(n, 4, D), 60, 30)
        dam = [gr for gr in read.groups if gr.kind == "retrieved"]
        csm = [gr for gr in read.groups if gr.kind == "temporal"]
        assert [gr.kind for gr in read.groups] == ["retrieved"] * len(dam) + ["temporal"] * len(csm)
        assert [round(gr.stamp - 10.0) for gr in dam] == spa_pos.tolist(), n
        assert torch.equal(torch.stack([read.group_tokens(gr) for gr in dam]), spa_x)
        assert [round(gr.stamp - 10.0) for gr in csm] == tem_pos.tolist()
        assert torch.allclose(torch.stack([read.group_tokens(gr) for gr in csm]), tem_x, atol=1e-5)
        times = time_indices(read.groups, 1.0, 120)
        ours, _ = block_positions(read.groups, times, 2, 37)
        theirs = upstream_calc_am_rope(37, (n, 2, 2), tem_pos, (len(spa_pos), 4, 4), spa_pos)
        assert torch.equal(ours, theirs), n


def test_after_clustering_each_heavy_centroid_takes_its_nearest_kept_frame():
    """Beyond K slots: the R heaviest slots in weight order (ties in time order), each with the kept frame
    nearest its centroid, as spatial_enhance's argmin over the bank (here: the frames the memory keeps)."""
    cfg = FlashMemoryConfig(temporal_slots=8, retrieved_frames=4)
    scenes = np.repeat(np.arange(6), [9, 2, 14, 3, 6, 5]).tolist()
    g = torch.Generator().manual_seed(5)
    base = torch.randn(6, 4, 4, D, generator=g)
    full = base[torch.tensor(scenes)] + 0.3 * torch.randn(len(scenes), 4, 4, D, generator=g)
    small = torch.nn.functional.avg_pool2d(full.permute(0, 3, 1, 2), 2).permute(0, 2, 3, 1)
    m = FlashMemory(cfg, D, cfg.packed_grid((4, 4)))
    m.update(pack_frame_maps(full, small), [float(i) for i in range(len(scenes))])
    read = m.read()
    csm = [gr for gr in read.groups if gr.kind == "temporal"]
    dam = [gr for gr in read.groups if gr.kind == "retrieved"]
    heavy = sorted(range(len(csm)), key=lambda k: (-csm[k].weight, k))[:4]
    assert [gr.weight for gr in dam] == [csm[k].weight for k in heavy]
    kept = sorted(m._t["rep_stamp"][: m._filled].tolist())
    for gr, k in zip(dam, heavy, strict=True):
        c = read.group_tokens(csm[k]).reshape(-1)
        dists = [float((small[int(s)].reshape(-1) - c).norm()) for s in kept]
        assert gr.stamp == kept[int(np.argmin(dists))]
        assert torch.equal(read.group_tokens(gr), full[int(gr.stamp)].reshape(16, D))
