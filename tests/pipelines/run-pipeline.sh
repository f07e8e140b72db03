#!/usr/bin/env bash
# Run one pipelines/*.pipeline file with gst-launch-1.0; pass when it reaches EOS with no error.
# A file with a line "# needs: cuda" is skipped (exit 77) where the CUDA backend cannot run.
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
eval "exec timeout 120 gst-launch-1.0 -e $desc"
