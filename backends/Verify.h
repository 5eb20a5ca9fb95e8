// `rysc verify`: checks an output artifact against the recipe and its
// source, reading the output independently of the planner.
#ifndef RYSC_BACKENDS_VERIFY_H
#define RYSC_BACKENDS_VERIFY_H

#include "backends/ModelLoader.h"
#include "compiler/Compiler.h"
#include "compiler/Provenance.h"

#include <string>
#include <vector>

namespace rysc {

/// One verification step and its outcome.
struct VerifyResult {
  std::string Check;   ///< Short name, e.g. "tensor-bytes".
  bool Passed = true;
  std::vector<std::string> Failures; ///< One line each; empty when passed.
  std::string Summary; ///< What was checked, e.g. "1,263 tensors".
};

struct VerifyOptions {
  unsigned Jobs = 0; ///< Hashing threads; 0 = the core count.
};

/// Runs every check of \p Out against \p Source under \p C, the recipe
/// compiled on the source. Files that cannot be read are failures, not
/// errors, so that one report lists everything.
std::vector<VerifyResult> verifyOutput(const LoadedModel &Source, const LoadedModel &Out,
                                       const Compilation &C, const RecipeSource &Recipe,
                                       const VerifyOptions &Options);

/// Computes the SHA-256 of every listed tensor, in parallel, reading each
/// file range once in bounded chunks. Missing or short files give an error
/// string in place of a hash.
std::vector<std::string> hashTensors(const std::vector<const TensorLocation *> &Tensors,
                                     unsigned Jobs);

} // namespace rysc

#endif // RYSC_BACKENDS_VERIFY_H
