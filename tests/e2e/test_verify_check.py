"""End-to-end tests of `rysc verify`, `rysc check` and `rysc inspect`.

verify runs on correct rysc outputs and on copies of them with one thing changed:
a tensor byte, a config entry, a tensor name, the provenance record or a GGUF
key. check runs on checkpoints broken the way other tools break them, built with
the independent writers of tests/fixtures (safetensors_io.py, gguf_io.py) or by
editing a correct output, never by rysc itself. Expected layers, names, hashes and
sizes are derived in this file from the files on disk.

Run from tests/e2e: python3 -m unittest -v test_verify_check
The environment variable RYSC names the binary (default: build/rysc in the
source tree) and RYSC_SOURCE_DIR the source tree (default: two folders up).
"""

import hashlib
import json
import os
import re
import shutil
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
import generate_gguf  # noqa: E402
from gguf_io import read_gguf, read_gguf_split, write_gguf  # noqa: E402
from safetensors_io import read_safetensors  # noqa: E402

# Seconds one rysc run may take. The fixtures are a few MB, so a run normally takes well under 1 s.
RUN_TIMEOUT = 60

INDEX_FILE_NAME = "model.safetensors.index.json"
PROVENANCE_FILE_NAME = "rysc.json"
QWEN36_PREFIX = "model.language_model.layers"
BLOCK_NAME = re.compile(r"^blk\.(\d+)\.(.+)$")

HF_VERIFY_CHECKS = ["tensor-names", "layer-count", "config", "copied-files", "tensor-bytes", "index", "provenance"]
GGUF_VERIFY_CHECKS = ["tensor-names", "layer-count", "config", "metadata-keys", "tensor-bytes", "provenance"]

# examples/qwen36-rys.rys copies source layers 15..19 after layer 19: 64 -> 69 layers.
EXAMPLE_MAP = list(range(20)) + list(range(15, 20)) + list(range(20, 64))
EXAMPLE_SEAMS = [
    {
        "statement": 0,
        "before": {"out": 19, "src": 19},
        "first_copy": {"out": 20, "src": 15},
        "last_copy": {"out": 24, "src": 19},
        "after": {"out": 25, "src": 20},
    }
]

LLAMA_RECIPE = """rys 1;
duplicate blocks[4:8] after;
remap per_layer *;
expect layers 20;
"""
LLAMA_MAP = list(range(8)) + list(range(4, 8)) + list(range(8, 16))

GEMMA3_RECIPE = """rys 1;
duplicate blocks[20:30] after;
remap per_layer *;
expect layers 72;
"""

# The qwen35 GGUF fixture has 64 trunk blocks (full attention every 4th) and the MTP block blk.64.
QWEN35_TRUNK = 64
QWEN35_RECIPE = """rys 1;
duplicate blocks[15:20] after;
remap per_layer *;
expect layers 69;
"""
QWEN35_MAP = EXAMPLE_MAP
# A window of 4 blocks keeps full_attention_interval = 4 valid for every output block.
QWEN35_WINDOW4_RECIPE = """rys 1;
duplicate blocks[16:20] after;
remap per_layer *;
"""
QWEN35_WINDOW4_MAP = list(range(20)) + list(range(16, 20)) + list(range(20, 64))
# The map of a tool that drops the last 4 trunk blocks.
QWEN35_DROP_TAIL_MAP = list(range(60))

# Summary line that check prints after the first 5 layers of one tensor-family problem.
MORE_LAYERS = re.compile(r"^(\d+) more layers have the same problem$")


# ---------------------------------------------------------------------------
# Running rysc and reading its reports


def run_rysc(*args):
    """Run rysc with the given arguments and return the CompletedProcess with text output."""
    command = [str(RYSC)] + [str(arg) for arg in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def parse_verify_text(stdout):
    """Parse verify's text report into {check: {"passed", "summary", "failures"}} in report order.

    A check line is "  ok     NAME  SUMMARY" or "  FAILED NAME  SUMMARY", and each
    failure follows on its own line indented by 11 spaces. The report ends at "seams:".
    """
    checks = {}
    current = None
    for line in stdout.splitlines():
        if line == "seams:":
            break
        if line.startswith("  ok     ") or line.startswith("  FAILED "):
            name, _, summary = line[9:].partition(" ")
            current = {"passed": line.startswith("  ok"), "summary": summary.strip(), "failures": []}
            checks[name] = current
        elif line.startswith(" " * 11) and current is not None:
            current["failures"].append(line.strip())
    return checks


FINDING_LINE = re.compile(r"^  (error|warning|note) \[([a-z-]+)\]: (.*)$")


def parse_check_text(stdout):
    """Parse check's text report into a list of {"severity", "check", "message", "fix"}.

    A finding is "  SEVERITY [CHECK]: MESSAGE", optionally followed by "    fix: FIX".
    """
    findings = []
    for line in stdout.splitlines():
        match = FINDING_LINE.match(line)
        if match:
            findings.append({"severity": match[1], "check": match[2], "message": match[3], "fix": ""})
        elif line.startswith("    fix: ") and findings:
            findings[-1]["fix"] = line[len("    fix: "):]
    return findings


def make_temp_dir(test_case, prefix):
    """Create a temporary folder that is removed when test_case finishes."""
    folder = Path(tempfile.mkdtemp(prefix=prefix))
    test_case.addCleanup(shutil.rmtree, folder, ignore_errors=True)
    return folder


def load_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_json(path, value, sort_keys=False):
    """Write JSON with indent 2, keeping the key order of value unless sort_keys is set."""
    Path(path).write_text(json.dumps(value, indent=2, sort_keys=sort_keys) + "\n", encoding="utf-8")


def sha256_hex(data):
    return hashlib.sha256(data).hexdigest()


# ---------------------------------------------------------------------------
# Reading and editing Hugging Face folders with the independent reader


def hf_tensor_bytes(folder, name):
    """Return the data bytes of tensor name in a sharded or single-file folder."""
    folder = Path(folder)
    if (folder / INDEX_FILE_NAME).is_file():
        shard = load_json(folder / INDEX_FILE_NAME)["weight_map"][name]
    else:
        shard = generate.SINGLE_FILE_NAME
    _, records = read_safetensors(folder / shard)
    return records[name].data_bytes


def hf_all_tensors(folder):
    """Return {name: data length} over every *.safetensors file of a folder."""
    tensors = {}
    for path in sorted(Path(folder).glob("*.safetensors")):
        _, records = read_safetensors(path)
        for name, record in records.items():
            tensors[name] = len(record.data_bytes)
    return tensors


def flip_hf_tensor_byte(folder, name):
    """Invert one byte in the middle of tensor name's data, in place, and return the tensor's new bytes."""
    folder = Path(folder)
    path = folder / load_json(folder / INDEX_FILE_NAME)["weight_map"][name]
    _, records = read_safetensors(path)
    record = records[name]
    blob = bytearray(path.read_bytes())
    (header_size,) = struct.unpack("<Q", blob[:8])
    position = 8 + header_size + record.begin + (record.end - record.begin) // 2
    blob[position] ^= 0xFF
    path.write_bytes(bytes(blob))
    return read_safetensors(path)[1][name].data_bytes


def rename_hf_tensor(folder, old_name, new_name):
    """Rename a tensor in its shard header and in the index.

    The names must have equal length, which keeps the header size and every data
    offset, so the shard stays valid.
    """
    if len(old_name.encode("utf-8")) != len(new_name.encode("utf-8")):
        raise ValueError(f"{old_name!r} and {new_name!r} differ in length")
    folder = Path(folder)
    index = load_json(folder / INDEX_FILE_NAME)
    path = folder / index["weight_map"][old_name]
    blob = path.read_bytes()
    (header_size,) = struct.unpack("<Q", blob[:8])
    header = blob[8 : 8 + header_size]
    quoted_old = json.dumps(old_name).encode("utf-8")
    if header.count(quoted_old) != 1:
        raise ValueError(f"{path}: expected {old_name!r} once in the header")
    header = header.replace(quoted_old, json.dumps(new_name).encode("utf-8"))
    path.write_bytes(blob[:8] + header + blob[8 + header_size :])

    weight_map = index["weight_map"]
    weight_map[new_name] = weight_map.pop(old_name)
    index["weight_map"] = dict(sorted(weight_map.items()))
    write_json(folder / INDEX_FILE_NAME, index)


def edit_config(folder, edit):
    """Apply edit(config) to folder/config.json in place."""
    config = load_json(Path(folder) / "config.json")
    edit(config)
    write_json(Path(folder) / "config.json", config)


def qwen36_types_from_tensors(folder, layers):
    """Return each layer's attention type as its tensors show it: self_attn.* means full attention."""
    names = hf_all_tensors(folder)
    types = []
    for layer in range(layers):
        prefix = f"{QWEN36_PREFIX}.{layer}."
        full = any(name.startswith(prefix + "self_attn.") for name in names)
        linear = any(name.startswith(prefix + "linear_attn.") for name in names)
        if full == linear:
            raise ValueError(f"layer {layer} of {folder} has both or neither attention kinds")
        types.append("full_attention" if full else "linear_attention")
    return types


def qwen36_interval_types(layers):
    """Return the layer_types that full_attention_interval 4 generates: full attention at every 4th layer."""
    return ["full_attention" if (layer + 1) % 4 == 0 else "linear_attention" for layer in range(layers)]


# ---------------------------------------------------------------------------
# Reading and writing GGUF files with the independent reader and writer


def gguf_entries(parsed):
    """Return a parsed file's metadata as (key, type name, value) and its tensors as write_gguf takes them."""
    metadata = [(key, type_name, value) for key, (type_name, value) in parsed.metadata.items()]
    tensors = [(name, record.dims, record.type_name, record.data_bytes) for name, record in parsed.tensors.items()]
    return metadata, tensors


def rewrite_gguf(path, edit_metadata=None, renames=None):
    """Rewrite a GGUF file in place with edited metadata or renamed tensors."""
    metadata, tensors = gguf_entries(read_gguf(path))
    if edit_metadata is not None:
        metadata = edit_metadata(metadata)
    if renames:
        tensors = [(renames.get(name, name), dims, type_name, data) for name, dims, type_name, data in tensors]
    write_gguf(path, metadata, tensors)


def replace_key(key, type_name, value):
    """Return a metadata edit that sets key to (type_name, value), keeping its position."""

    def edit(metadata):
        if key not in [entry[0] for entry in metadata]:
            raise KeyError(key)
        return [(key, type_name, value) if entry[0] == key else entry for entry in metadata]

    return edit


def edit_provenance_map(metadata, position, value):
    """Return metadata with entry position of the map in rys.provenance set to value."""
    edited = []
    for key, type_name, text in metadata:
        if key == "rys.provenance":
            record = json.loads(text)
            record["map"][position] = value
            text = json.dumps(record, indent=2)
        edited.append((key, type_name, text))
    return edited


def flip_gguf_tensor_byte(path, name):
    """Invert one byte in the middle of tensor name's data in one GGUF file, in place, and return the new bytes."""
    parsed = read_gguf(path)
    record = parsed.tensors[name]
    position = parsed.data_offset + record.offset + len(record.data_bytes) // 2
    blob = bytearray(Path(path).read_bytes())
    blob[position] ^= 0xFF
    Path(path).write_bytes(bytes(blob))
    return read_gguf(path).tensors[name].data_bytes


def write_qwen35_through_map(source_path, out_path, layer_map, mtp_block=None, nextn_block=None):
    """Write what a tool without rysc's rules makes of the qwen35 fixture under a trunk map.

    Output block o gets source block layer_map[o]'s tensors. The MTP block (blk.64)
    goes to mtp_block (default: len(layer_map), right after the new trunk), except
    that its nextn.* tensors go to nextn_block when one is given. block_count becomes
    the new trunk plus the MTP block, and every other key is copied unchanged, so no
    recurrent_layers array is added.
    """
    metadata, tensors = gguf_entries(read_gguf(source_path))
    blocks = {}
    head, tail = [], []
    for name, dims, type_name, data in tensors:
        match = BLOCK_NAME.match(name)
        if match:
            blocks.setdefault(int(match[1]), []).append((match[2], dims, type_name, data))
        elif not blocks:
            head.append((name, dims, type_name, data))
        else:
            tail.append((name, dims, type_name, data))

    if mtp_block is None:
        mtp_block = len(layer_map)
    written = list(head)
    for out_block, source_block in enumerate(layer_map):
        written += [(f"blk.{out_block}.{suffix}", *rest) for suffix, *rest in blocks[source_block]]
    for suffix, *rest in blocks[QWEN35_TRUNK]:
        target = nextn_block if nextn_block is not None and suffix.startswith("nextn.") else mtp_block
        written.append((f"blk.{target}.{suffix}", *rest))
    written += tail

    metadata = replace_key("qwen35.block_count", "UINT32", len(layer_map) + 1)(metadata)
    write_gguf(out_path, metadata, written)


def qwen35_recurrent_blocks(path, blocks):
    """Return, per block, whether its tensors are linear attention (ssm_*) rather than full attention (attn_q.*)."""
    names = list(read_gguf(path).tensors)
    kinds = []
    for block in range(blocks):
        prefix = f"blk.{block}."
        linear = any(name.startswith(prefix + "ssm_") for name in names)
        full = any(name.startswith(prefix + "attn_q.") for name in names)
        if linear == full:
            raise ValueError(f"block {block} of {path} has both or neither attention kinds")
        kinds.append(linear)
    return kinds


# ---------------------------------------------------------------------------
# Shared test case


class RyscTestCase(unittest.TestCase):
    """Helpers to generate fixtures, apply recipes and run verify and check in both output formats."""

    @classmethod
    def setUpClass(cls):
        cls.root = Path(tempfile.mkdtemp(prefix=f"rysc-{cls.__name__}-"))
        # Class cleanups also run when a subclass's setUpClass fails halfway.
        cls.addClassCleanup(shutil.rmtree, cls.root, ignore_errors=True)

    @classmethod
    def generate_hf(cls, name):
        folder = cls.root / f"{name}-hf"
        generate.generate(name, folder)
        return folder

    @classmethod
    def generate_gguf(cls, name):
        _, paths = generate_gguf.generate(name, cls.root / f"{name}-gguf")
        return paths[0]

    @classmethod
    def write_recipe(cls, text, name):
        path = cls.root / name
        path.write_text(text, encoding="utf-8")
        return path

    @classmethod
    def apply(cls, recipe, source, out):
        """Run rysc apply once for the class and raise AssertionError if it fails."""
        result = run_rysc("apply", recipe, source, out)
        if result.returncode != 0:
            raise AssertionError(f"rysc apply {recipe} {source} failed:\n{result.stderr}")
        return out

    def copy_folder(self, folder):
        copy = make_temp_dir(self, "rysc-edited-") / Path(folder).name
        shutil.copytree(folder, copy)
        return copy

    def copy_file(self, path):
        copy = make_temp_dir(self, "rysc-edited-") / Path(path).name
        shutil.copyfile(path, copy)
        return copy

    def verify(self, recipe, source, out, *options):
        """Run verify in text and JSON form, check that both agree, and return (exit code, checks).

        checks maps each check name to {"passed", "summary", "failures"}, in report order.
        """
        text = run_rysc("verify", recipe, source, out, *options)
        as_json = run_rysc("verify", recipe, source, out, "--format", "json", *options)
        self.assertIn(text.returncode, (0, 1), f"verify did not run:\n{text.stderr}")
        self.assertEqual(as_json.returncode, text.returncode, as_json.stderr)

        self.assertTrue(text.stdout, f"verify printed no report:\n{text.stderr}")
        checks = parse_verify_text(text.stdout)
        document = json.loads(as_json.stdout)
        self.assertEqual(document["schema"], "rysc-verify/1")
        self.assertEqual(document["passed"], text.returncode == 0)
        json_checks = {
            entry["check"]: {"passed": entry["passed"], "summary": entry["summary"], "failures": entry["failures"]}
            for entry in document["checks"]
        }
        self.assertEqual(list(json_checks), list(checks))
        self.assertEqual(json_checks, checks)
        last_line = text.stdout.rstrip("\n").splitlines()[-1]
        failed = [name for name, check in checks.items() if not check["passed"]]
        self.assertEqual(last_line, f"{len(failed)} check(s) failed" if failed else "all checks passed")
        return text.returncode, checks

    def assert_verify_passes(self, recipe, source, out, expected_checks, *options):
        code, checks = self.verify(recipe, source, out, *options)
        self.assertEqual(list(checks), expected_checks)
        for name, check in checks.items():
            self.assertTrue(check["passed"], f"{name}: {check['failures']}")
            self.assertEqual(check["failures"], [], name)
        self.assertEqual(code, 0)
        return checks

    def assert_verify_fails_only(self, recipe, source, out, failing_check, expected_failures):
        """Assert exit 1, that failing_check reports exactly expected_failures, and that every other check passes."""
        code, checks = self.verify(recipe, source, out)
        self.assertEqual(code, 1)
        self.assertIn(failing_check, checks)
        self.assertFalse(checks[failing_check]["passed"])
        self.assertEqual(checks[failing_check]["failures"], expected_failures)
        for name, check in checks.items():
            if name != failing_check:
                self.assertTrue(check["passed"], f"{name} should pass: {check['failures']}")
        return checks

    def check(self, model, *options):
        """Run check in text and JSON form, check that both agree, and return (exit code, findings, stdout)."""
        text = run_rysc("check", model, *options)
        as_json = run_rysc("check", model, "--format", "json", *options)
        self.assertIn(text.returncode, (0, 1), f"check did not run:\n{text.stderr}")
        self.assertEqual(as_json.returncode, text.returncode, as_json.stderr)
        self.assertEqual(text.stderr, "")
        self.assertTrue(text.stdout, "check printed no report")

        findings = parse_check_text(text.stdout)
        document = json.loads(as_json.stdout)
        self.assertEqual(document["schema"], "rysc-check/1")
        self.assertEqual(document["passed"], text.returncode == 0)
        self.assertEqual(document["findings"], findings)
        last_line = text.stdout.rstrip("\n").splitlines()[-1]
        self.assertEqual(last_line, f"{len(findings)} finding(s)" if findings else "no problems found")
        return text.returncode, findings, text.stdout

    def assert_family_findings(self, findings, layer_type, expected_layers, field, required, forbidden):
        """Assert the tensor-family errors for one layer type: the first 5 layers by name, then a count.

        expected_layers lists, in order, every layer whose tensors contradict layer_type.
        """
        pattern = re.compile(rf"^layer (\d+) is {re.escape(layer_type)} in '{re.escape(field)}' but lacks ")
        reported = []
        summary = None
        collecting = False
        for finding in findings:
            match = pattern.match(finding["message"])
            if match:
                self.assertEqual(finding["severity"], "error", finding["message"])
                self.assertEqual(finding["check"], "tensor-family", finding["message"])
                self.assertIn(f"lacks '{required}*' tensors", finding["message"])
                self.assertIn(f"carries '{forbidden}*' tensors", finding["message"])
                self.assertIn(f"'{field}'", finding["fix"])
                reported.append(int(match[1]))
                collecting = True
                continue
            more = MORE_LAYERS.match(finding["message"])
            if collecting and more:
                self.assertEqual(finding["severity"], "error")
                self.assertEqual(finding["check"], "tensor-family")
                summary = int(more[1])
            collecting = False
        self.assertEqual(reported, expected_layers[:5])
        self.assertEqual(summary, len(expected_layers) - 5 if len(expected_layers) > 5 else None)


# ---------------------------------------------------------------------------
# verify on correct outputs


class VerifyPassTest(RyscTestCase):
    """verify accepts what rysc apply wrote, for every input format."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.qwen36 = cls.generate_hf("qwen36")
        cls.qwen36_out = cls.apply(EXAMPLE_RECIPE, cls.qwen36, cls.root / "qwen36-out")
        cls.llama_recipe = cls.write_recipe(LLAMA_RECIPE, "llama.rys")
        cls.llama = cls.generate_hf("llama")
        cls.llama_out = cls.apply(cls.llama_recipe, cls.llama, cls.root / "llama-out")
        cls.gemma3_recipe = cls.write_recipe(GEMMA3_RECIPE, "gemma3.rys")
        cls.gemma3 = cls.generate_hf("gemma3")
        cls.gemma3_out = cls.apply(cls.gemma3_recipe, cls.gemma3, cls.root / "gemma3-out")
        cls.qwen35_recipe = cls.write_recipe(QWEN35_RECIPE, "qwen35.rys")
        cls.qwen35 = cls.generate_gguf("qwen35")
        cls.qwen35_out = cls.apply(cls.qwen35_recipe, cls.qwen35, cls.root / "qwen35-rys.gguf")
        cls.split = cls.generate_gguf("split")
        # A split source gives parts named after OUT: llama-rys-0000K-of-00004.gguf.
        cls.split_out = cls.root / "llama-rys.gguf"
        cls.apply(cls.llama_recipe, cls.split, cls.split_out)
        cls.split_first_part = cls.root / "llama-rys-00001-of-00004.gguf"

    def test_qwen36_example(self):
        checks = self.assert_verify_passes(EXAMPLE_RECIPE, self.qwen36, self.qwen36_out, HF_VERIFY_CHECKS)
        tensors = hf_all_tensors(self.qwen36_out)
        total = sum(tensors.values())
        self.assertEqual(checks["tensor-names"]["summary"], f"{len(tensors)} tensors expected, {len(tensors)} present")
        self.assertEqual(checks["layer-count"]["summary"], "text_config.num_hidden_layers = 69")
        self.assertEqual(checks["tensor-bytes"]["summary"], f"{len(tensors)} tensors, {total} bytes compared by SHA-256")
        self.assertTrue(checks["index"]["summary"].startswith(f"total_size {total},"), checks["index"]["summary"])

    def test_qwen36_json_seams(self):
        result = run_rysc("verify", EXAMPLE_RECIPE, self.qwen36, self.qwen36_out, "--format", "json")
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        document = json.loads(result.stdout)
        self.assertIs(document["passed"], True)
        self.assertEqual([check["check"] for check in document["checks"]], HF_VERIFY_CHECKS)
        self.assertTrue(all(check["passed"] is True for check in document["checks"]))
        self.assertEqual(document["seams"], EXAMPLE_SEAMS)

    def test_qwen36_serial_hashing(self):
        self.assert_verify_passes(EXAMPLE_RECIPE, self.qwen36, self.qwen36_out, HF_VERIFY_CHECKS, "--jobs", "1")

    def test_llama_single_file(self):
        checks = self.assert_verify_passes(self.llama_recipe, self.llama, self.llama_out, HF_VERIFY_CHECKS)
        self.assertFalse((self.llama_out / INDEX_FILE_NAME).exists())
        self.assertEqual(checks["index"]["summary"], "no index (single file)")
        self.assertEqual(checks["layer-count"]["summary"], "num_hidden_layers = 20")

    def test_gemma3(self):
        checks = self.assert_verify_passes(self.gemma3_recipe, self.gemma3, self.gemma3_out, HF_VERIFY_CHECKS)
        self.assertEqual(checks["layer-count"]["summary"], "text_config.num_hidden_layers = 72")

    def test_qwen35_gguf(self):
        checks = self.assert_verify_passes(self.qwen35_recipe, self.qwen35, self.qwen35_out, GGUF_VERIFY_CHECKS)
        # block_count counts the MTP block: 69 trunk blocks + 1.
        self.assertEqual(checks["layer-count"]["summary"], "qwen35.block_count = 70")
        tensors = read_gguf(self.qwen35_out).tensors
        self.assertEqual(checks["tensor-names"]["summary"], f"{len(tensors)} tensors expected, {len(tensors)} present")

    def test_split_gguf(self):
        checks = self.assert_verify_passes(self.llama_recipe, self.split, self.split_first_part, GGUF_VERIFY_CHECKS)
        split = read_gguf_split(self.split_first_part)
        self.assertEqual(len(split.parts), 4)  # the source's 3 and one for the copies
        total = sum(len(record.data_bytes) for record in split.tensors.values())
        self.assertEqual(checks["tensor-bytes"]["summary"], f"{len(split.tensors)} tensors, {total} bytes compared by SHA-256")

    def test_split_gguf_out_as_given_to_apply(self):
        self.assert_verify_passes(self.llama_recipe, self.split, self.split_out, GGUF_VERIFY_CHECKS)


# ---------------------------------------------------------------------------
# verify on Hugging Face outputs with one change


class VerifyHfChangeTest(RyscTestCase):
    """verify names the one changed item of a correct qwen36 output, and every other check stays ok."""

    # Output layer 22 is the copy of source layer 17 (a linear-attention layer).
    COPIED_TENSOR = f"{QWEN36_PREFIX}.22.mlp.down_proj.weight"
    COPIED_FROM = f"{QWEN36_PREFIX}.17.mlp.down_proj.weight"

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.source = cls.generate_hf("qwen36")
        cls.out = cls.apply(EXAMPLE_RECIPE, cls.source, cls.root / "qwen36-out")

    def test_tensor_byte(self):
        out = self.copy_folder(self.out)
        changed = flip_hf_tensor_byte(out, self.COPIED_TENSOR)
        source_hash = sha256_hex(hf_tensor_bytes(self.source, self.COPIED_FROM))
        self.assertNotEqual(sha256_hex(changed), source_hash)
        self.assert_verify_fails_only(
            EXAMPLE_RECIPE,
            self.source,
            out,
            "tensor-bytes",
            [
                f"tensor '{self.COPIED_TENSOR}' bytes differ from source '{self.COPIED_FROM}' "
                f"(sha256 {sha256_hex(changed)[:16]} vs {source_hash[:16]})"
            ],
        )

    def test_config_layer_types_entry(self):
        out = self.copy_folder(self.out)
        expected_type = load_json(self.source / "config.json")["text_config"]["layer_types"][15]
        self.assertEqual(expected_type, "full_attention")

        def retype_layer_20(config):
            config["text_config"]["layer_types"][20] = "linear_attention"

        edit_config(out, retype_layer_20)
        self.assert_verify_fails_only(
            EXAMPLE_RECIPE,
            self.source,
            out,
            "config",
            ["'text_config.layer_types'[20] is \"linear_attention\", expected \"full_attention\""],
        )

    def test_tensor_name(self):
        out = self.copy_folder(self.out)
        renamed = self.COPIED_TENSOR.replace("down_proj", "down_prox")
        rename_hf_tensor(out, self.COPIED_TENSOR, renamed)
        self.assertIn(renamed, hf_all_tensors(out))
        checks = self.assert_verify_fails_only(
            EXAMPLE_RECIPE,
            self.source,
            out,
            "tensor-names",
            [
                f"missing tensor '{self.COPIED_TENSOR}' (from source '{self.COPIED_FROM}')",
                f"unexpected tensor '{renamed}'",
            ],
        )
        # A failed check counts its problems instead of summarizing a pass.
        self.assertEqual(checks["tensor-names"]["summary"], "2 problems")

    def test_provenance_map(self):
        out = self.copy_folder(self.out)
        record = load_json(out / PROVENANCE_FILE_NAME)
        self.assertEqual(record["map"], EXAMPLE_MAP)
        record["map"][20] = 16
        write_json(out / PROVENANCE_FILE_NAME, record)
        self.assert_verify_fails_only(
            EXAMPLE_RECIPE, self.source, out, "provenance", ["the recorded map differs from the recipe's map"]
        )

    def test_provenance_seams(self):
        out = self.copy_folder(self.out)
        record = load_json(out / PROVENANCE_FILE_NAME)
        self.assertEqual(record["seams"], EXAMPLE_SEAMS)
        record["seams"][0]["first_copy"]["src"] = 16
        write_json(out / PROVENANCE_FILE_NAME, record)
        self.assert_verify_fails_only(
            EXAMPLE_RECIPE, self.source, out, "provenance", ["the recorded seams differ from the recipe's seams"]
        )

    def test_provenance_key_order(self):
        out = self.copy_folder(self.out)
        write_json(out / PROVENANCE_FILE_NAME, load_json(out / PROVENANCE_FILE_NAME), sort_keys=True)
        self.assert_verify_passes(EXAMPLE_RECIPE, self.source, out, HF_VERIFY_CHECKS)

    def test_provenance_missing(self):
        out = self.copy_folder(self.out)
        (out / PROVENANCE_FILE_NAME).unlink()
        self.assert_verify_fails_only(
            EXAMPLE_RECIPE, self.source, out, "provenance", ["the output has no rysc provenance record"]
        )

    def test_other_recipe_text(self):
        # Same statements, so the same map and files, but a different recipe hash.
        recipe = make_temp_dir(self, "rysc-recipe-") / "qwen36-rys.rys"
        recipe.write_text(EXAMPLE_RECIPE.read_text(encoding="utf-8") + "# edited\n", encoding="utf-8")
        self.assert_verify_fails_only(
            recipe, self.source, self.out, "provenance", ["the recorded recipe differs from 'qwen36-rys.rys'"]
        )

    def test_index_total_size(self):
        out = self.copy_folder(self.out)
        index = load_json(out / INDEX_FILE_NAME)
        total = sum(hf_all_tensors(out).values())
        self.assertEqual(index["metadata"]["total_size"], total)
        index["metadata"]["total_size"] = total - 1
        write_json(out / INDEX_FILE_NAME, index)
        self.assert_verify_fails_only(
            EXAMPLE_RECIPE, self.source, out, "index", [f"metadata.total_size is {total - 1}, expected {total}"]
        )

    def test_stray_shard(self):
        out = self.copy_folder(self.out)
        stale = "model-00005-of-00005.safetensors"
        self.assertFalse((out / stale).exists())
        shutil.copyfile(self.source / stale, out / stale)
        self.assert_verify_fails_only(
            EXAMPLE_RECIPE,
            self.source,
            out,
            "index",
            [f"'{stale}': a safetensors file that the model does not reference; it is not copied"],
        )

    def test_copied_file(self):
        out = self.copy_folder(self.out)
        path = out / "tokenizer_config.json"
        config = load_json(path)
        config["model_max_length"] = 131072
        write_json(path, config)
        code, _ = self.verify(EXAMPLE_RECIPE, self.source, out)
        self.assertEqual(code, 1)


# ---------------------------------------------------------------------------
# verify on GGUF outputs with one change


class VerifyGgufChangeTest(RyscTestCase):
    """verify names the one changed item of a correct qwen35 or split GGUF output."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.recipe = cls.write_recipe(QWEN35_RECIPE, "qwen35.rys")
        cls.source = cls.generate_gguf("qwen35")
        cls.out = cls.apply(cls.recipe, cls.source, cls.root / "qwen35-rys.gguf")
        cls.llama_recipe = cls.write_recipe(LLAMA_RECIPE, "llama.rys")
        cls.split = cls.generate_gguf("split")
        cls.split_out_dir = cls.root / "split-out"
        cls.split_out_dir.mkdir()
        cls.apply(cls.llama_recipe, cls.split, cls.split_out_dir / "llama-rys.gguf")

    def copy_split_out(self):
        folder = self.copy_folder(self.split_out_dir)
        return folder / "llama-rys-00001-of-00004.gguf"

    def test_tensor_byte_in_second_part(self):
        first_part = self.copy_split_out()
        split = read_gguf_split(first_part)
        # Output block 8 is the first copy of source block 4. Pick one of its tensors stored in a later part.
        self.assertEqual(LLAMA_MAP[8], 4)
        name = next(name for name in split.tensors if name.startswith("blk.8.") and split.tensor_parts[name] > 0)
        source_name = "blk.4." + name[len("blk.8."):]
        changed = flip_gguf_tensor_byte(split.paths[split.tensor_parts[name]], name)
        source_hash = sha256_hex(read_gguf_split(self.split).tensors[source_name].data_bytes)
        self.assert_verify_fails_only(
            self.llama_recipe,
            self.split,
            first_part,
            "tensor-bytes",
            [
                f"tensor '{name}' bytes differ from source '{source_name}' "
                f"(sha256 {sha256_hex(changed)[:16]} vs {source_hash[:16]})"
            ],
        )

    def test_mtp_tensor_byte(self):
        out = self.copy_file(self.out)
        # The MTP block blk.64 follows the new trunk of 69 blocks.
        name = "blk.69.nextn.eh_proj.weight"
        changed = flip_gguf_tensor_byte(out, name)
        source_hash = sha256_hex(read_gguf(self.source).tensors["blk.64.nextn.eh_proj.weight"].data_bytes)
        self.assert_verify_fails_only(
            self.recipe,
            self.source,
            out,
            "tensor-bytes",
            [
                f"tensor '{name}' bytes differ from source 'blk.64.nextn.eh_proj.weight' "
                f"(sha256 {sha256_hex(changed)[:16]} vs {source_hash[:16]})"
            ],
        )

    def test_tokenizer_key_value(self):
        out = self.copy_file(self.out)
        type_name, value = read_gguf(self.source).metadata["tokenizer.ggml.eos_token_id"]
        self.assertEqual(type_name, "UINT32")
        rewrite_gguf(out, replace_key("tokenizer.ggml.eos_token_id", "UINT32", value + 1))
        self.assert_verify_fails_only(
            self.recipe,
            self.source,
            out,
            "metadata-keys",
            [f"key 'tokenizer.ggml.eos_token_id' changed from UINT32 {value} to UINT32 {value + 1}"],
        )

    def test_tokenizer_key_missing(self):
        out = self.copy_file(self.out)
        rewrite_gguf(out, lambda metadata: [entry for entry in metadata if entry[0] != "tokenizer.chat_template"])
        self.assert_verify_fails_only(
            self.recipe, self.source, out, "metadata-keys", ["key 'tokenizer.chat_template' is missing"]
        )

    def test_general_key_value(self):
        out = self.copy_file(self.out)
        name = read_gguf(self.source).metadata["general.name"][1]
        rewrite_gguf(out, replace_key("general.name", "STRING", "Other Model"))
        self.assert_verify_fails_only(
            self.recipe, self.source, out, "config", [f"'general.name' is \"Other Model\", expected \"{name}\""]
        )

    def test_recurrent_layers_entry(self):
        out = self.copy_file(self.out)
        type_name, (element_type, kinds) = read_gguf(out).metadata["qwen35.attention.recurrent_layers"]
        # Output block 20 copies source block 15, a full-attention block.
        self.assertIs(kinds[20], False)
        kinds = list(kinds)
        kinds[20] = True
        rewrite_gguf(out, replace_key("qwen35.attention.recurrent_layers", type_name, (element_type, kinds)))
        self.assert_verify_fails_only(
            self.recipe,
            self.source,
            out,
            "config",
            ["'qwen35.attention.recurrent_layers'[20] is true, expected false"],
        )

    def test_tensor_name(self):
        out = self.copy_file(self.out)
        rewrite_gguf(out, renames={"blk.22.ffn_down.weight": "blk.22.ffn_down_x.weight"})
        self.assert_verify_fails_only(
            self.recipe,
            self.source,
            out,
            "tensor-names",
            [
                "missing tensor 'blk.22.ffn_down.weight' (from source 'blk.17.ffn_down.weight')",
                "unexpected tensor 'blk.22.ffn_down_x.weight'",
            ],
        )

    def test_provenance_map(self):
        out = self.copy_file(self.out)
        self.assertEqual(json.loads(read_gguf(out).metadata["rys.provenance"][1])["map"], QWEN35_MAP)
        rewrite_gguf(out, lambda metadata: edit_provenance_map(metadata, 20, 16))
        self.assert_verify_fails_only(
            self.recipe, self.source, out, "provenance", ["the recorded map differs from the recipe's map"]
        )

    def test_added_key(self):
        out = self.copy_file(self.out)
        rewrite_gguf(out, lambda metadata: metadata + [("tokenizer.ggml.extra_key", "UINT32", 1)])
        code, checks = self.verify(self.recipe, self.source, out)
        self.assertEqual(code, 1)
        failures = [failure for check in checks.values() for failure in check["failures"]]
        self.assertTrue(any("tokenizer.ggml.extra_key" in failure for failure in failures), failures)

    def test_key_type(self):
        out = self.copy_file(self.out)
        rewrite_gguf(out, replace_key("qwen35.block_count", "UINT64", 70))
        code, checks = self.verify(self.recipe, self.source, out)
        self.assertEqual(code, 1)
        failures = [failure for check in checks.values() for failure in check["failures"]]
        self.assertTrue(any("qwen35.block_count" in failure for failure in failures), failures)

    def test_rys_map_key(self):
        out = self.copy_file(self.out)
        type_name, (element_type, layer_map) = read_gguf(out).metadata["rys.map"]
        self.assertEqual(list(layer_map), QWEN35_MAP)
        layer_map = list(layer_map)
        layer_map[20] = 16
        rewrite_gguf(out, replace_key("rys.map", type_name, (element_type, layer_map)))
        code, checks = self.verify(self.recipe, self.source, out)
        self.assertEqual(code, 1)
        self.assertFalse(checks["provenance"]["passed"])


# ---------------------------------------------------------------------------
# check


class CheckTest(RyscTestCase):
    """check finds the problems that other tools leave in layer surgery outputs."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.qwen36 = cls.generate_hf("qwen36")
        cls.qwen36_out = cls.apply(EXAMPLE_RECIPE, cls.qwen36, cls.root / "qwen36-out")
        cls.llama = cls.generate_hf("llama")
        cls.llama_out = cls.apply(cls.write_recipe(LLAMA_RECIPE, "llama.rys"), cls.llama, cls.root / "llama-out")
        cls.gemma3 = cls.generate_hf("gemma3")
        cls.qwen35 = cls.generate_gguf("qwen35")
        cls.qwen35_out = cls.apply(cls.write_recipe(QWEN35_RECIPE, "qwen35.rys"), cls.qwen35, cls.root / "qwen35-rys.gguf")
        cls.qwen35_window4_out = cls.apply(
            cls.write_recipe(QWEN35_WINDOW4_RECIPE, "qwen35-window4.rys"), cls.qwen35, cls.root / "qwen35-w4.gguf"
        )
        cls.gguf_sources = [cls.qwen35] + [
            cls.generate_gguf(name) for name in ("qwen35_recurrent", "glm4moe", "quantized", "llama", "split")
        ]

    def assert_clean(self, model):
        code, findings, _ = self.check(model)
        self.assertEqual(findings, [], model)
        self.assertEqual(code, 0)

    def test_sources_pass(self):
        for model in [self.qwen36, self.llama, self.gemma3] + self.gguf_sources:
            with self.subTest(model=model.name):
                self.assert_clean(model)

    def test_outputs_without_schedule_change_pass(self):
        for model in (self.llama_out, self.qwen35_window4_out):
            with self.subTest(model=model.name):
                self.assert_clean(model)
                code, _, _ = self.check(model, "--strict")
                self.assertEqual(code, 0)

    def test_qwen36_output_schedule_warning(self):
        code, findings, stdout = self.check(self.qwen36_out)
        self.assertEqual(code, 0)
        self.assertEqual(len(findings), 1, findings)
        finding = findings[0]
        self.assertEqual(finding["severity"], "warning")
        self.assertEqual(finding["check"], "schedule")
        # Output layer 20 copies full-attention layer 15, but the interval makes layer 20 linear attention.
        self.assertTrue(
            finding["message"].startswith(
                "'text_config.full_attention_interval' = 4 disagrees with 'text_config.layer_types' from layer 20: "
                "the scalar gives it \"linear_attention\", but the list has \"full_attention\"; "
            ),
            finding["message"],
        )
        self.assertIn("'text_config.layer_types'", finding["fix"])
        self.assertIn("\n    fix: ", stdout)

    def test_qwen36_output_strict(self):
        code, findings, _ = self.check(self.qwen36_out, "--strict")
        self.assertEqual(code, 1)
        self.assertEqual([(f["severity"], f["check"]) for f in findings], [("warning", "schedule")])

    def test_qwen35_output_schedule_warning(self):
        code, findings, _ = self.check(self.qwen35_out)
        self.assertEqual(code, 0)
        self.assertEqual([(f["severity"], f["check"]) for f in findings], [("warning", "schedule")])
        self.assertTrue(
            findings[0]["message"].startswith(
                "'qwen35.full_attention_interval' = 4 disagrees with 'qwen35.attention.recurrent_layers' "
                "from layer 20: the scalar gives it true (a recurrent gated delta-net block), but the list has "
                "false (a full-attention block); "
            ),
            findings[0]["message"],
        )
        code, _, _ = self.check(self.qwen35_out, "--strict")
        self.assertEqual(code, 1)

    def test_layer_types_left_in_old_order(self):
        # Another tool moved the tensors through EXAMPLE_MAP but regenerated layer_types from the interval.
        model = self.copy_folder(self.qwen36_out)

        def regenerate_layer_types(config):
            config["text_config"]["layer_types"] = qwen36_interval_types(69)

        edit_config(model, regenerate_layer_types)
        carried = qwen36_types_from_tensors(model, 69)
        listed = qwen36_interval_types(69)
        self.assertEqual(carried[20], "full_attention")
        typed_linear = [layer for layer in range(69) if listed[layer] == "linear_attention" != carried[layer]]
        typed_full = [layer for layer in range(69) if listed[layer] == "full_attention" != carried[layer]]
        self.assertEqual(typed_linear[0], 20)

        code, findings, _ = self.check(model)
        self.assertEqual(code, 1)
        self.assertEqual({finding["check"] for finding in findings}, {"tensor-family"})
        self.assertEqual({finding["severity"] for finding in findings}, {"error"})
        self.assertTrue(findings[0]["message"].startswith("layer 20 is \"linear_attention\""), findings[0]["message"])
        field = "text_config.layer_types"
        self.assert_family_findings(findings, '"linear_attention"', typed_linear, field, "linear_attn.", "self_attn.")
        self.assert_family_findings(findings, '"full_attention"', typed_full, field, "self_attn.", "linear_attn.")

    def test_layer_count_bumped_list_not(self):
        # Another tool wrote 69 layers and num_hidden_layers 69 but kept the source's 64-entry list.
        model = self.copy_folder(self.qwen36_out)
        source_types = load_json(self.qwen36 / "config.json")["text_config"]["layer_types"]
        self.assertEqual(len(source_types), 64)

        def restore_source_list(config):
            config["text_config"]["layer_types"] = source_types

        edit_config(model, restore_source_list)
        self.assertEqual(load_json(model / "config.json")["text_config"]["num_hidden_layers"], 69)

        code, findings, _ = self.check(model)
        self.assertEqual(code, 1)
        field_errors = [finding for finding in findings if finding["check"] == "per-layer-field"]
        self.assertEqual(len(field_errors), 1, findings)
        self.assertEqual(field_errors[0]["severity"], "error")
        self.assertEqual(
            field_errors[0]["message"], "'text_config.layer_types' has 64 entries but the model has 69 layers"
        )
        self.assertIn("(69)", field_errors[0]["fix"])
        self.assertEqual(findings[0], field_errors[0])

    def test_stale_shard(self):
        # A folder that held the source's five shards, rewritten with four.
        model = self.copy_folder(self.qwen36_out)
        stale = "model-00005-of-00005.safetensors"
        shutil.copyfile(self.qwen36 / stale, model / stale)
        code, findings, _ = self.check(model)
        self.assertEqual(code, 1)
        errors = [finding for finding in findings if finding["severity"] == "error"]
        self.assertEqual(len(errors), 1, findings)
        self.assertEqual(errors[0]["check"], "stray-shard")
        self.assertTrue(errors[0]["message"].startswith(f"'{stale}' is not in the index"), errors[0]["message"])
        self.assertEqual(errors[0]["fix"], f"delete '{stale}'")

    def test_wrong_index_total_size(self):
        # Another tool kept the source index's total_size after adding five layers.
        model = self.copy_folder(self.qwen36_out)
        source_total = load_json(self.qwen36 / INDEX_FILE_NAME)["metadata"]["total_size"]
        index = load_json(model / INDEX_FILE_NAME)
        index["metadata"]["total_size"] = source_total
        write_json(model / INDEX_FILE_NAME, index)
        total = sum(hf_all_tensors(model).values())
        self.assertNotEqual(total, source_total)

        code, findings, _ = self.check(model)
        self.assertEqual(code, 1)
        errors = [finding for finding in findings if finding["severity"] == "error"]
        self.assertEqual(len(errors), 1, findings)
        self.assertEqual(errors[0]["check"], "index")
        self.assertEqual(
            errors[0]["message"],
            f"model.safetensors.index.json has total_size {source_total}, but the shards hold {total} tensor bytes",
        )
        self.assertEqual(errors[0]["fix"], f"set metadata.total_size to {total}")

    def test_interval_only_gguf_after_insert(self):
        # Another tool copied 5 blocks (not a multiple of 4) and kept only full_attention_interval.
        model = make_temp_dir(self, "rysc-broken-") / "qwen35-interval.gguf"
        write_qwen35_through_map(self.qwen35, model, QWEN35_MAP)
        self.assertNotIn("qwen35.attention.recurrent_layers", read_gguf(model).metadata)
        carried = qwen35_recurrent_blocks(model, len(QWEN35_MAP))
        scheduled = [(block + 1) % 4 != 0 for block in range(len(QWEN35_MAP))]
        scheduled_linear = [block for block in range(len(QWEN35_MAP)) if scheduled[block] and not carried[block]]
        scheduled_full = [block for block in range(len(QWEN35_MAP)) if not scheduled[block] and carried[block]]
        self.assertEqual(scheduled_linear[0], 20)

        code, findings, _ = self.check(model)
        self.assertEqual(code, 1)
        self.assertEqual({finding["check"] for finding in findings}, {"tensor-family"})
        self.assertEqual({finding["severity"] for finding in findings}, {"error"})
        field = "qwen35.attention.recurrent_layers"
        recurrent = "true (a recurrent gated delta-net block)"
        self.assert_family_findings(findings, recurrent, scheduled_linear, field, "ssm_", "attn_q.")
        self.assert_family_findings(findings, "false (a full-attention block)", scheduled_full, field, "attn_q.", "ssm_")

    def test_nextn_left_at_old_index(self):
        model = make_temp_dir(self, "rysc-broken-") / "qwen35-nextn.gguf"
        write_qwen35_through_map(self.qwen35, model, QWEN35_WINDOW4_MAP, nextn_block=QWEN35_TRUNK)
        names = read_gguf(model).tensors
        self.assertIn("blk.64.nextn.eh_proj.weight", names)
        self.assertIn("blk.68.attn_q.weight", names)

        code, findings, _ = self.check(model)
        stack_errors = [finding for finding in findings if finding["check"] == "extra-stack"]
        self.assertTrue(any(finding["message"].startswith("block 64 ") for finding in stack_errors), findings)
        self.assertTrue(any(finding["message"].startswith("block 68 ") for finding in stack_errors), findings)
        self.assertTrue(all(finding["severity"] == "error" and finding["fix"] for finding in stack_errors))
        self.assertEqual(code, 1)

    def test_mtp_block_left_after_drop(self):
        # Another tool dropped blocks 60..63 but left the MTP block at blk.64, leaving a gap.
        model = make_temp_dir(self, "rysc-broken-") / "qwen35-gap.gguf"
        write_qwen35_through_map(self.qwen35, model, QWEN35_DROP_TAIL_MAP, mtp_block=QWEN35_TRUNK)
        parsed = read_gguf(model)
        self.assertEqual(parsed.metadata["qwen35.block_count"], ("UINT32", 61))
        blocks = {int(BLOCK_NAME.match(name)[1]) for name in parsed.tensors if BLOCK_NAME.match(name)}
        self.assertEqual(blocks, set(range(60)) | {QWEN35_TRUNK})

        result = run_rysc("check", model)
        self.assertEqual(result.returncode, 1)
        self.assertEqual(result.stdout, "")
        self.assertIn("error", result.stderr)
        self.assertIn("'qwen35.block_count'", result.stderr)

    def test_index_names_missing_shard(self):
        model = self.copy_folder(self.qwen36_out)
        missing = "model-00006-of-00006.safetensors"
        (model / missing).unlink()
        for command in ("check", "inspect"):
            with self.subTest(command=command):
                result = run_rysc(command, model)
                self.assertEqual(result.returncode, 1)
                self.assertEqual(result.stdout, "")
                self.assertIn("error", result.stderr)
                self.assertIn(f"names shard '{missing}', which does not exist", result.stderr)


# ---------------------------------------------------------------------------
# inspect


class InspectTest(RyscTestCase):
    """inspect reports layers, schedules, stacks, tensor families, sizes and provenance."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.qwen36 = cls.generate_hf("qwen36")
        cls.qwen36_out = cls.apply(EXAMPLE_RECIPE, cls.qwen36, cls.root / "qwen36-out")
        cls.qwen35 = cls.generate_gguf("qwen35")
        cls.qwen35_out = cls.apply(cls.write_recipe(QWEN35_RECIPE, "qwen35.rys"), cls.qwen35, cls.root / "qwen35-rys.gguf")
        cls.qwen35_window4_out = cls.apply(
            cls.write_recipe(QWEN35_WINDOW4_RECIPE, "qwen35-window4.rys"), cls.qwen35, cls.root / "qwen35-w4.gguf"
        )

    def inspect(self, model):
        """Run inspect in text and JSON form and return (text stdout, parsed JSON)."""
        text = run_rysc("inspect", model)
        self.assertEqual(text.returncode, 0, text.stderr)
        as_json = run_rysc("inspect", model, "--format", "json")
        self.assertEqual(as_json.returncode, 0, as_json.stderr)
        document = json.loads(as_json.stdout)
        self.assertEqual(document["schema"], "rysc-inspect/2")
        return text.stdout, document

    def hf_layer_facts(self, folder, layers):
        """Return (bytes per layer, {layer type: first name components}) from a folder's shard headers."""
        tensors = hf_all_tensors(folder)
        layer_types = load_json(Path(folder) / "config.json")["text_config"]["layer_types"]
        sizes = [0] * layers
        families = {}
        for layer in range(layers):
            prefix = f"{QWEN36_PREFIX}.{layer}."
            components = set()
            for name, size in tensors.items():
                if name.startswith(prefix):
                    sizes[layer] += size
                    components.add(name[len(prefix):].split(".")[0])
            families.setdefault(layer_types[layer], set()).add(frozenset(components))
        return sizes, families

    def test_qwen36_source_text(self):
        stdout, _ = self.inspect(self.qwen36)
        lines = stdout.splitlines()
        self.assertIn("format: safetensors", lines)
        self.assertIn("profile: qwen3_5", lines)
        self.assertIn("layers: 64 ('text_config.num_hidden_layers'), decoder stack model.language_model.layers.N", lines)
        self.assertIn("  text_config.layer_types (values, 64 entries)", lines)
        start = lines.index("schedule text_config.layer_types:")
        self.assertEqual(
            lines[start + 1], '  layers 0..63: 16 cycles of (3 layers: "linear_attention", 1 layer: "full_attention")'
        )
        self.assertEqual(lines[start + 2:start + 5], [
            "schedule text_config.mlp_only_layers:",
            "  layers 0..63: false",
            "  meaning: false = a layer whose MLP follows decoder_sparse_step",
        ])
        self.assertIn(
            "layers with 'text_config.layer_types' = \"full_attention\" carry: "
            "input_layernorm, mlp, post_attention_layernorm, self_attn",
            lines,
        )
        self.assertIn(
            "layers with 'text_config.layer_types' = \"linear_attention\" carry: "
            "input_layernorm, linear_attn, mlp, post_attention_layernorm",
            lines,
        )
        for path in sorted(self.qwen36.glob("*.safetensors")):
            size = path.stat().st_size
            self.assertTrue(any(line.startswith(f"  {path.name}: {size:,} bytes") for line in lines), path.name)
        self.assertFalse(any(line.startswith("built by rysc") for line in lines))

    def test_qwen36_source_json(self):
        _, document = self.inspect(self.qwen36)
        self.assertEqual(document["format"], "safetensors")
        self.assertEqual(document["profile"], "qwen3_5")
        self.assertEqual(document["layers"], 64)
        self.assertEqual(document["layer_count_field"], "text_config.num_hidden_layers")
        self.assertEqual(document["decoder_stack"], QWEN36_PREFIX)
        self.assertIn({"field": "text_config.layer_types", "kind": "values", "length": 64}, document["per_layer_fields"])
        schedules = {entry["field"]: entry for entry in document["schedules"]}
        layer_types = load_json(self.qwen36 / "config.json")["text_config"]["layer_types"]
        self.assertEqual(schedules["text_config.layer_types"]["values"], layer_types)
        self.assertEqual(
            schedules["text_config.layer_types"]["segments"],
            [{"first": 0, "last": 63, "cycle": layer_types[:4], "repeats": 16}],
        )
        mtp_tensors = [name for name in hf_all_tensors(self.qwen36) if name.startswith("mtp.")]
        self.assertEqual(document["extra_stacks"], [{"name": "mtp", "prefix": "mtp.", "tensors": len(mtp_tensors)}])

        sizes, families = self.hf_layer_facts(self.qwen36, 64)
        self.assertEqual(document["bytes_per_layer"], sizes)
        carried = {
            entry["value"]: entry["carry"]
            for entry in document["tensor_families"]
            if entry["field"] == "text_config.layer_types"
        }
        self.assertEqual(sorted(carried), sorted(families))
        for layer_type, component_sets in families.items():
            self.assertEqual(len(component_sets), 1, layer_type)
            self.assertEqual(carried[layer_type], sorted(next(iter(component_sets))))
        files = {path.name: path.stat().st_size for path in self.qwen36.glob("*.safetensors")}
        self.assertEqual({entry["file"]: entry["size"] for entry in document["files"]}, files)
        self.assertNotIn("rysc_provenance", document)

    def test_qwen36_output_provenance(self):
        stdout, document = self.inspect(self.qwen36_out)
        map_text = json.dumps(EXAMPLE_MAP, separators=(",", ":"))
        self.assertIn(f'built by rysc from recipe "qwen36-rys.rys"; map: {map_text}', stdout.splitlines())
        self.assertEqual(document["rysc_provenance"], {"recipe": "qwen36-rys.rys", "map": EXAMPLE_MAP})
        self.assertEqual(document["layers"], 69)
        sizes, _ = self.hf_layer_facts(self.qwen36_out, 69)
        self.assertEqual(document["bytes_per_layer"], sizes)

    def test_qwen36_output_schedule(self):
        stdout, document = self.inspect(self.qwen36_out)
        # Out 0..19 keep five cycles of L L L F. Out 20..24 copy 15..19 (F L L L F), and
        # out 25..68 copy 20..63, so after out 20 the cycle resumes in its source order.
        cycle = ["linear_attention"] * 3 + ["full_attention"]
        schedules = {entry["field"]: entry for entry in document["schedules"]}
        self.assertEqual(schedules["text_config.layer_types"]["segments"], [
            {"first": 0, "last": 19, "cycle": cycle, "repeats": 5},
            {"first": 20, "last": 20, "cycle": ["full_attention"], "repeats": 1},
            {"first": 21, "last": 68, "cycle": cycle, "repeats": 12},
        ])
        lines = stdout.splitlines()
        start = lines.index("schedule text_config.layer_types:")
        self.assertEqual(lines[start + 1:start + 4], [
            '  layers 0..19: 5 cycles of (3 layers: "linear_attention", 1 layer: "full_attention");',
            '  layer 20: "full_attention";',
            '  layers 21..68: 12 cycles of (3 layers: "linear_attention", 1 layer: "full_attention")',
        ])

    def test_qwen35_gguf_source(self):
        stdout, document = self.inspect(self.qwen35)
        self.assertEqual(document["format"], "gguf")
        self.assertEqual(document["profile"], "gguf_qwen35")
        self.assertEqual(document["layers"], QWEN35_TRUNK)
        self.assertEqual(document["layer_count_field"], "qwen35.block_count")
        self.assertEqual(document["decoder_stack"], "blk")
        self.assertEqual(
            document["extra_stacks"],
            [{"name": "nextn", "blocks": 1, "first_block": QWEN35_TRUNK, "counted_in_layer_count": True}],
        )
        self.assertIn(
            "schedule qwen35.attention.recurrent_layers:\n"
            "  layers 0..63: 16 cycles of (3 layers: true, 1 layer: false)\n"
            "  meaning: true = a recurrent gated delta-net block, false = a full-attention block\n",
            stdout,
        )
        schedules = {entry["field"]: entry for entry in document["schedules"]}
        self.assertEqual(schedules["qwen35.attention.recurrent_layers"]["meanings"], [
            {"value": True, "meaning": "a recurrent gated delta-net block"},
            {"value": False, "meaning": "a full-attention block"},
        ])
        self.assertIn(
            "layers with 'qwen35.attention.recurrent_layers' = false (a full-attention block) carry: attn_k, "
            "attn_k_norm, attn_norm, attn_output, attn_q, attn_q_norm, attn_v, ffn_down, ffn_gate, ffn_up, "
            "post_attention_norm",
            stdout.splitlines(),
        )
        self.assertIn("layers: 64 ('qwen35.block_count' is 65, which also counts 1 block of nextn), decoder stack blk.N",
                      stdout.splitlines())

    def test_qwen35_gguf_output_schedule(self):
        stdout, document = self.inspect(self.qwen35_out)
        self.assertIn(
            "schedule qwen35.attention.recurrent_layers:\n"
            "  layers 0..19: 5 cycles of (3 layers: true, 1 layer: false); layer 20: false;\n"
            "  layers 21..68: 12 cycles of (3 layers: true, 1 layer: false)\n",
            stdout,
        )
        schedules = {entry["field"]: entry["values"] for entry in document["schedules"]}
        expected = [(block + 1) % 4 != 0 for block in QWEN35_MAP]
        self.assertEqual(schedules["qwen35.attention.recurrent_layers"], expected)
        # The written array has one entry per block, the MTP block included.
        self.assertIn(
            {"field": "qwen35.attention.recurrent_layers", "kind": "values", "length": 70}, document["per_layer_fields"]
        )
        self.assertEqual(document["extra_stacks"][0]["first_block"], 69)
        self.assertEqual(document["rysc_provenance"], {"recipe": "qwen35.rys", "map": QWEN35_MAP})

    def test_qwen35_gguf_window4_schedule(self):
        stdout, document = self.inspect(self.qwen35_window4_out)
        schedules = {entry["field"]: entry["segments"] for entry in document["schedules"]}
        self.assertEqual(
            schedules["qwen35.attention.recurrent_layers"],
            [{"first": 0, "last": 67, "cycle": [True, True, True, False], "repeats": 17}],
        )
        self.assertEqual(document["rysc_provenance"]["map"], QWEN35_WINDOW4_MAP)
        self.assertIn(
            "schedule qwen35.attention.recurrent_layers:\n  layers 0..67: 17 cycles of (3 layers: true, 1 layer: false)\n",
            stdout,
        )


if __name__ == "__main__":
    unittest.main()
