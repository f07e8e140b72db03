#!/usr/bin/env bash
# Set up and build, then run the demonstration pipeline through rkactor on the best backend present
# (backend=auto) and print the actor's stats.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh >/dev/null
export GST_PLUGIN_PATH="$PWD/build/plugin${GST_PLUGIN_PATH:+:$GST_PLUGIN_PATH}"
exec build/pipelines/rk-run "$(grep -v '^#' pipelines/demo.pipeline | tr '\n' ' ')"
