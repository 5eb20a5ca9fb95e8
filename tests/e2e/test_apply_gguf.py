"""End-to-end tests of `rysc apply` and `rysc plan` on generated GGUF and imatrix files.

Every output is re-read with the strict reader of tests/fixtures/gguf_io.py, which
enforces llama.cpp's offset and alignment rules and zero padding. Expected layer
maps are written out by hand from their recipes, and expected metadata is derived
in this file from the source metadata, so the tests do not reuse any result that
rysc computes.

The rules checked here: block_count includes the nextn (MTP) blocks, which are the
last nextn_predict_layers blocks. The trunk map applies to blocks 0..N-1, and MTP
blocks are renumbered to follow the new trunk. Per-layer arrays are remapped with
their element type kept, every other key keeps its type and value, and rys.map
(UINT32 array, the trunk map) and rys.provenance (STRING, JSON) are added.

Run from tests/e2e: python3 -m unittest -v test_apply_gguf
The environment variable RYSC names the binary (default: build/rysc in the
source tree) and RYSC_SOURCE_DIR the source tree (default: two folders up).
"""

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from collections import OrderedDict
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("RYSC_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RYSC = Path(os.environ.get("RYSC") or SOURCE_DIR / "build" / "rysc")
FIXTURES_DIR = SOURCE_DIR / "tests" / "fixtures"
sys.path.insert(0, str(FIXTURES_DIR))

import generate_gguf  # noqa: E402
import hfcheck  # noqa: E402
from gguf_io import read_gguf, read_gguf_split, read_imatrix_dat  # noqa: E402

# Seconds one rysc run may take; the fixtures are at most 1.5 MB, so a run normally takes well under 1 s.
RUN_TIMEOUT = 60

MAP_KEY = "rys.map"
PROVENANCE_KEY = "rys.provenance"
BLOCK_NAME = re.compile(r"^blk\.(\d+)\.(.+)$")

# qwen35 fixture: 64 trunk blocks (full attention every 4th) and 1 MTP block, blk.64.
QWEN35_TRUNK = 64
QWEN35_RECIPE = """rys 1;
duplicate blocks[15:20] after;
remap per_layer *;
expect layers 69;
expect out[20] = src[15];
"""
QWEN35_MAP = list(range(20)) + list(range(15, 20)) + list(range(20, 64))

# A window of 4 blocks keeps every copy in step with full_attention_interval = 4.
QWEN35_WINDOW4_RECIPE = """rys 1;
duplicate blocks[16:20] after;
remap per_layer *;
"""
QWEN35_WINDOW4_MAP = list(range(20)) + list(range(16, 20)) + list(range(20, 64))

QWEN35_DROP_TAIL_RECIPE = """rys 1;
drop blocks[60:64];
remap per_layer *;
"""
QWEN35_DROP_TAIL_MAP = list(range(60))

# llama fixture: 16 blocks, no MTP block.
LLAMA_TRUNK = 16
LLAMA_RECIPE = """rys 1;
duplicate blocks[4:8] after;
remap per_layer *;
expect layers 20;
"""
LLAMA_MAP = list(range(8)) + list(range(4, 8)) + list(range(8, 16))

# Two copies before the window and a dropped tail: the block count stays 16, but the map changes.
LLAMA_COMPOSED_RECIPE = """rys 1;
duplicate blocks[2:4] before times 2;
drop blocks[12:16];
remap per_layer *;
"""
LLAMA_COMPOSED_MAP = [0, 1] + [2, 3] + [2, 3] + list(range(2, 12))

# glm4moe fixture: 8 trunk blocks, block 0 dense (leading_dense_block_count = 1), MTP block blk.8.
GLM4MOE_TRUNK = 8
GLM4MOE_ABOVE_RECIPE = """rys 1;
duplicate blocks[3:6] after;
remap per_layer *;
"""
GLM4MOE_ABOVE_MAP = list(range(6)) + [3, 4, 5] + [6, 7]
GLM4MOE_INSIDE_RECIPE = """rys 1;
duplicate blocks[0:1] after;
remap per_layer *;
"""
GLM4MOE_INSIDE_MAP = [0, 0] + list(range(1, 8))
# Copies of dense block 0 and MoE block 1 would interleave dense and MoE blocks.
GLM4MOE_STRADDLE_RECIPE = """rys 1;
duplicate blocks[0:2] after;
remap per_layer *;
"""
# The same family with 3 leading dense blocks, built in this file.
GLM4MOE_DENSE3_LEADING = 3
GLM4MOE_DENSE3_INSIDE_RECIPE = """rys 1;
duplicate blocks[1:3] after;
remap per_layer *;
"""
GLM4MOE_DENSE3_INSIDE_MAP = [0, 1, 2] + [1, 2] + list(range(3, 8))

# quantized fixture: llama with 4 blocks in Q8_0, Q4_K and IQ4_NL, alignment 64.
QUANTIZED_TRUNK = 4
QUANTIZED_RECIPE = """rys 1;
duplicate blocks[1:3] after;
remap per_layer *;
"""
QUANTIZED_MAP = [0, 1, 2] + [1, 2] + [3]
QUANTIZED_ALIGNMENT = 64


def run_rysc(*args):
    """Run rysc with the given arguments and return the CompletedProcess with text output."""
    command = [str(RYSC)] + [str(arg) for arg in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def make_temp_dir(test_case, prefix):
    """Create a temporary folder that is removed when test_case finishes."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    test_case.addCleanup(shutil.rmtree, folder, ignore_errors=True)
    return folder


def qwen35_source_is_recurrent(block):
    """Return whether a qwen35 fixture block is linear attention: every trunk block but each 4th, never MTP."""
    return block < QWEN35_TRUNK and (block + 1) % 4 != 0


def expected_sources(source_names, trunk, layer_map):
    """Return {output tensor or entry name: source name} for a trunk map.

    Output block o takes every blk.{m[o]}.* name of the source. Source blocks at
    or past trunk (MTP blocks) are renumbered to follow the new trunk, and names
    outside blk.N.* keep their name.
    """
    block_suffixes = {}
    expected = {}
    for name in source_names:
        match = BLOCK_NAME.match(name)
        if match is None:
            expected[name] = name
        else:
            block_suffixes.setdefault(int(match[1]), []).append(match[2])
    for out_block, source_block in enumerate(layer_map):
        for suffix in block_suffixes.get(source_block, []):
            expected[f"blk.{out_block}.{suffix}"] = f"blk.{source_block}.{suffix}"
    for source_block in sorted(block for block in block_suffixes if block >= trunk):
        out_block = len(layer_map) + source_block - trunk
        for suffix in block_suffixes[source_block]:
            expected[f"blk.{out_block}.{suffix}"] = f"blk.{source_block}.{suffix}"
    return expected


def block_tensor_names(tensors, block):
    prefix = f"blk.{block}."
    return sorted(name for name in tensors if name.startswith(prefix))


def remapped_array(source_value, layer_map, trunk):
    """Return a per-layer ARRAY value moved through layer_map, with the MTP entries appended unchanged."""
    kind, (element_type, elements) = source_value
    return (kind, (element_type, [elements[source] for source in layer_map] + list(elements[trunk:])))


def write_glm4moe_dense3(outdir):
    """Write glm4moe with 3 leading dense blocks (generator defaults otherwise) and return its path."""
    params = dict(generate_gguf.GLM4MOE_PARAMS, leading_dense=GLM4MOE_DENSE3_LEADING)
    specs = [generate_gguf.matrix("token_embd.weight", params["n_embd"], params["vocab"])]
    for block in range(params["trunk"] + params["nextn"]):
        specs += generate_gguf.glm4moe_block(block, params)
    specs.append(generate_gguf.norm("output_norm.weight", params["n_embd"]))
    specs.append(generate_gguf.matrix("output.weight", params["n_embd"], params["vocab"]))
    fixture = generate_gguf.GgufFixture(
        name="glm4moe_dense3",
        file_stem="glm4moe_dense3",
        metadata=generate_gguf.glm4moe_metadata(params),
        tensors=specs,
    )
    return generate_gguf.write_fixture(fixture, outdir)[0]


def write_qwen35_with_arrays(outdir, arrays):
    """Write the qwen35 fixture with the scalar keys in arrays replaced by ARRAY values and return its path.

    The tensor shapes still follow the scalars, so only the metadata is meaningful.
    """
    fixture = generate_gguf.build_fixture("qwen35")
    fixture.name = fixture.file_stem = "qwen35_arrays"
    fixture.metadata = [
        (key, "ARRAY", arrays[key]) if key in arrays else (key, type_name, value)
        for key, type_name, value in fixture.metadata
    ]
    return generate_gguf.write_fixture(fixture, outdir)[0]


class GgufTestCase(unittest.TestCase):
    """Shared helpers; setUpClass generates the fixtures named in fixture_names once per class."""

    fixture_names = ()

    @classmethod
    def setUpClass(cls):
        cls.root = Path(tempfile.mkdtemp(prefix=f"rysc-gguf-{cls.__name__}-"))
        cls.sources = {}
        for name in cls.fixture_names:
            _, paths = generate_gguf.generate(name, cls.root / name)
            cls.sources[name] = paths[0]
        cls.add_sources()
        cls.snapshots = {name: hfcheck.snapshot(path.parent) for name, path in cls.sources.items()}

    @classmethod
    def add_sources(cls):
        """Write extra source files into cls.root and register them in cls.sources."""

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def run_checked(self, *args):
        """Run rysc, then assert that no source folder of this class changed."""
        result = run_rysc(*args)
        for name, path in self.sources.items():
            hfcheck.assert_unchanged(path.parent, self.snapshots[name])
        return result

    def write_recipe(self, text):
        path = make_temp_dir(self, "rysc-recipe-") / "recipe.rys"
        path.write_text(text, encoding="utf-8")
        return path

    def apply(self, recipe_text, source_name, *options, out_name="out.gguf", expected_files=None):
        """Run rysc apply into a new folder, assert exit 0 and that only expected_files appear there.

        expected_files defaults to [out_name]. Returns (OUT path, CompletedProcess).
        """
        out = make_temp_dir(self, "rysc-out-") / out_name
        result = self.run_checked("apply", *options, self.write_recipe(recipe_text), self.sources[source_name], out)
        self.assertEqual(result.returncode, 0, f"rysc apply failed:\n{result.stderr}")
        self.assertEqual(sorted(os.listdir(out.parent)), sorted(expected_files or [out_name]))
        return out, result

    def apply_rejected(self, recipe_text, source_name, *options):
        """Run rysc apply into a new folder, assert exit 1 and an empty folder, and return the CompletedProcess."""
        out = make_temp_dir(self, "rysc-out-") / "out.gguf"
        result = self.run_checked("apply", *options, self.write_recipe(recipe_text), self.sources[source_name], out)
        self.assertEqual(result.returncode, 1, f"expected exit 1, got {result.returncode}:\n{result.stderr}")
        self.assertIn("error:", result.stderr)
        self.assertEqual(os.listdir(out.parent), [])
        return result

    def plan_json(self, recipe_text, model_path, *options):
        result = self.run_checked("plan", "--format", "json", *options, self.write_recipe(recipe_text), model_path)
        self.assertEqual(result.returncode, 0, f"rysc plan failed:\n{result.stderr}")
        return json.loads(result.stdout)

    def assert_tensors(self, output_tensors, source_tensors, expected):
        """Assert that output_tensors contains exactly the names of expected, each equal to its source tensor."""
        self.assertEqual(sorted(output_tensors), sorted(expected))
        problems = []
        for out_name, source_name in expected.items():
            got = output_tensors[out_name]
            want = source_tensors[source_name]
            if got.dims != want.dims:
                problems.append(f"{out_name}: dims {got.dims}, expected {want.dims} of {source_name}")
            if got.type_name != want.type_name:
                problems.append(f"{out_name}: type {got.type_name}, expected {want.type_name} of {source_name}")
            if got.data_bytes != want.data_bytes:
                problems.append(f"{out_name}: bytes differ from {source_name}")
        self.assertEqual(problems, [])

    def assert_metadata(self, output_metadata, source_metadata, layer_map, changes):
        """Assert the output keys: the source keys with changes applied, plus rys.map and rys.provenance.

        changes maps a key to its expected (type, value); keys absent from the
        source are expected to be added.
        """
        metadata = OrderedDict(output_metadata)
        self.assertEqual(metadata.pop(MAP_KEY, None), ("ARRAY", ("UINT32", layer_map)))
        provenance = metadata.pop(PROVENANCE_KEY, None)
        self.assertIsNotNone(provenance, f"{PROVENANCE_KEY} is missing")
        self.assertEqual(provenance[0], "STRING")
        self.assertEqual(json.loads(provenance[1])["map"], layer_map)

        expected = OrderedDict(source_metadata)
        expected.update(changes)
        self.assertEqual(sorted(metadata), sorted(expected))
        for key, value in expected.items():
            self.assertEqual(metadata[key], value, key)


class Qwen35ApplyTest(GgufTestCase):
    """Qwen3.6-27B layout: 64 hybrid blocks and 1 MTP block, schedule only in full_attention_interval."""

    fixture_names = ("qwen35",)

    def setUp(self):
        self.source = read_gguf(self.sources["qwen35"])

    def test_duplicate_writes_recurrent_layers(self):
        out, _ = self.apply(QWEN35_RECIPE, "qwen35")
        output = read_gguf(out)

        schedule = [qwen35_source_is_recurrent(source) for source in QWEN35_MAP] + [False]
        self.assertEqual(len(schedule), 70)
        self.assertEqual(output.metadata["qwen35.block_count"], ("UINT32", 70))
        self.assertEqual(output.metadata["qwen35.attention.recurrent_layers"], ("ARRAY", ("BOOL", schedule)))
        recurrent = output.metadata["qwen35.attention.recurrent_layers"][1][1]
        self.assertEqual(recurrent[20:25], [False, True, True, True, False])
        self.assertFalse(recurrent[69], "the MTP block uses full attention")

        self.assert_metadata(
            output.metadata,
            self.source.metadata,
            QWEN35_MAP,
            {
                "qwen35.block_count": ("UINT32", 70),
                "qwen35.attention.recurrent_layers": ("ARRAY", ("BOOL", schedule)),
            },
        )
        self.assertEqual(output.metadata["qwen35.full_attention_interval"], ("UINT32", 4))

    def test_duplicate_copies_blocks_and_mtp(self):
        out, _ = self.apply(QWEN35_RECIPE, "qwen35")
        output = read_gguf(out)
        self.assert_tensors(
            output.tensors, self.source.tensors, expected_sources(self.source.tensors, QWEN35_TRUNK, QWEN35_MAP)
        )

        mtp_suffixes = [name[len("blk.64."):] for name in block_tensor_names(self.source.tensors, 64)]
        self.assertIn("nextn.eh_proj.weight", mtp_suffixes)
        self.assertEqual(block_tensor_names(output.tensors, 69), [f"blk.69.{suffix}" for suffix in mtp_suffixes])
        for suffix in mtp_suffixes:
            got = output.tensors[f"blk.69.{suffix}"]
            want = self.source.tensors[f"blk.64.{suffix}"]
            self.assertEqual((got.dims, got.type_name), (want.dims, want.type_name), suffix)
            self.assertEqual(got.data_bytes, want.data_bytes, suffix)
        self.assertEqual(block_tensor_names(output.tensors, 70), [])

        for name in ("token_embd.weight", "output_norm.weight", "output.weight"):
            self.assertEqual(output.tensors[name].data_bytes, self.source.tensors[name].data_bytes, name)
        self.assertIn("blk.20.attn_q.weight", output.tensors)
        self.assertNotIn("blk.20.ssm_out.weight", output.tensors)

    def test_duplicate_warns_about_interval(self):
        _, result = self.apply(QWEN35_RECIPE, "qwen35")
        # Output block 20 copies full-attention block 15, which the interval would make recurrent.
        self.assertIn(
            "warning: 'qwen35.full_attention_interval' = 4 no longer generates the "
            "layer schedule: output layer 20 comes from source layer 15 and needs "
            "'qwen35.attention.recurrent_layers' = false (a full-attention block), but the scalar gives it true "
            "(a recurrent gated delta-net block); the explicit 'qwen35.attention.recurrent_layers' list is added, "
            "but readers that use only 'full_attention_interval' will build the wrong layers; a window that keeps "
            "it valid: blocks[15:19]\n",
            result.stderr,
        )

    def test_strict_rejects_interval_change(self):
        result = self.apply_rejected(QWEN35_RECIPE, "qwen35", "--strict")
        self.assertIn(
            "error: 'qwen35.full_attention_interval' = 4 no longer generates the layer schedule: output layer 20 "
            "comes from source layer 15 and needs 'qwen35.attention.recurrent_layers' = false (a full-attention "
            "block), but the scalar gives it true (a recurrent gated delta-net block); --strict rejects adding "
            "the explicit 'qwen35.attention.recurrent_layers' list, because readers that use only "
            "'full_attention_interval' would build the wrong layers; use a window that keeps the scalar valid, "
            "such as blocks[15:19], or run without --strict to add the list\n",
            result.stderr,
        )
        self.assertNotIn("list is added", result.stderr)

    def test_window_of_four_keeps_interval(self):
        out, result = self.apply(QWEN35_WINDOW4_RECIPE, "qwen35")
        self.assertNotIn("warning", result.stderr)
        output = read_gguf(out)
        self.assertNotIn("qwen35.attention.recurrent_layers", output.metadata)
        self.assert_metadata(
            output.metadata, self.source.metadata, QWEN35_WINDOW4_MAP, {"qwen35.block_count": ("UINT32", 69)}
        )
        self.assert_tensors(
            output.tensors,
            self.source.tensors,
            expected_sources(self.source.tensors, QWEN35_TRUNK, QWEN35_WINDOW4_MAP),
        )
        # Read through the interval, block o is linear iff (o + 1) % 4 != 0: its tensors must agree.
        for block in range(len(QWEN35_WINDOW4_MAP)):
            has_ssm = f"blk.{block}.ssm_out.weight" in output.tensors
            self.assertEqual(has_ssm, (block + 1) % 4 != 0, f"blk.{block}")

        self.apply(QWEN35_WINDOW4_RECIPE, "qwen35", "--strict")

    def test_drop_tail_keeps_interval(self):
        out, result = self.apply(QWEN35_DROP_TAIL_RECIPE, "qwen35")
        self.assertNotIn("warning", result.stderr)
        output = read_gguf(out)
        self.assert_metadata(
            output.metadata, self.source.metadata, QWEN35_DROP_TAIL_MAP, {"qwen35.block_count": ("UINT32", 61)}
        )
        self.assert_tensors(
            output.tensors,
            self.source.tensors,
            expected_sources(self.source.tensors, QWEN35_TRUNK, QWEN35_DROP_TAIL_MAP),
        )
        self.assertIn("blk.60.nextn.eh_proj.weight", output.tensors)

    def test_repeated_apply_is_byte_identical(self):
        first, _ = self.apply(QWEN35_RECIPE, "qwen35")
        second, _ = self.apply(QWEN35_RECIPE, "qwen35")
        self.assertEqual(first.read_bytes(), second.read_bytes())

    def test_plan_json_lists_map_and_output(self):
        plan = self.plan_json(QWEN35_RECIPE, self.sources["qwen35"])
        self.assertEqual(plan["map"], QWEN35_MAP)
        self.assertEqual(plan["layers"], {"source": 64, "output": 69})
        edits = {edit["path"]: edit for edit in plan["config_edits"]}
        self.assertEqual(sorted(edits), ["qwen35.attention.recurrent_layers", "qwen35.block_count"])
        self.assertEqual((edits["qwen35.block_count"]["old"], edits["qwen35.block_count"]["new"]), (65, 70))
        schedule = [qwen35_source_is_recurrent(source) for source in QWEN35_MAP] + [False]
        self.assertEqual(edits["qwen35.attention.recurrent_layers"]["new"], schedule)

        out, _ = self.apply(QWEN35_RECIPE, "qwen35")
        files = plan["output"]["files"]
        self.assertEqual(len(files), 1, files)
        self.assertTrue(files[0]["path"].endswith(".gguf"), files[0])
        self.assertEqual(files[0]["size"], out.stat().st_size)
        self.assertEqual(files[0]["tensors"], len(read_gguf(out).tensors))

    def test_plan_reads_no_tensor_data(self):
        # A copy whose data section, padding included, is all 0xFF: only the header is intact.
        copy = make_temp_dir(self, "rysc-ff-") / self.sources["qwen35"].name
        shutil.copyfile(self.sources["qwen35"], copy)
        file_size = copy.stat().st_size
        self.assertLess(self.source.data_offset, file_size)
        with open(copy, "r+b") as stream:
            stream.seek(self.source.data_offset)
            stream.write(b"\xff" * (file_size - self.source.data_offset))

        original = self.plan_json(QWEN35_RECIPE, self.sources["qwen35"])
        overwritten = self.plan_json(QWEN35_RECIPE, copy)
        self.assertEqual(overwritten, original)


class AlignedLayoutApplyTest(GgufTestCase):
    """The output mirrors the source's tensor order, and --copy-alignment pads the header with rys.padding."""

    fixture_names = ("qwen35",)
    GRANULE = 4096

    def setUp(self):
        self.source = read_gguf(self.sources["qwen35"])

    def expected_order(self):
        """Source tensors in source order, named for their first output block, then each further copy in source order."""
        outputs = {}
        for out, source in enumerate(QWEN35_MAP):
            outputs.setdefault(source, []).append(out)
        outputs[QWEN35_TRUNK] = [len(QWEN35_MAP)]  # the MTP block follows the new trunk
        order = []
        for copy in range(max(len(blocks) for blocks in outputs.values())):
            for name in self.source.tensors:
                match = BLOCK_NAME.match(name)
                if match is None:
                    if copy == 0:
                        order.append(name)
                elif copy < len(outputs[int(match[1])]):
                    order.append(f"blk.{outputs[int(match[1])][copy]}.{match[2]}")
        return order

    def assert_same_phase(self, output, names, granule):
        """Assert that each named output tensor sits at its source tensor's file offset modulo granule."""
        expected = expected_sources(self.source.tensors, QWEN35_TRUNK, QWEN35_MAP)
        problems = []
        for name in names:
            got = (output.data_offset + output.tensors[name].offset) % granule
            want = (self.source.data_offset + self.source.tensors[expected[name]].offset) % granule
            if got != want:
                problems.append(f"{name}: offset {got} modulo {granule}, source {want}")
        self.assertEqual(problems, [])

    def test_default_layout_mirrors_source(self):
        out, _ = self.apply(QWEN35_RECIPE, "qwen35")
        output = read_gguf(out)
        self.assertEqual(list(output.tensors), self.expected_order())
        self.assertNotIn("rys.padding", output.metadata)
        self.assert_tensors(
            output.tensors, self.source.tensors, expected_sources(self.source.tensors, QWEN35_TRUNK, QWEN35_MAP)
        )

    def test_copy_alignment_pads_header_to_the_source_phase(self):
        out, _ = self.apply(QWEN35_RECIPE, "qwen35", "--copy-alignment", "4KiB")
        output = read_gguf(out)
        self.assertEqual(list(output.tensors), self.expected_order())

        padding_type, padding = output.metadata["rys.padding"]
        self.assertEqual(padding_type, "STRING")
        self.assertEqual(padding.strip(" "), "")
        self.assertEqual(list(output.metadata)[-1], "rys.padding")
        self.assertEqual(output.data_offset % self.GRANULE, self.source.data_offset % self.GRANULE)

        # Every tensor before the copies keeps its offset modulo the granule.
        order = self.expected_order()
        self.assert_same_phase(output, order[: len(order) - self.copied_tensors()], self.GRANULE)
        self.assert_tensors(
            output.tensors, self.source.tensors, expected_sources(self.source.tensors, QWEN35_TRUNK, QWEN35_MAP)
        )
        verified = self.run_checked("verify", self.write_recipe(QWEN35_RECIPE), self.sources["qwen35"], out)
        self.assertEqual(verified.returncode, 0, verified.stdout + verified.stderr)

    def test_verbose_lists_merged_copies_into_the_output_file(self):
        # Tensors adjacent in both files move in one copy with their padding: one copy
        # for the source's tensors in place, one for the copied blocks 15..19.
        out, result = self.apply(QWEN35_RECIPE, "qwen35", "--verbose")
        output = read_gguf(out)
        lines = [line for line in result.stderr.splitlines() if line.startswith("copy ")]
        source_names = list(self.source.tensors)
        window = [name for name in source_names if 15 <= int(BLOCK_NAME.match(name)[1] if BLOCK_NAME.match(name) else -1) < 20]

        def span(first, last):
            begin = self.source.tensors[first].offset
            return begin, self.source.tensors[last].offset + len(self.source.tensors[last].data_bytes) - begin

        begin, length = span(source_names[0], source_names[-1])
        copy_begin, copy_length = span(window[0], window[-1])
        first_copy = "blk.20." + BLOCK_NAME.match(window[0])[2]
        source, data = self.sources["qwen35"], self.source.data_offset
        self.assertEqual(
            lines,
            [
                f"copy {length} bytes from '{source}' at {data + begin} to '{out}' at {output.data_offset}",
                f"copy {copy_length} bytes from '{source}' at {data + copy_begin} to '{out}' at "
                f"{output.data_offset + output.tensors[first_copy].offset}",
            ],
        )

    def test_source_padding_not_copied(self):
        # Copies carry the source's padding between tensors; the output's must still be zeros.
        dirty = make_temp_dir(self, "rysc-dirty-") / "qwen35.gguf"
        blob = bytearray(self.sources["qwen35"].read_bytes())
        filled = 0
        for record in self.source.tensors.values():
            end = self.source.data_offset + record.offset + len(record.data_bytes)
            padding = -end % self.source.alignment
            blob[end : end + padding] = b"\xaa" * padding
            filled += padding
        self.assertGreater(filled, 0)
        dirty.write_bytes(bytes(blob))
        self.assertEqual(read_gguf(dirty, strict_padding=False).tensors, self.source.tensors)

        out = dirty.parent / "out.gguf"
        result = self.run_checked("apply", self.write_recipe(QWEN35_RECIPE), dirty, out)
        self.assertEqual(result.returncode, 0, result.stderr)
        output = read_gguf(out)  # strict: every padding byte is zero
        self.assert_tensors(
            output.tensors, self.source.tensors, expected_sources(self.source.tensors, QWEN35_TRUNK, QWEN35_MAP)
        )

    def test_plan_reports_the_padding(self):
        padded, _ = self.apply(QWEN35_RECIPE, "qwen35", "--copy-alignment", "4KiB")
        plain, _ = self.apply(QWEN35_RECIPE, "qwen35", "--copy-alignment", "0")
        added = read_gguf(padded).data_offset - read_gguf(plain).data_offset
        self.assertGreater(added, 0)

        plan = self.plan_json(QWEN35_RECIPE, self.sources["qwen35"], "--copy-alignment", "4KiB")
        [planned] = plan["output"]["files"]
        self.assertEqual(planned["alignment_padding"], added)
        self.assertEqual(planned["size"], padded.stat().st_size)
        plain_plan = self.plan_json(QWEN35_RECIPE, self.sources["qwen35"], "--copy-alignment", "0")
        self.assertEqual(plain_plan["output"]["files"][0]["alignment_padding"], 0)

    def test_verify_rejects_other_bytes_in_padding(self):
        out, _ = self.apply(QWEN35_RECIPE, "qwen35", "--copy-alignment", "4KiB")
        blob = bytearray(out.read_bytes())
        key = b"rys.padding"
        at = blob.index(len(key).to_bytes(8, "little") + key) + 8 + len(key)
        self.assertEqual(blob[at : at + 4], (8).to_bytes(4, "little"))  # GGUF type 8 is STRING
        first_space = at + 4 + 8
        self.assertEqual(blob[first_space], ord(" "))
        blob[first_space] = ord("x")
        out.write_bytes(bytes(blob))

        result = self.run_checked("verify", self.write_recipe(QWEN35_RECIPE), self.sources["qwen35"], out)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(f"'{out}': key 'rys.padding' holds bytes other than spaces", result.stdout)

    def test_copy_alignment_zero_adds_no_padding(self):
        out, _ = self.apply(QWEN35_RECIPE, "qwen35", "--copy-alignment", "0")
        output = read_gguf(out)
        self.assertNotIn("rys.padding", output.metadata)
        self.assertEqual(list(output.tensors), self.expected_order())

    def test_copy_alignment_must_be_a_power_of_two(self):
        result = self.run_checked(
            "apply", "--copy-alignment", "3000", self.write_recipe(QWEN35_RECIPE), self.sources["qwen35"], "x.gguf"
        )
        self.assertEqual(result.returncode, 2, result.stderr)
        self.assertIn("--copy-alignment needs 0 or a power of two up to 1GiB, such as 2MiB, found '3000'", result.stderr)

    def copied_tensors(self):
        """The tensor count of source blocks 15 to 19, which are copied once more."""
        blocks = [BLOCK_NAME.match(name) for name in self.source.tensors]
        return sum(1 for match in blocks if match and 15 <= int(match[1]) < 20)


class Qwen35RecurrentApplyTest(GgufTestCase):
    """qwen35 with an explicit qwen35.attention.recurrent_layers BOOL array of 65 entries."""

    fixture_names = ("qwen35_recurrent",)

    def setUp(self):
        self.source = read_gguf(self.sources["qwen35_recurrent"])
        self.source_recurrent = self.source.metadata["qwen35.attention.recurrent_layers"]

    def test_duplicate_remaps_existing_array(self):
        out, _ = self.apply(QWEN35_RECIPE, "qwen35_recurrent")
        output = read_gguf(out)

        expected = remapped_array(self.source_recurrent, QWEN35_MAP, QWEN35_TRUNK)
        self.assertEqual(len(expected[1][1]), 70)
        self.assertEqual(output.metadata["qwen35.attention.recurrent_layers"], expected)
        self.assertEqual(expected[1][1][20:25], [False, True, True, True, False])
        self.assert_metadata(
            output.metadata,
            self.source.metadata,
            QWEN35_MAP,
            {"qwen35.block_count": ("UINT32", 70), "qwen35.attention.recurrent_layers": expected},
        )
        self.assert_tensors(
            output.tensors, self.source.tensors, expected_sources(self.source.tensors, QWEN35_TRUNK, QWEN35_MAP)
        )

    def test_drop_tail_remaps_existing_array(self):
        out, _ = self.apply(QWEN35_DROP_TAIL_RECIPE, "qwen35_recurrent")
        output = read_gguf(out)

        expected = remapped_array(self.source_recurrent, QWEN35_DROP_TAIL_MAP, QWEN35_TRUNK)
        self.assertEqual(len(expected[1][1]), 61)
        self.assert_metadata(
            output.metadata,
            self.source.metadata,
            QWEN35_DROP_TAIL_MAP,
            {"qwen35.block_count": ("UINT32", 61), "qwen35.attention.recurrent_layers": expected},
        )
        self.assert_tensors(
            output.tensors,
            self.source.tensors,
            expected_sources(self.source.tensors, QWEN35_TRUNK, QWEN35_DROP_TAIL_MAP),
        )


class PerLayerArrayApplyTest(GgufTestCase):
    """qwen35 whose feed-forward length and head counts are per-block arrays of 65 entries (MTP included)."""

    ARRAYS = {
        "qwen35.feed_forward_length": ("INT32", [48 + block for block in range(65)]),
        "qwen35.attention.head_count": ("UINT32", [4 + block % 3 for block in range(65)]),
        "qwen35.attention.head_count_kv": ("UINT16", [1 + block % 2 for block in range(65)]),
    }

    @classmethod
    def add_sources(cls):
        cls.sources["qwen35_arrays"] = write_qwen35_with_arrays(cls.root / "qwen35_arrays", cls.ARRAYS)

    def test_arrays_follow_map_and_keep_type(self):
        source = read_gguf(self.sources["qwen35_arrays"])
        out, _ = self.apply(QWEN35_RECIPE, "qwen35_arrays")
        output = read_gguf(out)

        changes = {"qwen35.block_count": ("UINT32", 70)}
        for key, (element_type, elements) in self.ARRAYS.items():
            self.assertEqual(source.metadata[key], ("ARRAY", (element_type, elements)), key)
            expected = ("ARRAY", (element_type, [elements[block] for block in QWEN35_MAP] + [elements[64]]))
            self.assertEqual(output.metadata[key], expected, key)
            changes[key] = expected
        schedule = [qwen35_source_is_recurrent(block) for block in QWEN35_MAP] + [False]
        changes["qwen35.attention.recurrent_layers"] = ("ARRAY", ("BOOL", schedule))
        self.assert_metadata(output.metadata, source.metadata, QWEN35_MAP, changes)
        self.assert_tensors(output.tensors, source.tensors, expected_sources(source.tensors, QWEN35_TRUNK, QWEN35_MAP))


class LlamaApplyTest(GgufTestCase):
    """llama, 16 blocks without MTP, per-layer sizes stored as scalars."""

    fixture_names = ("llama",)

    def setUp(self):
        self.source = read_gguf(self.sources["llama"])

    def test_inspect_says_there_are_no_per_layer_fields(self):
        result = self.run_checked("inspect", self.sources["llama"])
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("\nper-layer fields: none\n", result.stdout)

    def test_duplicate_copies_blocks(self):
        out, _ = self.apply(LLAMA_RECIPE, "llama")
        output = read_gguf(out)
        self.assertEqual(output.metadata["llama.block_count"], ("UINT32", 20))
        # Scalars apply to every block, so a copy needs no change. The values are the generator's LLAMA_PARAMS.
        self.assertEqual(output.metadata["llama.feed_forward_length"], ("UINT32", 64))
        self.assertEqual(output.metadata["llama.attention.head_count"], ("UINT32", 4))
        self.assertEqual(output.metadata["llama.attention.head_count_kv"], ("UINT32", 2))
        self.assert_metadata(output.metadata, self.source.metadata, LLAMA_MAP, {"llama.block_count": ("UINT32", 20)})
        self.assert_tensors(
            output.tensors, self.source.tensors, expected_sources(self.source.tensors, LLAMA_TRUNK, LLAMA_MAP)
        )
        self.assertEqual(output.tensors["blk.8.attn_q.weight"].data_bytes, self.source.tensors["blk.4.attn_q.weight"].data_bytes)
        self.assertEqual(block_tensor_names(output.tensors, 20), [])

    def test_composed_recipe_keeps_block_count(self):
        out, _ = self.apply(LLAMA_COMPOSED_RECIPE, "llama")
        output = read_gguf(out)
        self.assertEqual(len(LLAMA_COMPOSED_MAP), 16)
        self.assert_metadata(output.metadata, self.source.metadata, LLAMA_COMPOSED_MAP, {})
        self.assert_tensors(
            output.tensors, self.source.tensors, expected_sources(self.source.tensors, LLAMA_TRUNK, LLAMA_COMPOSED_MAP)
        )

    def test_existing_out_needs_force(self):
        out = make_temp_dir(self, "rysc-out-") / "out.gguf"
        out.write_bytes(b"placeholder")
        recipe = self.write_recipe(LLAMA_RECIPE)

        result = self.run_checked("apply", recipe, self.sources["llama"], out)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("--force", result.stderr)
        self.assertEqual(out.read_bytes(), b"placeholder")
        self.assertEqual(os.listdir(out.parent), ["out.gguf"])

        result = self.run_checked("apply", "--force", recipe, self.sources["llama"], out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(read_gguf(out).metadata["llama.block_count"], ("UINT32", 20))
        self.assertEqual(os.listdir(out.parent), ["out.gguf"])

    def test_leftover_temporary_folder_reported(self):
        out = make_temp_dir(self, "rysc-out-") / "out.gguf"
        leftover = out.parent / ".out.gguf.rysc-tmp-Ab12Cd"
        unrelated = out.parent / ".other.gguf.rysc-tmp-Ab12Cd"
        for folder in (leftover, unrelated):
            folder.mkdir()
            (folder / "out.gguf").write_bytes(b"partial")
        result = self.run_checked("apply", self.write_recipe(LLAMA_RECIPE), self.sources["llama"], out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn(
            f"rysc: warning: '{leftover}' was left by an earlier run that was killed before it finished; "
            "delete it to free its space\n",
            result.stderr,
        )
        self.assertNotIn(str(unrelated), result.stderr)
        # The warning deletes nothing: the folder may hold something the user wants.
        self.assertEqual((leftover / "out.gguf").read_bytes(), b"partial")

    def test_damaged_gguf_gets_gguf_messages(self):
        folder = make_temp_dir(self, "rysc-damaged-")
        data = self.sources["llama"].read_bytes()
        cases = {
            "empty.gguf": (b"", "truncated: the magic at offset 0 needs 4 bytes, but the file ends at offset 0"),
            "magic.gguf": (b"GGUX" + data[4:], "invalid magic 'GGUX', expected 'GGUF'"),
        }
        recipe = self.write_recipe(LLAMA_RECIPE)
        for name, (content, message) in cases.items():
            with self.subTest(name=name):
                path = folder / name
                path.write_bytes(content)
                result = self.run_checked("plan", recipe, path)
                self.assertEqual(result.returncode, 1, result.stderr)
                self.assertIn(f"'{path}': {message} (the file is damaged or not GGUF; download or convert it again)",
                              result.stderr)

    def test_out_equal_to_source_rejected(self):
        recipe = self.write_recipe(LLAMA_RECIPE)
        source = self.sources["llama"]
        for options in ([], ["--force"]):
            with self.subTest(options=options):
                result = self.run_checked("apply", *options, recipe, source, source)
                self.assertEqual(result.returncode, 1, result.stderr)
                self.assertIn("error:", result.stderr)
        # Another spelling of the same path.
        result = self.run_checked("apply", "--force", recipe, source, source.parent / ".." / source.parent.name / source.name)
        self.assertEqual(result.returncode, 1, result.stderr)


class LargeVocabularyApplyTest(GgufTestCase):
    """A 20,000-token tokenizer: its arrays pass the 64 KiB that rysc loads, so they are copied from the file."""

    fixture_names = ("large_vocab", "large_vocab_split")
    TOKENIZER_ARRAYS = ("tokenizer.ggml.tokens", "tokenizer.ggml.scores", "tokenizer.ggml.token_type")

    def setUp(self):
        self.source = read_gguf(self.sources["large_vocab"])

    def test_tokenizer_arrays_copied(self):
        out, _ = self.apply(LLAMA_RECIPE, "large_vocab")
        output = read_gguf(out)
        for key in self.TOKENIZER_ARRAYS:
            self.assertEqual(len(self.source.metadata[key][1][1]), generate_gguf.LARGE_VOCAB, key)
        self.assert_metadata(output.metadata, self.source.metadata, LLAMA_MAP, {"llama.block_count": ("UINT32", 20)})
        self.assert_tensors(
            output.tensors, self.source.tensors, expected_sources(self.source.tensors, LLAMA_TRUNK, LLAMA_MAP)
        )

    def test_split_output_keeps_tokenizer_in_first_part(self):
        out, _ = self.apply(
            LLAMA_RECIPE, "large_vocab", "--split-max-size", "1MB",
            out_name="rys.gguf", expected_files=[f"rys-0000{number}-of-00004.gguf" for number in (1, 2, 3, 4)],
        )
        output = read_gguf_split(out.parent / "rys-00001-of-00004.gguf")
        for key in self.TOKENIZER_ARRAYS:
            self.assertEqual(output.parts[0].metadata[key], self.source.metadata[key], key)
            self.assertNotIn(key, output.parts[1].metadata)
        self.assert_tensors(
            output.tensors, self.source.tensors, expected_sources(self.source.tensors, LLAMA_TRUNK, LLAMA_MAP)
        )

    def test_split_source_tokenizer_from_first_part(self):
        parts = [f"rys-0000{number}-of-00004.gguf" for number in (1, 2, 3, 4)]
        out, _ = self.apply(LLAMA_RECIPE, "large_vocab_split", out_name="rys.gguf", expected_files=parts)
        source = read_gguf_split(self.sources["large_vocab_split"])
        output = read_gguf_split(out.parent / parts[0])
        for key in self.TOKENIZER_ARRAYS:
            self.assertEqual(output.parts[0].metadata[key], source.parts[0].metadata[key], key)
        self.assert_metadata(output.metadata, source.metadata, LLAMA_MAP, {"llama.block_count": ("UINT32", 20)})
        self.assert_tensors(output.tensors, source.tensors, expected_sources(source.tensors, LLAMA_TRUNK, LLAMA_MAP))

    def test_verify_compares_tokenizer_bytes(self):
        out, _ = self.apply(LLAMA_RECIPE, "large_vocab")
        recipe = self.write_recipe(LLAMA_RECIPE)
        result = self.run_checked("verify", recipe, self.sources["large_vocab"], out)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)

        # Token 12345 "▁w12345" becomes "▁x12345": same length, so only the bytes differ.
        data = bytearray(out.read_bytes())
        at = data.find("▁w12345".encode())
        self.assertGreater(at, 0)
        self.assertEqual(data.find("▁w12345".encode(), at + 1), -1)
        data[at + len("▁".encode())] = ord("x")
        out.write_bytes(bytes(data))
        result = self.run_checked("verify", recipe, self.sources["large_vocab"], out)
        self.assertEqual(result.returncode, 1, result.stdout + result.stderr)
        self.assertIn(
            "key 'tokenizer.ggml.tokens' (ARRAY of 20000 STRING) has different elements", result.stdout
        )
        self.assertNotIn("tokenizer.ggml.scores", result.stdout)


class Glm4moeApplyTest(GgufTestCase):
    """GLM-4.5-Air layout: leading_dense_block_count dense blocks, then MoE blocks, then 1 MTP block."""

    fixture_names = ("glm4moe",)

    @classmethod
    def add_sources(cls):
        cls.sources["glm4moe_dense3"] = write_glm4moe_dense3(cls.root / "glm4moe_dense3")

    def assert_dense_prefix(self, output, leading_dense):
        """Assert that output block o is dense iff o < leading_dense, as llama.cpp decides from the key."""
        self.assertEqual(output.metadata["glm4moe.leading_dense_block_count"], ("UINT32", leading_dense))
        block_count = output.metadata["glm4moe.block_count"][1]
        for block in range(block_count):
            is_dense = f"blk.{block}.ffn_gate.weight" in output.tensors
            self.assertEqual(is_dense, block < leading_dense, f"blk.{block}")

    def check_apply(self, recipe_text, source_name, layer_map, leading_dense):
        source = read_gguf(self.sources[source_name])
        out, _ = self.apply(recipe_text, source_name)
        output = read_gguf(out)
        block_count = len(layer_map) + 1
        changes = {"glm4moe.block_count": ("UINT32", block_count)}
        if leading_dense != source.metadata["glm4moe.leading_dense_block_count"][1]:
            changes["glm4moe.leading_dense_block_count"] = ("UINT32", leading_dense)
        self.assert_metadata(output.metadata, source.metadata, layer_map, changes)
        self.assert_tensors(output.tensors, source.tensors, expected_sources(source.tensors, GLM4MOE_TRUNK, layer_map))
        self.assert_dense_prefix(output, leading_dense)
        # The MTP block, source blk.8, follows the new trunk.
        self.assertIn(f"blk.{block_count - 1}.nextn.eh_proj.weight", output.tensors)
        self.assertEqual(
            output.tensors[f"blk.{block_count - 1}.nextn.eh_proj.weight"].data_bytes,
            source.tensors["blk.8.nextn.eh_proj.weight"].data_bytes,
        )

    def test_window_above_dense_prefix_keeps_count(self):
        self.check_apply(GLM4MOE_ABOVE_RECIPE, "glm4moe", GLM4MOE_ABOVE_MAP, leading_dense=1)

    def test_window_inside_dense_prefix_grows_count(self):
        self.check_apply(GLM4MOE_INSIDE_RECIPE, "glm4moe", GLM4MOE_INSIDE_MAP, leading_dense=2)

    def test_two_block_window_inside_dense_prefix(self):
        self.check_apply(
            GLM4MOE_DENSE3_INSIDE_RECIPE, "glm4moe_dense3", GLM4MOE_DENSE3_INSIDE_MAP, leading_dense=3 + 2
        )

    def test_straddling_window_rejected(self):
        result = self.apply_rejected(GLM4MOE_STRADDLE_RECIPE, "glm4moe")
        self.assertIn("'glm4moe.leading_dense_block_count' = 1 cannot express", result.stderr)

    def test_straddling_window_suggests_window(self):
        result = self.apply_rejected(GLM4MOE_STRADDLE_RECIPE, "glm4moe")
        self.assertIn("a window that keeps it valid: blocks[0:1]", result.stderr)


class QuantizedApplyTest(GgufTestCase):
    """llama with Q8_0, Q4_K and IQ4_NL tensors and general.alignment = 64."""

    fixture_names = ("quantized",)

    def test_duplicate_copies_quantized_bytes(self):
        source = read_gguf(self.sources["quantized"])
        self.assertEqual(source.alignment, QUANTIZED_ALIGNMENT)
        out, _ = self.apply(QUANTIZED_RECIPE, "quantized")
        output = read_gguf(out)

        self.assertEqual(output.alignment, QUANTIZED_ALIGNMENT)
        self.assertEqual(output.metadata["general.alignment"], ("UINT32", QUANTIZED_ALIGNMENT))
        self.assertEqual(output.data_offset % QUANTIZED_ALIGNMENT, 0)
        for name, record in output.tensors.items():
            self.assertEqual(record.offset % QUANTIZED_ALIGNMENT, 0, name)

        self.assert_metadata(output.metadata, source.metadata, QUANTIZED_MAP, {"llama.block_count": ("UINT32", 6)})
        self.assert_tensors(output.tensors, source.tensors, expected_sources(source.tensors, QUANTIZED_TRUNK, QUANTIZED_MAP))
        types = {record.type_name for record in output.tensors.values()}
        self.assertLessEqual({"Q8_0", "Q4_K", "IQ4_NL"}, types)


class SplitApplyTest(GgufTestCase):
    """The llama fixture as 3 gguf-split parts; the output keeps them and adds a part for the copies."""

    fixture_names = ("split",)
    PART_NAMES = [f"rys-0000{number}-of-00004.gguf" for number in (1, 2, 3, 4)]

    def setUp(self):
        self.source = read_gguf_split(self.sources["split"])

    def apply_split(self, *options):
        out, result = self.apply(LLAMA_RECIPE, "split", *options, out_name="rys.gguf", expected_files=self.PART_NAMES)
        return out.parent, result

    def test_duplicate_mirrors_parts_and_adds_one(self):
        self.assertEqual(self.sources["split"].name, "llama-00001-of-00003.gguf")
        out_dir, _ = self.apply_split()
        output = read_gguf_split(out_dir / self.PART_NAMES[0])

        expected = expected_sources(self.source.tensors, LLAMA_TRUNK, LLAMA_MAP)
        # 147 source tensors plus 4 copied blocks of 9 tensors.
        self.assertEqual(len(expected), 147 + 4 * 9)
        for number, part in enumerate(output.parts):
            self.assertEqual(part.metadata["split.no"], ("UINT16", number))
            self.assertEqual(part.metadata["split.count"], ("UINT16", 4))
            self.assertEqual(part.metadata["split.tensors.count"], ("INT32", len(expected)))

        # Source blocks 8..15 become output blocks 12..19; blocks 4..7 keep their
        # place, and their copies, blocks 8..11, fill the fourth part.
        def renamed(name):
            match = BLOCK_NAME.match(name)
            if match is None or int(match[1]) < 8:
                return name
            return f"blk.{int(match[1]) + 4}.{match[2]}"

        for number, source_part in enumerate(self.source.parts):
            self.assertEqual(list(output.parts[number].tensors), [renamed(name) for name in source_part.tensors])
        copies = [name for name in self.source.tensors if BLOCK_NAME.match(name) and 4 <= int(BLOCK_NAME.match(name)[1]) < 8]
        self.assertEqual(list(output.parts[3].tensors), [f"blk.{int(BLOCK_NAME.match(n)[1]) + 4}.{BLOCK_NAME.match(n)[2]}" for n in copies])

        self.assert_metadata(output.metadata, self.source.metadata, LLAMA_MAP, {"llama.block_count": ("UINT32", 20)})
        self.assert_tensors(output.tensors, self.source.tensors, expected)

    def test_jobs_do_not_change_parts(self):
        serial_dir, _ = self.apply_split("--jobs", "1")
        parallel_dir, _ = self.apply_split("--jobs", "3")
        for name in self.PART_NAMES:
            self.assertEqual((serial_dir / name).read_bytes(), (parallel_dir / name).read_bytes(), name)

    def test_plan_lists_four_parts(self):
        plan = self.plan_json(LLAMA_RECIPE, self.sources["split"])
        out_dir, _ = self.apply_split()
        files = plan["output"]["files"]
        self.assertEqual(len(files), 4, files)
        for planned, name in zip(files, self.PART_NAMES):
            # plan has no OUT argument, so only the part suffix of its default name is compared.
            self.assertTrue(planned["path"].endswith(name.removeprefix("rys")), planned)
            self.assertEqual(planned["size"], (out_dir / name).stat().st_size, name)
            self.assertEqual(planned["tensors"], len(read_gguf(out_dir / name).tensors), name)

    def test_parts_colliding_with_source_rejected(self):
        # A recipe with no copies keeps the source's 3 parts, so OUT named llama.gguf
        # beside the source would write the source's own part names.
        recipe = self.write_recipe("rys 1;\ndrop blocks[14:16];\n")
        out = self.sources["split"].parent / "llama.gguf"
        for options in ([], ["--force"]):
            with self.subTest(options=options):
                result = self.run_checked("apply", *options, recipe, self.sources["split"], out)
                self.assertEqual(result.returncode, 1, result.stderr)
                self.assertIn("error:", result.stderr)

    def test_existing_part_needs_force(self):
        out_dir = make_temp_dir(self, "rysc-out-")
        existing = out_dir / self.PART_NAMES[1]
        existing.write_bytes(b"placeholder")
        result = self.run_checked("apply", self.write_recipe(LLAMA_RECIPE), self.sources["split"], out_dir / "rys.gguf")
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertIn("--force", result.stderr)
        self.assertEqual(existing.read_bytes(), b"placeholder")
        self.assertEqual(os.listdir(out_dir), [self.PART_NAMES[1]])


class ImatrixApplyTest(GgufTestCase):
    """Legacy .dat and GGUF imatrix files: each output block takes its source block's statistics."""

    fixture_names = ("imatrix_dat", "imatrix_gguf")

    def test_dat_entries_follow_map(self):
        source = read_imatrix_dat(self.sources["imatrix_dat"])
        out, _ = self.apply(LLAMA_RECIPE, "imatrix_dat", out_name="out.dat")
        output = read_imatrix_dat(out)

        expected = expected_sources(source.entries, LLAMA_TRUNK, LLAMA_MAP)
        # 7 weights per block (attn_q, attn_k, attn_v, attn_output, ffn_gate, ffn_up, ffn_down), 20 blocks.
        self.assertEqual(len(expected), 7 * 20)
        self.assertEqual(sorted(output.entries), sorted(expected))
        for out_name, source_name in expected.items():
            self.assertEqual(output.entries[out_name], source.entries[source_name], out_name)
        self.assertEqual(output.entries["blk.8.attn_q.weight"], source.entries["blk.4.attn_q.weight"])
        self.assertEqual(output.chunk_count, source.chunk_count)
        self.assertEqual(output.dataset, source.dataset)

    def test_dat_layers_option_matches_entry_names(self):
        from_names, _ = self.apply(LLAMA_RECIPE, "imatrix_dat", out_name="out.dat")
        from_option, _ = self.apply(LLAMA_RECIPE, "imatrix_dat", "--layers", "16", out_name="out.dat")
        self.assertEqual(from_option.read_bytes(), from_names.read_bytes())

    def test_gguf_entries_follow_map(self):
        source = read_gguf(self.sources["imatrix_gguf"])
        out, _ = self.apply(QWEN35_RECIPE, "imatrix_gguf")
        output = read_gguf(out)

        # The imatrix covers the 64 trunk blocks only: llama-imatrix does not run the MTP block.
        expected = expected_sources(source.tensors, QWEN35_TRUNK, QWEN35_MAP)
        # 48 linear blocks of 8 weights and 16 full-attention blocks of 7, 2 tensors per weight, then
        # the copies of blocks 15..19: 2 full-attention and 3 linear blocks.
        self.assertEqual(len(source.tensors), 2 * (48 * 8 + 16 * 7))
        self.assertEqual(len(expected), len(source.tensors) + 2 * (2 * 7 + 3 * 8))
        self.assert_tensors(output.tensors, source.tensors, expected)
        self.assertEqual(
            output.tensors["blk.20.attn_q.weight.in_sum2"].data_bytes,
            source.tensors["blk.15.attn_q.weight.in_sum2"].data_bytes,
        )

        for key, value in source.metadata.items():
            self.assertEqual(output.metadata.get(key), value, key)
        added = [key for key in output.metadata if key not in source.metadata]
        self.assertLessEqual(set(added), {MAP_KEY, PROVENANCE_KEY})


if __name__ == "__main__":
    unittest.main()
