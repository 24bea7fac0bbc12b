#!/usr/bin/env bash
# Bad input through the real `vkquant` binary: every case must exit non-zero, print a message that
# names the offending file/tensor/option, and leave neither OUT, OUT.partial nor OUT.json behind.
# Usage: bad_input_test.sh PATH/TO/vkquant DATA_DIR   (DATA_DIR = shared/data)
set -u
VKQ=${1:?usage: bad_input_test.sh VKQUANT DATA_DIR}
DATA=${2:?usage: bad_input_test.sh VKQUANT DATA_DIR}
MODEL="$DATA/tinystories-260k/stories260K.gguf"
TEXT="$DATA/tinystories-valid/tinystories_val.txt"
for f in "$VKQ" "$MODEL" "$TEXT"; do
  [ -e "$f" ] || { echo "bad_input_test: missing $f"; exit 1; }
done

WORK=$(mktemp -d "${TMPDIR:-/tmp}/vkq-bad-input.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/out.gguf"
CALIB="$WORK/calib.txt"
head -c 20000 "$TEXT" > "$CALIB"  # a small calibration text keeps the valid parts of each run short
SMALL=(--calib-seqs 2 --calib-len 32 -q)
failures=0

# expect_failure NAME PATTERN COMMAND...: the command must fail, an error line of its output must
# contain PATTERN (fixed string), and no output file may be left behind.
expect_failure() {
  local name=$1 pattern=$2
  shift 2
  rm -f "$OUT" "$OUT.partial" "$OUT.json"
  local log="$WORK/$name.log" rc
  "$@" > "$log" 2>&1
  rc=$?
  local problems=""
  [ "$rc" -ne 0 ] || problems+=" exited 0;"
  [ "$rc" -lt 128 ] || [ "$rc" -eq 130 ] || problems+=" crashed (exit $rc);"
  grep -F -- "$pattern" "$log" | grep -qi error || problems+=" message does not name '$pattern';"
  for f in "$OUT" "$OUT.partial" "$OUT.json"; do
    [ ! -e "$f" ] || problems+=" left $(basename "$f");"
  done
  if [ -n "$problems" ]; then
    echo "FAIL $name:$problems"
    sed 's/^/    | /' "$log" | tail -n 20
    failures=$((failures + 1))
  else
    echo "ok   $name (exit $rc): $(grep -F -- "$pattern" "$log" | grep -i error | head -n 1)"
  fi
}

# patch FILE OFFSET HEXBYTES: overwrite bytes in place (e.g. patch f 8 'ff ff').
patch() {
  local file=$1 offset=$2 bytes=$3 esc="" b
  for b in $bytes; do esc+="\\x$b"; done
  printf "$esc" | dd of="$file" bs=1 seek="$offset" conv=notrunc status=none
}

u64_at() { od -A n -t u8 -j "$2" -N 8 "$1" | tr -d ' '; }
u32_at() { od -A n -t u4 -j "$2" -N 4 "$1" | tr -d ' '; }

# One line per GGUF tensor info — NAME DIMS_AT TYPE_AT DATA_OFFSET (file offsets of its first
# dimension and its type; its data offset within the data section) — then "end POS" where the infos
# end. The infos follow the metadata; the first is token_embd.weight in this file.
tensor_infos() {
  local file=$1 count pos name_len name n_dims
  count=$(u64_at "$file" 8)
  pos=$(( $(grep -boa 'token_embd\.weight' "$file" | head -n 1 | cut -d: -f1) - 8 ))
  for ((i = 0; i < count; ++i)); do
    name_len=$(u64_at "$file" "$pos")
    name=$(dd if="$file" bs=1 skip=$((pos + 8)) count="$name_len" status=none)
    pos=$((pos + 8 + name_len))
    n_dims=$(u32_at "$file" "$pos")
    echo "$name $((pos + 4)) $((pos + 4 + 8 * n_dims)) $(u64_at "$file" $((pos + 8 + 8 * n_dims)))"
    pos=$((pos + 4 + 8 * n_dims + 12))
  done
  echo "end $pos"
}

# Absolute file offset of a tensor's data (alignment: the GGUF default of 32).
tensor_data_offset() {
  local infos end off
  infos=$(tensor_infos "$1")
  end=$(awk '$1 == "end" { print $2 }' <<< "$infos")
  off=$(awk -v n="$2" '$1 == n { print $4 }' <<< "$infos")
  [ -n "$off" ] || return 1
  echo $(( (end + 31) / 32 * 32 + off ))
}

# File offset of a tensor's info field: "dims" (its first dimension, u64) or "type" (u32).
tensor_info_offset() {
  local col=3
  [ "$3" = dims ] && col=2
  awk -v n="$2" -v c="$col" '$1 == n { print $c; found = 1 } END { exit !found }' <<< "$(tensor_infos "$1")"
}

# --- malformed GGUF files ---------------------------------------------------------------------
head -c 100000 "$MODEL" > "$WORK/truncated.gguf"
expect_failure truncated-gguf "truncated.gguf" \
  "$VKQ" quantize "$WORK/truncated.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

cp "$MODEL" "$WORK/bad-magic.gguf" && chmod u+w "$WORK/bad-magic.gguf"
patch "$WORK/bad-magic.gguf" 0 '47 47 55 58'  # "GGUX"
expect_failure corrupted-magic "bad-magic.gguf: not a GGUF file" \
  "$VKQ" quantize "$WORK/bad-magic.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

cp "$MODEL" "$WORK/many-tensors.gguf" && chmod u+w "$WORK/many-tensors.gguf"
patch "$WORK/many-tensors.gguf" 8 '00 00 00 00 00 00 00 10'  # tensor count 2^60
expect_failure absurd-tensor-count "many-tensors.gguf" \
  "$VKQ" quantize "$WORK/many-tensors.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

cp "$MODEL" "$WORK/llamb.gguf" && chmod u+w "$WORK/llamb.gguf"
arch_key=$(grep -boa 'general\.architecture' "$MODEL" | head -n 1 | cut -d: -f1)
# key (20 bytes), value type (u32), string length (u64), then "llama": its last byte becomes 'b'.
patch "$WORK/llamb.gguf" $((arch_key + 20 + 4 + 8 + 4)) '62'
expect_failure unknown-architecture "llamb" \
  "$VKQ" quantize "$WORK/llamb.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

if nan_at=$(tensor_data_offset "$MODEL" blk.0.attn_q.weight); then
  cp "$MODEL" "$WORK/nan.gguf" && chmod u+w "$WORK/nan.gguf"
  patch "$WORK/nan.gguf" $((nan_at + 4 * 70)) '00 00 c0 7f'  # little-endian 0x7fc00000, row 1 col 6
  expect_failure nan-weight "blk.0.attn_q.weight" \
    "$VKQ" quantize "$WORK/nan.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"
else
  echo "FAIL nan-weight: blk.0.attn_q.weight not found in the tensor infos of $MODEL"
  failures=$((failures + 1))
fi

cp "$MODEL" "$WORK/many-keys.gguf" && chmod u+w "$WORK/many-keys.gguf"
patch "$WORK/many-keys.gguf" 16 '00 00 00 00 00 00 00 10'  # metadata count 2^60
expect_failure absurd-metadata-count "many-keys.gguf" \
  "$VKQ" quantize "$WORK/many-keys.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

if dim_at=$(tensor_info_offset "$MODEL" blk.0.attn_q.weight dims); then
  cp "$MODEL" "$WORK/huge-dim.gguf" && chmod u+w "$WORK/huge-dim.gguf"
  patch "$WORK/huge-dim.gguf" "$dim_at" '00 00 00 00 00 00 01 00'  # 2^48 columns
  expect_failure absurd-dimension "blk.0.attn_q.weight" \
    "$VKQ" quantize "$WORK/huge-dim.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"
  type_at=$(tensor_info_offset "$MODEL" blk.0.attn_q.weight type)
  cp "$MODEL" "$WORK/bad-type.gguf" && chmod u+w "$WORK/bad-type.gguf"
  patch "$WORK/bad-type.gguf" "$type_at" '63 00 00 00'  # ggml type 99 does not exist
  expect_failure unknown-tensor-type "bad-type.gguf" \
    "$VKQ" quantize "$WORK/bad-type.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"
else
  echo "FAIL absurd-dimension: blk.0.attn_q.weight not found in the tensor infos of $MODEL"
  failures=$((failures + 1))
fi

if inf_at=$(tensor_data_offset "$MODEL" blk.1.ffn_up.weight); then
  cp "$MODEL" "$WORK/inf.gguf" && chmod u+w "$WORK/inf.gguf"
  patch "$WORK/inf.gguf" $((inf_at + 4 * 3)) '00 00 80 ff'  # −inf
  expect_failure inf-weight "blk.1.ffn_up.weight" \
    "$VKQ" quantize "$WORK/inf.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"
  # Found in block 1, after block 0 was saved: a resume would meet it again, so nothing is kept.
  [ ! -e "$OUT.vkq-resume" ] || {
    echo "FAIL inf-weight: the checkpoint of a run the input broke was kept"
    failures=$((failures + 1))
  }
fi

# --- other model formats ----------------------------------------------------------------------
printf '\x10\x00\x00\x00\x00\x00\x00\x00{"a":{"b":1}}  ' > "$WORK/model.safetensors"
expect_failure safetensors-file "model.safetensors is a safetensors file" \
  "$VKQ" quantize "$WORK/model.safetensors" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

mkdir -p "$WORK/hf-folder"  # a folder without config.json (tests/cli/hf_bad_input_test.py has damaged checkpoints)
expect_failure model-folder "hf-folder: no config.json, so not a Hugging Face checkpoint folder" \
  "$VKQ" quantize "$WORK/hf-folder" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

head -c 4096 /dev/urandom > "$WORK/noise.bin"
expect_failure unknown-model-format "noise.bin: not a model vkquant reads" \
  "$VKQ" quantize "$WORK/noise.bin" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

expect_failure llama2c-without-tokenizer "pass its tokenizer with --tokenizer" \
  "$VKQ" quantize "$DATA/tinystories-260k/stories260K.bin" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

expect_failure tokenizer-with-gguf "--tokenizer is for llama2.c checkpoints" \
  "$VKQ" quantize "$MODEL" --tokenizer "$DATA/tinystories-260k/tok512.bin" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

# --- bad options and calibration text ---------------------------------------------------------
expect_failure unsupported-type "IQ2_XXS" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t IQ2_XXS -o "$OUT" "${SMALL[@]}"
expect_failure bad-tensor-type-pattern "--tensor-type" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_K_M --tensor-type 'attn_(v=Q8_0' -o "$OUT" "${SMALL[@]}"

expect_failure alpha-beta-below-one "--alpha-beta" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --alpha-mode sampled --alpha-beta 0.5 "${SMALL[@]}"

expect_failure alpha-beta-without-sampling "--alpha-mode sampled" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --alpha-beta 2 "${SMALL[@]}"
expect_failure k-refits-too-many "--k-refits 9: expected 0..8" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_K_M -o "$OUT" --k-refits 9 "${SMALL[@]}"
expect_failure group-refits-too-many "--group-refits 9: expected 0..8" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --group-refits 9 "${SMALL[@]}"
expect_failure group-refits-with-dynamic-groups "--group-refits refits static group parameters" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t INT4g32 --no-act-order -o "$OUT" --dynamic-groups --group-refits 1 "${SMALL[@]}"

expect_failure scale-search-on-and-off "--no-scale-search" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --scale-search --no-scale-search "${SMALL[@]}"

expect_failure imatrix-out-with-rtn "--method rtn collects no calibration statistics" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --method rtn --imatrix-out "$WORK/x.imatrix" "${SMALL[@]}"

echo "the user's imatrix" > "$WORK/existing.imatrix"
expect_failure imatrix-out-exists "existing.imatrix" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --imatrix-out "$WORK/existing.imatrix" "${SMALL[@]}"
if [ "$(cat "$WORK/existing.imatrix")" != "the user's imatrix" ] || [ -e "$WORK/existing.imatrix.partial" ]; then
  echo "FAIL imatrix-out-exists: the existing file was touched or a partial file left"
  failures=$((failures + 1))
fi

expect_failure clip-and-scale-search "--clip-search and --scale-search" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --clip-search --scale-search "${SMALL[@]}"

: > "$WORK/empty.txt"
expect_failure empty-calibration "empty.txt" \
  "$VKQ" quantize "$MODEL" --calib "$WORK/empty.txt" -t Q4_0 -o "$OUT" "${SMALL[@]}"

printf ' \n\t\n   \r\n\n' > "$WORK/blank.txt"
expect_failure whitespace-calibration "blank.txt" \
  "$VKQ" quantize "$MODEL" --calib "$WORK/blank.txt" -t Q4_0 -o "$OUT" "${SMALL[@]}"

expect_failure missing-calibration "no-such-text.txt" \
  "$VKQ" quantize "$MODEL" --calib "$WORK/no-such-text.txt" -t Q4_0 -o "$OUT" "${SMALL[@]}"

expect_failure missing-model "no-such-model.gguf" \
  "$VKQ" quantize "$WORK/no-such-model.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"

# Option names are checked before the model is read: a missing model must not be what fails.
expect_failure method-typo-before-load "--method beem: expected gptq, rtn, beam or awq" \
  "$VKQ" quantize "$WORK/no-such-model.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" --method beem "${SMALL[@]}"

expect_failure saliency-typo-before-load "--saliency actt: expected unit, hdiag, act or act2" \
  "$VKQ" quantize "$WORK/no-such-model.gguf" --calib "$CALIB" -t Q4_0 -o "$OUT" --lambda 0.1 --saliency actt "${SMALL[@]}"

# Options that would do nothing are errors.
expect_failure saliency-without-lambda "--saliency hdiag weights SARQC's regulariser, which is off" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --saliency hdiag "${SMALL[@]}"

expect_failure eval-option-without-eval-text "--eval-ctx shapes the evaluation of --eval-text, which is not given" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --eval-ctx 128 "${SMALL[@]}"

expect_failure type-typo-before-load "Q4_O" \
  "$VKQ" quantize "$WORK/no-such-model.gguf" --calib "$CALIB" -t Q4_O -o "$OUT" "${SMALL[@]}"

expect_failure beam-without-beam-method "--beam 8 sets the beam width of --method beam only" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --beam 8 "${SMALL[@]}"

expect_failure dynamic-groups-with-scale-search "--dynamic-groups takes them from the updated row" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --dynamic-groups --scale-search "${SMALL[@]}"

expect_failure calib-seqs-zero "--calib-seqs must be at least 1" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --calib-seqs 0 --calib-len 32 -q

expect_failure reversed-calib-range "--calib-range '0.5:0.2': need 0 <= BEGIN < END <= 1" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --calib-range 0.5:0.2 "${SMALL[@]}"

expect_failure alpha-above-one "--alpha must be within [0, 1]" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --alpha 2 "${SMALL[@]}"

expect_failure max-device-memory-unit "--max-device-memory '4X': unknown unit 'X'" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --max-device-memory 4X "${SMALL[@]}"

expect_failure max-device-memory-tiny "--max-device-memory '100K': below 1 MiB" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --max-device-memory 100K "${SMALL[@]}"

expect_failure max-device-memory-nothing-fits "the run would pass its limit of 1.0 MiB (--max-device-memory)" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --max-device-memory 1M "${SMALL[@]}"
# Out of device memory is something a rerun can get past (with a higher cap): the blocks done stay resumable.
[ -e "$OUT.vkq-resume/state.json" ] || {
  echo "FAIL max-device-memory-nothing-fits: the blocks done before running out of memory were not kept"
  failures=$((failures + 1))
}
rm -rf "$OUT.vkq-resume"

printf 'Once upon' > "$WORK/short.txt"
expect_failure text-shorter-than-a-window "short.txt has 2 tokens, fewer than one sequence" \
  "$VKQ" quantize "$MODEL" --calib "$WORK/short.txt" -t Q4_0 -o "$OUT" "${SMALL[@]}"

expect_failure device-matches-nothing "--device 'no-such-gpu'" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --device no-such-gpu "${SMALL[@]}"

# --- where the output goes: a path through a file, and a full disk -----------------------------
saved_out=$OUT
OUT=$CALIB/out.gguf
expect_failure output-under-a-file "calib.txt/out.gguf.vkq-resume: cannot create" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" "${SMALL[@]}"
OUT=$saved_out
# A 100 KiB file-size limit makes the output's writes fail (EFBIG) as on a full disk; SIGXFSZ is
# ignored so the write returns the error instead of killing the process.
expect_failure disk-full "out.gguf.partial: write failed" \
  bash -c 'ulimit -f 100; trap "" XFSZ; exec "$@"' _ "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" \
  --no-checkpoint "${SMALL[@]}"
# The same limit met by the checkpoint (its packed tensors pass 100 KiB first): a clear message, no output, and
# the blocks saved before it stay resumable.
expect_failure disk-full-checkpoint "cannot write the resume checkpoint" \
  bash -c 'ulimit -f 100; trap "" XFSZ; exec "$@"' _ "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" \
  "${SMALL[@]}"
rm -rf "$OUT.vkq-resume"

# --- an existing output without --force: refused, and the file is left byte-identical ----------
EXISTING="$WORK/existing.gguf"
printf 'precious bytes that must survive\n' > "$EXISTING"
cp "$EXISTING" "$WORK/existing.copy"
saved_out=$OUT
OUT=$EXISTING.new  # expect_failure checks that this unrelated name stays absent; EXISTING is checked below
expect_failure existing-output "existing.gguf" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$EXISTING" "${SMALL[@]}"
OUT=$saved_out
if ! cmp -s "$EXISTING" "$WORK/existing.copy"; then
  echo "FAIL existing-output: the existing file was modified"
  failures=$((failures + 1))
fi
for f in "$EXISTING.partial" "$EXISTING.json"; do
  if [ -e "$f" ]; then
    echo "FAIL existing-output: left $(basename "$f")"
    failures=$((failures + 1))
  fi
done

# --- perplexity -------------------------------------------------------------------------------
expect_failure perplexity-missing-model "no-such-model.gguf" \
  "$VKQ" perplexity "$WORK/no-such-model.gguf" --text "$CALIB"

if [ "$failures" -ne 0 ]; then
  echo "bad_input_test: $failures case(s) failed"
  exit 1
fi
echo "bad_input_test: all cases passed"
