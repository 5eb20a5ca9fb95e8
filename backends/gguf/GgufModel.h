// Reading a GGUF model (one file or a split set) for planning, and the JSON
// view of its metadata that the analysis sees as the model's config.
#ifndef RYSC_BACKENDS_GGUF_GGUFMODEL_H
#define RYSC_BACKENDS_GGUF_GGUFMODEL_H

#include "backends/gguf/Gguf.h"
#include "compiler/Compiler.h"

#include <string>
#include <vector>

namespace rysc::gguf {

/// A tensor of the source and the part that holds it.
struct SourceTensor {
  unsigned Part = 0;
  const TensorInfo *Info = nullptr;
};

struct GgufModel {
  std::string Path;               ///< As given (the first part of a split set).
  std::vector<std::string> PartPaths;
  std::vector<File> Parts;
  std::vector<SourceTensor> Tensors; ///< Part by part, in file order.
  std::string Arch;               ///< general.architecture; empty for an imatrix.
  bool IsImatrix = false;         ///< general.type == "imatrix".

  const File &first() const { return Parts.front(); }
  /// The metadata as nested JSON ("a.b.c" becomes {"a": {"b": {"c": ...}}}),
  /// for the keys of general.* and of the architecture.
  ModelFacts facts() const;
};

/// Reads \p Path and, when it is the first part of a split set, the other
/// parts. Reads headers only.
llvm::Expected<GgufModel> readGgufModel(llvm::StringRef Path);

/// True when the file at \p Path starts with the GGUF magic.
bool isGgufFile(llvm::StringRef Path);

/// Converts a metadata value to JSON: integers, floats, bools, strings and
/// arrays of them.
Json toJson(const Value &V);

/// Converts \p New to a value of the same type as \p Old (for arrays, the
/// same element type). Errors name the key and the value that does not fit.
llvm::Expected<Value> fromJsonLike(const Json &New, const Value &Old, llvm::StringRef Key);

/// Converts \p New for a key the source does not have. \p StorageType is a
/// field's storage option ("bool", "int32", "uint32", "float32") or empty.
llvm::Expected<Value> fromJsonNew(const Json &New, llvm::StringRef StorageType,
                                  llvm::StringRef Key);

} // namespace rysc::gguf

#endif // RYSC_BACKENDS_GGUF_GGUFMODEL_H
