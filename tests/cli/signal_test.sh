#!/usr/bin/env bash
# Signals during `vkquant quantize`: SIGTERM (what `timeout`, systemd and process managers send)
# and Ctrl-C stop the run and remove OUT.partial / OUT.json.partial; a second Ctrl-C quits at once,
# also removing them. Exit status 128 + the signal. Nothing the user had is touched.
# Usage: signal_test.sh PATH/TO/vkquant DATA_DIR
set -u
VKQ=${1:?usage: signal_test.sh VKQUANT DATA_DIR}
DATA=${2:?usage: signal_test.sh VKQUANT DATA_DIR}
MODEL="$DATA/tinystories-260k/stories260K.gguf"
TEXT="$DATA/tinystories-valid/tinystories_val.txt"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/vkq-signal.XXXXXX")
trap 'rm -rf "$WORK"' EXIT
OUT="$WORK/out.gguf"
failures=0

# run_and_signal NAME EXPECTED_RC SIGNAL...: starts a quantize, waits until it has created
# OUT.partial (the run is under way), sends the signals, and checks the exit status and that
# no output file is left.
run_and_signal() {
  local name=$1 want=$2
  shift 2
  rm -f "$OUT" "$OUT.partial" "$OUT.json" "$OUT.json.partial"
  "$VKQ" quantize "$MODEL" --calib "$TEXT" --calib-seqs 64 --calib-len 256 -t Q4_0 -o "$OUT" -q \
    > "$WORK/$name.log" 2>&1 &
  local pid=$! waited=0
  while [ ! -e "$OUT.partial" ] && kill -0 "$pid" 2>/dev/null && [ $waited -lt 600 ]; do
    sleep 0.1
    waited=$((waited + 1))
  done
  local problems=""
  [ -e "$OUT.partial" ] || problems+=" OUT.partial never appeared;"
  for sig in "$@"; do  # apart, so two signals are not merged into one pending signal
    kill "-$sig" "$pid" 2>/dev/null
    sleep 0.02
  done
  wait "$pid"
  local rc=$?
  [ "$rc" -eq "$want" ] || problems+=" exit $rc, expected $want;"
  for f in "$OUT" "$OUT.partial" "$OUT.json" "$OUT.json.partial"; do
    [ ! -e "$f" ] || problems+=" left $(basename "$f");"
  done
  if [ -n "$problems" ]; then
    echo "FAIL $name:$problems"
    sed 's/^/    | /' "$WORK/$name.log" | tail -n 10
    failures=$((failures + 1))
  else
    echo "ok   $name (exit $rc): $(tr '\n' ' ' < "$WORK/$name.log" | cut -c1-160)"
  fi
}

run_and_signal sigterm 143 TERM
run_and_signal ctrl-c 130 INT
run_and_signal ctrl-c-twice 130 INT INT
# The second Ctrl-C's own path: VKQ_TEST_HOLD_CANCEL keeps the first from reaching the run (as in a
# long step without a check), so only the handler's force-quit can stop it and clean up.
export VKQ_TEST_HOLD_CANCEL=1
run_and_signal ctrl-c-twice-force-quit 130 INT INT
unset VKQ_TEST_HOLD_CANCEL
grep -q "interrupted twice" "$WORK/ctrl-c-twice-force-quit.log" || {
  echo "FAIL ctrl-c-twice-force-quit: the second Ctrl-C did not force-quit"
  failures=$((failures + 1))
}

if [ "$failures" -ne 0 ]; then
  echo "signal_test: $failures case(s) failed"
  exit 1
fi
echo "signal_test: all cases passed"
