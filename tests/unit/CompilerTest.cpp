// Unit tests of the analysis: coverage of per-layer fields, schedule
// scalars and the tensor-family check, on in-memory configs.
#include "compiler/Compiler.h"
#include "compiler/Parser.h"

#include <gtest/gtest.h>

using namespace rysc;

namespace {

/// One compilation with its diagnostics captured as text.
struct Compile {
  std::string Output;
  llvm::raw_string_ostream Stream{Output};
  DiagnosticEngine Diags{Stream};
  ProfileRegistry Registry;
  ast::Recipe Recipe;
  ModelFacts Facts;
  std::optional<Compilation> Result;

  Compile(const std::string &RecipeText, const std::string &Config,
      std::vector<std::string> Tensors, CompileOptions Options = {}) {
    Registry.loadStdlib(Diags);
    Recipe = parseRecipeText(Diags, RecipeText, "r.rys");
    Facts.ConfigName = "config.json";
    Facts.Config = Json::parse(Config);
    Facts.TensorNames = std::move(Tensors);
    Diags.setWarningsAsErrors(Options.Strict);
    Result = compileRecipe(Diags, Registry, Recipe, &Facts, Options);
    Stream.flush();
  }

  const ConfigEdit *edit(const std::string &Path) const {
    for (const ConfigEdit &E : Result->Edits)
      if (E.Path == Path)
        return &E;
    return nullptr;
  }
};

std::vector<std::string> layerTensors(const std::string &Prefix, unsigned Count,
                                      const std::vector<std::string> &Suffixes) {
  std::vector<std::string> Names = {"model.embed_tokens.weight"};
  for (unsigned Layer = 0; Layer < Count; ++Layer)
    for (const std::string &Suffix : Suffixes)
      Names.push_back(Prefix + "." + std::to_string(Layer) + "." + Suffix);
  return Names;
}

std::vector<std::string> llamaTensors(unsigned Count) {
  return layerTensors("model.layers", Count, {"mlp.up_proj.weight"});
}

TEST(Compiler, UnknownListMustBeCovered) {
  Compile R("duplicate blocks[1:2] after;\n",
        R"({"model_type":"llama","num_hidden_layers":4,"my_flags":[1,0,1,0]})", llamaTensors(4));
  EXPECT_FALSE(R.Result);
  EXPECT_EQ(R.Output,
            "r.rys:1:1: error: per-layer field 'my_flags' is not covered by the recipe; add "
            "'remap per_layer my_flags;' to move it with the layers, or 'keep my_flags;' to leave "
            "it unchanged\nduplicate blocks[1:2] after;\n^~~~~~~~~~~~~~~~~~~~~~~~~~~~\n");
}

TEST(Compiler, UnknownListRemappedWithWarning) {
  Compile R("duplicate blocks[1:2] after;\nremap per_layer *;\n",
        R"({"model_type":"llama","num_hidden_layers":4,"my_flags":[1,0,1,0]})", llamaTensors(4));
  ASSERT_TRUE(R.Result);
  ASSERT_TRUE(R.edit("my_flags"));
  EXPECT_EQ(R.edit("my_flags")->New, Json::parse("[1,0,0,1,0]"));
  EXPECT_NE(R.Output.find("warning: remapping unknown list 'my_flags' as one value per layer"),
            std::string::npos);
}

TEST(Compiler, UnknownListRejectedUnderStrict) {
  CompileOptions Options;
  Options.Strict = true;
  Compile R("duplicate blocks[1:2] after;\nremap per_layer *;\n",
        R"({"model_type":"llama","num_hidden_layers":4,"my_flags":[1,0,1,0]})", llamaTensors(4),
        Options);
  EXPECT_FALSE(R.Result);
  EXPECT_EQ(R.Output,
            "r.rys:1:1: error: 'my_flags' has one entry per layer (4) but profile 'llama' does not "
            "declare it, and --strict rejects remapping an undeclared list; declare it with 'field "
            "my_flags : values;' in a recipe profile that extends 'llama' and matches this model, or "
            "run without --strict to remap it with a warning\nduplicate blocks[1:2] after;\n"
            "^~~~~~~~~~~~~~~~~~~~~~~~~~~~\n");
}

TEST(Compiler, LayerCountEdited) {
  Compile R("duplicate blocks[1:3] after times 2;\n",
        R"({"model_type":"llama","num_hidden_layers":4})", llamaTensors(4));
  ASSERT_TRUE(R.Result);
  ASSERT_EQ(R.Result->Edits.size(), 1u);
  EXPECT_EQ(R.Result->Edits[0].Path, "num_hidden_layers");
  EXPECT_EQ(R.Result->Edits[0].Old, Json(4));
  EXPECT_EQ(R.Result->Edits[0].New, Json(8));
  EXPECT_EQ(R.Result->OutputConfig["num_hidden_layers"], Json(8));
  EXPECT_EQ(R.Output, "");
}

const char *Qwen2Sliding = R"({"model_type":"qwen2","num_hidden_layers":8,
  "use_sliding_window":true,"sliding_window":4096,"max_window_layers":4})";

TEST(Compiler, ThresholdKeptForWindowAbove) {
  Compile R("duplicate blocks[5:7] after;\nremap per_layer *;\n", Qwen2Sliding, llamaTensors(8));
  ASSERT_TRUE(R.Result);
  EXPECT_FALSE(R.edit("max_window_layers"));
  EXPECT_EQ(R.Output, "");
}

TEST(Compiler, ThresholdRecomputedForWindowBelow) {
  Compile R("duplicate blocks[1:3] after;\nremap per_layer *;\n", Qwen2Sliding, llamaTensors(8));
  ASSERT_TRUE(R.Result);
  ASSERT_TRUE(R.edit("max_window_layers"));
  EXPECT_EQ(R.edit("max_window_layers")->New, Json(6));
  EXPECT_EQ(R.Output, "");
}

TEST(Compiler, ThresholdStraddledWritesList) {
  Compile R("duplicate blocks[3:5] after;\nremap per_layer *;\n", Qwen2Sliding, llamaTensors(8));
  ASSERT_TRUE(R.Result);
  const ConfigEdit *List = R.edit("layer_types");
  ASSERT_TRUE(List);
  EXPECT_TRUE(List->Added);
  EXPECT_EQ(List->New, Json::parse(R"(["full_attention","full_attention","full_attention",
    "full_attention","sliding_attention","full_attention","sliding_attention",
    "sliding_attention","sliding_attention","sliding_attention"])"));
  EXPECT_NE(R.Output.find("warning: 'max_window_layers' = 4 no longer generates the layer "
                          "schedule: output layer 5 comes from source layer 3 and needs "
                          "'layer_types' = \"full_attention\", but the scalar gives it "
                          "\"sliding_attention\";"),
            std::string::npos);
}

const char *Qwen3NextNoList = R"({"model_type":"qwen3_next","num_hidden_layers":8,
  "full_attention_interval":4,"mlp_only_layers":[],"num_experts":4,"decoder_sparse_step":1})";

std::vector<std::string> hybridTensors() {
  std::vector<std::string> Names = {"model.embed_tokens.weight"};
  for (unsigned Layer = 0; Layer < 8; ++Layer)
    Names.push_back("model.layers." + std::to_string(Layer) +
                    ((Layer + 1) % 4 == 0 ? ".self_attn.q_proj.weight" : ".linear_attn.A_log"));
  return Names;
}

TEST(Compiler, IntervalKeptForMultipleOfFour) {
  Compile R("duplicate blocks[0:4] after;\nremap per_layer *;\n", Qwen3NextNoList, hybridTensors());
  ASSERT_TRUE(R.Result);
  EXPECT_FALSE(R.edit("layer_types"));
  EXPECT_EQ(R.Output, "");
}

TEST(Compiler, IntervalBrokenMaterializesList) {
  Compile R("duplicate blocks[2:4] after;\nremap per_layer *;\n", Qwen3NextNoList, hybridTensors());
  ASSERT_TRUE(R.Result);
  const ConfigEdit *List = R.edit("layer_types");
  ASSERT_TRUE(List);
  EXPECT_EQ(List->New, Json::parse(R"(["linear_attention","linear_attention","linear_attention",
    "full_attention","linear_attention","full_attention","linear_attention","linear_attention",
    "linear_attention","full_attention"])"));
  EXPECT_NE(R.Output.find("warning: 'full_attention_interval' = 4 no longer generates"),
            std::string::npos);
}

TEST(Compiler, MlpOnlyLayersRemappedAsIndices) {
  std::string Config = R"({"model_type":"qwen3_moe","num_hidden_layers":4,
    "mlp_only_layers":[1],"num_experts":4,"decoder_sparse_step":1})";
  Compile R("duplicate blocks[1:2] after times 2;\nremap per_layer *;\n", Config, llamaTensors(4));
  ASSERT_TRUE(R.Result);
  ASSERT_TRUE(R.edit("mlp_only_layers"));
  EXPECT_EQ(R.edit("mlp_only_layers")->New, Json::parse("[1,2,3]"));
}

TEST(Compiler, TensorFamilyMismatchWhenTypesKept) {
  std::string Config = R"({"model_type":"qwen3_next","num_hidden_layers":8,
    "full_attention_interval":4,"layer_types":["linear_attention","linear_attention",
    "linear_attention","full_attention","linear_attention","linear_attention",
    "linear_attention","full_attention"]})";
  Compile R("duplicate blocks[3:4] after;\nkeep layer_types;\n", Config, hybridTensors());
  EXPECT_FALSE(R.Result);
  EXPECT_NE(R.Output.find("error: output layer 4 has type \"linear_attention\" in 'layer_types' "
                          "but has no 'linear_attn.*' tensors (copied from source layer 3)"),
            std::string::npos);
}

TEST(Compiler, StackDetectionIgnoresVisionTower) {
  std::vector<std::string> Tensors = {"model.language_model.layers.3.self_attn.q_proj.weight"};
  for (unsigned Layer = 0; Layer < 3; ++Layer)
    Tensors.push_back("model.language_model.layers." + std::to_string(Layer) + ".linear_attn.A_log");
  for (unsigned Block = 0; Block < 3; ++Block)
    Tensors.push_back("model.visual.blocks." + std::to_string(Block) + ".attn.qkv.weight");
  Tensors.push_back("mtp.layers.0.mlp.w");
  Compile R("duplicate blocks[1:2] after;\n",
        R"({"model_type":"qwen3_5","text_config":{"num_hidden_layers":4}})", Tensors);
  ASSERT_TRUE(R.Result) << R.Output;
  EXPECT_EQ(R.Result->Stack.Prefix, "model.language_model.layers");
  EXPECT_EQ(R.Result->Stack.DecoderPath, "text_config");
  EXPECT_EQ(R.Result->Edits[0].Path, "text_config.num_hidden_layers");
}

TEST(Compiler, MissingStackIsAnError) {
  Compile R("duplicate blocks[1:2] after;\n", R"({"model_type":"llama","num_hidden_layers":5})",
        llamaTensors(4));
  EXPECT_FALSE(R.Result);
  EXPECT_EQ(R.Output, "rysc: error: no tensor prefix numbers exactly layers 0..4 as "
                      "'num_hidden_layers' says; numbered prefixes found:\n  'model.layers': "
                      "layers 0..3 (4 indices)\n");
}

TEST(Compiler, InlineProfileExtendsStdlib) {
  Compile R("profile my_llama extends llama {\n  match model_type \"my_llama\";\n"
        "  field gates : indices;\n}\nduplicate blocks[1:2] after;\nremap per_layer gates;\n",
        R"({"model_type":"my_llama","num_hidden_layers":4,"gates":[1,3]})", llamaTensors(4));
  ASSERT_TRUE(R.Result);
  EXPECT_EQ(R.Result->UsedProfile->Name, "my_llama");
  ASSERT_TRUE(R.edit("gates"));
  EXPECT_EQ(R.edit("gates")->New, Json::parse("[1,2,4]"));
}

} // namespace

namespace {

TEST(Compiler, DeriveRescalesForLayerCount) {
  Compile R("profile minicpm_like extends llama {\n  match model_type \"minicpm_like\";\n"
            "  derive scale_depth = scale_depth * sqrt(float(n) / n_source);\n}\n"
            "duplicate blocks[0:4] after times 3;\n",
            R"({"model_type":"minicpm_like","num_hidden_layers":4,"scale_depth":1.4})",
            llamaTensors(4));
  ASSERT_TRUE(R.Result) << R.Output;
  ASSERT_TRUE(R.edit("scale_depth"));
  EXPECT_DOUBLE_EQ(R.edit("scale_depth")->New.get<double>(), 2.8);
}

TEST(Compiler, WarnWhenConditionHolds) {
  Compile R("profile decay extends llama {\n  match model_type \"decay\";\n"
            "  warn \"decay depends on the layer index\" when n_out != n;\n}\n"
            "duplicate blocks[1:2] after;\n",
            R"({"model_type":"decay","num_hidden_layers":4})", llamaTensors(4));
  ASSERT_TRUE(R.Result);
  EXPECT_NE(R.Output.find("r.rys:5:1: warning: decay depends on the layer index (profile "
                          "'decay')"),
            std::string::npos);
}

TEST(Compiler, PackedTensorRejected) {
  std::vector<std::string> Tensors = llamaTensors(4);
  Tensors.push_back("model.embed_tokens_per_layer.weight");
  Compile R("profile packed extends llama {\n  match model_type \"packed\";\n"
            "  packed_tensor \"embed_tokens_per_layer.weight\";\n}\n"
            "duplicate blocks[1:2] after;\n",
            R"({"model_type":"packed","num_hidden_layers":4})", Tensors);
  EXPECT_FALSE(R.Result);
  EXPECT_NE(R.Output.find("error: tensor 'model.embed_tokens_per_layer.weight' packs one slice "
                          "per layer into its shape"),
            std::string::npos);
}

TEST(Compiler, QuantizationIgnoreFollowsMap) {
  std::string Config = R"({"model_type":"llama","num_hidden_layers":4,
    "quantization_config":{"ignore":["lm_head","model.layers.1.mlp","model.layers.3",
    "model.layers.*.self_attn"],"extra_config":{"model.layers.1.mlp.gate":{"bits":8},
    "model.layers.0.mlp.gate":{"bits":4}}}})";
  Compile R("duplicate blocks[1:2] after times 2;\n", Config, llamaTensors(4));
  ASSERT_TRUE(R.Result) << R.Output;
  ASSERT_TRUE(R.edit("quantization_config.ignore"));
  EXPECT_EQ(R.edit("quantization_config.ignore")->New,
            Json::parse(R"(["lm_head","model.layers.1.mlp","model.layers.2.mlp",
              "model.layers.3.mlp","model.layers.5","model.layers.*.self_attn"])"));
  ASSERT_TRUE(R.edit("quantization_config.extra_config"));
  EXPECT_EQ(R.edit("quantization_config.extra_config")->New.dump(),
            R"({"model.layers.0.mlp.gate":{"bits":4},"model.layers.1.mlp.gate":{"bits":8},)"
            R"("model.layers.2.mlp.gate":{"bits":8},"model.layers.3.mlp.gate":{"bits":8}})");
}

TEST(Compiler, PinnedRegexRejected) {
  std::string Config = R"({"model_type":"llama","num_hidden_layers":4,
    "quantization_config":{"ignore":["re:model\\.layers\\.2\\..*"]}})";
  Compile R("duplicate blocks[1:2] after;\n", Config, llamaTensors(4));
  EXPECT_FALSE(R.Result);
  EXPECT_NE(R.Output.find("error: 'quantization_config.ignore' holds the regular expression "
                          "'re:model\\.layers\\.2\\..*', which names a decoder layer by number"),
            std::string::npos);
}

} // namespace

namespace {

TEST(Compiler, PinnedLayerCannotBeCopied) {
  Compile R("profile shared extends llama {\n  match model_type \"shared\";\n"
            "  pinned \"a hybrid layer's shared block is indexed by occurrence\" when "
            "kinds[i] == \"hybrid\";\n}\nduplicate blocks[1:3] after;\nremap per_layer *;\n",
            R"({"model_type":"shared","num_hidden_layers":4,"kinds":["m","m","hybrid","m"]})",
            llamaTensors(4));
  EXPECT_FALSE(R.Result);
  EXPECT_NE(R.Output.find("error: source layer 2 is copied, but a hybrid layer's shared block is "
                          "indexed by occurrence (profile 'shared')"),
            std::string::npos)
      << R.Output;
}

} // namespace
