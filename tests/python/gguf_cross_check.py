#!/usr/bin/env python3
"""Independent check of vkquant's GGUF writer: open FILE.gguf with the `gguf` package from PyPI,
dequantize every tensor with its own dequantizers, and compare bit for bit with vkquant's
dequantized values in DIR/<tensor>.f32 (raw little-endian float32, row-major).
Exit 0 when all match, 1 on any difference, 77 when the package is missing (reported as a skip)."""
import os
import sys

try:
    import numpy as np
    import gguf
    from gguf.quants import dequantize
except ImportError as e:  # the caller turns this into a skipped test with the message
    print(f"gguf_cross_check: python package missing: {e}")
    sys.exit(77)


def main(path: str, ours_dir: str) -> int:
    reader = gguf.GGUFReader(path)
    checked = 0
    failures = 0
    for t in reader.tensors:
        ours_file = os.path.join(ours_dir, t.name + ".f32")
        if not os.path.exists(ours_file):
            print(f"{t.name}: no vkquant values to compare with ({ours_file})")
            failures += 1
            continue
        theirs = np.asarray(dequantize(t.data, t.tensor_type), dtype=np.float32).reshape(-1)
        ours = np.fromfile(ours_file, dtype="<f4")
        if theirs.shape != ours.shape:
            print(f"{t.name}: {theirs.shape[0]} values from gguf, {ours.shape[0]} from vkquant")
            failures += 1
            continue
        diff = np.nonzero(theirs.view(np.uint32) != ours.view(np.uint32))[0]
        status = "bit-identical" if diff.size == 0 else f"{diff.size} values differ, first at {diff[0]}"
        print(f"{t.name:10s} {t.tensor_type.name:5s} {ours.size:7d} values: {status}")
        failures += diff.size != 0
        checked += 1
    print(f"gguf {gguf.__name__} reader: {checked} tensors checked, {failures} failed")
    return 1 if failures or checked == 0 else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1], sys.argv[2]))
