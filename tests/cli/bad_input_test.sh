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

# Absolute file offset of a tensor's data, from the GGUF tensor infos (which follow the metadata;
# the first is token_embd.weight in this file). Alignment: the GGUF default of 32.
tensor_data_offset() {
  local file=$1 want=$2 count pos name_len name n_dims type off found=""
  count=$(u64_at "$file" 8)
  pos=$(( $(grep -boa 'token_embd\.weight' "$file" | head -n 1 | cut -d: -f1) - 8 ))
  for ((i = 0; i < count; ++i)); do
    name_len=$(u64_at "$file" "$pos")
    name=$(dd if="$file" bs=1 skip=$((pos + 8)) count="$name_len" status=none)
    pos=$((pos + 8 + name_len))
    n_dims=$(u32_at "$file" "$pos")
    pos=$((pos + 4 + 8 * n_dims))
    type=$(u32_at "$file" "$pos")
    off=$(u64_at "$file" $((pos + 4)))
    pos=$((pos + 12))
    [ "$name" = "$want" ] && found=$off
  done
  [ -n "$found" ] || return 1
  echo $(( (pos + 31) / 32 * 32 + found ))
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

# --- bad options and calibration text ---------------------------------------------------------
expect_failure unsupported-type "Q4_K_M" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_K_M -o "$OUT" "${SMALL[@]}"

expect_failure alpha-beta-below-one "--alpha-beta" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --alpha-mode sampled --alpha-beta 0.5 "${SMALL[@]}"

expect_failure alpha-beta-without-sampling "--alpha-mode sampled" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --alpha-beta 2 "${SMALL[@]}"

expect_failure scale-search-on-and-off "--no-scale-search" \
  "$VKQ" quantize "$MODEL" --calib "$CALIB" -t Q4_0 -o "$OUT" --scale-search --no-scale-search "${SMALL[@]}"

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
