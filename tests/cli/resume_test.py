#!/usr/bin/env python3
"""Crash and resume through the real `vkquant` binary (issue 8, item 5). A quantize run is killed with SIGKILL
(VKQ_TEST_KILL_AT: the process kills itself at a named point, exactly as `kill -9` would) mid-block, between
blocks, in the middle of saving a checkpoint, after the output head and while the file is being written; the
same command with --resume must then produce a file (and --imatrix-out file) byte-identical to an
uninterrupted run's, and leave no checkpoint behind. A checkpoint made with other settings or another
calibration text is refused, naming what differs; without --resume an existing checkpoint is refused unless
--force starts over; a second run on an output another run is writing is refused and the first completes.

usage: resume_test.py VKQUANT DATA_DIR   (standard library only)
"""
import filecmp
import os
import signal
import subprocess
import sys
import tempfile
import time

CONFIGS = {
    # Two activation chains (α > 0) held as fp16, K-quant super-blocks, and the imatrix entries.
    "gptq-alpha": ["-t", "Q4_K_M", "--alpha", "0.5", "--activations", "f16"],
    # AWQ folds scales into the norms: the folded norms must come back from the checkpoint too.
    "awq": ["-t", "Q4_0", "--method", "awq"],
}
KILLS = {
    "gptq-alpha": ["solve blk.1 ffn_gate_up", "checkpoint 3", "checkpoint-write 2", "checkpoint 5 head",
                   "write blk.2.attn_q.weight"],
    "awq": ["solve blk.3 attn_qkv", "checkpoint 1"],
}


def command(vkquant, data, out, extra, *more):
    return [vkquant, "quantize", os.path.join(data, "tinystories-260k", "stories260K.gguf"), "--calib",
            os.path.join(data, "tinystories-valid", "tinystories_val.txt"), "--calib-range", "0:0.5",
            "--calib-seqs", "8", "--calib-len", "128", "-o", out, "--imatrix-out", out + ".imatrix", "-q",
            *extra, *more]


def run(cmd, kill_at=None):
    env = dict(os.environ)
    env.pop("VKQ_TEST_KILL_AT", None)
    if kill_at:
        env["VKQ_TEST_KILL_AT"] = kill_at
    return subprocess.run(cmd, capture_output=True, text=True, env=env)


def main():
    vkquant, data = sys.argv[1], sys.argv[2]
    failures = []
    with tempfile.TemporaryDirectory(prefix="vkq-resume-") as work:
        for name, extra in CONFIGS.items():
            ref = os.path.join(work, f"{name}-ref.gguf")
            r = run(command(vkquant, data, ref, extra))
            if r.returncode != 0:
                sys.exit(f"FAIL {name}: the uninterrupted run exited {r.returncode}:\n{r.stderr}")
            if os.path.exists(ref + ".vkq-resume"):
                failures.append(f"{name}: a completed run left its checkpoint folder")
            for i, point in enumerate(KILLS[name]):
                out = os.path.join(work, f"{name}-{i}.gguf")
                cmd = command(vkquant, data, out, extra)
                killed = run(cmd, kill_at=point)
                if killed.returncode != -signal.SIGKILL:
                    failures.append(f"{name} / {point}: expected death by SIGKILL, got exit {killed.returncode}: "
                                    f"{killed.stderr[-300:]}")
                    continue
                if os.path.exists(out) or not os.path.isdir(out + ".vkq-resume"):
                    failures.append(f"{name} / {point}: after the kill, OUT exists or no checkpoint folder")
                resumed = run(cmd + ["--resume"])
                if resumed.returncode != 0:
                    failures.append(f"{name} / {point}: --resume exited {resumed.returncode}: {resumed.stderr[-500:]}")
                    continue
                same = filecmp.cmp(ref, out, shallow=False)
                same_imatrix = filecmp.cmp(ref + ".imatrix", out + ".imatrix", shallow=False)
                left = [f for f in os.listdir(work) if f.startswith(f"{name}-{i}.") and
                        (f.endswith(".partial") or f.endswith(".vkq-resume"))]
                status = "ok  " if same and same_imatrix and not left else "FAIL"
                print(f"{status} {name}: killed at '{point}', resumed: file identical {same}, imatrix identical "
                      f"{same_imatrix}, left behind {left}")
                if status == "FAIL":
                    failures.append(f"{name} / {point}: resumed output differs or files were left: {left}")

        # Refusals: a checkpoint of a run with other settings, or of another calibration text slice.
        extra = CONFIGS["gptq-alpha"]
        out = os.path.join(work, "mismatch.gguf")
        base = command(vkquant, data, out, extra)
        if run(base, kill_at="checkpoint 2").returncode != -signal.SIGKILL:
            failures.append("mismatch: the run to interrupt did not die at 'checkpoint 2'")
        for change, want in [(["--lambda", "0.1"], "lambda"), (["--seed", "7"], "calibration tokens")]:
            r = run(base + change + ["--resume"])
            ok = r.returncode != 0 and "cannot be resumed" in r.stderr and want in r.stderr and not os.path.exists(out)
            print(f"{'ok  ' if ok else 'FAIL'} a checkpoint resumed with {' '.join(change)} is refused: "
                  f"{r.stderr.strip().splitlines()[-3:] if r.stderr.strip() else r.stderr!r}")
            if not ok:
                failures.append(f"mismatch {change}: exit {r.returncode}, stderr {r.stderr[-400:]}")
        r = run(base)
        ok = r.returncode != 0 and "--resume" in r.stderr and "--force" in r.stderr
        print(f"{'ok  ' if ok else 'FAIL'} without --resume a checkpoint is refused: {r.stderr.strip()[-200:]}")
        if not ok:
            failures.append(f"a run without --resume over a checkpoint: exit {r.returncode}, {r.stderr[-300:]}")
        r = run(base + ["--force"])
        ok = r.returncode == 0 and filecmp.cmp(os.path.join(work, "gptq-alpha-ref.gguf"), out, shallow=False) \
            and not os.path.exists(out + ".vkq-resume")
        print(f"{'ok  ' if ok else 'FAIL'} --force discards the checkpoint and starts over (same file)")
        if not ok:
            failures.append(f"--force over a checkpoint: exit {r.returncode}, {r.stderr[-300:]}")
        r = run(base + ["--resume", "--force"])  # no checkpoint: starts from the beginning
        ok = r.returncode == 0 and filecmp.cmp(os.path.join(work, "gptq-alpha-ref.gguf"), out, shallow=False)
        print(f"{'ok  ' if ok else 'FAIL'} --resume without a checkpoint runs from the beginning")
        if not ok:
            failures.append(f"--resume without a checkpoint: exit {r.returncode}, {r.stderr[-300:]}")

        # Two runs on one output: the second is refused while the first holds the output; the first completes.
        out = os.path.join(work, "twice.gguf")
        first = subprocess.Popen(command(vkquant, data, out, extra), stdout=subprocess.DEVNULL,
                                 stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 120
        while not os.path.exists(out + ".partial") and first.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        second = run(command(vkquant, data, out, extra, "--force"))
        _, first_err = first.communicate()
        ok = second.returncode != 0 and "another vkquant run" in second.stderr and first.returncode == 0 \
            and filecmp.cmp(os.path.join(work, "gptq-alpha-ref.gguf"), out, shallow=False)
        print(f"{'ok  ' if ok else 'FAIL'} a second run on the same output is refused and the first completes: "
              f"{second.stderr.strip()[-160:]}")
        if not ok:
            failures.append(f"two runs: second exit {second.returncode} ({second.stderr[-300:]}), first exit "
                            f"{first.returncode} ({first_err[-300:]})")
    if failures:
        print("FAILED:\n  " + "\n  ".join(failures))
        sys.exit(1)
    print("resume_test: all cases passed")


if __name__ == "__main__":
    main()
