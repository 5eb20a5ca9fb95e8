"""Tests of the fixture generator, the safetensors reader and writer, and the output checker.

Run from tests/e2e: python3 -m unittest -v test_generator
"""

import hashlib
import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import unittest
from pathlib import Path

FIXTURES_DIR = Path(__file__).resolve().parent.parent / "fixtures"
sys.path.insert(0, str(FIXTURES_DIR))

import generate  # noqa: E402
import hfcheck  # noqa: E402
from safetensors_io import element_count, read_safetensors, serialize_safetensors, write_safetensors  # noqa: E402

QWEN36_LAYER_TYPES = (["linear_attention"] * 3 + ["full_attention"]) * 16
QWEN36_LINEAR_SUFFIXES = {
    "linear_attn.A_log",
    "linear_attn.conv1d.weight",
    "linear_attn.dt_bias",
    "linear_attn.in_proj_a.weight",
    "linear_attn.in_proj_b.weight",
    "linear_attn.in_proj_qkv.weight",
    "linear_attn.in_proj_z.weight",
    "linear_attn.norm.weight",
    "linear_attn.out_proj.weight",
}
QWEN36_FULL_SUFFIXES = {
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "self_attn.q_norm.weight",
    "self_attn.k_norm.weight",
}
QWEN36_SHARED_SUFFIXES = {
    "input_layernorm.weight",
    "post_attention_layernorm.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
}
GEMMA3_LAYER_SUFFIXES = {
    "input_layernorm.weight",
    "post_attention_layernorm.weight",
    "pre_feedforward_layernorm.weight",
    "post_feedforward_layernorm.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
    "self_attn.q_norm.weight",
    "self_attn.k_norm.weight",
}
LLAMA_LAYER_SUFFIXES = {
    "input_layernorm.weight",
    "post_attention_layernorm.weight",
    "mlp.gate_proj.weight",
    "mlp.up_proj.weight",
    "mlp.down_proj.weight",
    "self_attn.q_proj.weight",
    "self_attn.k_proj.weight",
    "self_attn.v_proj.weight",
    "self_attn.o_proj.weight",
}


def read_folder_tensors(folder):
    """Return {name: (file name, TensorRecord)} and {file name: metadata} for a folder's shards."""
    tensors = {}
    metadata = {}
    for path in sorted(Path(folder).glob("*.safetensors")):
        file_metadata, records = read_safetensors(path)
        metadata[path.name] = file_metadata
        for name, record in records.items():
            tensors[name] = (path.name, record)
    return tensors, metadata


def layer_suffixes(tensor_names, prefix):
    layers, _ = hfcheck.split_layer_tensors(tensor_names, prefix)
    return {index: set(suffixes) for index, suffixes in layers.items()}


class FixtureChecks:
    """Checks shared by every fixture; a subclass also derives from unittest.TestCase and sets fixture_name."""

    fixture_name = None

    @classmethod
    def setUpClass(cls):
        cls.tempdir = tempfile.TemporaryDirectory(prefix=f"rysc-{cls.fixture_name}-")
        cls.folder = Path(cls.tempdir.name) / cls.fixture_name
        started = time.monotonic()
        cls.fixture = generate.generate(cls.fixture_name, cls.folder)
        cls.generation_seconds = time.monotonic() - started
        cls.config = json.loads((cls.folder / "config.json").read_text(encoding="utf-8"))
        cls.tensors, cls.shard_metadata = read_folder_tensors(cls.folder)

    @classmethod
    def tearDownClass(cls):
        cls.tempdir.cleanup()

    def load_index(self):
        return json.loads((self.folder / generate.INDEX_FILE_NAME).read_text(encoding="utf-8"))

    def assert_index_resolves(self):
        index = self.load_index()
        weight_map = index["weight_map"]
        self.assertEqual(set(weight_map), set(self.tensors), "index names exactly the stored tensors")
        for name, file_name in weight_map.items():
            self.assertTrue((self.folder / file_name).is_file(), f"{name} -> missing shard {file_name}")
            self.assertEqual(self.tensors[name][0], file_name, f"{name} is not stored in {file_name}")
        self.assertEqual(list(weight_map), sorted(weight_map), "weight_map keys are sorted")
        shard_files = sorted(p.name for p in self.folder.glob("*.safetensors"))
        self.assertEqual(sorted(set(weight_map.values())), shard_files)
        total_size = sum(len(record.data_bytes) for _, record in self.tensors.values())
        self.assertEqual(index["metadata"]["total_size"], total_size)
        expected_text = json.dumps(index, indent=2, sort_keys=True) + "\n"
        self.assertEqual((self.folder / generate.INDEX_FILE_NAME).read_text(encoding="utf-8"), expected_text)
        return index

    def test_config_json_formatting(self):
        text = (self.folder / "config.json").read_text(encoding="utf-8")
        self.assertEqual(text, json.dumps(self.config, indent=2, sort_keys=True) + "\n")

    def test_tensor_bytes_unique(self):
        digests = {}
        for name, (_, record) in self.tensors.items():
            digest = hashlib.sha256(record.data_bytes).digest()
            self.assertNotIn(digest, digests, f"{name} has the same bytes as {digests.get(digest)}")
            digests[digest] = name

    def test_checker_accepts_identity_copy(self):
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / "copy"
            shutil.copytree(self.folder, copy)
            identity = list(range(self.fixture.num_layers))
            hfcheck.check_output(self.folder, copy, identity, self.fixture.stack_prefix, self.config)

    def test_generation_time_recorded(self):
        # Generation is expected to take well under 2 s; the value is printed, not asserted,
        # because a loaded CI machine can be much slower.
        print(f"\n{self.fixture_name}: generated in {self.generation_seconds:.2f} s", file=sys.stderr)
        self.assertGreater(self.generation_seconds, 0)


class Qwen36FixtureTest(FixtureChecks, unittest.TestCase):
    fixture_name = "qwen36"

    def test_layer_types_exact(self):
        text = self.config["text_config"]
        self.assertEqual(text["num_hidden_layers"], 64)
        self.assertEqual(text["layer_types"], QWEN36_LAYER_TYPES)
        full_layers = [i for i, kind in enumerate(text["layer_types"]) if kind == "full_attention"]
        self.assertEqual(full_layers, list(range(3, 64, 4)))
        self.assertEqual(text["full_attention_interval"], 4)

    def test_published_config_values(self):
        config = self.config
        text = config["text_config"]
        vision = config["vision_config"]
        self.assertEqual(config["architectures"], ["Qwen3_5ForConditionalGeneration"])
        self.assertEqual(config["model_type"], "qwen3_5")
        self.assertEqual(config["transformers_version"], "5.10.1")
        self.assertIs(config["tie_word_embeddings"], False)
        for key in ("image_token_id", "video_token_id", "vision_start_token_id", "vision_end_token_id"):
            self.assertLess(config[key], text["vocab_size"], key)
        self.assertEqual(text["model_type"], "qwen3_5_text")
        self.assertEqual(text["mtp_num_hidden_layers"], 1)
        self.assertIs(text["mtp_use_dedicated_embeddings"], False)
        self.assertIs(text["attn_output_gate"], True)
        self.assertIs(text["tie_word_embeddings"], False)
        self.assertEqual(text["linear_conv_kernel_dim"], 4)
        self.assertEqual(text["mlp_only_layers"], [])
        self.assertEqual(text["rope_parameters"]["mrope_section"], [11, 11, 10])
        self.assertEqual(text["rope_parameters"]["partial_rotary_factor"], 0.25)
        self.assertEqual(vision["model_type"], "qwen3_5")
        self.assertEqual(vision["depth"], 27)
        self.assertEqual(vision["deepstack_visual_indexes"], [])

    def test_layer_tensor_families(self):
        layers = layer_suffixes(self.tensors, "model.language_model.layers")
        self.assertEqual(sorted(layers), list(range(64)))
        for index, layer_type in enumerate(QWEN36_LAYER_TYPES):
            mixer = QWEN36_LINEAR_SUFFIXES if layer_type == "linear_attention" else QWEN36_FULL_SUFFIXES
            self.assertEqual(layers[index], QWEN36_SHARED_SUFFIXES | mixer, f"layer {index} ({layer_type})")

    def test_shapes_follow_config(self):
        text = self.config["text_config"]
        hidden = text["hidden_size"]
        head_dim = text["head_dim"]
        key_dim = text["linear_num_key_heads"] * text["linear_key_head_dim"]
        value_dim = text["linear_num_value_heads"] * text["linear_value_head_dim"]

        def shape(name):
            return self.tensors[f"model.language_model.layers.{name}"][1].shape

        self.assertEqual(shape("3.self_attn.q_proj.weight"), (2 * text["num_attention_heads"] * head_dim, hidden))
        self.assertEqual(shape("3.self_attn.k_proj.weight"), (text["num_key_value_heads"] * head_dim, hidden))
        self.assertEqual(shape("3.self_attn.o_proj.weight"), (hidden, text["num_attention_heads"] * head_dim))
        self.assertEqual(shape("0.linear_attn.in_proj_qkv.weight"), (2 * key_dim + value_dim, hidden))
        self.assertEqual(shape("0.linear_attn.in_proj_z.weight"), (value_dim, hidden))
        self.assertEqual(shape("0.linear_attn.conv1d.weight"), (2 * key_dim + value_dim, 1, 4))
        self.assertEqual(shape("0.linear_attn.A_log"), (text["linear_num_value_heads"],))
        self.assertEqual(shape("0.mlp.down_proj.weight"), (hidden, text["intermediate_size"]))
        self.assertEqual(self.tensors["lm_head.weight"][1].shape, (text["vocab_size"], hidden))

    def test_dtypes_bf16_except_a_log(self):
        for name, (_, record) in self.tensors.items():
            expected = "F32" if name.endswith("linear_attn.A_log") else "BF16"
            self.assertEqual(record.dtype, expected, name)

    def test_shard_layout(self):
        shard_names = sorted(self.shard_metadata)
        self.assertGreaterEqual(len(shard_names), 4)
        self.assertEqual(shard_names, generate.shard_file_names(len(shard_names)))
        for file_name, metadata in self.shard_metadata.items():
            self.assertEqual(metadata, {"format": "pt"}, file_name)

        names_by_shard = {file_name: set() for file_name in shard_names}
        for name, (file_name, _) in self.tensors.items():
            names_by_shard[file_name].add(name)
        visual = {name for name in self.tensors if name.startswith("model.visual.")}
        mtp = {name for name in self.tensors if name.startswith("mtp.")}
        vision_shards = [f for f, names in names_by_shard.items() if names & visual]
        self.assertEqual(len(vision_shards), 1, "the vision tower has its own shard")
        self.assertEqual(names_by_shard[vision_shards[0]], visual)
        self.assertEqual(names_by_shard[shard_names[-1]], mtp, "the MTP stack is alone in the last shard")

        text_shards = [f for f in shard_names if names_by_shard[f] - visual - mtp]
        self.assertGreaterEqual(len(text_shards), 2, "decoder layers are split across shards")

    def test_vision_and_mtp_tensors(self):
        blocks = layer_suffixes(self.tensors, "model.visual.blocks")
        self.assertEqual(sorted(blocks), list(range(27)))
        for required in ("norm1.weight", "norm2.weight", "attn.qkv.weight", "attn.qkv.bias", "attn.proj.weight",
                         "attn.proj.bias", "mlp.linear_fc1.weight", "mlp.linear_fc1.bias", "mlp.linear_fc2.weight",
                         "mlp.linear_fc2.bias"):
            self.assertIn(required, blocks[0])
        self.assertIn("model.visual.patch_embed.proj.weight", self.tensors)
        self.assertTrue(any(name.startswith("model.visual.merger.") for name in self.tensors))
        for name in ("mtp.fc.weight", "mtp.norm.weight", "mtp.pre_fc_norm_embedding.weight",
                     "mtp.pre_fc_norm_hidden.weight"):
            self.assertIn(name, self.tensors)
        mtp_layers = layer_suffixes(self.tensors, "mtp.layers")
        self.assertEqual(mtp_layers, {0: QWEN36_SHARED_SUFFIXES | QWEN36_FULL_SUFFIXES})

    def test_global_tensors(self):
        for name in ("model.language_model.embed_tokens.weight", "model.language_model.norm.weight",
                     "lm_head.weight"):
            self.assertIn(name, self.tensors)

    def test_index_resolves(self):
        index = self.assert_index_resolves()
        self.assertEqual(set(index["metadata"]), {"total_size"})

    def test_extra_files(self):
        for file_name in ("tokenizer.json", "tokenizer_config.json", "vocab.json", "merges.txt",
                          "chat_template.jinja", "generation_config.json", "preprocessor_config.json",
                          "video_preprocessor_config.json", "README.md"):
            self.assertTrue((self.folder / file_name).is_file(), file_name)
        tokenizer = json.loads((self.folder / "tokenizer.json").read_text(encoding="utf-8"))
        added = {token["content"]: token["id"] for token in tokenizer["added_tokens"]}
        self.assertEqual(added["<|image_pad|>"], self.config["image_token_id"])

    def test_folder_size_under_10_mb(self):
        total = sum(path.stat().st_size for path in self.folder.iterdir())
        self.assertLess(total, 10 * 1024 * 1024)


class Gemma3FixtureTest(FixtureChecks, unittest.TestCase):
    fixture_name = "gemma3"

    def test_layer_types_exact(self):
        text = self.config["text_config"]
        self.assertEqual(text["num_hidden_layers"], 62)
        layer_types = text["layer_types"]
        self.assertEqual(len(layer_types), 62)
        full_layers = [i for i, kind in enumerate(layer_types) if kind == "full_attention"]
        self.assertEqual(full_layers, [5, 11, 17, 23, 29, 35, 41, 47, 53, 59])
        self.assertEqual(layer_types[60:], ["sliding_attention", "sliding_attention"])
        self.assertEqual(set(layer_types), {"full_attention", "sliding_attention"})
        self.assertEqual(text["sliding_window"], 1024)
        self.assertNotIn("sliding_window_pattern", text)

    def test_published_config_values(self):
        self.assertEqual(self.config["architectures"], ["Gemma3ForConditionalGeneration"])
        self.assertEqual(self.config["model_type"], "gemma3")
        self.assertEqual(self.config["text_config"]["model_type"], "gemma3_text")
        self.assertEqual(self.config["vision_config"]["model_type"], "siglip_vision_model")
        self.assertEqual(self.config["vision_config"]["num_hidden_layers"], 27)

    def test_layer_tensor_families(self):
        layers = layer_suffixes(self.tensors, "language_model.model.layers")
        self.assertEqual(sorted(layers), list(range(62)))
        for index, suffixes in layers.items():
            self.assertEqual(suffixes, GEMMA3_LAYER_SUFFIXES, f"layer {index}")
        vision_layers = layer_suffixes(self.tensors, "vision_tower.vision_model.encoder.layers")
        self.assertEqual(sorted(vision_layers), list(range(27)))

    def test_tied_embeddings_without_lm_head(self):
        self.assertIn("language_model.model.embed_tokens.weight", self.tensors)
        self.assertIn("language_model.model.norm.weight", self.tensors)
        self.assertFalse(any("lm_head" in name for name in self.tensors))
        self.assertTrue(any(name.startswith("multi_modal_projector.") for name in self.tensors))
        self.assertTrue(any(name.startswith("vision_tower.vision_model.embeddings.") for name in self.tensors))

    def test_index_resolves(self):
        index = self.assert_index_resolves()
        self.assertEqual(len(self.shard_metadata), 3)
        parameters = sum(element_count(record.shape) for _, record in self.tensors.values())
        self.assertEqual(index["metadata"], {"total_parameters": parameters,
                                             "total_size": index["metadata"]["total_size"]})

    def test_extra_files(self):
        for file_name in ("tokenizer.json", "tokenizer_config.json", "tokenizer.model", "special_tokens_map.json",
                          "preprocessor_config.json", "generation_config.json"):
            self.assertTrue((self.folder / file_name).is_file(), file_name)


class LlamaFixtureTest(FixtureChecks, unittest.TestCase):
    fixture_name = "llama"

    def test_single_file_without_index(self):
        self.assertEqual(sorted(self.shard_metadata), ["model.safetensors"])
        self.assertFalse((self.folder / generate.INDEX_FILE_NAME).exists())

    def test_layers(self):
        self.assertEqual(self.config["model_type"], "llama")
        self.assertEqual(self.config["architectures"], ["LlamaForCausalLM"])
        self.assertEqual(self.config["num_hidden_layers"], 16)
        layers = layer_suffixes(self.tensors, "model.layers")
        self.assertEqual(layers, {index: LLAMA_LAYER_SUFFIXES for index in range(16)})
        for name in ("model.embed_tokens.weight", "model.norm.weight", "lm_head.weight"):
            self.assertIn(name, self.tensors)
        self.assertEqual(len(self.tensors), 16 * 9 + 3)

    def test_extra_files(self):
        for file_name in ("generation_config.json", "tokenizer.json", "tokenizer_config.json",
                          "special_tokens_map.json"):
            self.assertTrue((self.folder / file_name).is_file(), file_name)


class DeterminismTest(unittest.TestCase):
    def test_generating_twice_is_byte_identical(self):
        with tempfile.TemporaryDirectory() as scratch:
            for name in sorted(generate.FIXTURES):
                with self.subTest(fixture=name):
                    first = Path(scratch) / f"{name}-1"
                    second = Path(scratch) / f"{name}-2"
                    generate.generate(name, first)
                    generate.generate(name, second)
                    first_files = hfcheck.list_files(first)
                    self.assertEqual(first_files, hfcheck.list_files(second))
                    for relative_path in first_files:
                        self.assertEqual((first / relative_path).read_bytes(), (second / relative_path).read_bytes(),
                                         relative_path)


class CommandLineTest(unittest.TestCase):
    def run_cli(self, *args):
        return subprocess.run(
            [sys.executable, str(FIXTURES_DIR / "generate.py"), *args],
            capture_output=True, text=True, timeout=60, check=False,
        )

    def test_writes_fixture(self):
        with tempfile.TemporaryDirectory() as scratch:
            outdir = Path(scratch) / "nested" / "llama"
            result = self.run_cli("llama", str(outdir))
            self.assertEqual(result.returncode, 0, result.stderr)
            self.assertTrue((outdir / "model.safetensors").is_file())

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
# safetensors reader and writer

F32_ENTRY = {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}
BF16_ENTRY = {"dtype": "BF16", "shape": [2, 2], "data_offsets": [8, 16]}
VALID_DATA = bytes(range(16))


def raw_file(header, data=VALID_DATA, *, pad=True, declared_size=None):
    """Build safetensors bytes from a header (dict or raw JSON text) without validating it."""
    if isinstance(header, dict):
        header = json.dumps(header)
    encoded = header.encode("utf-8") if isinstance(header, str) else header
    if pad:
        encoded += b" " * ((-(8 + len(encoded))) % 8)
    size = len(encoded) if declared_size is None else declared_size
    return struct.pack("<Q", size) + encoded + data


def entry(**changes):
    result = dict(F32_ENTRY)
    result.update(changes)
    return result


def padded_header(text: str, padding: bytes) -> bytes:
    """Return header bytes ending in padding, with the total brought to a multiple of 8 by spaces first."""
    encoded = text.encode("utf-8")
    spaces = (-(8 + len(encoded) + len(padding))) % 8
    return encoded + b" " * spaces + padding


# Each case: (label, file bytes, regular expression the ValueError message must match).
READER_REJECTIONS = [
    ("file shorter than 8 bytes", b"\x02\x00\x00", r"too short for the 8-byte header length"),
    ("header size over 100 MB", struct.pack("<Q", 100_000_001) + b"{}", r"exceeds the maximum of 100000000"),
    ("header size past EOF", raw_file({"a": F32_ENTRY, "b": BF16_ENTRY}, declared_size=4096), r"runs past end of file"),
    ("header not UTF-8", raw_file(b'{"a\xff": 1}', b""), r"header is not valid UTF-8"),
    ("truncated JSON", raw_file('{"a": ', b""), r"header is not valid JSON"),
    ("top-level JSON list", raw_file("[1, 2]", b""), r"header must start with '\{'"),
    ("leading whitespace", raw_file(' {"a": ' + json.dumps(F32_ENTRY) + "}", VALID_DATA[:8]), r"must start with"),
    (
        "duplicate tensor name",
        raw_file('{"a": ' + json.dumps(F32_ENTRY) + ', "a": ' + json.dumps(F32_ENTRY) + "}", VALID_DATA[:8]),
        r"duplicate key 'a'",
    ),
    (
        "duplicate key inside an entry",
        raw_file('{"a": {"dtype": "F32", "dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}', VALID_DATA[:8]),
        r"duplicate key 'dtype'",
    ),
    ("NaN in header", raw_file('{"__metadata__": {"x": NaN}}', b""), r"non-standard JSON constant NaN"),
    ("unknown dtype", raw_file({"a": entry(dtype="F12")}, VALID_DATA[:8]), r"unknown dtype 'F12'"),
    ("sub-byte dtype", raw_file({"a": entry(dtype="F4", shape=[16])}, VALID_DATA[:8]), r"unknown dtype 'F4'"),
    ("negative dimension", raw_file({"a": entry(shape=[-2])}, VALID_DATA[:8]), r"must contain non-negative integers"),
    ("float dimension", raw_file({"a": entry(shape=[2.0])}, VALID_DATA[:8]), r"must contain non-negative integers"),
    ("boolean dimension", raw_file({"a": entry(shape=[True, 2])}, VALID_DATA[:8]), r"non-negative integers"),
    ("shape not a list", raw_file({"a": entry(shape=2)}, VALID_DATA[:8]), r"shape must be a list"),
    ("one data offset", raw_file({"a": entry(data_offsets=[0])}, VALID_DATA[:8]), r"list of two integers"),
    ("reversed data offsets", raw_file({"a": entry(data_offsets=[8, 0])}, VALID_DATA[:8]), r"invalid data_offsets"),
    ("negative data offset", raw_file({"a": entry(data_offsets=[-8, 0])}, VALID_DATA[:8]), r"invalid data_offsets"),
    (
        "span differs from dtype size times elements",
        raw_file({"a": entry(shape=[3])}, VALID_DATA[:8]),
        r"span 8 bytes, but dtype F32 with shape \[3\] needs 12 bytes",
    ),
    ("entry missing shape", raw_file({"a": {"dtype": "F32", "data_offsets": [0, 8]}}, VALID_DATA[:8]),
     r"missing \['shape'\]"),
    ("entry with unknown key", raw_file({"a": entry(extra=1)}, VALID_DATA[:8]), r"unexpected \['extra'\]"),
    ("entry not an object", raw_file({"a": [0, 8]}, VALID_DATA[:8]), r"entry must be a JSON object"),
    ("empty tensor name", raw_file({"": F32_ENTRY}, VALID_DATA[:8]), r"empty tensor name"),
    (
        "gap at the start of the data",
        raw_file({"a": entry(data_offsets=[8, 16])}, VALID_DATA),
        r"gap of 8 bytes at the start of the data section",
    ),
    (
        "gap between tensors",
        raw_file({"a": F32_ENTRY, "b": entry(data_offsets=[16, 24])}, VALID_DATA + bytes(8)),
        r"gap of 8 bytes after tensor 'a'",
    ),
    (
        "overlapping tensors",
        raw_file({"a": F32_ENTRY, "b": entry(data_offsets=[4, 12])}, VALID_DATA[:12]),
        r"tensor 'b' at \[4, 12\] overlaps tensor 'a'",
    ),
    (
        "two tensors sharing bytes",
        raw_file({"a": F32_ENTRY, "b": F32_ENTRY}, VALID_DATA[:8]),
        r"overlaps tensor",
    ),
    ("trailing bytes", raw_file({"a": F32_ENTRY, "b": BF16_ENTRY}, VALID_DATA + b"\0" * 8), r"8 trailing bytes"),
    (
        "tensor past EOF",
        raw_file({"a": F32_ENTRY, "b": BF16_ENTRY}, VALID_DATA[:12]),
        r"tensor 'b' ends at 16, past end of file \(data section has 12 bytes\)",
    ),
    ("metadata not an object", raw_file({"__metadata__": "pt"}, b""), r"__metadata__ must be a JSON object"),
    ("metadata null", raw_file({"__metadata__": None}, b""), r"__metadata__ must be a JSON object"),
    ("metadata non-string value", raw_file({"__metadata__": {"format": 1}}, b""), r"value for 'format' must be a string"),
    ("data not 8-byte aligned", raw_file("{}", b"", pad=False), r"data section starts at byte 10, not a multiple of 8"),
    ("newline padding", raw_file(padded_header("{}", b"\n"), b"", pad=False), r"must be spaces only"),
    ("NUL padding", raw_file(padded_header("{}", b"\0"), b"", pad=False), r"must be spaces only"),
    ("text after the JSON object", raw_file(padded_header("{}", b"x"), b"", pad=False), r"must be spaces only"),
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
                path = self.write(f"case{number}.safetensors", blob)
                with self.assertRaisesRegex(ValueError, pattern):
                    read_safetensors(path)

    def test_rejection_messages_name_file(self):
        path = self.write("named.safetensors", raw_file({"a": entry(dtype="F12")}, VALID_DATA[:8]))
        with self.assertRaisesRegex(ValueError, "named.safetensors"):
            read_safetensors(path)

    def test_accepts_valid_file(self):
        path = self.write("valid.safetensors", raw_file({"__metadata__": {"format": "pt"}, "b": BF16_ENTRY,
                                                         "a": F32_ENTRY}))
        metadata, tensors = read_safetensors(path)
        self.assertEqual(metadata, {"format": "pt"})
        self.assertEqual(list(tensors), ["a", "b"], "tensors come in data-offset order")
        self.assertEqual(tensors["a"].data_bytes, VALID_DATA[:8])
        self.assertEqual(tensors["b"].shape, (2, 2))
        self.assertEqual((tensors["b"].begin, tensors["b"].end), (8, 16))

    def test_accepts_empty_and_zero_sized_tensors(self):
        path = self.write("empty.safetensors", raw_file("{}", b""))
        self.assertEqual(read_safetensors(path), (None, {}))
        zero = {"z": {"dtype": "F32", "shape": [0, 4], "data_offsets": [0, 0]}, "a": F32_ENTRY}
        path = self.write("zero.safetensors", raw_file(zero, VALID_DATA[:8]))
        _, tensors = read_safetensors(path)
        self.assertEqual(tensors["z"].data_bytes, b"")

    def test_misaligned_file_accepted_when_alignment_not_required(self):
        path = self.write("unaligned.safetensors", raw_file("{}", b"", pad=False))
        self.assertEqual(read_safetensors(path, require_alignment=False), (None, {}))


class WriterTest(unittest.TestCase):
    TENSORS = [
        ("z.last.weight", "BF16", (2, 3), bytes(range(12))),
        ("a.first.A_log", "F32", (3,), bytes(range(100, 112))),
        ("scalar", "I64", (), bytes(8)),
    ]

    def test_round_trip_keeps_order_and_alignment(self):
        with tempfile.TemporaryDirectory() as scratch:
            path = Path(scratch) / "out.safetensors"
            write_safetensors(path, self.TENSORS, {"format": "pt"})
            blob = path.read_bytes()
            (header_size,) = struct.unpack("<Q", blob[:8])
            self.assertEqual((8 + header_size) % 8, 0)
            metadata, tensors = read_safetensors(path)
            self.assertEqual(metadata, {"format": "pt"})
            self.assertEqual(list(tensors), [name for name, *_ in self.TENSORS])
            for name, dtype, shape, data in self.TENSORS:
                self.assertEqual(tensors[name].dtype, dtype)
                self.assertEqual(tensors[name].shape, shape)
                self.assertEqual(tensors[name].data_bytes, data)

    def test_rejects_invalid_input(self):
        cases = [
            ("duplicate name", [("a", "U8", (1,), b"x"), ("a", "U8", (1,), b"y")], None, r"duplicate tensor name"),
            ("wrong byte count", [("a", "F32", (2,), bytes(4))], None, r"got 4 bytes.*needs 8"),
            ("unknown dtype", [("a", "F12", (1,), bytes(2))], None, r"unknown dtype"),
            ("reserved name", [("__metadata__", "U8", (1,), b"x")], None, r"invalid tensor name"),
            ("non-string metadata", [], {"format": 1}, r"must be a string"),
        ]
        for label, tensors, metadata, pattern in cases:
            with self.subTest(case=label):
                with self.assertRaisesRegex(ValueError, pattern):
                    serialize_safetensors(tensors, metadata)


# ---------------------------------------------------------------------------
# Output checker, exercised with a Python reference duplication


def window_map(num_layers, start, end):
    """Return the map of "duplicate blocks[start:end] after": [0..end-1] ++ [start..end-1] ++ [end..N-1]."""
    return list(range(end)) + list(range(start, end)) + list(range(end, num_layers))


def reference_duplicate(source, target, fixture, layer_map, shard_count=2):
    """Write target as source with decoder layers rearranged by layer_map, as rysc should.

    The output uses a shard layout that differs from the source, so the checker must
    not depend on where tensors were stored. Returns the expected config.
    """
    source = Path(source)
    target = Path(target)
    target.mkdir()
    tensors, metadata = read_folder_tensors(source)
    expected = hfcheck.expected_tensor_names(tensors, layer_map, fixture.stack_prefix)
    ordered = sorted(expected)

    specs = []
    for name in ordered:
        record = tensors[expected[name]][1]
        specs.append((name, record.dtype, record.shape, record.data_bytes))
    if shard_count == 1:
        groups = [(generate.SINGLE_FILE_NAME, specs)]
    else:
        size = -(-len(specs) // shard_count)
        chunks = [specs[i:i + size] for i in range(0, len(specs), size)]
        groups = list(zip(generate.shard_file_names(len(chunks)), chunks))
    for file_name, chunk in groups:
        write_safetensors(target / file_name, chunk, {"format": "pt"})

    source_index_path = source / generate.INDEX_FILE_NAME
    if shard_count > 1:
        index_metadata = {}
        if source_index_path.is_file():
            index_metadata = dict(json.loads(source_index_path.read_text(encoding="utf-8"))["metadata"])
        index_metadata["total_size"] = sum(len(spec[3]) for spec in specs)
        if "total_parameters" in index_metadata:
            index_metadata["total_parameters"] = sum(element_count(spec[2]) for spec in specs)
        weight_map = {spec[0]: file_name for file_name, chunk in groups for spec in chunk}
        (target / generate.INDEX_FILE_NAME).write_text(
            json.dumps({"metadata": index_metadata, "weight_map": weight_map}, indent=2, sort_keys=True) + "\n"
        )

    for relative_path in hfcheck.list_files(source):
        if not hfcheck._is_weight_file(relative_path):
            (target / relative_path).parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source / relative_path, target / relative_path)

    config = json.loads((source / "config.json").read_text(encoding="utf-8"))
    decoder = config
    for key in fixture.decoder_config_path:
        decoder = decoder[key]
    decoder["num_hidden_layers"] = len(layer_map)
    if "layer_types" in decoder:
        decoder["layer_types"] = [decoder["layer_types"][source_index] for source_index in layer_map]
    (target / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n")
    return config


def rewrite_shard(path, transform):
    """Rewrite a shard with transform(list of (name, dtype, shape, data)) -> new list, keeping its metadata."""
    metadata, records = read_safetensors(path)
    tensors = [(name, r.dtype, r.shape, r.data_bytes) for name, r in records.items()]
    write_safetensors(path, transform(tensors), metadata)


class CheckerTest(unittest.TestCase):
    """Check that check_output accepts a correct duplication and names each injected defect."""

    @classmethod
    def setUpClass(cls):
        cls.tempdir = tempfile.TemporaryDirectory(prefix="rysc-checker-")
        root = Path(cls.tempdir.name)
        cls.source = root / "qwen36"
        cls.fixture = generate.generate("qwen36", cls.source)
        cls.layer_map = window_map(64, 15, 20)
        cls.good = root / "good"
        cls.expected_config = reference_duplicate(cls.source, cls.good, cls.fixture, cls.layer_map)

    @classmethod
    def tearDownClass(cls):
        cls.tempdir.cleanup()

    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.addCleanup(self.scratch.cleanup)
        self.output = Path(self.scratch.name) / "output"
        shutil.copytree(self.good, self.output)

    def check(self, config=None, layer_map=None, **options):
        hfcheck.check_output(
            self.source,
            self.output,
            self.layer_map if layer_map is None else layer_map,
            self.fixture.stack_prefix,
            self.expected_config if config is None else config,
            **options,
        )

    def assert_check_fails(self, pattern, **options):
        with self.assertRaisesRegex(AssertionError, pattern):
            self.check(**options)

    def shard_holding(self, tensor_name):
        index = json.loads((self.output / generate.INDEX_FILE_NAME).read_text(encoding="utf-8"))
        return self.output / index["weight_map"][tensor_name]

    def edit_index(self, edit):
        path = self.output / generate.INDEX_FILE_NAME
        index = json.loads(path.read_text(encoding="utf-8"))
        edit(index)
        path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")

    def test_accepts_reference_output(self):
        self.check()
        layer_types = self.expected_config["text_config"]["layer_types"]
        self.assertEqual(len(layer_types), 69)
        self.assertEqual(layer_types[20:25], QWEN36_LAYER_TYPES[15:20])

    def test_accepts_single_file_output(self):
        shutil.rmtree(self.output)
        reference_duplicate(self.source, self.output, self.fixture, self.layer_map, shard_count=1)
        self.check()

    def test_rejects_swapped_layer_bytes(self):
        first = "model.language_model.layers.20.mlp.up_proj.weight"
        second = "model.language_model.layers.21.mlp.up_proj.weight"
        data = {}
        for name in (first, second):
            _, records = read_safetensors(self.shard_holding(name))
            data[name] = records[name].data_bytes

        def swap(tensors):
            swapped = {first: data[second], second: data[first]}
            return [(n, d, s, swapped.get(n, b)) for n, d, s, b in tensors]

        for path in {self.shard_holding(first), self.shard_holding(second)}:
            rewrite_shard(path, swap)
        self.assert_check_fails(
            r"tensor model\.language_model\.layers\.20\.mlp\.up_proj\.weight in .*bytes differ from source tensor "
            r"model\.language_model\.layers\.15\.mlp\.up_proj\.weight; its bytes equal source tensor "
            r"model\.language_model\.layers\.16\.mlp\.up_proj\.weight"
        )

    def test_rejects_missing_tensor(self):
        name = "model.language_model.layers.68.mlp.down_proj.weight"
        rewrite_shard(self.shard_holding(name), lambda tensors: [t for t in tensors if t[0] != name])
        self.edit_index(lambda index: index["weight_map"].pop(name))
        self.assert_check_fails(r"missing tensor model\.language_model\.layers\.68\.mlp\.down_proj\.weight "
                                r"\(copy of source tensor model\.language_model\.layers\.63\.mlp\.down_proj\.weight\)")

    def test_rejects_wrong_dtype(self):
        name = "model.language_model.layers.5.input_layernorm.weight"
        rewrite_shard(
            self.shard_holding(name),
            lambda tensors: [(n, "F16" if n == name else d, s, b) for n, d, s, b in tensors],
        )
        self.assert_check_fails(r"tensor model\.language_model\.layers\.5\.input_layernorm\.weight in .*dtype F16, "
                                r"expected BF16")

    def test_rejects_stale_layer_types(self):
        # A tool that re-derives the schedule from full_attention_interval instead of
        # remapping the list puts linear attention where the copy of layer 15 belongs.
        stale = json.loads(json.dumps(self.expected_config))
        stale["text_config"]["layer_types"] = (["linear_attention"] * 3 + ["full_attention"]) * 17 + [
            "linear_attention"
        ]
        (self.output / "config.json").write_text(json.dumps(stale, indent=2, sort_keys=True) + "\n")
        self.assert_check_fails(r"config\.json: text_config\.layer_types\[20\]: expected \"full_attention\", "
                                r"found \"linear_attention\"")

    def test_rejects_float_for_integer(self):
        config = json.loads(json.dumps(self.expected_config))
        config["text_config"]["num_hidden_layers"] = 69.0
        self.assert_check_fails(r"config\.json: text_config\.num_hidden_layers: expected 69\.0, found 69",
                                config=config)

    def test_rejects_changed_tokenizer(self):
        path = self.output / "tokenizer.json"
        path.write_bytes(path.read_bytes().replace(b"\n", b"\r\n"))
        self.assert_check_fails(r"file tokenizer\.json differs from the source copy")

    def test_rejects_missing_readme(self):
        (self.output / "README.md").unlink()
        self.assert_check_fails(r"file README\.md from the source is missing in the output")

    def test_rejects_stray_file(self):
        (self.output / "model-00001-of-00002.safetensors.tmp").write_bytes(b"")
        self.assert_check_fails(r"unexpected file model-00001-of-00002\.safetensors\.tmp")
        self.check(allowed_extra_files=["model-00001-of-00002.safetensors.tmp"])

    def test_rejects_stale_shard(self):
        shutil.copyfile(self.source / "model-00005-of-00005.safetensors", self.output / "model-00005-of-00005.safetensors")
        self.assert_check_fails(r"shard model-00005-of-00005\.safetensors does not fit a complete set of 3 shards")
        self.assert_check_fails(r"shard model-00005-of-00005\.safetensors exists but is not referenced")

    def test_rejects_wrong_total_size(self):
        self.edit_index(lambda index: index["metadata"].update(total_size=1))
        self.assert_check_fails(r"model\.safetensors\.index\.json: metadata\.total_size is 1, expected \d+")

    def test_rejects_changed_index_metadata_keys(self):
        self.edit_index(lambda index: index.update(metadata={"tool": "x"}))
        self.assert_check_fails(r"unexpected metadata\.tool = \"x\", not in the source index")
        self.assert_check_fails(r"metadata\.total_size from the source index is missing")

    def test_rejects_weight_map_pointing_elsewhere(self):
        name = "lm_head.weight"

        def move(index):
            current = index["weight_map"][name]
            index["weight_map"][name] = next(f for f in sorted(set(index["weight_map"].values())) if f != current)

        self.edit_index(move)
        self.assert_check_fails(r"weight_map\['lm_head\.weight'\] names model-0000\d-of-00002\.safetensors, "
                                r"which does not store that tensor")

    def test_rejects_missing_format_metadata(self):
        path = self.output / "model-00001-of-00002.safetensors"
        _, records = read_safetensors(path)
        write_safetensors(path, [(n, r.dtype, r.shape, r.data_bytes) for n, r in records.items()])
        self.assert_check_fails(r"model-00001-of-00002\.safetensors: header __metadata__\.format is null")

    def test_rejects_unaligned_shard(self):
        path = self.output / "model-00002-of-00002.safetensors"
        blob = path.read_bytes()
        (size,) = struct.unpack("<Q", blob[:8])
        header = blob[8:8 + size].rstrip(b" ") + b"   "
        if (8 + len(header)) % 8 == 0:
            header += b" "
        path.write_bytes(struct.pack("<Q", len(header)) + header + blob[8 + size:])
        self.assert_check_fails(r"model-00002-of-00002\.safetensors: invalid safetensors file: .*not a multiple of 8")

    def test_rejects_map_with_unknown_layer(self):
        with self.assertRaisesRegex(ValueError, r"expected_map\[0\] = 99"):
            self.check(layer_map=[99])


class SnapshotTest(unittest.TestCase):
    def setUp(self):
        self.scratch = tempfile.TemporaryDirectory()
        self.addCleanup(self.scratch.cleanup)
        self.folder = Path(self.scratch.name) / "llama"
        generate.generate("llama", self.folder)
        self.before = hfcheck.snapshot(self.folder)

    def test_unchanged_folder_passes(self):
        hfcheck.assert_unchanged(self.folder, self.before)

    def test_detects_same_size_content_change(self):
        path = self.folder / "model.safetensors"
        blob = bytearray(path.read_bytes())
        blob[-1] ^= 0xFF
        stat = path.stat()
        path.write_bytes(bytes(blob))
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns))
        with self.assertRaisesRegex(AssertionError, r"model\.safetensors: content changed"):
            hfcheck.assert_unchanged(self.folder, self.before)

    def test_detects_touched_file(self):
        path = self.folder / "config.json"
        stat = path.stat()
        os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
        with self.assertRaisesRegex(AssertionError, r"config\.json: mtime changed"):
            hfcheck.assert_unchanged(self.folder, self.before)

    def test_detects_added_and_removed_files(self):
        (self.folder / "tokenizer.json").unlink()
        (self.folder / "model.safetensors.tmp").write_bytes(b"partial")
        with self.assertRaises(AssertionError) as caught:
            hfcheck.assert_unchanged(self.folder, self.before)
        message = str(caught.exception)
        self.assertIn("tokenizer.json: removed", message)
        self.assertIn("model.safetensors.tmp: added", message)


if __name__ == "__main__":
    unittest.main()
