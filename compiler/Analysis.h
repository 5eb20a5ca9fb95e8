// Internal to the compiler: the state shared by the analysis passes.
#ifndef RYSC_COMPILER_ANALYSIS_H
#define RYSC_COMPILER_ANALYSIS_H

#include "compiler/Compiler.h"

namespace rysc {

/// Everything one compilation reads and builds, passed between the passes.
struct AnalysisState {
  AnalysisState(DiagnosticEngine &Diags, const ast::Recipe &Recipe, const ModelFacts *Model,
                const CompileOptions &Options)
      : Diags(Diags), Recipe(Recipe), Model(Model), Options(Options) {}

  DiagnosticEngine &Diags;
  const ast::Recipe &Recipe;
  const ModelFacts *Model;
  const CompileOptions &Options;

  /// The range that diagnostics about the model as a whole point at: the first layer
  /// statement, or the start of the recipe.
  llvm::SMRange Anchor;

  uint32_t SourceCount = 0; ///< Trunk layers in the source.
  std::vector<LayerEdit> Edits; ///< The checked layer statements.
  const Json *SourceDecoder = nullptr;
  Compilation Result;
};

/// Picks the profile, the decoder config, the layer count and the decoder
/// stack prefix. Returns false after reporting an error.
bool resolveModel(AnalysisState &State, ProfileRegistry &Registry);

/// Checks duplicate and drop statements against the layer count and turns
/// them into layer edits.
std::vector<LayerEdit> checkLayerStatements(AnalysisState &State);

/// Checks `expect` statements against the built map.
void checkExpectations(AnalysisState &State);

/// Computes every config edit: the layer count, the per-layer fields
/// (with the coverage rule), the schedule scalars and the tensor families.
void analyzeConfig(AnalysisState &State);

/// Sets the value at dotted \p Path, creating the last key if needed.
void setPath(Json &Root, llvm::StringRef Path, const Json &Value);

} // namespace rysc

#endif // RYSC_COMPILER_ANALYSIS_H
