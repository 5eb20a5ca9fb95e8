// A fast path for reading model.safetensors.index.json.
//
// An index lists one weight_map entry per tensor: 10 MB for 100,000
// tensors. Parsed into a JSON document, those entries cost a sorted map
// node and two strings each: about 14 % of `rysc plan`'s CPU samples (perf)
// on such a checkpoint. The scanner here streams the index, keeps
// weight_map as a flat list, and builds a document only for the other keys
// (metadata).
#ifndef RYSC_BACKENDS_HF_INDEXSCAN_H
#define RYSC_BACKENDS_HF_INDEXSCAN_H

#include "llvm/ADT/StringRef.h"

#include <nlohmann/json.hpp>

#include <string>
#include <utility>
#include <vector>

namespace rysc::hf {

/// An index with its weight_map taken out.
struct IndexContents {
  /// Every key of the index but weight_map.
  nlohmann::json Rest = nlohmann::json::object();
  /// weight_map's entries, tensor name and shard file name, in file order.
  std::vector<std::pair<std::string, std::string>> WeightMap;
};

/// Reads \p Text, a whole index, into \p Out. Returns false when the text is
/// not a JSON object whose weight_map is an object of strings: the caller
/// then parses it as a document and reports what is wrong.
bool scanIndex(llvm::StringRef Text, IndexContents &Out);

} // namespace rysc::hf

#endif // RYSC_BACKENDS_HF_INDEXSCAN_H
