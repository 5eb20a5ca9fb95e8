// Tensor names of the form "PREFIX.N.REST": the one place that parses and
// builds them, for every backend and check.
#ifndef RYSC_COMPILER_LAYERNAMES_H
#define RYSC_COMPILER_LAYERNAMES_H

#include "llvm/ADT/StringRef.h"
#include "llvm/ADT/Twine.h"

#include <cstdint>
#include <optional>
#include <string>

namespace rysc {

/// A tensor name split at its layer number.
struct LayerTensorName {
  uint32_t Layer = 0;
  llvm::StringRef Rest; ///< The part after "PREFIX.N.", never empty.
};

/// Splits \p Name when it is "PREFIX.N.REST" with a decimal N and a
/// non-empty REST; nullopt otherwise.
inline std::optional<LayerTensorName> splitLayerTensorName(llvm::StringRef Name,
                                                          llvm::StringRef Prefix) {
  if (!Name.consume_front(Prefix) || !Name.consume_front("."))
    return std::nullopt;
  auto [Number, Rest] = Name.split('.');
  LayerTensorName Result;
  if (Number.empty() || Rest.empty() || Number.getAsInteger(10, Result.Layer))
    return std::nullopt;
  Result.Rest = Rest;
  return Result;
}

/// Returns "PREFIX.N.REST".
inline std::string layerTensorName(llvm::StringRef Prefix, uint32_t Layer, llvm::StringRef Rest) {
  return (Prefix + "." + llvm::Twine(Layer) + "." + Rest).str();
}

} // namespace rysc

#endif // RYSC_COMPILER_LAYERNAMES_H
