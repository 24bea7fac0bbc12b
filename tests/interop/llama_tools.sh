#!/usr/bin/env bash
# Builds llama.cpp's judge tools (llama-perplexity, llama-quantize, llama-imatrix) from the llama.cpp
# vendored in the PyPI source package llama-cpp-python (pinned version and sha256), CPU only, into
# DEST (default build/llama.cpp). Reuses an earlier build of the same version. Prints the bin folder.
# Usage: tests/interop/llama_tools.sh [DEST]
set -euo pipefail
version=0.3.36
sha256=832db0699007f1be95a7e41ef12e88926b02ba836461e36a36372db2760c1a2e
tools=(llama-perplexity llama-quantize llama-imatrix llama-tokenize)
dest=$(realpath -m "${1:-build/llama.cpp}")
stamp="$dest/bin/.built-from"
want="llama-cpp-python==$version sha256:$sha256"

have_all() {
  for t in "${tools[@]}"; do [ -x "$dest/bin/$t" ] || return 1; done
  [ "$(cat "$stamp" 2>/dev/null)" = "$want" ]
}
if have_all; then echo "$dest/bin"; exit 0; fi

start=$(date +%s)
mkdir -p "$dest/sdist"
archive="$dest/sdist/llama_cpp_python-$version.tar.gz"
if [ ! -f "$archive" ] || ! echo "$sha256  $archive" | sha256sum -c --status; then
  rm -f "$archive"
  echo "llama_tools: downloading llama-cpp-python $version (source) from PyPI" >&2
  # pip prepares the package's metadata with its build backend (scikit-build-core, from PyPI) but
  # builds nothing; only the vendored llama.cpp is used below.
  python3 -m pip download --quiet --no-deps --no-binary :all: "llama-cpp-python==$version" -d "$dest/sdist" >&2
fi
if ! echo "$sha256  $archive" | sha256sum -c --status; then
  echo "llama_tools: $archive does not have the pinned sha256 $sha256; refusing to build it" >&2
  exit 1
fi

src="$dest/src"
rm -rf "$src" && mkdir -p "$src"
tar -xzf "$archive" -C "$src" --strip-components=3 "llama_cpp_python-$version/vendor/llama.cpp"

# CPU only, static, no network features: nothing is downloaded while building.
cmake -S "$src" -B "$dest/build" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=OFF \
  -DGGML_VULKAN=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_OPENMP=OFF -DGGML_NATIVE=OFF -DGGML_CCACHE=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_SERVER=OFF -DLLAMA_BUILD_APP=OFF \
  -DLLAMA_OPENSSL=OFF -DLLAMA_CURL=OFF -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_SUBPROCESS=OFF \
  -DLLAMA_BUILD_NUMBER=0 >&2
cmake --build "$dest/build" -j"${VKQ_LLAMA_JOBS:-2}" --target "${tools[@]}" >&2
mkdir -p "$dest/bin"
for t in "${tools[@]}"; do cp "$dest/build/bin/$t" "$dest/bin/$t"; done
echo "$want" > "$stamp"
echo "llama_tools: built ${tools[*]} in $(( $(date +%s) - start )) s" >&2
echo "$dest/bin"
