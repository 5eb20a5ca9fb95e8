// The semantic analysis: from a parsed recipe (and, when given, a model's
// config and tensor names) to one checked layer map and the config edits it
// implies. Formats are the backends' business; this sees only JSON config
// and tensor names.
#ifndef RYSC_COMPILER_COMPILER_H
#define RYSC_COMPILER_COMPILER_H

#include "compiler/Ast.h"
#include "compiler/Diagnostics.h"
#include "compiler/Expr.h"
#include "compiler/LayerMap.h"
#include "compiler/Profile.h"

#include <optional>
#include <string>
#include <vector>

namespace rysc {

/// The parts of a model that a backend read, without any tensor data.
struct ModelFacts {
  std::string ConfigName; ///< Shown in diagnostics, e.g. "model/config.json".
  Json Config;            ///< The whole config.
  std::vector<std::string> TensorNames;
  /// For GGUF input: general.architecture. Profiles are then matched by
  /// `match gguf_arch`, and the decoder config defaults to the object of
  /// that name (the "{arch}.*" keys).
  std::string GgufArch;
};

struct CompileOptions {
  std::optional<uint32_t> Layers; ///< --layers, used when no model is given.
  bool Strict = false;
  /// Stop after finding the profile, the layer count and the decoder stack
  /// (for check and inspect, which have no recipe).
  bool ResolveOnly = false;
};

/// One change to the config, with the old and new value.
struct ConfigEdit {
  std::string Path; ///< Dotted, from the config root.
  Json Old;         ///< null when the key is added.
  Json New;
  bool Added = false;
  std::string Reason;
  /// The per-layer field whose lists Old and New are, so that reports can
  /// show them layer by layer; unset for scalars and other lists.
  std::optional<FieldSpec> Field;
};

/// An extra stack stored inside the trunk numbering (e.g. an MTP layer at
/// model.layers.61 of a 61-layer model).
struct InlineStack {
  std::string Name;
  uint32_t Count = 0;
  bool Counted = false; ///< Included in the layer-count field.
};

/// The location of the decoder in the config and in the tensor names.
struct DecoderStack {
  std::string DecoderPath;   ///< "" for the config root, else e.g. "text_config".
  std::string CountField;    ///< Relative to the decoder config.
  std::string Prefix;        ///< Tensor-name prefix, e.g. "model.layers".
  std::vector<InlineStack> Inline;

  uint32_t inlineCount() const;
  /// Inline layers that the layer-count field includes.
  uint32_t countedInline() const;
  /// Returns the full dotted path of a decoder-relative field.
  std::string fullPath(llvm::StringRef Relative) const;
};

/// A checked recipe, ready for a backend.
struct Compilation {
  const Profile *UsedProfile = nullptr;
  LayerMap Map;
  bool HasModel = false;
  DecoderStack Stack;
  std::vector<ConfigEdit> Edits;
  Json OutputConfig;
  /// Fields left unchanged on purpose by `keep`, full paths.
  std::vector<std::string> KeptFields;
};

/// Compiles \p Recipe. Reports every problem to \p Diags and returns nullopt
/// when any error was reported. \p Recipe and \p Registry must outlive the
/// result, which points into their profiles.
std::optional<Compilation> compileRecipe(DiagnosticEngine &Diags, ProfileRegistry &Registry,
                                         const ast::Recipe &Recipe, const ModelFacts *Model,
                                         const CompileOptions &Options);

} // namespace rysc

#endif // RYSC_COMPILER_COMPILER_H
