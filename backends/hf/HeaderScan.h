// A fast path for reading safetensors headers that are well formed.
//
// parseHeader's slow path builds a JSON document of each header before it
// checks it, which was about a third of `rysc plan`'s CPU samples (perf) on
// a checkpoint of 1,000 shards. The scanner here reads the same JSON as a
// stream of events and fills the tensor entries directly. It accepts only
// the plain form: every entry has exactly the keys dtype, shape and
// data_offsets, with the right value types, and no key repeats. On anything
// else it gives up, and parseHeader takes the slow path, whose messages name
// the problem.
#ifndef RYSC_BACKENDS_HF_HEADERSCAN_H
#define RYSC_BACKENDS_HF_HEADERSCAN_H

#include "backends/hf/Safetensors.h"

#include "llvm/ADT/StringRef.h"

#include <nlohmann/json.hpp>

#include <vector>

namespace rysc::safetensors {

/// Reads \p HeaderJson into \p Tensors (in file order, with Name, DType,
/// Shape, Begin and End set) and \p Metadata (keys sorted by name, null when
/// absent). Returns false, leaving the outputs unspecified, when the JSON is
/// malformed, not in the plain form, names an unknown dtype or repeats a
/// key. Offsets and sizes are not checked here.
bool scanPlainHeader(llvm::StringRef HeaderJson,
                     std::vector<TensorEntry> &Tensors,
                     nlohmann::ordered_json &Metadata);

} // namespace rysc::safetensors

#endif // RYSC_BACKENDS_HF_HEADERSCAN_H
