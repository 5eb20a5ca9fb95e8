"""End-to-end tests of `rysc apply` and `rysc plan` on generated Hugging Face checkpoints.

Each expected layer map below is written out by hand from its recipe, and each
expected config.json is derived from the source config in this file, so the
tests do not reuse any result that rysc computes.

Run from tests/e2e: python3 -m unittest -v test_apply_hf
The environment variable RYSC names the binary (default: build/rysc in the
source tree) and RYSC_SOURCE_DIR the source tree (default: two folders up).
"""

import copy
import json
import os
import re
import resource
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("RYSC_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RYSC = Path(os.environ.get("RYSC") or SOURCE_DIR / "build" / "rysc")
EXAMPLE_RECIPE = SOURCE_DIR / "examples" / "qwen36-rys.rys"
FIXTURES_DIR = SOURCE_DIR / "tests" / "fixtures"
sys.path.insert(0, str(FIXTURES_DIR))

import generate  # noqa: E402
import hfcheck  # noqa: E402
from safetensors_io import element_count, read_safetensors  # noqa: E402

# Seconds one rysc run may take; the fixtures are a few MB, so a run normally takes well under 1 s.
RUN_TIMEOUT = 60

INDEX_FILE_NAME = "model.safetensors.index.json"
PROVENANCE_FILE_NAME = "rysc.json"
QWEN36_PREFIX = "model.language_model.layers"
GEMMA3_PREFIX = "language_model.model.layers"

# examples/qwen36-rys.rys: duplicate blocks[15:20] after, so the copy of 15..19 follows layer 19.
EXAMPLE_MAP = list(range(20)) + list(range(15, 20)) + list(range(20, 64))

TIMES_TWO_RECIPE = """rys 1;
duplicate blocks[15:20] after times 2;
remap per_layer *;
expect layers 74;
"""
TIMES_TWO_MAP = list(range(20)) + list(range(15, 20)) + list(range(15, 20)) + list(range(20, 64))

BEFORE_RECIPE = """rys 1;
duplicate blocks[15:20] before;
remap per_layer *;
expect layers 69;
"""
BEFORE_MAP = list(range(15)) + list(range(15, 20)) + list(range(15, 64))

DROP_TAIL_RECIPE = """rys 1;
drop blocks[60:64];
remap per_layer *;
expect layers 60;
"""
DROP_TAIL_MAP = list(range(60))

LLAMA_RECIPE = """rys 1;
duplicate blocks[4:8] after;
remap per_layer *;
expect layers 20;
expect out[8] = src[4];
"""
LLAMA_MAP = list(range(8)) + list(range(4, 8)) + list(range(8, 16))

GEMMA3_RECIPE = """rys 1;
duplicate blocks[20:30] after;
remap per_layer *;
expect layers 72;
"""
GEMMA3_MAP = list(range(30)) + list(range(20, 30)) + list(range(30, 62))

# The recipe compiles, but its expectation fails, so apply stops before writing anything.
FAILING_RECIPE = """rys 1;
duplicate blocks[4:8] after;
expect layers 21;
"""


def run_rysc(*args):
    """Run rysc with the given arguments and return the CompletedProcess with text output."""
    command = [str(RYSC)] + [str(arg) for arg in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def make_temp_dir(test_case, prefix):
    """Create a temporary folder that is removed when test_case finishes."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    test_case.addCleanup(shutil.rmtree, folder, ignore_errors=True)
    return folder


def expected_config(source_config, decoder_path, layer_map, per_layer_keys):
    """Return source_config with the layer count set to len(layer_map) and per-layer lists moved through it.

    decoder_path lists the keys from the config root to the decoder config, and
    per_layer_keys names the lists in it that have one entry per layer.
    """
    config = copy.deepcopy(source_config)
    decoder = config
    for key in decoder_path:
        decoder = decoder[key]
    decoder["num_hidden_layers"] = len(layer_map)
    for key in per_layer_keys:
        source_list = decoder[key]
        decoder[key] = [source_list[source_index] for source_index in layer_map]
    return config


def load_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def data_start(path):
    """The file offset of a safetensors file's data section: 8 plus the header length."""
    with open(path, "rb") as file:
        return 8 + struct.unpack("<Q", file.read(8))[0]


def shard_names(folder):
    return sorted(path.name for path in Path(folder).glob("*.safetensors"))


def folder_contents(folder):
    """Return {relative path: bytes} for every file under folder."""
    folder = Path(folder)
    return {relative: (folder / relative).read_bytes() for relative in hfcheck.list_files(folder)}


def plan_sections(text):
    """Split plan text output into {section header: [lines]}.

    A section header is an unindented line that ends with ":", such as "seams:".
    Lines before the first header are stored under "".
    """
    sections = {"": []}
    current = ""
    for line in text.splitlines():
        if line and not line[0].isspace() and line.endswith(":"):
            current = line
            sections[current] = []
        elif line.strip():
            sections[current].append(line)
    return sections


class ApplyTestCase(unittest.TestCase):
    """Shared helpers; a subclass generates its fixture in setUpClass."""

    fixture_name = None

    @classmethod
    def setUpClass(cls):
        cls.root = Path(tempfile.mkdtemp(prefix=f"rysc-apply-{cls.fixture_name}-"))
        cls.source = cls.root / cls.fixture_name
        cls.fixture = generate.generate(cls.fixture_name, cls.source)
        cls.source_config = load_json(cls.source / "config.json")
        cls.source_snapshot = hfcheck.snapshot(cls.source)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def write_recipe(self, text, name="recipe.rys"):
        path = make_temp_dir(self, "rysc-recipe-") / name
        path.write_text(text, encoding="utf-8")
        return path

    def apply(self, recipe, *options, out=None):
        """Run rysc apply into out (default: a new temporary path), assert exit 0 and return out."""
        if out is None:
            out = make_temp_dir(self, "rysc-out-") / "out"
        result = run_rysc("apply", *options, recipe, self.source, out)
        self.assertEqual(result.returncode, 0, f"rysc apply failed:\n{result.stderr}")
        return out

    def check(self, out, layer_map, config):
        hfcheck.check_output(
            self.source,
            out,
            layer_map,
            self.fixture.stack_prefix,
            config,
            allowed_extra_files=[PROVENANCE_FILE_NAME],
        )

    def assert_index_total_size(self, out):
        """Assert that metadata.total_size is the exact sum of the tensor bytes in out's shards."""
        index = load_json(out / INDEX_FILE_NAME)
        total = 0
        for name in shard_names(out):
            _, records = read_safetensors(out / name)
            total += sum(len(record.data_bytes) for record in records.values())
        self.assertEqual(index["metadata"]["total_size"], total)
        return index


class Qwen36ApplyTest(ApplyTestCase):
    """The Qwen3.6 example recipe and variants on a 64-layer hybrid-attention checkpoint."""

    fixture_name = "qwen36"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.example_out = cls.root / "example-out"
        result = run_rysc("apply", EXAMPLE_RECIPE, cls.source, cls.example_out)
        if result.returncode != 0:
            shutil.rmtree(cls.root, ignore_errors=True)
            raise AssertionError(f"rysc apply of {EXAMPLE_RECIPE} failed:\n{result.stderr}")

    def expected_config(self, layer_map):
        return expected_config(self.source_config, ("text_config",), layer_map, ("layer_types",))

    def test_example_matches_expected_map(self):
        self.check(self.example_out, EXAMPLE_MAP, self.expected_config(EXAMPLE_MAP))

    def test_example_layer_types_follow_map(self):
        source_types = self.source_config["text_config"]["layer_types"]
        output_types = load_json(self.example_out / "config.json")["text_config"]["layer_types"]
        self.assertEqual(len(output_types), 69)
        for output_index, source_index in enumerate(EXAMPLE_MAP):
            self.assertEqual(output_types[output_index], source_types[source_index], f"layer_types[{output_index}]")
        self.assertEqual(output_types[20], "full_attention")

    def test_example_layer_20_is_source_layer_15(self):
        source = hfcheck.load_checkpoint(self.source)
        output = hfcheck.load_checkpoint(self.example_out)
        source_prefix = f"{QWEN36_PREFIX}.15."
        attention = [name for name in source.tensors if name.startswith(source_prefix + "self_attn.")]
        self.assertEqual(len(attention), 6)
        for source_name in attention:
            output_name = f"{QWEN36_PREFIX}.20." + source_name[len(source_prefix):]
            self.assertIn(output_name, output.tensors)
            self.assertEqual(output.tensors[output_name].data_bytes, source.tensors[source_name].data_bytes, output_name)
        linear = [name for name in output.tensors if name.startswith(f"{QWEN36_PREFIX}.20.linear_attn.")]
        self.assertEqual(linear, [])

    def test_example_keeps_vision_and_mtp_tensors(self):
        source = hfcheck.load_checkpoint(self.source)
        output = hfcheck.load_checkpoint(self.example_out)
        for prefix in ("model.visual.", "mtp."):
            source_names = sorted(spec.name for spec in self.fixture.tensors if spec.name.startswith(prefix))
            output_names = sorted(name for name in output.tensors if name.startswith(prefix))
            self.assertTrue(source_names, prefix)
            self.assertEqual(output_names, source_names, prefix)
            for name in source_names:
                self.assertEqual(output.tensors[name].dtype, source.tensors[name].dtype, name)
                self.assertEqual(output.tensors[name].shape, source.tensors[name].shape, name)
                self.assertEqual(output.tensors[name].data_bytes, source.tensors[name].data_bytes, name)

    def test_example_output_mirrors_source_shards(self):
        # Each source shard becomes the output shard of the same number, with its tensors
        # renamed and in the same byte order. The extra copies follow in a shard of their own.
        renamed = {f"{QWEN36_PREFIX}.{source}.": f"{QWEN36_PREFIX}.{source if source < 20 else source + 5}." for source in range(64)}
        source_shards = shard_names(self.source)
        output_shards = shard_names(self.example_out)
        self.assertEqual(output_shards, [f"model-0000{k}-of-00006.safetensors" for k in range(1, 7)])

        def rename(name, table):
            match = re.match(rf"^{re.escape(QWEN36_PREFIX)}\.(\d+)\.", name)
            return table[match[0]] + name[match.end():] if match else name

        copies = []
        for source_name, output_name in zip(source_shards, output_shards):
            _, source_tensors = read_safetensors(self.source / source_name)
            _, output_tensors = read_safetensors(self.example_out / output_name)
            self.assertEqual(list(output_tensors), [rename(name, renamed) for name in source_tensors], output_name)
            for name, record in output_tensors.items():
                self.assertEqual(record.begin, source_tensors[rename(name, {v: k for k, v in renamed.items()})].begin, name)
            copies += [name for name in source_tensors if re.match(rf"^{re.escape(QWEN36_PREFIX)}\.1[5-9]\.", name)]

        _, copy_tensors = read_safetensors(self.example_out / output_shards[-1])
        copy_names = {f"{QWEN36_PREFIX}.{source}.": f"{QWEN36_PREFIX}.{source + 5}." for source in range(15, 20)}
        self.assertEqual(list(copy_tensors), [rename(name, copy_names) for name in copies])

    def test_copy_alignment_keeps_source_offsets(self):
        out = self.apply(EXAMPLE_RECIPE, "--copy-alignment", "4KiB")
        self.check(out, EXAMPLE_MAP, self.expected_config(EXAMPLE_MAP))
        source_offsets = {}
        for name in shard_names(self.source):
            start = data_start(self.source / name)
            for tensor, record in read_safetensors(self.source / name)[1].items():
                source_offsets[tensor] = start + record.begin

        def source_name(name):
            match = re.match(rf"^{re.escape(QWEN36_PREFIX)}\.(\d+)\.", name)
            if not match:
                return name
            return f"{QWEN36_PREFIX}.{EXAMPLE_MAP[int(match[1])]}." + name[match.end():]

        problems = []
        for name in shard_names(out):
            start = data_start(out / name)
            for tensor, record in read_safetensors(out / name)[1].items():
                got = (start + record.begin) % 4096
                want = source_offsets[source_name(tensor)] % 4096
                if got != want:
                    problems.append(f"{name}: {tensor} at {got} modulo 4096, source at {want}")
        self.assertEqual(problems, [])

        # plan names the padding of each shard, in bytes the reader sees added.
        plan = run_rysc("plan", "--copy-alignment", "4KiB", EXAMPLE_RECIPE, self.source)
        self.assertEqual(plan.returncode, 0, plan.stderr)
        for name in shard_names(out):
            added = data_start(out / name) - data_start(self.example_out / name)
            line = next(line for line in plan.stdout.splitlines() if line.startswith(f"  {name}: "))
            if added:
                # The padding is below 4 KiB, which plan prints as bytes, then KiB from 1 KiB on.
                size = f"{added:,} bytes" + (f" ({added / 1024:.1f} KiB)" if added >= 1024 else "")
                self.assertTrue(line.endswith(f", header padded by {size} for --copy-alignment"), line)
            else:
                self.assertNotIn("padded", line)

        hfcheck.assert_unchanged(self.source, self.source_snapshot)

        # The default granule, 2 MiB, is too large for shards this small: no padding.
        for name in shard_names(self.example_out):
            header_size = data_start(self.example_out / name) - 8
            text = (self.example_out / name).read_bytes()[8 : 8 + header_size]
            self.assertLess(len(text) - len(text.rstrip(b" ")), 8, name)

    def test_example_copies_other_files(self):
        copied = [path for path in hfcheck.list_files(self.source) if not path.endswith(".safetensors")]
        copied.remove("config.json")
        copied.remove(INDEX_FILE_NAME)
        self.assertIn("tokenizer.json", copied)
        self.assertIn("chat_template.jinja", copied)
        for relative_path in copied:
            source_bytes = (self.source / relative_path).read_bytes()
            self.assertEqual((self.example_out / relative_path).read_bytes(), source_bytes, relative_path)

    def test_example_index_total_size(self):
        index = self.assert_index_total_size(self.example_out)
        source = hfcheck.load_checkpoint(self.source)
        copied_bytes = sum(
            len(tensor.data_bytes)
            for name, tensor in source.tensors.items()
            if any(name.startswith(f"{QWEN36_PREFIX}.{layer}.") for layer in range(15, 20))
        )
        source_total = load_json(self.source / INDEX_FILE_NAME)["metadata"]["total_size"]
        self.assertEqual(index["metadata"], {"total_size": source_total + copied_bytes})

    def test_example_provenance(self):
        provenance = load_json(self.example_out / PROVENANCE_FILE_NAME)
        self.assertEqual(provenance["map"], EXAMPLE_MAP)
        self.assertEqual(provenance["recipe"]["text"], EXAMPLE_RECIPE.read_text(encoding="utf-8"))
        self.assertEqual(
            provenance["seams"],
            [
                {
                    "statement": 0,
                    "before": {"out": 19, "src": 19},
                    "first_copy": {"out": 20, "src": 15},
                    "last_copy": {"out": 24, "src": 19},
                    "after": {"out": 25, "src": 20},
                }
            ],
        )
        edits = {edit["path"]: edit for edit in provenance["config_edits"]}
        self.assertEqual(edits["text_config.num_hidden_layers"]["old"], 64)
        self.assertEqual(edits["text_config.num_hidden_layers"]["new"], 69)
        self.assertEqual(edits["text_config.layer_types"]["new"], self.expected_config(EXAMPLE_MAP)["text_config"]["layer_types"])

    def test_source_folder_unchanged(self):
        self.apply(self.write_recipe(BEFORE_RECIPE))
        hfcheck.assert_unchanged(self.source, self.source_snapshot)

    def test_times_two(self):
        out = self.apply(self.write_recipe(TIMES_TWO_RECIPE))
        self.check(out, TIMES_TWO_MAP, self.expected_config(TIMES_TWO_MAP))
        self.assertEqual(load_json(out / PROVENANCE_FILE_NAME)["map"], TIMES_TWO_MAP)

    def test_before(self):
        out = self.apply(self.write_recipe(BEFORE_RECIPE))
        self.check(out, BEFORE_MAP, self.expected_config(BEFORE_MAP))
        self.assertEqual(load_json(out / PROVENANCE_FILE_NAME)["map"], BEFORE_MAP)

    def test_drop_tail_layers(self):
        out = self.apply(self.write_recipe(DROP_TAIL_RECIPE))
        self.check(out, DROP_TAIL_MAP, self.expected_config(DROP_TAIL_MAP))
        self.assert_index_total_size(out)
        output = hfcheck.load_checkpoint(out)
        self.assertFalse(any(name.startswith(f"{QWEN36_PREFIX}.60.") for name in output.tensors))
        self.assertIn("mtp.layers.0.self_attn.q_proj.weight", output.tensors)

    def test_repeated_apply_is_byte_identical(self):
        second = self.apply(EXAMPLE_RECIPE)
        first_files = folder_contents(self.example_out)
        second_files = folder_contents(second)
        self.assertEqual(sorted(second_files), sorted(first_files))
        for relative_path, data in first_files.items():
            self.assertEqual(second_files[relative_path], data, relative_path)

    def test_jobs_do_not_change_output(self):
        serial = self.apply(EXAMPLE_RECIPE, "--jobs", "1")
        parallel = self.apply(EXAMPLE_RECIPE, "--jobs", "4")
        serial_files = folder_contents(serial)
        parallel_files = folder_contents(parallel)
        self.assertEqual(sorted(parallel_files), sorted(serial_files))
        for relative_path, data in serial_files.items():
            self.assertEqual(parallel_files[relative_path], data, relative_path)

    def test_symlinked_source(self):
        # A Hugging Face cache snapshot is a folder of symlinks into a blobs folder.
        cache = make_temp_dir(self, "rysc-cache-")
        blobs = cache / "blobs"
        snapshot = cache / "snapshot"
        blobs.mkdir()
        snapshot.mkdir()
        for path in sorted(self.source.iterdir()):
            shutil.copyfile(path, blobs / path.name)
            (snapshot / path.name).symlink_to(Path("..") / "blobs" / path.name)
        (snapshot / ".gitattributes").write_text("*.safetensors filter=lfs diff=lfs merge=lfs -text\n")
        (snapshot / "original").mkdir()
        (snapshot / "original" / "params.json").write_text('{"dim": 5120}\n')

        out = make_temp_dir(self, "rysc-out-") / "out"
        result = run_rysc("apply", EXAMPLE_RECIPE, snapshot, out)
        self.assertEqual(result.returncode, 0, result.stderr)
        hfcheck.check_output(
            snapshot,
            out,
            EXAMPLE_MAP,
            QWEN36_PREFIX,
            self.expected_config(EXAMPLE_MAP),
            allowed_extra_files=[PROVENANCE_FILE_NAME],
        )
        for path in out.rglob("*"):
            self.assertFalse(path.is_symlink(), path)

        expected_files = folder_contents(self.example_out)
        output_files = folder_contents(out)
        self.assertEqual(sorted(output_files), sorted([*expected_files, ".gitattributes", "original/params.json"]))
        for relative_path, data in expected_files.items():
            self.assertEqual(output_files[relative_path], data, relative_path)

    def test_plan_text_seam_lines(self):
        result = run_rysc("plan", EXAMPLE_RECIPE, self.source)
        self.assertEqual(result.returncode, 0, result.stderr)
        seams = plan_sections(result.stdout)["seams:"]
        self.assertEqual(len(seams), 5, seams)
        self.assertIn("duplicate blocks[15:20] after", seams[0])
        seam_pairs = [" ".join(line.split()[:4]) for line in seams[1:]]
        self.assertEqual(seam_pairs, ["out 19 <- 19", "out 20 <- 15", "out 24 <- 19", "out 25 <- 20"])

    def test_plan_json_agrees_with_apply(self):
        result = run_rysc("plan", "--format", "json", EXAMPLE_RECIPE, self.source)
        self.assertEqual(result.returncode, 0, result.stderr)
        plan = json.loads(result.stdout)
        self.assertEqual(plan["map"], EXAMPLE_MAP)
        self.assertEqual(plan["layers"], {"source": 64, "output": 69})

        planned_shards = plan["output"]["shards"]
        self.assertEqual([shard["name"] for shard in planned_shards], shard_names(self.example_out))
        index = load_json(self.example_out / INDEX_FILE_NAME)
        for shard in planned_shards:
            path = self.example_out / shard["name"]
            _, records = read_safetensors(path)
            self.assertEqual(shard["tensors"], len(records), shard["name"])
            self.assertEqual(shard["file_size"], path.stat().st_size, shard["name"])
            self.assertEqual(shard["data_bytes"], sum(len(r.data_bytes) for r in records.values()), shard["name"])
            indexed = [name for name, file_name in index["weight_map"].items() if file_name == shard["name"]]
            self.assertEqual(len(indexed), shard["tensors"], shard["name"])
        self.assertEqual(plan["output"]["total_size"], index["metadata"]["total_size"])

        planned_files = {entry["path"]: entry["size"] for entry in plan["output"]["files"]}
        written_files = {path: (self.example_out / path).stat().st_size for path in hfcheck.list_files(self.example_out)}
        self.assertEqual(planned_files, written_files)

    def test_plan_without_model(self):
        with_model = run_rysc("plan", EXAMPLE_RECIPE, self.source)
        without_model = run_rysc("plan", "--layers", "64", EXAMPLE_RECIPE)
        self.assertEqual(with_model.returncode, 0, with_model.stderr)
        self.assertEqual(without_model.returncode, 0, without_model.stderr)
        sections_with = plan_sections(with_model.stdout)
        sections_without = plan_sections(without_model.stdout)
        for header in ("map (output <- source):", "seams:"):
            self.assertIn(header, sections_without)
            self.assertEqual(sections_without[header], sections_with[header], header)

        json_with = json.loads(run_rysc("plan", "--format", "json", EXAMPLE_RECIPE, self.source).stdout)
        json_without = json.loads(run_rysc("plan", "--format", "json", "--layers", "64", EXAMPLE_RECIPE).stdout)
        self.assertEqual(json_without["map"], EXAMPLE_MAP)
        self.assertEqual(json_without["seams"], json_with["seams"])

    def test_plan_without_layer_count_fails(self):
        # A missing layer count is a usage error, like a missing argument.
        result = run_rysc("plan", EXAMPLE_RECIPE)
        self.assertEqual(result.returncode, 2)
        self.assertIn("--layers", result.stderr)


class LlamaApplyTest(ApplyTestCase):
    """A dense 16-layer model stored in a single model.safetensors without index."""

    fixture_name = "llama"

    def expected_config(self, layer_map):
        return expected_config(self.source_config, (), layer_map, ())

    def test_plan_says_when_no_file_is_copied(self):
        # With only config.json, which the recipe rewrites, and the weights, nothing is copied whole.
        model = make_temp_dir(self, "rysc-bare-") / "llama"
        model.mkdir()
        for name in ("config.json", "model.safetensors"):
            shutil.copyfile(self.source / name, model / name)
        result = run_rysc("plan", self.write_recipe(LLAMA_RECIPE), model)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("\nfiles copied byte for byte: none\n", result.stdout)

    def test_single_file_stays_single(self):
        out = self.apply(self.write_recipe(LLAMA_RECIPE))
        self.check(out, LLAMA_MAP, self.expected_config(LLAMA_MAP))
        self.assertEqual(shard_names(out), ["model.safetensors"])
        self.assertFalse((out / INDEX_FILE_NAME).exists())

    def test_max_shard_size_splits_output(self):
        limit = 300_000
        out = self.apply(self.write_recipe(LLAMA_RECIPE), "--max-shard-size", "300KB")
        self.check(out, LLAMA_MAP, self.expected_config(LLAMA_MAP))
        names = shard_names(out)
        self.assertGreater(len(names), 1)
        self.assertEqual(names, generate.shard_file_names(len(names)))
        for name in names:
            _, records = read_safetensors(out / name)
            data_bytes = sum(len(record.data_bytes) for record in records.values())
            self.assertLessEqual(data_bytes, limit, name)
        index = self.assert_index_total_size(out)
        self.assertEqual(set(index["weight_map"].values()), set(names))

    def test_config_big_integers_kept(self):
        model = make_temp_dir(self, "rysc-model-") / "llama"
        shutil.copytree(self.source, model)
        config = copy.deepcopy(self.source_config)
        config["model_max_length"] = int(1e30)
        config["seed"] = 2**64
        (model / "config.json").write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")

        out = make_temp_dir(self, "rysc-out-") / "out"
        result = run_rysc("apply", self.write_recipe(LLAMA_RECIPE), model, out)
        self.assertEqual(result.returncode, 0, result.stderr)
        output_config = load_json(out / "config.json")
        self.assertEqual(output_config["model_max_length"], int(1e30))
        self.assertIs(type(output_config["model_max_length"]), int)
        self.assertEqual(output_config["seed"], 2**64)
        self.assertIs(type(output_config["seed"]), int)

    def test_repeated_sharded_apply_is_byte_identical(self):
        recipe = self.write_recipe(LLAMA_RECIPE)
        first = folder_contents(self.apply(recipe, "--max-shard-size", "300KB"))
        second = folder_contents(self.apply(recipe, "--max-shard-size", "300KB"))
        self.assertEqual(sorted(second), sorted(first))
        for relative_path, data in first.items():
            self.assertEqual(second[relative_path], data, relative_path)


class Gemma3ApplyTest(ApplyTestCase):
    """A 62-layer model with tied embeddings and total_parameters in its index."""

    fixture_name = "gemma3"

    def test_duplicate_window(self):
        out = self.apply(self.write_recipe(GEMMA3_RECIPE))
        config = expected_config(self.source_config, ("text_config",), GEMMA3_MAP, ("layer_types",))
        self.check(out, GEMMA3_MAP, config)

        source = hfcheck.load_checkpoint(self.source)
        copied = [
            tensor
            for name, tensor in source.tensors.items()
            if any(name.startswith(f"{GEMMA3_PREFIX}.{layer}.") for layer in range(20, 30))
        ]
        source_metadata = load_json(self.source / INDEX_FILE_NAME)["metadata"]
        index = self.assert_index_total_size(out)
        self.assertEqual(
            index["metadata"],
            {
                "total_parameters": source_metadata["total_parameters"] + sum(element_count(t.shape) for t in copied),
                "total_size": source_metadata["total_size"] + sum(len(t.data_bytes) for t in copied),
            },
        )

        output = hfcheck.load_checkpoint(out)
        self.assertEqual([name for name in output.tensors if "lm_head" in name], [])
        self.assertEqual([name for name in index["weight_map"] if "lm_head" in name], [])


class OutputFolderTest(ApplyTestCase):
    """How apply treats an existing OUT and what a failed apply leaves behind."""

    fixture_name = "llama"

    def setUp(self):
        self.recipe = self.write_recipe(LLAMA_RECIPE)
        self.parent = make_temp_dir(self, "rysc-parent-")
        self.out = self.parent / "out"

    def make_non_empty_out(self):
        self.out.mkdir()
        (self.out / "notes.txt").write_text("written before rysc ran\n", encoding="utf-8")
        (self.out / "model-00001-of-00002.safetensors").write_bytes(b"stale shard")

    def run_with_file_size_limit(self, *args, limit):
        """Run rysc with RLIMIT_FSIZE set, so that a write past limit bytes fails with EFBIG.

        SIGXFSZ is ignored in the child, so the failing write returns an error
        instead of killing rysc.
        """

        def limit_file_size():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))

        command = [str(RYSC)] + [str(arg) for arg in args]
        return subprocess.run(
            command, capture_output=True, text=True, timeout=RUN_TIMEOUT, preexec_fn=limit_file_size
        )

    def test_empty_out_accepted(self):
        self.out.mkdir()
        self.apply(self.recipe, out=self.out)
        self.check(self.out, LLAMA_MAP, expected_config(self.source_config, (), LLAMA_MAP, ()))
        self.assertEqual(os.listdir(self.parent), ["out"])

    def test_force_replaces_non_empty_out(self):
        self.make_non_empty_out()
        self.apply(self.recipe, "--force", out=self.out)
        self.check(self.out, LLAMA_MAP, expected_config(self.source_config, (), LLAMA_MAP, ()))
        self.assertFalse((self.out / "notes.txt").exists())
        self.assertEqual(os.listdir(self.parent), ["out"])

    def test_non_empty_out_without_force_fails(self):
        self.make_non_empty_out()
        before = hfcheck.snapshot(self.parent)
        result = run_rysc("apply", self.recipe, self.source, self.out)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("not empty", result.stderr)
        self.assertIn("--force", result.stderr)
        hfcheck.assert_unchanged(self.parent, before)

    def test_recipe_error_leaves_no_out(self):
        recipe = self.write_recipe(FAILING_RECIPE)
        result = run_rysc("apply", recipe, self.source, self.out)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("error:", result.stderr)
        self.assertEqual(os.listdir(self.parent), [])

    def test_write_failure_leaves_no_out(self):
        # The 1.3 MB output model.safetensors cannot be written under a 200 kB file size limit.
        result = self.run_with_file_size_limit("apply", self.recipe, self.source, self.out, limit=200_000)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("model.safetensors", result.stderr)
        self.assertEqual(os.listdir(self.parent), [])
        hfcheck.assert_unchanged(self.source, self.source_snapshot)

    def test_failed_force_keeps_old_out(self):
        self.make_non_empty_out()
        before = hfcheck.snapshot(self.out)
        result = self.run_with_file_size_limit(
            "apply", "--force", self.recipe, self.source, self.out, limit=200_000
        )
        self.assertEqual(result.returncode, 1, result.stderr)
        hfcheck.assert_unchanged(self.out, before)
        self.assertEqual(os.listdir(self.parent), ["out"])

    def test_force_rejects_out_containing_source(self):
        # --force replaces OUT, so an OUT that is or contains the source folder would delete the source.
        model = make_temp_dir(self, "rysc-model-") / "model"
        shutil.copytree(self.source, model)
        before = hfcheck.snapshot(model)
        result = run_rysc("apply", "--force", self.recipe, model, model)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("source", result.stderr)
        hfcheck.assert_unchanged(model, before)

        result = run_rysc("apply", "--force", self.recipe, model, model.parent)
        self.assertEqual(result.returncode, 1, result.stderr)
        hfcheck.assert_unchanged(model, before)


if __name__ == "__main__":
    unittest.main()
