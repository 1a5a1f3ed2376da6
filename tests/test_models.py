"""The flash_vstream backend: tiny build, encoder contract, answers, the released checkpoint layout, and
golden tests of the memory and the prompt against upstream's offline computation at the real sizes."""

import dataclasses
import json
import math
import threading

import numpy as np
import pytest
import sentencepiece as spm
import torch
import torch.nn.functional as F
from torch import nn

from vstream_ros.answering.question import parse
from vstream_ros.backends import load_backend
from vstream_ros.backends.flash_vstream.answering import FlashVStreamAnswerer
from vstream_ros.backends.flash_vstream.configuration import FlashVStreamConfig, LoaderConfig
from vstream_ros.backends.flash_vstream.loading import load_pretrained
from vstream_ros.backends.flash_vstream.prompting import IMAGE_TOKEN_INDEX, SYSTEM_PROMPT, prompt_ids, vicuna_v1_prompt
from vstream_ros.backends.shared.budget import names_camera, select_cameras
from vstream_ros.backends.shared.checkpoint import CheckpointError
from vstream_ros.backends.shared.generation import stream_until_stop
from vstream_ros.backends.tiny import TINY_MM_CONFIG, build_tiny, tiny_configs, tiny_sentencepiece_model
from vstream_ros.memory import MemoryConfig, MemoryRead, MultiCameraMemory, STARMemory

RNG = np.random.default_rng(0)


def frames(n, h=48, w=64):
    return torch.from_numpy(RNG.integers(0, 256, (n, h, w, 3), dtype=np.uint8))


def filled_memory(model, n=30, seed=0):
    enc = model.encoder()
    g = torch.Generator().manual_seed(seed)
    mem = STARMemory(model.config.memory, enc.dim, enc.feature_grid, encoder_id=enc.id)
    mem.set_abstract_projections(*model.abstract_projections())
    for i in range(n):
        mem.update(enc.encode(torch.randint(0, 256, (40, 50, 3), dtype=torch.uint8, generator=g)), float(i))
    return mem


def answerer_of(loaded):
    return FlashVStreamAnswerer(loaded.model, loaded.tokenizer)


def test_tiny_is_deterministic_under_a_seed():
    a, b, c = build_tiny(seed=1).model, build_tiny(seed=1).model, build_tiny(seed=2).model
    sa, sb, sc = a.state_dict(), b.state_dict(), c.state_dict()
    assert all(torch.equal(sa[k], sb[k]) for k in sa)
    assert not all(torch.equal(sa[k], sc[k]) for k in sa)


def test_encoder_contract():
    enc = build_tiny().model.encoder()
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
    model = build_tiny().model
    enc = model.encoder()
    x = frames(2)
    px = enc.preprocess(x)
    assert px.shape == (2, 3, 32, 32)
    with torch.no_grad():
        hidden = model.vision_tower(pixel_values=px, output_hidden_states=True).hidden_states
    assert torch.allclose(enc.encode(x).reshape(2, 16, 64), hidden[-2][:, 1:], atol=1e-6)
    assert not torch.allclose(hidden[-1][:, 1:], hidden[-2][:, 1:])


def test_memory_config_comes_from_the_checkpoint_config():
    model = build_tiny().model
    cfg = model.config.memory
    assert (cfg.temporal_slots, cfg.temporal_size, cfg.spatial_size, cfg.abstract_slots) == (25, 4, 8, 25)
    assert cfg.abstract_hidden == TINY_MM_CONFIG["compress_Turing_hidden_dim"]
    assert build_tiny(temporal_slots=10).model.config.memory.temporal_slots == 10


@pytest.mark.slow   # several seconds: the full tier only
def test_answer_streams_and_stops_at_max_tokens_and_on_cancel():
    tiny = build_tiny()
    model = answerer_of(tiny)
    read = filled_memory(tiny.model).read()
    ans = model.answer(read, parse("What did you see?"), max_new_tokens=6)
    pieces = list(ans.pieces)
    assert ans.stats["tokens"] <= 6 and ans.stats["prompt_tokens"] > read.num_tokens
    assert "".join(pieces) == model.answer(read, parse("What did you see?"), 6).text()     # greedy: same twice
    assert ans.evidence == read.groups
    cancel = threading.Event()
    ans = model.answer(read, parse("What did you see?"), max_new_tokens=50, cancel=cancel)
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
# tokenizer_config.json and special_tokens_map.json as a LLaVA-lineage LLaMA release ships them
# (transformers 4.31 wrote special tokens as AddedToken dicts); the release has no tokenizer.json.
def _added(content):
    return {"__type": "AddedToken", "content": content, "lstrip": False, "normalized": False, "rstrip": False,
            "single_word": False}


RELEASE_TOKENIZER_CONFIG = {
    "add_bos_token": True, "add_eos_token": False, "bos_token": _added("<s>"), "clean_up_tokenization_spaces": False,
    "eos_token": _added("</s>"), "legacy": False, "model_max_length": 2048, "pad_token": None,
    "padding_side": "right", "sp_model_kwargs": {}, "tokenizer_class": "LlamaTokenizer", "unk_token": _added("<unk>"),
}
RELEASE_SPECIAL_TOKENS = {k: {kk: vv for kk, vv in _added(v).items() if kk != "__type"}
                          for k, v in (("bos_token", "<s>"), ("eos_token", "</s>"), ("unk_token", "<unk>"))}
RELEASE_SPECIAL_TOKENS["pad_token"] = "<unk>"


def write_release_tokenizer(path):
    """tokenizer.model (a SentencePiece model trained now, set up like LLaMA's) and the two JSON files."""
    (path / "tokenizer.model").write_bytes(tiny_sentencepiece_model())
    (path / "tokenizer_config.json").write_text(json.dumps(RELEASE_TOKENIZER_CONFIG, indent=2))
    (path / "special_tokens_map.json").write_text(json.dumps(RELEASE_SPECIAL_TOKENS, indent=2))


def released_state(model) -> dict[str, torch.Tensor]:
    """The model's weights under the key names of IVGSZ/Flash-VStream-7b (derived from our parts)."""
    state = {}
    for k, v in model.llm.state_dict().items():          # model.embed_tokens, model.layers.N..., lm_head
        state[k] = v.clone()
    for i in range(len(model.llm.model.layers)):          # transformers 4.31 saved these buffers
        state[f"model.layers.{i}.self_attn.rotary_emb.inv_freq"] = torch.ones(8)
    for k, v in model.vision_tower.state_dict().items():  # released: ...vision_tower.vision_model.*
        state[f"model.vision_tower.vision_tower.vision_model.{k.removeprefix('vision_model.')}"] = v.clone()
    p = model.projector
    state.update({"model.mm_projector.0.weight": p.linear_1.weight.clone(),
                  "model.mm_projector.0.bias": p.linear_1.bias.clone(),
                  "model.mm_projector.2.weight": p.linear_2.weight.clone(),
                  "model.mm_projector.2.bias": p.linear_2.bias.clone()})
    a = model.attention_model
    for name in ("q_proj", "k_proj", "v_proj", "out_proj", "out_ln"):
        for pn, t in getattr(a, name).named_parameters():
            state[f"model.attention_model.{name}.{pn}"] = t.clone()
    return state


def released_config(llm_config) -> dict:
    cfg = llm_config.to_dict()
    cfg = {k: cfg[k] for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                               "num_attention_heads", "num_key_value_heads", "max_position_embeddings",
                               "rms_norm_eps", "bos_token_id", "eos_token_id", "pad_token_id", "hidden_act")}
    cfg |= {"architectures": ["VStreamLlamaForCausalLM"], "model_type": "vstream", "torch_dtype": "float32",
            "transformers_version": "4.31.0", "tie_word_embeddings": False, "use_cache": True,
            "image_aspect_ratio": "pad", "tokenizer_model_max_length": 2048, "tokenizer_padding_side": "right",
            "tune_mm_mlp_adapter": False, "freeze_mm_mlp_adapter": False, "use_mm_proj": True,
            "video_max_frames": 26, "video_short_memory_length": 10, "video_fps": 1}
    return cfg | dict(TINY_MM_CONFIG)


def write_shards(path, state, shards=2):
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


def write_released_checkpoint(model, path, state=None, shards=2):
    """A folder as released: config.json with its Flash-VStream keys, tokenizer.model, .bin shards + index."""
    path.mkdir(parents=True, exist_ok=True)
    state = released_state(model) if state is None else state
    (path / "config.json").write_text(json.dumps(released_config(model.config.llm), indent=2))
    write_release_tokenizer(path)
    write_shards(path, state, shards)
    return path


def load(path, **options):
    return load_pretrained(path, LoaderConfig(**{"device": "cpu", **options}))


def upstream_ids(path, question):
    """Upstream's tokenizer_image_token with the slow tokenizer: SentencePiece on each piece around
    <image>, the first piece's BOS only, the placeholder -200 spliced between."""
    sp = spm.SentencePieceProcessor(model_file=str(path / "tokenizer.model"))
    before, after = vicuna_v1_prompt(question).split("<image>")
    return [sp.bos_id(), *sp.encode(before), IMAGE_TOKEN_INDEX, *sp.encode(after)]


def reference_answer(state, tokenizer, llm_config, memory_tokens, question, n):
    """Greedy decoding built directly from the written tensors: a plain LLaMA, F.linear projector."""
    from transformers import LlamaForCausalLM

    llm = LlamaForCausalLM(llm_config).eval()
    llm.load_state_dict({k: v for k, v in state.items() if not k.startswith("model.mm_projector")
                         and not k.startswith("model.attention_model") and not k.startswith("model.vision_tower")
                         and "rotary_emb" not in k})
    before, after = vicuna_v1_prompt(question).split("<image>")
    h = F.gelu(F.linear(memory_tokens, state["model.mm_projector.0.weight"], state["model.mm_projector.0.bias"]))
    visual = F.linear(h, state["model.mm_projector.2.weight"], state["model.mm_projector.2.bias"])
    emb = llm.get_input_embeddings()
    ids = torch.cat([tokenizer(before, return_tensors="pt").input_ids[0],
                     tokenizer(after, add_special_tokens=False, return_tensors="pt").input_ids[0]])
    n_before = len(tokenizer(before).input_ids)
    out = []
    with torch.no_grad():
        for _ in range(n):   # no KV cache: the whole sequence each step
            x = torch.cat([emb(ids[:n_before]), visual, emb(ids[n_before:]), emb(torch.tensor(out, dtype=torch.long))])
            nxt = int(llm(inputs_embeds=x[None]).logits[0, -1].argmax())
            if nxt == tokenizer.eos_token_id:
                break
            out.append(nxt)
    return tokenizer.decode(out, skip_special_tokens=True)


@pytest.mark.slow   # several seconds: the full tier only
def test_released_checkpoint_layout_loads_and_answers_like_a_reference(tmp_path):
    source = build_tiny(seed=7).model
    state = released_state(source)
    ckpt = write_released_checkpoint(source, tmp_path / "Flash-VStream-7b", state)
    loaded = load(ckpt, dtype="float32")
    rep = loaded.report
    assert rep.missing == [] and rep.unexpected == []
    assert len(rep.ignored) == 2 and all("rotary_emb.inv_freq" in k for k in rep.ignored)
    assert torch.equal(loaded.model.projector.linear_1.weight, state["model.mm_projector.0.weight"])
    assert torch.equal(loaded.model.projector.linear_2.bias, state["model.mm_projector.2.bias"])
    for name in ("q_proj", "k_proj", "v_proj", "out_proj"):
        assert torch.equal(getattr(loaded.model.attention_model, name).weight,
                           state[f"model.attention_model.{name}.weight"])
    llm_state = loaded.model.llm.state_dict()
    for k in ("model.embed_tokens.weight", "model.layers.1.mlp.down_proj.weight", "model.norm.weight",
              "lm_head.weight"):
        assert torch.equal(llm_state[k], state[k])
    assert loaded.model.config.memory == source.config.memory

    mem = filled_memory(loaded.model)
    read = mem.read()
    question = "What did you see?"
    got = answerer_of(loaded).answer(read, parse(question), max_new_tokens=8).text()
    assert got == reference_answer(state, loaded.tokenizer, loaded.model.config.llm, read.tokens, question, 8)
    # the memory used the checkpoint's q/k projections
    assert mem._q is loaded.model.attention_model.q_proj


def test_release_tokenizer_loads_from_tokenizer_model_and_ids_are_upstreams(tmp_path):
    ckpt = write_released_checkpoint(build_tiny(seed=2).model, tmp_path / "ckpt")
    assert not (ckpt / "tokenizer.json").exists()
    tok = load(ckpt).tokenizer
    assert type(tok).__name__ == "LlamaTokenizer" and (tok.bos_token_id, tok.eos_token_id) == (1, 2)
    sp = spm.SentencePieceProcessor(model_file=str(ckpt / "tokenizer.model"))
    for q in ["What did you see?", "When did you see a cat? 42 seconds ago", "Où est le chat ? 😀", "  two  spaces"]:
        ids = prompt_ids(tok, q)
        assert ids == upstream_ids(ckpt, q), q
        k = ids.index(IMAGE_TOKEN_INDEX)
        assert ids[0] == 1 and ids.count(1) == 1 and ids.count(IMAGE_TOKEN_INDEX) == 1
        # tokenised on its own, the piece after the image starts with the dummy prefix, then the newline
        assert [sp.id_to_piece(i) for i in ids[k + 1: k + 3]] == ["▁", "<0x0A>"]
        assert sp.decode(ids[1:k]).rstrip() == SYSTEM_PROMPT + " USER:"
    # control-token strings in a question stay text (SentencePiece's reading of them)
    q = "say </s> or <image> please"
    ids = prompt_ids(tok, q)
    assert ids.count(IMAGE_TOKEN_INDEX) == 1 and tok.eos_token_id not in ids
    assert ids[ids.index(IMAGE_TOKEN_INDEX) + 1:] == sp.encode(f"\n{q} ASSISTANT:")


def released_key_names(llm_layers: int, vision_layers: int) -> list[str]:
    """The weight_map keys of IVGSZ/Flash-VStream-7b's pytorch_model.bin.index.json, written out from the
    release's module tree (VStreamLlamaForCausalLM under transformers 4.31, LLaVA's CLIP wrapper),
    not from our model: LLaMA, then model.mm_projector (an nn.Sequential: 0 and 2), model.attention_model
    (the NeuralTuringMachine), and the frozen CLIP tower saved with the rest."""
    names = ["model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"]
    for i in range(llm_layers):
        p = f"model.layers.{i}."
        names += [p + f"self_attn.{m}.weight" for m in ("q_proj", "k_proj", "v_proj", "o_proj")]
        names += [p + "self_attn.rotary_emb.inv_freq"]
        names += [p + f"mlp.{m}.weight" for m in ("gate_proj", "up_proj", "down_proj")]
        names += [p + "input_layernorm.weight", p + "post_attention_layernorm.weight"]
    names += ["model.mm_projector.0.weight", "model.mm_projector.0.bias",
              "model.mm_projector.2.weight", "model.mm_projector.2.bias"]
    names += [f"model.attention_model.{m}.{t}" for m in ("q_proj", "k_proj", "v_proj", "out_proj", "out_ln")
              for t in ("weight", "bias")]
    v = "model.vision_tower.vision_tower.vision_model."
    names += [v + "embeddings.class_embedding", v + "embeddings.patch_embedding.weight",
              v + "embeddings.position_embedding.weight", v + "embeddings.position_ids",
              v + "pre_layrnorm.weight", v + "pre_layrnorm.bias",
              v + "post_layernorm.weight", v + "post_layernorm.bias"]
    for i in range(vision_layers):
        p = v + f"encoder.layers.{i}."
        for m in ("self_attn.k_proj", "self_attn.v_proj", "self_attn.q_proj", "self_attn.out_proj",
                  "layer_norm1", "mlp.fc1", "mlp.fc2", "layer_norm2"):
            names += [p + f"{m}.weight", p + f"{m}.bias"]
    return names


def released_shape(name: str, H: int, M: int, V: int, D: int, h: int, DM: int, patch: int, positions: int):
    """Shapes of the release's tensors for LLaMA width H, MLP M, vocab V; CLIP width D, MLP DM; q/k width h."""
    last = name.rsplit(".", 2)
    if name in ("model.embed_tokens.weight", "lm_head.weight"):
        return (V, H)
    if name.startswith("model.layers."):
        if "rotary_emb" in name:
            return (H // 8,)
        if "layernorm" in name:
            return (H,)
        return {"gate_proj": (M, H), "up_proj": (M, H), "down_proj": (H, M)}.get(last[1], (H, H))
    if name == "model.norm.weight":
        return (H,)
    if name.startswith("model.mm_projector."):
        return {"0.weight": (H, D), "0.bias": (H,), "2.weight": (H, H), "2.bias": (H,)}[".".join(last[1:])]
    if name.startswith("model.attention_model."):
        m, t = last[1], last[2]
        if m == "out_proj":
            return (D, h) if t == "weight" else (D,)
        if m == "out_ln":
            return (D,)
        return (h, D) if t == "weight" else (h,)
    tail = name.split("vision_model.", 1)[1]
    fixed = {"embeddings.class_embedding": (D,), "embeddings.patch_embedding.weight": (D, 3, patch, patch),
             "embeddings.position_embedding.weight": (positions, D), "embeddings.position_ids": (1, positions)}
    if tail in fixed:
        return fixed[tail]
    if "fc1" in tail:
        return (DM, D) if tail.endswith("weight") else (DM,)
    if "fc2" in tail:
        return (D, DM) if tail.endswith("weight") else (D,)
    if "_proj.weight" in tail:
        return (D, D)
    return (D,)


def test_literal_released_key_names_load_into_every_parameter(tmp_path):
    llm_cfg, vision_cfg = tiny_configs(1024)
    names = released_key_names(llm_cfg.num_hidden_layers, vision_cfg.num_hidden_layers)
    dims = dict(H=64, M=128, V=1024, D=64, h=TINY_MM_CONFIG["compress_Turing_hidden_dim"], DM=128, patch=8,
                positions=(32 // 8) ** 2 + 1)
    g = torch.Generator().manual_seed(0)
    state = {n: (torch.arange(dims["positions"])[None] if n.endswith("position_ids")
                 else torch.randn(released_shape(n, **dims), generator=g)) for n in names}
    path = tmp_path / "literal"
    path.mkdir()
    (path / "config.json").write_text(json.dumps(released_config(llm_cfg)))
    write_release_tokenizer(path)
    write_shards(path, state)
    loaded = load(path)
    rep, m = loaded.report, loaded.model
    assert rep.missing == [] and rep.unexpected == []
    assert sorted(rep.ignored) == sorted(n for n in names if "rotary_emb" in n or n.endswith("position_ids"))
    assert rep.loaded == len(names) - len(rep.ignored)
    ours = {f"{part}.{k}": t for part in ("vision_tower", "projector", "attention_model", "llm")
            for k, t in getattr(m, part).state_dict().items()}
    assert rep.loaded == len(ours)      # every parameter of ours came from one released tensor
    v = "model.vision_tower.vision_tower.vision_model."
    pairs = {"projector.linear_1.weight": "model.mm_projector.0.weight",
             "projector.linear_1.bias": "model.mm_projector.0.bias",
             "projector.linear_2.weight": "model.mm_projector.2.weight",
             "projector.linear_2.bias": "model.mm_projector.2.bias",
             "attention_model.q_proj.weight": "model.attention_model.q_proj.weight",
             "attention_model.k_proj.bias": "model.attention_model.k_proj.bias",
             "attention_model.out_ln.weight": "model.attention_model.out_ln.weight",
             "vision_tower.embeddings.class_embedding": v + "embeddings.class_embedding",
             "vision_tower.encoder.layers.1.mlp.fc2.weight": v + "encoder.layers.1.mlp.fc2.weight",
             "vision_tower.pre_layrnorm.bias": v + "pre_layrnorm.bias",
             "llm.model.embed_tokens.weight": "model.embed_tokens.weight",
             "llm.model.layers.1.self_attn.o_proj.weight": "model.layers.1.self_attn.o_proj.weight",
             "llm.lm_head.weight": "lm_head.weight"}
    for mine, theirs in pairs.items():
        assert torch.equal(ours[mine], state[theirs]), mine


def test_safetensors_shards_load_too(tmp_path):
    from safetensors.torch import save_file

    source = build_tiny(seed=4).model
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
    loaded = load(ckpt)
    assert torch.equal(loaded.model.llm.lm_head.weight, source.llm.lm_head.weight)


def test_checkpoint_problems_are_named(tmp_path, caplog):
    source = build_tiny(seed=5).model
    state = released_state(source)

    bad = dict(state)
    bad["model.mm_projector.0.weight"] = torch.zeros(3, 3)
    with pytest.raises(CheckpointError, match=r"model\.mm_projector\.0\.weight.*shape"):
        load(write_released_checkpoint(source, tmp_path / "shape", bad))

    missing = {k: v for k, v in state.items() if k != "model.layers.0.mlp.up_proj.weight"}
    path = write_released_checkpoint(source, tmp_path / "missing", missing)
    with pytest.raises(CheckpointError, match=r"llm\.model\.layers\.0\.mlp\.up_proj\.weight"):
        load(path)
    lenient = load(path, strict=False)
    assert lenient.report.missing == ["llm.model.layers.0.mlp.up_proj.weight"]

    extra = dict(state)
    extra["model.mm_resampler.weight"] = torch.zeros(2)
    with caplog.at_level("WARNING"):
        path = write_released_checkpoint(source, tmp_path / "extra", extra)
        m = load(path)
    assert m.report.unexpected == ["model.mm_resampler.weight"]
    assert "model.mm_resampler.weight" in caplog.text

    no_tower = {k: v for k, v in state.items() if not k.startswith("model.vision_tower")}
    with pytest.raises(CheckpointError, match="vision_tower_path"):
        load(write_released_checkpoint(source, tmp_path / "nt", no_tower))
    # ... and with a separate local CLIP folder it loads
    source.vision_tower.save_pretrained(tmp_path / "clip")
    m = load(tmp_path / "nt", vision_tower_path=tmp_path / "clip").model
    ours, theirs = m.vision_tower.state_dict(), source.vision_tower.state_dict()
    assert ours.keys() == theirs.keys() and all(torch.equal(ours[k], theirs[k]) for k in ours)

    corrupt = write_released_checkpoint(source, tmp_path / "corrupt")
    shard = corrupt / "pytorch_model-00001-of-00002.bin"
    shard.write_bytes(shard.read_bytes()[:100])
    with pytest.raises(CheckpointError, match="pytorch_model-00001-of-00002.bin"):
        load(corrupt)

    with pytest.raises(CheckpointError, match="config.json"):
        load(tmp_path / "nowhere")

    (tmp_path / "nt" / "tokenizer.model").unlink()
    with pytest.raises(CheckpointError, match="tokenizer"):
        load(tmp_path / "nt", vision_tower_path=tmp_path / "clip")


def test_typed_config_reads_the_release_and_refuses_what_it_cannot_serve():
    _, vision = tiny_configs(1024)
    released = {"hidden_size": 64, "vocab_size": 1024, "tokenizer_model_max_length": 2048, "mm_hidden_size": 64,
                "mm_vision_tower": "tiny", "mm_projector_type": "mlp2x_gelu"}
    cfg = FlashVStreamConfig.from_released(released, vision)
    # absent Flash-VStream keys take the release's values: 681 tokens at CLIP's grid, q/k width 32
    assert cfg.memory == MemoryConfig() and cfg.memory.full_tokens((16, 16)) == 681
    assert cfg.abstract.hidden_dim == 32 and cfg.projector.output_dim == 64 and cfg.select_layer == -2
    assert cfg.answer.context_tokens == 2048 and cfg.answer.max_new_tokens == 512
    assert cfg.answer.stop_strings == ("</s>",)
    assert cfg.with_memory(temporal_slots=5).memory.temporal_slots == 5
    for key, value in (("mm_use_im_start_end", True), ("mm_projector_type", "linear"),
                       ("mm_use_4_vision_tokens", True), ("compress_Turing_memory_size", 2)):
        with pytest.raises(CheckpointError, match=key):
            FlashVStreamConfig.from_released({**released, key: value}, vision)


# ------------------------------------------- golden: upstream's offline memory
def upstream_offline(features, q=None, k=None, alpha=0.2, K=25, NA=25, n_key=3):
    """Upstream's offline memory (compress_temporal_features: what the model was trained on), written from
    the paper and the upstream algorithm for a clip of T frames of [16, 16, D] CLIP patches.

    Every frame is average-pooled to 8x8 (kernel 2, row-major tokens). The newest frame is S. The other
    L = T - 1 frames, pooled again to 4x4, are the temporal memory (weighted k-means to K centroids, the
    identity with unit weights while L <= K: the only case compared here, k-means starts at random); the
    key frames R are the 8x8 maps of the frames of the n_key heaviest clusters (with unit weights every
    cluster weighs the same: torch's sort picks among ties in an implementation-defined order, on a CPU
    [0, 1, 2] for short clips and [12, 23, 22] for 24 frames; the stable order, earliest first, is used
    here). The abstract memory starts as the first NA frames' 1x1 tokens and is updated once per chunk
    of NA further frames, the last chunk partial: M <- M * (1 - rowsum(a W)) + a W E, W = softmax(q(M)
    k(E)^T / sqrt(h)). Returns (A, T or None, R, S) as [n, D] token blocks."""
    T, gh, gw, D = features.shape
    f8 = F.avg_pool2d(features.permute(0, 3, 1, 2), gh // 8)           # [T, D, 8, 8]
    f8 = f8.flatten(2).transpose(1, 2)                                  # [T, 64, D], row-major
    S, past = f8[-1], f8[:-1]
    L = T - 1
    if L == 0:
        return past.reshape(0, D), past.reshape(0, D), past.reshape(0, D), S
    f4 = F.avg_pool2d(past.transpose(1, 2).reshape(L, D, 8, 8), 2).flatten(2).transpose(1, 2)   # [L, 16, D]
    f1 = past.mean(1)                                                   # [L, D]
    temporal = f4.reshape(-1, D) if L <= K else None
    order = torch.argsort(torch.ones(L), descending=True, stable=True)[:n_key]
    R = past[order].reshape(-1, D)
    M = f1[:NA]
    for i in range(NA, L, NA):
        E = f1[i: i + NA]
        qm, ke = (M, E) if q is None else (q(M), k(E))
        W = alpha * torch.softmax(qm @ ke.T / math.sqrt(qm.shape[-1]), dim=-1)
        M = M * (1 - W.sum(dim=1, keepdim=True)) + W @ E
    return M, temporal, R, S


def blocks(read):
    out = {}
    for g in read.groups:
        out.setdefault(g.kind, []).append(read.group_tokens(g))
    return {kind: torch.cat(ts) for kind, ts in out.items()}


@pytest.fixture(scope="module")
def clip_stream():
    """74 frames of CLIP-sized patch features (16x16, D=1024) and the release's q/k projections' shape."""
    g = torch.Generator().manual_seed(11)
    feats = torch.randn(74, 16, 16, 1024, generator=g) + torch.randn(1, 16, 16, 1024, generator=g)
    torch.manual_seed(12)
    return feats, nn.Linear(1024, 32), nn.Linear(1024, 32)


def star(q, k):
    m = STARMemory(MemoryConfig(), 1024, (16, 16))
    m.set_abstract_projections(q, k)
    return m


@pytest.mark.parametrize("n", [1, 2, 3, 4, 13, 25, 26])
def test_golden_memory_matches_upstreams_offline_computation(clip_stream, n):
    feats, q, k = clip_stream
    m = star(q, k)
    if n % 2:
        m.update(feats[:n], [float(i) for i in range(n)])    # one batch
    else:
        for i in range(n):                                   # frame by frame
            m.update(feats[i], float(i))
    read = m.read()
    with torch.no_grad():
        A, T, R, S = upstream_offline(feats[:n], q, k)
    L = n - 1
    expected = [("abstract", A), ("temporal", T), ("retrieved", R), ("spatial", S)]
    assert read.tokens_by_kind() == {"abstract": L, "temporal": 16 * L, "retrieved": 64 * min(3, L), "spatial": 64}
    assert read.num_tokens == L + 16 * L + 64 * min(3, L) + 64      # 64 for one frame, 681 for 26
    assert [g.kind for g in read.groups][:1] == (["abstract"] if L else ["spatial"])
    ref = torch.cat([t for kind, t in expected if t.shape[0]])
    assert torch.allclose(read.tokens, ref, atol=2e-5), (read.tokens - ref).abs().max()


@pytest.mark.slow   # several seconds: the full tier only
@pytest.mark.parametrize("n", [40, 74])
def test_golden_abstract_memory_blends_the_partial_chunk_as_in_training(clip_stream, n):
    feats, q, k = clip_stream
    m = star(q, k)
    for i in range(n):
        m.update(feats[i], float(i))
    committed = m.state_dict()[0]["abstract"].clone()
    read = m.read()
    got = blocks(read)
    with torch.no_grad():
        A, _, _, S = upstream_offline(feats[:n], q, k)
    assert torch.allclose(got["abstract"], A, atol=2e-5)
    assert torch.allclose(got["spatial"], S)
    assert read.tokens_by_kind() == {"abstract": 25, "temporal": 400, "retrieved": 192, "spatial": 64}
    assert torch.equal(m.state_dict()[0]["abstract"], committed)     # the read blended a copy
    temporal = [g for g in read.groups if g.kind == "temporal"]
    assert sum(g.weight for g in temporal) == n - 1 and max(g.end for g in temporal) == n - 2


# ------------------------------------------------ prompt embeddings, in order
@pytest.mark.slow   # several seconds: the full tier only
def test_prefill_is_the_upstream_prompt_with_projected_memory_in_order(tmp_path):
    """What the LLM receives at prefill: embed(upstream ids before <image>), projector(read.tokens) row
    for row (A | T | R | S), embed(ids after), built here independently of the answerer."""
    source = build_tiny(seed=3).model
    loaded = load(write_released_checkpoint(source, tmp_path / "ckpt"), dtype="float32")
    model = loaded.model
    read = filled_memory(model, n=40).read()
    question = "What did you see?"
    captured = []
    hook = model.llm.register_forward_pre_hook(
        lambda mod, args, kwargs: captured.append(kwargs.get("inputs_embeds")), with_kwargs=True)
    try:
        answerer_of(loaded).answer(read, parse(question), max_new_tokens=1).text()
    finally:
        hook.remove()
    prefill = captured[0][0]
    ids = upstream_ids(tmp_path / "ckpt", question)
    k = ids.index(IMAGE_TOKEN_INDEX)
    emb = model.llm.get_input_embeddings()
    with torch.no_grad():
        visual = model.projector(read.tokens)
        expected = torch.cat([emb(torch.tensor(ids[:k])), visual, emb(torch.tensor(ids[k + 1:]))])
    assert prefill.shape == expected.shape == (len(ids) - 1 + read.num_tokens, 64)
    assert torch.allclose(prefill[k: k + read.num_tokens], visual, atol=1e-6)
    assert torch.allclose(prefill, expected, atol=1e-6)
    spatial = next(g for g in read.groups if g.kind == "spatial")
    assert read.groups[-1] is spatial and spatial.offset == read.num_tokens - spatial.length


# ------------------------------------------------------------- stop rules
def test_stop_rules_are_upstreams_eos_or_the_stop_string():
    tok = build_tiny().tokenizer

    def run(text, stops=("</s>",)):
        ids = tok(text, add_special_tokens=False, split_special_tokens=True).input_ids
        stats = {}
        return "".join(stream_until_stop(tok, iter(ids), stats, 0.0, stops)), stats

    text, stats = run("a red cup</s> and more")
    assert text == "a red cup" and stats["stopped_by"] == "</s>"
    text, stats = run("1 < 2 and 3 </ 4")          # a partial stop string is released at the end
    assert text == "1 < 2 and 3 </ 4" and "stopped_by" not in stats
    assert run("x</s>", ())[0] == "x</s>"


@pytest.mark.slow   # several seconds: the full tier only
def test_default_max_new_tokens_is_upstreams_cli():
    tiny = build_tiny()
    a = answerer_of(tiny)
    assert a.settings.max_new_tokens == 512
    a.settings = dataclasses.replace(a.settings, max_new_tokens=3)
    ans = a.answer(filled_memory(tiny.model, n=3).read(), parse("What did you see?"))
    ans.text()
    assert 0 < ans.stats["tokens"] <= 3


# --------------------------------------------------- several cameras, one prompt
def camera_read(cameras, dim=8, grid=(16, 16), frames_each=30, newest=None):
    """A MultiCameraMemory read of full memories (681 tokens each at this grid)."""
    g = torch.Generator().manual_seed(0)
    mc = MultiCameraMemory(MemoryConfig(), dim, grid)
    newest = newest or {}
    for c in cameras:
        end = newest.get(c, 100.0)
        for i in range(frames_each):
            mc.update(c, torch.randn(*grid, dim, generator=g), end - frames_each + 1 + i)
    return mc.read()


def same_groups(sub: MemoryRead, full: MemoryRead, camera: str) -> bool:
    theirs = [g for g in full.groups if g.camera == camera]
    mine = [g for g in sub.groups if g.camera == camera]
    return len(mine) == len(theirs) and all(
        torch.equal(sub.group_tokens(a), full.group_tokens(b)) for a, b in zip(mine, theirs, strict=True))


@pytest.mark.slow   # several seconds: the full tier only
def test_camera_budget_keeps_named_cameras_else_the_most_recent():
    read = camera_read(["front", "left", "rear"], newest={"front": 50.0, "left": 90.0, "rear": 100.0})
    assert read.num_tokens == 3 * 681
    everything = select_cameras(read, 3 * 681, "What did you see?")
    assert everything.read is read and everything.warning == ""

    recent = select_cameras(read, 1990, "What did you see?")
    assert [c for c in ("front", "left", "rear") if any(g.camera == c for g in recent.read.groups)] == ["left", "rear"]
    assert recent.dropped == ["front"] and "front" in recent.warning and recent.read.num_tokens == 2 * 681
    assert same_groups(recent.read, read, "left") and same_groups(recent.read, read, "rear")
    offsets = [g.offset for g in recent.read.groups]
    assert offsets[0] == 0 and offsets == sorted(offsets)

    named = select_cameras(read, 1990, "Was the door open on the FRONT camera?")
    assert {g.camera for g in named.read.groups} == {"front", "rear"} and named.dropped == ["left"]
    kinds = [g.kind for g in named.read.groups if g.camera == "front"]
    assert kinds == ["abstract"] + ["temporal"] * 25 + ["retrieved"] * 3 + ["spatial"]   # a whole block

    tight = select_cameras(read, 300, "front?")
    assert tight.trimmed == ["front"] and tight.dropped == ["left", "rear"] and tight.read.num_tokens <= 300
    assert [g.kind for g in tight.read.groups][-2:] == ["retrieved", "spatial"]   # the newest part kept
    with pytest.raises(ValueError):
        select_cameras(read, 0, "x")


def test_names_camera_matches_whole_words():
    assert names_camera("what did front_left see", "front_left")
    assert names_camera("anything on the front left camera?", "front_left")
    assert names_camera("and /robot/cam0 ?", "robot/cam0") and names_camera("cam0 please", "robot/cam0")
    assert not names_camera("what did the camera see", "cam")
    assert not names_camera("anything", "")


@pytest.mark.slow   # several seconds: the full tier only
def test_answer_warns_and_cites_only_the_cameras_it_kept():
    tiny = build_tiny()
    model = tiny.model
    enc = model.encoder()
    mc = MultiCameraMemory(model.config.memory, enc.dim, enc.feature_grid, encoder_id=enc.id)
    mc.set_abstract_projections(*model.abstract_projections())
    g = torch.Generator().manual_seed(1)
    for i in range(30):
        for c, shift in (("a", 0.0), ("b", 0.1), ("c", 0.2), ("d", 0.3)):
            mc.update(c, enc.encode(torch.randint(0, 256, (32, 32, 3), dtype=torch.uint8, generator=g)), i + shift)
    read = mc.read()
    assert read.num_tokens == 4 * 489          # four tiny cameras exceed the 2048-token context
    ans = answerer_of(tiny).answer(read, parse("What did you see?"), max_new_tokens=2)
    ans.text()
    assert ans.limitations and "camera(s) a" in ans.limitations and ans.stats["cameras_dropped"] == ["a"]
    assert {e.camera for e in ans.evidence} == {"b", "c", "d"}
    assert ans.stats["prompt_tokens"] <= 2048
    named = answerer_of(tiny).answer(read, parse("What did camera a see?"), max_new_tokens=1)
    named.text()
    assert "a" in {e.camera for e in named.evidence} and named.stats["cameras_dropped"] == ["b"]
