#!/usr/bin/env python3
"""Runs llama.cpp's convert_hf_to_gguf.py (the vendored copy) on a test checkpoint, with two test-only
adjustments that do not touch what it writes for a real model:

- its BPE pre-tokenizer is recognised by hashing the tokenization of a fixed text, which only works for
  the published vocabularies; a test vocabulary gets the name of the family whose regex it uses (given
  with --pre), which is how vkquant recognises it;
- Debian's torch 1.13 lacks the float8 dtypes the script lists in a table (never used here): stand-ins.

usage: hf_oracle.py LLAMA_SRC MODEL_DIR OUT.gguf OUTTYPE [--pre NAME]
"""
import sys


def main():
    llama_src, model_dir, out, outtype = sys.argv[1:5]
    pre = sys.argv[sys.argv.index("--pre") + 1] if "--pre" in sys.argv else None
    import torch
    for name in ("float8_e4m3fn", "float8_e5m2"):
        if not hasattr(torch, name):
            setattr(torch, name, torch.uint8)
    sys.path.insert(0, llama_src)
    import conversion.base as base
    if pre is not None:
        base.TextModel.get_vocab_base_pre = lambda self, tokenizer: pre
    sys.argv = ["convert_hf_to_gguf.py", model_dir, "--outfile", out, "--outtype", outtype]
    import runpy
    runpy.run_path(f"{llama_src}/convert_hf_to_gguf.py", run_name="__main__")


if __name__ == "__main__":
    main()
