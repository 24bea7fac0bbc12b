#!/usr/bin/env python3
"""`--json` event lines against docs/json-events.md (schema 1): a quantize run with evaluation, a
perplexity run, a bad input and a cancellation. Usage: json_events_test.py VKQUANT DATA_DIR"""
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

vkq, data = sys.argv[1], sys.argv[2]
model = os.path.join(data, "tinystories-260k", "stories260K.gguf")
text = os.path.join(data, "tinystories-valid", "tinystories_val.txt")
failures = []

NUM = (int, float)
PROGRESS = {"event": str, "schema": int, "stage": str, "item": str, "step": int, "steps": int, "fraction": NUM,
            "elapsed_s": NUM, "eta_s": NUM}
STAGES = {"load", "tokenize", "embed", "calibrate", "quantize", "propagate", "evaluate", "write", "done"}
QUANT_RESULT = {"event": str, "schema": int, "output": str, "report": str, "seconds": NUM, "peak_device_bytes": int, "peak_host_bytes": int,
                "tensors": list}
TENSOR = {"name": str, "type": str, "method": str, "loss": NUM, "note": str}
METHODS = {"gptq", "beam", "rtn", "awq", "awq-fold", "copy", "convert"}
PPL_RESULT = {"event": str, "schema": int, "perplexity": NUM, "mean_nll": NUM, "windows": int, "tokens": int,
              "ctx": int, "protocol": str, "device": str, "seconds": NUM}
END = {"event": str, "schema": int, "message": str, "exit_code": int}


def check(name, cond, what):
    if not cond:
        failures.append(f"{name}: {what}")


def has_fields(name, obj, fields):
    for k, t in fields.items():
        check(name, k in obj, f"missing '{k}' in {obj.get('event')}")
        if k in obj:
            ok = isinstance(obj[k], t) and not (t is int and isinstance(obj[k], bool))
            check(name, ok, f"'{k}' is {type(obj[k]).__name__}, expected {t}")


def events(name, out, final):
    lines = [l for l in out.splitlines() if l.strip()]
    check(name, lines, "no output on stdout")
    evs = []
    for l in lines:
        try:
            evs.append(json.loads(l))
        except json.JSONDecodeError:
            failures.append(f"{name}: not a JSON line: {l[:100]}")
    if not evs:
        return []
    last_fraction = 0.0
    for e in evs[:-1]:
        check(name, e.get("event") == "progress", f"a {e.get('event')} event before the end")
        has_fields(name, e, PROGRESS)
        check(name, e.get("schema") == 1, "schema is not 1")
        check(name, e.get("stage") in STAGES, f"unknown stage {e.get('stage')}")
        f = e.get("fraction", -1)
        check(name, 0 <= f <= 1 and f >= last_fraction - 1e-12, f"fraction {f} after {last_fraction}")
        last_fraction = max(last_fraction, f)
        check(name, e.get("eta_s", 0) >= 0 or e.get("eta_s") == -1, "eta_s negative but not -1")
    check(name, evs[-1].get("event") == final, f"last event is {evs[-1].get('event')}, expected {final}")
    return evs


with tempfile.TemporaryDirectory() as d:
    out = os.path.join(d, "q.gguf")
    small = ["--calib-seqs", "2", "--calib-len", "64"]

    p = subprocess.run([vkq, "quantize", model, "--calib", text, *small, "-o", out, "--json", "--eval-text", text,
                        "--eval-chunks", "2"], capture_output=True, text=True)
    check("quantize", p.returncode == 0, f"exit {p.returncode}: {p.stderr[-300:]}")
    evs = events("quantize", p.stdout, "result")
    if evs:
        r = evs[-1]
        has_fields("quantize", r, QUANT_RESULT)
        has_fields("quantize", r, {"perplexity": NUM})
        check("quantize", r.get("output") == out and os.path.exists(out), "output missing")
        for t in r.get("tensors", []):
            has_fields("quantize tensor", t, TENSOR)
            check("quantize tensor", t.get("method") in METHODS, f"unknown method {t.get('method')}")
        seen = {e.get("stage") for e in evs[:-1]}
        for s in ("load", "tokenize", "calibrate", "quantize", "evaluate", "write", "done"):
            check("quantize", s in seen, f"no '{s}' stage")

    ppl = [vkq, "perplexity", model, "--text", text, "--range", "0.5:1", "--ctx", "128", "--max-windows", "2"]
    p = subprocess.run([*ppl, "--json", "--profile"], capture_output=True, text=True)
    check("perplexity", p.returncode == 0, f"exit {p.returncode}: {p.stderr[-300:]}")
    evs = events("perplexity", p.stdout, "result")
    if evs:
        has_fields("perplexity", evs[-1], PPL_RESULT)
        has_fields("perplexity", evs[-1], {"profile": list})
        prof = evs[-1].get("profile", [])
        for k in prof:
            has_fields("perplexity profile", k, {"kernel": str, "dispatches": int, "device_seconds": NUM})
        kernels = {k.get("kernel") for k in prof}
        for forms in (("attention", "attention_rows"), ("log_softmax_nll",), ("rms_norm", "rms_norm_rows")):
            check("perplexity profile", kernels & set(forms), f"no '{forms[0]}' row in {sorted(kernels)}")
        device = sum(k.get("device_seconds", 0) for k in prof)
        check("perplexity profile", 0 < device <= evs[-1].get("seconds", 0), f"device total {device} s")

    # The same profile as a table for people.
    p = subprocess.run([*ppl, "--profile"], capture_output=True, text=True)
    check("perplexity table", p.returncode == 0 and "device busy" in p.stdout and "attention" in p.stdout,
          f"exit {p.returncode}: {p.stdout[-400:]}")

    p = subprocess.run([vkq, "quantize", os.path.join(d, "missing.gguf"), "--calib", text, "-o", out + "2", "--json"],
                       capture_output=True, text=True)
    check("error", p.returncode == 1, f"exit {p.returncode}")
    evs = events("error", p.stdout, "error")
    if evs:
        has_fields("error", evs[-1], END)
        check("error", "missing.gguf" in evs[-1].get("message", ""), "message does not name the file")
        check("error", evs[-1].get("exit_code") == 1, "exit_code is not 1")

    # Cancelled by SIGTERM once the run is under way (OUT.partial exists).
    out3 = os.path.join(d, "c.gguf")
    proc = subprocess.Popen([vkq, "quantize", model, "--calib", text, "--calib-seqs", "64", "--calib-len", "256",
                             "-o", out3, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    for _ in range(600):
        if os.path.exists(out3 + ".partial") or proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.send_signal(signal.SIGTERM)
    stdout, _ = proc.communicate(timeout=300)
    check("cancelled", proc.returncode == 143, f"exit {proc.returncode}")
    evs = events("cancelled", stdout, "cancelled")
    if evs:
        has_fields("cancelled", evs[-1], END)
        check("cancelled", evs[-1].get("exit_code") == 143, "exit_code is not 143")
    check("cancelled", not os.path.exists(out3) and not os.path.exists(out3 + ".partial"), "left output behind")

for f in failures:
    print("FAIL", f)
print("json_events_test:", "all checks passed" if not failures else f"{len(failures)} failure(s)")
sys.exit(1 if failures else 0)
