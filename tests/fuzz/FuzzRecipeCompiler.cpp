// Fuzz entry point: the recipe parser and compiler on arbitrary text. Each
// input is parsed and then compiled once. An input of odd length is compiled
// against a layer count alone, as `plan` without a model does. One of even
// length is compiled against a small hybrid Qwen3.6-style config, so that the
// profile, schedule and field checks run too. Loading the stdlib dominates
// the time, so each input is compiled only once.
#include "compiler/Compiler.h"
#include "compiler/LayerListText.h"
#include "compiler/Parser.h"

#include "llvm/Support/raw_ostream.h"

#include <cstddef>
#include <cstdint>

namespace {

rysc::ModelFacts hybridModel() {
  constexpr unsigned Layers = 8;
  rysc::Json Types = rysc::Json::array();
  for (unsigned I = 0; I < Layers; ++I)
    Types.push_back(I % 4 == 3 ? "full_attention" : "linear_attention");

  rysc::ModelFacts Facts;
  Facts.ConfigName = "fuzz/config.json";
  Facts.Config = {{"model_type", "qwen3_5"},
                  {"architectures", {"Qwen3_5ForConditionalGeneration"}},
                  {"text_config",
                   {{"model_type", "qwen3_5_text"},
                    {"num_hidden_layers", Layers},
                    {"full_attention_interval", 4},
                    {"layer_types", Types}}}};
  for (unsigned I = 0; I < Layers; ++I) {
    std::string Prefix = "model.language_model.layers." + std::to_string(I) + ".";
    Facts.TensorNames.push_back(Prefix + "input_layernorm.weight");
    Facts.TensorNames.push_back(Prefix + (I % 4 == 3 ? "self_attn.q_proj.weight"
                                                     : "linear_attn.in_proj_qkvz.weight"));
  }
  Facts.TensorNames.push_back("model.language_model.embed_tokens.weight");
  return Facts;
}

void compileWith(llvm::StringRef Text, const rysc::ModelFacts *Model) {
  // Diagnostics are rendered in full, so caret and range code runs too.
  std::string Rendered;
  llvm::raw_string_ostream Out(Rendered);
  rysc::DiagnosticEngine Diags(Out);
  rysc::ProfileRegistry Registry;
  Registry.loadStdlib(Diags);
  rysc::ast::Recipe Recipe = rysc::parseRecipeText(Diags, Text, "fuzz.rys");
  if (Diags.hasErrors())
    return;
  rysc::CompileOptions Options;
  if (!Model)
    Options.Layers = 64;
  std::optional<rysc::Compilation> Compiled =
      rysc::compileRecipe(Diags, Registry, Recipe, Model, Options);
  if (!Compiled)
    return;

  // The per-layer lists of the edits go through plan's text rendering, which
  // segments them into runs and cycles.
  for (const rysc::ConfigEdit &Edit : Compiled->Edits)
    if (Edit.New.is_array()) {
      std::vector<rysc::Json> Values = Edit.New.get<std::vector<rysc::Json>>();
      (void)rysc::describeLayerValues(Values, rysc::ReportWidth);
      (void)rysc::describeLayerIndices(Edit.New, rysc::ReportWidth);
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  static const rysc::ModelFacts Model = hybridModel();
  llvm::StringRef Text(reinterpret_cast<const char *>(Data), Size);
  compileWith(Text, Size % 2 == 0 ? &Model : nullptr);
  return 0;
}
