#!/usr/bin/env python3
"""Device and host memory of `vkquant quantize` on a synthetic model of a real model's shape (issue 8), with and
without --max-device-memory, side by side: wall time, peak device memory (the run's own accounting), peak host
RSS, and the estimate `--dry-run` prints. Writes JSON.

usage: memory_bench.py VKQUANT TEXT OUT.json [--shape tinyllama|llama3-8b] [--layers N] [--cap SIZE]
                       [--calib-seqs N] [--calib-len N] [--type Q4_0] [--work DIR] [--extra=OPTIONS]
(run with a Python that has the PyPI gguf and numpy, e.g. build/pyvenv/bin/python3)
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "tests", "interop"))
from synthetic_model import write_model  # noqa: E402

SHAPES = {  # dim, heads, kv heads, ffn, blocks, vocab
    "tinyllama": (2048, 32, 4, 5632, 22, 32000),
    "llama3-8b": (4096, 32, 8, 14336, 32, 128256),
}
BYTE_VOCAB = 267  # synthetic_model's byte-level tokens, merges and end-of-text


def quantize(vkquant, model, text, out, args, *extra):
    cmd = [vkquant, "quantize", model, "--calib", text, "--calib-range", "0:0.5", "--calib-seqs", str(args.calib_seqs),
           "--calib-len", str(args.calib_len), "-t", args.type, "-o", out, "--json", "--force", *args.extra.split(), *extra]
    t0 = time.time()
    run = subprocess.run(cmd, capture_output=True, text=True)
    wall = time.time() - t0
    if run.returncode != 0:
        sys.exit(f"{' '.join(cmd)} exited {run.returncode}:\n{run.stderr}")
    result = [json.loads(l) for l in run.stdout.splitlines() if '"result"' in l][-1]
    return {"command": " ".join(cmd), "wall_s": round(wall, 1), "peak_device_bytes": result["peak_device_bytes"],
            "peak_host_bytes": result["peak_host_bytes"], "estimated": result["estimated_memory"],
            "memory_retries": result["memory_retries"]}


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("vkquant")
    ap.add_argument("text")
    ap.add_argument("out")
    ap.add_argument("--shape", default="tinyllama", choices=sorted(SHAPES))
    ap.add_argument("--layers", type=int, default=0, help="blocks (default: the shape's)")
    ap.add_argument("--cap", default="512M")
    ap.add_argument("--calib-seqs", type=int, default=8)
    ap.add_argument("--calib-len", type=int, default=128)
    ap.add_argument("--type", default="Q4_0")
    ap.add_argument("--work", default="")
    ap.add_argument("--extra", default="", help="more quantize options, e.g. --extra=--no-scale-search")
    args = ap.parse_args()
    dim, heads, kv, ffn, layers, vocab = SHAPES[args.shape]
    layers = args.layers or layers
    work = args.work or tempfile.mkdtemp(prefix="vkq-memory-bench-")
    model = os.path.join(work, f"{args.shape}-{layers}.gguf")
    if not os.path.exists(model):
        write_model("llama3", model, dim=dim, heads=heads, kv_heads=kv, hidden=ffn, layers=layers, ctx=2048,
                    unused_tokens=vocab - BYTE_VOCAB, f16=True)
    out = os.path.join(work, "out.gguf")
    runs = {"unconstrained": quantize(args.vkquant, model, args.text, out, args),
            f"--max-device-memory {args.cap}": quantize(args.vkquant, model, args.text, out, args,
                                                        "--max-device-memory", args.cap)}
    mib = lambda b: f"{b / 2**20:9.1f}"
    print(f"{args.shape} shape, {layers} blocks, F16 -> {args.type}, {args.calib_seqs} x {args.calib_len} tokens "
          f"{args.extra}")
    print(f"{'run':32} {'wall s':>8} {'device MiB':>10} {'estimate':>9} {'host MiB':>9} {'estimate':>9}  retries")
    for name, r in runs.items():
        print(f"{name:32} {r['wall_s']:8.1f} {mib(r['peak_device_bytes']):>10} {mib(r['estimated']['device_peak'])} "
              f"{mib(r['peak_host_bytes'])} {mib(r['estimated']['host_peak'])}  {len(r['memory_retries'])}")
    a, b = runs.values()
    print(f"ratio capped/unconstrained: wall {b['wall_s'] / a['wall_s']:.2f}, "
          f"device {b['peak_device_bytes'] / a['peak_device_bytes']:.2f}")
    with open(args.out, "w") as f:
        json.dump({"shape": args.shape, "dims": {"dim": dim, "heads": heads, "kv_heads": kv, "ffn": ffn,
                                                 "blocks": layers, "vocab": vocab},
                   "type": args.type, "calibration": [args.calib_seqs, args.calib_len], "extra": args.extra,
                   "runs": runs}, f, indent=2)


if __name__ == "__main__":
    main()
