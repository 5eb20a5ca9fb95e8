"""End-to-end tests of `rysc apply` when the disk fails a write after accepting it.

A disk that loses a write reports it at the next fsync, with EIO. rysc starts writeback
when it closes each file and fsyncs all files only after the last one is written, so
such an error arrives late, after every copy has succeeded. These tests make fsync
fail for one output file through tests/fault/FailSync.c, loaded with LD_PRELOAD, and
check that apply exits with status 1, names the file, and leaves neither the output
nor its temporary folder, with the source unchanged.

Run from tests/e2e: python3 -m unittest -v test_write_errors
The environment variable RYSC names the binary (default: build/rysc in the source
tree), RYSC_SOURCE_DIR the source tree (default: two folders up) and
RYSC_FAIL_SYNC_LIBRARY the fault library (default: build/tests/librysc_fail_sync.so).
"""

import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("RYSC_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RYSC = Path(os.environ.get("RYSC") or SOURCE_DIR / "build" / "rysc")
FAIL_SYNC_LIBRARY = Path(
    os.environ.get("RYSC_FAIL_SYNC_LIBRARY") or SOURCE_DIR / "build" / "tests" / "librysc_fail_sync.so")
sys.path.insert(0, str(SOURCE_DIR / "tests" / "fixtures"))

import generate  # noqa: E402
import generate_gguf  # noqa: E402
import hfcheck  # noqa: E402

RUN_TIMEOUT = 60

RECIPE = """rys 1;
duplicate blocks[4:8] after;
remap per_layer *;
"""


def run_failing_sync(pattern, *args):
    """Run rysc with fsync failing for paths that contain pattern; return the CompletedProcess."""
    environment = dict(os.environ, LD_PRELOAD=str(FAIL_SYNC_LIBRARY), RYSC_FAIL_FSYNC=pattern)
    command = [str(RYSC)] + [str(arg) for arg in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT, env=environment)


class WriteErrorTest(unittest.TestCase):
    def setUp(self):
        self.assertTrue(FAIL_SYNC_LIBRARY.is_file(), f"{FAIL_SYNC_LIBRARY} is missing; build the tests first")
        self.work = Path(tempfile.mkdtemp(prefix="rysc-write-errors-"))
        self.addCleanup(shutil.rmtree, self.work, ignore_errors=True)
        self.recipe = self.work / "recipe.rys"
        self.recipe.write_text(RECIPE, encoding="utf-8")

    def test_hf_shard_sync_error(self):
        source = self.work / "qwen36"
        generate.generate("qwen36", source)
        before = hfcheck.snapshot(source)
        out = self.work / "out"

        # Only output files are synced, so the pattern picks output shard 2.
        result = run_failing_sync("model-00002-of-", "apply", self.recipe, source, out)
        self.assertEqual(result.returncode, 1, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}")
        self.assertRegex(
            result.stderr,
            r"\Arysc: error: '" + re.escape(str(out)) +
            r"/model-00002-of-0000\d\.safetensors': failed to sync: Input/output error\n\Z")
        self.assertEqual(sorted(os.listdir(self.work)), ["qwen36", "recipe.rys"],
                         "apply left an output or a temporary folder")
        hfcheck.assert_unchanged(source, before)

    def test_hf_succeeds_without_fault(self):
        # The same run with a pattern that matches no file succeeds, so the failure above
        # comes from the injected error alone.
        source = self.work / "qwen36"
        generate.generate("qwen36", source)
        result = run_failing_sync("no-such-file", "apply", self.recipe, source, self.work / "out")
        self.assertEqual(result.returncode, 0, result.stderr)
        self.assertTrue((self.work / "out" / "config.json").is_file())

    def test_gguf_sync_error(self):
        folder = self.work / "llama"
        _, paths = generate_gguf.generate("llama", folder)
        source = Path(paths[0])
        before = source.read_bytes()
        out = self.work / "out.gguf"

        result = run_failing_sync("out.gguf", "apply", self.recipe, source, out)
        self.assertEqual(result.returncode, 1, result.stderr)
        self.assertEqual(result.stderr, f"rysc: error: '{out}': failed to sync: Input/output error\n")
        self.assertEqual(sorted(os.listdir(self.work)), ["llama", "recipe.rys"])
        self.assertEqual(source.read_bytes(), before)


if __name__ == "__main__":
    unittest.main()
