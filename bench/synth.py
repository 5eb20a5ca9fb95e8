"""Synthetic checkpoints for the rysc benchmark (standard library only).

Three generators:

* write_hf_checkpoint: a Qwen3.6-style Hugging Face folder with 64 hybrid decoder
  layers under model.language_model.layers.N, a 27-block vision tower, one mtp.* layer,
  BF16 weights and several shards with an index. Its widths scale with one unit, which
  is chosen so that the tensor bytes come close to a requested size.
* write_gguf_checkpoint: a qwen35 GGUF file of the same design (block_count 65 with
  one NextN block, full_attention_interval 4), scaled the same way.
* write_sparse_moe_checkpoint: a qwen3_5_moe folder with many shards whose data
  sections are holes (created by truncate), for timing `rysc plan`, which reads only
  config.json, the index and the headers.

Tensor bytes come from a random pool (os.urandom) read as an endless periodic stream.
Each tensor starts at its own pool offset, so no two tensors of a checkpoint have equal
bytes unless the checkpoint has more tensors than the pool has bytes. The bytes are
written with write(), so they take real disk blocks. They are random, so BF16 values
include NaN and infinity bit patterns, which a byte copy does not care about.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

STACK_PREFIX = "model.language_model.layers"
NUM_LAYERS = 64
FULL_ATTENTION_INTERVAL = 4
VISION_DEPTH = 27
DTYPE_SIZES = {"BF16": 2, "F32": 4}
GGUF_TYPE_IDS = {"F32": 0, "BF16": 30}
GGUF_ALIGNMENT = 32


@dataclass(frozen=True)
class Tensor:
    """Name, dtype and shape of one tensor. HF shapes are row-major, and GGUF dims put ne[0] first."""

    name: str
    dtype: str
    shape: tuple

    @property
    def nbytes(self) -> int:
        count = 1
        for size in self.shape:
            count *= size
        return count * DTYPE_SIZES[self.dtype]


@dataclass(frozen=True)
class Widths:
    """Model widths derived from one unit u, with ratios chosen for this benchmark.

    Hidden size 40u, MLP 136u, vocabulary 1940u unless fixed_vocab is set. Attention
    has 24 query heads and 4 key-value heads of width 2u. Linear attention has 16 key
    heads and 48 value heads of width u. The vision tower is 9u wide.
    """

    unit: int
    fixed_vocab: int = 0

    @property
    def hidden(self) -> int:
        return 40 * self.unit

    @property
    def intermediate(self) -> int:
        return 136 * self.unit

    @property
    def vocab(self) -> int:
        return self.fixed_vocab or 1940 * self.unit

    @property
    def head_dim(self) -> int:
        return 2 * self.unit

    heads = 24
    kv_heads = 4
    linear_key_heads = 16
    linear_value_heads = 48
    conv_kernel = 4

    @property
    def linear_head_dim(self) -> int:
        return self.unit

    @property
    def key_dim(self) -> int:
        return self.linear_key_heads * self.linear_head_dim

    @property
    def value_dim(self) -> int:
        return self.linear_value_heads * self.linear_head_dim

    @property
    def conv_dim(self) -> int:
        return 2 * self.key_dim + self.value_dim

    @property
    def vision_hidden(self) -> int:
        return 9 * self.unit

    @property
    def vision_intermediate(self) -> int:
        return 34 * self.unit


def layer_type(index: int) -> str:
    """Return the Qwen3.5/3.6 layer type: full attention where (i + 1) % 4 == 0."""
    return "full_attention" if (index + 1) % FULL_ATTENTION_INTERVAL == 0 else "linear_attention"


# ---------------------------------------------------------------------------
# Tensor bytes


class ByteStream:
    """Writes tensor bytes from a random pool, each tensor at its own pool offset."""

    # An odd step is coprime with the power-of-two pool size, so the first pool_size
    # tensors get distinct start offsets.
    OFFSET_STEP = 1_048_573

    def __init__(self, pool_size: int = 32 << 20):
        self.pool_size = pool_size
        pool = os.urandom(pool_size)
        self.doubled = memoryview(pool + pool)
        self.tensor_count = 0

    def write_tensor(self, file, nbytes: int) -> None:
        """Write nbytes of the next tensor to an unbuffered binary file."""
        start = self.tensor_count * self.OFFSET_STEP % self.pool_size
        self.tensor_count += 1
        while nbytes:
            count = min(nbytes, self.pool_size)
            write_all(file, self.doubled[start : start + count])
            nbytes -= count
            start = (start + count) % self.pool_size


def write_all(file, data) -> None:
    """Write all of data to an unbuffered file, which may accept fewer bytes per call."""
    view = memoryview(data)
    while view:
        written = file.write(view)
        view = view[written:]


# ---------------------------------------------------------------------------
# Safetensors


def safetensors_order(tensors: Sequence[Tensor]) -> list:
    """Return tensors in the data order of the safetensors library: F32 before BF16, then by name.

    The library's prepare() in safetensors/src/tensor.rs sorts by dtype, descending in
    its Dtype enum where F32 follows BF16, and then by name.
    """
    rank = {"BF16": 1, "F32": 0}
    return sorted(tensors, key=lambda tensor: (rank[tensor.dtype], tensor.name))


def safetensors_header(tensors: Sequence[Tensor], metadata: dict) -> bytes:
    """Encode the length field and JSON header of a file that stores tensors in the given order.

    As the safetensors library writes it, __metadata__ comes first and the tensors follow
    in data order. Spaces pad the header so that the data section starts at a multiple
    of 8 bytes.
    """
    header = {"__metadata__": metadata}
    offset = 0
    for tensor in tensors:
        header[tensor.name] = {
            "dtype": tensor.dtype,
            "shape": list(tensor.shape),
            "data_offsets": [offset, offset + tensor.nbytes],
        }
        offset += tensor.nbytes
    encoded = json.dumps(header, separators=(",", ":")).encode("utf-8")
    encoded += b" " * ((-(8 + len(encoded))) % 8)
    return struct.pack("<Q", len(encoded)) + encoded


def split_by_size(tensors: Sequence[Tensor], count: int) -> list:
    """Split tensors, in order, into count contiguous groups of about equal byte size."""
    total = sum(tensor.nbytes for tensor in tensors)
    groups = [[] for _ in range(count)]
    written = 0
    for tensor in tensors:
        groups[min(count - 1, written * count // total)].append(tensor)
        written += tensor.nbytes
    return [group for group in groups if group]


def shard_names(count: int) -> list:
    return [f"model-{k:05d}-of-{count:05d}.safetensors" for k in range(1, count + 1)]


def dump_json(value) -> bytes:
    """Encode JSON as transformers saves config.json and the index: indent 2, sorted keys."""
    return (json.dumps(value, indent=2, sort_keys=True) + "\n").encode("utf-8")


# ---------------------------------------------------------------------------
# Hugging Face layout


def hf_linear_attention(prefix: str, w: Widths) -> list:
    return [
        Tensor(f"{prefix}.A_log", "F32", (w.linear_value_heads,)),
        Tensor(f"{prefix}.conv1d.weight", "BF16", (w.conv_dim, 1, w.conv_kernel)),
        Tensor(f"{prefix}.dt_bias", "BF16", (w.linear_value_heads,)),
        Tensor(f"{prefix}.in_proj_a.weight", "BF16", (w.linear_value_heads, w.hidden)),
        Tensor(f"{prefix}.in_proj_b.weight", "BF16", (w.linear_value_heads, w.hidden)),
        Tensor(f"{prefix}.in_proj_qkv.weight", "BF16", (w.conv_dim, w.hidden)),
        Tensor(f"{prefix}.in_proj_z.weight", "BF16", (w.value_dim, w.hidden)),
        Tensor(f"{prefix}.norm.weight", "BF16", (w.linear_head_dim,)),
        Tensor(f"{prefix}.out_proj.weight", "BF16", (w.hidden, w.value_dim)),
    ]


def hf_full_attention(prefix: str, w: Widths) -> list:
    """Return gated attention tensors: q_proj is twice as wide because it also yields the output gate."""
    query = w.heads * w.head_dim
    kv = w.kv_heads * w.head_dim
    return [
        Tensor(f"{prefix}.q_proj.weight", "BF16", (2 * query, w.hidden)),
        Tensor(f"{prefix}.k_proj.weight", "BF16", (kv, w.hidden)),
        Tensor(f"{prefix}.v_proj.weight", "BF16", (kv, w.hidden)),
        Tensor(f"{prefix}.o_proj.weight", "BF16", (w.hidden, query)),
        Tensor(f"{prefix}.q_norm.weight", "BF16", (w.head_dim,)),
        Tensor(f"{prefix}.k_norm.weight", "BF16", (w.head_dim,)),
    ]


def hf_decoder_layer(prefix: str, kind: str, w: Widths) -> list:
    if kind == "linear_attention":
        mixer = hf_linear_attention(f"{prefix}.linear_attn", w)
    else:
        mixer = hf_full_attention(f"{prefix}.self_attn", w)
    return (
        [Tensor(f"{prefix}.input_layernorm.weight", "BF16", (w.hidden,))]
        + mixer
        + [
            Tensor(f"{prefix}.post_attention_layernorm.weight", "BF16", (w.hidden,)),
            Tensor(f"{prefix}.mlp.gate_proj.weight", "BF16", (w.intermediate, w.hidden)),
            Tensor(f"{prefix}.mlp.up_proj.weight", "BF16", (w.intermediate, w.hidden)),
            Tensor(f"{prefix}.mlp.down_proj.weight", "BF16", (w.hidden, w.intermediate)),
        ]
    )


def hf_vision_tower(w: Widths) -> list:
    hidden = w.vision_hidden
    merged = 4 * hidden
    tensors = [
        Tensor("model.visual.patch_embed.proj.weight", "BF16", (hidden, 3, 2, 16, 16)),
        Tensor("model.visual.patch_embed.proj.bias", "BF16", (hidden,)),
        Tensor("model.visual.pos_embed.weight", "BF16", (2304, hidden)),
    ]
    for block in range(VISION_DEPTH):
        prefix = f"model.visual.blocks.{block}"
        for name, shape in (
            ("norm1", (hidden,)),
            ("attn.qkv", (3 * hidden, hidden)),
            ("attn.proj", (hidden, hidden)),
            ("norm2", (hidden,)),
            ("mlp.linear_fc1", (w.vision_intermediate, hidden)),
            ("mlp.linear_fc2", (hidden, w.vision_intermediate)),
        ):
            tensors.append(Tensor(f"{prefix}.{name}.weight", "BF16", shape))
            tensors.append(Tensor(f"{prefix}.{name}.bias", "BF16", shape[:1]))
    for name, shape in (
        ("merger.norm", (hidden,)),
        ("merger.linear_fc1", (merged, merged)),
        ("merger.linear_fc2", (w.hidden, merged)),
    ):
        tensors.append(Tensor(f"model.visual.{name}.weight", "BF16", shape))
        tensors.append(Tensor(f"model.visual.{name}.bias", "BF16", shape[:1]))
    return tensors


def hf_mtp(w: Widths) -> list:
    return [
        Tensor("mtp.fc.weight", "BF16", (w.hidden, 2 * w.hidden)),
        Tensor("mtp.norm.weight", "BF16", (w.hidden,)),
        Tensor("mtp.pre_fc_norm_embedding.weight", "BF16", (w.hidden,)),
        Tensor("mtp.pre_fc_norm_hidden.weight", "BF16", (w.hidden,)),
    ] + hf_decoder_layer("mtp.layers.0", "full_attention", w)


def hf_language_model(w: Widths) -> list:
    tensors = [Tensor("model.language_model.embed_tokens.weight", "BF16", (w.vocab, w.hidden))]
    for index in range(NUM_LAYERS):
        tensors += hf_decoder_layer(f"{STACK_PREFIX}.{index}", layer_type(index), w)
    tensors.append(Tensor("model.language_model.norm.weight", "BF16", (w.hidden,)))
    tensors.append(Tensor("lm_head.weight", "BF16", (w.vocab, w.hidden)))
    return tensors


def hf_tensors(w: Widths) -> list:
    return hf_language_model(w) + hf_vision_tower(w) + hf_mtp(w)


def hf_config(w: Widths) -> dict:
    text_config = {
        "attn_output_gate": True,
        "dtype": "bfloat16",
        "full_attention_interval": FULL_ATTENTION_INTERVAL,
        "head_dim": w.head_dim,
        "hidden_act": "silu",
        "hidden_size": w.hidden,
        "intermediate_size": w.intermediate,
        "layer_types": [layer_type(index) for index in range(NUM_LAYERS)],
        "linear_conv_kernel_dim": w.conv_kernel,
        "linear_key_head_dim": w.linear_head_dim,
        "linear_num_key_heads": w.linear_key_heads,
        "linear_num_value_heads": w.linear_value_heads,
        "linear_value_head_dim": w.linear_head_dim,
        "max_position_embeddings": 262144,
        "model_type": "qwen3_5_text",
        "mtp_num_hidden_layers": 1,
        "num_attention_heads": w.heads,
        "num_hidden_layers": NUM_LAYERS,
        "num_key_value_heads": w.kv_heads,
        "rms_norm_eps": 1e-06,
        "tie_word_embeddings": False,
        "vocab_size": w.vocab,
    }
    vision_config = {
        "depth": VISION_DEPTH,
        "hidden_size": w.vision_hidden,
        "in_channels": 3,
        "intermediate_size": w.vision_intermediate,
        "model_type": "qwen3_5",
        "num_position_embeddings": 2304,
        "out_hidden_size": w.hidden,
        "patch_size": 16,
        "spatial_merge_size": 2,
        "temporal_patch_size": 2,
    }
    return {
        "architectures": ["Qwen3_5ForConditionalGeneration"],
        "model_type": "qwen3_5",
        "text_config": text_config,
        "tie_word_embeddings": False,
        "vision_config": vision_config,
    }


def token_strings(count: int) -> list:
    return [f"tok{index}" for index in range(count)]


def hf_side_files(w: Widths) -> dict:
    """Return the non-weight files: a tokenizer.json whose vocabulary matches the embedding, and small configs."""
    tokens = token_strings(w.vocab)
    tokenizer = {
        "version": "1.0",
        "model": {
            "type": "BPE",
            "vocab": {token: index for index, token in enumerate(tokens)},
            "merges": [f"{tokens[i]} {tokens[i + 1]}" for i in range(0, w.vocab - 1, 2)],
        },
    }
    return {
        "generation_config.json": dump_json({"do_sample": True, "temperature": 0.6, "top_k": 20, "top_p": 0.95}),
        "tokenizer_config.json": dump_json({"model_max_length": 262144, "tokenizer_class": "Qwen2Tokenizer"}),
        "tokenizer.json": json.dumps(tokenizer).encode("utf-8"),
    }


def write_hf_checkpoint(folder: Path, w: Widths, text_shards: int) -> dict:
    """Write the HF folder: text_shards language shards, then a vision shard and an MTP shard.

    Returns the tensor and shard counts and the bytes written. folder must not exist.
    """
    folder.mkdir(parents=True)
    groups = split_by_size(hf_language_model(w), text_shards) + [hf_vision_tower(w), hf_mtp(w)]
    names = shard_names(len(groups))
    stream = ByteStream()
    weight_map = {}
    total_size = 0
    for name, group in zip(names, groups):
        ordered = safetensors_order(group)
        with open(folder / name, "wb", buffering=0) as file:
            write_all(file, safetensors_header(ordered, {"format": "pt"}))
            for tensor in ordered:
                stream.write_tensor(file, tensor.nbytes)
                weight_map[tensor.name] = name
                total_size += tensor.nbytes
    index = {"metadata": {"total_size": total_size}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / "model.safetensors.index.json").write_bytes(dump_json(index))
    (folder / "config.json").write_bytes(dump_json(hf_config(w)))
    for name, data in hf_side_files(w).items():
        (folder / name).write_bytes(data)
    return {"tensors": len(weight_map), "shards": len(names), "bytes": folder_size(folder)}


def folder_size(path: Path) -> int:
    """Return the total apparent size of the regular files under path, or of path itself if it is a file."""
    if path.is_file():
        return path.stat().st_size
    return sum(item.stat().st_size for item in path.rglob("*") if item.is_file())


# ---------------------------------------------------------------------------
# GGUF layout (llama.cpp tensor names of the qwen35 architecture)


def gguf_string(text: str) -> bytes:
    encoded = text.encode("utf-8")
    return struct.pack("<Q", len(encoded)) + encoded


GGUF_SCALARS = {"UINT32": (4, "<I"), "INT32": (5, "<i"), "FLOAT32": (6, "<f"), "BOOL": (7, "<?")}
GGUF_STRING, GGUF_ARRAY = 8, 9


def gguf_value(type_name: str, value) -> bytes:
    """Encode a value type id and a value: a scalar, a STRING or ("ARRAY", (element type, elements))."""
    if type_name == "STRING":
        return struct.pack("<i", GGUF_STRING) + gguf_string(value)
    if type_name == "ARRAY":
        element_type, elements = value
        head = struct.pack("<iiQ", GGUF_ARRAY, GGUF_STRING if element_type == "STRING" else GGUF_SCALARS[element_type][0], len(elements))
        if element_type == "STRING":
            return head + b"".join(gguf_string(element) for element in elements)
        return head + struct.pack(f"<{len(elements)}{GGUF_SCALARS[element_type][1][1]}", *elements)
    type_id, fmt = GGUF_SCALARS[type_name]
    return struct.pack("<i", type_id) + struct.pack(fmt, value)


def pad_to(size: int, alignment: int) -> int:
    return (size + alignment - 1) // alignment * alignment


def gguf_header(metadata: Sequence[tuple], tensors: Sequence[Tensor]) -> bytes:
    """Encode a GGUF v3 header up to the data section, padded with zeros to the alignment."""
    parts = [b"GGUF", struct.pack("<Iqq", 3, len(tensors), len(metadata))]
    for key, type_name, value in metadata:
        parts.append(gguf_string(key) + gguf_value(type_name, value))
    offset = 0
    for tensor in tensors:
        parts.append(gguf_string(tensor.name) + struct.pack("<I", len(tensor.shape)))
        parts.append(struct.pack(f"<{len(tensor.shape)}q", *tensor.shape))
        parts.append(struct.pack("<iQ", GGUF_TYPE_IDS[tensor.dtype], offset))
        offset += pad_to(tensor.nbytes, GGUF_ALIGNMENT)
    head = b"".join(parts)
    return head + bytes(pad_to(len(head), GGUF_ALIGNMENT) - len(head))


def gguf_block(index: int, w: Widths, mtp: bool) -> list:
    prefix = f"blk.{index}"
    h = w.hidden
    tensors = [Tensor(f"{prefix}.attn_norm.weight", "F32", (h,))]
    if not mtp and layer_type(index) == "linear_attention":
        heads = w.linear_value_heads
        tensors += [
            Tensor(f"{prefix}.attn_qkv.weight", "BF16", (h, w.conv_dim)),
            Tensor(f"{prefix}.attn_gate.weight", "BF16", (h, w.value_dim)),
            Tensor(f"{prefix}.ssm_conv1d.weight", "F32", (w.conv_kernel, w.conv_dim)),
            Tensor(f"{prefix}.ssm_dt.bias", "F32", (heads,)),
            Tensor(f"{prefix}.ssm_a", "F32", (heads,)),
            Tensor(f"{prefix}.ssm_alpha.weight", "BF16", (h, heads)),
            Tensor(f"{prefix}.ssm_beta.weight", "BF16", (h, heads)),
            Tensor(f"{prefix}.ssm_norm.weight", "F32", (w.linear_head_dim,)),
            Tensor(f"{prefix}.ssm_out.weight", "BF16", (w.value_dim, h)),
        ]
    else:
        query = w.heads * w.head_dim
        kv = w.kv_heads * w.head_dim
        tensors += [
            Tensor(f"{prefix}.attn_q.weight", "BF16", (h, 2 * query)),
            Tensor(f"{prefix}.attn_k.weight", "BF16", (h, kv)),
            Tensor(f"{prefix}.attn_v.weight", "BF16", (h, kv)),
            Tensor(f"{prefix}.attn_output.weight", "BF16", (query, h)),
            Tensor(f"{prefix}.attn_q_norm.weight", "F32", (w.head_dim,)),
            Tensor(f"{prefix}.attn_k_norm.weight", "F32", (w.head_dim,)),
        ]
    tensors += [
        Tensor(f"{prefix}.post_attention_norm.weight", "F32", (h,)),
        Tensor(f"{prefix}.ffn_gate.weight", "BF16", (h, w.intermediate)),
        Tensor(f"{prefix}.ffn_up.weight", "BF16", (h, w.intermediate)),
        Tensor(f"{prefix}.ffn_down.weight", "BF16", (w.intermediate, h)),
    ]
    if mtp:
        tensors += [
            Tensor(f"{prefix}.nextn.eh_proj.weight", "BF16", (2 * h, h)),
            Tensor(f"{prefix}.nextn.enorm.weight", "F32", (h,)),
            Tensor(f"{prefix}.nextn.hnorm.weight", "F32", (h,)),
            Tensor(f"{prefix}.nextn.shared_head_norm.weight", "F32", (h,)),
        ]
    return tensors


def gguf_tensors(w: Widths) -> list:
    tensors = [Tensor("token_embd.weight", "BF16", (w.hidden, w.vocab))]
    for index in range(NUM_LAYERS + 1):
        tensors += gguf_block(index, w, mtp=index == NUM_LAYERS)
    tensors.append(Tensor("output_norm.weight", "F32", (w.hidden,)))
    tensors.append(Tensor("output.weight", "BF16", (w.hidden, w.vocab)))
    return tensors


def gguf_metadata(w: Widths) -> list:
    """Return qwen35 metadata with the keys of tests/fixtures/generate_gguf.py and a tokenizer as long as the vocabulary."""
    arch = "qwen35"
    tokens = token_strings(w.vocab)
    return [
        ("general.architecture", "STRING", arch),
        ("general.type", "STRING", "model"),
        ("general.name", "STRING", "rysc benchmark qwen35"),
        (f"{arch}.block_count", "UINT32", NUM_LAYERS + 1),
        (f"{arch}.context_length", "UINT32", 262144),
        (f"{arch}.embedding_length", "UINT32", w.hidden),
        (f"{arch}.feed_forward_length", "UINT32", w.intermediate),
        (f"{arch}.attention.head_count", "UINT32", w.heads),
        (f"{arch}.attention.head_count_kv", "UINT32", w.kv_heads),
        (f"{arch}.rope.freq_base", "FLOAT32", 10000000.0),
        (f"{arch}.attention.layer_norm_rms_epsilon", "FLOAT32", 1e-6),
        (f"{arch}.rope.dimension_sections", "ARRAY", ("INT32", [11, 11, 10, 0])),
        (f"{arch}.attention.key_length", "UINT32", w.head_dim),
        (f"{arch}.attention.value_length", "UINT32", w.head_dim),
        (f"{arch}.rope.dimension_count", "UINT32", 64),
        (f"{arch}.ssm.conv_kernel", "UINT32", w.conv_kernel),
        (f"{arch}.ssm.state_size", "UINT32", w.linear_head_dim),
        (f"{arch}.ssm.group_count", "UINT32", w.linear_key_heads),
        (f"{arch}.ssm.time_step_rank", "UINT32", w.linear_value_heads),
        (f"{arch}.ssm.inner_size", "UINT32", w.value_dim),
        (f"{arch}.full_attention_interval", "UINT32", FULL_ATTENTION_INTERVAL),
        (f"{arch}.nextn_predict_layers", "UINT32", 1),
        ("general.file_type", "UINT32", 32),
        ("tokenizer.ggml.model", "STRING", "gpt2"),
        ("tokenizer.ggml.pre", "STRING", "qwen35"),
        ("tokenizer.ggml.tokens", "ARRAY", ("STRING", tokens)),
        ("tokenizer.ggml.token_type", "ARRAY", ("INT32", [1] * len(tokens))),
        ("tokenizer.ggml.merges", "ARRAY", ("STRING", [f"{tokens[i]} {tokens[i + 1]}" for i in range(0, len(tokens) - 1, 2)])),
        ("tokenizer.ggml.eos_token_id", "UINT32", 0),
        ("general.quantization_version", "UINT32", 2),
    ]


def write_gguf_checkpoint(path: Path, w: Widths) -> dict:
    """Write the qwen35 GGUF file and return its tensor count and size."""
    tensors = gguf_tensors(w)
    stream = ByteStream()
    with open(path, "xb", buffering=0) as file:
        write_all(file, gguf_header(gguf_metadata(w), tensors))
        for tensor in tensors:
            stream.write_tensor(file, tensor.nbytes)
            write_all(file, bytes(pad_to(tensor.nbytes, GGUF_ALIGNMENT) - tensor.nbytes))
    return {"tensors": len(tensors), "shards": 1, "bytes": path.stat().st_size}


def gguf_size(w: Widths) -> int:
    tensors = gguf_tensors(w)
    return len(gguf_header(gguf_metadata(w), tensors)) + sum(pad_to(t.nbytes, GGUF_ALIGNMENT) for t in tensors)


def hf_size(w: Widths) -> int:
    """Return the tensor bytes of the HF layout, without headers and side files."""
    return sum(tensor.nbytes for tensor in hf_tensors(w))


def fit_unit(target_bytes: int, size_of: Callable[[Widths], int]) -> Widths:
    """Return the widths whose size is closest to target_bytes (sizes grow with the unit)."""
    unit = 1
    while size_of(Widths(unit + 1)) <= target_bytes:
        unit += 1
    below, above = Widths(unit), Widths(unit + 1)
    if abs(size_of(above) - target_bytes) < abs(size_of(below) - target_bytes):
        return above
    return below


# ---------------------------------------------------------------------------
# Sparse mixture-of-experts checkpoint for `rysc plan`


MOE_WIDTHS = Widths(102)
MOE_HIDDEN = MOE_WIDTHS.hidden
MOE_EXPERT_WIDTH = 1024


def moe_decoder_layer(prefix: str, kind: str, experts: int) -> list:
    """Return one qwen3_5_moe layer: attention or linear attention, router, shared expert and per-expert MLPs."""
    h = MOE_HIDDEN
    w = MOE_WIDTHS
    if kind == "linear_attention":
        mixer = hf_linear_attention(f"{prefix}.linear_attn", w)
    else:
        mixer = hf_full_attention(f"{prefix}.self_attn", w)
    tensors = [Tensor(f"{prefix}.input_layernorm.weight", "BF16", (h,))] + mixer
    tensors.append(Tensor(f"{prefix}.post_attention_layernorm.weight", "BF16", (h,)))
    tensors.append(Tensor(f"{prefix}.mlp.gate.weight", "BF16", (experts, h)))
    for expert in range(experts):
        base = f"{prefix}.mlp.experts.{expert}"
        tensors.append(Tensor(f"{base}.gate_proj.weight", "BF16", (MOE_EXPERT_WIDTH, h)))
        tensors.append(Tensor(f"{base}.up_proj.weight", "BF16", (MOE_EXPERT_WIDTH, h)))
        tensors.append(Tensor(f"{base}.down_proj.weight", "BF16", (h, MOE_EXPERT_WIDTH)))
    for name, shape in (
        ("gate_proj", (MOE_EXPERT_WIDTH, h)),
        ("up_proj", (MOE_EXPERT_WIDTH, h)),
        ("down_proj", (h, MOE_EXPERT_WIDTH)),
    ):
        tensors.append(Tensor(f"{prefix}.mlp.shared_expert.{name}.weight", "BF16", shape))
    tensors.append(Tensor(f"{prefix}.mlp.shared_expert_gate.weight", "BF16", (1, h)))
    return tensors


def moe_config(experts: int) -> dict:
    config = hf_config(MOE_WIDTHS)
    config["model_type"] = "qwen3_5_moe"
    config["architectures"] = ["Qwen3_5MoeForConditionalGeneration"]
    text = config["text_config"]
    text.update(
        {
            "model_type": "qwen3_5_moe_text",
            "moe_intermediate_size": MOE_EXPERT_WIDTH,
            "num_experts": experts,
            "num_experts_per_tok": 10,
            "shared_expert_intermediate_size": MOE_EXPERT_WIDTH,
        }
    )
    del text["intermediate_size"]
    return config


def moe_tensors(experts: int) -> list:
    w = MOE_WIDTHS
    vocab = w.vocab
    tensors = [Tensor("model.language_model.embed_tokens.weight", "BF16", (vocab, MOE_HIDDEN))]
    for index in range(NUM_LAYERS):
        tensors += moe_decoder_layer(f"{STACK_PREFIX}.{index}", layer_type(index), experts)
    tensors.append(Tensor("model.language_model.norm.weight", "BF16", (MOE_HIDDEN,)))
    tensors.append(Tensor("lm_head.weight", "BF16", (vocab, MOE_HIDDEN)))
    tensors += hf_vision_tower(w)
    tensors += [
        Tensor("mtp.fc.weight", "BF16", (MOE_HIDDEN, 2 * MOE_HIDDEN)),
        Tensor("mtp.norm.weight", "BF16", (MOE_HIDDEN,)),
        Tensor("mtp.pre_fc_norm_embedding.weight", "BF16", (MOE_HIDDEN,)),
        Tensor("mtp.pre_fc_norm_hidden.weight", "BF16", (MOE_HIDDEN,)),
    ]
    tensors += moe_decoder_layer("mtp.layers.0", "full_attention", experts)
    return tensors


def write_sparse_moe_checkpoint(folder: Path, shards: int, experts: int) -> dict:
    """Write a qwen3_5_moe folder whose shards are real headers followed by holes.

    Each data section is created with truncate, so it reads as zeros and takes no disk
    blocks. Returns the tensor and shard counts, the header bytes and the apparent size.
    """
    folder.mkdir(parents=True)
    groups = split_by_size(moe_tensors(experts), shards)
    names = shard_names(len(groups))
    weight_map = {}
    header_bytes = 0
    apparent = 0
    for name, group in zip(names, groups):
        ordered = safetensors_order(group)
        header = safetensors_header(ordered, {"format": "pt"})
        size = len(header) + sum(tensor.nbytes for tensor in ordered)
        with open(folder / name, "wb") as file:
            file.write(header)
            file.truncate(size)
        header_bytes += len(header)
        apparent += size
        for tensor in ordered:
            weight_map[tensor.name] = name
    total = sum(tensor.nbytes for group in groups for tensor in group)
    index = {"metadata": {"total_size": total}, "weight_map": dict(sorted(weight_map.items()))}
    (folder / "model.safetensors.index.json").write_bytes(dump_json(index))
    (folder / "config.json").write_bytes(dump_json(moe_config(experts)))
    return {
        "tensors": len(weight_map),
        "shards": len(names),
        "header_bytes": header_bytes,
        "apparent_bytes": apparent,
        "json_bytes": (folder / "model.safetensors.index.json").stat().st_size + (folder / "config.json").stat().st_size,
    }
