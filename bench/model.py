"""Flash-VStream backend speed: encoder, memory update, time to first token, decode rate, VRAM, and the
answer latency versus frames seen beside a baseline that gives the LLM every frame's 64 tokens.

    python bench/model.py            # GPU: full size (CLIP ViT-L/14 + Vicuna-7B shapes), random bf16 weights
    python bench/model.py --tiny     # the tiny configuration (what runs on a CPU and in CI)

Prints one JSON document, then a table. Random weights give real timings: the arithmetic and the bytes
moved do not depend on the values. Figures from a CPU are only a smoke test of the script.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time

import torch
from transformers import CLIPVisionConfig, LlamaConfig

from vstream_ros.backends.flash_vstream.answering import FlashVStreamAnswerer
from vstream_ros.backends.flash_vstream.configuration import KNOWN_TOWERS, FlashVStreamConfig
from vstream_ros.backends.flash_vstream.loading import LoadedModel
from vstream_ros.backends.flash_vstream.modeling import FlashVStreamModel
from vstream_ros.backends.tiny import TINY_MM_CONFIG, build_tiny, tiny_tokenizer
from vstream_ros.memory import STARMemory

# dense bf16 tensor-core peak (FLOP/s) and memory bandwidth (B/s), from the vendors' data sheets
GPU_SPECS = {"H100": (989e12, 3.35e12), "H200": (989e12, 4.8e12), "A100": (312e12, 2.0e12)}
VICUNA_7B = dict(vocab_size=32000, hidden_size=4096, intermediate_size=11008, num_hidden_layers=32,
                 num_attention_heads=32, num_key_value_heads=32, max_position_embeddings=4096,
                 bos_token_id=1, eos_token_id=2, pad_token_id=0, tie_word_embeddings=False)
QUESTION = "What happened in the last minute, and where is the red cup now? Answer briefly please."


def sync(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def timeit(fn, device, reps):
    fn()
    sync(device)
    out = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        sync(device)
        out.append(time.perf_counter() - t0)
    return statistics.median(out)


def build(tiny: bool, device: torch.device) -> LoadedModel:
    if tiny:
        return build_tiny(device=device)
    tok = tiny_tokenizer()   # its 1024 ids are valid in Vicuna's 32000-token vocabulary
    released = {**LlamaConfig(**VICUNA_7B).to_dict(), **TINY_MM_CONFIG, "tokenizer_model_max_length": 2048,
                "mm_vision_tower": "openai/clip-vit-large-patch14", "mm_hidden_size": 1024,
                "compress_Turing_hidden_dim": 32}
    config = FlashVStreamConfig.from_released(released, CLIPVisionConfig(**KNOWN_TOWERS[released["mm_vision_tower"]]))
    return LoadedModel(FlashVStreamModel(config, device=device, dtype=torch.bfloat16), tok)


def clip_flops(cfg: CLIPVisionConfig) -> float:
    """Forward FLOPs of one image through the tower (matmuls and attention)."""
    t = (cfg.image_size // cfg.patch_size) ** 2 + 1
    d = cfg.hidden_size
    per_layer = 2 * (4 * t * d * d + 2 * t * d * cfg.intermediate_size + 2 * t * t * d)
    patch = 2 * (t - 1) * 3 * cfg.patch_size ** 2 * d
    return cfg.num_hidden_layers * per_layer + patch


def answer_latency(answerer: FlashVStreamAnswerer, tokens, new_tokens, device, reps):
    """(ttft_s, decode tokens/s, total_s) of a greedy answer from `tokens` memory tokens."""
    stats = {}

    def run():
        a = answerer.answer_from_tokens(tokens, QUESTION, new_tokens, stop_at_eos=False)
        stats.update(a)
    total = timeit(run, device, reps)
    decode = (stats["tokens"] - 1) / max(1e-9, stats["total_s"] - stats["ttft_s"])
    return stats["ttft_s"], decode, total


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--tiny", action="store_true", help="tiny configuration (default on a CPU)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--new-tokens", type=int, default=32)
    ap.add_argument("--curve", default="1,10,100,1000,10000")
    args = ap.parse_args(argv)
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    tiny = args.tiny or device.type == "cpu"
    if device.type == "cuda":
        torch.cuda.reset_peak_memory_stats(device)
    t0 = time.perf_counter()
    loaded = build(tiny, device)
    build_s = time.perf_counter() - t0
    model, answerer = loaded.model, FlashVStreamAnswerer(loaded.model, loaded.tokenizer)
    enc = model.encoder()
    report = {"benchmark": "flash_vstream_backend", "config": "tiny" if tiny else "clip-vit-l14 + vicuna-7b",
              "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
              "dtype": str(model.dtype), "attn": model.llm.config._attn_implementation, "build_s": build_s}

    # encoder
    frames32 = torch.randint(0, 256, (32, 480, 640, 3), dtype=torch.uint8, device=device)
    flops = clip_flops(model.vision_tower.config)
    peak, bw = next((v for k, v in GPU_SPECS.items() if k in report["device"]), (None, None))
    for b in (1, 32):
        s = timeit(lambda b=b: enc.encode(frames32[:b]), device, args.reps)
        report[f"encoder_fps_b{b}"] = b / s
        if peak:
            report[f"encoder_peak_fraction_b{b}"] = b * flops / s / peak

    # memory update
    mem = STARMemory(model.config.memory, enc.dim, enc.feature_grid, device=device, dtype=model.dtype)
    mem.set_abstract_projections(*model.abstract_projections())
    feats = enc.encode(frames32)
    for i in range(64):
        mem.update(feats[i % 32], float(i))
    stamp = [64.0]

    def one_update():
        mem.update(feats[int(stamp[0]) % 32], stamp[0])
        stamp[0] += 1
    report["memory_update_ms"] = 1e3 * timeit(one_update, device, 50)
    read = mem.read()
    report["memory_tokens"] = read.num_tokens

    # answer from a full memory
    ttft, rate, total = answer_latency(answerer, read.tokens, args.new_tokens, device, args.reps)
    report |= {"ttft_s": ttft, "decode_tokens_per_s": rate, "answer_s": total}
    if bw:
        weight_bytes = sum(p.numel() * p.element_size() for p in model.llm.parameters())
        report["decode_bandwidth_floor_fraction"] = (weight_bytes / bw) * rate
    if device.type == "cuda":
        report["peak_vram_gb"] = torch.cuda.max_memory_allocated(device) / 1e9
        report["paper_peak_vram_gb_a100"] = 16.03

    # latency curve: ours (fixed-size memory) vs every frame's 64 tokens to the LLM
    limit = model.llm.config.max_position_embeddings
    per_frame = read.group_tokens(next(g for g in read.groups if g.kind == "spatial"))
    curve = []
    for n in [int(x) for x in args.curve.split(",")]:
        row = {"frames_seen": n}
        _, _, row["ours_s"] = answer_latency(answerer, read.tokens, 8, device, max(1, args.reps // 2))
        if n * per_frame.shape[0] + 100 > limit:
            row["baseline_s"] = None
            row["baseline_note"] = f"{n * per_frame.shape[0]} tokens exceed the {limit}-token context"
        else:
            try:
                _, _, row["baseline_s"] = answer_latency(answerer, per_frame.repeat(n, 1), 8, device, 1)
            except torch.OutOfMemoryError:
                row["baseline_s"], row["baseline_note"] = None, "out of GPU memory"
                torch.cuda.empty_cache()
        curve.append(row)
    report["latency_curve"] = curve

    print(json.dumps(report, indent=2))
    print("\n| metric | value |\n|---|---|")
    for k, v in report.items():
        if k != "latency_curve":
            print(f"| {k} | {v:.4g} |" if isinstance(v, float) else f"| {k} | {v} |")
    print("\n| frames seen | ours (s) | all frames to the LLM (s) |\n|---|---|---|")
    for r in curve:
        base = f"{r['baseline_s']:.3f}" if r["baseline_s"] is not None else r["baseline_note"]
        print(f"| {r['frames_seen']} | {r['ours_s']:.3f} | {base} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
