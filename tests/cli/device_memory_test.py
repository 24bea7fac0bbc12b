#!/usr/bin/env python3
"""Device memory limits through the real `vkquant` binary (issue 8). A synthetic LLaMA-shaped model whose token
embedding (and untied head) is larger than 128 MiB is quantized (a) unconstrained, (b) with --max-device-memory
at a quarter of its weight bytes, (c) with the device's maxStorageBufferRange forced to 32 MiB
(VKQ_MAX_STORAGE_BUFFER_RANGE), (d) with every transfer forced through the staging buffer as on a discrete GPU
(VKQ_FORCE_STAGING): the four files must be byte-identical and (b)'s reported peak device memory under its
cap. (e) An injected allocation failure (VKQ_INJECT_OOM) is retried with a smaller chunk, completes and is
reported; --dry-run writes nothing and estimates what the runs measured; (f) a cap nothing fits under fails with a message naming the buffer and the limit, and leaves no
file behind.

usage: device_memory_test.py VKQUANT DATA_DIR   (run with a Python that has the PyPI gguf and numpy)
"""
import json
import os
import subprocess
import sys
import tempfile

import gguf

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "interop"))
from synthetic_model import write_model  # noqa: E402

DIM, HEADS, KV_HEADS, HIDDEN, LAYERS = 512, 8, 2, 1024, 2
UNUSED = 65600  # vocabulary of ~65.9k: a 512-wide fp32 embedding of 134.9 MB, above 128 MiB


def quantize(vkquant, model, text, out, *extra, env=None, expect_ok=True):
    cmd = [vkquant, "quantize", model, "--calib", text, "--calib-range", "0:0.5", "--calib-seqs", "4",
           "--calib-len", "32", "-t", "Q8_0", "--no-scale-search", "-o", out, "--json", *extra,
           "--output-tensor-type", "F16"]  # the head as F16: its solve would take a minute; row tiles are tested elsewhere
    run = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, **(env or {})})
    if not expect_ok:
        return run
    if run.returncode != 0:
        sys.exit(f"FAIL: {' '.join(cmd)} (env {env}) exited {run.returncode}:\n{run.stderr}")
    for line in run.stdout.splitlines():
        event = json.loads(line)
        if event.get("event") == "result":
            return event
    sys.exit(f"FAIL: no result event from {' '.join(cmd)}")


def main():
    vkquant, data = sys.argv[1], sys.argv[2]
    text = os.path.join(data, "tinystories-valid", "tinystories_val.txt")
    failures = []
    with tempfile.TemporaryDirectory(prefix="vkq-device-memory-") as work:
        model = os.path.join(work, "wide-vocab.gguf")
        write_model("llama3", model, dim=DIM, heads=HEADS, kv_heads=KV_HEADS, hidden=HIDDEN, layers=LAYERS,
                    unused_tokens=UNUSED)
        reader = gguf.GGUFReader(model)
        weight_bytes = sum(int(t.n_bytes) for t in reader.tensors)
        embd = next(int(t.n_bytes) for t in reader.tensors if t.name == "token_embd.weight")
        assert embd > 128 << 20, f"the embedding is {embd} bytes, not above 128 MiB"
        cap = weight_bytes // 4
        runs = {
            "unconstrained": ([], None),
            "capped": (["--max-device-memory", str(cap)], None),
            "small_range": ([], {"VKQ_MAX_STORAGE_BUFFER_RANGE": str(32 << 20)}),
            "staging": ([], {"VKQ_FORCE_STAGING": "1"}),
        }
        results, files = {}, {}
        for name, (extra, env) in runs.items():
            out = os.path.join(work, name + ".gguf")
            results[name] = quantize(vkquant, model, text, out, *extra, env=env)
            with open(out, "rb") as f:
                files[name] = f.read()
            os.remove(out)
        peaks = {k: r["peak_device_bytes"] for k, r in results.items()}
        print(f"weights {weight_bytes} B (embedding {embd} B), cap {cap} B; peak device bytes: {peaks}")
        for name in runs:
            if files[name] != files["unconstrained"]:
                failures.append(f"the {name} run wrote a different file than the unconstrained run")
            if results[name]["memory_retries"]:
                failures.append(f"the {name} run retried: {results[name]['memory_retries']}")
        if not peaks["capped"] <= cap:
            failures.append(f"the capped run's peak {peaks['capped']} B is above its cap {cap} B")
        if not peaks["unconstrained"] > cap:
            failures.append(f"the unconstrained run's peak {peaks['unconstrained']} B is under the cap: the cap proves nothing")

        # The estimate made before each run: what --dry-run prints, and near the measured peaks.
        dry_out = os.path.join(work, "dry.gguf")
        dry = quantize(vkquant, model, text, dry_out, "--dry-run")
        if not dry.get("dry_run") or os.path.exists(dry_out) or os.path.exists(dry_out + ".json"):
            failures.append(f"--dry-run did not stop before writing: {dry}")
        if dry["estimated_memory"] != results["unconstrained"]["estimated_memory"]:
            failures.append(f"--dry-run estimated {dry['estimated_memory']}, the run {results['unconstrained']['estimated_memory']}")
        for name in ("unconstrained", "capped"):
            est, peak = results[name]["estimated_memory"]["device_peak"], peaks[name]
            print(f"{name}: estimated device peak {est} B, measured {peak} B")
            if not (peak <= est * 1.1 and est <= 2 * peak):
                failures.append(f"the {name} run's estimate {est} B is not within [peak / 1.1, 2 peak] of its peak {peak} B")
        if not results["capped"]["estimated_memory"]["embedding_on_host"]:
            failures.append("under the cap the 135 MB embedding was not gathered on the host")

        injected = quantize(vkquant, model, text, os.path.join(work, "injected.gguf"),
                            env={"VKQ_INJECT_OOM": "calibration input"})
        retries = injected["memory_retries"]
        print(f"injected failure: {retries}")
        if len(retries) != 1 or "split into" not in retries[0] or "VKQ_INJECT_OOM" not in retries[0]:
            failures.append(f"the injected failure was not retried once with a split chunk: {retries}")
        with open(os.path.join(work, "injected.gguf.json")) as f:
            if json.load(f)["memory_retries"] != retries:
                failures.append("the run report does not record the retry")

        too_small = os.path.join(work, "too-small.gguf")
        run = quantize(vkquant, model, text, too_small, "--max-device-memory", "1M", expect_ok=False)
        print(f"--max-device-memory 1M: exit {run.returncode}: {run.stderr.strip()[-300:]}")
        if run.returncode == 0 or "--max-device-memory" not in run.stderr or "buffer '" not in run.stderr:
            failures.append("a cap nothing fits under did not fail with the buffer and the limit named")
        if any(n.startswith("too-small") for n in os.listdir(work)):
            failures.append(f"the failed run left files behind: {os.listdir(work)}")
    for f in failures:
        print("FAIL:", f)
    if failures:
        sys.exit(1)
    print("device memory limits: OK")


if __name__ == "__main__":
    main()
