// Reading a Hugging Face checkpoint folder for planning: config.json, the
// safetensors index and every shard header, never tensor data.
#ifndef RYSC_BACKENDS_HF_HFMODEL_H
#define RYSC_BACKENDS_HF_HFMODEL_H

#include "backends/hf/Safetensors.h"
#include "compiler/Compiler.h"

#include "llvm/Support/Error.h"

#include <optional>
#include <string>
#include <vector>

namespace rysc::hf {

/// One safetensors file of the source.
struct Shard {
  std::string Name; ///< File name inside the folder.
  safetensors::Header Header;
};

/// A tensor of the source and where its bytes are.
struct SourceTensor {
  std::string Name;
  unsigned Shard = 0; ///< Index into HfModel::Shards.
  const safetensors::TensorEntry *Entry = nullptr;
};

/// Everything planning needs from a checkpoint folder.
struct HfModel {
  std::string Dir;          ///< As given by the user.
  std::string RealDir;      ///< Absolute, symlinks resolved.
  Json Config;
  std::string ConfigText; ///< config.json as read, for byte-preserving edits.
  /// model.safetensors.index.json without its weight_map, when sharded.
  std::optional<nlohmann::json> Index;
  std::vector<Shard> Shards; ///< In index order (sorted file names).
  std::vector<SourceTensor> Tensors; ///< Shard by shard, in data-offset order.
  /// Files copied whole, relative to the folder, sorted.
  std::vector<std::string> OtherFiles;
  /// Files not copied, with the reason, for the plan's warnings.
  std::vector<std::pair<std::string, std::string>> SkippedFiles;

  ModelFacts facts() const;
  uint64_t largestShardDataSize() const;
};

/// Reads \p Dir. Errors name the file and what is wrong with it.
llvm::Expected<HfModel> readHfModel(llvm::StringRef Dir);

/// True when \p Dir looks like a Hugging Face folder (has config.json).
bool isHfModelDir(llvm::StringRef Dir);

} // namespace rysc::hf

#endif // RYSC_BACKENDS_HF_HFMODEL_H
