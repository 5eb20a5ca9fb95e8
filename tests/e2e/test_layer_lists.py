"""End-to-end tests of how `rysc plan` and `rysc inspect` print per-layer lists.

A per-layer list is printed as layer ranges with one value each ("layers 0..3: 128")
and ranges that repeat a short cycle ("layers 0..63: 16 cycles of (3 layers: ..., 1
layer: ...)"), wrapped at 100 columns. The expected text is written out by hand from
the fixtures' values.

Run from tests/e2e: python3 -m unittest -v test_layer_lists
The environment variable RYSC names the binary (default: build/rysc in the
source tree) and RYSC_SOURCE_DIR the source tree (default: two folders up).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("RYSC_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RYSC = Path(os.environ.get("RYSC") or SOURCE_DIR / "build" / "rysc")
EXAMPLE_RECIPE = SOURCE_DIR / "examples" / "qwen36-rys.rys"
sys.path.insert(0, str(SOURCE_DIR / "tests" / "fixtures"))

import generate  # noqa: E402
import generate_gguf  # noqa: E402

# Seconds one rysc run may take; plan reads headers only, so a run normally takes well under 1 s.
RUN_TIMEOUT = 60
REPORT_WIDTH = 100

# Copies source layers 15..19 after layer 19, as examples/qwen36-rys.rys does.
WINDOW_RECIPE = """rys 1;
duplicate blocks[15:20] after;
remap per_layer *;
"""
SHORT_WINDOW_RECIPE = """rys 1;
duplicate blocks[2:4] after;
remap per_layer *;
"""

# qwen35 GGUF blocks 0..63 and the MTP block 64: 2 KV heads, 1 in block 4, 4 from block 40 on.
QWEN35_HEAD_COUNT_KV = [2] * 4 + [1] + [2] * 35 + [4] * 24 + [2]

# A 128-block llama GGUF whose KV head count changes every few blocks without a cycle.
LLAMA128_BLOCKS = 128
LLAMA128_HEAD_COUNT_KV = [1 + (block // 3) % 5 + (block // 15) % 2 for block in range(LLAMA128_BLOCKS)]


def run_rysc(*args):
    """Run rysc with the given arguments and return the CompletedProcess with text output."""
    command = [str(RYSC)] + [str(arg) for arg in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def section(stdout, heading):
    """Return the lines from the one that starts with heading up to the next blank line."""
    lines = stdout.splitlines()
    start = next(index for index, line in enumerate(lines) if line.startswith(heading))
    end = next((index for index in range(start, len(lines)) if not lines[index]), len(lines))
    return lines[start:end]


def load_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def write_gguf_with_arrays(fixture, outdir, arrays):
    """Write fixture with the scalar keys in arrays replaced by ARRAY values and return its path.

    The tensor shapes still follow the scalars, so only the metadata is meaningful.
    """
    fixture.metadata = [
        (key, "ARRAY", arrays[key]) if key in arrays else (key, type_name, value)
        for key, type_name, value in fixture.metadata
    ]
    return generate_gguf.write_fixture(fixture, outdir)[0]


def llama128_fixture():
    params = dict(generate_gguf.LLAMA_PARAMS, trunk=LLAMA128_BLOCKS)
    return generate_gguf.GgufFixture(
        name="llama128",
        file_stem="llama128",
        metadata=generate_gguf.llama_metadata(params, "Llama 128", generate_gguf.FILE_TYPE_MOSTLY_F16),
        tensors=generate_gguf.llama_tensors(params, generate_gguf.LLAMA_F16_TYPES),
    )


class LayerListTest(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        if not RYSC.is_file():
            raise unittest.SkipTest(f"rysc binary not found at {RYSC}; set RYSC")
        cls.root = Path(tempfile.mkdtemp(prefix="rysc-layer-lists-"))
        cls.models = {}
        for name in ("qwen36", "openelm", "kimi_linear", "nemotron_nas"):
            generate.generate(name, cls.root / name)
            cls.models[name] = cls.root / name
        qwen35 = generate_gguf.build_fixture("qwen35")
        qwen35.name = qwen35.file_stem = "qwen35_kv"
        cls.models["qwen35_kv"] = write_gguf_with_arrays(
            qwen35, cls.root / "qwen35_kv", {"qwen35.attention.head_count_kv": ("UINT32", QWEN35_HEAD_COUNT_KV)}
        )
        cls.models["llama128"] = write_gguf_with_arrays(
            llama128_fixture(), cls.root / "llama128",
            {"llama.attention.head_count_kv": ("UINT32", LLAMA128_HEAD_COUNT_KV)},
        )
        cls.recipes = {}
        for name, text in (("window", WINDOW_RECIPE), ("short", SHORT_WINDOW_RECIPE)):
            cls.recipes[name] = cls.root / f"{name}.rys"
            cls.recipes[name].write_text(text, encoding="utf-8")

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.root, ignore_errors=True)

    def plan(self, recipe, model):
        """Run plan, assert that the per-layer list lines fit REPORT_WIDTH, and return stdout."""
        result = run_rysc("plan", recipe, model)
        self.assertEqual(result.returncode, 0, result.stderr)
        for line in section(result.stdout, "config edits"):
            if line.startswith("      "):
                self.assertLessEqual(len(line), REPORT_WIDTH, line)
        return result.stdout

    def test_qwen36_layer_types_as_cycles(self):
        stdout = self.plan(EXAMPLE_RECIPE, self.models["qwen36"])
        self.assertEqual(section(stdout, "config edits"), [
            "config edits (config.json):",
            "  text_config.num_hidden_layers: 64 -> 69  [layer count]",
            "  text_config.layer_types: [64 entries] -> [69 entries]  [per-layer values remapped]",
            '      old: layers 0..63: 16 cycles of (3 layers: "linear_attention", 1 layer: "full_attention")',
            '      new: layers 0..19: 5 cycles of (3 layers: "linear_attention", 1 layer: "full_attention");',
            '           layer 20: "full_attention";',
            '           layers 21..68: 12 cycles of (3 layers: "linear_attention", 1 layer: "full_attention")',
        ])

    def test_openelm_head_counts_as_runs(self):
        stdout = self.plan(self.recipes["short"], self.models["openelm"])
        lines = section(stdout, "config edits")
        start = lines.index("  num_kv_heads: [16 entries] -> [18 entries]  [per-layer values remapped]")
        self.assertEqual(lines[start + 1:start + 3], [
            "      old: layers 0..4: 3; layers 5..11: 4; layers 12..15: 5",
            "      new: layers 0..6: 3; layers 7..13: 4; layers 14..17: 5",
        ])

    def test_kimi_index_lists_as_ranges(self):
        stdout = self.plan(self.recipes["short"], self.models["kimi_linear"])
        lines = section(stdout, "config edits")
        start = lines.index("  linear_attn_config.full_attn_layers: [7 entries] -> [8 entries]  [per-layer indices remapped]")
        self.assertEqual(lines[start + 1:start + 5], [
            "      old: layers 4, 8, 12, 16, 20, 24, 27 (layer numbers count from 1)",
            "      new: layers 4, 6, 10, 14, 18, 22, 26, 29 (layer numbers count from 1)",
            "      meaning: listed = a multi-head latent attention layer,",
            "               not listed = a layer not listed in full_attn_layers",
        ])

    def test_gguf_head_count_kv_array(self):
        stdout = self.plan(self.recipes["window"], self.models["qwen35_kv"])
        self.assertEqual(section(stdout, "config edits"), [
            "config edits (GGUF metadata):",
            "  qwen35.block_count: 65 -> 70  [layer count]",
            "  qwen35.attention.head_count_kv: [65 entries] -> [70 entries]  [per-layer values remapped]",
            "      old: layers 0..3: 2; layer 4: 1; layers 5..39: 2; layers 40..63: 4; layer 64: 2",
            "      new: layers 0..3: 2; layer 4: 1; layers 5..44: 2; layers 45..68: 4; layer 69: 2",
            "  qwen35.attention.recurrent_layers: (absent) -> [70 entries]  "
            "[written because 'full_attention_interval' cannot express the new schedule]",
            "      new: layers 0..19: 5 cycles of (3 layers: true, 1 layer: false);",
            "           layers 20..67: 12 cycles of (1 layer: false, 3 layers: true); layers 68..69: false",
            "      meaning: true = a recurrent gated delta-net block, false = a full-attention block",
        ])

    def test_gguf_128_blocks_wrap_exactly(self):
        stdout = self.plan(self.recipes["short"], self.models["llama128"])
        lines = section(stdout, "config edits")
        self.assertEqual(lines[2], "  llama.attention.head_count_kv: [128 entries] -> [130 entries]  [per-layer values remapped]")
        old = []
        for line in lines[3:]:
            if line.startswith("      new: "):
                break
            old.append(line[len("      old: "):])
        self.assertTrue(lines[3].startswith("      old: layers 0..2: 1; layers 3..5: 2; "), lines[3])
        self.assertGreater(len(old), 3)
        # Reading the segments back gives every block's value, in order.
        values = []
        for segment in " ".join(old).split("; "):
            span, value = segment.rstrip(";").split(": ")
            first, _, last = span.split(" ")[1].partition("..")
            values += [int(value)] * (int(last or first) - int(first) + 1)
        self.assertEqual(values, LLAMA128_HEAD_COUNT_KV)

    def inspect(self, model):
        """Run inspect in text and JSON form and return (text stdout, parsed JSON)."""
        text = run_rysc("inspect", model)
        self.assertEqual(text.returncode, 0, text.stderr)
        as_json = run_rysc("inspect", model, "--format", "json")
        self.assertEqual(as_json.returncode, 0, as_json.stderr)
        return text.stdout, json.loads(as_json.stdout)

    def test_inspect_gguf_head_count_kv(self):
        stdout, document = self.inspect(self.models["qwen35_kv"])
        lines = stdout.splitlines()
        start = lines.index("schedule qwen35.attention.head_count_kv:")
        self.assertEqual(lines[start + 1], "  layers 0..3: 2; layer 4: 1; layers 5..39: 2; layers 40..63: 4")
        schedules = {entry["field"]: entry for entry in document["schedules"]}
        self.assertEqual(schedules["qwen35.attention.head_count_kv"]["values"], QWEN35_HEAD_COUNT_KV[:64])
        self.assertEqual(schedules["qwen35.attention.head_count_kv"]["segments"], [
            {"first": 0, "last": 3, "cycle": [2], "repeats": 4},
            {"first": 4, "last": 4, "cycle": [1], "repeats": 1},
            {"first": 5, "last": 39, "cycle": [2], "repeats": 35},
            {"first": 40, "last": 63, "cycle": [4], "repeats": 24},
        ])

    def test_inspect_config_objects_by_number(self):
        # Nemotron-NAS block_configs hold one config object per layer, so the text
        # names them #1, #2, ... and the JSON report must still be valid UTF-8.
        stdout, document = self.inspect(self.models["nemotron_nas"])
        block_configs = load_json(self.models["nemotron_nas"] / "config.json")["block_configs"]
        schedules = {entry["field"]: entry for entry in document["schedules"]}
        self.assertEqual(schedules["block_configs"]["values"], block_configs)
        lines = stdout.splitlines()
        start = lines.index("schedule block_configs:")
        distinct = []
        for config in block_configs:
            if config not in distinct:
                distinct.append(config)
        self.assertEqual(lines[start + 1:start + 3], [
            "  layer 0: #1; layers 1..2: #2; layer 3: #3; layer 4: #4; layer 5: #5; layer 6: #2; layer 7: #6;",
            "  layer 8: #7; layer 9: #1",
        ])
        legend = [f"  #{number} = {json.dumps(config, separators=(',', ':'), sort_keys=True)}"
                  for number, config in enumerate(distinct, start=1)]
        self.assertEqual(lines[start + 3:start + 3 + len(distinct)], legend)


if __name__ == "__main__":
    unittest.main()
