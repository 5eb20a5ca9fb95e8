"""Output checks for the rysc benchmark.

Two levels:

* strict_check_* read whole files with the independent strict readers of
  tests/fixtures (safetensors_io, gguf_io) and compare every output tensor with the
  source tensor it must come from. They are for the few-MiB smoke run.
* spot_check compares a handful of tensors by byte range, reading in chunks, so that
  multi-GiB outputs can be checked without loading whole files.

Every check returns a list of problem descriptions; an empty list means it passed.
"""

from __future__ import annotations

import filecmp
import json
import re
import struct
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "fixtures"))

import gguf_io  # noqa: E402
import safetensors_io  # noqa: E402

HF_LAYER = re.compile(r"^model\.language_model\.layers\.(\d+)\.(.+)$")
GGUF_BLOCK = re.compile(r"^blk\.(\d+)\.(.+)$")
CHUNK = 16 << 20


def source_layers(trunk: int, start: int, end: int) -> list:
    """Return the source layer of every output layer for `duplicate blocks[start:end] after`."""
    return list(range(end)) + list(range(start, end)) + list(range(end, trunk))


def expected_hf_source(name: str, mapping: list) -> str:
    match = HF_LAYER.match(name)
    if not match:
        return name
    return f"model.language_model.layers.{mapping[int(match[1])]}.{match[2]}"


def expected_gguf_source(name: str, mapping: list, trunk: int) -> str:
    """Map blk.N of the output to its source block. Blocks after the trunk are the MTP blocks."""
    match = GGUF_BLOCK.match(name)
    if not match:
        return name
    block = int(match[1])
    source = mapping[block] if block < len(mapping) else trunk + block - len(mapping)
    return f"blk.{source}.{match[2]}"


# ---------------------------------------------------------------------------
# Strict whole-file checks (smoke run)


def read_hf_tensors(folder: Path) -> dict:
    """Read every shard of a folder with the strict reader and return name -> TensorRecord."""
    tensors = {}
    for path in sorted(folder.glob("*.safetensors")):
        _, records = safetensors_io.read_safetensors(path)
        tensors.update(records)
    return tensors


def strict_check_hf(source: Path, out: Path, mapping: list) -> list:
    problems = []
    try:
        src = read_hf_tensors(source)
        dst = read_hf_tensors(out)
    except ValueError as error:
        return [f"strict safetensors reader: {error}"]
    expected_names = set()
    for name, record in dst.items():
        origin = expected_hf_source(name, mapping)
        expected_names.add(name)
        if origin not in src:
            problems.append(f"{out}: tensor {name} has no source tensor {origin}")
        elif record.data_bytes != src[origin].data_bytes:
            problems.append(f"{out}: tensor {name} differs from source tensor {origin}")
    per_layer = {}
    for name in src:
        match = HF_LAYER.match(name)
        key = int(match[1]) if match else None
        per_layer[key] = per_layer.get(key, 0) + 1
    expected_count = per_layer.get(None, 0) + sum(per_layer[layer] for layer in mapping)
    if len(dst) != expected_count:
        problems.append(f"{out}: {len(dst)} tensors, expected {expected_count}")

    return problems + check_hf_config(source, out, mapping)


def check_hf_config(source: Path, out: Path, mapping: list) -> list:
    """Check num_hidden_layers and that text_config.layer_types follows the layer map."""
    problems = []
    config = json.loads((out / "config.json").read_text())["text_config"]
    source_types = json.loads((source / "config.json").read_text())["text_config"]["layer_types"]
    if config["num_hidden_layers"] != len(mapping):
        problems.append(f"{out}/config.json: num_hidden_layers is {config['num_hidden_layers']}, expected {len(mapping)}")
    if config["layer_types"] != [source_types[layer] for layer in mapping]:
        problems.append(f"{out}/config.json: layer_types does not follow the layer map")
    return problems


def strict_check_gguf(source: Path, out: Path, mapping: list, trunk: int) -> list:
    problems = []
    try:
        src = gguf_io.read_gguf(source)
        dst = gguf_io.read_gguf(out)
    except ValueError as error:
        return [f"strict GGUF reader: {error}"]
    for name, record in dst.tensors.items():
        origin = expected_gguf_source(name, mapping, trunk)
        if origin not in src.tensors:
            problems.append(f"{out}: tensor {name} has no source tensor {origin}")
        elif record.data_bytes != src.tensors[origin].data_bytes:
            problems.append(f"{out}: tensor {name} differs from source tensor {origin}")
    block_count = dst.metadata.get("qwen35.block_count", (None, None))[1]
    expected_blocks = len(mapping) + src.metadata["qwen35.block_count"][1] - trunk
    if block_count != expected_blocks:
        problems.append(f"{out}: qwen35.block_count is {block_count}, expected {expected_blocks}")
    return problems


def same_bytes(source: Path, out: Path) -> list:
    """Compare a file or every file of a folder byte for byte (the check for cp outputs)."""
    if source.is_file():
        return [] if filecmp.cmp(source, out, shallow=False) else [f"{out} differs from {source}"]
    problems = []
    for path in sorted(source.rglob("*")):
        if path.is_file():
            copy = out / path.relative_to(source)
            if not copy.is_file() or not filecmp.cmp(path, copy, shallow=False):
                problems.append(f"{copy} differs from {path}")
    return problems


def compare_outputs(first: dict, second: dict, label: str) -> list:
    """Compare two name -> record maps from the strict readers by tensor bytes."""
    problems = []
    if set(first) != set(second):
        problems.append(f"{label}: tensor names differ ({len(set(first) ^ set(second))} names in only one)")
    for name in set(first) & set(second):
        if first[name].data_bytes != second[name].data_bytes:
            problems.append(f"{label}: tensor {name} differs")
    return problems


# ---------------------------------------------------------------------------
# Range-based spot checks (large runs)


def hf_ranges(folder: Path) -> dict:
    """Return name -> (path, absolute offset, size) from the headers of a folder's shards."""
    ranges = {}
    for path in sorted(folder.glob("*.safetensors")):
        with open(path, "rb") as file:
            (length,) = struct.unpack("<Q", file.read(8))
            header = json.loads(file.read(length))
        header.pop("__metadata__", None)
        for name, entry in header.items():
            begin, end = entry["data_offsets"]
            ranges[name] = (path, 8 + length + begin, end - begin)
    return ranges


def gguf_ranges(path: Path) -> tuple:
    """Return (metadata of UINT32 keys, name -> (path, absolute offset, size)) of a GGUF file."""
    scalar_sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
    type_sizes = {0: (1, 4), 1: (1, 2), 30: (1, 2)}
    with open(path, "rb") as file:

        def unpack(fmt):
            return struct.unpack(fmt, file.read(struct.calcsize(fmt)))[0]

        def skip_value(type_id):
            if type_id == 8:
                file.seek(unpack("<Q"), 1)
            elif type_id == 9:
                element_type, count = unpack("<i"), unpack("<Q")
                if element_type in scalar_sizes:
                    file.seek(count * scalar_sizes[element_type], 1)
                else:
                    for _ in range(count):
                        skip_value(element_type)
            else:
                file.seek(scalar_sizes[type_id], 1)

        file.read(8)
        tensor_count, kv_count = unpack("<q"), unpack("<q")
        uint32_values = {}
        for _ in range(kv_count):
            key = file.read(unpack("<Q")).decode("utf-8")
            type_id = unpack("<i")
            if type_id == 4:
                uint32_values[key] = unpack("<I")
            else:
                skip_value(type_id)
        infos = []
        for _ in range(tensor_count):
            name = file.read(unpack("<Q")).decode("utf-8")
            dims = [unpack("<q") for _ in range(unpack("<I"))]
            type_id, offset = unpack("<i"), unpack("<Q")
            count = 1
            for size in dims:
                count *= size
            block, block_bytes = type_sizes[type_id]
            infos.append((name, offset, count // block * block_bytes))
        alignment = uint32_values.get("general.alignment", 32)
        data_start = (file.tell() + alignment - 1) // alignment * alignment
    return uint32_values, {name: (path, data_start + offset, size) for name, offset, size in infos}


def same_range(first: tuple, second: tuple) -> bool:
    (path_a, offset_a, size_a), (path_b, offset_b, size_b) = first, second
    if size_a != size_b:
        return False
    with open(path_a, "rb") as file_a, open(path_b, "rb") as file_b:
        file_a.seek(offset_a)
        file_b.seek(offset_b)
        remaining = size_a
        while remaining:
            count = min(CHUNK, remaining)
            if file_a.read(count) != file_b.read(count):
                return False
            remaining -= count
    return True


def spot_check(form: str, source: Path, out: Path, mapping: list, trunk: int) -> list:
    """Compare the seam layers (19, 20, 24, 25), the last layer, the MTP block and the embeddings."""
    if form == "hf":
        src, dst = hf_ranges(source), hf_ranges(out)
        picked = [name for name in dst if not HF_LAYER.match(name)][:3]
        layers = [19, 20, 24, 25, len(mapping) - 1]
        picked += [name for name in dst if (m := HF_LAYER.match(name)) and int(m[1]) in layers]
        problems = check_hf_config(source, out, mapping)
        origin = lambda name: expected_hf_source(name, mapping)  # noqa: E731
    else:
        metadata, dst = gguf_ranges(out)
        _, src = gguf_ranges(source)
        blocks = [19, 20, 24, 25, len(mapping) - 1, len(mapping)]
        picked = [name for name in dst if not GGUF_BLOCK.match(name)]
        picked += [name for name in dst if (m := GGUF_BLOCK.match(name)) and int(m[1]) in blocks]
        problems = []
        expected_blocks = len(mapping) + 1
        if metadata.get("qwen35.block_count") != expected_blocks:
            problems.append(f"{out}: qwen35.block_count is {metadata.get('qwen35.block_count')}, expected {expected_blocks}")
        origin = lambda name: expected_gguf_source(name, mapping, trunk)  # noqa: E731
    for name in picked:
        source_name = origin(name)
        if source_name not in src:
            problems.append(f"{out}: tensor {name} has no source tensor {source_name}")
        elif not same_range(dst[name], src[source_name]):
            problems.append(f"{out}: tensor {name} differs from source tensor {source_name}")
    if not picked:
        problems.append(f"{out}: no tensors to check")
    return problems
