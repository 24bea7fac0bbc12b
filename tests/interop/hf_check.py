#!/usr/bin/env python3
"""Hugging Face checkpoints in (ctest label `interop`): for one architecture,

  hf_check.py ARCH --vkquant BIN --llama-src DIR --llama-bin DIR --data DIR --work DIR

1. writes a small checkpoint (hf_checkpoint.py: random weights through the PyPI `safetensors` package,
   a BPE tokenizer trained with the PyPI `tokenizers` package or LLaMA-2's SentencePiece model);
2. converts it with llama.cpp's convert_hf_to_gguf.py (the vendored copy, hf_oracle.py) and with
   `vkquant convert`: the same tensors bit for bit (names, types, shapes, bytes) and the same metadata keys
   and values, except the ones listed in INTENDED_DIFFERENCES (docs/huggingface.md says why);
3. llama-tokenize gives the same ids on both files for a sample text, and `vkquant perplexity` of the
   folder itself agrees with llama-perplexity of llama.cpp's conversion;
4. `vkquant quantize FOLDER` writes the same bytes as `vkquant quantize` of the converted GGUF.

Run it with a Python that has torch, safetensors, tokenizers, sentencepiece and transformers (the
python.hf_oracle fixture's venv); GGUF files are read with the vendored gguf-py, not with vkquant.
"""
import argparse
import filecmp
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import interop_check as ic  # noqa: E402  (run, eval_text, llama_ppl, vkquant_ppl, compare)

# Written from the folder's name and a parameter count by llama.cpp's model-card heuristics; vkquant
# writes general.name = the folder's name and nothing else of these.
INTENDED_DIFFERENCES = {"general.name", "general.size_label", "general.basename", "general.finetune",
                        "general.version", "general.organization", "general.quantized_by"}

# Per architecture: checkpoint dtype, shard count, the oracle's pre-tokenizer name (None: SentencePiece).
CASES = {
    "llama": ("bf16", 1, "llama-bpe"),
    "mistral": ("f16", 1, None),
    "qwen2": ("bf16", 3, "qwen2"),
    "qwen3": ("f32", 1, "qwen2"),
    "gemma3": ("bf16", 2, None),
    "gemma3-f16": ("f16", 1, None),  # Gemma's norm + 1 is added in F16 for an F16 checkpoint
    "phi3": ("bf16", 2, None),        # fused qkv and gate|up; its own rules for added tokens
}

SAMPLE = "<tool_call>Once upon a time, Lily's cat said: \"Hello, world!\" 12345 times.\n  Tabs\tand   spaces — ünïcödé 🦙."


def read_gguf(path, llama_src):
    sys.path.insert(0, os.path.join(llama_src, "gguf-py"))
    import gguf
    r = gguf.GGUFReader(path)
    meta = {}
    for name, field in r.fields.items():
        if name.startswith("GGUF."):
            continue
        if field.types[0] == gguf.GGUFValueType.ARRAY:
            meta[name] = (field.types, [field.contents(i) for i in range(len(field.data))])
        else:
            meta[name] = (field.types, field.contents())
    tensors = {t.name: (t.tensor_type.name, [int(x) for x in t.shape], bytes(t.data.tobytes())) for t in r.tensors}
    return meta, tensors


def compare_files(ours_path, theirs_path, llama_src):
    ok = True
    ours, ours_t = read_gguf(ours_path, llama_src)
    theirs, theirs_t = read_gguf(theirs_path, llama_src)
    keys = (set(ours) | set(theirs)) - INTENDED_DIFFERENCES
    for k in sorted(keys):
        if k not in ours or k not in theirs:
            print(f"metadata {k}: only in {'vkquant' if k in ours else 'llama.cpp'}'s file  FAILED")
            ok = False
        elif ours[k] != theirs[k]:
            a, b = repr(ours[k][1])[:200], repr(theirs[k][1])[:200]
            print(f"metadata {k}: vkquant {ours[k][0]} {a} != llama.cpp {theirs[k][0]} {b}  FAILED")
            ok = False
    print(f"metadata: {len(keys)} keys compared, {'equal' if ok else 'DIFFERENT'}"
          f" (not compared: {sorted((set(ours) | set(theirs)) & INTENDED_DIFFERENCES)})")
    if set(ours_t) != set(theirs_t):
        print(f"tensors only in vkquant's: {sorted(set(ours_t) - set(theirs_t))}; only in llama.cpp's: "
              f"{sorted(set(theirs_t) - set(ours_t))}  FAILED")
        return False
    bad = [n for n in sorted(ours_t) if ours_t[n] != theirs_t[n]]
    for n in bad[:10]:
        o, t = ours_t[n], theirs_t[n]
        print(f"tensor {n}: vkquant {o[0]} {o[1]} vs llama.cpp {t[0]} {t[1]}, bytes {'equal' if o[2] == t[2] else 'differ'}"
              "  FAILED")
    print(f"tensors: {len(ours_t)} compared, {len(ours_t) - len(bad)} identical in type, shape and bytes")
    return ok and not bad


def tokenize(args, model, text_file):
    exe = os.path.join(args.llama_bin, "llama-tokenize")
    out = ic.run([exe, "-m", model, "-f", text_file, "--ids", "--log-disable"])
    return [line for line in out.splitlines() if line.startswith("[")][-1]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("arch", choices=sorted(CASES))
    for opt in ("--vkquant", "--llama-src", "--llama-bin", "--data", "--work"):
        ap.add_argument(opt, required=True)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    dtype, shards, pre = CASES[args.arch]
    folder = os.path.join(args.work, f"hf-{args.arch}")
    ic.run([sys.executable, os.path.join(HERE, "hf_checkpoint.py"), args.arch.split("-")[0], folder, "--data", args.data,
            "--dtype", dtype, "--shards", str(shards)])

    theirs = os.path.join(args.work, "llama-cpp-convert.gguf")
    oracle = [sys.executable, os.path.join(HERE, "hf_oracle.py"), args.llama_src, folder, theirs, "auto"]
    ic.run(oracle + (["--pre", pre] if pre else []))
    ours = os.path.join(args.work, "vkquant-convert.gguf")
    ic.run([args.vkquant, "convert", folder, "-o", ours, "--force"])
    ok = compare_files(ours, theirs, args.llama_src)

    sample = os.path.join(args.work, "sample.txt")
    with open(sample, "w", encoding="utf-8") as f:
        f.write(SAMPLE)
    ids_ours, ids_theirs = tokenize(args, ours, sample), tokenize(args, theirs, sample)
    same = ids_ours == ids_theirs
    print(f"llama-tokenize ids: {'equal' if same else 'DIFFERENT'} ({ids_ours[:120]})")
    ok &= same

    text = ic.eval_text(args.data, args.work)
    ok &= ic.compare(f"{args.arch} checkpoint folder", ic.vkquant_ppl(args, folder, text),
                     ic.llama_ppl(args, theirs, text), ic.TOL_QUANT if dtype != "f32" else ic.TOL_FLOAT)

    # The folder quantizes to the same bytes as its conversion (kept in the stored type, so nothing is rounded).
    stored = {"bf16": "BF16", "f16": "F16", "f32": "F32"}[dtype]
    converted = os.path.join(args.work, f"vkquant-convert-{stored}.gguf")
    ic.run([args.vkquant, "convert", folder, "-o", converted, "-t", stored, "--force"])
    calib = os.path.join(args.data, "tinystories-valid", "tinystories_val.txt")
    outs = []
    for src in (folder, converted):
        out = os.path.join(args.work, f"q4_0-from-{'folder' if src == folder else 'gguf'}.gguf")
        ic.run([args.vkquant, "quantize", src, "--calib", calib, "--calib-range", "0.5:1", "--calib-seqs", "4",
                "--calib-len", "64", "-t", "Q4_0", "-o", out, "--force", "--quiet"])
        outs.append(out)
    same_q = filecmp.cmp(outs[0], outs[1], shallow=False)
    print(f"vkquant quantize of the folder and of its conversion: {'identical' if same_q else 'DIFFERENT'} files")
    ok &= same_q
    print("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
