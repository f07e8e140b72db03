#!/usr/bin/env bash
# Run one pipelines/*.pipeline file with gst-launch-1.0; pass when it reaches EOS with no error.
# A file with a line "# needs: cuda" (or vulkan) is skipped (exit 77) where that backend cannot run.
# A file with a line "# expect-message: NAME" must also post element messages of that name, one with
# "# expect-log: CATEGORY:LEVEL TEXT" must log TEXT.
set -euo pipefail
file=$1
if grep -q '^# needs: cuda' "$file"; then
  if ! gst-launch-1.0 -q fakesrc num-buffers=1 ! rkactor backend=cuda ! fakesink >/dev/null 2>&1; then
    echo "SKIP: the CUDA backend cannot run here"
    exit 77
  fi
fi
if grep -q '^# needs: vulkan' "$file"; then
  if ! gst-launch-1.0 -q fakesrc num-buffers=1 ! rkactor backend=vulkan ! fakesink >/dev/null 2>&1; then
    echo "SKIP: the Vulkan backend cannot run here"
    exit 77
  fi
fi
desc=$(grep -v '^#' "$file" | tr '\n' ' ')
echo "gst-launch-1.0 $desc"
# A line "# expect-log: CATEGORY:LEVEL TEXT" asks for TEXT in that debug category's log.
logwant=$(sed -n 's/^# expect-log: *//p' "$file")
if [ -n "$logwant" ]; then
  log=$(mktemp)
  trap 'rm -f "$log"' EXIT
  export GST_DEBUG=${logwant%% *} GST_DEBUG_NO_COLOR=1
  text=${logwant#* }
  eval "timeout 120 gst-launch-1.0 -e $desc" > "$log" 2>&1 || { cat "$log"; exit 1; }
  grep -m 3 "actor started on\|$text" "$log" | sed 's/.*> //' | cut -c 1-300
  grep -q "$text" "$log" || { echo "no \"$text\" in the log"; exit 1; }
  exit 0
fi
# A line "# expect-message: NAME" also asks for element messages of that name on the bus.
want=$(sed -n 's/^# expect-message: *//p' "$file")
if [ -z "$want" ]; then
  eval "exec timeout 120 gst-launch-1.0 -e $desc"
fi
log=$(mktemp)
trap 'rm -f "$log"' EXIT
eval "timeout 120 gst-launch-1.0 -e -m $desc" > "$log" 2>&1 || { cat "$log"; exit 1; }
n=$(grep -c "(element): $want" "$log" || true)
grep -m 2 "(element): $want\|actor started on" "$log" | cut -c 1-300
echo "$n \"$want\" messages"
[ "$n" -gt 0 ]
