// One run of `plan` or `apply`: the recipe, the input model in whichever
// format it has, the compilation and the backend plan.
#ifndef RYSC_DRIVER_SESSION_H
#define RYSC_DRIVER_SESSION_H

#include "Options.h"

#include "backends/gguf/GgufModel.h"
#include "backends/gguf/GgufPlanner.h"
#include "backends/gguf/Imatrix.h"
#include "backends/hf/HfModel.h"
#include "backends/hf/HfPlanner.h"
#include "compiler/Compiler.h"
#include "compiler/Provenance.h"

#include <optional>

namespace rysc::driver {

enum class InputKind { None, HfFolder, Gguf, GgufImatrix, DatImatrix };

struct Session {
  explicit Session(const Options &Opts);

  const Options &Opts;
  DiagnosticEngine Diags;
  ProfileRegistry Registry;
  RecipeSource Source;
  ast::Recipe Recipe;

  InputKind Kind = InputKind::None;
  std::string ModelPath;
  std::optional<hf::HfModel> Hf;
  std::optional<gguf::GgufModel> Gguf;
  std::optional<imatrix::DatFile> Dat;
  ModelFacts Facts;
  /// The record of a source that rysc wrote, chained into the output's record.
  std::optional<Json> SourceProvenance;
  std::optional<Compilation> Compiled;

  std::optional<hf::HfPlan> HfPlan;
  std::optional<gguf::GgufPlan> GgufPlan;
  std::optional<WritePlan> DatPlan; ///< The remapped legacy imatrix, one generated file.

  /// Reads the recipe and the model, and compiles. False after diagnostics.
  bool compile(const std::string &RecipePath, const std::string *ModelPath);

  /// Plans the output named \p OutName (a folder for Hugging Face input, a
  /// file otherwise). False after diagnostics.
  bool plan(llvm::StringRef OutName);

  /// The write plan of whichever backend planned.
  const WritePlan *writePlan() const;

private:
  bool readModel(const std::string &Path);
  void readSourceProvenance();
  bool planHf();
  bool planGguf(llvm::StringRef OutName);
  std::string provenanceText(llvm::StringRef Format, llvm::StringRef ConfigText) const;
};

} // namespace rysc::driver

#endif // RYSC_DRIVER_SESSION_H
