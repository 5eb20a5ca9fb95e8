"""End-to-end tests of the dense, mixture-of-experts and VLM text-stack profiles.

Each test writes a fixture from tests/fixtures/families/dense_moe.py, runs
`rysc apply` on it, and checks the result. Layer maps and
expected configs are written out here by hand from each recipe and from the
family's published rules, never read back from rysc.

Run from tests/e2e: python3 -m unittest -v test_profiles_dense_moe
The environment variable RYSC names the binary (default: build-dense/rysc in
the source tree) and RYSC_SOURCE_DIR the source tree (default: two folders up).
"""

import copy
import json
import math
import os
import re
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("RYSC_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RYSC = Path(os.environ.get("RYSC") or SOURCE_DIR / "build-dense" / "rysc")
FIXTURES_DIR = SOURCE_DIR / "tests" / "fixtures"
sys.path.insert(0, str(FIXTURES_DIR))

import generate  # noqa: E402
import hfcheck  # noqa: E402

# Seconds one rysc run may take; every fixture is under 2 MB.
RUN_TIMEOUT = 60
PROVENANCE_FILE_NAME = "rysc.json"

# Profiles this file covers, each with one model_type it must match.
PROFILE_MODEL_TYPES = {
    "mixtral": "mixtral",
    "phi3": "phi3",
    "qwen2_moe": "qwen2_moe",
    "qwen2_vl": "qwen2_vl",
    "qwen2_5_vl": "qwen2_5_vl",
    "qwen3_vl": "qwen3_vl",
    "qwen3_vl_moe": "qwen3_vl_moe",
    "gemma2": "gemma2",
    "gemma3n": "gemma3n",
    "cohere2": "cohere2",
    "llama4": "llama4",
    "smollm3": "smollm3",
    "gpt_oss": "gpt_oss",
    "deepseek_v2": "deepseek_v2",
    "deepseek_v3": "deepseek_v3",
    "kimi_k2": "kimi_k2",
    "glm4_moe": "glm4_moe",
    "minimax": "minimax",
    "minimax_m2": "minimax_m2",
    "olmo2": "olmo2",
    "olmo3": "olmo3",
    "exaone4": "exaone4",
    "ernie4_5_moe": "ernie4_5_moe",
    "hunyuan": "hunyuan_v1_moe",
    "mllama": "mllama",
    "minicpm": "minicpm",
    "minicpm3": "minicpm3",
    "gpt2": "gpt2",
    "mpt": "mpt",
    "dbrx": "dbrx",
}


# ---------------------------------------------------------------------------
# Layer maps and field rules, written independently of rysc


def duplicate_map(count, begin, end, times=1):
    """Return the map of `duplicate blocks[begin:end] after times K` on a count-layer model."""
    return list(range(end)) + list(range(begin, end)) * times + list(range(end, count))


def drop_map(count, begin, end):
    """Return the map of `drop blocks[begin:end]` on a count-layer model."""
    return [layer for layer in range(count) if not begin <= layer < end]


def remap_values(values, layer_map):
    """Apply the per-layer value rule: new[o] = old[m[o]]."""
    return [copy.deepcopy(values[source]) for source in layer_map]


def remap_indices(indices, layer_map):
    """Apply the index-list rule: new = sorted{o : m[o] in old}."""
    members = set(indices)
    return [out for out, source in enumerate(layer_map) if source in members]


def duplicate_recipe(begin, end, *extra):
    lines = ["rys 1;", f"duplicate blocks[{begin}:{end}] after;", "remap per_layer *;"] + list(extra)
    return "\n".join(lines) + "\n"


# ---------------------------------------------------------------------------
# Running rysc


def run_rysc(*args):
    """Run rysc with the given arguments and return the CompletedProcess with text output."""
    command = [str(RYSC)] + [str(arg) for arg in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)


def load_json(path):
    return json.loads(Path(path).read_text(encoding="utf-8"))


class ProfileTestCase(unittest.TestCase):
    """Helpers that build fixtures in a per-test temporary folder and run rysc on them."""

    def setUp(self):
        self.workdir = Path(tempfile.mkdtemp(prefix="rysc-dense-moe-"))
        self.addCleanup(shutil.rmtree, self.workdir, ignore_errors=True)

    def make_source(self, fixture_name, edit_config=None):
        """Write a fixture, optionally edit its config.json in place, and return (folder, Fixture)."""
        folder = self.workdir / fixture_name
        fixture = generate.generate(fixture_name, folder)
        if edit_config is not None:
            config = load_json(folder / "config.json")
            edit_config(config)
            (folder / "config.json").write_bytes(generate.dump_json(config))
        return folder, fixture

    def apply(self, source, recipe_text):
        """Run `rysc apply` on source into a new folder and return (CompletedProcess, output folder)."""
        recipe = self.workdir / "recipe.rys"
        recipe.write_text(recipe_text, encoding="utf-8")
        out = self.workdir / "out"
        shutil.rmtree(out, ignore_errors=True)
        return run_rysc("apply", recipe, source, out), out

    def assert_applied(self, result, out, source, layer_map, stack_prefix, expected_config):
        """Require exit status 0 and an output that hfcheck accepts for layer_map and expected_config."""
        self.assertEqual(result.returncode, 0, f"rysc apply failed:\n{result.stderr}")
        self.assertNotIn("error:", result.stderr)
        hfcheck.check_output(
            source, out, layer_map, stack_prefix, expected_config, allowed_extra_files=(PROVENANCE_FILE_NAME,)
        )

    def assert_rejected(self, result, out, message):
        """Require exit status 1, message in stderr, and no output folder."""
        self.assertEqual(result.returncode, 1, f"rysc apply should fail; stderr:\n{result.stderr}")
        self.assertIn(message, result.stderr)
        self.assertFalse(out.exists(), f"a rejected recipe left {out}")

    def assert_no_warnings(self, result):
        self.assertNotIn("warning:", result.stderr)

    def source_config(self, source):
        return load_json(Path(source) / "config.json")


def set_count(config, key, layer_map, decoder_key=None):
    """Return the decoder object of config after setting its layer count key to len(layer_map)."""
    decoder = config[decoder_key] if decoder_key else config
    decoder[key] = len(layer_map)
    return decoder


# ---------------------------------------------------------------------------
# Families with nothing per layer


class NoPerLayerFieldTest(ProfileTestCase):
    """Dense and MoE families whose configs only change their layer count."""

    def check_duplicate(self, fixture_name, count_key, begin, end):
        source, fixture = self.make_source(fixture_name)
        config = self.source_config(source)
        layer_map = duplicate_map(config[count_key], begin, end)
        expected = copy.deepcopy(config)
        set_count(expected, count_key, layer_map)
        result, out = self.apply(source, duplicate_recipe(begin, end))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_mixtral_duplicate(self):
        self.check_duplicate("mixtral", "num_hidden_layers", 8, 12)

    def test_phi3_duplicate(self):
        self.check_duplicate("phi3", "num_hidden_layers", 20, 23)

    def test_phi3_drop(self):
        source, fixture = self.make_source("phi3")
        expected = self.source_config(source)
        layer_map = drop_map(32, 28, 32)
        expected["num_hidden_layers"] = 28
        result, out = self.apply(source, "rys 1;\ndrop blocks[28:32];\nremap per_layer *;\n")
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)

    def test_olmo2_duplicate(self):
        self.check_duplicate("olmo2", "num_hidden_layers", 12, 17)

    def test_gpt2_duplicate(self):
        self.check_duplicate("gpt2", "n_layer", 4, 6)

    def test_mpt_duplicate(self):
        self.check_duplicate("mpt", "n_layers", 8, 12)

    def test_dbrx_duplicate(self):
        self.check_duplicate("dbrx", "n_layers", 10, 14)

    def test_minimax_m2_attn_type_list(self):
        source, fixture = self.make_source("minimax_m2")
        config = self.source_config(source)
        layer_map = duplicate_map(62, 20, 24)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 66
        expected["attn_type_list"] = remap_values(config["attn_type_list"], layer_map)
        result, out = self.apply(source, duplicate_recipe(20, 24))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertEqual(len(load_json(out / "config.json")["attn_type_list"]), 66)
        self.assert_no_warnings(result)


class MiniCpmTest(ProfileTestCase):
    def test_scale_depth_recomputed(self):
        source, fixture = self.make_source("minicpm")
        config = self.source_config(source)
        layer_map = duplicate_map(40, 8, 16)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 48
        # Each layer's residual is scaled by scale_depth / sqrt(N), and that product must stay.
        expected["scale_depth"] = 1.4 * math.sqrt(48 / 40)
        result, out = self.apply(source, duplicate_recipe(8, 16))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)

    def test_drop_shrinks_scale_depth(self):
        source, fixture = self.make_source("minicpm")
        expected = self.source_config(source)
        layer_map = drop_map(40, 30, 40)
        expected["num_hidden_layers"] = 30
        expected["scale_depth"] = 1.4 * math.sqrt(30 / 40)
        result, out = self.apply(source, "rys 1;\ndrop blocks[30:40];\nremap per_layer *;\n")
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)


# ---------------------------------------------------------------------------
# Qwen MoE and VLM text stacks


class QwenTest(ProfileTestCase):
    def test_qwen2_moe_duplicate(self):
        source, fixture = self.make_source("qwen2_moe")
        config = self.source_config(source)
        layer_map = duplicate_map(24, 4, 8)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 28
        result, out = self.apply(source, duplicate_recipe(4, 8))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertEqual(load_json(out / "config.json")["mlp_only_layers"], [])
        self.assert_no_warnings(result)

    def test_qwen2_moe_sliding_parity_writes_list(self):
        # With use_sliding_window, Qwen2-MoE slides at even i below max_window_layers,
        # so a window of length 3 flips the parity of every later layer.
        def enable_sliding(config):
            config["use_sliding_window"] = True

        source, fixture = self.make_source("qwen2_moe", enable_sliding)
        config = self.source_config(source)
        layer_map = duplicate_map(24, 4, 7)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 27
        expected["layer_types"] = [
            "sliding_attention" if (s + 1) % 2 == 1 and s < 21 else "full_attention" for s in layer_map
        ]
        result, out = self.apply(source, duplicate_recipe(4, 7))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertIn(
            "'max_window_layers' = 21 no longer generates the layer schedule: output layer 7 comes from "
            "source layer 4 and needs 'layer_types' = \"sliding_attention\", but the scalar gives it "
            "\"full_attention\"; the explicit 'layer_types' list is added",
            result.stderr,
        )

    def test_qwen2_vl_flat_config(self):
        source, fixture = self.make_source("qwen2_vl")
        config = self.source_config(source)
        layer_map = duplicate_map(28, 10, 14)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 32
        result, out = self.apply(source, duplicate_recipe(10, 14))
        self.assert_applied(result, out, source, layer_map, "model.layers", expected)
        self.assertEqual(load_json(out / "config.json")["vision_config"]["depth"], 32)
        self.assert_no_warnings(result)

    def test_qwen2_5_vl_nested_config(self):
        source, fixture = self.make_source("qwen2_5_vl")
        config = self.source_config(source)
        layer_map = duplicate_map(28, 10, 14)
        expected = copy.deepcopy(config)
        expected["text_config"]["num_hidden_layers"] = 32
        result, out = self.apply(source, duplicate_recipe(10, 14))
        self.assert_applied(result, out, source, layer_map, "model.language_model.layers", expected)
        self.assert_no_warnings(result)

    def check_qwen3_vl(self, fixture_name, count):
        source, fixture = self.make_source(fixture_name)
        config = self.source_config(source)
        layer_map = duplicate_map(count, 20, 24)
        expected = copy.deepcopy(config)
        expected["text_config"]["num_hidden_layers"] = count + 4
        result, out = self.apply(source, duplicate_recipe(20, 24))
        self.assert_applied(result, out, source, layer_map, "model.language_model.layers", expected)
        self.assertIn("Qwen3-VL adds deepstack vision features after the first", result.stderr)
        return result

    def test_qwen3_vl_deepstack_warning(self):
        self.check_qwen3_vl("qwen3_vl", 36)

    def test_qwen3_vl_moe_deepstack_warning(self):
        result = self.check_qwen3_vl("qwen3_vl_moe", 48)
        self.assertIn("(profile 'qwen3_vl_moe')", result.stderr)


# ---------------------------------------------------------------------------
# Attention schedules: Gemma 2, Cohere 2, OLMo 3, gpt-oss, EXAONE 4, MiniMax


def alternating(layer_map, even, odd):
    return [even if source % 2 == 0 else odd for source in layer_map]


def every_kth_full(layer_map, period, other):
    return ["full_attention" if (source + 1) % period == 0 else other for source in layer_map]


class AttentionScheduleTest(ProfileTestCase):
    def test_gemma2_even_window_keeps_default(self):
        source, fixture = self.make_source("gemma2")
        expected = self.source_config(source)
        layer_map = duplicate_map(42, 10, 12)
        expected["num_hidden_layers"] = 44
        result, out = self.apply(source, duplicate_recipe(10, 12))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_gemma2_odd_window_adds_layer_types(self):
        source, fixture = self.make_source("gemma2")
        expected = self.source_config(source)
        layer_map = duplicate_map(42, 10, 13)
        expected["num_hidden_layers"] = 45
        expected["layer_types"] = alternating(layer_map, "sliding_attention", "full_attention")
        result, out = self.apply(source, duplicate_recipe(10, 13))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertIn(
            "'builtin_layer_types_period' = 2 (its default when absent) no longer generates the layer schedule: "
            "output layer 13 comes from source layer 10 and needs 'layer_types' = \"sliding_attention\", "
            "but the scalar gives it \"full_attention\"; the explicit 'layer_types' list is added",
            result.stderr,
        )

    def test_cohere2_aligned_window_keeps_pattern(self):
        source, fixture = self.make_source("cohere2")
        expected = self.source_config(source)
        layer_map = duplicate_map(32, 8, 12)
        expected["num_hidden_layers"] = 36
        result, out = self.apply(source, duplicate_recipe(8, 12))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_cohere2_shifted_window_adds_layer_types(self):
        source, fixture = self.make_source("cohere2")
        expected = self.source_config(source)
        layer_map = duplicate_map(32, 8, 10)
        expected["num_hidden_layers"] = 34
        expected["layer_types"] = every_kth_full(layer_map, 4, "sliding_attention")
        result, out = self.apply(source, duplicate_recipe(8, 10))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertIn(
            "'sliding_window_pattern' = 4 no longer generates the layer schedule: output layer 11 comes from "
            "source layer 9 and needs 'layer_types' = \"sliding_attention\", but the scalar gives it "
            "\"full_attention\"; the explicit 'layer_types' list is added",
            result.stderr,
        )

    def test_olmo3_explicit_list_remapped(self):
        source, fixture = self.make_source("olmo3")
        config = self.source_config(source)
        layer_map = duplicate_map(32, 10, 13)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 35
        expected["layer_types"] = remap_values(config["layer_types"], layer_map)
        result, out = self.apply(source, duplicate_recipe(10, 13))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_olmo3_missing_list_added(self):
        source, fixture = self.make_source("olmo3", lambda config: config.pop("layer_types"))
        expected = self.source_config(source)
        layer_map = duplicate_map(32, 10, 13)
        expected["num_hidden_layers"] = 35
        expected["layer_types"] = every_kth_full(layer_map, 4, "sliding_attention")
        result, out = self.apply(source, duplicate_recipe(10, 13))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertIn("the explicit 'layer_types' list is added", result.stderr)

    def test_olmo3_missing_list_aligned_window(self):
        source, fixture = self.make_source("olmo3", lambda config: config.pop("layer_types"))
        expected = self.source_config(source)
        layer_map = duplicate_map(32, 8, 12)
        expected["num_hidden_layers"] = 36
        result, out = self.apply(source, duplicate_recipe(8, 12))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_gpt_oss_odd_window(self):
        source, fixture = self.make_source("gpt_oss")
        config = self.source_config(source)
        layer_map = duplicate_map(24, 5, 8)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 27
        expected["layer_types"] = remap_values(config["layer_types"], layer_map)
        result, out = self.apply(source, duplicate_recipe(5, 8))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        # The wildcard module names name no layer number, so they stay as they are.
        self.assertEqual(
            load_json(out / "config.json")["quantization_config"], config["quantization_config"]
        )
        self.assert_no_warnings(result)

    def test_gpt_oss_missing_list_added(self):
        source, fixture = self.make_source("gpt_oss", lambda config: config.pop("layer_types"))
        expected = self.source_config(source)
        layer_map = duplicate_map(24, 5, 8)
        expected["num_hidden_layers"] = 27
        expected["layer_types"] = alternating(layer_map, "sliding_attention", "full_attention")
        result, out = self.apply(source, duplicate_recipe(5, 8))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertIn("the explicit 'layer_types' list is added", result.stderr)

    def test_exaone4_aligned_window(self):
        source, fixture = self.make_source("exaone4")
        config = self.source_config(source)
        layer_map = duplicate_map(64, 8, 12)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 68
        expected["layer_types"] = remap_values(config["layer_types"], layer_map)
        result, out = self.apply(source, duplicate_recipe(8, 12))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_exaone4_shifted_window_warns(self):
        source, fixture = self.make_source("exaone4")
        config = self.source_config(source)
        layer_map = duplicate_map(64, 8, 10)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 66
        expected["layer_types"] = remap_values(config["layer_types"], layer_map)
        result, out = self.apply(source, duplicate_recipe(8, 10))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        # MLX cycles "LLLG" over the output layers: layer 11 is "G" there but a copy of 9 ("L").
        self.assertIn(
            "'sliding_window_pattern' = \"LLLG\" no longer generates the layer schedule: output layer 11 "
            "comes from source layer 9 and needs 'layer_types' = \"sliding_attention\", but the scalar gives "
            "it \"full_attention\"; the explicit 'layer_types' list is written, but readers that use only "
            "'sliding_window_pattern' will build the wrong layers",
            result.stderr,
        )

    def test_exaone4_integer_pattern_rejected(self):
        def integer_pattern(config):
            config["sliding_window_pattern"] = 4

        source, _ = self.make_source("exaone4", integer_pattern)
        result, out = self.apply(source, duplicate_recipe(8, 12))
        self.assert_rejected(
            result,
            out,
            "cannot evaluate the schedule of 'sliding_window_pattern': len() needs a list or a string, got 4",
        )

    def test_minimax_window_of_eight(self):
        source, fixture = self.make_source("minimax")
        config = self.source_config(source)
        layer_map = duplicate_map(80, 8, 16)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 88
        expected["layer_types"] = remap_values(config["layer_types"], layer_map)
        result, out = self.apply(source, duplicate_recipe(8, 16))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertIn(
            "lightning-attention layers scale their decay slope by 1 - layer_idx / (num_hidden_layers - 1)",
            result.stderr,
        )

    def test_minimax_stale_layer_types_rejected(self):
        source, _ = self.make_source("minimax")
        recipe = "rys 1;\nduplicate blocks[6:9] after;\nkeep layer_types;\n"
        result, out = self.apply(source, recipe)
        # Output layer 10 is a copy of softmax layer 7 but keeps the old type of layer 10.
        self.assert_rejected(
            result,
            out,
            "output layer 10 has type \"linear_attention\" in 'layer_types' but has no "
            "'self_attn.qkv_proj.*' tensors (copied from source layer 7)",
        )


# ---------------------------------------------------------------------------
# Gemma 3n


class Gemma3nTest(ProfileTestCase):
    def test_unchanged_layers_copy(self):
        source, fixture = self.make_source("gemma3n")
        expected = self.source_config(source)
        result, out = self.apply(source, "rys 1;\nremap per_layer *;\n")
        self.assert_applied(result, out, source, list(range(35)), fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_duplicate_rejected_for_packed_tensors(self):
        source, _ = self.make_source("gemma3n")
        result, out = self.apply(source, duplicate_recipe(4, 6))
        self.assert_rejected(
            result,
            out,
            "tensor 'model.language_model.embed_tokens_per_layer.weight' packs one slice per layer into its "
            "shape, and rysc cannot rebuild it through the map yet",
        )
        self.assertIn("tensor 'model.language_model.per_layer_model_projection.weight' packs", result.stderr)
        self.assertNotIn("num_kv_shared_layers", result.stderr)

    def test_copied_cache_producer_rejected(self):
        # Layers 20..34 reuse the caches of layer 18 (sliding) and 19 (full), and a
        # copy of 18..19 right after them would take over that role.
        source, _ = self.make_source("gemma3n")
        result, out = self.apply(source, duplicate_recipe(18, 20))
        self.assert_rejected(
            result,
            out,
            "'text_config.num_kv_shared_layers' = 15 cannot express the new layer schedule: output layer 18 "
            "comes from source layer 18 and needs the profile's kv_cache_role = \"stores\", but the scalar "
            "gives it \"own\"; profile 'gemma3n' has no per-layer list to write instead",
        )

    def test_window_inside_shared_tail_passes_schedule(self):
        # A window inside the shared tail keeps every producer, so only the packed tensors reject it.
        source, _ = self.make_source("gemma3n")
        result, out = self.apply(source, duplicate_recipe(25, 27))
        self.assert_rejected(result, out, "packs one slice per layer into its shape")
        self.assertNotIn("num_kv_shared_layers", result.stderr)


# ---------------------------------------------------------------------------
# Llama 4 and SmolLM3


def llama4_moe_layers(layer_map, step=2):
    return [out for out, source in enumerate(layer_map) if source % step == step - 1]


class NoRopeTest(ProfileTestCase):
    def test_llama4_aligned_window(self):
        source, fixture = self.make_source("llama4")
        expected = self.source_config(source)
        layer_map = duplicate_map(48, 8, 12)
        expected["text_config"]["num_hidden_layers"] = 52
        result, out = self.apply(source, duplicate_recipe(8, 12))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertEqual(load_json(out / "config.json")["text_config"]["no_rope_layers"], [])
        self.assert_no_warnings(result)

    def test_llama4_nope_shift_rejected(self):
        # no_rope_layers is empty, so transformers rebuilds it from the interval 4.
        source, _ = self.make_source("llama4")
        result, out = self.apply(source, duplicate_recipe(8, 10))
        self.assert_rejected(
            result,
            out,
            "'text_config.no_rope_layer_interval' = 4 (its default when absent) cannot express the new layer "
            "schedule: output layer 11 comes from source layer 9 and needs 'text_config.no_rope_layers' = 1 "
            "(a layer with RoPE), but the scalar gives it 0 (a NoPE layer without RoPE); profile 'llama4' has "
            "no per-layer list to write instead",
        )

    def test_llama4_explicit_lists_remapped(self):
        def explicit_no_rope(config):
            config["text_config"]["no_rope_layers"] = [int((i + 1) % 4 != 0) for i in range(48)]

        source, fixture = self.make_source("llama4", explicit_no_rope)
        config = self.source_config(source)
        layer_map = duplicate_map(48, 9, 10)
        expected = copy.deepcopy(config)
        text = expected["text_config"]
        text["num_hidden_layers"] = 49
        text["no_rope_layers"] = remap_values(config["text_config"]["no_rope_layers"], layer_map)
        text["moe_layers"] = llama4_moe_layers(layer_map)
        result, out = self.apply(source, duplicate_recipe(9, 10))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertIn(
            "'text_config.interleave_moe_layer_step' = 2 no longer generates the layer schedule: output layer 10 "
            "comes from source layer 9 and needs 'text_config.moe_layers' = true (a mixture-of-experts layer), "
            "but the scalar gives it false (a dense layer); the explicit 'text_config.moe_layers' list is added",
            result.stderr,
        )

    def test_smollm3_lists_remapped(self):
        source, fixture = self.make_source("smollm3")
        config = self.source_config(source)
        layer_map = duplicate_map(36, 10, 13)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 39
        expected["no_rope_layers"] = remap_values(config["no_rope_layers"], layer_map)
        expected["layer_types"] = remap_values(config["layer_types"], layer_map)
        result, out = self.apply(source, duplicate_recipe(10, 13))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_smollm3_long_list_truncated(self):
        # Only the first num_hidden_layers flags are read, and the output has exactly N' flags.
        def long_list(config):
            config["no_rope_layers"] = [int((i + 1) % 4 != 0) for i in range(40)]

        source, fixture = self.make_source("smollm3", long_list)
        config = self.source_config(source)
        layer_map = duplicate_map(36, 10, 13)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 39
        expected["no_rope_layers"] = remap_values(config["no_rope_layers"][:36], layer_map)
        expected["layer_types"] = remap_values(config["layer_types"], layer_map)
        result, out = self.apply(source, duplicate_recipe(10, 13))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)

    def test_smollm3_missing_list_added(self):
        # Output layer 14 copies NoPE layer 11, where the interval alone would give RoPE.
        source, fixture = self.make_source("smollm3", lambda config: config.pop("no_rope_layers"))
        config = self.source_config(source)
        layer_map = duplicate_map(36, 10, 13)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 39
        expected["no_rope_layers"] = [int((s + 1) % 4 != 0) for s in layer_map]
        expected["layer_types"] = remap_values(config["layer_types"], layer_map)
        result, out = self.apply(source, duplicate_recipe(10, 13))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertIn(
            "'no_rope_layer_interval' = 4 no longer generates the layer schedule: output layer 14 comes from "
            "source layer 11 and needs 'no_rope_layers' = 0 (a NoPE layer without RoPE), but the scalar gives "
            "it 1 (a layer with RoPE); the explicit 'no_rope_layers' list is added",
            result.stderr,
        )


# ---------------------------------------------------------------------------
# Dense-prefix MoE: DeepSeek-V2/V3, Kimi K2, GLM-4.5, ERNIE 4.5


class DensePrefixTest(ProfileTestCase):
    def check_threshold(self, fixture_name, begin, end, new_prefix, extra_map=()):
        source, fixture = self.make_source(fixture_name)
        config = self.source_config(source)
        count = config["num_hidden_layers"]
        layer_map = duplicate_map(count, begin, end)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = len(layer_map)
        expected["first_k_dense_replace"] = new_prefix
        result, out = self.apply(source, duplicate_recipe(begin, end))
        self.assert_applied(result, out, source, layer_map + list(extra_map), fixture.stack_prefix, expected)
        return result

    def test_deepseek_v2_window_above_prefix(self):
        result = self.check_threshold("deepseek_v2", 5, 8, 1)
        self.assert_no_warnings(result)

    def test_deepseek_v2_window_below_prefix(self):
        self.check_threshold("deepseek_v2", 0, 1, 2)

    def test_deepseek_v2_straddling_window_rejected(self):
        source, _ = self.make_source("deepseek_v2")
        result, out = self.apply(source, duplicate_recipe(0, 2))
        self.assert_rejected(
            result,
            out,
            "'first_k_dense_replace' = 1 cannot express the new layer schedule: output layer 2 comes from "
            "source layer 0 and needs the profile's mlp_kind = \"dense\", but the scalar gives it \"sparse\"; "
            "profile 'deepseek_v2' has no per-layer list to write instead",
        )

    def test_deepseek_v3_mtp_layer_follows_trunk(self):
        # The MTP layer stored as model.layers.61 becomes model.layers.66.
        result = self.check_threshold("deepseek_v3", 30, 35, 3, extra_map=[61])
        self.assertIn("the multi-token-prediction layers move to follow the new trunk", result.stderr)

    def test_deepseek_v3_window_below_prefix(self):
        self.check_threshold("deepseek_v3", 1, 2, 4, extra_map=[61])

    def test_deepseek_v3_straddling_window_rejected(self):
        source, _ = self.make_source("deepseek_v3")
        result, out = self.apply(source, duplicate_recipe(2, 4))
        self.assert_rejected(
            result,
            out,
            "'first_k_dense_replace' = 3 cannot express the new layer schedule: output layer 4 comes from "
            "source layer 2 and needs the profile's mlp_kind = \"dense\", but the scalar gives it \"sparse\"",
        )

    def test_deepseek_v3_window_into_mtp_rejected(self):
        source, _ = self.make_source("deepseek_v3")
        result, out = self.apply(source, duplicate_recipe(60, 62))
        self.assert_rejected(
            result,
            out,
            "window blocks[60:62] reaches into the 'mtp' extra stack (layers 61..61); "
            "the trunk has 61 layers (0..60)",
        )

    def test_kimi_k2_window_below_prefix(self):
        result = self.check_threshold("kimi_k2", 0, 1, 2)
        # num_nextn_predict_layers is 0, so there is no MTP layer to move or warn about.
        self.assert_no_warnings(result)

    def test_glm4_moe_mtp_layer_follows_trunk(self):
        result = self.check_threshold("glm4_moe", 10, 14, 1, extra_map=[46])
        self.assert_no_warnings(result)

    def test_glm4_moe_straddling_window_rejected(self):
        source, _ = self.make_source("glm4_moe")
        result, out = self.apply(source, duplicate_recipe(0, 2))
        self.assert_rejected(
            result,
            out,
            "'first_k_dense_replace' = 1 cannot express the new layer schedule: output layer 2 comes from "
            "source layer 0 and needs the profile's mlp_kind = \"dense\", but the scalar gives it \"sparse\"",
        )

    def check_ernie(self, begin, end, start_index, end_index):
        source, fixture = self.make_source("ernie4_5_moe")
        config = self.source_config(source)
        layer_map = duplicate_map(28, begin, end)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = len(layer_map)
        expected["moe_layer_start_index"] = start_index
        expected["moe_layer_end_index"] = end_index
        result, out = self.apply(source, duplicate_recipe(begin, end))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_ernie_window_inside_moe_range(self):
        self.check_ernie(10, 13, 1, 30)

    def test_ernie_window_below_start(self):
        self.check_ernie(0, 1, 2, 28)

    def test_ernie_straddling_window_rejected(self):
        source, _ = self.make_source("ernie4_5_moe")
        result, out = self.apply(source, duplicate_recipe(0, 2))
        self.assert_rejected(
            result,
            out,
            "'moe_layer_start_index' = 1 cannot express the new layer schedule: output layer 2 comes from "
            "source layer 0 and needs the profile's mlp_kind = \"dense\", but the scalar gives it \"sparse\"",
        )


# ---------------------------------------------------------------------------
# Hunyuan and Mllama


class LayerRoleTest(ProfileTestCase):
    def test_hunyuan_cla_aligned_window(self):
        source, fixture = self.make_source("hunyuan_large")
        expected = self.source_config(source)
        layer_map = duplicate_map(64, 10, 12)
        expected["num_hidden_layers"] = 66
        result, out = self.apply(source, duplicate_recipe(10, 12))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assertIn("with use_cla, layers with i % cla_share_factor != 0 reuse the keys and values", result.stderr)
        # moe_topk and num_shared_expert are single integers here, kept for every layer.
        self.assertEqual(load_json(out / "config.json")["moe_topk"], 1)

    def test_hunyuan_cla_odd_window_rejected(self):
        source, _ = self.make_source("hunyuan_large")
        result, out = self.apply(source, duplicate_recipe(10, 13))
        # Output layer 13 is a copy of producer layer 10 but would be built without k_proj and v_proj.
        self.assert_rejected(
            result,
            out,
            "'cla_share_factor' = 2 cannot express the new layer schedule: output layer 13 comes from source "
            "layer 10 and needs the profile's kv_projection = true (a layer that computes its own keys and "
            "values), but the scalar gives it false (a layer that reuses the keys and values of the layer "
            "before it); profile 'hunyuan' has no per-layer list to write instead",
        )

    def test_hunyuan_a13b_lists_remapped(self):
        source, fixture = self.make_source("hunyuan_a13b")
        config = self.source_config(source)
        layer_map = duplicate_map(32, 4, 8)
        expected = copy.deepcopy(config)
        expected["num_hidden_layers"] = 36
        for key in ("moe_intermediate_size", "moe_topk", "num_shared_expert"):
            expected[key] = remap_values(config[key], layer_map)
        result, out = self.apply(source, duplicate_recipe(4, 8))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_mllama_cross_attention_layers_remapped(self):
        source, fixture = self.make_source("mllama")
        config = self.source_config(source)
        layer_map = duplicate_map(40, 2, 5)
        expected = copy.deepcopy(config)
        expected["text_config"]["num_hidden_layers"] = 43
        expected["text_config"]["cross_attention_layers"] = remap_indices(
            config["text_config"]["cross_attention_layers"], layer_map
        )
        self.assertEqual(expected["text_config"]["cross_attention_layers"], [3, 6, 11, 16, 21, 26, 31, 36, 41])
        result, out = self.apply(source, duplicate_recipe(2, 5))
        self.assert_applied(result, out, source, layer_map, fixture.stack_prefix, expected)
        self.assert_no_warnings(result)

    def test_mllama_kept_list_rejected(self):
        source, _ = self.make_source("mllama")
        recipe = "rys 1;\nduplicate blocks[2:5] after;\nkeep text_config.cross_attention_layers;\n"
        result, out = self.apply(source, recipe)
        self.assert_rejected(
            result,
            out,
            "output layer 8 has type true (a cross-attention layer) in 'text_config.cross_attention_layers' "
            "but has no "
            "'cross_attn.*' tensors (copied from source layer 5)",
        )


# ---------------------------------------------------------------------------
# The profile listing


class ProfileListingTest(unittest.TestCase):
    def test_profiles_listed_with_model_types(self):
        result = run_rysc("profiles")
        self.assertEqual(result.returncode, 0, result.stderr)
        lines = {line.split()[0]: line for line in result.stdout.splitlines() if line.strip()}
        for name, model_type in PROFILE_MODEL_TYPES.items():
            with self.subTest(profile=name):
                self.assertIn(name, lines)
                self.assertIn(model_type, lines[name])

    def test_each_profile_prints_its_text(self):
        for name in PROFILE_MODEL_TYPES:
            with self.subTest(profile=name):
                result = run_rysc("profiles", name)
                self.assertEqual(result.returncode, 0, result.stderr)
                self.assertEqual(result.stderr, "")
                self.assertRegex(result.stdout, rf"^# profile {name}, declared at <stdlib>/\w+\.rys:\d+\n")
                # Only the profile and the chain of profiles it extends are printed,
                # each once, nearest first.
                declarations = re.findall(r"^profile (\w+)(?: extends (\w+))? \{$", result.stdout, re.MULTILINE)
                self.assertEqual(declarations[0][0], name)
                for (_, base), (next_name, _) in zip(declarations, declarations[1:]):
                    self.assertEqual(next_name, base)
                self.assertEqual(declarations[-1][1], "")


if __name__ == "__main__":
    unittest.main()
