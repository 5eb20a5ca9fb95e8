"""End-to-end test: config.json values that strict JSON lacks survive apply.

Python's json module writes NaN and Infinity as bare literals, and released
configs contain them (Falcon-H1 and Nemotron-H "time_step_limit"). rysc must
read such a config and write every byte outside its edits back unchanged.
"""
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("RYSC_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RYSC = Path(os.environ.get("RYSC") or SOURCE_DIR / "build" / "rysc")
sys.path.insert(0, str(SOURCE_DIR / "tests" / "fixtures"))

import generate  # noqa: E402


class ConfigLiteralsTest(unittest.TestCase):
    def test_non_finite_literals_kept(self):
        with tempfile.TemporaryDirectory() as work:
            model = Path(work) / "llama"
            generate.generate("llama", model)
            config = model / "config.json"
            text = config.read_text().replace(
                '"vocab_size"',
                '"time_step_limit": [0.0, Infinity],\n  "floor": -Infinity,\n'
                '  "unset": NaN,\n  "note": "NaN \\" Infinity",\n  "vocab_size"')
            config.write_text(text)
            recipe = Path(work) / "r.rys"
            recipe.write_text("duplicate blocks[2:4] after;\n")
            out = Path(work) / "out"

            result = subprocess.run([str(RYSC), "apply", str(recipe), str(model), str(out)],
                                    capture_output=True, text=True)

            self.assertEqual(result.returncode, 0, result.stderr)
            expected = text.replace('"num_hidden_layers": 16', '"num_hidden_layers": 18')
            self.assertEqual((out / "config.json").read_text(), expected)


if __name__ == "__main__":
    unittest.main()
