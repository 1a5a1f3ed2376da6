"""The flash_vstream backend: tiny build, encoder contract, answers, and the released checkpoint layout."""

import json
import threading

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from vstream_ros.memory import STARMemory
from vstream_ros.models import load_backend
from vstream_ros.models.checkpoint import CheckpointError
from vstream_ros.models.flash_vstream import FlashVStreamModel, vicuna_v1_prompt
from vstream_ros.models.tiny import TINY_MM_CONFIG, build_tiny

RNG = np.random.default_rng(0)


def frames(n, h=48, w=64):
    return torch.from_numpy(RNG.integers(0, 256, (n, h, w, 3), dtype=np.uint8))


def filled_memory(model, n=30, seed=0):
    enc = model.encoder()
    g = torch.Generator().manual_seed(seed)
    mem = STARMemory(model.memory_config(), enc.dim, enc.feature_grid, encoder_id=enc.id)
    mem.set_abstract_projections(*model.abstract_projections())
    for i in range(n):
        mem.update(enc.encode(torch.randint(0, 256, (40, 50, 3), dtype=torch.uint8, generator=g)), float(i))
    return mem


def test_tiny_is_deterministic_under_a_seed():
    a, b, c = build_tiny(seed=1), build_tiny(seed=1), build_tiny(seed=2)
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_encoder_contract():
    enc = build_tiny().encoder()
    x = frames(3, 48, 80)
    out = enc.encode(x)
    assert out.shape == (3, *enc.feature_grid, enc.dim) == (3, 4, 4, 64)
    assert out.dtype == enc.dtype and out.device == enc.device
    assert torch.equal(enc.encode(x.numpy()), out)               # numpy in, same result
    assert torch.allclose(enc.encode(x[1]), out[1:2], atol=1e-5)  # one frame is a batch of one
    assert enc.id == "tiny-clip:seed0"
    with pytest.raises(ValueError, match="uint8"):
        enc.encode(x.float())
    with pytest.raises(ValueError):
        enc.encode(torch.zeros(2, 10, 10, 4, dtype=torch.uint8))


def test_encoder_uses_the_penultimate_layer_patch_tokens():
    model = build_tiny()
    enc = model.encoder()
    x = frames(2)
    px = enc.preprocess(x)
    assert px.shape == (2, 3, 32, 32)
    with torch.no_grad():
        hidden = model.vision_tower(pixel_values=px, output_hidden_states=True).hidden_states
    assert torch.allclose(enc.encode(x).reshape(2, 16, 64), hidden[-2][:, 1:], atol=1e-6)
    assert not torch.allclose(hidden[-1][:, 1:], hidden[-2][:, 1:])


def test_memory_config_comes_from_the_checkpoint_config():
    model = build_tiny()
    cfg = model.memory_config()
    assert (cfg.temporal_slots, cfg.temporal_size, cfg.spatial_size, cfg.abstract_slots) == (25, 4, 8, 25)
    assert cfg.abstract_hidden == TINY_MM_CONFIG["compress_Turing_hidden_dim"]
    assert build_tiny(temporal_slots=10).memory_config().temporal_slots == 10


def test_answer_streams_and_stops_at_max_tokens_and_on_cancel():
    model = build_tiny()
    read = filled_memory(model).read()
    ans = model.answer(read, "What did you see?", max_new_tokens=6)
    pieces = list(ans.pieces)
    assert ans.stats["tokens"] <= 6 and ans.stats["prompt_tokens"] > read.num_tokens
    assert "".join(pieces) == model.answer(read, "What did you see?", 6).text()     # greedy: same twice
    assert ans.evidence == read.groups
    cancel = threading.Event()
    ans = model.answer(read, "What did you see?", max_new_tokens=50, cancel=cancel)
    it = iter(ans.pieces)
    next(it)
    cancel.set()
    list(it)
    assert ans.stats["cancelled"] and ans.stats["tokens"] < 50


def test_load_backend_by_name():
    backend = load_backend("tiny", seed=3, device="cpu")
    assert backend.name == "tiny" and backend.encoder.feature_grid == (4, 4)
    assert backend.memory_config.full_tokens(backend.encoder.feature_grid) == 25 + 400 + 3 * 16 + 16
    with pytest.raises(ValueError, match="unknown backend"):
        load_backend("gpt")
    with pytest.raises(ValueError, match="model_path"):
        load_backend("flash_vstream")


# ------------------------------------------------- released checkpoint layout
def released_state(model: FlashVStreamModel) -> dict[str, torch.Tensor]:
    """The model's weights under the key names of IVGSZ/Flash-VStream-7b (written out literally)."""
    state = {}
    for k, v in model.llm.state_dict().items():          # model.embed_tokens, model.layers.N..., lm_head
        state[k] = v.clone()
    for i in range(len(model.llm.model.layers)):          # transformers 4.31 saved these buffers
        state[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = torch.ones(8)
    for k, v in model.vision_tower.state_dict().items():  # released: ...vision_tower.vision_model.*
        state[f"model.vision_tower.vision_tower.vision_model.{k.removeprefix('vision_model.')}"] = v.clone()
    p = model.projector
    state.update({"model.mm_projector.0.weight": p[0].weight.clone(), "model.mm_projector.0.bias": p[0].bias.clone(),
                  "model.mm_projector.2.weight": p[2].weight.clone(), "model.mm_projector.2.bias": p[2].bias.clone()})
    a = model.attention_model
    for name in ("q_proj", "k_proj", "v_proj", "out_proj", "out_ln"):
        for pn, t in getattr(a, name).named_parameters():
            state[f"model.attention_model.{name}.{pn}"] = t.clone()
    return state


def write_released_checkpoint(model: FlashVStreamModel, path, state=None, shards=2):
    """A folder as released: config.json with its Flash-VStream keys, tokenizer, .bin shards + index."""
    path.mkdir(parents=True, exist_ok=True)
    state = released_state(model) if state is None else state
    cfg = model.llm.config.to_dict()
    cfg = {k: cfg[k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                               "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
                               "rms_norm_eps", "bos_token_id", "eos_token_id", "pad_token_id", "hidden_act")}
    cfg |= {"architectures": ["VStreamLlamaForCausalLM"], "model_type": "vstream", "torch_dtype": "float32",
            "transformers_version": "4.31.0", "tie_word_embeddings": False, "use_cache": True,
            "image_aspect_ratio": "pad", "tokenizer_model_max_length": 2048, "tokenizer_padding_side": "right",
            "tune_mm_mlp_adapter": False, "freeze_mm_mlp_adapter": False, "use_mm_proj": True,
            "video_max_frames": 26, "video_short_memory_length": 10, "video_fps": 1}
    cfg |= {k: v for k, v in TINY_MM_CONFIG.items()}
    (path / "config.json").write_text(json.dumps(cfg, indent=2))
    model.tokenizer.save_pretrained(path)
    keys = sorted(state)
    weight_map, total = {}, 0
    for s in range(shards):
        name = f"pytorch_model-{s + 1:05d}-of-{shards:05d}.bin"
        part = {k: state[k] for k in keys[s::shards]}
        torch.save(part, path / name)
        weight_map |= dict.fromkeys(part, name)
        total += sum(t.numel() * t.element_size() for t in part.values())
    (path / "pytorch_model.bin.index.json").write_text(
        json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}))
    return path


def reference_answer(state, cfg_model: FlashVStreamModel, memory_tokens, question, n):
    """Greedy decoding built directly from the written tensors: a plain LLaMA, F.linear projector."""
    from transformers import LlamaForCausalLM

    llm = LlamaForCausalLM(cfg_model.llm.config).eval()
    llm.load_state_dict({k: v for k, v in state.items() if not k.startswith("model.mm_projector")
                         and not k.startswith("model.attention_model") and not k.startswith("model.vision_tower")
                         and "rotary_emb" not in k})
    tok = cfg_model.tokenizer
    before, after = vicuna_v1_prompt(question).split("<image>")
    h = F.gelu(F.linear(memory_tokens, state["model.mm_projector.0.weight"], state["model.mm_projector.0.bias"]))
    visual = F.linear(h, state["model.mm_projector.2.weight"], state["model.mm_projector.2.bias"])
    emb = llm.get_input_embeddings()
    ids = torch.cat([tok(before, return_tensors="pt").input_ids[0],
                     tok(after, add_special_tokens=False, return_tensors="pt").input_ids[0]])
    n_before = len(tok(before).input_ids)
    out = []
    with torch.no_grad():
        for _ in range(n):   # no KV cache: the whole sequence each step
            x = torch.cat([emb(ids[:n_before]), visual, emb(ids[n_before:]), emb(torch.tensor(out, dtype=torch.long))])
            nxt = int(llm(inputs_embeds=x[None]).logits[0, -1].argmax())
            if nxt == tok.eos_token_id:
                break
            out.append(nxt)
    return tok.decode(out, skip_special_tokens=True)


def test_released_checkpoint_layout_loads_and_answers_like_a_reference(tmp_path):
    source = build_tiny(seed=7)
    state = released_state(source)
    ckpt = write_released_checkpoint(source, tmp_path / "Flash-VStream-7b", state)
    loaded = FlashVStreamModel.from_pretrained(ckpt, device="cpu", dtype="float32")
    rep = loaded.load_report
    assert rep.missing == [] and rep.unexpected == []
    assert len(rep.ignored) == 2 and all("rotary_emb.inv_freq" in k for k in rep.ignored)
    assert torch.equal(loaded.projector[0].weight, state["model.mm_projector.0.weight"])
    assert torch.equal(loaded.projector[2].bias, state["model.mm_projector.2.bias"])
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        assert torch.equal(getattr(loaded.attention_model, name).weight, state[f"model.attention_model.{name}.weight"])
    llm_state = loaded.llm.state_dict()
    for k in ("model.embed_tokens.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight",
              "lm_head.weight"):
        assert torch.equal(llm_state[k], state[k])
    assert loaded.memory_config() == source.memory_config()

    mem = filled_memory(loaded)
    read = mem.read()
    question = "What did you see?"
    got = loaded.answer(read, question, max_new_tokens=8).text()
    assert got == reference_answer(state, loaded, read.tokens, question, 8)
    # the memory used the checkpoint's q/k projections
    assert mem._q is loaded.attention_model.q_proj


def test_safetensors_shards_load_too(tmp_path):
    from safetensors.torch import save_file

    source = build_tiny(seed=4)
    ckpt = write_released_checkpoint(source, tmp_path / "st")
    for f in ckpt.glob("pytorch_model*"):
        f.unlink()
    state = released_state(source)
    keys = sorted(state)
    save_file({k: state[k] for k in keys[:40]}, ckpt / "model-00001-of-00002.safetensors")
    save_file({k: state[k] for k in keys[40:]}, ckpt / "model-00002-of-00002.safetensors")
    wm = {k: "model-00001-of-00002.safetensors" for k in keys[:40]} | {
        k: "model-00002-of-00002.safetensors" for k in keys[40:]}
    (ckpt / "model.safetensors.index.json").write_text(json.dumps({"weight_map": wm}))
    loaded = FlashVStreamModel.from_pretrained(ckpt, device="cpu")
    assert torch.equal(loaded.llm.lm_head.weight, source.llm.lm_head.weight)


def test_checkpoint_problems_are_named(tmp_path, caplog):
    source = build_tiny(seed=5)
    state = released_state(source)

    bad = dict(state)
    bad["model.mm_projector.0.weight"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match=r"model\.mm_projector\.0\.weight.*shape"):
        FlashVStreamModel.from_pretrained(write_released_checkpoint(source, tmp_path / "shape", bad), device="cpu")

    missing = {k: v for k, v in state.items() if k != "model.layers.0.mlp.up_proj.weight"}
    path = write_released_checkpoint(source, tmp_path / "missing", missing)
    with pytest.raises(CheckpointError, match=r"llm\.model\.layers\.0\.mlp\.up_proj\.weight"):
        FlashVStreamModel.from_pretrained(path, device="cpu")
    lenient = FlashVStreamModel.from_pretrained(path, device="cpu", strict=False)
    assert lenient.load_report.missing == ["llm.model.layers.0.mlp.up_proj.weight"]

    extra = dict(state)
    extra["model.mm_resampler.weight"] = torch.zeros(2)
    with caplog.at_level("WARNING"):
        path = write_released_checkpoint(source, tmp_path / "extra", extra)
        m = FlashVStreamModel.from_pretrained(path, device="cpu")
    assert m.load_report.unexpected == ["model.mm_resampler.weight"]
    assert "model.mm_resampler.weight" in caplog.text

    no_tower = {k: v for k, v in state.items() if not k.startswith("model.vision_tower")}
    with pytest.raises(CheckpointError, match="vision_tower_path"):
        FlashVStreamModel.from_pretrained(write_released_checkpoint(source, tmp_path / "nt", no_tower), device="cpu")
    # ... and with a separate local CLIP folder it loads
    source.vision_tower.save_pretrained(tmp_path / "clip")
    m = FlashVStreamModel.from_pretrained(tmp_path / "nt", device="cpu", vision_tower_path=tmp_path / "clip")
    ours, theirs = m.vision_tower.state_dict(), source.vision_tower.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)

    corrupt = write_released_checkpoint(source, tmp_path / "corrupt")
    shard = corrupt / "pytorch_model-00001-of-00002.bin"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="pytorch_model-00001-of-00002.bin"):
        FlashVStreamModel.from_pretrained(corrupt, device="cpu")

    with pytest.raises(CheckpointError, match="config.json"):
        FlashVStreamModel.from_pretrained(tmp_path / "nowhere", device="cpu")
