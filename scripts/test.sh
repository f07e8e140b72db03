#!/usr/bin/env bash
# Set up and build, then run every test (meson test). Tests that need a GPU skip (exit 77) without one.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
scripts/setup.sh
meson test -C build --print-errorlogs --num-processes 2 "$@"
