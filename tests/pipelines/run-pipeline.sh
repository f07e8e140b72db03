#!/usr/bin/env bash
# Run one pipelines/*.pipeline file with gst-launch-1.0; pass when it reaches EOS with no error.
set -euo pipefail
file=$1
desc=$(grep -v '^#' "$file" | tr '\n' ' ')
echo "gst-launch-1.0 $desc"
eval "exec timeout 120 gst-launch-1.0 -e $desc"
