"""Flash-VStream-Qwen against straight transcriptions of upstream's functions (IVGSZ/Flash-VStream 8f6bde2,
Flash-VStream-Qwen/models/vstream_qwen2vl_model.py): get_rope_index (nominal positions, rope_deltas),
FlashMemory.spatial_enhance (the DAM, klarge_retrieve) and calc_am_rope (AM-RoPE), on streams short
enough that no k-means runs (up to 60 temporal tokens), so the result is upstream's exactly; and how
frames become temporal tokens: qwen_vl_utils' fetch_video (a list of frames), the processor's
_preprocess (models/vstream_qwen2vl_processor.py), FlashMemory.temporal_pool, and cli_server_2gpu.py's
schedule (a first clip of 120 frames, then one frame at a time).

The transcriptions live here, in the test, and are never imported by the package. One change is
declared: the DAM's argsort of equal weights is made stable (`stable=True`); upstream ran on CUDA,
and torch's CPU sort of equal values is not stable (31 ones sort as [15, 30, 29, ...]).
"""

import math

import numpy as np
import pytest
import torch
from torch import nn

from vstream_ros.backends.flash_qwen import make_backend
from vstream_ros.backends.flash_qwen.encoder import QwenFrameEncoder
from vstream_ros.backends.flash_qwen.layout import clip_tokens
from vstream_ros.backends.flash_qwen.positions import block_positions, time_indices
from vstream_ros.backends.flash_qwen.prompting import build_prompt
from vstream_ros.backends.flash_qwen.tiny import build_tiny
from vstream_ros.backends.shared.generation import greedy_decode
from vstream_ros.engine import EngineConfig, StreamEngine
from vstream_ros.memory import FlashMemory, FlashMemoryConfig, MultiCameraMemory, TokenGroup
from vstream_ros.memory.flash_config import pack_frame_maps, unpack_frame_maps

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


def upstream_fetch_video_frames(images, max_frames=768):
    """qwen_vl_utils.fetch_video for a list of frames: nframes of them evenly (all, up to max_frames), then
    copies of the last one up to a multiple of FRAME_FACTOR (2)."""
    nframes = len(images)
    if nframes > max_frames:
        nframes = math.floor(max_frames / 2) * 2
    idx = torch.linspace(0, len(images) - 1, nframes).round().long()
    images = [v for i, v in enumerate(images) if i in idx]
    nframes = math.ceil(len(images) / 2) * 2
    if len(images) < nframes:
        images.extend([images[-1]] * (nframes - len(images)))
    return images


def upstream_preprocess(patches, temporal_patch_size=2, patch_size=14, merge_size=2):
    """FlashVStreamQwen2VLImageProcessor._preprocess after resize, rescale and normalise: frames [T, C, H, W]
    -> (flatten_patches [grid_t * grid_h * grid_w, C * 2 * 14 * 14], (grid_t, grid_h, grid_w))."""
    if patches.shape[0] == 1:
        patches = np.tile(patches, (temporal_patch_size, 1, 1, 1))
    channel = patches.shape[1]
    grid_t = patches.shape[0] // temporal_patch_size
    grid_h, grid_w = patches.shape[2] // patch_size, patches.shape[3] // patch_size
    patches = patches.reshape(grid_t, temporal_patch_size, channel, grid_h // merge_size, merge_size, patch_size,
                              grid_w // merge_size, merge_size, patch_size)
    patches = patches.transpose(0, 3, 6, 4, 7, 2, 1, 5, 8)
    flatten_patches = patches.reshape(grid_t * grid_h * grid_w,
                                      channel * temporal_patch_size * patch_size * patch_size)
    return flatten_patches, (grid_t, grid_h, grid_w)


def upstream_temporal_pool(x, thw):
    """FlashMemory.temporal_pool: the half-resolution pathway's pixel patches."""
    t, h, w = thw
    xdim = x.shape[-1]
    x = x.reshape(t, h // 2, w // 2, 2, 2, 3, 2, 14, 14)
    x = x.permute(0, 1, 2, 5, 6, 3, 7, 4, 8)
    x = x.reshape(-1, 6, 28, 28)
    x = torch.nn.functional.avg_pool2d(x, kernel_size=2, stride=2)
    x = x.reshape(t, h // 2, w // 2, 3, 2, 14, 14)
    new_h, new_w = x.shape[1] // 2, x.shape[2] // 2
    x = x.reshape(t, new_h, 2, new_w, 2, 3, 2, 14, 14)
    x = x.permute(0, 1, 3, 2, 4, 5, 6, 7, 8)
    return x.reshape(t, new_h, new_w, 2 * 2 * xdim).reshape(-1, xdim), (t, new_h * 2, new_w * 2)


def upstream_server_clips(n, step=120):
    """cli_server_2gpu.py's video_stream_similator: the first `step` frames as one clip, then one frame a clip
    (each clip goes through the processor: a one-frame clip is tiled). Frame indices per clip."""
    clips, start = [], 0
    while start < n:
        end = min(start + step, n)
        step = 1
        clips.append(list(range(start, end)))
        start = end
    return clips


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
    """300 frames (150 time indices on training's clock of two frames a token): the CSM's times reach index
    119, past the question's text. Each decoded token must sit where upstream's generate puts it (cache
    position + get_rope_index's rope_deltas), not after the largest AM-RoPE position (the old rule put the
    first answer token positions too far)."""
    tiny = build_tiny(0, max_pixels=SMALL)
    model, tok = tiny.model, tiny.tokenizer
    enc = tiny.model.encoder()
    mm = MultiCameraMemory(tiny.model.config.memory, enc.dim, enc.feature_grid, encoder_id=enc.id)
    g = torch.Generator().manual_seed(0)
    mm.update("front", torch.randn(300, *enc.feature_grid, enc.dim, generator=g), [float(i) for i in range(300)])
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


# ------------------------------------------------------------ 3. frame pairs
def frames_of_tokens(n):
    """Upstream's offline pipeline on n frames whose pixels are their index: which frames each temporal token
    holds, read back from the processor's patches ([t, h/2, w/2, 2, 2, C, temporal, 14, 14] order)."""
    images = [np.full((3, 28, 28), i, np.float32) for i in range(n)]
    patches, (t, h, w) = upstream_preprocess(np.stack(upstream_fetch_video_frames(images)))
    per = patches.reshape(t, h * w, 3, 2, 14 * 14)
    return [tuple(int(per[k, 0, 0, j, 0]) for j in range(2)) for k in range(t)]


def test_a_clip_pairs_consecutive_frames_into_tokens_as_upstreams_processor():
    """Frames 2k and 2k+1 are token k; an odd last frame is padded with itself (qwen_vl_utils), a lone frame
    tiled (the processor): the same token. 240 frames are 120 tokens."""
    for n in [*range(1, 10), 240]:
        assert clip_tokens(n) == frames_of_tokens(n), n
    assert clip_tokens(5) == [(0, 1), (2, 3), (4, 4)]


class TowerInput(nn.Module):
    """The vision tower, recording the pixel patches and grids it is given."""

    def __init__(self, visual):
        super().__init__()
        self.visual, self.config, self.calls = visual, visual.config, []

    def forward(self, patches, grid_thw):
        self.calls.append((patches, grid_thw))
        return self.visual(patches, grid_thw=grid_thw)


def test_the_tower_sees_upstreams_patches_for_a_clip_and_for_a_pair():
    """encode_clip (a clip at once) and encode_pairs (a frame with the one before it) hand the tower upstream's
    processor patches of the same normalised frames, and upstream's temporal_pool of them for the synopsis."""
    tiny = build_tiny(0, max_pixels=SMALL)
    spy = TowerInput(tiny.model.visual)
    enc = QwenFrameEncoder(spy, tiny.model.config.pixels, "test")
    frames = np.random.default_rng(0).integers(0, 256, (5, 96, 128, 3), dtype=np.uint8)
    norm = enc.preprocess(frames)[0].numpy()
    feats, tokens = enc.encode_clip(frames)
    theirs, thw = upstream_preprocess(np.stack(upstream_fetch_video_frames(list(norm))))
    (patches, grids), = spy.calls
    n_full = len(theirs)
    assert tokens == [(0, 1), (2, 3), (4, 4)] and feats.shape[0] == 3 == thw[0]
    assert grids[:3].tolist() == [[1, thw[1], thw[2]]] * 3                    # one attention sequence a token
    assert torch.equal(patches[:n_full], torch.from_numpy(theirs))
    small, _ = upstream_temporal_pool(torch.from_numpy(theirs), thw)
    assert torch.allclose(patches[n_full:], small, atol=1e-6)
    spy.calls.clear()
    pair = enc.encode_pairs(frames[2:3], frames[3:4])
    theirs, _ = upstream_preprocess(norm[2:4])
    assert torch.equal(spy.calls[0][0][: len(theirs)], torch.from_numpy(theirs))
    assert torch.allclose(pair, feats[1:2], atol=1e-5)


def test_a_clips_tokens_take_upstreams_time_indices_dam_and_positions():
    """A clip of n frames (2 frames a second) as tokens of two frames: the DAM, the CSM and every position are
    upstream's for its ceil(n/2) temporal tokens (time index = token index, as its processor's grid_t)."""
    cfg = FlashMemoryConfig(temporal_slots=60, retrieved_frames=30)
    for n in (2, 7, 59, 61, 119, 120):
        tokens = clip_tokens(n)
        t = len(tokens)
        full, small = stream(t, seed=n)
        m = FlashMemory(cfg, D, cfg.packed_grid((4, 4)))
        m.update(pack_frame_maps(full, small), [10.0 + b / 2 for _, b in tokens],
                 firsts=[10.0 + a / 2 for a, _ in tokens])
        assert m.frames_seen == n
        read = m.read()
        spa_x, spa_pos, tem_x, tem_pos = upstream_flash_memory(full.reshape(t, 16, D), small.reshape(t, 4, D), 60, 30)
        dam = [gr for gr in read.groups if gr.kind == "retrieved"]
        assert torch.equal(torch.stack([read.group_tokens(gr) for gr in dam]), spa_x)
        assert [(gr.start, gr.end) for gr in dam] == [(10.0 + tokens[k][0] / 2, 10.0 + tokens[k][1] / 2)
                                                    for k in spa_pos.tolist()]
        times = time_indices(read.groups, 1.0, 120)       # a token: two frames of 0.5 s
        assert times == [*spa_pos.tolist(), *tem_pos.tolist()], n
        ours, _ = block_positions(read.groups, times, 2, 37)
        assert torch.equal(ours, upstream_calc_am_rope(37, (t, 2, 2), tem_pos, (len(spa_pos), 4, 4), spa_pos)), n
    pairs = [TokenGroup("temporal", 2.0 * k, 2.0 * k + 1, 2.0 * k + 0.5, 1.0, 0, 4, grid=(2, 2)) for k in range(120)]
    assert time_indices(pairs, 2.0, 120) == list(range(120))      # 240 frames: upstream's 120 time indices


def test_a_stream_pairs_its_first_clip_then_tiles_each_frame_as_upstreams_server():
    """The engine on the tiny model (K = 4: a first clip of 2K = 8 frames, as upstream's 120 for K = 60): the
    frames it encodes with the one before them and alone make upstream's server's tokens; after 5 and 6
    frames the memory holds exactly the tokens the clip gives encoded at once; frames after the first clip
    are single tokens."""
    tiny = build_tiny(0, max_pixels=SMALL)
    backend = make_backend(tiny)
    enc = backend.encoder
    calls = []
    encode, encode_pairs = enc.encode, enc.encode_pairs
    enc.encode = lambda f: calls.append(("alone", len(f))) or encode(f)
    enc.encode_pairs = lambda a, b: calls.append(("pair", len(b))) or encode_pairs(a, b)
    frames = np.random.default_rng(1).integers(0, 256, (11, 96, 128, 3), dtype=np.uint8)
    e = StreamEngine(backend, EngineConfig(sample_rate_hz=1.0, encoder_batch_size=1))
    e.start()
    try:
        reads = {}
        for i in range(11):
            e.offer("front", 100.0 + i, frames[i], wait=True)
            assert e.flush()
            reads[i + 1] = e.read(["front"])
    finally:
        e.stop()
    tokens = []                 # each pair replaces the lone frame before it
    for i, (kind, _) in enumerate(calls):
        tokens[-1:] = [(i - 1, i)] if kind == "pair" else [*tokens[-1:], (i, i)]
    server = [tok for clip in upstream_server_clips(11, step=8) for tok in clip_tokens(len(clip))
              for tok in [tuple(clip[j] for j in tok)]]
    assert tokens == server == [(0, 1), (2, 3), (4, 5), (6, 7), (8, 8), (9, 9), (10, 10)]
    for n in (5, 6):
        whole, clip = enc.encode_clip(frames[:n])
        full, small = unpack_frame_maps(whole, tiny.model.config.memory)
        read = reads[n]
        csm = [g for g in read.groups if g.kind == "temporal"]
        dam = [g for g in read.groups if g.kind == "retrieved"]
        assert [(g.start, g.end) for g in csm] == [(100.0 + a, 100.0 + b) for a, b in clip]
        assert torch.allclose(torch.stack([read.group_tokens(g) for g in csm]), small.flatten(1, 2), atol=1e-5)
        assert torch.allclose(read.group_tokens(dam[0]), full[0].flatten(0, 1), atol=1e-5)
        assert time_indices(read.groups, 2.0, 120)[len(dam):] == list(range(len(clip)))
    final = reads[11]
    csm = [g for g in final.groups if g.kind == "temporal"]
    assert final.frames_seen == 11 and sum(g.weight for g in csm) == 4 + 3
    # the language model's clock: 1 s frames, a time index per token of two (training's), from the prompt
    prompt = build_prompt(tiny.tokenizer, "What did you see?", ["front"])
    _, pos = tiny.model.embed_prompt(prompt, reads[6], 1.0)
    p0 = len(prompt.pieces[0])
    dam = [g for g in reads[6].groups if g.kind == "retrieved"]
    assert len(dam) == 2                              # the R = 2 oldest tokens: time indices 0 and 1
    expected, _ = block_positions(reads[6].groups, [0, 1] + [0, 1, 2], 2, p0)
    assert torch.equal(pos[:, 0, p0: p0 + expected.shape[1]], expected)
