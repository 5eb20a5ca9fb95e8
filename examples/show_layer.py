#!/usr/bin/env python3
"""Show where one output layer of a rysc output came from.

Usage: show_layer.py SOURCE_DIR OUTPUT_DIR LAYER

Reads rysc.json for the map, then compares the layer's type and tensor
bytes with its source layer, using the independent safetensors reader of
the test suite (Python standard library only).
"""
import hashlib
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fixtures"))
from hfcheck import load_checkpoint  # noqa: E402


def decoder_config(config):
    return config.get("text_config", config)


def main() -> int:
    source_dir, output_dir, layer = Path(sys.argv[1]), Path(sys.argv[2]), int(sys.argv[3])
    provenance = json.loads((output_dir / "rysc.json").read_text())
    source_layer = provenance["map"][layer]
    prefix = provenance["decoder_stack"]

    for seam in provenance["seams"]:
        print("seam:", ", ".join(
            f"{role} out {seam[role]['out']} <- src {seam[role]['src']}"
            for role in ("before", "first_copy", "last_copy", "after") if seam[role]))

    source_types = decoder_config(json.loads((source_dir / "config.json").read_text())).get("layer_types")
    output_types = decoder_config(json.loads((output_dir / "config.json").read_text())).get("layer_types")
    if source_types and output_types:
        print(f"layer_types: output[{layer}] = {output_types[layer]!r}, "
              f"source[{source_layer}] = {source_types[source_layer]!r}")

    source_tensors = load_checkpoint(source_dir).tensors
    output_tensors = load_checkpoint(output_dir).tensors
    source_prefix = f"{prefix}.{source_layer}."
    output_prefix = f"{prefix}.{layer}."
    mismatches = 0
    for name in sorted(n for n in output_tensors if n.startswith(output_prefix)):
        suffix = name[len(output_prefix):]
        out_bytes = output_tensors[name].data_bytes
        src = source_tensors.get(source_prefix + suffix)
        same = src is not None and src.data_bytes == out_bytes
        mismatches += 0 if same else 1
        digest = hashlib.sha256(out_bytes).hexdigest()[:16]
        verdict = f"== source layer {source_layer}" if same else "DIFFERS"
        print(f"  {name:<60} sha256 {digest}  {verdict}")
    print("all tensors match" if mismatches == 0 else f"{mismatches} tensors differ")
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
