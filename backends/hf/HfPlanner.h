// Planning a Hugging Face output folder: which tensor goes to which output
// shard under which name, the exact header bytes, the rewritten config and
// index, and the files copied whole.
#ifndef RYSC_BACKENDS_HF_HFPLANNER_H
#define RYSC_BACKENDS_HF_HFPLANNER_H

#include "backends/CopyAlignment.h"
#include "backends/Plan.h"
#include "backends/hf/HfModel.h"
#include "compiler/Compiler.h"

#include <optional>
#include <string>
#include <vector>

namespace rysc::hf {

struct HfPlanOptions {
  /// Tensor bytes per output shard; by default the source's largest shard,
  /// or one file when the source is a single model.safetensors.
  std::optional<uint64_t> MaxShardSize;
  /// The provenance record, written as rysc.json.
  std::string ProvenanceJson;
  /// Copied bytes keep their source offset modulo this many bytes where a
  /// shard's header can absorb the shift (CopyAlignment.h); 0 turns it off.
  uint64_t CopyAlignment = DefaultCopyAlignment;
};

/// One output tensor and its source bytes.
struct PlannedTensor {
  std::string Name;
  std::string SourceName;
  unsigned SourceShard = 0;
  const safetensors::TensorEntry *Entry = nullptr;
  /// Output layer, or nullopt for a tensor outside the decoder stack.
  std::optional<uint32_t> OutputLayer;
  uint64_t size() const { return Entry->End - Entry->Begin; }
};

struct OutputShard {
  std::string Name;
  std::vector<PlannedTensor> Tensors;
  uint64_t DataSize = 0;
  uint64_t FileSize = 0;
  /// Spaces added to the header so that copies keep their source offset
  /// modulo the copy alignment.
  uint64_t AlignmentPadding = 0;
};

/// The tensors one output layer receives.
struct LayerPlan {
  uint32_t Out = 0;
  uint32_t Source = 0;
  bool Copy = false;
  uint64_t Tensors = 0;
  uint64_t Bytes = 0;
};

/// The complete plan for one Hugging Face output folder.
struct HfPlan {
  WritePlan Write;
  std::vector<OutputShard> Shards;
  std::vector<LayerPlan> Layers;
  uint64_t GlobalTensors = 0;
  uint64_t GlobalBytes = 0;
  uint64_t TotalTensorBytes = 0;
  uint64_t TotalParameters = 0;
  uint64_t MaxShardSize = 0;
  bool WritesIndex = false;
  bool ConfigRewritten = false;
  /// Files copied whole and their sizes.
  std::vector<std::pair<std::string, uint64_t>> CopiedFiles;
  std::vector<std::string> Warnings;
};

/// Builds the plan. Reads nothing beyond what \p Model already holds.
llvm::Expected<HfPlan> planHf(const HfModel &Model, const Compilation &C,
                              const HfPlanOptions &Options);

} // namespace rysc::hf

#endif // RYSC_BACKENDS_HF_HFPLANNER_H
