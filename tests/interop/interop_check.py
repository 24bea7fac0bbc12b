#!/usr/bin/env python3
"""llama.cpp as the judge of vkquant's files (ctest label `interop`).

  interop_check.py fp32  --vkquant BIN --llama-bin DIR --data DIR --work DIR
      our forward pass on the FP32 stories260K agrees with llama-perplexity.
  interop_check.py arch ARCH  (same options)
      a small synthetic model of ARCH (qwen2, qwen3, llama3 = llama with rope_freqs, gemma3), written with the PyPI `gguf` writer: our forward agrees
      with llama-perplexity on it (and moves when the architecture's own feature is neutralised, so it is used); vkquant quantizes it to
      Q4_0 and llama-perplexity scores that file as `vkquant perplexity` does.
  interop_check.py imatrix  (same options)
      `vkquant quantize --imatrix-out` writes llama.cpp's imatrix format: block 0's entries equal llama-imatrix's on
      the same chunks, and llama-quantize --imatrix loads every entry and makes a sound Q4_0.
  interop_check.py kquant MIX  (same options)
      a K mixture (Q4_K_M, Q3_K_M, …) of a synthetic llama model whose rows fit 256-column super-blocks: llama.cpp
      loads and scores the file as we do (exactly once gguf-py has decoded it to F32; within ggml's Q8_K
      activation rounding through its K kernels), and chooses the same type per tensor for that mixture.
  interop_check.py type TYPE  (same options)
      vkquant quantizes stories260K to TYPE; llama-perplexity loads the file and its perplexity agrees with
      `vkquant perplexity --protocol llama` on the same file, text and context; the run's in-memory evaluation
      of the values it meant to write equals llama-perplexity of the written file;
      and llama-quantize, given the same type and our head substitution, chooses the same type per tensor.

Exit 0 on success, 1 on a failed check. A missing tool is a failure (the ctest fixture that builds the tools
ran first; its failure makes this test "not run", which ctest counts as failed).
Tensor types are read with the PyPI `gguf` package (the independent reader), so run it with that venv.
"""
import argparse
import json
import os
import re
import subprocess
import sys

CTX = 128          # window: stories260K was trained at 512; 128 keeps each run to seconds on 2 cores
CHUNKS = 24        # 24 x 64 scored tokens = 1536 predictions
EXTRA_CHUNKS = 3   # llama-perplexity runs past CHUNKS so that lines its logger loses at exit are not the ones read
EVAL_BYTES = 60000  # the first ~60 KB of tinystories_val (calibration uses the second half of the file)

# Largest perplexity ratio (file / FP32) accepted per type: about 3x the damage measured with 8x128
# calibration tokens (Q4_0 1.045, Q4_1 1.051, Q5_x ~1.01, Q8_0 1.001, floats 1.000).
MAX_RATIO = {"F32": 1.001, "F16": 1.001, "BF16": 1.005, "Q8_0": 1.01, "Q5_0": 1.05, "Q5_1": 1.05,
             "Q4_0": 1.15, "Q4_1": 1.15}

# Relative tolerance on perplexity (see tolerance() for why each value).
TOL_FLOAT = 2e-4
TOL_QUANT = 2e-3
# K types: ggml quantizes the activations to Q8_K (one scale per 256 values) for their dot products, coarser
# than Q8_0's per-32 scales. On the synthetic 256-wide model (perplexity ~460) this moves llama-perplexity by
# up to 6.2e-3 (IQ4_XS; llama-quantize's own IQ4_XS file moves by 5.3e-3 against its F32-decoded copy), bound
# 1e-2. The exact check of a K file is the F32-decoded copy below, scored within TOL_FLOAT.
TOL_K = 1e-2
# Mixture-of-experts files: the router picks each token's experts by a strict top-k, so ggml's activation rounding
# (above) can swap a near-tied expert for another and move a token's loss by a step, not by ~1e-4: the synthetic
# qwen3moe Q4_0 file measured 4.6e-4 over these chunks and 3.1e-3 over 4 (mixtral 5e-5, 1.2e-3), bound 1e-2. Their
# exact check is the F32-decoded copy, within TOL_FLOAT.
TOL_MOE = 1e-2


def tolerance(ggml_type: str) -> float:
    # F32 weights: llama.cpp multiplies in fp32 with an fp32 KV cache (-ctk/-ctv f32), as we do; only the
    # order of additions differs (~1e-6), plus the 4 decimals llama-perplexity prints (1.6e-5 at ppl 6).
    # F16 weights: ggml's CPU matmul rounds the activations to fp16 before the dot product (vec_dot_type),
    # which we do not; measured 2e-5 relative on this model, bound 2e-4.
    # BF16 and block types: ggml rounds the activations to bf16 (8 significant bits) or Q8_0/Q8_1 (8-bit,
    # one scale per 32) for the dot product; measured 1e-4 .. 7e-4 relative on this model (Q8_0 the most,
    # docs/interop.md), bound 2e-3. A packer or layout error moves perplexity by far more (MAX_RATIO).
    return TOL_FLOAT if ggml_type in ("F32", "F16") else TOL_QUANT


def run(cmd, **kw):
    print("$ " + " ".join(cmd), flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, **kw)
    if p.returncode != 0:
        print(p.stdout[-6000:])
        raise SystemExit(f"FAILED: exit {p.returncode}: {' '.join(cmd)}")
    return p.stdout


def llama_final_ppl(out: str, chunks: int = CHUNKS):
    """llama-perplexity's perplexity over its first `chunks` chunks from its output, or None: the running value
    it prints after chunk `chunks` ("[N]ppl,"), which is the final estimate of a run of exactly that many chunks.
    Its logger is asynchronous and may lose the last lines at exit (llama.cpp issue 22142; under load it lost
    them in three runs in a row), so llama_ppl asks for EXTRA_CHUNKS more than it reads."""
    running = dict(re.findall(r"\[(\d+)\]([0-9.]+),", out))
    if str(chunks) in running:
        return float(running[str(chunks)])
    # A text with fewer chunks: the value after the last one it announced, or its final estimate.
    n = re.search(r"calculating perplexity over (\d+) chunks", out)
    if n and int(n.group(1)) < chunks:
        if n.group(1) in running:
            return float(running[n.group(1)])
        m = re.search(r"Final estimate: PPL = ([0-9.]+)", out)
        if m:
            return float(m.group(1))
    return None


def eval_text(data: str, work: str) -> str:
    src = os.path.join(data, "tinystories-valid", "tinystories_val.txt")
    with open(src, "rb") as f:
        text = f.read(EVAL_BYTES)
    text = text[: text.rfind(b"\n") + 1]  # whole lines
    path = os.path.join(work, "eval.txt")
    with open(path, "wb") as f:
        f.write(text)
    return path


def llama_ppl(args, model: str, text: str) -> float:
    exe = os.path.join(args.llama_bin, "llama-perplexity")
    if not os.access(exe, os.X_OK):
        raise SystemExit(f"FAILED: {exe} is missing (the interop.llama_tools fixture builds it)")
    for _ in range(3):  # its asynchronous logger can lose the last lines at exit: run again
        out = run([exe, "-m", model, "-f", text, "-c", str(CTX), "-b", str(CTX), "--chunks", str(CHUNKS + EXTRA_CHUNKS),
                   "-t", "2", "-ctk", "f32", "-ctv", "f32"])
        ppl = llama_final_ppl(out)
        if ppl is not None:
            return ppl
    print(out[-4000:])
    raise SystemExit("FAILED: llama-perplexity printed no final estimate in 3 runs")


def vkquant_ppl(args, model: str, text: str) -> float:
    out = run([args.vkquant, "perplexity", model, "--text", text, "--protocol", "llama", "--ctx", str(CTX),
               "--chunks", str(CHUNKS), "--json"])
    result = [json.loads(line) for line in out.splitlines() if line.startswith("{") and '"result"' in line]
    if not result:
        raise SystemExit("FAILED: vkquant perplexity printed no result")
    return float(result[-1]["perplexity"])


def compare(what: str, ours: float, theirs: float, tol: float) -> bool:
    rel = abs(ours - theirs) / theirs
    ok = rel <= tol
    print(f"{what}: vkquant {ours:.6f}  llama-perplexity {theirs:.4f}  relative difference {rel:.2e} "
          f"(tolerance {tol:.0e}) {'ok' if ok else 'FAILED'}")
    return ok


def decoded_copy(path: str, out: str) -> str:
    """`path` with every tensor dequantized to F32 by the PyPI gguf package (a decoder independent of ours and
    of ggml's kernels), metadata unchanged: llama-perplexity then scores exactly the stored values."""
    import numpy as np
    import gguf
    from gguf.quants import dequantize
    reader = gguf.GGUFReader(path)
    writer = gguf.GGUFWriter(out, reader.fields["general.architecture"].contents())
    for name, field in reader.fields.items():
        if name.startswith("GGUF.") or name == "general.architecture":
            continue  # the writer adds these itself
        kind = field.types[0]
        writer.add_key_value(name, field.contents(), kind,
                             field.types[1] if kind == gguf.GGUFValueType.ARRAY else None)
    for t in reader.tensors:
        values = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32)
        writer.add_tensor(t.name, values.reshape([int(d) for d in reversed(t.shape)]))
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    return out


def tensor_types(path: str) -> dict:
    import gguf  # the PyPI package, installed by the python.venv fixture
    return {t.name: t.tensor_type.name for t in gguf.GGUFReader(path).tensors}


def llama_imatrix(args, model: str, text: str, out: str) -> str:
    """llama-imatrix over the first 4 chunks of CTX tokens of `text`, into `out`."""
    run([os.path.join(args.llama_bin, "llama-imatrix"), "-m", model, "-f", text, "-o", out, "-c", str(CTX),
         "-b", str(CTX), "--chunks", "4", "-t", "2", "--no-ppl"])
    return out


def same_types(label: str, ours_types: dict, theirs_file: str) -> bool:
    """Our file's type per tensor against llama-quantize's file; prints every difference."""
    theirs_types = tensor_types(theirs_file)
    diff = sorted(n for n in set(ours_types) | set(theirs_types) if ours_types.get(n) != theirs_types.get(n))
    for n in diff:
        print(f"  {n}: vkquant {ours_types.get(n)}  llama-quantize {theirs_types.get(n)}")
    print(f"{label}: {len(ours_types)} tensors, {len(diff)} with a different type from llama-quantize's "
          f"{'ok' if not diff else 'FAILED'}")
    return not diff


def check_fp32(args) -> bool:
    model = os.path.join(args.data, "tinystories-260k", "stories260K.gguf")
    text = eval_text(args.data, args.work)
    return compare("FP32 stories260K", vkquant_ppl(args, model, text), llama_ppl(args, model, text), TOL_FLOAT)


def quantize(args, t: str, out: str, extra=()) -> dict:
    model = os.path.join(args.data, "tinystories-260k", "stories260K.gguf")
    calib = os.path.join(args.data, "tinystories-valid", "tinystories_val.txt")
    res = run([args.vkquant, "quantize", model, "--calib", calib, "--calib-range", "0.5:1", "--calib-seqs", "8",
               "--calib-len", "128", "-t", t, "-o", out, "--force", "--json", *extra])
    return [json.loads(line) for line in res.splitlines() if line.startswith("{") and '"result"' in line][-1]


def check_type(args) -> bool:
    t = args.type.upper()
    model = os.path.join(args.data, "tinystories-260k", "stories260K.gguf")
    text = eval_text(args.data, args.work)
    ok = True

    # 1. llama.cpp loads our file (the default type plan) and scores it as `vkquant perplexity` does.
    ours_file = os.path.join(args.work, f"stories260K-{t}.gguf")
    res = quantize(args, t, ours_file, ["--eval-text", text, "--eval-protocol", "llama", "--eval-ctx", str(CTX),
                                        "--eval-chunks", str(CHUNKS)])
    ours_ppl, llama = vkquant_ppl(args, ours_file, text), llama_ppl(args, ours_file, text)
    ok &= compare(f"{t} file", ours_ppl, llama, tolerance(t))
    fp32 = vkquant_ppl(args, model, text)
    bound = MAX_RATIO.get(t, 1.15)
    sane = llama <= bound * fp32
    print(f"{t}: llama-perplexity {llama:.4f} vs FP32 {fp32:.4f} (ratio {llama / fp32:.4f}, bound {bound}): "
          f"{'ok' if sane else 'FAILED'}")
    ok &= sane

    # 2. What llama.cpp reads is what the solver meant: the run's own in-memory evaluation (codes x scales
    #    before packing, embedding and head included) equals llama-perplexity of the written file. This does
    #    not go through our reader, so a packer that writes wrong bytes fails here.
    ok &= compare(f"{t} intended values vs file", float(res["perplexity"]), llama, tolerance(t))

    # 3. The type plan is llama-quantize's *imatrix* plan (we always calibrate): same -t, an imatrix made by
    #    llama-imatrix, and the head type we substitute for Q6_K passed on as --output-tensor-type.
    quantize_exe = os.path.join(args.llama_bin, "llama-quantize")
    imatrix = llama_imatrix(args, model, text, os.path.join(args.work, "imatrix.gguf"))
    theirs_file = os.path.join(args.work, f"stories260K-{t}-llama.gguf")
    if os.path.exists(theirs_file):
        os.remove(theirs_file)
    ours_types = tensor_types(ours_file)
    cmd = [quantize_exe]
    if t not in ("F32", "F16", "BF16"):
        cmd += ["--imatrix", imatrix]
        if ours_types.get("output.weight") not in (None, "Q6_K"):
            cmd += ["--output-tensor-type", ours_types["output.weight"].lower()]
    run(cmd + [model, theirs_file, t, "2"])
    ok &= same_types(t, ours_types, theirs_file)
    return ok


def check_kquant(args) -> bool:
    """A K mixture on a synthetic llama model whose rows fit 256-column super-blocks (dim 256, 8 layers, so
    llama-quantize's layer rules pick different types): llama-perplexity loads our file and scores it as
    `vkquant perplexity` does and as the run's in-memory evaluation of its intended values; the file's tensor
    types equal llama-quantize's (with an imatrix) for the same mixture."""
    import synthetic_model
    mix = args.type.upper()
    model = os.path.join(args.work, "synthetic-k256.gguf")
    synthetic_model.write_model("llama3", model, dim=256, heads=4, kv_heads=2, hidden=512, layers=8)
    text = eval_text(args.data, args.work)
    calib = os.path.join(args.data, "tinystories-valid", "tinystories_val.txt")
    ours_file = os.path.join(args.work, f"synthetic-k256-{mix}.gguf")
    res = run([args.vkquant, "quantize", model, "--calib", calib, "--calib-range", "0.5:1", "--calib-seqs", "8",
               "--calib-len", "128", "-t", mix, "-o", ours_file, "--force", "--json", "--eval-text", text,
               "--eval-protocol", "llama", "--eval-ctx", str(CTX), "--eval-chunks", str(CHUNKS)])
    res = [json.loads(line) for line in res.splitlines() if line.startswith("{") and '"result"' in line][-1]
    ours_types = tensor_types(ours_file)
    k_types = sorted({t for t in ours_types.values() if t.endswith("_K") or t.startswith("IQ4")})
    print(f"{mix}: super-block types in the file: {k_types}")
    ok = bool(k_types)
    # Exact: the file's values decoded by gguf-py, scored by llama.cpp in F32, equal our score of the file and
    # the run's in-memory evaluation of the values it meant to write. Then llama.cpp's own K kernels on the file.
    ours_ppl = vkquant_ppl(args, ours_file, text)
    decoded = llama_ppl(args, decoded_copy(ours_file, os.path.join(args.work, f"{mix}-decoded-f32.gguf")), text)
    ok &= compare(f"{mix} file, decoded by gguf-py, F32", ours_ppl, decoded, TOL_FLOAT)
    ok &= compare(f"{mix} intended values vs file decoded by gguf-py", float(res["perplexity"]), decoded, TOL_FLOAT)
    llama = llama_ppl(args, ours_file, text)
    ok &= compare(f"{mix} file through ggml's K kernels", ours_ppl, llama, TOL_K)
    fp32 = llama_ppl(args, model, text)
    sane = llama <= 1.15 * fp32
    print(f"{mix}: llama-perplexity {llama:.4f} vs F32 {fp32:.4f} (bound 1.15x) {'ok' if sane else 'FAILED'}")
    ok &= sane

    imatrix = llama_imatrix(args, model, text, os.path.join(args.work, "imatrix-k256.gguf"))
    theirs_file = os.path.join(args.work, f"synthetic-k256-{mix}-llama.gguf")
    if os.path.exists(theirs_file):
        os.remove(theirs_file)
    run([os.path.join(args.llama_bin, "llama-quantize"), "--imatrix", imatrix, model, theirs_file, mix, "2"])
    ok &= same_types(mix, ours_types, theirs_file)
    theirs_ppl = llama_ppl(args, theirs_file, text)
    theirs_decoded = llama_ppl(args, decoded_copy(theirs_file, os.path.join(args.work, f"{mix}-llama-decoded.gguf")),
                               text)
    print(f"{mix}: llama-perplexity of llama-quantize --imatrix's file {theirs_ppl:.4f}, of ours {llama:.4f}; "
          f"ggml's activation rounding moves theirs by {abs(theirs_ppl - theirs_decoded) / theirs_decoded:.2e}, "
          f"ours by {abs(llama - decoded) / decoded:.2e}")
    return ok


def check_arch(args) -> bool:
    import synthetic_model  # next to this script; needs numpy and gguf (the venv)
    arch = args.type
    if arch not in synthetic_model.ARCHITECTURES:
        raise SystemExit(f"FAILED: no synthetic model for architecture {arch!r}")
    model = os.path.join(args.work, f"synthetic-{arch}.gguf")
    synthetic_model.write_model(arch, model)
    text = eval_text(args.data, args.work)
    ok = compare(f"F32 synthetic {arch}", vkquant_ppl(args, model, text), llama_ppl(args, model, text), TOL_FLOAT)

    variant = os.path.join(args.work, f"synthetic-{arch}-variant.gguf")
    synthetic_model.write_model(arch, variant, variant=True)
    with_f, without_f = vkquant_ppl(args, model, text), vkquant_ppl(args, variant, text)
    moved = abs(with_f - without_f) / with_f
    feature = {"qwen2": "q/k/v biases zeroed", "qwen3": "head-norm weights 1", "llama3": "rope factors 1",
               "gemma3": "sliding window wider than the text", "phi3": "gate and up halves swapped",
               "qwen3moe": "experts all equal", "mixtral": "experts all equal"}[arch]
    # The feature must move perplexity far beyond the agreement tolerance, or the comparison above could not
    # tell a forward that ignores it from one that applies it.
    need = 25 * TOL_FLOAT
    print(f"{arch}: perplexity {with_f:.4f}, {without_f:.4f} with its {feature} "
          f"(moves {moved:.2e}, must exceed {need:.0e}) {'ok' if moved > need else 'FAILED'}")
    ok &= moved > need

    calib = os.path.join(args.data, "tinystories-valid", "tinystories_val.txt")
    q = os.path.join(args.work, f"synthetic-{arch}-Q4_0.gguf")
    run([args.vkquant, "quantize", model, "--calib", calib, "--calib-range", "0.5:1", "--calib-seqs", "8",
         "--calib-len", "128", "-t", "Q4_0", "-o", q, "--force", "--quiet"])
    types = tensor_types(q)
    vectors = {n: t for n, t in types.items() if n.endswith(".bias") or n.endswith("_norm.weight")}
    print(f"{arch} Q4_0: 1-D tensors {sorted(set(vectors.values()))}, attn_q(kv) "
          f"{types.get('blk.0.attn_qkv.weight' if arch == 'phi3' else 'blk.0.attn_q.weight')}")
    q_name = "blk.0.attn_qkv.weight" if arch == "phi3" else "blk.0.attn_q.weight"
    ok &= set(vectors.values()) == {"F32"} and types.get(q_name) == "Q4_0"
    if arch not in ("qwen3moe", "mixtral"):
        ok &= compare(f"Q4_0 synthetic {arch}", vkquant_ppl(args, q, text), llama_ppl(args, q, text), TOL_QUANT)
        return ok
    ours = vkquant_ppl(args, q, text)
    ok &= compare(f"Q4_0 synthetic {arch}, decoded by gguf-py, F32", ours,
                  llama_ppl(args, decoded_copy(q, os.path.join(args.work, f"synthetic-{arch}-Q4_0-f32.gguf")), text),
                  TOL_FLOAT)
    ok &= compare(f"Q4_0 synthetic {arch}", ours, llama_ppl(args, q, text), TOL_MOE)
    # Each expert calibrated on its own tokens; expert 7 (never routed to) on the block's pooled statistics.
    with open(q + ".json") as f:
        stacks = {t["name"]: t for t in json.load(f)["tensors"] if "expert_tokens" in t}
    for name, t in sorted(stacks.items()):
        print(f"{name}: {t['type']} {t['method']}, tokens per expert {t['expert_tokens']}, pooled {t['pooled_experts']}")
    ok &= len(stacks) == 6 and all(
        t["type"] == "Q4_0" and t["method"] == "gptq" and t["expert_tokens"][7] == 0 and sum(t["expert_tokens"]) == 2 * 8 * 128
        and t["pooled_experts"] == [e for e, k in enumerate(t["expert_tokens"]) if k < 16] for t in stacks.values())
    # The estimate --dry-run prints (every expert of a block on the device, the expert Grams) against the peak.
    with open(q + ".json") as f:
        peak = json.load(f)["peak_device_bytes"]
    dry = run([args.vkquant, "quantize", model, "--calib", calib, "--calib-range", "0.5:1", "--calib-seqs", "8",
               "--calib-len", "128", "-t", "Q4_0", "-o", q + ".dry.gguf", "--dry-run", "--json"])
    est = [json.loads(line) for line in dry.splitlines() if line.startswith("{") and '"result"' in line][-1]
    est = est["estimated_memory"]["device_peak"]
    print(f"{arch}: estimated device peak {est} B, measured {peak} B")
    ok &= peak <= est * 1.1 and est <= 2 * peak
    # llama-quantize's choices for an 8-expert model (attn_v and attn_k in Q8_0), with an imatrix as we calibrate.
    theirs = os.path.join(args.work, f"synthetic-{arch}-llama-Q4_0.gguf")
    run([os.path.join(args.llama_bin, "llama-quantize"), "--imatrix",
         llama_imatrix(args, model, text, os.path.join(args.work, "imatrix.gguf")), model, theirs, "Q4_0", "2"])
    ok &= same_types(f"{arch} Q4_0", types, theirs)
    return ok


def imatrix_entries(path: str) -> dict:
    """tensor -> (in_sum2 values, count) of an imatrix GGUF, read with the PyPI gguf package."""
    import gguf
    r = gguf.GGUFReader(path)
    sums = {t.name[: -len(".in_sum2")]: [float(x) for x in t.data.flatten()] for t in r.tensors if t.name.endswith(".in_sum2")}
    counts = {t.name[: -len(".counts")]: float(t.data.flatten()[0]) for t in r.tensors if t.name.endswith(".counts")}
    kind = r.fields["general.type"].contents() if "general.type" in r.fields else None
    return {"type": kind, "entries": {n: (sums[n], counts.get(n)) for n in sums}}


def check_imatrix(args) -> bool:
    """--imatrix-out: the file is llama.cpp's imatrix format, agrees with llama-imatrix where both see the same
    activations (block 0's inputs, before any quantization), and llama-quantize --imatrix takes it."""
    model = os.path.join(args.data, "tinystories-260k", "stories260K.gguf")
    text = eval_text(args.data, args.work)
    ours = os.path.join(args.work, "vkquant.imatrix.gguf")
    q = os.path.join(args.work, "vkquant-Q4_0.gguf")
    run([args.vkquant, "quantize", model, "--calib", text, "--calib-protocol", "llama", "--calib-seqs", "8",
         "--calib-len", str(CTX), "-t", "Q4_0", "-o", q, "--imatrix-out", ours, "--force", "--quiet"])
    theirs = os.path.join(args.work, "llama.imatrix.gguf")
    run([os.path.join(args.llama_bin, "llama-imatrix"), "-m", model, "-f", text, "-c", str(CTX), "--chunks", "8",
         "-o", theirs, "-t", "2", "--no-ppl"])
    a, b = imatrix_entries(ours), imatrix_entries(theirs)
    ok = a["type"] == "imatrix"
    print(f"general.type {a['type']!r} (llama-imatrix: {b['type']!r})")
    missing = sorted(set(b["entries"]) - set(a["entries"]))
    # Only tensors we do not calibrate may lack an entry: those the type plan keeps in a float type (rows that
    # do not fit 32-column blocks), where llama-quantize has no use for one either.
    types = tensor_types(q)
    unexplained = [n for n in missing if types.get(n) not in ("F16", "F32", "BF16")]
    print(f"tensors: vkquant {len(a['entries'])}, llama-imatrix {len(b['entries'])}; without an entry in ours: "
          f"{missing} (types {sorted(set(types.get(n) for n in missing))}) {'ok' if not unexplained else 'FAILED'}")
    ok &= not unexplained
    for name in sorted(b["entries"]):
        if name not in a["entries"]:
            continue
        (sa, ca), (sb, cb) = a["entries"][name], b["entries"][name]
        rel = max(abs(x - y) for x, y in zip(sa, sb)) / max(max(abs(y) for y in sb), 1e-30)
        # Block 0's attention inputs are the same numbers for both tools; later inputs come from our partially
        # quantized chain (true-sequential calibration), so they only resemble llama-imatrix's.
        same_input = name.startswith("blk.0.attn_") and name != "blk.0.attn_output.weight"
        tol = 1e-4 if same_input else 0.5
        good = len(sa) == len(sb) and ca == cb and rel <= tol
        if same_input or not good:
            print(f"  {name}: {len(sa)} columns, counts {ca:.0f} vs {cb:.0f}, max relative difference {rel:.2e} "
                  f"(tolerance {tol:.0e}) {'ok' if good else 'FAILED'}")
        ok &= good
    out = os.path.join(args.work, "llama-quantize-with-vkquant-imatrix-Q4_0.gguf")
    log = run([os.path.join(args.llama_bin, "llama-quantize"), "--imatrix", ours, model, out, "Q4_0"])
    loaded = re.search(r"loaded (\d+) importance matrix entries", log)
    print(f"llama-quantize --imatrix (ours): {loaded.group(0) if loaded else 'no load message'}")
    ok &= loaded is not None and int(loaded.group(1)) == len(a["entries"])
    ratio = llama_ppl(args, out, text) / llama_ppl(args, model, text)
    print(f"llama-quantize Q4_0 with our imatrix: perplexity ratio to FP32 {ratio:.4f} (must stay under "
          f"{MAX_RATIO['Q4_0']}) {'ok' if ratio < MAX_RATIO['Q4_0'] else 'FAILED'}")
    return ok and ratio < MAX_RATIO["Q4_0"]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("case", choices=["fp32", "type", "arch", "imatrix", "kquant"])
    ap.add_argument("type", nargs="?")
    ap.add_argument("--vkquant", required=True)
    ap.add_argument("--llama-bin", required=True)
    ap.add_argument("--data", required=True)
    ap.add_argument("--work", required=True)
    args = ap.parse_args()
    os.makedirs(args.work, exist_ok=True)
    checks = {"fp32": check_fp32, "type": check_type, "arch": check_arch, "imatrix": check_imatrix,
              "kquant": check_kquant}
    ok = checks[args.case](args)
    print("PASSED" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
