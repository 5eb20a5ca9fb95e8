"""End-to-end test: --split-max-size sets the number of GGUF output parts."""
import os
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("RYSC_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RYSC = Path(os.environ.get("RYSC") or SOURCE_DIR / "build" / "rysc")
sys.path.insert(0, str(SOURCE_DIR / "tests" / "fixtures"))

import generate_gguf  # noqa: E402
from gguf_io import read_gguf, read_gguf_split  # noqa: E402

LIMIT = 100_000


class SplitMaxSizeTest(unittest.TestCase):
    def test_parts_respect_limit(self):
        with tempfile.TemporaryDirectory() as work:
            work = Path(work)
            generate_gguf.generate("llama", work / "src")
            recipe = work / "r.rys"
            recipe.write_text("duplicate blocks[4:8] after;\nremap per_layer *;\n")
            out = work / "out.gguf"

            result = subprocess.run([str(RYSC), "apply", "--split-max-size", str(LIMIT), str(recipe),
                                     str(work / "src" / "llama.gguf"), str(out)],
                                    capture_output=True, text=True)

            self.assertEqual(result.returncode, 0, result.stderr)
            parts = sorted(work.glob("out-*-of-*.gguf"))
            self.assertEqual(len(parts), 4)
            split = read_gguf_split(parts[0])
            self.assertEqual(len(split.tensors), 147 + 4 * 9)
            self.assertEqual(split.metadata["llama.block_count"], ("UINT32", 20))
            for part in parts:
                data = read_gguf(part)
                padded = sum(len(t.data_bytes) + (-len(t.data_bytes)) % data.alignment
                             for t in data.tensors.values())
                # A part only passes the limit when it holds a single tensor.
                self.assertTrue(padded <= LIMIT or len(data.tensors) == 1, part.name)

    def test_rejected_for_hugging_face(self):
        with tempfile.TemporaryDirectory() as work:
            recipe = Path(work) / "r.rys"
            recipe.write_text("duplicate blocks[4:8] after;\n")
            model = Path(work) / "m"
            import generate
            generate.generate("llama", model)
            result = subprocess.run([str(RYSC), "plan", "--split-max-size", "1MB", str(recipe), str(model)],
                                    capture_output=True, text=True)
            self.assertEqual(result.returncode, 1)
            self.assertIn("--split-max-size applies to GGUF model outputs", result.stderr)


if __name__ == "__main__":
    unittest.main()
