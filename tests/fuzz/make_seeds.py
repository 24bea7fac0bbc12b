#!/usr/bin/env python3
"""Seed corpora for the llama2c and text fuzz targets (the gguf target seeds from shared/data's
GGUF files directly). Usage: make_seeds.py DATA_DIR OUT_DIR; writes OUT_DIR/llama2c and OUT_DIR/text."""
import os
import struct
import sys

data, out = sys.argv[1], sys.argv[2]
l2c = os.path.join(out, "llama2c")
text = os.path.join(out, "text")
os.makedirs(l2c, exist_ok=True)
os.makedirs(text, exist_ok=True)
st = os.path.join(out, "safetensors")
os.makedirs(st, exist_ok=True)

# The first byte selects the reader: 0 the checkpoint, 1 the tokenizer.
dim, hidden, layers, heads, kv, vocab, seq = 8, 16, 1, 2, 2, 4, 4
head = dim // heads
floats = (vocab * dim + layers * dim + layers * dim * dim * 2 + layers * dim * (kv * head) * 2 +
          layers * dim + layers * dim * hidden * 3 + dim + seq * head // 2 * 2)
with open(os.path.join(l2c, "tiny-checkpoint"), "wb") as f:
    f.write(b"\x00" + struct.pack("<7i", dim, hidden, layers, heads, kv, vocab, seq))
    f.write(struct.pack("<%df" % floats, *[((i * 37) % 17) / 17.0 - 0.5 for i in range(floats)]))
with open(os.path.join(l2c, "separate-classifier"), "wb") as f:
    f.write(b"\x00" + struct.pack("<7i", dim, hidden, layers, heads, kv, -vocab, seq))
    f.write(struct.pack("<%df" % (floats + vocab * dim), *([0.25] * (floats + vocab * dim))))
with open(os.path.join(data, "tinystories-260k", "tok512.bin"), "rb") as src, \
        open(os.path.join(l2c, "tok512"), "wb") as f:
    f.write(b"\x01" + src.read())

with open(os.path.join(data, "tinystories-valid", "tinystories_val.txt"), "rb") as src:
    story = src.read(1000)
samples = {
    "story": story,
    "specials": b"<s>Hello</s> <|endoftext|> <tool> [INST] <0x41>\n\n\t  x",
    "utf8": "été, 日本語, 😀, \u200b, ﬁ, Ω≈ç√".encode(),
    "malformed": b"\xc3\x28 \xa0\xa1 \xe2\x28\xa1 \xf0\x28\x8c\xbc \xf8\xa1\xa1\xa1\xa1 \xed\xa0\x80 \xc0\xaf",
    "numbers": b"In 1984, 3.14159 and 1,000,000 -- 'tis what I've said: don't.",
}
for name, body in samples.items():
    with open(os.path.join(text, name), "wb") as f:
        f.write(body)

# safetensors: a small valid file of each float dtype, with metadata, shapes of rank 0 to 3.
import json


def safetensors_file(path, dtype, size):
    header, blobs, offset = {"__metadata__": {"format": "pt"}}, [], 0
    for name, shape in (("a.weight", [3, 4]), ("b.bias", [4]), ("c", []), ("d.weight", [2, 1, 2])):
        n = 1
        for d in shape:
            n *= d
        blob = bytes((i * 29 + 7) % 251 for i in range(n * size))
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(blob)]}
        blobs.append(blob)
        offset += len(blob)
    raw = json.dumps(header).encode()
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


for dtype, size in (("F32", 4), ("F16", 2), ("BF16", 2), ("I64", 8)):
    safetensors_file(os.path.join(st, dtype.lower()), dtype, size)
