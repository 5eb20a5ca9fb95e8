// Architecture profiles: what a model family stores per layer and how. They
// are written in the recipe language (stdlib/ and inline in recipes) and
// checked here into plain data that the analysis reads. The analysis knows
// the kinds of field; only profiles know the families.
#ifndef RYSC_COMPILER_PROFILE_H
#define RYSC_COMPILER_PROFILE_H

#include "compiler/Ast.h"
#include "compiler/Diagnostics.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"
#include <nlohmann/json.hpp>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rysc {

/// The kinds of per-layer config field, each with its own rule under the map.
enum class FieldKind {
  Values,  ///< One entry per layer: new[o] = old[m[o]].
  Pattern, ///< A string with one character per layer, remapped like Values.
  Indices, ///< A set of layer indices: new = sorted{o : m[o] in old}.
  Dict,    ///< A dict keyed by layer index (per_layer_config), re-keyed.
};

llvm::StringRef fieldKindName(FieldKind Kind);

struct FieldSpec {
  std::string Path; ///< Relative to the decoder config, dotted.
  FieldKind Kind = FieldKind::Values;
  bool OneBased = false; ///< Indices count from 1 (Kimi-Linear).
  bool Tail = false;     ///< Entries past the layer count (MTP) are carried unchanged.
  bool Truncate = false; ///< Entries past the layer count are dropped.
  bool Broadcast = false; ///< A scalar stands for every layer and stays as it is.
  /// Element type for binary formats when the field is written new:
  /// "bool", "int32", "uint32", "float32", or empty for the default.
  std::string StorageType;
  llvm::SMRange Range;
};

enum class ScheduleKind {
  Period,    ///< Kept when it still generates the schedule, never recomputed.
  Threshold, ///< A prefix or tail length: recomputed when some value fits.
};

/// A scalar that generates a per-layer schedule through a formula.
struct ScheduleSpec {
  std::string Scalar; ///< Relative to the decoder config.
  ScheduleKind Kind = ScheduleKind::Period;
  std::optional<nlohmann::ordered_json> Default; ///< The consumer's default when absent.
  std::string Target; ///< The per-layer field the formula produces.
  const ast::Expr *Generator = nullptr;
  llvm::SMRange Range;
};

/// Numbered layers beside the trunk, such as multi-token-prediction layers.
struct ExtraStackSpec {
  std::string Name;
  /// Inline stacks continue the trunk numbering (DeepSeek-V3's
  /// model.layers.61); separate stacks have their own prefix and are copied
  /// unchanged.
  bool Inline = false;
  /// Counted stacks are inline and also included in the layer count, as
  /// GGUF's block_count includes nextn_predict_layers.
  bool Counted = false;
  std::string Prefix;     ///< Separate stacks: the tensor-name prefix.
  std::string CountField; ///< Relative to the decoder config.
};

/// The tensors that a layer of one type must and must not carry.
struct TensorFamilySpec {
  std::string Field; ///< The per-layer field holding the layer type.
  nlohmann::ordered_json Value;
  std::vector<std::string> Require; ///< Suffix prefixes, e.g. "self_attn.".
  std::vector<std::string> Forbid;
  llvm::SMRange Range;
};

/// An effect of the layer index or count that no config field can fix.
struct WarnSpec {
  std::string Message;
  const ast::Expr *Condition = nullptr; ///< Null when unconditional.
  llvm::SMRange Range;
};

/// A scalar recomputed for the output: `n` is the output layer count and
/// `n_source` the source count.
struct DeriveSpec {
  std::string Field; ///< Relative to the decoder config.
  const ast::Expr *Value = nullptr;
  llvm::SMRange Range;
};

/// The meaning of one value of a per-layer field, e.g. true "a sliding-window
/// layer", which messages and reports show next to the bare value.
struct MeaningSpec {
  std::string Field; ///< Relative to the decoder config, or a schedule target.
  nlohmann::ordered_json Value;
  std::string Text;
  llvm::SMRange Range;
};

struct Profile {
  std::string Name;
  std::string Base;
  std::vector<std::string> ModelTypes;
  std::vector<std::string> GgufArchs;
  std::vector<std::string> DecoderPaths; ///< "" is the config root.
  std::vector<std::string> LayerCountFields;
  std::vector<std::string> StackPrefixes;
  std::vector<FieldSpec> Fields;
  std::vector<ScheduleSpec> Schedules;
  std::vector<ExtraStackSpec> ExtraStacks;
  std::vector<TensorFamilySpec> TensorFamilies;
  std::vector<std::string> NotPerLayer;
  std::vector<WarnSpec> Warnings;
  /// Source layers that must appear exactly once: their condition is true.
  std::vector<WarnSpec> Pinned;
  std::vector<DeriveSpec> Derives;
  /// Tensor-name suffixes of non-layer tensors whose shape packs one slice
  /// per layer (Gemma-3n per-layer embeddings).
  std::vector<std::string> PackedTensors;
  std::vector<MeaningSpec> Meanings;
  std::string SourceName; ///< File the profile was declared in.
  unsigned Line = 0;      ///< Line of the `profile` keyword in SourceName.
  /// The declaration as written, with the comment lines that document it.
  std::string Definition;
  bool FromStdlib = false;

  const FieldSpec *findField(llvm::StringRef Path) const;
  const ScheduleSpec *findScheduleFor(llvm::StringRef Target) const;
  const ScheduleSpec *findSchedule(llvm::StringRef Scalar) const;
  /// Returns the meaning of \p Value of per-layer \p Field, or nullptr when
  /// the profile gives none. A bool and a number match as sameLayerValue does.
  const std::string *meaningOf(llvm::StringRef Field, const nlohmann::ordered_json &Value) const;
  /// Renders \p Value of \p Field for messages: its JSON text, followed by
  /// its meaning in parentheses when the profile gives one.
  std::string describeValue(llvm::StringRef Field, const nlohmann::ordered_json &Value) const;
};

/// Every known profile: the embedded stdlib plus those a recipe declares.
class ProfileRegistry {
public:
  /// Parses every stdlib file into \p Diags. Errors there are rysc bugs but
  /// are still reported like any other.
  void loadStdlib(DiagnosticEngine &Diags);

  /// Adds the profiles declared in a recipe. They take precedence over the
  /// stdlib when matching a model_type. \p Recipe must outlive the registry,
  /// because profiles point into its expressions.
  void addRecipeProfiles(DiagnosticEngine &Diags, const ast::Recipe &Recipe);

  const Profile *find(llvm::StringRef Name) const;
  /// Returns the first profile listing \p ModelType, recipe profiles first.
  const Profile *matchModelType(llvm::StringRef ModelType) const;
  /// Returns the first profile listing \p Arch as a GGUF architecture.
  const Profile *matchGgufArch(llvm::StringRef Arch) const;
  std::vector<std::string> names() const;
  std::vector<const Profile *> stdlibProfiles() const;

private:
  void addInDependencyOrder(DiagnosticEngine &Diags,
                            std::vector<std::pair<const ast::ProfileDecl *, std::string>> Decls,
                            bool FromStdlib);
  void addDecl(DiagnosticEngine &Diags, const ast::ProfileDecl &Decl, bool FromStdlib,
               llvm::StringRef SourceName);

  std::vector<std::unique_ptr<ast::Recipe>> Owned; ///< Keeps expressions alive.
  std::vector<std::unique_ptr<Profile>> Profiles;
};

} // namespace rysc

#endif // RYSC_COMPILER_PROFILE_H
