#!/usr/bin/env python3
"""Device memory of a quantize run through the real `vkquant` binary (issue 8): on a synthetic 24-block
model, a run without an evaluation never holds the whole model on the device (each block leaves once the
quantized chain has passed it), so its peak stays under half of the blocks' fp32 bytes; the same run with
--eval-text keeps the quantized model for the evaluation, and its peak is at least the blocks' bytes (so
the measure can fail); with --alpha the full-precision chain streams too. All files are byte-identical.

usage: memory_streaming_test.py VKQUANT DATA_DIR   (run with a Python that has the PyPI gguf and numpy)
"""
import json
import os
import subprocess
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from synthetic_model import write_model  # noqa: E402

DIM, HEADS, KV_HEADS, HIDDEN, LAYERS = 64, 4, 2, 128, 24


def block_bytes():
    head_dim = DIM // HEADS
    linears = (DIM * HEADS * head_dim + 2 * DIM * KV_HEADS * head_dim + HEADS * head_dim * DIM + 3 * DIM * HIDDEN)
    return 4 * (linears + 2 * DIM)  # fp32, with the two norms


def quantize(vkquant, model, text, out, *extra):
    cmd = [vkquant, "quantize", model, "--calib", text, "--calib-range", "0:0.5", "--calib-seqs", "2",
           "--calib-len", "32", "-t", "Q8_0", "--no-scale-search", "-o", out, "--no-report", "--json", *extra]
    run = subprocess.run(cmd, capture_output=True, text=True)
    if run.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} exited {run.returncode}:\n{run.stderr}")
    for line in run.stdout.splitlines():
        event = json.loads(line)
        if "peak_device_bytes" in event:
            return event["peak_device_bytes"]
    sys.exit(f"FAIL: no result event with peak_device_bytes from {' '.join(cmd)}")


def main():
    vkquant, data = sys.argv[1], sys.argv[2]
    text = os.path.join(data, "tinystories-valid", "tinystories_val.txt")
    with tempfile.TemporaryDirectory(prefix="vkq-memory-") as work:
        model = os.path.join(work, "deep.gguf")
        write_model("llama3", model, dim=DIM, heads=HEADS, kv_heads=KV_HEADS, hidden=HIDDEN, layers=LAYERS)
        blocks = LAYERS * block_bytes()
        outs = {name: os.path.join(work, name + ".gguf") for name in ("streamed", "evaluated", "alpha")}
        streamed = quantize(vkquant, model, text, outs["streamed"])
        evaluated = quantize(vkquant, model, text, outs["evaluated"], "--eval-text", text, "--eval-range", "0.5:1",
                             "--eval-ctx", "64", "--eval-chunks", "2")
        alpha = quantize(vkquant, model, text, outs["alpha"], "--alpha", "0.25")
        print(f"blocks (fp32) {blocks} B; peak device: streamed {streamed} B, with --eval-text {evaluated} B, "
              f"with --alpha 0.25 {alpha} B")
        failures = []
        if not streamed < blocks // 2:
            failures.append(f"the streamed run's peak {streamed} B is not under half the blocks' {blocks} B")
        if not evaluated >= blocks:
            failures.append(f"the evaluated run's peak {evaluated} B is under the blocks' {blocks} B: the peak is not measured")
        # Two chains: each holds one block at a time, the full-precision one adds a cross-Gram per stage.
        if not alpha < blocks // 2:
            failures.append(f"the --alpha run's peak {alpha} B is not under half the blocks' {blocks} B")
        with open(outs["streamed"], "rb") as f:
            want = f.read()
        with open(outs["evaluated"], "rb") as f:
            if f.read() != want:
                failures.append("the evaluated run wrote a different file than the streamed run")
        for f in failures:
            print("FAIL:", f)
        if failures:
            sys.exit(1)
        print("memory streaming: OK")


if __name__ == "__main__":
    main()
