#!/usr/bin/env python3
"""Duplicate a window of decoder layers the straightforward way: read each tensor, write it.

This is the hand-written baseline of the rysc benchmark. It handles the benchmark's
checkpoints only: a Hugging Face folder with model.safetensors.index.json and layers
under model.language_model.layers.N, or a qwen35 GGUF file whose last
nextn_predict_layers blocks are MTP blocks. For every output tensor it seeks to the
source tensor, reads it whole into memory and writes it to the output file. It
updates the layer count and text_config.layer_types (GGUF: block_count and an added
qwen35.attention.recurrent_layers list) and copies the other files of a folder.

Usage:
  naive_copy.py SRC_FOLDER OUT_FOLDER --window 15:20
  naive_copy.py SRC.gguf OUT.gguf --window 15:20

The copy of layers START..END-1 is inserted after layer END-1, as
`duplicate blocks[START:END] after;` does in a rysc recipe.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import struct
import sys
from pathlib import Path

HF_STACK = re.compile(r"^model\.language_model\.layers\.(\d+)\.(.+)$")
GGUF_BLOCK = re.compile(r"^blk\.(\d+)\.(.+)$")


def layer_map(count: int, start: int, end: int) -> list:
    """Return the source layer of every output layer."""
    return list(range(end)) + list(range(start, end)) + list(range(end, count))


# ---------------------------------------------------------------------------
# Hugging Face folder


def read_safetensors_header(path: Path) -> tuple:
    """Return (data section offset, header dict) of a safetensors file."""
    with open(path, "rb") as file:
        (length,) = struct.unpack("<Q", file.read(8))
        header = json.loads(file.read(length))
    return 8 + length, header


def encode_safetensors_header(entries: list, metadata) -> bytes:
    header = {"__metadata__": metadata} if metadata is not None else {}
    offset = 0
    for name, dtype, shape, nbytes in entries:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + nbytes]}
        offset += nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((-(8 + len(encoded))) % 8)
    return struct.pack("<Q", len(encoded)) + encoded


def copy_hf(source: Path, out: Path, start: int, end: int) -> None:
    config = json.loads((source / "config.json").read_text())
    text = config["text_config"]
    index = json.loads((source / "model.safetensors.index.json").read_text())
    shard_names = sorted(set(index["weight_map"].values()))

    # name -> (shard path, absolute offset, size, dtype, shape), in file order.
    tensors = {}
    metadata = None
    max_shard = 0
    for shard in shard_names:
        data_start, header = read_safetensors_header(source / shard)
        metadata = header.pop("__metadata__", metadata)
        max_shard = max(max_shard, (source / shard).stat().st_size)
        for name, entry in sorted(header.items(), key=lambda item: item[1]["data_offsets"][0]):
            begin, stop = entry["data_offsets"]
            tensors[name] = (source / shard, data_start + begin, stop - begin, entry["dtype"], entry["shape"])

    by_layer = {}
    outputs = []
    for name in tensors:
        match = HF_STACK.match(name)
        if match:
            by_layer.setdefault(int(match[1]), []).append((match[2], name))
        else:
            outputs.append((name, name))
    mapping = layer_map(text["num_hidden_layers"], start, end)
    for out_layer, src_layer in enumerate(mapping):
        for suffix, name in by_layer[src_layer]:
            outputs.append((f"model.language_model.layers.{out_layer}.{suffix}", name))

    # Fill shards in order up to the largest source shard.
    shards = [[]]
    filled = 0
    for out_name, src_name in outputs:
        size = tensors[src_name][2]
        if shards[-1] and filled + size > max_shard:
            shards.append([])
            filled = 0
        shards[-1].append((out_name, src_name))
        filled += size

    out.mkdir(parents=True)
    weight_map = {}
    total = 0
    for number, group in enumerate(shards, start=1):
        shard_name = f"model-{number:05d}-of-{len(shards):05d}.safetensors"
        entries = [(o, tensors[s][3], tensors[s][4], tensors[s][2]) for o, s in group]
        with open(out / shard_name, "wb") as writer:
            writer.write(encode_safetensors_header(entries, metadata))
            for out_name, src_name in group:
                path, offset, size, _, _ = tensors[src_name]
                with open(path, "rb") as reader:
                    reader.seek(offset)
                    writer.write(reader.read(size))
                weight_map[out_name] = shard_name
                total += size

    text["num_hidden_layers"] = len(mapping)
    text["layer_types"] = [text["layer_types"][layer] for layer in mapping]
    (out / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    new_index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (out / "model.safetensors.index.json").write_text(json.dumps(new_index, indent=2) + "\n")
    skipped = {"config.json", "model.safetensors.index.json", *shard_names}
    for path in source.iterdir():
        if path.is_file() and path.name not in skipped:
            shutil.copyfile(path, out / path.name)


# ---------------------------------------------------------------------------
# GGUF file

SCALAR_FORMATS = {0: "<B", 1: "<b", 2: "<H", 3: "<h", 4: "<I", 5: "<i", 6: "<f", 7: "<?", 10: "<Q", 11: "<q", 12: "<d"}
STRING_TYPE, ARRAY_TYPE, UINT32_TYPE, BOOL_TYPE = 8, 9, 4, 7
# ggml type id -> (block size in elements, bytes per block) for the types the benchmark writes.
GGML_BLOCKS = {0: (1, 4), 1: (1, 2), 30: (1, 2)}


class Reader:
    def __init__(self, file):
        self.file = file

    def unpack(self, fmt: str):
        return struct.unpack(fmt, self.file.read(struct.calcsize(fmt)))[0]

    def string(self) -> str:
        return self.file.read(self.unpack("<Q")).decode("utf-8")

    def raw_value(self, type_id: int) -> bytes:
        """Return the encoded bytes of one value of type_id, without its type id."""
        if type_id == STRING_TYPE:
            length = self.file.read(8)
            return length + self.file.read(struct.unpack("<Q", length)[0])
        if type_id == ARRAY_TYPE:
            head = self.file.read(12)
            element_type, count = struct.unpack("<iQ", head)
            return head + b"".join(self.raw_value(element_type) for _ in range(count))
        return self.file.read(struct.calcsize(SCALAR_FORMATS[type_id]))


def encode_string(text: str) -> bytes:
    encoded = text.encode("utf-8")
    return struct.pack("<Q", len(encoded)) + encoded


def pad_to(size: int, alignment: int) -> int:
    return (size + alignment - 1) // alignment * alignment


def copy_gguf(source: Path, out: Path, start: int, end: int) -> None:
    with open(source, "rb") as file:
        reader = Reader(file)
        if file.read(4) != b"GGUF":
            raise SystemExit(f"{source}: not a GGUF file")
        version, tensor_count, kv_count = struct.unpack("<Iqq", file.read(20))
        pairs = []
        for _ in range(kv_count):
            key = reader.string()
            type_id = reader.unpack("<i")
            pairs.append([key, type_id, reader.raw_value(type_id)])
        infos = []
        for _ in range(tensor_count):
            name = reader.string()
            dims = [reader.unpack("<q") for _ in range(reader.unpack("<I"))]
            type_id = reader.unpack("<i")
            offset = reader.unpack("<Q")
            infos.append((name, dims, type_id, offset))
        info_end = file.tell()

    values = {key: (type_id, raw) for key, type_id, raw in pairs}
    arch = values["general.architecture"][1][8:].decode("utf-8")
    alignment = struct.unpack("<I", values["general.alignment"][1])[0] if "general.alignment" in values else 32
    data_start = pad_to(info_end, alignment)
    blocks = struct.unpack("<I", values[f"{arch}.block_count"][1])[0]
    mtp = struct.unpack("<I", values[f"{arch}.nextn_predict_layers"][1])[0]
    interval = struct.unpack("<I", values[f"{arch}.full_attention_interval"][1])[0]
    trunk = blocks - mtp
    mapping = layer_map(trunk, start, end)

    by_block = {}
    outputs = []
    for name, dims, type_id, offset in infos:
        match = GGUF_BLOCK.match(name)
        if match:
            by_block.setdefault(int(match[1]), []).append((match[2], name, dims, type_id, offset))
        else:
            outputs.append((name, dims, type_id, offset))
    block_sources = mapping + list(range(trunk, blocks))
    for out_block, src_block in enumerate(block_sources):
        for suffix, _, dims, type_id, offset in by_block[src_block]:
            outputs.append((f"blk.{out_block}.{suffix}", dims, type_id, offset))

    recurrent = [(src + 1) % interval != 0 for src in mapping] + [False] * mtp
    for pair in pairs:
        if pair[0] == f"{arch}.block_count":
            pair[2] = struct.pack("<I", len(block_sources))
    pairs.append([
        f"{arch}.attention.recurrent_layers",
        ARRAY_TYPE,
        struct.pack("<iQ", BOOL_TYPE, len(recurrent)) + bytes(recurrent),
    ])

    parts = [b"GGUF", struct.pack("<Iqq", version, len(outputs), len(pairs))]
    parts += [encode_string(key) + struct.pack("<i", type_id) + raw for key, type_id, raw in pairs]
    offset = 0
    sizes = []
    for name, dims, type_id, _ in outputs:
        block_size, block_bytes = GGML_BLOCKS[type_id]
        count = 1
        for size in dims:
            count *= size
        nbytes = count // block_size * block_bytes
        sizes.append(nbytes)
        parts.append(encode_string(name) + struct.pack(f"<I{len(dims)}q", len(dims), *dims))
        parts.append(struct.pack("<iQ", type_id, offset))
        offset += pad_to(nbytes, alignment)
    head = b"".join(parts)

    with open(source, "rb") as reader, open(out, "xb") as writer:
        writer.write(head + bytes(pad_to(len(head), alignment) - len(head)))
        for (_, _, _, src_offset), nbytes in zip(outputs, sizes):
            reader.seek(data_start + src_offset)
            writer.write(reader.read(nbytes))
            writer.write(bytes(pad_to(nbytes, alignment) - nbytes))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("source", type=Path, help="HF checkpoint folder or GGUF file")
    parser.add_argument("out", type=Path, help="output folder or GGUF file; must not exist")
    parser.add_argument("--window", default="15:20", help="layers START:END to duplicate (default 15:20)")
    args = parser.parse_args(argv)
    start, end = (int(part) for part in args.window.split(":"))
    if args.out.exists():
        parser.error(f"{args.out} already exists")
    if args.source.is_dir():
        copy_hf(args.source, args.out, start, end)
    else:
        copy_gguf(args.source, args.out, start, end)
    return 0


if __name__ == "__main__":
    sys.exit(main())
