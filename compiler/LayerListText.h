// Readable text for per-layer lists, shared by `plan` and `inspect`: layer
// ranges with one value each, and ranges that repeat a short cycle of values.
// The text is exact, and nothing is left out however long the list is.
#ifndef RYSC_COMPILER_LAYERLISTTEXT_H
#define RYSC_COMPILER_LAYERLISTTEXT_H

#include "compiler/Expr.h"
#include "compiler/Profile.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/Support/raw_ostream.h"

#include <cstdint>
#include <string>
#include <vector>

namespace rysc {

/// Consecutive layers First..Last that repeat Cycle, one value per layer.
/// A run of one value has a one-entry Cycle.
struct LayerSegment {
  uint32_t First = 0;
  uint32_t Last = 0;
  std::vector<Json> Cycle;

  uint32_t repeats() const {
    return static_cast<uint32_t>((Last - First + 1) / Cycle.size());
  }
};

/// The column at which plan and inspect wrap per-layer lists.
constexpr size_t ReportWidth = 100;

/// Maximum cycle length that segmentLayers looks for. It also bounds the
/// width of one segment's text.
constexpr size_t MaxCycleLength = 8;

/// Splits \p Values into runs of one value and cycles of 2 to
/// MaxCycleLength values repeated at least twice. It picks the fewest
/// segments. Among equal counts it prefers longer segments, and then cycles
/// in the order of the cycle that starts the list.
std::vector<LayerSegment> segmentLayers(llvm::ArrayRef<Json> Values);

/// Renders per-layer values as segments joined by "; " and wrapped into
/// lines of at most \p Width characters, e.g.
///   layers 0..19: 5 cycles of (3 layers: "linear_attention", 1 layer: "full_attention");
///   layer 20: "full_attention"
/// A segment longer than \p Width is broken after the commas inside its
/// cycle. Values whose JSON text exceeds 40 characters appear as #1, #2, ...,
/// and one line per such value follows, e.g. `#1 = {"attention": ...}`; those
/// lines hold the whole value, however long.
std::vector<std::string> describeLayerValues(llvm::ArrayRef<Json> Values, size_t Width);

/// Renders a list of layer numbers as ascending ranges, e.g.
/// "layers 1..3, 5, 9..11", wrapped like describeLayerValues. An empty list
/// is "no layers". Entries that are not integers are shown as JSON.
std::vector<std::string> describeLayerIndices(const Json &Indices, size_t Width);

/// Returns the segments as JSON: {"first", "last", "cycle", "repeats"}.
Json segmentsToJson(llvm::ArrayRef<LayerSegment> Segments);

/// Returns the meaning that profile \p P gives each distinct value of
/// \p Values, in order of first appearance, for per-layer \p Field. Values
/// without a meaning are left out.
std::vector<std::pair<Json, std::string>> valueMeanings(const Profile &P, llvm::StringRef Field,
                                                        llvm::ArrayRef<Json> Values);

/// Renders meanings as "true = a sliding-window layer, false = ...", wrapped
/// like describeLayerValues; no lines when there are none.
std::vector<std::string> describeMeanings(llvm::ArrayRef<std::pair<Json, std::string>> Meanings,
                                          size_t Width);

/// Prints \p Lines, the first after \p Prefix and the rest aligned under it.
void printIndented(llvm::raw_ostream &OS, llvm::StringRef Prefix,
                   const std::vector<std::string> &Lines);

/// Joins \p Items with \p Separator into lines of at most \p Width
/// characters. Every line but the last ends with the separator's mark. An
/// item longer than \p Width is broken after the commas of its ", ".
std::vector<std::string> wrapItems(const std::vector<std::string> &Items,
                                   llvm::StringRef Separator, size_t Width);

} // namespace rysc

#endif // RYSC_COMPILER_LAYERLISTTEXT_H
