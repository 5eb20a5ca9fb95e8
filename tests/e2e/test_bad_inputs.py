"""End-to-end tests of rysc on damaged source checkpoints.

Each test copies a generated llama or qwen36 fixture, damages one thing with the
raw-byte helpers below, and runs `rysc plan` and `rysc apply` on the copy. Both
must exit with status 1 and name the damaged file and the problem on stderr.
apply must create no output folder, and neither command may change the copy.

Run from tests/e2e: python3 -m unittest -v test_bad_inputs
The environment variable RYSC names the binary (default: build/rysc in the
source tree) and RYSC_SOURCE_DIR the source tree (default: two folders up).
"""

import json
import os
import shutil
import struct
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("RYSC_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RYSC = Path(os.environ.get("RYSC") or SOURCE_DIR / "build" / "rysc")
sys.path.insert(0, str(SOURCE_DIR / "tests" / "fixtures"))

import generate  # noqa: E402
import hfcheck  # noqa: E402
from safetensors_io import MAX_HEADER_SIZE  # noqa: E402

# Seconds one rysc run may take; rejecting a damaged header normally takes a few milliseconds.
RUN_TIMEOUT = 60

INDEX_FILE_NAME = "model.safetensors.index.json"
SINGLE_FILE_NAME = "model.safetensors"
FIRST_SHARD = "model-00001-of-00005.safetensors"
SECOND_SHARD = "model-00002-of-00005.safetensors"
MTP_SHARD = "model-00005-of-00005.safetensors"

# Valid for both fixtures: llama has 16 layers and qwen36 has 64.
RECIPE = """rys 1;
duplicate blocks[4:8] after;
remap per_layer *;
"""


def run_rysc(*args):
    """Run rysc with the given arguments and return the CompletedProcess with text output."""
    command = [str(RYSC)] + [str(arg) for arg in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)


# ---------------------------------------------------------------------------
# Raw safetensors and index editing, independent of rysc and of the fixture writer


def split_safetensors(path):
    """Return (header length, header bytes, data section bytes) of a safetensors file."""
    blob = Path(path).read_bytes()
    (header_length,) = struct.unpack("<Q", blob[:8])
    return header_length, blob[8 : 8 + header_length], blob[8 + header_length :]


def encode_header(entries):
    """Encode (key, value) pairs as a length-prefixed safetensors header padded with spaces.

    The JSON object is written pair by pair, so a key may appear twice.
    """
    members = [json.dumps(key) + ":" + json.dumps(value, separators=(",", ":")) for key, value in entries]
    text = ("{" + ",".join(members) + "}").encode("utf-8")
    text += b" " * (-(8 + len(text)) % 8)
    return struct.pack("<Q", len(text)) + text


def rewrite_header(path, edit):
    """Replace the header of a safetensors file with edit(entries, data), keeping its data section.

    entries lists the (key, value) pairs of the header in file order, including
    "__metadata__". data is the data section, and edit returns the new entries.
    """
    _, header, data = split_safetensors(path)
    entries = list(json.loads(header).items())
    Path(path).write_bytes(encode_header(edit(entries, data)) + data)


def set_header_length(path, header_length):
    """Overwrite the 8-byte little-endian header length at the start of a file."""
    blob = bytearray(Path(path).read_bytes())
    blob[:8] = struct.pack("<Q", header_length)
    Path(path).write_bytes(bytes(blob))


def replace_entry(entries, name, **changes):
    """Return entries with the fields of tensor name replaced by changes."""
    replaced = []
    for key, value in entries:
        if key == name:
            value = dict(value, **changes)
        replaced.append((key, value))
    return replaced


def tensor_entry(entries, name):
    return dict(entries)[name]


def last_tensor_name(entries):
    """Return the name of the tensor whose bytes end the data section."""
    tensors = [(value["data_offsets"][1], key) for key, value in entries if key != "__metadata__"]
    return max(tensors)[1]


def edit_index(model, edit):
    """Load model.safetensors.index.json, call edit(index) and write the index back."""
    path = model / INDEX_FILE_NAME
    index = json.loads(path.read_text(encoding="utf-8"))
    edit(index)
    path.write_text(json.dumps(index, indent=2, sort_keys=True) + "\n", encoding="utf-8")


# ---------------------------------------------------------------------------


class BadSourceTest(unittest.TestCase):
    """Damaged copies of the generated fixtures, which plan and apply must both reject."""

    @classmethod
    def setUpClass(cls):
        cls.root = Path(tempfile.mkdtemp(prefix="rysc-bad-inputs-"))
        cls.pristine = {}
        for name in ("llama", "qwen36"):
            cls.pristine[name] = cls.root / name
            generate.generate(name, cls.pristine[name])
        cls.recipe = cls.root / "recipe.rys"
        cls.recipe.write_text(RECIPE, encoding="utf-8")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.work = Path(tempfile.mkdtemp(prefix="rysc-bad-"))
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)
        self.out = self.work / "out"

    def copy_fixture(self, name):
        model = self.work / "model"
        shutil.copytree(self.pristine[name], model)
        return model

    def assert_rejected(self, model, damaged_file, *phrases):
        """Assert that plan and apply on model exit 1, name damaged_file and each phrase, and write nothing."""
        before = hfcheck.snapshot(model)
        work_listing = sorted(os.listdir(self.work))
        damaged_path = str(model / damaged_file)

        for command in (["plan", self.recipe, model], ["apply", self.recipe, model, self.out]):
            with self.subTest(command=command[0]):
                result = run_rysc(*command)
                self.assertEqual(result.returncode, 1, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
                self.assertIn("error:", result.stderr)
                self.assertIn(damaged_path, result.stderr)
                for phrase in phrases:
                    self.assertIn(phrase, result.stderr)
                self.assertFalse(self.out.exists(), "apply created the output folder")
                self.assertEqual(sorted(os.listdir(self.work)), work_listing, "a file appeared beside the output")
                hfcheck.assert_unchanged(model, before)

    def test_pristine_copies_accepted(self):
        # Without damage both commands succeed, so each failure below comes from its damage.
        for name in ("llama", "qwen36"):
            with self.subTest(fixture=name):
                model = self.copy_fixture(name)
                self.assertEqual(run_rysc("plan", self.recipe, model).returncode, 0)
                result = run_rysc("apply", self.recipe, model, self.out)
                self.assertEqual(result.returncode, 0, result.stderr)
                shutil.rmtree(model)
                shutil.rmtree(self.out)

    # config.json

    def test_bad_config_malformed_json(self):
        model = self.copy_fixture("llama")
        (model / "config.json").write_bytes(b'{"model_type": "llama",\n')
        self.assert_rejected(model, "config.json", "malformed JSON")

    def test_bad_config_not_object(self):
        model = self.copy_fixture("llama")
        (model / "config.json").write_bytes(b"[1, 2]\n")
        self.assert_rejected(model, "config.json", "expected a JSON object")

    # Safetensors header length and header JSON

    def test_bad_header_length_past_end(self):
        model = self.copy_fixture("llama")
        path = model / SINGLE_FILE_NAME
        file_size = path.stat().st_size
        set_header_length(path, file_size)
        self.assert_rejected(model, SINGLE_FILE_NAME, "header length", str(file_size), "past the end of the file")

    def test_bad_header_length_over_limit(self):
        # The file is extended (sparsely) beyond the header length, so only the limit is violated.
        model = self.copy_fixture("llama")
        path = model / SINGLE_FILE_NAME
        header_length = MAX_HEADER_SIZE + 8
        set_header_length(path, header_length)
        with path.open("r+b") as file:
            file.truncate(8 + header_length + 1024)
        self.assert_rejected(model, SINGLE_FILE_NAME, "header length", str(header_length), "exceeds the limit")

    def test_bad_header_malformed_json(self):
        model = self.copy_fixture("llama")
        path = model / SINGLE_FILE_NAME
        header_length, _, data = split_safetensors(path)
        broken = b'{"a": [' + b" " * (header_length - 7)
        path.write_bytes(struct.pack("<Q", header_length) + broken + data)
        self.assert_rejected(model, SINGLE_FILE_NAME, "header is not valid JSON")

    # Tensor entries

    def test_bad_offsets_out_of_bounds(self):
        model = self.copy_fixture("llama")
        path = model / SINGLE_FILE_NAME

        def shift_last_tensor(entries, data):
            name = last_tensor_name(entries)
            begin, end = tensor_entry(entries, name)["data_offsets"]
            return replace_entry(entries, name, data_offsets=[begin + len(data), end + len(data)])

        rewrite_header(path, shift_last_tensor)
        self.assert_rejected(model, SINGLE_FILE_NAME, "lm_head.weight", "data_offsets", "past the end")

    def test_bad_overlapping_tensors(self):
        model = self.copy_fixture("llama")
        gate = "model.layers.0.mlp.gate_proj.weight"
        up = "model.layers.0.mlp.up_proj.weight"

        def overlap(entries, data):
            self.assertEqual(tensor_entry(entries, gate)["shape"], tensor_entry(entries, up)["shape"])
            return replace_entry(entries, up, data_offsets=tensor_entry(entries, gate)["data_offsets"])

        rewrite_header(model / SINGLE_FILE_NAME, overlap)
        self.assert_rejected(model, SINGLE_FILE_NAME, up, gate, "overlaps")

    def test_bad_byte_span_mismatch(self):
        model = self.copy_fixture("llama")
        name = "model.layers.3.mlp.up_proj.weight"

        def halve_shape(entries, data):
            rows, columns = tensor_entry(entries, name)["shape"]
            return replace_entry(entries, name, shape=[rows, columns // 2])

        rewrite_header(model / SINGLE_FILE_NAME, halve_shape)
        # BF16 [96, 32] needs 96 * 32 * 2 = 6144 bytes, but the offsets still span the 12288 bytes of [96, 64].
        self.assert_rejected(model, SINGLE_FILE_NAME, name, "[96, 32]", "6144", "12288", "data_offsets")

    def test_bad_unknown_dtype(self):
        model = self.copy_fixture("llama")
        name = "model.layers.3.mlp.up_proj.weight"
        rewrite_header(model / SINGLE_FILE_NAME, lambda entries, data: replace_entry(entries, name, dtype="Q7"))
        self.assert_rejected(model, SINGLE_FILE_NAME, name, "unknown dtype", "Q7")

    def test_bad_duplicate_tensor_name(self):
        model = self.copy_fixture("llama")
        name = "model.layers.0.mlp.gate_proj.weight"
        rewrite_header(model / SINGLE_FILE_NAME, lambda entries, data: entries + [(name, tensor_entry(entries, name))])
        self.assert_rejected(model, SINGLE_FILE_NAME, "duplicate tensor name", name)

    def test_bad_truncated_after_header(self):
        model = self.copy_fixture("llama")
        path = model / SINGLE_FILE_NAME
        header_length, header, _ = split_safetensors(path)
        path.write_bytes(struct.pack("<Q", header_length) + header)
        self.assert_rejected(model, SINGLE_FILE_NAME, "data_offsets", "past the end of the data section")

    # Sharded checkpoints and their index

    def test_bad_tensor_in_two_shards(self):
        # The second shard also stores a tensor of the first shard, while the index still names the first.
        model = self.copy_fixture("qwen36")
        name = "model.language_model.embed_tokens.weight"
        _, first_header, first_data = split_safetensors(model / FIRST_SHARD)
        begin, end = json.loads(first_header)[name]["data_offsets"]
        copied_bytes = first_data[begin:end]

        def append_copy(entries, data):
            entry = dict(json.loads(first_header)[name], data_offsets=[len(data), len(data) + len(copied_bytes)])
            return entries + [(name, entry)]

        _, _, second_data = split_safetensors(model / SECOND_SHARD)
        rewrite_header(model / SECOND_SHARD, append_copy)
        with (model / SECOND_SHARD).open("ab") as file:
            file.write(copied_bytes)
        self.assertEqual(split_safetensors(model / SECOND_SHARD)[2], second_data + copied_bytes)
        self.assert_rejected(model, SECOND_SHARD, name, "another shard")

    def test_bad_index_names_missing_shard(self):
        model = self.copy_fixture("qwen36")
        (model / MTP_SHARD).unlink()
        self.assert_rejected(model, INDEX_FILE_NAME, MTP_SHARD, "does not exist")

    def test_bad_index_path_outside_folder(self):
        # The shard is moved next to the model folder, so following "../x.safetensors" would find it.
        model = self.copy_fixture("qwen36")
        outside_path = "../x.safetensors"
        shutil.move(model / MTP_SHARD, self.work / "x.safetensors")

        def point_outside(index):
            for name, file_name in index["weight_map"].items():
                if file_name == MTP_SHARD:
                    index["weight_map"][name] = outside_path

        edit_index(model, point_outside)
        self.assert_rejected(model, INDEX_FILE_NAME, outside_path, "not a file in the model folder")

    def test_bad_index_repeats_tensor(self):
        # json.dumps cannot repeat a key, so the repeat is written as text. The repeat names
        # another shard, which a parser that keeps one value per key would hide.
        model = self.copy_fixture("qwen36")
        path = model / INDEX_FILE_NAME
        text = path.read_text(encoding="utf-8")
        line = '"weight_map": {'
        self.assertEqual(text.count(line), 1)
        repeat = f'"mtp.fc.weight": "{FIRST_SHARD}",'
        path.write_text(text.replace(line, line + repeat), encoding="utf-8")
        self.assert_rejected(model, INDEX_FILE_NAME,
                             "lists tensor 'mtp.fc.weight' more than once in weight_map; "
                             "each tensor must appear once")

    def test_bad_index_entry_not_a_string(self):
        model = self.copy_fixture("qwen36")
        edit_index(model, lambda index: index["weight_map"].update({"mtp.fc.weight": 7}))
        self.assert_rejected(model, INDEX_FILE_NAME, "weight_map entry for 'mtp.fc.weight' is not a file name")

    def test_bad_index_without_weight_map(self):
        model = self.copy_fixture("qwen36")
        edit_index(model, lambda index: index.pop("weight_map"))
        self.assert_rejected(model, INDEX_FILE_NAME, "has no 'weight_map' object")

    def test_bad_index_missing_tensor(self):
        model = self.copy_fixture("qwen36")
        name = "mtp.fc.weight"
        edit_index(model, lambda index: index["weight_map"].pop(name))
        self.assert_rejected(model, MTP_SHARD, name, f"missing from {INDEX_FILE_NAME}")


class StrayWeightFileTest(unittest.TestCase):
    """A sharded source with a .safetensors file that its index does not reference.

    Mistral repositories, for example, ship consolidated.safetensors beside the
    transformers shards. rysc does not copy such a file and warns about it.
    """

    STRAY_FILE = "consolidated.safetensors"

    @classmethod
    def setUpClass(cls):
        cls.root = Path(tempfile.mkdtemp(prefix="rysc-stray-"))
        cls.model = cls.root / "qwen36"
        generate.generate("qwen36", cls.model)
        shutil.copyfile(cls.model / MTP_SHARD, cls.model / cls.STRAY_FILE)
        cls.recipe = cls.root / "recipe.rys"
        cls.recipe.write_text(RECIPE, encoding="utf-8")
        cls.source_snapshot = hfcheck.snapshot(cls.model)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def setUp(self):
        self.parent = Path(tempfile.mkdtemp(prefix="rysc-stray-out-"))
        self.addCleanup(shutil.rmtree, self.parent, ignore_errors=True)
        self.out = self.parent / "out"

    def test_apply_warns_and_skips(self):
        result = run_rysc("apply", self.recipe, self.model, self.out)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertIn("warning:", result.stderr)
        self.assertIn(self.STRAY_FILE, result.stderr)
        self.assertFalse((self.out / self.STRAY_FILE).exists())
        self.assertTrue((self.out / INDEX_FILE_NAME).is_file())
        hfcheck.assert_unchanged(self.model, self.source_snapshot)

    def test_plan_reports_stray_file(self):
        text_result = run_rysc("plan", self.recipe, self.model)
        self.assertEqual(text_result.returncode, 0, text_result.stderr)
        self.assertIn("rysc: warning: '" + self.STRAY_FILE + "'", text_result.stderr)

        json_result = run_rysc("plan", "--format", "json", self.recipe, self.model)
        self.assertEqual(json_result.returncode, 0, json_result.stderr)
        output = json.loads(json_result.stdout)["output"]
        self.assertEqual(len([w for w in output["warnings"] if self.STRAY_FILE in w]), 1, output["warnings"])
        self.assertNotIn(self.STRAY_FILE, [entry["path"] for entry in output["files"]])

    def test_strict_rejects_stray_file(self):
        plan_result = run_rysc("plan", "--strict", self.recipe, self.model)
        self.assertEqual(plan_result.returncode, 1, plan_result.stdout)

        apply_result = run_rysc("apply", "--strict", self.recipe, self.model, self.out)
        self.assertEqual(apply_result.returncode, 1, apply_result.stderr)
        self.assertFalse(self.out.exists())


class UnmatchedModelTypeTest(unittest.TestCase):
    """A llama checkpoint whose model_type no profile matches, so the generic rules apply.

    Under --strict the fallback is an error, and plan and check must both fail with a
    message that names the fix instead of "using the generic rules".
    """

    MODEL_TYPE = "unknown_lm"
    FALLBACK_WARNING = (
        "rysc: warning: no profile matches model_type 'unknown_lm' in '{config}'; using the generic rules "
        "(declare a profile in the recipe to be exact)\n"
    )
    STRICT_ERROR = (
        "rysc: error: no profile matches model_type 'unknown_lm' in '{config}', and --strict rejects falling "
        "back to the generic rules; declare a profile in the recipe (profile NAME extends generic "
        "{{ match model_type \"unknown_lm\"; ... }}), or run without --strict to use them with a warning\n"
    )

    @classmethod
    def setUpClass(cls):
        cls.root = Path(tempfile.mkdtemp(prefix="rysc-unmatched-"))
        cls.model = cls.root / "llama"
        generate.generate("llama", cls.model)
        config_path = cls.model / "config.json"
        config = json.loads(config_path.read_text(encoding="utf-8"))
        config["model_type"] = cls.MODEL_TYPE
        config_path.write_text(json.dumps(config, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        cls.recipe = cls.root / "recipe.rys"
        cls.recipe.write_text(RECIPE, encoding="utf-8")
        cls.config_name = str(config_path)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def test_plan_warns_and_uses_generic(self):
        result = run_rysc("plan", self.recipe, self.model)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, self.FALLBACK_WARNING.format(config=self.config_name))

    def test_plan_strict_names_the_fix(self):
        result = run_rysc("plan", "--strict", self.recipe, self.model)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertEqual(result.stderr, self.STRICT_ERROR.format(config=self.config_name))
        self.assertEqual(result.stdout, "")

    def test_check_strict_fails(self):
        result = run_rysc("check", "--strict", self.model)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertEqual(result.stderr, self.STRICT_ERROR.format(config=self.config_name))
        self.assertEqual(result.stdout.splitlines()[-1], "no findings, but the errors above fail the check")

    def test_check_without_strict_passes(self):
        result = run_rysc("check", self.model)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(result.stderr, self.FALLBACK_WARNING.format(config=self.config_name))
        self.assertEqual(result.stdout.splitlines()[-1], "no problems found")


if __name__ == "__main__":
    unittest.main()
