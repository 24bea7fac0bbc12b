#!/usr/bin/env python3
"""Bad Hugging Face checkpoints through the real `vkquant` binary (`convert`, `quantize`, `perplexity`):
each must exit non-zero with an error naming the file/tensor/option, and leave no OUT or OUT.partial.

The checkpoint is written here with the standard library only (a byte-level BPE tokenizer.json of the
256 byte symbols, F32 weights in a hand-written safetensors file), checked to convert and quantize
cleanly, then damaged one way per case.

usage: hf_bad_input_test.py VKQUANT DATA_DIR
"""
import json
import math
import os
import random
import shutil
import struct
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from byte_level import byte_level_tokens  # noqa: E402

DIM, FF, HEADS, KV_HEADS, HEAD_DIM, LAYERS = 32, 64, 2, 1, 16, 1


def write_safetensors(path, tensors, dtype="F32", header_patch=None):
    """tensors: name -> (shape, list of floats). Written as the format lays it out."""
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, (shape, values) in tensors.items():
        size = {"F32": 4, "F64": 8}[dtype]
        blob = struct.pack(f"<{len(values)}{'f' if dtype == 'F32' else 'd'}", *values)
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(values) * size]}
        blobs.append(blob)
        offset += len(blob)
    if header_patch:
        header_patch(header)
    raw = json.dumps(header).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


def weights(vocab, rng):
    def mat(rows, cols):
        return ([rows, cols], [rng.gauss(0, 1 / math.sqrt(cols)) for _ in range(rows * cols)])

    def norm(n):
        return ([n], [1.0 + 0.1 * rng.gauss(0, 1) for _ in range(n)])

    t = {"model.embed_tokens.weight": mat(vocab, DIM), "model.norm.weight": norm(DIM), "lm_head.weight": mat(vocab, DIM)}
    for i in range(LAYERS):
        p = f"model.layers.{i}."
        t.update({p + "input_layernorm.weight": norm(DIM), p + "post_attention_layernorm.weight": norm(DIM),
                  p + "self_attn.q_proj.weight": mat(HEADS * HEAD_DIM, DIM),
                  p + "self_attn.k_proj.weight": mat(KV_HEADS * HEAD_DIM, DIM),
                  p + "self_attn.v_proj.weight": mat(KV_HEADS * HEAD_DIM, DIM),
                  p + "self_attn.o_proj.weight": mat(DIM, HEADS * HEAD_DIM),
                  p + "mlp.gate_proj.weight": mat(FF, DIM), p + "mlp.up_proj.weight": mat(FF, DIM),
                  p + "mlp.down_proj.weight": mat(DIM, FF)})
    return t


def write_checkpoint(folder):
    os.makedirs(folder)
    symbols = byte_level_tokens() + ["\u0120t"]  # one merge: "Ġ t" (space, t)
    vocab = len(symbols) + 1
    tok = {"version": "1.0", "added_tokens": [{"id": 257, "content": "<|endoftext|>", "special": True,
                                               "single_word": False, "lstrip": False, "rstrip": False,
                                               "normalized": False}],
           "normalizer": None, "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True,
                                                 "use_regex": True},
           "post_processor": {"type": "ByteLevel", "add_prefix_space": True, "trim_offsets": False, "use_regex": True},
           "decoder": {"type": "ByteLevel"},
           "model": {"type": "BPE", "vocab": {s: i for i, s in enumerate(symbols)}, "merges": ["\u0120 t"]}}
    with open(os.path.join(folder, "tokenizer.json"), "w", encoding="utf-8") as f:
        json.dump(tok, f, ensure_ascii=False)
    with open(os.path.join(folder, "tokenizer_config.json"), "w") as f:
        json.dump({"eos_token": "<|endoftext|>", "bos_token": "<|endoftext|>", "add_bos_token": True}, f)
    config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": DIM,
              "intermediate_size": FF, "num_hidden_layers": LAYERS, "num_attention_heads": HEADS,
              "num_key_value_heads": KV_HEADS, "head_dim": HEAD_DIM, "vocab_size": vocab,
              "max_position_embeddings": 128, "rms_norm_eps": 1e-5, "rope_theta": 10000.0,
              "tie_word_embeddings": False}
    with open(os.path.join(folder, "config.json"), "w") as f:
        json.dump(config, f)
    write_safetensors(os.path.join(folder, "model.safetensors"), weights(vocab, random.Random(7)))


def main():
    vkq, data = sys.argv[1], sys.argv[2]
    text = os.path.join(data, "tinystories-valid", "tinystories_val.txt")
    work = tempfile.mkdtemp(prefix="vkq-hf-bad-")
    failures = 0
    try:
        good = os.path.join(work, "good")
        write_checkpoint(good)
        calib = os.path.join(work, "calib.txt")
        with open(text, "rb") as f, open(calib, "wb") as g:
            g.write(f.read(20000))
        out = os.path.join(work, "out.gguf")

        def run(args):
            return subprocess.run([vkq, *args], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)

        def commands(model):
            return {"convert": ["convert", model, "-o", out],
                    "quantize": ["quantize", model, "--calib", calib, "--calib-seqs", "2", "--calib-len", "32",
                                 "-t", "Q8_0", "-o", out, "-q"],
                    "perplexity": ["perplexity", model, "--text", calib, "--ctx", "32", "--chunks", "2"]}

        # The undamaged checkpoint works through every command (else the cases below prove nothing).
        for name, args in commands(good).items():
            p = run(args)
            if p.returncode != 0:
                print(f"FAIL the good checkpoint: {name} exited {p.returncode}\n{p.stdout[-2000:]}")
                return 1
            for f in (out, out + ".json"):
                if os.path.exists(f):
                    os.remove(f)
        print("ok   the undamaged checkpoint converts, quantizes and is scored")

        # convert --json: progress events, then one result with the documented fields (docs/json-events.md).
        p = run(["convert", good, "-o", out, "--json"])
        lines = [json.loads(line) for line in p.stdout.splitlines() if line.startswith("{")]
        result = lines[-1] if lines else {}
        want = {"event": str, "schema": int, "output": str, "architecture": str, "tensors": int, "bytes": int,
                "seconds": (int, float)}
        bad = [k for k, t in want.items() if not isinstance(result.get(k), t)]
        stages = {e.get("stage") for e in lines[:-1]}
        if p.returncode != 0 or result.get("event") != "result" or bad or result.get("architecture") != "llama" \
                or result.get("tensors") != 12 or not {"write", "done"} <= stages:
            failures += 1
            print(f"FAIL convert --json: exit {p.returncode}, missing/mistyped {bad}, stages {stages}\n{p.stdout[-1500:]}")
        else:
            print(f"ok   convert --json: {len(lines) - 1} progress events, result {result}")
        os.remove(out)

        def case(name, pattern, damage, which=("convert", "quantize", "perplexity")):
            nonlocal failures
            folder = os.path.join(work, name)
            shutil.copytree(good, folder)
            model = damage(folder) or folder
            for cmd in which:
                for f in (out, out + ".partial", out + ".json"):
                    if os.path.exists(f):
                        os.remove(f)
                p = run(commands(model)[cmd])
                lines = [line for line in p.stdout.splitlines() if "error" in line.lower() and pattern in line]
                problems = []
                if p.returncode == 0:
                    problems.append("exited 0")
                if p.returncode >= 128:
                    problems.append(f"crashed (exit {p.returncode})")
                if not lines:
                    problems.append(f"no error line names {pattern!r}")
                problems += [f"left {os.path.basename(f)}" for f in (out, out + ".partial", out + ".json")
                             if os.path.exists(f)]
                if problems:
                    failures += 1
                    print(f"FAIL {name} ({cmd}): {'; '.join(problems)}\n    | " + "\n    | ".join(p.stdout.splitlines()[-8:]))
                else:
                    print(f"ok   {name} ({cmd}, exit {p.returncode}): {lines[0]}")

        st = "model.safetensors"

        def truncate(folder):
            path = os.path.join(folder, st)
            size = os.path.getsize(path)
            with open(path, "r+b") as f:
                f.truncate(size - 1000)

        def rewrite(patch, dtype="F32"):
            def damage(folder):
                symbols = len(byte_level_tokens()) + 2
                write_safetensors(os.path.join(folder, st), weights(symbols, random.Random(7)), dtype, patch)
            return damage

        def lie_about_offsets(header):
            h = header["model.layers.0.mlp.up_proj.weight"]
            h["data_offsets"] = [h["data_offsets"][0] + 4, h["data_offsets"][1] + 4]

        def wrong_size(header):
            h = header["model.layers.0.self_attn.k_proj.weight"]
            h["data_offsets"] = [h["data_offsets"][0], h["data_offsets"][1] - 4]

        def overlap(header):
            a, b = header["model.norm.weight"], header["lm_head.weight"]
            b["data_offsets"] = [a["data_offsets"][0], a["data_offsets"][0] + b["data_offsets"][1] - b["data_offsets"][0]]

        def missing_shard(folder):
            os.rename(os.path.join(folder, st), os.path.join(folder, "model-00001-of-00002.safetensors"))
            with open(os.path.join(folder, "model.safetensors.index.json"), "w") as f:
                json.dump({"metadata": {}, "weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors",
                                                          "lm_head.weight": "model-00002-of-00002.safetensors"}}, f)

        def set_config(key, value):
            def damage(folder):
                path = os.path.join(folder, "config.json")
                with open(path) as f:
                    c = json.load(f)
                c[key] = value
                with open(path, "w") as f:
                    json.dump(c, f)
            return damage

        def nan_weight(folder):
            symbols = len(byte_level_tokens()) + 2
            t = weights(symbols, random.Random(7))
            t["model.layers.0.self_attn.v_proj.weight"][1][5] = float("nan")
            write_safetensors(os.path.join(folder, st), t)

        def header_not_json(folder):
            path = os.path.join(folder, st)
            with open(path, "r+b") as f:
                f.seek(8)
                f.write(b"[not json")

        case("truncated-shard", "model.safetensors", truncate)
        case("header-lies-about-offsets", "model.layers.0.mlp.up_proj.weight", rewrite(lie_about_offsets))
        case("offsets-disagree-with-shape", "model.layers.0.self_attn.k_proj.weight", rewrite(wrong_size))
        case("overlapping-tensors", "overlap", rewrite(overlap))
        case("header-not-json", "model.safetensors", header_not_json)
        case("missing-shard", "model-00002-of-00002.safetensors", missing_shard)
        case("unknown-architecture", "FooForCausalLM", set_config("architectures", ["FooForCausalLM"]))
        case("unreadable-dtype", "F64", rewrite(None, "F64"))
        case("config-value-of-wrong-type", "unexpected type", set_config("num_attention_heads", "four"))
        case("nan-weight", "blk.0.attn_v.weight", nan_weight, which=("quantize", "perplexity"))
        case("no-config", "config.json", lambda folder: os.remove(os.path.join(folder, "config.json")))
        case("bare-safetensors-file", "safetensors", lambda folder: os.path.join(folder, st),
             which=("quantize", "perplexity"))
        case("no-tokenizer", "tokenizer", lambda folder: os.remove(os.path.join(folder, "tokenizer.json")))

        # An existing output is never overwritten without --force: it keeps its bytes, and no .partial is left.
        with open(out, "w") as f:
            f.write("the user's file")
        p = run(commands(good)["convert"])
        with open(out) as f:
            kept = f.read() == "the user's file"
        if p.returncode == 0 or not kept or "--force" not in p.stdout or os.path.exists(out + ".partial"):
            failures += 1
            print(f"FAIL output-exists (convert): exit {p.returncode}, file kept {kept}\n{p.stdout[-1000:]}")
        else:
            print(f"ok   output-exists (convert, exit {p.returncode}): {p.stdout.strip().splitlines()[-1]}")
        os.remove(out)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print("PASSED" if failures == 0 else f"FAILED: {failures} case(s)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
