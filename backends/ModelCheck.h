// `rysc check` and `rysc inspect`: recipe-free reports on any checkpoint,
// including one built by another tool.
#ifndef RYSC_BACKENDS_MODELCHECK_H
#define RYSC_BACKENDS_MODELCHECK_H

#include "backends/ModelLoader.h"
#include "compiler/Compiler.h"

#include <string>
#include <vector>

namespace rysc {

/// One problem found by `check`.
struct Finding {
  Severity Level = Severity::Error;
  std::string Check;   ///< e.g. "tensor-family"
  std::string Message;
  std::string Fix;     ///< One line: what to do about it.
};

/// The model resolved against its profile, shared by check and inspect.
struct ResolvedModel {
  const LoadedModel *Model = nullptr;
  Compilation C;        ///< Profile, decoder and stack; identity map.
  const Json *Decoder = nullptr;
  uint32_t Layers = 0;  ///< Trunk layers.
  /// Tensor-name suffixes of each block under the decoder prefix.
  std::map<uint32_t, std::vector<std::string>> Suffixes;
  std::map<uint32_t, uint64_t> BlockBytes;
};

/// Resolves \p Model. Problems go to \p Diags, and nullopt is returned
/// when the profile, layer count or decoder stack cannot be found.
std::optional<ResolvedModel> resolveModelOnly(const LoadedModel &Model, ProfileRegistry &Registry,
                                              DiagnosticEngine &Diags);

/// Runs every consistency check on a resolved model.
std::vector<Finding> checkModel(const ResolvedModel &R);

/// The per-layer type list named by \p Field: the explicit list, or the
/// schedule that generates it; nullopt when neither exists.
std::optional<std::vector<Json>> layerTypes(const ResolvedModel &R, const std::string &Field);

/// Returns the inspect report as JSON.
Json inspectModel(const ResolvedModel &R);

} // namespace rysc

#endif // RYSC_BACKENDS_MODELCHECK_H
