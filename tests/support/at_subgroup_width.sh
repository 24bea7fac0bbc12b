#!/usr/bin/env bash
# Runs a test executable on lavapipe with another SIMD width, hence another subgroup size
# (LP_NATIVE_VECTOR_WIDTH 128 → 4, 512 → 16; the default 256 → 8), so no shader can silently assume
# one size. Checks the device really reported the wanted size. Exit 77 (ctest: skipped) with a
# message where the CPU lacks AVX-512, which llvmpipe needs for 16-wide subgroups.
# Usage: at_subgroup_width.sh SUBGROUP TEST_EXE [ARGS...]
set -u
want=${1:?usage: at_subgroup_width.sh SUBGROUP TEST_EXE [ARGS...]}
shift
case "$want" in
  4) width=128 ;;
  8) width=256 ;;
  16) width=512
      if ! grep -qw avx512f /proc/cpuinfo; then
        echo "skipped: this CPU has no AVX-512, so lavapipe cannot run 16-wide subgroups here"
        exit 77
      fi ;;
  *) echo "at_subgroup_width: subgroup $want: expected 4, 8 or 16"; exit 2 ;;
esac
log=$(mktemp)
trap 'rm -f "$log"' EXIT
LP_NATIVE_VECTOR_WIDTH=$width "$@" > "$log" 2>&1
rc=$?
cat "$log"
if ! grep -q "subgroup $want," "$log"; then
  echo "at_subgroup_width: the device did not report subgroup $want (LP_NATIVE_VECTOR_WIDTH=$width ignored?)"
  exit 1
fi
exit $rc
