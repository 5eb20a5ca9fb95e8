// A format-neutral view of a model on disk for the commands that read
// artifacts (verify, check, inspect): its config or metadata as JSON, where
// each tensor's bytes are, and the provenance record if rysc wrote it.
#ifndef RYSC_BACKENDS_MODELLOADER_H
#define RYSC_BACKENDS_MODELLOADER_H

#include "backends/gguf/GgufModel.h"
#include "backends/hf/HfModel.h"
#include "compiler/Compiler.h"

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace rysc {

/// The location, size and type of one tensor's bytes.
struct TensorLocation {
  std::string File;   ///< Path of the file that holds the bytes.
  uint64_t Offset = 0; ///< Absolute offset of the first byte.
  uint64_t Size = 0;
  std::string Type;    ///< Safetensors dtype, or the ggml type name.
  std::vector<uint64_t> Shape;
};

struct LoadedModel {
  enum class Format { HfFolder, Gguf };
  Format Kind = Format::HfFolder;
  std::string Path;
  ModelFacts Facts;
  std::map<std::string, TensorLocation> Tensors;
  std::optional<Json> Provenance;
  std::optional<hf::HfModel> Hf;
  std::optional<gguf::GgufModel> Gguf;

  /// The files that hold tensor data, with their sizes, for reports.
  std::vector<std::pair<std::string, uint64_t>> dataFiles() const;
};

/// Reads a Hugging Face folder or a GGUF file (headers only).
llvm::Expected<LoadedModel> loadModel(llvm::StringRef Path);

/// Reads the provenance record that rysc wrote into a model: `rysc.json` in a
/// folder, or the `rys.provenance` key of a GGUF file. Returns std::nullopt
/// when the model has none, and an error when the record is not a JSON object.
llvm::Expected<std::optional<Json>> readProvenance(const hf::HfModel &Model);
llvm::Expected<std::optional<Json>> readProvenance(const gguf::GgufModel &Model);

} // namespace rysc

#endif // RYSC_BACKENDS_MODELLOADER_H
