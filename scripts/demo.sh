#!/usr/bin/env bash
# The main job on the bundled Qwen3.6-style model: build rysc, generate the
# model, plan and apply examples/qwen36-rys.rys, then show the seam and
# check output layer 20 against source layer 15.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "== building rysc (the first run installs packages and builds for about five minutes)"
scripts/setup.sh

model=examples/models/qwen36
out=examples/out/qwen36-rys
mkdir -p examples/out
if [ ! -d "$model" ]; then
  python3 tests/fixtures/generate.py qwen36 "$model"
fi

echo "== rysc plan (reads config.json and safetensors headers only)"
build/rysc plan examples/qwen36-rys.rys "$model"

echo
echo "== rysc apply"
build/rysc apply --force examples/qwen36-rys.rys "$model" "$out" | tail -n 1

echo
echo "== the seam and layer 20 in the output"
python3 examples/show_layer.py "$model" "$out" 20
