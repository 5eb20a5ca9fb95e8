// The typed syntax tree of a recipe. Every node keeps its source range, and
// nothing after the parser sees ANTLR types.
#ifndef RYSC_COMPILER_AST_H
#define RYSC_COMPILER_AST_H

#include "llvm/Support/SMLoc.h"

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace rysc::ast {

/// A dotted config path such as `text_config.layer_types`.
struct FieldPath {
  std::vector<std::string> Parts;
  llvm::SMRange Range;

  std::string str() const;
};

/// A half-open window `blocks[Begin:End]` of source layers.
struct Window {
  int64_t Begin = 0;
  int64_t End = 0;
  llvm::SMRange Range;
  llvm::SMRange BeginRange;
  llvm::SMRange EndRange;
};

enum class Placement { After, Before };

struct DuplicateStmt {
  Window Blocks;
  Placement Where = Placement::After;
  int64_t Times = 1;
  llvm::SMRange TimesRange;
};

struct DropStmt {
  Window Blocks;
};

/// `remap per_layer *;` (All) or `remap per_layer a.b, c;`.
struct RemapStmt {
  bool All = false;
  std::vector<FieldPath> Fields;
};

struct KeepStmt {
  std::vector<FieldPath> Fields;
};

struct ExpectLayersStmt {
  int64_t Count = 0;
  llvm::SMRange CountRange;
};

struct ExpectMapStmt {
  int64_t Out = 0;
  int64_t Src = 0;
};

struct UseProfileStmt {
  std::string Name;
  llvm::SMRange NameRange;
};

// --- Schedule expressions ----------------------------------------------------

struct Expr;
using ExprPtr = std::unique_ptr<Expr>;

enum class ExprKind { Int, Float, String, Bool, Null, Name, Call, Index, Unary, Binary, Conditional };

/// An expression node. A small tagged struct keeps the evaluator a plain
/// recursive function without a visitor hierarchy.
struct Expr {
  ExprKind Kind = ExprKind::Null;
  llvm::SMRange Range;
  int64_t IntValue = 0;
  double FloatValue = 0;
  bool BoolValue = false;
  std::string Text;          ///< String value, name, callee or operator.
  std::vector<ExprPtr> Operands;
};

// --- Profiles ------------------------------------------------------------------

struct FieldDecl {
  FieldPath Path;
  std::string Kind;
  llvm::SMRange KindRange;
  std::vector<std::string> Options;
  std::vector<llvm::SMRange> OptionRanges;
};

struct ScheduleDecl {
  FieldPath Scalar;
  std::string Kind;
  llvm::SMRange KindRange;
  std::optional<ExprPtr> Default;
  FieldPath Target;
  ExprPtr Generator;
};

struct ExtraStackDecl {
  std::string Name;
  std::string Placement;
  llvm::SMRange PlacementRange;
  std::string Prefix;
  std::optional<FieldPath> CountField;
  llvm::SMRange Range;
};

struct TensorFamilyDecl {
  FieldPath Field;
  ExprPtr Value;
  std::vector<std::string> Require;
  std::vector<std::string> Forbid;
  llvm::SMRange Range;
};

/// `warn "message" [when EXPR];`: an effect of the layer count or index
/// that no config field can fix.
struct WarnDecl {
  std::string Message;
  ExprPtr Condition; ///< Null when unconditional.
  llvm::SMRange Range;
};

/// `meaning FIELD : VALUE "text", ...;`: the meanings of values of a
/// per-layer field, for messages and reports.
struct MeaningDecl {
  FieldPath Field;
  std::vector<std::pair<ExprPtr, std::string>> Entries; ///< Literal value, text.
  llvm::SMRange Range;
};

/// `derive FIELD = EXPR;`: a scalar recomputed for the output layer count.
struct DeriveDecl {
  FieldPath Field;
  ExprPtr Value;
  llvm::SMRange Range;
};

struct ProfileDecl {
  std::string Name;
  llvm::SMRange NameRange;
  std::optional<std::string> Base;
  llvm::SMRange BaseRange;
  std::vector<std::string> ModelTypes;
  std::vector<std::string> GgufArchs;
  /// Candidate decoder configs; an empty path means the config root.
  std::vector<FieldPath> DecoderPaths;
  bool HasDecoder = false;
  /// Candidate layer-count keys, tried in order.
  std::vector<FieldPath> LayerCount;
  std::vector<std::string> StackPrefixes;
  std::vector<FieldDecl> Fields;
  std::vector<ScheduleDecl> Schedules;
  std::vector<ExtraStackDecl> ExtraStacks;
  std::vector<TensorFamilyDecl> TensorFamilies;
  std::vector<FieldPath> NotPerLayer;
  std::vector<WarnDecl> Warnings;
  /// `pinned "message" when EXPR;`: source layers that must appear exactly
  /// once in the output (Condition is evaluated with `i` a source layer).
  std::vector<WarnDecl> Pinned;
  std::vector<DeriveDecl> Derives;
  std::vector<std::string> PackedTensors;
  std::vector<MeaningDecl> Meanings;
  llvm::SMRange Range;
};

// --- Statements ------------------------------------------------------------------

enum class StmtKind { Duplicate, Drop, Remap, Keep, ExpectLayers, ExpectMap, UseProfile };

/// One recipe statement; exactly the member matching Kind is meaningful.
struct Stmt {
  StmtKind Kind = StmtKind::Duplicate;
  llvm::SMRange Range;
  DuplicateStmt Duplicate;
  DropStmt Drop;
  RemapStmt Remap;
  KeepStmt Keep;
  ExpectLayersStmt ExpectLayers;
  ExpectMapStmt ExpectMap;
  UseProfileStmt UseProfile;
};

/// A whole recipe file.
struct Recipe {
  std::optional<int64_t> Version;
  llvm::SMRange VersionRange;
  std::vector<Stmt> Statements;
  std::vector<ProfileDecl> Profiles;
  unsigned BufferId = 0;
};

} // namespace rysc::ast

#endif // RYSC_COMPILER_AST_H
