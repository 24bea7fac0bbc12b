#!/usr/bin/env bash
# `cmake --install` into a temporary prefix, then the samples built against that installed tree
# alone — through find_package(vkquant) (shared and static) and through pkg-config — and run.
# Usage: install_test.sh BUILD_DIR SOURCE_DIR
set -eu
BUILD=${1:?usage: install_test.sh BUILD_DIR SOURCE_DIR}
SRC=${2:?usage: install_test.sh BUILD_DIR SOURCE_DIR}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vkq-install.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
PREFIX="$WORK/prefix"

cmake --install "$BUILD" --prefix "$PREFIX" > "$WORK/install.log"
for f in bin/vkquant include/vkquant/vkquant.hpp include/vkquant/vkquant.h lib/libvkquant.a \
         lib/libvkquant.so lib/cmake/vkquant/vkquantConfig.cmake lib/pkgconfig/vkquant.pc; do
  [ -e "$PREFIX/$f" ] || { echo "FAIL: $f was not installed"; exit 1; }
done
soname=$(readelf -d "$PREFIX/lib/libvkquant.so" | sed -n 's/.*Library soname: \[\(.*\)\]/\1/p')
[ -n "$soname" ] && [ -e "$PREFIX/lib/$soname" ] || { echo "FAIL: no SONAME link ($soname)"; exit 1; }
echo "installed: $(cd "$PREFIX" && find . -type f | sort | tr '\n' ' ')"

# CMake package: configure the consumer with only the prefix (no vkquant source or build tree).
cmake -S "$SRC/tests/install/consumer" -B "$WORK/consumer" -G Ninja -DCMAKE_PREFIX_PATH="$PREFIX" \
      -DSAMPLES_DIR="$SRC/samples" > "$WORK/configure.log"
cmake --build "$WORK/consumer" -j2 > "$WORK/build.log" || { tail -30 "$WORK/build.log"; exit 1; }
"$WORK/consumer/devices" | tail -n 1
"$WORK/consumer/devices_static" | tail -n 1
"$WORK/consumer/c_sample" | tail -n 1

# pkg-config: the C sample compiled and linked with the flags vkquant.pc gives.
if command -v pkg-config > /dev/null; then
  export PKG_CONFIG_PATH="$PREFIX/lib/pkgconfig"
  cc "$SRC/samples/c_api.c" $(pkg-config --cflags --libs vkquant) -Wl,-rpath,"$PREFIX/lib" -o "$WORK/c_pkgconfig"
  "$WORK/c_pkgconfig" | tail -n 1
else
  echo "FAIL: pkg-config not installed (.ci/install-deps installs it)"
  exit 1
fi
echo "install_test: the samples build and run against the installed package"
