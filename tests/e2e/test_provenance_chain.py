"""End-to-end tests of provenance records when rysc applies a recipe to its own output.

The second output's record must keep the first record whole under "previous" and
map every output layer to a layer of the original model ("original_map"). verify
checks the chain, and inspect names the earlier recipes. Expected maps are
computed in this file from the recipes' windows, not read from rysc.

Run from tests/e2e: python3 -m unittest -v test_provenance_chain
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
sys.path.insert(0, str(SOURCE_DIR / "tests" / "fixtures"))

import generate  # noqa: E402
import generate_gguf  # noqa: E402
import hfcheck  # noqa: E402
from gguf_io import read_gguf  # noqa: E402

# Seconds one rysc run may take. The fixtures are about 1 MB, so a run normally takes well under 1 s.
RUN_TIMEOUT = 60

FIRST_RECIPE = """rys 1;
duplicate blocks[2:4] after;
remap per_layer *;
"""
SECOND_RECIPE = """rys 1;
duplicate blocks[5:7] after;
remap per_layer *;
"""
LLAMA_LAYERS = 16


def duplicate_after(layers, begin, end):
    """Return the map of `duplicate blocks[begin:end] after` on a stack of `layers` layers."""
    return list(range(end)) + list(range(begin, end)) + list(range(end, layers))


FIRST_MAP = duplicate_after(LLAMA_LAYERS, 2, 4)
SECOND_MAP = duplicate_after(len(FIRST_MAP), 5, 7)
ORIGINAL_MAP = [FIRST_MAP[source] for source in SECOND_MAP]


def run_rysc(*args):
    command = [str(RYSC)] + [str(arg) for arg in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def load_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


def verify_line(stdout, check):
    """Return the report line of one verify check, without its leading spaces."""
    for line in stdout.splitlines():
        fields = line.split()
        if len(fields) >= 2 and fields[0] in ("ok", "FAILED") and fields[1] == check:
            return " ".join(fields)
    raise AssertionError(f"verify printed no '{check}' line:\n{stdout}")


class ChainTestCase(unittest.TestCase):
    """Builds a fixture, applies FIRST_RECIPE and then SECOND_RECIPE to the first output."""

    def setUp(self):
        self.root = Path(tempfile.mkdtemp(prefix="rysc-chain-"))
        self.addCleanup(shutil.rmtree, self.root, ignore_errors=True)
        self.first_recipe = self.root / "first.rys"
        self.first_recipe.write_text(FIRST_RECIPE, encoding="utf-8")
        self.second_recipe = self.root / "second.rys"
        self.second_recipe.write_text(SECOND_RECIPE, encoding="utf-8")

    def apply(self, recipe, source, out):
        """Apply recipe and check that the source, folder or file, is left unchanged."""
        source = Path(source)
        before = hfcheck.snapshot(source) if source.is_dir() else source.read_bytes()
        result = run_rysc("apply", recipe, source, out)
        self.assertEqual(result.returncode, 0, result.stderr)
        if source.is_dir():
            hfcheck.assert_unchanged(source, before)
        else:
            self.assertEqual(source.read_bytes(), before)
        return result

    def assert_verify_chained(self):
        self.apply(self.second_recipe, self.first, self.second)
        result = run_rysc("verify", self.second_recipe, self.first, self.second)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(
            verify_line(result.stdout, "provenance"),
            "ok provenance map, seams and recipe hash recorded, source's record chained",
        )

    def assert_chained(self, first_record, second_record):
        self.assertEqual(first_record["map"], FIRST_MAP)
        self.assertNotIn("previous", first_record)
        self.assertNotIn("original_map", first_record)
        self.assertEqual(second_record["map"], SECOND_MAP)
        self.assertEqual(second_record["previous"], first_record)
        self.assertEqual(second_record["original_map"], ORIGINAL_MAP)
        self.assertEqual(second_record["recipe"]["name"], "second.rys")


class HfChainTest(ChainTestCase):
    def setUp(self):
        super().setUp()
        self.source = self.root / "llama"
        generate.generate("llama", self.source)
        self.first = self.root / "first-out"
        self.second = self.root / "second-out"
        self.apply(self.first_recipe, self.source, self.first)

    def test_record_chains_first_record(self):
        result = self.apply(self.second_recipe, self.first, self.second)
        self.assertEqual(result.stderr, "")
        self.assert_chained(load_json(self.first / "rysc.json"), load_json(self.second / "rysc.json"))

    def test_verify_checks_chain(self):
        self.assert_verify_chained()

    def test_verify_ignores_key_order(self):
        self.apply(self.second_recipe, self.first, self.second)
        record = load_json(self.second / "rysc.json")
        (self.second / "rysc.json").write_text(json.dumps(record, indent=2, sort_keys=True) + "\n", encoding="utf-8")
        self.assertNotEqual(list(record["previous"]), sorted(record["previous"]))
        result = run_rysc("verify", self.second_recipe, self.first, self.second)
        self.assertEqual(result.returncode, 0, result.stdout + result.stderr)
        self.assertEqual(
            verify_line(result.stdout, "provenance"),
            "ok provenance map, seams and recipe hash recorded, source's record chained",
        )

    def test_verify_rejects_edited_chain(self):
        self.apply(self.second_recipe, self.first, self.second)
        record = load_json(self.second / "rysc.json")
        record["previous"]["map"][4] = 3
        (self.second / "rysc.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        result = run_rysc("verify", self.second_recipe, self.first, self.second)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertEqual(verify_line(result.stdout, "provenance"), "FAILED provenance 1 problem")
        self.assertIn("the record does not chain the source's provenance record", result.stdout)

    def test_verify_rejects_wrong_original_map(self):
        self.apply(self.second_recipe, self.first, self.second)
        record = load_json(self.second / "rysc.json")
        record["original_map"][7] = 5
        (self.second / "rysc.json").write_text(json.dumps(record, indent=2) + "\n", encoding="utf-8")
        result = run_rysc("verify", self.second_recipe, self.first, self.second)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn(
            "the recorded original_map differs from the source's map composed with the recipe's", result.stdout
        )

    def test_inspect_names_earlier_recipe(self):
        self.apply(self.second_recipe, self.first, self.second)
        result = run_rysc("inspect", self.second)
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = result.stdout.splitlines()
        start = lines.index(f'built by rysc from recipe "second.rys"; map: {json.dumps(SECOND_MAP, separators=(",", ":"))}')
        self.assertEqual(
            lines[start + 1 : start + 3],
            [
                '  applied to the output of "first.rys"',
                f"  map to the first model's layers: {json.dumps(ORIGINAL_MAP, separators=(',', ':'))}",
            ],
        )

    def test_plan_names_source_recipe(self):
        result = run_rysc("plan", self.second_recipe, self.first)
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertEqual(
            result.stdout.splitlines()[2],
            'source built by rysc from recipe "first.rys"; the output\'s provenance record chains the source\'s',
        )

    def test_record_that_is_not_object(self):
        (self.first / "rysc.json").write_text("[1, 2]\n", encoding="utf-8")
        result = self.apply(self.second_recipe, self.first, self.second)
        self.assertEqual(
            result.stderr,
            f"rysc: warning: '{self.first / 'rysc.json'}' is not a JSON object, so it is not a rysc "
            "provenance record; the output's record will not include it\n",
        )
        record = load_json(self.second / "rysc.json")
        self.assertNotIn("previous", record)
        self.assertNotIn("original_map", record)

    def test_record_with_short_map(self):
        (self.first / "rysc.json").write_text('{"map": [0, 1]}\n', encoding="utf-8")
        result = self.apply(self.second_recipe, self.first, self.second)
        self.assertEqual(
            result.stderr,
            "rysc: warning: the source's provenance record cannot be composed with this recipe's map: "
            f"its 'map' lists 2 layers, but the source has {len(FIRST_MAP)}; the output's record keeps "
            "it under 'previous' without 'original_map'\n",
        )
        record = load_json(self.second / "rysc.json")
        self.assertEqual(record["previous"], {"map": [0, 1]})
        self.assertNotIn("original_map", record)


class GgufChainTest(ChainTestCase):
    def setUp(self):
        super().setUp()
        _, paths = generate_gguf.generate("llama", self.root / "llama")
        self.source = paths[0]
        self.first = self.root / "first.gguf"
        self.second = self.root / "second.gguf"
        self.third = self.root / "third.gguf"
        self.apply(self.first_recipe, self.source, self.first)

    @staticmethod
    def record(path):
        metadata = read_gguf(path).metadata
        return json.loads(metadata["rys.provenance"][1])

    def test_record_chains_first_record(self):
        self.apply(self.second_recipe, self.first, self.second)
        self.assert_chained(self.record(self.first), self.record(self.second))

    def test_third_apply_composes_through_chain(self):
        self.apply(self.second_recipe, self.first, self.second)
        self.apply(self.first_recipe, self.second, self.third)
        third_map = duplicate_after(len(SECOND_MAP), 2, 4)
        record = self.record(self.third)
        self.assertEqual(record["original_map"], [ORIGINAL_MAP[source] for source in third_map])
        self.assertEqual(record["previous"], self.record(self.second))
        self.assertEqual(record["previous"]["previous"], self.record(self.first))

        result = run_rysc("inspect", self.third)
        self.assertIn('  applied to the output of "second.rys", which was built from "first.rys"\n', result.stdout)

    def test_verify_checks_chain(self):
        self.assert_verify_chained()

    def test_verify_against_unchained_source(self):
        # The original model has no record, so an output whose record chains one was not made from it.
        self.apply(self.second_recipe, self.first, self.second)
        result = run_rysc("verify", self.second_recipe, self.source, self.second)
        self.assertEqual(result.returncode, 1, result.stdout)
        self.assertIn("the record chains an earlier record, but the source has none", result.stdout)


if __name__ == "__main__":
    unittest.main()
