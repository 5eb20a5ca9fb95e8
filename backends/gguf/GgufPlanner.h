// Planning GGUF outputs: new metadata (edited keys keep their types, every
// other key its bytes), renamed block tensors copied with their quantized
// bytes unchanged, and the same number of split parts as the source.
#ifndef RYSC_BACKENDS_GGUF_GGUFPLANNER_H
#define RYSC_BACKENDS_GGUF_GGUFPLANNER_H

#include "backends/CopyAlignment.h"
#include "backends/Plan.h"
#include "backends/gguf/GgufModel.h"
#include "compiler/Compiler.h"

#include <optional>
#include <string>
#include <vector>

namespace rysc::gguf {

struct GgufPlanOptions {
  std::string ProvenanceJson; ///< Stored as rys.provenance.
  /// Maximum tensor bytes (with padding) per output part; by default the
  /// output has as many parts as the source.
  std::optional<uint64_t> SplitMaxSize;
  /// Copied bytes keep their source offset modulo this many bytes where a
  /// rys.padding key can absorb the shift (CopyAlignment.h); 0 turns it off.
  uint64_t CopyAlignment = DefaultCopyAlignment;
};

/// One output part.
struct OutputPart {
  std::string Name;
  unsigned Tensors = 0;
  uint64_t FileSize = 0;
  /// Header bytes added (the rys.padding key) so that copies keep their
  /// source offset modulo the copy alignment.
  uint64_t AlignmentPadding = 0;
};

struct GgufPlan {
  WritePlan Write;
  std::vector<OutputPart> Parts;
  std::vector<std::string> ChangedKeys; ///< Keys whose value changed or was added.
  uint64_t TensorBytes = 0;
  std::vector<std::string> Warnings;
};

/// Plans the output of \p C for \p Model. \p OutName is the output file's
/// name (no folder); split outputs are named after its stem.
llvm::Expected<GgufPlan> planGguf(const GgufModel &Model, const Compilation &C,
                                  llvm::StringRef OutName, const GgufPlanOptions &Options);

/// The trunk layer count of an imatrix: one more than the highest block
/// number its entries name.
uint32_t imatrixLayerCount(const GgufModel &Model);

} // namespace rysc::gguf

#endif // RYSC_BACKENDS_GGUF_GGUFPLANNER_H
