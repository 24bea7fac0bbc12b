#!/usr/bin/env python3
"""Writes a small Hugging Face checkpoint of one architecture, as a downloaded model folder looks:
config.json, generation_config.json, tokenizer.json + tokenizer_config.json (and tokenizer.model for
SentencePiece models), and random weights in model.safetensors or in shards with their index.

The BPE tokenizers are trained here with the PyPI `tokenizers` package on real text, with the
pre-tokenizer regex of the model family they stand for; the SentencePiece ones use LLaMA-2's
tokenizer.model from shared/data. Weights come from a seeded generator, so every run is the same.
"""
import argparse
import json
import os
import shutil

import numpy as np
from safetensors.numpy import save_file

# Pre-tokenizer regexes as the families' tokenizer.json files spell them.
LLAMA3_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
                r"\s*[\r\n]+|\s+(?!\S)|\s+")
QWEN2_REGEX = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|"
               r"\s*[\r\n]+|\s+(?!\S)|\s+")

# Per architecture: HF class, tokenizer kind, and what its config adds.
ARCHS = {
    "llama": dict(cls="LlamaForCausalLM", model_type="llama", tok="llama-bpe"),
    "mistral": dict(cls="MistralForCausalLM", model_type="mistral", tok="spm"),
    "qwen2": dict(cls="Qwen2ForCausalLM", model_type="qwen2", tok="qwen2"),
    "qwen3": dict(cls="Qwen3ForCausalLM", model_type="qwen3", tok="qwen2"),
    "gemma3": dict(cls="Gemma3ForCausalLM", model_type="gemma3_text", tok="spm"),
    "phi3": dict(cls="Phi3ForCausalLM", model_type="phi3", tok="spm"),
}

# Phi-3's chat tokens, added after LLaMA-2's 32000 pieces (config vocab_size 32064, the rest padding).
PHI3_ADDED = {32000: ("<|endoftext|>", True), 32001: ("<|assistant|>", True), 32005: ("<|placeholder4|>", False),
              32007: ("<|end|>", True), 32010: ("<|user|>", True)}


def train_bpe(text_path, kind, vocab_size):
    from tokenizers import Regex, Tokenizer, decoders, models, pre_tokenizers, processors, trainers
    with open(text_path, encoding="utf-8") as f:
        lines = [line for line in f.read().splitlines() if line.strip()][:4000]
    regex = LLAMA3_REGEX if kind == "llama-bpe" else QWEN2_REGEX
    specials = (["<|begin_of_text|>", "<|end_of_text|>"] if kind == "llama-bpe"
                else ["<|endoftext|>", "<|im_start|>", "<|im_end|>"])
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence([
        pre_tokenizers.Split(Regex(regex), behavior="isolated", invert=False),
        pre_tokenizers.ByteLevel(add_prefix_space=False, trim_offsets=True, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, show_progress=False,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet())
    tok.train_from_iterator(lines, trainer)
    # Special tokens after the trained vocabulary, as in the real families.
    tok.add_special_tokens(specials)
    # Added tokens that are not special: one llama.cpp keeps as user-defined, one it marks as control
    # because it looks special.
    from tokenizers import AddedToken
    tok.add_tokens([AddedToken("<tool_call>", special=False), AddedToken("<|fim_prefix|>", special=False)])
    if kind == "llama-bpe":
        bos = specials[0]
        tok.post_processor = processors.Sequence([
            processors.ByteLevel(trim_offsets=False),
            processors.TemplateProcessing(single=f"{bos} $A", pair=f"{bos} $A {bos} $B:1",
                                          special_tokens=[(bos, tok.token_to_id(bos))])])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok, specials


def tokenizer_files(out, kind, text_path, spm_model, phi3=False):
    """Writes the tokenizer files; returns (vocab size, config additions)."""
    if kind == "spm":
        shutil.copyfile(spm_model, os.path.join(out, "tokenizer.model"))
        from sentencepiece import SentencePieceProcessor
        sp = SentencePieceProcessor(model_file=spm_model)
        n = sp.vocab_size()
        config = {"add_bos_token": True, "add_eos_token": False, "bos_token": "<s>", "eos_token": "</s>",
                  "unk_token": "<unk>", "model_max_length": 256, "tokenizer_class": "LlamaTokenizer",
                  "added_tokens_decoder": {str(i): {"content": c, "special": s, "normalized": False, "lstrip": False,
                                                    "rstrip": False, "single_word": False}
                                           for i, (c, s) in PHI3_ADDED.items()} if phi3 else {},
                  "chat_template": "{% for m in messages %}[{{ m['role'] }}] {{ m['content'] }}\n{% endfor %}"}
        with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
            json.dump(config, f, indent=2)
        return (32064 if phi3 else n), dict(bos_token_id=1, eos_token_id=32000 if phi3 else 2)
    tok, specials = train_bpe(text_path, kind, 700)
    tok.save(os.path.join(out, "tokenizer.json"))
    # Every added token in tokenizer_config.json too, as transformers' save_pretrained writes it.
    with open(os.path.join(out, "tokenizer.json"), encoding="utf-8") as f:
        added = {str(a["id"]): {k: v for k, v in a.items() if k != "id"} for a in json.load(f)["added_tokens"]}
    config = {"added_tokens_decoder": added, "model_max_length": 256,
              "tokenizer_class": "PreTrainedTokenizerFast", "clean_up_tokenization_spaces": False}
    if kind == "llama-bpe":
        config.update(bos_token=specials[0], eos_token=specials[1], add_bos_token=True)
        ids = dict(bos_token_id=tok.token_to_id(specials[0]), eos_token_id=tok.token_to_id(specials[1]))
    else:
        config.update(bos_token=None, eos_token=specials[2], pad_token=specials[0], add_bos_token=False)
        # The chat template in its own file, as recent checkpoints ship it.
        with open(os.path.join(out, "chat_template.jinja"), "w") as f:
            f.write("{% for m in messages %}<|im_start|>{{ m['role'] }}\n{{ m['content'] }}<|im_end|>\n{% endfor %}")
        ids = dict(bos_token_id=tok.token_to_id(specials[0]), eos_token_id=tok.token_to_id(specials[2]))
    with open(os.path.join(out, "tokenizer_config.json"), "w") as f:
        json.dump(config, f, indent=2)
    return tok.get_vocab_size(), ids


def bf16_round(a):
    """float32 values rounded to the nearest bfloat16 (ties to even), kept as float32."""
    u = a.astype(np.float32).view(np.uint32)
    u = ((u + 0x7FFF + ((u >> 16) & 1)) & 0xFFFF0000).astype(np.uint32)
    return u.view(np.float32)


def to_dtype(a, dtype):
    if dtype == "f32":
        return a.astype(np.float32)
    if dtype == "f16":
        return a.astype(np.float16)
    # numpy has no bfloat16: torch holds it for the safetensors writer.
    import torch
    return torch.from_numpy(a.astype(np.float32)).to(torch.bfloat16)


def weights(arch, cfg, rng):
    d, ff, L, V = cfg["hidden_size"], cfg["intermediate_size"], cfg["num_hidden_layers"], cfg["vocab_size"]
    hd = cfg["head_dim"]
    nq, nkv = cfg["num_attention_heads"], cfg["num_key_value_heads"]
    t = {}

    def mat(rows, cols, scale=None):
        return rng.standard_normal((rows, cols)).astype(np.float32) * np.float32(scale or cols ** -0.5)

    def norm(n):
        # gemma stores w - 1 (the forward multiplies by 1 + w)
        base = 0.0 if arch == "gemma3" else 1.0
        return (base + 0.3 * rng.standard_normal(n)).astype(np.float32)

    t["model.embed_tokens.weight"] = mat(V, d, 0.5)
    for i in range(L):
        p = f"model.layers.{i}."
        t[p + "input_layernorm.weight"] = norm(d)
        if arch == "phi3":  # fused as Phi-3 stores them: q | k | v, and gate | up
            t[p + "self_attn.qkv_proj.weight"] = mat((nq + 2 * nkv) * hd, d)
        else:
            t[p + "self_attn.q_proj.weight"] = mat(nq * hd, d)
            t[p + "self_attn.k_proj.weight"] = mat(nkv * hd, d)
            t[p + "self_attn.v_proj.weight"] = mat(nkv * hd, d)
        t[p + "self_attn.o_proj.weight"] = mat(d, nq * hd)
        if arch == "qwen2":
            for x, n in (("q", nq), ("k", nkv), ("v", nkv)):
                t[p + f"self_attn.{x}_proj.bias"] = (0.2 * rng.standard_normal(n * hd)).astype(np.float32)
        if arch in ("qwen3", "gemma3"):
            t[p + "self_attn.q_norm.weight"] = norm(hd)
            t[p + "self_attn.k_norm.weight"] = norm(hd)
        t[p + "post_attention_layernorm.weight"] = norm(d)
        if arch == "gemma3":
            t[p + "pre_feedforward_layernorm.weight"] = norm(d)
            t[p + "post_feedforward_layernorm.weight"] = norm(d)
        if arch == "phi3":
            t[p + "mlp.gate_up_proj.weight"] = mat(2 * ff, d)
        else:
            t[p + "mlp.gate_proj.weight"] = mat(ff, d)
            t[p + "mlp.up_proj.weight"] = mat(ff, d)
        t[p + "mlp.down_proj.weight"] = mat(d, ff)
    t["model.norm.weight"] = norm(d)
    if not cfg["tie_word_embeddings"]:
        t["lm_head.weight"] = mat(V, d)
    return t


def config_for(arch, n_vocab, ids):
    info = ARCHS[arch]
    cfg = {"architectures": [info["cls"]], "model_type": info["model_type"], "hidden_size": 64,
           "intermediate_size": 160, "num_hidden_layers": 2, "num_attention_heads": 4, "num_key_value_heads": 2,
           "head_dim": 16, "vocab_size": n_vocab, "max_position_embeddings": 256, "rms_norm_eps": 1e-5,
           "rope_theta": 10000.0, "tie_word_embeddings": arch in ("qwen2", "gemma3"), "hidden_act": "silu",
           "torch_dtype": "bfloat16", "transformers_version": "4.51.0", **ids}
    if arch == "llama":
        cfg.update(rope_theta=500000.0, rope_scaling={"rope_type": "llama3", "factor": 8.0, "low_freq_factor": 1.0,
                                                      "high_freq_factor": 4.0,
                                                      "original_max_position_embeddings": 64})
    if arch == "mistral":
        cfg.update(sliding_window=None)
    if arch == "phi3":
        cfg.update(original_max_position_embeddings=256, rope_scaling=None, sliding_window=2047,
                   pad_token_id=32000, resid_pdrop=0.0, attention_bias=False)
    if arch == "qwen2":
        cfg.update(rope_theta=1000000.0, rms_norm_eps=1e-6, use_sliding_window=False, sliding_window=256)
    if arch == "gemma3":
        cfg.update(hidden_act="gelu_pytorch_tanh", hidden_activation="gelu_pytorch_tanh", rms_norm_eps=1e-6,
                   query_pre_attn_scalar=16, sliding_window=32, rope_local_base_freq=10000.0,
                   rope_theta=1000000.0, num_hidden_layers=3, final_logit_softcapping=None,
                   attn_logit_softcapping=None, layer_types=["sliding_attention", "sliding_attention",
                                                             "full_attention"], rope_scaling=None)
    return cfg


def main():
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("arch", choices=sorted(ARCHS))
    ap.add_argument("out")
    ap.add_argument("--data", required=True, help="shared/data")
    ap.add_argument("--dtype", choices=["bf16", "f16", "f32"], default="bf16")
    ap.add_argument("--shards", type=int, default=1)
    ap.add_argument("--seed", type=int, default=7)
    args = ap.parse_args()

    os.makedirs(args.out, exist_ok=True)
    kind = ARCHS[args.arch]["tok"]
    n_vocab, ids = tokenizer_files(args.out, kind, os.path.join(args.data, "tinystories-valid/tinystories_val.txt"),
                                   os.path.join(args.data, "llama2-tokenizer/tokenizer.model"), args.arch == "phi3")
    cfg = config_for(args.arch, n_vocab, ids)
    cfg["torch_dtype"] = {"bf16": "bfloat16", "f16": "float16", "f32": "float32"}[args.dtype]
    with open(os.path.join(args.out, "config.json"), "w") as f:
        json.dump(cfg, f, indent=2)
    with open(os.path.join(args.out, "generation_config.json"), "w") as f:
        json.dump({"bos_token_id": ids["bos_token_id"], "eos_token_id": ids["eos_token_id"]}, f, indent=2)

    tensors = weights(args.arch, cfg, np.random.default_rng(args.seed))
    names = list(tensors)
    shards = [names[i::args.shards] for i in range(args.shards)]
    index = {"metadata": {"total_size": 0}, "weight_map": {}}
    for k, part in enumerate(shards):
        fname = "model.safetensors" if args.shards == 1 else f"model-{k + 1:05d}-of-{args.shards:05d}.safetensors"
        data = {n: to_dtype(tensors[n], args.dtype) for n in part}
        path = os.path.join(args.out, fname)
        if args.dtype == "bf16":
            from safetensors.torch import save_file as save_torch
            save_torch(data, path, metadata={"format": "pt"})
        else:
            save_file(data, path, metadata={"format": "pt"})
        for n in part:
            index["weight_map"][n] = fname
            index["metadata"]["total_size"] += int(np.prod(tensors[n].shape)) * (4 if args.dtype == "f32" else 2)
    if args.shards > 1:
        with open(os.path.join(args.out, "model.safetensors.index.json"), "w") as f:
            json.dump(index, f, indent=2)


if __name__ == "__main__":
    main()
