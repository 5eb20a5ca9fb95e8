"""End-to-end tests of the hybrid-architecture profiles: SSM, linear-attention and per-layer-width families.

Each test writes a fixture from tests/fixtures/families/hybrid.py, runs `rysc apply`
on a recipe, and checks the output folder or the diagnostics. Expected layer maps and
expected config.json contents are computed in this file from the source config,
never read back from rysc's output.

Run from tests/e2e: python3 -m unittest -v test_profiles_hybrid
The environment variable RYSC names the binary (default: build-hybrid/rysc in the
source tree) and RYSC_SOURCE_DIR the source tree (default: two folders up).
"""

import copy
import os
import shutil
import subprocess
import sys
import tempfile
import unittest
from pathlib import Path

SOURCE_DIR = Path(os.environ.get("RYSC_SOURCE_DIR") or Path(__file__).resolve().parents[2])
RYSC = Path(os.environ.get("RYSC") or SOURCE_DIR / "build-hybrid" / "rysc")
FIXTURES_DIR = SOURCE_DIR / "tests" / "fixtures"
sys.path.insert(0, str(FIXTURES_DIR))

import generate  # noqa: E402
import hfcheck  # noqa: E402
from families import hybrid  # noqa: E402

# Seconds one rysc run may take; the fixtures are below 1 MB.
RUN_TIMEOUT = 60
PROVENANCE_FILE_NAME = "rysc.json"

# The profiles this module covers, as `rysc profiles` lists them.
HYBRID_PROFILES = (
    "jamba", "bamba", "falcon_h1", "nemotron_h", "granitemoehybrid", "lfm2", "zamba2", "openelm", "deci",
    "kimi_linear", "qwen3_next", "qwen3_5_moe",
)


# ---------------------------------------------------------------------------
# Expected maps and per-layer values, written out independently of rysc


def duplicate_after_map(num_layers, start, end):
    """Return the map of `duplicate blocks[start:end] after`: layers 0..end-1, the copy, then the rest."""
    return list(range(end)) + list(range(start, end)) + list(range(end, num_layers))


def remap_values(values, layer_map):
    """Return new[o] = old[m[o]]."""
    return [copy.deepcopy(values[source]) for source in layer_map]


def remap_pattern(pattern, layer_map):
    return "".join(pattern[source] for source in layer_map)


def remap_indices(indices, layer_map, base=0):
    """Return sorted{o : m[o] in old} for an index list counting from base."""
    members = {index - base for index in indices}
    return [output + base for output, source in enumerate(layer_map) if source in members]


def run_rysc(*args):
    command = [str(RYSC)] + [str(arg) for arg in args]
    return subprocess.run(command, capture_output=True, text=True, timeout=RUN_TIMEOUT)


class FixtureCache:
    """Writes each fixture once per test run into a shared temporary folder."""

    folder = None

    @classmethod
    def path(cls, name):
        if cls.folder is None:
            cls.folder = Path(tempfile.mkdtemp(prefix="rysc-hybrid-fixtures-"))
        target = cls.folder / name
        if not target.exists():
            generate.write_fixture(hybrid.FIXTURES[name](), target)
        return target

    @classmethod
    def remove(cls):
        if cls.folder is not None:
            shutil.rmtree(cls.folder, ignore_errors=True)
            cls.folder = None


def tearDownModule():
    FixtureCache.remove()


class ProfileCase(unittest.TestCase):
    """Runs recipes against one fixture; subclasses set FIXTURE."""

    FIXTURE = None

    @classmethod
    def setUpClass(cls):
        if not RYSC.is_file():
            raise unittest.SkipTest(f"rysc binary not found at {RYSC}; set RYSC")
        cls.fixture = hybrid.FIXTURES[cls.FIXTURE]()
        cls.source = FixtureCache.path(cls.FIXTURE)

    def setUp(self):
        self.scratch = Path(tempfile.mkdtemp(prefix="rysc-hybrid-"))
        self.addCleanup(shutil.rmtree, self.scratch, ignore_errors=True)

    def write_recipe(self, text):
        recipe = self.scratch / "recipe.rys"
        recipe.write_text("rys 1;\n" + text, encoding="utf-8")
        return recipe

    def apply(self, recipe_text, *options):
        """Run rysc apply into a fresh folder; return (CompletedProcess, output folder)."""
        out = self.scratch / "out"
        result = run_rysc("apply", self.write_recipe(recipe_text), self.source, out, *options)
        return result, out

    def apply_ok(self, recipe_text, *options):
        result, out = self.apply(recipe_text, *options)
        self.assertEqual(result.returncode, 0, f"rysc apply failed:\n{result.stderr}")
        return result, out

    def assert_rejected(self, recipe_text, *messages, options=()):
        """Apply must exit with status 1, print every message on stderr and write no output folder."""
        result, out = self.apply(recipe_text, *options)
        self.assertEqual(result.returncode, 1, f"expected a rejection, got:\n{result.stderr}")
        for message in messages:
            self.assertIn(message, result.stderr)
        self.assertFalse(out.exists(), "a rejected recipe must not create the output folder")
        return result

    def expected_config(self, layer_map, count_key="num_hidden_layers"):
        """Return the source config with the layer count set to the map length; callers add list changes."""
        config = copy.deepcopy(self.fixture.config)
        config[count_key] = len(layer_map)
        return config

    def check(self, out, layer_map, config):
        hfcheck.check_output(self.source, out, layer_map, self.fixture.stack_prefix, config,
                             allowed_extra_files=(PROVENANCE_FILE_NAME,))


class ProfileListTest(unittest.TestCase):
    def test_profiles_listed(self):
        if not RYSC.is_file():
            self.skipTest(f"rysc binary not found at {RYSC}; set RYSC")
        result = run_rysc("profiles")
        self.assertEqual(result.returncode, 0, result.stderr)
        # Each line is the profile name, padded to a column, then its model types.
        listed = result.stdout.splitlines()
        for name in HYBRID_PROFILES:
            lines = [line for line in listed if line.startswith(name)]
            self.assertTrue(any(line[len(name):].lstrip().startswith("model_type") for line in lines),
                            f"profile {name} is not listed:\n{result.stdout}")


# ---------------------------------------------------------------------------
# jamba


class JambaTest(ProfileCase):
    FIXTURE = "jamba"

    def test_window_of_one_period_accepted(self):
        # 8 layers keep both attn_layer_period 8 and expert_layer_period 2.
        layer_map = duplicate_after_map(16, 2, 10)
        result, out = self.apply_ok("duplicate blocks[2:10] after;\nremap per_layer *;\n")
        self.check(out, layer_map, self.expected_config(layer_map))

    def test_shifting_window_rejected(self):
        # blocks[2:7] copies 5 layers: output 9 is source 4 (attention), but 9 % 8 != 4.
        result = self.assert_rejected(
            "duplicate blocks[2:7] after;\nremap per_layer *;\n",
            "error: 'attn_layer_period' = 8 cannot express the new layer schedule: output layer 9 comes from "
            "source layer 4 and needs the profile's layers_block_type = \"attention\", but the scalar gives it "
            "\"mamba\"; profile 'jamba' has no per-layer list to write instead",
            "error: 'expert_layer_period' = 2 cannot express the new layer schedule: output layer 7 comes from "
            "source layer 2 and needs the profile's mlp_kind = \"dense\", but the scalar gives it \"sparse\"",
        )
        attention_line = next(line for line in result.stderr.splitlines() if "'attn_layer_period'" in line)
        self.assertIn("blocks[2:10]", attention_line, "the error must suggest a window of 8 layers")


# ---------------------------------------------------------------------------
# bamba


class BambaTest(ProfileCase):
    FIXTURE = "bamba"

    def test_attention_indices_follow_map(self):
        layer_map = duplicate_after_map(32, 8, 12)
        result, out = self.apply_ok("duplicate blocks[8:12] after;\nremap per_layer *;\n")
        config = self.expected_config(layer_map)
        config["attn_layer_indices"] = remap_indices([9, 18, 27], layer_map)
        self.assertEqual(config["attn_layer_indices"], [9, 13, 22, 31])
        self.check(out, layer_map, config)

    def test_kept_indices_rejected(self):
        # The copy of attention layer 9 lands at 13, which the stale list calls Mamba.
        self.assert_rejected(
            "duplicate blocks[8:12] after;\nkeep attn_layer_indices;\n",
            "error: output layer 13 has type false (a Mamba layer) in 'attn_layer_indices' but has no "
            "'mamba.*' tensors (copied from source layer 9)",
            "error: output layer 18 has type true (an attention layer) in 'attn_layer_indices' but has no "
            "'self_attn.*' tensors (copied from source layer 14)",
        )


# ---------------------------------------------------------------------------
# falcon_h1


class FalconH1Test(ProfileCase):
    FIXTURE = "falcon_h1"

    def test_multiplier_lists_unchanged(self):
        # The fixture has 5 layers, as many as ssm_multipliers has entries.
        layer_map = duplicate_after_map(5, 1, 3)
        result, out = self.apply_ok("duplicate blocks[1:3] after;\nremap per_layer *;\n", "--strict")
        self.assertNotIn("ssm_multipliers", result.stderr)
        self.check(out, layer_map, self.expected_config(layer_map))

    def test_remapping_multipliers_rejected(self):
        self.assert_rejected(
            "duplicate blocks[1:3] after;\nremap per_layer ssm_multipliers;\n",
            "error: 'ssm_multipliers' is not a per-layer field of this model, so it cannot be remapped",
        )


# ---------------------------------------------------------------------------
# nemotron_h


class NemotronHTest(ProfileCase):
    FIXTURE = "nemotron_h"

    def test_pattern_and_block_list_follow_map(self):
        layer_map = duplicate_after_map(52, 4, 8)
        result, out = self.apply_ok("duplicate blocks[4:8] after;\nremap per_layer *;\n")
        source = self.fixture.config
        config = self.expected_config(layer_map)
        config["hybrid_override_pattern"] = remap_pattern(source["hybrid_override_pattern"], layer_map)
        config["layers_block_type"] = remap_values(source["layers_block_type"], layer_map)
        self.assertEqual(config["hybrid_override_pattern"][:12], "MEMEM*EMM*EM")
        self.assertEqual(config["layers_block_type"][8:12], ["mamba", "attention", "moe", "mamba"])
        self.check(out, layer_map, config)

    def test_mtp_stack_not_renumbered(self):
        result, out = self.apply_ok("duplicate blocks[4:8] after;\nremap per_layer *;\n")
        layers, _ = hfcheck.split_layer_tensors(hfcheck.load_checkpoint(out).tensors, "mtp.layers")
        self.assertEqual(sorted(layers), [0, 1])
        self.assertIn("mixer.q_proj.weight", layers[0])
        self.assertIn("mixer.experts.0.up_proj.weight", layers[1])

    def test_stale_pattern_rejected(self):
        # Output 9 is a copy of source 5, an attention block, but the old pattern has M there.
        self.assert_rejected(
            "duplicate blocks[4:8] after;\nremap per_layer layers_block_type;\nkeep hybrid_override_pattern;\n",
            "error: output layer 9 has type \"M\" in 'hybrid_override_pattern' but has no 'mixer.A_log*' "
            "tensors (copied from source layer 5)",
        )


# ---------------------------------------------------------------------------
# granitemoehybrid


class GraniteMoeHybridTest(ProfileCase):
    FIXTURE = "granitemoehybrid"

    def test_layer_types_keep_vocabulary(self):
        layer_map = duplicate_after_map(40, 4, 8)
        result, out = self.apply_ok("duplicate blocks[4:8] after;\nremap per_layer *;\n")
        config = self.expected_config(layer_map)
        config["layer_types"] = remap_values(self.fixture.config["layer_types"], layer_map)
        self.assertEqual(config["layer_types"][9], "attention")
        self.assertEqual(set(config["layer_types"]), {"mamba", "attention"})
        self.check(out, layer_map, config)

    def test_stale_layer_types_rejected(self):
        self.assert_rejected(
            "duplicate blocks[4:8] after;\nkeep layer_types;\n",
            "error: output layer 9 has type \"mamba\" in 'layer_types' but has no 'mamba.*' tensors "
            "(copied from source layer 5)",
        )


# ---------------------------------------------------------------------------
# lfm2


class Lfm2Test(ProfileCase):
    FIXTURE = "lfm2"

    def test_layer_types_and_indices_follow_map(self):
        layer_map = duplicate_after_map(16, 4, 9)
        result, out = self.apply_ok("duplicate blocks[4:9] after;\nremap per_layer *;\n")
        config = self.expected_config(layer_map)
        config["layer_types"] = remap_values(self.fixture.config["layer_types"], layer_map)
        config["full_attn_idxs"] = remap_indices(hybrid.LFM2_FULL_ATTENTION, layer_map)
        self.assertEqual(config["full_attn_idxs"], [2, 5, 8, 10, 13, 15, 17, 19])
        self.assertEqual([i for i, kind in enumerate(config["layer_types"]) if kind == "full_attention"],
                         config["full_attn_idxs"])
        self.check(out, layer_map, config)

    def test_stale_indices_rejected(self):
        # Output 12 is a copy of source 7 (conv), but the old full_attn_idxs lists 12.
        self.assert_rejected(
            "duplicate blocks[4:9] after;\nremap per_layer layer_types;\nkeep full_attn_idxs;\n",
            "error: output layer 12 has type true (a full-attention layer) in 'full_attn_idxs' but has no "
            "'self_attn.*' tensors (copied from source layer 7)",
        )


# ---------------------------------------------------------------------------
# zamba2


class Zamba2Test(ProfileCase):
    FIXTURE = "zamba2"

    def test_mamba_layers_copied_and_dropped(self):
        layer_map = list(range(5)) + list(range(5)) + list(range(5, 52))
        result, out = self.apply_ok("duplicate blocks[0:5] after;\ndrop blocks[52:54];\nremap per_layer *;\n")
        source = self.fixture.config
        config = self.expected_config(layer_map)
        config["layers_block_type"] = remap_values(source["layers_block_type"], layer_map)
        config["hybrid_layer_ids"] = remap_indices(source["hybrid_layer_ids"], layer_map)
        self.assertEqual(config["hybrid_layer_ids"], [11, 17, 23, 29, 35, 41, 47, 52, 56])
        self.check(out, layer_map, config)

    def test_hybrid_copy_rejected(self):
        # blocks[4:8] contains hybrid layer 6, so the output would have 10 hybrid layers instead of 9.
        self.assert_rejected(
            "duplicate blocks[4:8] after;\nremap per_layer *;\n",
            "error: source layer 6 is copied, but the shared-block adapters are indexed by hybrid-layer "
            "occurrence, so a hybrid layer must stay single (profile 'zamba2')",
        )

    def test_hybrid_drop_rejected(self):
        # Without layer 6, source hybrid layer 12 becomes output 11 and only 8 hybrid layers remain.
        self.assert_rejected(
            "drop blocks[6:7];\nremap per_layer *;\n",
            "error: source layer 6 is dropped, but the shared-block adapters are indexed by hybrid-layer "
            "occurrence, so a hybrid layer must stay single (profile 'zamba2')",
        )


# ---------------------------------------------------------------------------
# openelm

OPENELM_WARNING = ("OpenELM's remote-code config recomputes num_query_heads and num_kv_heads from a two-entry "
                   "qkv_multipliers for the new layer count")


class OpenElmTest(ProfileCase):
    FIXTURE = "openelm"

    def test_width_lists_follow_map(self):
        layer_map = duplicate_after_map(16, 10, 14)
        result, out = self.apply_ok("duplicate blocks[10:14] after;\nremap per_layer *;\n")
        self.assertIn("warning: " + OPENELM_WARNING, result.stderr)
        source = self.fixture.config
        config = self.expected_config(layer_map, count_key="num_transformer_layers")
        for key in ("num_query_heads", "num_kv_heads", "ffn_multipliers"):
            config[key] = remap_values(source[key], layer_map)
        self.assertEqual(config["num_query_heads"][14:18], [16, 16, 20, 20])
        self.check(out, layer_map, config)

    def test_strict_rejects_remote_code_warning(self):
        self.assert_rejected("duplicate blocks[10:14] after;\nremap per_layer *;\n", "error: " + OPENELM_WARNING,
                             options=("--strict",))


# ---------------------------------------------------------------------------
# deci / nemotron-nas


class NemotronNasTest(ProfileCase):
    FIXTURE = "nemotron_nas"

    def test_block_configs_follow_map(self):
        layer_map = duplicate_after_map(10, 3, 6)
        result, out = self.apply_ok("duplicate blocks[3:6] after;\nremap per_layer *;\n", "--strict")
        config = self.expected_config(layer_map)
        config["block_configs"] = remap_values(self.fixture.config["block_configs"], layer_map)
        self.assertTrue(config["block_configs"][7]["attention"]["no_op"])
        self.check(out, layer_map, config)

    def test_uncovered_block_configs_rejected(self):
        self.assert_rejected(
            "duplicate blocks[3:6] after;\n",
            "error: per-layer field 'block_configs' is not covered by the recipe",
        )


# ---------------------------------------------------------------------------
# kimi_linear


class KimiLinearTest(ProfileCase):
    FIXTURE = "kimi_linear"

    def expected_lists(self, layer_map):
        config = self.expected_config(layer_map)
        attention = config["linear_attn_config"]
        source = self.fixture.config["linear_attn_config"]
        attention["kda_layers"] = remap_indices(source["kda_layers"], layer_map, base=1)
        attention["full_attn_layers"] = remap_indices(source["full_attn_layers"], layer_map, base=1)
        return config

    def test_one_based_lists_follow_map(self):
        # Source layers 8..11 are 1-based 9..12. 12 is an MLA layer, so its copy is 1-based 16.
        layer_map = duplicate_after_map(27, 8, 12)
        result, out = self.apply_ok("duplicate blocks[8:12] after;\nremap per_layer *;\n")
        config = self.expected_lists(layer_map)
        self.assertEqual(config["linear_attn_config"]["full_attn_layers"], [4, 8, 12, 16, 20, 24, 28, 31])
        self.check(out, layer_map, config)

    def test_dense_prefix_recomputed(self):
        # Copying dense layer 0 makes two dense layers, so first_k_dense_replace becomes 2.
        layer_map = duplicate_after_map(27, 0, 1)
        result, out = self.apply_ok("duplicate blocks[0:1] after;\nremap per_layer *;\n")
        config = self.expected_lists(layer_map)
        config["first_k_dense_replace"] = 2
        self.check(out, layer_map, config)

    def test_window_across_dense_prefix_rejected(self):
        # blocks[0:2] gives dense, sparse, dense, sparse, ...: no prefix length describes it.
        self.assert_rejected(
            "duplicate blocks[0:2] after;\nremap per_layer *;\n",
            "error: 'first_k_dense_replace' = 1 cannot express the new layer schedule: output layer 2 comes from "
            "source layer 0 and needs the profile's mlp_kind = \"dense\", but the scalar gives it \"sparse\"; "
            "profile 'kimi_linear' has no per-layer list to write instead",
        )


# ---------------------------------------------------------------------------
# qwen3_next, with and without an explicit layer_types


def qwen3_next_types(num_layers):
    """Return transformers' default Qwen3-Next schedule: full attention where (i + 1) % 4 == 0."""
    return ["full_attention" if (i + 1) % 4 == 0 else "linear_attention" for i in range(num_layers)]


class Qwen3NextTest(ProfileCase):
    FIXTURE = "qwen3_next"

    def test_window_of_four_keeps_interval(self):
        layer_map = duplicate_after_map(16, 4, 8)
        result, out = self.apply_ok("duplicate blocks[4:8] after;\nremap per_layer *;\n", "--strict")
        config = self.expected_config(layer_map)
        config["layer_types"] = remap_values(self.fixture.config["layer_types"], layer_map)
        self.assertEqual(config["layer_types"], qwen3_next_types(20))
        self.check(out, layer_map, config)

    def test_window_of_five_writes_list_and_warns(self):
        layer_map = duplicate_after_map(16, 4, 9)
        result, out = self.apply_ok("duplicate blocks[4:9] after;\nremap per_layer *;\n")
        self.assertIn("warning: 'full_attention_interval' = 4 no longer generates the layer schedule: output "
                      "layer 11 comes from source layer 6 and needs 'layer_types' = \"linear_attention\", but "
                      "the scalar gives it \"full_attention\"; the explicit 'layer_types' list is written",
                      result.stderr)
        config = self.expected_config(layer_map)
        config["layer_types"] = remap_values(self.fixture.config["layer_types"], layer_map)
        self.check(out, layer_map, config)


class Qwen3NextNoLayerTypesTest(ProfileCase):
    FIXTURE = "qwen3_next_no_layer_types"

    ADDED_WARNING = ("warning: 'full_attention_interval' = 4 no longer generates the layer schedule: output layer "
                     "11 comes from source layer 6 and needs 'layer_types' = \"linear_attention\", but the scalar "
                     "gives it \"full_attention\"; the explicit 'layer_types' list is added, but readers that use "
                     "only 'full_attention_interval' will build the wrong layers")

    def test_window_of_four_adds_nothing(self):
        layer_map = duplicate_after_map(16, 4, 8)
        result, out = self.apply_ok("duplicate blocks[4:8] after;\nremap per_layer *;\n", "--strict")
        self.assertNotIn("layer_types", self.fixture.config)
        self.check(out, layer_map, self.expected_config(layer_map))

    def test_window_of_five_adds_layer_types(self):
        layer_map = duplicate_after_map(16, 4, 9)
        result, out = self.apply_ok("duplicate blocks[4:9] after;\nremap per_layer *;\n")
        self.assertIn(self.ADDED_WARNING, result.stderr)
        config = self.expected_config(layer_map)
        config["layer_types"] = remap_values(qwen3_next_types(16), layer_map)
        self.assertEqual(config["layer_types"][11], "linear_attention")
        self.check(out, layer_map, config)

    def test_strict_rejects_added_layer_types(self):
        # Under --strict nothing is added, so the error names what to change instead.
        result = self.assert_rejected(
            "duplicate blocks[4:9] after;\nremap per_layer *;\n",
            "error: 'full_attention_interval' = 4 no longer generates the layer schedule: output layer 11 comes "
            "from source layer 6 and needs 'layer_types' = \"linear_attention\", but the scalar gives it "
            "\"full_attention\"; --strict rejects adding the explicit 'layer_types' list, because readers that "
            "use only 'full_attention_interval' would build the wrong layers; use a window that keeps the scalar "
            "valid, such as blocks[4:8], or run without --strict to add the list\n",
            options=("--strict",),
        )
        self.assertNotIn("list is added", result.stderr)


# ---------------------------------------------------------------------------
# qwen3_5_moe_text: flat config, tensors under model.language_model.layers


class Qwen35MoeTextTest(ProfileCase):
    FIXTURE = "qwen3_5_moe_text"

    def test_flat_config_follows_map(self):
        layer_map = duplicate_after_map(40, 20, 24)
        result, out = self.apply_ok("duplicate blocks[20:24] after;\nremap per_layer *;\n", "--strict")
        config = self.expected_config(layer_map)
        config["layer_types"] = remap_values(self.fixture.config["layer_types"], layer_map)
        self.check(out, layer_map, config)

    def test_mtp_and_experts_copied(self):
        result, out = self.apply_ok("duplicate blocks[20:24] after;\nremap per_layer *;\n")
        tensors = hfcheck.load_checkpoint(out).tensors
        self.assertIn("mtp.layers.0.mlp.experts.3.down_proj.weight", tensors)
        self.assertIn("model.language_model.layers.27.mlp.experts.3.down_proj.weight", tensors)
        self.assertIn("model.language_model.layers.27.self_attn.q_proj.weight", tensors)

    def test_stale_layer_types_rejected(self):
        # Output 28 is a copy of source 23 (full attention), but the old list calls 28 linear.
        self.assert_rejected(
            "duplicate blocks[20:25] after;\nremap per_layer mlp_only_layers;\nkeep layer_types;\n",
            "warning: kept 'layer_types' has 40 entries but the output has 45 layers",
            "error: output layer 28 has type \"linear_attention\" in 'layer_types' but has no 'linear_attn.*' "
            "tensors (copied from source layer 23)",
        )


if __name__ == "__main__":
    unittest.main()
