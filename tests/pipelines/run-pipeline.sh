#!/usr/bin/env bash
# Run one pipelines/*.pipeline file with gst-launch-1.0; pass when it reaches EOS with no error.
# A file with a line "# needs: cuda" is skipped (exit 77) where the CUDA backend cannot run.
# A file with a line "# expect-message: NAME" must also post element messages of that name.
set -euo pipefail
file=$1
if grep -q '^# needs: cuda' "$file"; then
  if ! gst-launch-1.0 -q fakesrc num-buffers=1 ! rkactor backend=cuda ! fakesink >/dev/null 2>&1; then
    echo "SKIP: the CUDA backend cannot run here"
    exit 77
  fi
fi
desc=$(grep -v '^#' "$file" | tr '\n' ' ')
echo "gst-launch-1.0 $desc"
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
