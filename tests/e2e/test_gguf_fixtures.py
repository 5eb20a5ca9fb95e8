"""Tests of the GGUF fixture generator and the strict GGUF and imatrix readers.

Run from tests/e2e: python3 -m unittest -v test_gguf_fixtures
"""

import hashlib
import math
import os
import re
import struct
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
sys.path.insert(0, str(FIXTURES_DIR))

import generate_gguf  # noqa: E402
from gguf_io import (  # noqa: E402
    GGML_TYPES,
    parse_gguf,
    read_gguf,
    read_gguf_split,
    read_imatrix_dat,
    serialize_gguf,
    serialize_imatrix_dat,
    write_gguf,
)

MAX_FIXTURE_BYTES = 2 * 1024 * 1024


def f32(value: float) -> float:
    """Round value to single precision, as a FLOAT32 key stores it."""
    return struct.unpack("<f", struct.pack("<f", value))[0]


def block_index(name: str):
    """Return N for a blk.N.* tensor name, else None."""
    match = re.match(r"blk\.(\d+)\.", name)
    return int(match.group(1)) if match else None


def block_suffixes(tensor_names) -> dict:
    """Map each block index to the set of tensor-name suffixes after blk.N."""
    blocks = {}
    for name in tensor_names:
        index = block_index(name)
        if index is not None:
            blocks.setdefault(index, set()).add(name[len(f"blk.{index}."):])
    return blocks


def key_types(gguf) -> list:
    """Return [(key, type name, element type name or None)] in file order."""
    result = []
    for key, (type_name, value) in gguf.metadata.items():
        result.append((key, type_name, value[0] if type_name == "ARRAY" else None))
    return result


def value(gguf, key):
    return gguf.metadata[key][1]


# Keys shared by the llama, qwen35 and glm4moe fixtures, in file order, with {arch} for the prefix.
ATTENTION_KEYS = [
    ("{arch}.block_count", "UINT32", None),
    ("{arch}.context_length", "UINT32", None),
    ("{arch}.embedding_length", "UINT32", None),
    ("{arch}.feed_forward_length", "UINT32", None),
    ("{arch}.attention.head_count", "UINT32", None),
    ("{arch}.attention.head_count_kv", "UINT32", None),
    ("{arch}.rope.freq_base", "FLOAT32", None),
    ("{arch}.attention.layer_norm_rms_epsilon", "FLOAT32", None),
]
GENERAL_KEYS = [
    ("general.architecture", "STRING", None),
    ("general.type", "STRING", None),
    ("general.name", "STRING", None),
]
SPM_TOKENIZER_KEYS = [
    ("tokenizer.ggml.model", "STRING", None),
    ("tokenizer.ggml.pre", "STRING", None),
    ("tokenizer.ggml.tokens", "ARRAY", "STRING"),
    ("tokenizer.ggml.scores", "ARRAY", "FLOAT32"),
    ("tokenizer.ggml.token_type", "ARRAY", "INT32"),
    ("tokenizer.ggml.bos_token_id", "UINT32", None),
    ("tokenizer.ggml.eos_token_id", "UINT32", None),
    ("tokenizer.ggml.unknown_token_id", "UINT32", None),
    ("tokenizer.ggml.add_bos_token", "BOOL", None),
    ("tokenizer.ggml.add_eos_token", "BOOL", None),
]
BPE_TOKENIZER_KEYS = [
    ("tokenizer.ggml.model", "STRING", None),
    ("tokenizer.ggml.pre", "STRING", None),
    ("tokenizer.ggml.tokens", "ARRAY", "STRING"),
    ("tokenizer.ggml.token_type", "ARRAY", "INT32"),
    ("tokenizer.ggml.merges", "ARRAY", "STRING"),
]


def with_arch(keys, arch):
    return [(key.format(arch=arch), type_name, element) for key, type_name, element in keys]


LLAMA_KEYS = (
    GENERAL_KEYS
    + with_arch(ATTENTION_KEYS, "llama")
    + [("llama.rope.dimension_count", "UINT32", None), ("llama.vocab_size", "UINT32", None)]
    + [("general.file_type", "UINT32", None)]
    + SPM_TOKENIZER_KEYS
    + [("general.quantization_version", "UINT32", None)]
)
QWEN35_KEYS = (
    GENERAL_KEYS
    + with_arch(ATTENTION_KEYS, "qwen35")
    + [
        ("qwen35.rope.dimension_sections", "ARRAY", "INT32"),
        ("qwen35.attention.key_length", "UINT32", None),
        ("qwen35.attention.value_length", "UINT32", None),
        ("qwen35.rope.dimension_count", "UINT32", None),
        ("qwen35.ssm.conv_kernel", "UINT32", None),
        ("qwen35.ssm.state_size", "UINT32", None),
        ("qwen35.ssm.group_count", "UINT32", None),
        ("qwen35.ssm.time_step_rank", "UINT32", None),
        ("qwen35.ssm.inner_size", "UINT32", None),
        ("qwen35.full_attention_interval", "UINT32", None),
        ("qwen35.nextn_predict_layers", "UINT32", None),
        ("general.file_type", "UINT32", None),
    ]
    + BPE_TOKENIZER_KEYS
    + [
        ("tokenizer.ggml.eos_token_id", "UINT32", None),
        ("tokenizer.ggml.padding_token_id", "UINT32", None),
        ("tokenizer.ggml.bos_token_id", "UINT32", None),
        ("tokenizer.ggml.add_bos_token", "BOOL", None),
        ("tokenizer.chat_template", "STRING", None),
        ("general.quantization_version", "UINT32", None),
    ]
)
GLM4MOE_KEYS = (
    GENERAL_KEYS
    + with_arch(ATTENTION_KEYS, "glm4moe")
    + [
        ("glm4moe.expert_used_count", "UINT32", None),
        ("glm4moe.attention.key_length", "UINT32", None),
        ("glm4moe.attention.value_length", "UINT32", None),
        ("glm4moe.rope.dimension_count", "UINT32", None),
        ("glm4moe.expert_count", "UINT32", None),
        ("glm4moe.expert_feed_forward_length", "UINT32", None),
        ("glm4moe.expert_shared_count", "UINT32", None),
        ("glm4moe.leading_dense_block_count", "UINT32", None),
        ("glm4moe.expert_gating_func", "UINT32", None),
        ("glm4moe.expert_weights_scale", "FLOAT32", None),
        ("glm4moe.expert_weights_norm", "BOOL", None),
        ("glm4moe.nextn_predict_layers", "UINT32", None),
        ("general.file_type", "UINT32", None),
    ]
    + BPE_TOKENIZER_KEYS
    + [
        ("tokenizer.ggml.eos_token_id", "UINT32", None),
        ("tokenizer.ggml.padding_token_id", "UINT32", None),
        ("tokenizer.ggml.bos_token_id", "UINT32", None),
        ("tokenizer.ggml.eot_token_id", "UINT32", None),
        ("tokenizer.ggml.add_bos_token", "BOOL", None),
        ("general.quantization_version", "UINT32", None),
    ]
)

LLAMA_BLOCK_SUFFIXES = {
    "attn_norm.weight", "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight",
    "ffn_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
}
QWEN35_SHARED_SUFFIXES = {
    "attn_norm.weight", "post_attention_norm.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
}
QWEN35_LINEAR_SUFFIXES = {
    "attn_qkv.weight", "attn_gate.weight", "ssm_conv1d.weight", "ssm_dt.bias", "ssm_a",
    "ssm_alpha.weight", "ssm_beta.weight", "ssm_norm.weight", "ssm_out.weight",
}
QWEN35_FULL_SUFFIXES = {
    "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight", "attn_q_norm.weight", "attn_k_norm.weight",
}
NEXTN_SUFFIXES = {
    "nextn.eh_proj.weight", "nextn.enorm.weight", "nextn.hnorm.weight", "nextn.shared_head_norm.weight",
}
QWEN35_FULL_LAYERS = list(range(3, 64, 4))
GLM4MOE_ATTENTION_SUFFIXES = {
    "attn_norm.weight", "attn_q.weight", "attn_q.bias", "attn_k.weight", "attn_k.bias", "attn_v.weight",
    "attn_v.bias", "attn_output.weight", "post_attention_norm.weight",
}
GLM4MOE_DENSE_SUFFIXES = {"ffn_gate.weight", "ffn_up.weight", "ffn_down.weight"}
GLM4MOE_MOE_SUFFIXES = {
    "ffn_gate_inp.weight", "exp_probs_b.bias", "ffn_gate_exps.weight", "ffn_up_exps.weight",
    "ffn_down_exps.weight", "ffn_gate_shexp.weight", "ffn_up_shexp.weight", "ffn_down_shexp.weight",
}
QWEN35_IMATRIX_SUFFIXES = {
    "attn_q.weight", "attn_k.weight", "attn_v.weight", "attn_output.weight", "attn_qkv.weight", "attn_gate.weight",
    "ssm_alpha.weight", "ssm_beta.weight", "ssm_out.weight", "ffn_gate.weight", "ffn_up.weight", "ffn_down.weight",
}


class FixtureChecks:
    """Checks shared by every fixture. A subclass also derives from unittest.TestCase and sets fixture_name."""

    fixture_name = None

    @classmethod
    def setUpClass(cls):
        cls.tempdir = tempfile.TemporaryDirectory(prefix=f"rysc-gguf-{cls.fixture_name}-")
        cls.folder = Path(cls.tempdir.name) / cls.fixture_name
        started = time.monotonic()
        cls.fixture, cls.paths = generate_gguf.generate(cls.fixture_name, cls.folder)
        cls.generation_seconds = time.monotonic() - started

    @classmethod
    def tearDownClass(cls):
        cls.tempdir.cleanup()

    def read(self):
        self.assertEqual(len(self.paths), 1)
        return read_gguf(self.paths[0])

    def test_files_under_size_limit(self):
        total = sum(path.stat().st_size for path in self.paths)
        self.assertLess(total, MAX_FIXTURE_BYTES)
        self.assertEqual(sorted(path.name for path in self.folder.iterdir()), sorted(self.fixture.file_names))

    def test_generation_time_recorded(self):
        # Generation is expected to take well under a second. The value is printed, not
        # asserted, because a loaded CI machine can be much slower.
        print(f"\n{self.fixture_name}: generated in {self.generation_seconds:.2f} s", file=sys.stderr)
        self.assertGreater(self.generation_seconds, 0)


class ModelFixtureChecks(FixtureChecks):
    """Checks for single-file model fixtures."""

    expected_keys = None
    arch = None

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gguf = read_gguf(cls.paths[0])

    def test_key_names_and_types_exact(self):
        self.assertEqual(key_types(self.gguf), self.expected_keys)

    def test_architecture_and_tensor_order(self):
        self.assertEqual(value(self.gguf, "general.architecture"), self.arch)
        names = list(self.gguf.tensors)
        self.assertEqual(names[0], "token_embd.weight")
        self.assertEqual(names[-2:], ["output_norm.weight", "output.weight"])
        indices = [block_index(name) for name in names[1:-2]]
        self.assertEqual(indices, sorted(indices), "blocks are stored in ascending order")
        self.assertEqual(set(indices), set(range(value(self.gguf, f"{self.arch}.block_count"))))

    def test_tensor_bytes_unique(self):
        digests = {}
        for name, record in self.gguf.tensors.items():
            digest = hashlib.sha256(record.data_bytes).digest()
            self.assertNotIn(digest, digests, f"{name} has the same bytes as {digests.get(digest)}")
            digests[digest] = name

    def test_tensor_bytes_from_name(self):
        for name, record in self.gguf.tensors.items():
            spec = generate_gguf.TensorSpec(name, record.type_name, record.dims)
            self.assertEqual(record.data_bytes, generate_gguf.tensor_data(spec), name)

    def test_float_values_finite(self):
        formats = {"F32": "f", "F16": "e"}
        for name, record in self.gguf.tensors.items():
            if record.type_name in formats:
                code = formats[record.type_name]
                count = len(record.data_bytes) // struct.calcsize(code)
                values = struct.unpack(f"<{count}{code}", record.data_bytes)
                self.assertTrue(all(math.isfinite(v) for v in values), name)

    def test_rewrite_reproduces_file(self):
        metadata = [(key, type_name, val) for key, (type_name, val) in self.gguf.metadata.items()]
        tensors = [(name, r.dims, r.type_name, r.data_bytes) for name, r in self.gguf.tensors.items()]
        self.assertEqual(serialize_gguf(metadata, tensors, version=self.gguf.version), self.paths[0].read_bytes())

    def test_vocabulary_matches_embedding(self):
        tokens = value(self.gguf, "tokenizer.ggml.tokens")[1]
        self.assertEqual(len(tokens), len(set(tokens)))
        self.assertEqual(len(value(self.gguf, "tokenizer.ggml.token_type")[1]), len(tokens))
        n_embd = value(self.gguf, f"{self.arch}.embedding_length")
        self.assertEqual(self.gguf.tensors["token_embd.weight"].dims, (n_embd, len(tokens)))
        self.assertEqual(self.gguf.tensors["output.weight"].dims, (n_embd, len(tokens)))
        self.assertEqual(self.gguf.tensors["output_norm.weight"].dims, (n_embd,))


class LlamaFixtureTest(ModelFixtureChecks, unittest.TestCase):
    fixture_name = "llama"
    arch = "llama"
    expected_keys = LLAMA_KEYS

    def test_hyperparameters(self):
        self.assertEqual(self.gguf.version, 3)
        self.assertEqual(self.gguf.alignment, 32)
        self.assertNotIn("general.alignment", self.gguf.metadata)
        self.assertEqual(value(self.gguf, "llama.block_count"), 16)
        self.assertEqual(value(self.gguf, "llama.feed_forward_length"), 64)
        self.assertEqual(value(self.gguf, "llama.attention.head_count"), 4)
        self.assertEqual(value(self.gguf, "llama.attention.head_count_kv"), 2)
        self.assertEqual(value(self.gguf, "llama.attention.layer_norm_rms_epsilon"), f32(1e-5))
        self.assertEqual(value(self.gguf, "general.file_type"), 1)
        self.assertEqual(value(self.gguf, "tokenizer.ggml.model"), "llama")

    def test_block_tensors_and_types(self):
        blocks = block_suffixes(self.gguf.tensors)
        self.assertEqual(sorted(blocks), list(range(16)))
        for index, suffixes in blocks.items():
            self.assertEqual(suffixes, LLAMA_BLOCK_SUFFIXES, f"block {index}")
        self.assertEqual(len(self.gguf.tensors), 16 * 9 + 3)
        for name, record in self.gguf.tensors.items():
            expected = "F32" if name.endswith("norm.weight") else "F16"
            self.assertEqual(record.type_name, expected, name)

    def test_shapes_follow_hyperparameters(self):
        tensors = self.gguf.tensors
        self.assertEqual(tensors["blk.0.attn_q.weight"].dims, (32, 32))
        self.assertEqual(tensors["blk.0.attn_k.weight"].dims, (32, 16))
        self.assertEqual(tensors["blk.0.attn_v.weight"].dims, (32, 16))
        self.assertEqual(tensors["blk.0.attn_output.weight"].dims, (32, 32))
        self.assertEqual(tensors["blk.0.ffn_gate.weight"].dims, (32, 64))
        self.assertEqual(tensors["blk.0.ffn_down.weight"].dims, (64, 32))


class Qwen35FixtureTest(ModelFixtureChecks, unittest.TestCase):
    fixture_name = "qwen35"
    arch = "qwen35"
    expected_keys = QWEN35_KEYS

    def test_hyperparameters(self):
        self.assertEqual(value(self.gguf, "qwen35.block_count"), 65)
        self.assertEqual(value(self.gguf, "qwen35.nextn_predict_layers"), 1)
        self.assertEqual(value(self.gguf, "qwen35.full_attention_interval"), 4)
        self.assertEqual(value(self.gguf, "qwen35.rope.dimension_sections"), ("INT32", [1, 1, 0, 0]))
        self.assertEqual(value(self.gguf, "qwen35.attention.layer_norm_rms_epsilon"), f32(1e-6))
        self.assertEqual(value(self.gguf, "tokenizer.ggml.pre"), "qwen35")
        self.assertNotIn("qwen35.attention.recurrent_layers", self.gguf.metadata)

    def test_layer_kinds_follow_interval(self):
        blocks = block_suffixes(self.gguf.tensors)
        self.assertEqual(sorted(blocks), list(range(65)))
        for index in range(64):
            mixer = QWEN35_FULL_SUFFIXES if index in QWEN35_FULL_LAYERS else QWEN35_LINEAR_SUFFIXES
            self.assertEqual(blocks[index], QWEN35_SHARED_SUFFIXES | mixer, f"block {index}")
        self.assertEqual(blocks[64], QWEN35_SHARED_SUFFIXES | QWEN35_FULL_SUFFIXES | NEXTN_SUFFIXES, "MTP block")
        nextn_blocks = {block_index(name) for name in self.gguf.tensors if ".nextn." in name}
        self.assertEqual(nextn_blocks, {64})

    def test_linear_shapes_follow_ssm_keys(self):
        n_embd = value(self.gguf, "qwen35.embedding_length")
        state = value(self.gguf, "qwen35.ssm.state_size")
        groups = value(self.gguf, "qwen35.ssm.group_count")
        rank = value(self.gguf, "qwen35.ssm.time_step_rank")
        kernel = value(self.gguf, "qwen35.ssm.conv_kernel")
        self.assertEqual(value(self.gguf, "qwen35.ssm.inner_size"), state * rank)
        conv_dim = 2 * state * groups + state * rank
        tensors = self.gguf.tensors
        self.assertEqual(tensors["blk.0.attn_qkv.weight"].dims, (n_embd, conv_dim))
        self.assertEqual(tensors["blk.0.attn_gate.weight"].dims, (n_embd, state * rank))
        self.assertEqual(tensors["blk.0.ssm_conv1d.weight"].dims, (kernel, conv_dim))
        self.assertEqual(tensors["blk.0.ssm_dt.bias"].dims, (rank,))
        self.assertEqual(tensors["blk.0.ssm_a"].dims, (rank,))
        self.assertEqual(tensors["blk.0.ssm_alpha.weight"].dims, (n_embd, rank))
        self.assertEqual(tensors["blk.0.ssm_beta.weight"].dims, (n_embd, rank))
        self.assertEqual(tensors["blk.0.ssm_norm.weight"].dims, (state,))
        self.assertEqual(tensors["blk.0.ssm_out.weight"].dims, (state * rank, n_embd))
        for suffix in ("ssm_conv1d.weight", "ssm_dt.bias", "ssm_a", "ssm_norm.weight"):
            self.assertEqual(tensors[f"blk.0.{suffix}"].type_name, "F32", suffix)

    def test_full_attention_shapes(self):
        n_embd = value(self.gguf, "qwen35.embedding_length")
        head_dim = value(self.gguf, "qwen35.attention.key_length")
        n_head = value(self.gguf, "qwen35.attention.head_count")
        n_head_kv = value(self.gguf, "qwen35.attention.head_count_kv")
        for index in (3, 64):
            tensors = self.gguf.tensors
            self.assertEqual(tensors[f"blk.{index}.attn_q.weight"].dims, (n_embd, 2 * n_head * head_dim))
            self.assertEqual(tensors[f"blk.{index}.attn_k.weight"].dims, (n_embd, n_head_kv * head_dim))
            self.assertEqual(tensors[f"blk.{index}.attn_output.weight"].dims, (n_head * head_dim, n_embd))
            self.assertEqual(tensors[f"blk.{index}.attn_q_norm.weight"].dims, (head_dim,))
        self.assertEqual(self.gguf.tensors["blk.64.nextn.eh_proj.weight"].dims, (2 * n_embd, n_embd))


class Qwen35RecurrentFixtureTest(ModelFixtureChecks, unittest.TestCase):
    fixture_name = "qwen35_recurrent"
    arch = "qwen35"
    expected_keys = (
        QWEN35_KEYS[: QWEN35_KEYS.index(("qwen35.full_attention_interval", "UINT32", None)) + 1]
        + [("qwen35.attention.recurrent_layers", "ARRAY", "BOOL")]
        + QWEN35_KEYS[QWEN35_KEYS.index(("qwen35.nextn_predict_layers", "UINT32", None)):]
    )

    def test_recurrent_layers_array(self):
        element_type, kinds = value(self.gguf, "qwen35.attention.recurrent_layers")
        self.assertEqual(element_type, "BOOL")
        self.assertEqual(len(kinds), value(self.gguf, "qwen35.block_count"))
        expected = [index not in QWEN35_FULL_LAYERS for index in range(64)] + [False]
        self.assertEqual(kinds, expected)

    def test_tensors_equal_qwen35_fixture(self):
        with tempfile.TemporaryDirectory() as scratch:
            _, paths = generate_gguf.generate("qwen35", Path(scratch) / "qwen35")
            plain = read_gguf(paths[0])
        self.assertEqual(list(plain.tensors), list(self.gguf.tensors))
        for name, record in plain.tensors.items():
            self.assertEqual(record.data_bytes, self.gguf.tensors[name].data_bytes, name)


class Glm4moeFixtureTest(ModelFixtureChecks, unittest.TestCase):
    fixture_name = "glm4moe"
    arch = "glm4moe"
    expected_keys = GLM4MOE_KEYS

    def test_hyperparameters(self):
        self.assertEqual(value(self.gguf, "glm4moe.block_count"), 9)
        self.assertEqual(value(self.gguf, "glm4moe.nextn_predict_layers"), 1)
        self.assertEqual(value(self.gguf, "glm4moe.leading_dense_block_count"), 1)
        self.assertEqual(value(self.gguf, "glm4moe.expert_count"), 4)
        self.assertEqual(value(self.gguf, "glm4moe.expert_used_count"), 2)
        self.assertIs(value(self.gguf, "glm4moe.expert_weights_norm"), True)

    def test_dense_lead_moe_and_nextn_blocks(self):
        blocks = block_suffixes(self.gguf.tensors)
        self.assertEqual(sorted(blocks), list(range(9)))
        self.assertEqual(blocks[0], GLM4MOE_ATTENTION_SUFFIXES | GLM4MOE_DENSE_SUFFIXES)
        for index in range(1, 8):
            self.assertEqual(blocks[index], GLM4MOE_ATTENTION_SUFFIXES | GLM4MOE_MOE_SUFFIXES, f"block {index}")
        self.assertEqual(blocks[8], GLM4MOE_ATTENTION_SUFFIXES | GLM4MOE_MOE_SUFFIXES | NEXTN_SUFFIXES, "MTP block")

    def test_expert_shapes(self):
        n_embd = value(self.gguf, "glm4moe.embedding_length")
        n_expert = value(self.gguf, "glm4moe.expert_count")
        n_ff_exp = value(self.gguf, "glm4moe.expert_feed_forward_length")
        tensors = self.gguf.tensors
        self.assertEqual(tensors["blk.1.ffn_gate_exps.weight"].dims, (n_embd, n_ff_exp, n_expert))
        self.assertEqual(tensors["blk.1.ffn_up_exps.weight"].dims, (n_embd, n_ff_exp, n_expert))
        self.assertEqual(tensors["blk.1.ffn_down_exps.weight"].dims, (n_ff_exp, n_embd, n_expert))
        self.assertEqual(tensors["blk.1.ffn_gate_inp.weight"].dims, (n_embd, n_expert))
        self.assertEqual(tensors["blk.1.ffn_gate_inp.weight"].type_name, "F32")
        self.assertEqual(tensors["blk.1.exp_probs_b.bias"].dims, (n_expert,))
        n_ff = value(self.gguf, "glm4moe.feed_forward_length")
        self.assertEqual(tensors["blk.0.ffn_gate.weight"].dims, (n_embd, n_ff))


class QuantizedFixtureTest(ModelFixtureChecks, unittest.TestCase):
    fixture_name = "quantized"
    arch = "llama"
    expected_keys = LLAMA_KEYS + [("general.alignment", "UINT32", None)]

    def test_alignment_64_everywhere(self):
        self.assertEqual(value(self.gguf, "general.alignment"), 64)
        self.assertEqual(self.gguf.alignment, 64)
        self.assertEqual(self.gguf.data_offset % 64, 0)
        for name, record in self.gguf.tensors.items():
            self.assertEqual(record.offset % 64, 0, name)

    def test_quantized_types_and_sizes(self):
        types = {record.type_name for record in self.gguf.tensors.values()}
        self.assertEqual(types, {"F32", "Q8_0", "Q4_K", "IQ4_NL"})
        sizes = {entry.name: (entry.block_size, entry.block_bytes) for entry in GGML_TYPES.values()}
        for name, record in self.gguf.tensors.items():
            block_size, block_bytes = sizes[record.type_name]
            self.assertEqual(record.dims[0] % block_size, 0, name)
            self.assertEqual(len(record.data_bytes), math.prod(record.dims) // block_size * block_bytes, name)
        self.assertEqual(self.gguf.tensors["blk.0.attn_q.weight"].type_name, "Q4_K")
        self.assertEqual(len(self.gguf.tensors["blk.0.attn_q.weight"].data_bytes), 256 * 144)
        self.assertEqual(self.gguf.tensors["blk.0.attn_v.weight"].type_name, "Q8_0")
        self.assertEqual(self.gguf.tensors["blk.0.attn_output.weight"].type_name, "IQ4_NL")

    def test_block_scales_finite(self):
        record = self.gguf.tensors["blk.0.attn_q.weight"]
        for start in range(0, len(record.data_bytes), 144):
            scale, minimum = struct.unpack_from("<ee", record.data_bytes, start)
            self.assertTrue(math.isfinite(scale) and math.isfinite(minimum), f"block at byte {start}")


class SplitFixtureTest(FixtureChecks, unittest.TestCase):
    fixture_name = "split"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.split = read_gguf_split(cls.paths[0])
        cls.llama_dir = tempfile.TemporaryDirectory()
        _, llama_paths = generate_gguf.generate("llama", Path(cls.llama_dir.name) / "llama")
        cls.llama = read_gguf(llama_paths[0])

    @classmethod
    def tearDownClass(cls):
        cls.llama_dir.cleanup()
        super().tearDownClass()

    def test_part_names(self):
        self.assertEqual([path.name for path in self.paths],
                         [f"llama-0000{k}-of-00003.gguf" for k in (1, 2, 3)])
        self.assertEqual(self.split.paths, self.paths)

    def test_split_keys_per_part(self):
        for index, part in enumerate(self.split.parts):
            self.assertEqual(part.metadata["split.no"], ("UINT16", index))
            self.assertEqual(part.metadata["split.count"], ("UINT16", 3))
            self.assertEqual(part.metadata["split.tensors.count"], ("INT32", 147))
            self.assertEqual(list(part.metadata)[-3:], ["split.no", "split.count", "split.tensors.count"])
        self.assertEqual(len(self.split.parts[0].metadata), len(self.llama.metadata) + 3)
        for part in self.split.parts[1:]:
            self.assertEqual(len(part.metadata), 3, "later parts carry only the split keys")

    def test_merge_equals_llama_fixture(self):
        self.assertEqual(self.split.metadata, self.llama.metadata)
        self.assertEqual(list(self.split.tensors), list(self.llama.tensors))
        for name, record in self.llama.tensors.items():
            merged = self.split.tensors[name]
            self.assertEqual((merged.dims, merged.type_name, merged.data_bytes),
                             (record.dims, record.type_name, record.data_bytes), name)

    def test_tensors_per_part(self):
        self.assertEqual([len(part.tensors) for part in self.split.parts], [49, 49, 49])
        for part in self.split.parts:
            self.assertEqual(next(iter(part.tensors.values())).offset, 0)
        # 49 = token_embd + 5 blocks of 9 + 3, so block 5 spans parts 1 and 2.
        block5_parts = {self.split.tensor_parts[name] for name in self.split.tensors if block_index(name) == 5}
        self.assertEqual(block5_parts, {0, 1})


class ImatrixDatFixtureTest(FixtureChecks, unittest.TestCase):
    fixture_name = "imatrix_dat"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.imatrix = read_imatrix_dat(cls.paths[0])
        cls.llama_dir = tempfile.TemporaryDirectory()
        _, llama_paths = generate_gguf.generate("llama", Path(cls.llama_dir.name) / "llama")
        cls.llama = read_gguf(llama_paths[0])

    @classmethod
    def tearDownClass(cls):
        cls.llama_dir.cleanup()
        super().tearDownClass()

    def test_entries_cover_llama_matrices(self):
        expected = sorted(
            name for name in self.llama.tensors
            if block_index(name) is not None and not name.endswith("norm.weight")
        )
        self.assertEqual(list(self.imatrix.entries), expected, "one entry per blk matrix, sorted by name")
        self.assertEqual(len(expected), 16 * 7)
        for name, (ncall, values) in self.imatrix.entries.items():
            self.assertEqual(ncall, 100, name)
            self.assertEqual(len(values), self.llama.tensors[name].dims[0], name)
            self.assertTrue(all(v > 0 for v in values), name)
        self.assertEqual(self.imatrix.chunk_count, 100)
        self.assertEqual(self.imatrix.dataset, "calibration-fixture.txt")

    def test_byte_layout(self):
        blob = self.paths[0].read_bytes()
        (count, name_length) = struct.unpack_from("<ii", blob, 0)
        self.assertEqual(count, 112)
        name = blob[8:8 + name_length].decode("utf-8")
        self.assertEqual(name, "blk.0.attn_k.weight")
        ncall, nval = struct.unpack_from("<ii", blob, 8 + name_length)
        self.assertEqual((ncall, nval), (100, 32))
        dataset = b"calibration-fixture.txt"
        self.assertEqual(blob[-(8 + len(dataset)):], struct.pack("<ii", 100, len(dataset)) + dataset)


class ImatrixGgufFixtureTest(FixtureChecks, unittest.TestCase):
    fixture_name = "imatrix_gguf"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.gguf = read_gguf(cls.paths[0])
        cls.qwen_dir = tempfile.TemporaryDirectory()
        _, qwen_paths = generate_gguf.generate("qwen35", Path(cls.qwen_dir.name) / "qwen35")
        cls.qwen = read_gguf(qwen_paths[0])

    @classmethod
    def tearDownClass(cls):
        cls.qwen_dir.cleanup()
        super().tearDownClass()

    def test_keys(self):
        self.assertEqual(key_types(self.gguf), [
            ("general.type", "STRING", None),
            ("imatrix.datasets", "ARRAY", "STRING"),
            ("imatrix.chunk_count", "UINT32", None),
            ("imatrix.chunk_size", "UINT32", None),
        ])
        self.assertEqual(value(self.gguf, "general.type"), "imatrix")
        self.assertNotIn("general.architecture", self.gguf.metadata)

    def test_entries_cover_qwen35_trunk_matrices(self):
        weights = sorted(
            name for name in self.qwen.tensors
            if block_index(name) is not None and block_index(name) < 64
            and name[len(f"blk.{block_index(name)}."):] in QWEN35_IMATRIX_SUFFIXES
        )
        expected = [f"{weight}.{suffix}" for weight in weights for suffix in ("in_sum2", "counts")]
        self.assertEqual(list(self.gguf.tensors), expected)
        self.assertFalse(any(block_index(name) == 64 for name in self.gguf.tensors), "no MTP entries")

    def test_sums_and_counts(self):
        tokens = 100 * 512
        for name, record in self.gguf.tensors.items():
            self.assertEqual(record.type_name, "F32", name)
            values = struct.unpack(f"<{len(record.data_bytes) // 4}f", record.data_bytes)
            if name.endswith(".counts"):
                self.assertEqual(record.dims, (1,), name)
                self.assertEqual(values, (float(tokens),), name)
            else:
                weight = name[: -len(".in_sum2")]
                self.assertEqual(record.dims, (self.qwen.tensors[weight].dims[0],), name)
                self.assertTrue(all(0 < v <= 4.0 * tokens for v in values), name)


class DeterminismTest(unittest.TestCase):
    def test_generating_twice_is_byte_identical(self):
        with tempfile.TemporaryDirectory() as scratch:
            for name in sorted(generate_gguf.FIXTURES):
                with self.subTest(fixture=name):
                    _, first = generate_gguf.generate(name, Path(scratch) / f"{name}-1")
                    _, second = generate_gguf.generate(name, Path(scratch) / f"{name}-2")
                    self.assertEqual([path.name for path in first], [path.name for path in second])
                    for left, right in zip(first, second):
                        self.assertEqual(left.read_bytes(), right.read_bytes(), left.name)


class CommandLineTest(unittest.TestCase):
    def run_cli(self, *args):
        return subprocess.run(
            [sys.executable, str(FIXTURES_DIR / "generate_gguf.py"), *args],
            capture_output=True, text=True, timeout=60, check=False,
        )

    def test_writes_fixture_and_prints_paths(self):
        with tempfile.TemporaryDirectory() as scratch:
            outdir = Path(scratch) / "nested" / "split"
            result = self.run_cli("split", str(outdir))
            self.assertEqual(result.returncode, 0, result.stderr)
            printed = result.stdout.splitlines()
            self.assertEqual(printed, [str(outdir / f"llama-0000{k}-of-00003.gguf") for k in (1, 2, 3)])
            read_gguf_split(printed[0])

    def test_rejects_existing_outdir(self):
        with tempfile.TemporaryDirectory() as scratch:
            result = self.run_cli("llama", scratch)
            self.assertEqual(result.returncode, 2)
            self.assertIn("already exists", result.stderr)
            self.assertEqual(os.listdir(scratch), [])

    def test_rejects_unknown_fixture(self):
        with tempfile.TemporaryDirectory() as scratch:
            result = self.run_cli("gpt5", str(Path(scratch) / "out"))
            self.assertEqual(result.returncode, 2)
            self.assertIn("invalid choice", result.stderr)
            self.assertFalse((Path(scratch) / "out").exists())


# ---------------------------------------------------------------------------
# Reader: files built by a test-local encoder, independent of gguf_io's writer

TYPE_IDS = {"UINT8": 0, "UINT16": 2, "UINT32": 4, "INT32": 5, "FLOAT32": 6, "BOOL": 7, "STRING": 8, "ARRAY": 9,
            "UINT64": 10}
GGML_F32, GGML_F16, GGML_Q8_0 = 0, 1, 8


def raw_string(text) -> bytes:
    encoded = text.encode("utf-8") if isinstance(text, str) else text
    return struct.pack("<Q", len(encoded)) + encoded


def raw_kv(key, type_name, payload: bytes) -> bytes:
    return raw_string(key) + struct.pack("<i", TYPE_IDS[type_name]) + payload


def u32_kv(key, number) -> bytes:
    return raw_kv(key, "UINT32", struct.pack("<I", number))


def str_kv(key, text) -> bytes:
    return raw_kv(key, "STRING", raw_string(text))


def raw_info(name, dims, type_id, offset) -> bytes:
    return (raw_string(name) + struct.pack("<I", len(dims)) + b"".join(struct.pack("<q", d) for d in dims)
            + struct.pack("<iQ", type_id, offset))


# Tensor a: F32 (8,) = 32 bytes at 0; tensor b: F32 (4,) = 16 bytes at 32, padded to 32.
DATA_A = bytes(range(1, 33))
DATA_B = bytes(range(101, 117))
VALID_DATA = DATA_A + DATA_B + bytes(16)
VALID_KVS = [str_kv("general.architecture", "llama"), u32_kv("llama.block_count", 1)]
VALID_INFOS = [raw_info("a", (8,), GGML_F32, 0), raw_info("b", (4,), GGML_F32, 32)]


def raw_gguf(kvs=VALID_KVS, infos=VALID_INFOS, data=VALID_DATA, *, magic=b"GGUF", version=3,
             alignment=32, n_tensors=None, n_kv=None, padding_byte=0):
    """Build GGUF bytes without any validation, padding the head to alignment with padding_byte."""
    count_tensors = len(infos) if n_tensors is None else n_tensors
    count_kv = len(kvs) if n_kv is None else n_kv
    head = magic + struct.pack("<Iqq", version, count_tensors, count_kv) + b"".join(kvs) + b"".join(infos)
    head += bytes([padding_byte]) * ((-len(head)) % alignment)
    return head + data


def nested_array_kv() -> bytes:
    inner = struct.pack("<iQ", TYPE_IDS["INT32"], 1) + struct.pack("<i", 7)
    return raw_kv("bad.nested", "ARRAY", struct.pack("<iQ", TYPE_IDS["ARRAY"], 1) + inner)


NAME_63 = "blk.0." + "x" * 57
NAME_64 = "blk.0." + "x" * 58

# Each case: (label, file bytes, regular expression the ValueError message must match).
READER_REJECTIONS = [
    ("bad magic", raw_gguf(magic=b"GGML"), r"invalid magic b'GGML', expected b'GGUF'"),
    ("version 1", raw_gguf(version=1), r"unsupported GGUF version 1"),
    ("version 4", raw_gguf(version=4), r"unsupported GGUF version 4"),
    ("big-endian version", raw_gguf(version=3 << 24), r"may be big-endian"),
    ("negative tensor count", raw_gguf(n_tensors=-1), r"negative tensor count -1"),
    ("truncated key", raw_gguf()[:30], r"unexpected end of file while reading"),
    (
        "wrong offset",
        raw_gguf(infos=[VALID_INFOS[0], raw_info("b", (4,), GGML_F32, 64)]),
        r"tensor 'b' has offset 64, expected 32",
    ),
    (
        "gap after first tensor",
        raw_gguf(infos=[raw_info("a", (8,), GGML_F32, 0), raw_info("b", (4,), GGML_F32, 40)]),
        r"tensor 'b' has offset 40, expected 32",
    ),
    (
        "shared bytes",
        raw_gguf(infos=[raw_info("a", (8,), GGML_F32, 0), raw_info("b", (4,), GGML_F32, 0)]),
        r"tensor 'b' has offset 0, expected 32",
    ),
    (
        "non-zero first offset",
        raw_gguf(infos=[raw_info("a", (8,), GGML_F32, 32), raw_info("b", (4,), GGML_F32, 64)]),
        r"tensor 'a' has offset 32, expected 0",
    ),
    (
        "non-power-of-two alignment",
        raw_gguf(kvs=VALID_KVS + [u32_kv("general.alignment", 48)], alignment=48),
        r"general.alignment = 48 is not a power of two",
    ),
    (
        "zero alignment",
        raw_gguf(kvs=VALID_KVS + [u32_kv("general.alignment", 0)]),
        r"general.alignment = 0 is not a power of two",
    ),
    (
        "alignment stored as UINT64",
        raw_gguf(kvs=VALID_KVS + [raw_kv("general.alignment", "UINT64", struct.pack("<Q", 32))]),
        r"general.alignment must have type UINT32, got UINT64",
    ),
    (
        "alignment stored as array",
        raw_gguf(kvs=VALID_KVS + [raw_kv("general.alignment", "ARRAY", struct.pack("<iQI", 4, 1, 32))]),
        r"general.alignment must have type UINT32, got ARRAY of UINT32",
    ),
    ("array of arrays", raw_gguf(kvs=VALID_KVS + [nested_array_kv()]), r"key 'bad.nested' is an array of arrays"),
    ("duplicate key", raw_gguf(kvs=VALID_KVS + [u32_kv("llama.block_count", 2)]), r"duplicate key 'llama.block_count'"),
    ("empty key", raw_gguf(kvs=[u32_kv("", 1)]), r"key 0 is empty"),
    (
        "invalid value type",
        raw_gguf(kvs=[raw_string("x") + struct.pack("<i", 13)]),
        r"key 'x' has invalid value type 13",
    ),
    ("key not UTF-8", raw_gguf(kvs=[raw_kv(b"bad\xff", "UINT8", b"\x01")]), r"key 0 is not valid UTF-8"),
    (
        "string longer than 1 GiB",
        raw_gguf(kvs=[raw_string("x") + struct.pack("<iQ", TYPE_IDS["STRING"], 2**30 + 1)]),
        r"length 1073741825 exceeds the maximum of 1073741824",
    ),
    (
        "array longer than 2^30",
        raw_gguf(kvs=[raw_kv("x", "ARRAY", struct.pack("<iQ", TYPE_IDS["UINT8"], 2**30 + 1))]),
        r"array of 1073741825 elements exceeds the maximum",
    ),
    (
        "array past end of file",
        raw_gguf(kvs=[raw_kv("x", "ARRAY", struct.pack("<iQ", TYPE_IDS["UINT32"], 1000))], infos=[], data=b""),
        r"array of 1000 UINT32 elements runs past end of file",
    ),
    (
        "tensor name of 64 bytes",
        raw_gguf(infos=[raw_info(NAME_64, (8,), GGML_F32, 0)], data=DATA_A),
        r"has 64 bytes, but names must be shorter than 64",
    ),
    (
        "duplicate tensor name",
        raw_gguf(infos=[raw_info("a", (8,), GGML_F32, 0), raw_info("a", (4,), GGML_F32, 32)]),
        r"duplicate tensor name 'a' \(tensors 0 and 1\)",
    ),
    (
        "five dimensions",
        raw_gguf(infos=[raw_info("a", (8, 1, 1, 1, 1), GGML_F32, 0)], data=DATA_A),
        r"tensor 'a' has 5 dimensions, at most 4 are allowed",
    ),
    (
        "negative dimension",
        raw_gguf(infos=[raw_info("a", (8, -1), GGML_F32, 0)], data=DATA_A),
        r"tensor 'a' has negative size ne\[1\] = -1",
    ),
    (
        "ne[0] not a multiple of the block size",
        raw_gguf(infos=[raw_info("q", (48, 2), GGML_Q8_0, 0)], data=bytes(128)),
        r"tensor 'q' of type Q8_0 has ne\[0\] = 48, not a multiple of the block size 32",
    ),
    (
        "removed type id 4",
        raw_gguf(infos=[raw_info("a", (32,), 4, 0)], data=bytes(32)),
        r"tensor 'a' has removed type id 4 \(Q4_2\)",
    ),
    (
        "removed type id 31",
        raw_gguf(infos=[raw_info("a", (32,), 31, 0)], data=bytes(32)),
        r"removed type id 31 \(Q4_0_4_4\)",
    ),
    (
        "unknown type id 43",
        raw_gguf(infos=[raw_info("a", (32,), 43, 0)], data=bytes(32)),
        r"tensor 'a' has unknown type id 43 \(valid ids are 0 to 42\)",
    ),
    (
        "data past end of file",
        raw_gguf(data=VALID_DATA[:40]),
        r"tensor 'b' data \[\d+, \d+\) is not within the file bounds",
    ),
    (
        "data section past end of file",
        raw_gguf(data=b"")[:-8],
        r"data section would start at byte \d+, past end of file",
    ),
]

# Files that mainline llama.cpp accepts but that a canonical writer does not produce.
CANONICAL_REJECTIONS = [
    ("missing final padding", raw_gguf(data=DATA_A + DATA_B), r"the final padding is missing"),
    ("trailing bytes", raw_gguf(data=VALID_DATA + bytes(32)), r"32 trailing bytes after the padded data section"),
    ("non-zero padding before data", raw_gguf(padding_byte=0xAA), r"padding before the data section .* non-zero"),
    (
        "non-zero padding after a tensor",
        raw_gguf(data=DATA_A + DATA_B + b"\x01" + bytes(15)),
        r"padding after tensor 'b' .* non-zero byte",
    ),
]


class ReaderTest(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.addCleanup(self.scratch.cleanup)

    def write(self, name, blob):
        path = Path(self.scratch.name) / name
        path.write_bytes(blob)
        return path

    def test_rejection_catalogue(self):
        for number, (label, blob, pattern) in enumerate(READER_REJECTIONS):
            with self.subTest(case=label):
                path = self.write(f"case{number}.gguf", blob)
                with self.assertRaisesRegex(ValueError, pattern):
                    read_gguf(path)
                with self.assertRaisesRegex(ValueError, pattern):
                    read_gguf(path, strict_padding=False)

    def test_canonical_layout_rejections(self):
        for number, (label, blob, pattern) in enumerate(CANONICAL_REJECTIONS):
            with self.subTest(case=label):
                path = self.write(f"layout{number}.gguf", blob)
                with self.assertRaisesRegex(ValueError, pattern):
                    read_gguf(path)
                gguf = read_gguf(path, strict_padding=False)
                self.assertEqual(gguf.tensors["b"].data_bytes, DATA_B)

    def test_rejection_messages_name_file(self):
        path = self.write("named.gguf", raw_gguf(magic=b"GGML"))
        with self.assertRaisesRegex(ValueError, "named.gguf"):
            read_gguf(path)

    def test_accepts_valid_file(self):
        gguf = read_gguf(self.write("valid.gguf", raw_gguf()))
        self.assertEqual((gguf.version, gguf.alignment), (3, 32))
        self.assertEqual(list(gguf.metadata.items()),
                         [("general.architecture", ("STRING", "llama")), ("llama.block_count", ("UINT32", 1))])
        self.assertEqual(gguf.tensors["a"], ((8,), "F32", 0, DATA_A))
        self.assertEqual(gguf.tensors["b"], ((4,), "F32", 32, DATA_B))
        self.assertEqual(gguf.data_offset % 32, 0)

    def test_accepts_version_2_and_name_of_63_bytes(self):
        blob = raw_gguf(infos=[raw_info(NAME_63, (8,), GGML_F32, 0)], data=DATA_A, version=2)
        gguf = read_gguf(self.write("v2.gguf", blob))
        self.assertEqual(gguf.version, 2)
        self.assertEqual(list(gguf.tensors), [NAME_63])

    def test_accepts_no_tensors_and_zero_sized_tensor(self):
        gguf = read_gguf(self.write("empty.gguf", raw_gguf(infos=[], data=b"")))
        self.assertEqual(len(gguf.tensors), 0)
        blob = raw_gguf(infos=[raw_info("z", (0, 4), GGML_F16, 0), raw_info("a", (8,), GGML_F32, 0)], data=DATA_A)
        gguf = read_gguf(self.write("zero.gguf", blob))
        self.assertEqual(gguf.tensors["z"].data_bytes, b"")
        self.assertEqual(gguf.tensors["a"].data_bytes, DATA_A)

    def test_nonzero_bool_reads_true(self):
        blob = raw_gguf(kvs=[raw_kv("flag", "BOOL", b"\x02")], infos=[], data=b"")
        self.assertEqual(read_gguf(self.write("bool.gguf", blob)).metadata["flag"], ("BOOL", True))

    def test_explicit_alignment_moves_data(self):
        kvs = VALID_KVS + [u32_kv("general.alignment", 64)]
        data = DATA_A + bytes(32) + DATA_B + bytes(48)
        infos = [raw_info("a", (8,), GGML_F32, 0), raw_info("b", (4,), GGML_F32, 64)]
        gguf = read_gguf(self.write("align64.gguf", raw_gguf(kvs=kvs, infos=infos, data=data, alignment=64)))
        self.assertEqual(gguf.alignment, 64)
        self.assertEqual(gguf.tensors["b"].offset, 64)
        self.assertEqual(gguf.data_offset % 64, 0)


class WriterTest(unittest.TestCase):
    def test_matches_independent_encoder(self):
        metadata = [("general.architecture", "STRING", "llama"), ("llama.block_count", "UINT32", 1)]
        tensors = [("a", (8,), "F32", DATA_A), ("b", (4,), "F32", DATA_B)]
        self.assertEqual(serialize_gguf(metadata, tensors), raw_gguf())

    def test_round_trip_of_every_value_type(self):
        metadata = [
            ("u8", "UINT8", 255), ("i8", "INT8", -128), ("u16", "UINT16", 65535), ("i16", "INT16", -32768),
            ("u32", "UINT32", 2**32 - 1), ("i32", "INT32", -(2**31)), ("f32", "FLOAT32", 0.5),
            ("bool", "BOOL", False), ("str", "STRING", "Ġhé\n"), ("u64", "UINT64", 2**64 - 1),
            ("i64", "INT64", -(2**63)), ("f64", "FLOAT64", 1e-300),
            ("arr.bool", "ARRAY", ("BOOL", [True, False, True])), ("arr.str", "ARRAY", ("STRING", ["a", "", "ü"])),
            ("arr.f32", "ARRAY", ("FLOAT32", [1.5, -2.0])), ("arr.empty", "ARRAY", ("INT32", [])),
            ("arr.u64", "ARRAY", ("UINT64", [0, 2**64 - 1])),
        ]
        tensors = [
            ("scalar", (), "F32", b"\x00\x00\x80\x3f"),
            ("blocks", (256, 2), "Q4_K", bytes(range(256)) + bytes(32)),
            ("empty", (0, 3), "F16", b""),
        ]
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "all.gguf"
            write_gguf(path, metadata, tensors, alignment=128, version=2)
            gguf = read_gguf(path)
        self.assertEqual(gguf.version, 2)
        self.assertEqual(gguf.alignment, 128)
        expected = [(key, (type_name, val)) for key, type_name, val in metadata]
        self.assertEqual(list(gguf.metadata.items()), expected + [("general.alignment", ("UINT32", 128))])
        for name, dims, type_name, data in tensors:
            self.assertEqual(gguf.tensors[name][:2], (dims, type_name), name)
            self.assertEqual(gguf.tensors[name].data_bytes, data, name)
            self.assertEqual(gguf.tensors[name].offset % 128, 0, name)

    def test_alignment_key_in_metadata_kept_in_place(self):
        metadata = [("general.alignment", "UINT32", 64), ("x", "UINT8", 1)]
        gguf = parse_gguf(serialize_gguf(metadata, [("a", (8,), "F32", DATA_A), ("b", (4,), "F32", DATA_B)]))
        self.assertEqual(list(gguf.metadata), ["general.alignment", "x"])
        self.assertEqual(gguf.tensors["b"].offset, 64)

    def test_rejects_invalid_input(self):
        data = DATA_A
        cases = [
            ("array of arrays", [("x", "ARRAY", ("ARRAY", []))], [], r"arrays of arrays"),
            ("duplicate key", [("x", "UINT8", 1), ("x", "UINT8", 2)], [], r"duplicate metadata key 'x'"),
            ("value out of range", [("x", "UINT8", 256)], [], r"does not fit in UINT8"),
            ("bool as int", [("x", "BOOL", 1)], [], r"BOOL value must be a bool"),
            ("unknown value type", [("x", "UINT128", 1)], [], r"unknown value type 'UINT128'"),
            ("alignment as UINT64", [("general.alignment", "UINT64", 32)], [], r"must have type UINT32"),
            ("name of 64 bytes", [], [(NAME_64, (8,), "F32", data)], r"must be shorter than 64"),
            ("duplicate tensor", [], [("a", (8,), "F32", data), ("a", (8,), "F32", data)], r"duplicate tensor name"),
            ("wrong byte count", [], [("a", (4,), "F32", data)], r"got 32 bytes, but F32 with dims \[4\] needs 16"),
            ("ne[0] not block multiple", [], [("q", (48,), "Q8_0", bytes(51))], r"not a multiple of the Q8_0 block"),
            ("removed type", [], [("a", (8,), "Q4_2", data)], r"unknown ggml type 'Q4_2'"),
            ("five dims", [], [("a", (8, 1, 1, 1, 1), "F32", data)], r"at most 4 are allowed"),
        ]
        for label, metadata, tensors, pattern in cases:
            with self.subTest(case=label):
                with self.assertRaisesRegex(ValueError, pattern):
                    serialize_gguf(metadata, tensors)
        with self.assertRaisesRegex(ValueError, r"alignment 48 must be a power of two"):
            serialize_gguf([], [], alignment=48)
        with self.assertRaisesRegex(ValueError, r"in metadata is 64, but the alignment argument is 32"):
            serialize_gguf([("general.alignment", "UINT32", 64)], [], alignment=32)
        with self.assertRaisesRegex(ValueError, r"version 1 is not supported"):
            serialize_gguf([], [], version=1)


class SplitReaderTest(unittest.TestCase):
    """read_gguf_split on hand-made sets of three parts with one tensor each."""

    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.addCleanup(self.scratch.cleanup)
        self.folder = Path(self.scratch.name)

    def write_set(self, *, numbers=(0, 1, 2), counts=(3, 3, 3), totals=(3, 3, 3), names=("t0", "t1", "t2"),
                  extra_key_part=None, count_type="UINT16"):
        for index in range(3):
            metadata = [("general.architecture", "STRING", "llama")] if index == 0 else []
            if extra_key_part == index:
                metadata.append(("general.name", "STRING", "stray"))
            metadata += [
                ("split.no", "UINT16", numbers[index]),
                ("split.count", count_type, counts[index]),
                ("split.tensors.count", "INT32", totals[index]),
            ]
            tensor = (names[index], (4,), "F32", bytes([index]) * 16)
            write_gguf(self.folder / f"model-0000{index + 1}-of-00003.gguf", metadata, [tensor])
        return self.folder / "model-00001-of-00003.gguf"

    def test_reads_valid_set(self):
        split = read_gguf_split(self.write_set())
        self.assertEqual(list(split.tensors), ["t0", "t1", "t2"])
        self.assertEqual(split.tensor_parts, {"t0": 0, "t1": 1, "t2": 2})
        self.assertEqual(list(split.metadata), ["general.architecture"])
        self.assertEqual(split.tensors["t2"].data_bytes, bytes([2]) * 16)

    def test_rejections(self):
        cases = [
            ("wrong split.no", {"numbers": (0, 2, 2)}, r"split.no is 2, expected 1"),
            ("wrong split.count", {"counts": (3, 3, 4)}, r"split.count is 4, expected 3"),
            ("wrong tensors.count", {"totals": (4, 4, 4)}, r"split.tensors.count is 4, but the parts hold 3"),
            ("disagreeing tensors.count", {"totals": (3, 2, 3)}, r"split.tensors.count is 2, expected 3"),
            ("repeated tensor", {"names": ("t0", "t1", "t0")}, r"tensor 't0' is also stored in model-00001"),
            ("model key in later part", {"extra_key_part": 1}, r"only the first part may carry model keys"),
            ("split.count as UINT32", {"count_type": "UINT32"}, r"split key 'split.count' must have type UINT16"),
        ]
        for label, changes, pattern in cases:
            with self.subTest(case=label):
                for stale in self.folder.iterdir():
                    stale.unlink()
                first = self.write_set(**changes)
                with self.assertRaisesRegex(ValueError, pattern):
                    read_gguf_split(first)

    def test_extra_keys_allowed_when_not_strict(self):
        split = read_gguf_split(self.write_set(extra_key_part=2), strict_shard_keys=False)
        self.assertEqual(len(split.tensors), 3)

    def test_missing_part_and_bad_names(self):
        first = self.write_set()
        (self.folder / "model-00003-of-00003.gguf").unlink()
        with self.assertRaisesRegex(ValueError, r"split part 3 of 3 not found"):
            read_gguf_split(first)
        with self.assertRaisesRegex(ValueError, r"pass the first part"):
            read_gguf_split(self.folder / "model-00002-of-00003.gguf")
        plain = self.folder / "model.gguf"
        write_gguf(plain, [], [])
        with self.assertRaisesRegex(ValueError, r"does not follow PREFIX-0000K-of-0000N.gguf"):
            read_gguf_split(plain)


class ImatrixDatReaderTest(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.addCleanup(self.scratch.cleanup)

    def write(self, blob):
        path = Path(self.scratch.name) / "imatrix.dat"
        path.write_bytes(blob)
        return path

    def test_round_trip_with_and_without_trailer(self):
        entries = [("blk.0.ffn_up.weight", 10, [1.0, 2.5]), ("output.weight", 3, [0.25])]
        imatrix = read_imatrix_dat(self.write(serialize_imatrix_dat(entries, 7, "wiki")))
        self.assertEqual(imatrix.entries["blk.0.ffn_up.weight"], (10, (1.0, 2.5)))
        self.assertEqual((imatrix.chunk_count, imatrix.dataset), (7, "wiki"))
        imatrix = read_imatrix_dat(self.write(serialize_imatrix_dat(entries)))
        self.assertEqual((imatrix.chunk_count, imatrix.dataset), (None, None))
        self.assertEqual(list(imatrix.entries), ["blk.0.ffn_up.weight", "output.weight"])

    def test_rejections(self):
        valid = serialize_imatrix_dat([("w", 1, [1.0])], 1, "d")
        nan_entry = struct.pack("<i", 1) + struct.pack("<i", 1) + b"w" + struct.pack("<iif", 1, 1, float("nan"))
        cases = [
            ("no entries", struct.pack("<i", 0), r"entry count is 0"),
            ("truncated values", valid[:19], r"unexpected end of file while reading values of entry 'w'"),
            ("non-finite value", nan_entry, r"entry 'w' contains a non-finite value"),
            ("bytes after trailer", valid + b"\x00", r"1 trailing bytes after the trailer"),
        ]
        for label, blob, pattern in cases:
            with self.subTest(case=label):
                with self.assertRaisesRegex(ValueError, pattern):
                    read_imatrix_dat(self.write(blob))


if __name__ == "__main__":
    unittest.main()
