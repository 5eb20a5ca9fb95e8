// Evaluation of schedule expressions from profiles.
#ifndef RYSC_COMPILER_EXPR_H
#define RYSC_COMPILER_EXPR_H

#include "compiler/Ast.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include <nlohmann/json.hpp>

#include <map>
#include <string>

namespace rysc {

using Json = nlohmann::ordered_json;

/// The bindings of names while a formula is evaluated for one layer.
struct EvalContext {
  int64_t LayerIndex = 0; ///< `i`
  int64_t LayerCount = 0; ///< `n`
  /// The decoder config; any other name is looked up here as a dotted path.
  const Json *Config = nullptr;
  /// Values that shadow config fields, e.g. a candidate value of the scalar.
  std::map<std::string, Json> Overrides;
};

/// Returns the value at dotted \p Path inside \p Object, or nullptr.
const Json *lookupPath(const Json &Object, llvm::StringRef Path);

/// Evaluates \p Expression. Integers, strings, booleans, null and arrays are
/// the values; a missing field is null. Errors name the offending operation.
llvm::Expected<Json> evaluate(const ast::Expr &Expression, const EvalContext &Context);

} // namespace rysc

#endif // RYSC_COMPILER_EXPR_H
