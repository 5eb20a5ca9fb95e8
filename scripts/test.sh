#!/usr/bin/env bash
# Builds rysc (installing dependencies when missing) and runs every test:
# unit tests, golden diagnostics, and end-to-end runs on generated fixtures.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/setup.sh
ctest --test-dir build --output-on-failure -j "$(nproc)"
