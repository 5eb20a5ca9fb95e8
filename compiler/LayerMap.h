// The output→source layer map: the one computation of where every output
// layer comes from. Tensor names, per-layer config fields, provenance and
// verification all read this map and nothing else.
#ifndef RYSC_COMPILER_LAYERMAP_H
#define RYSC_COMPILER_LAYERMAP_H

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>
#include <optional>
#include <vector>

namespace rysc {

/// A layer statement after checking: a half-open window of source layers.
struct LayerEdit {
  enum class Kind { Duplicate, Drop };
  Kind Action = Kind::Duplicate;
  uint32_t Begin = 0;
  uint32_t End = 0;
  bool Before = false;   ///< Duplicate only: insert before Begin, not after End - 1.
  uint32_t Times = 1;    ///< Duplicate only: number of consecutive copies.
  unsigned Statement = 0; ///< Index of the statement, for origins and seams.
};

/// The origin of one output layer.
struct OutputLayer {
  uint32_t Source = 0;
  /// The duplicate statement that made this copy, or nullopt for an original.
  std::optional<unsigned> Statement;
  uint32_t Copy = 0; ///< 0-based copy number within the statement's `times`.

  bool isCopy() const { return Statement.has_value(); }
};

/// One inserted run of copies and its neighbours in the output.
struct Seam {
  unsigned Statement = 0;
  uint32_t FirstCopy = 0; ///< Output index of the first copy.
  uint32_t LastCopy = 0;  ///< Output index of the last copy.
  std::optional<uint32_t> Before; ///< Output index just before, if any.
  std::optional<uint32_t> After;  ///< Output index just after, if any.
};

class LayerMap {
public:
  /// Builds the map of \p SourceCount layers under \p Edits. The edits must
  /// already be checked: windows in range and non-empty, no drop overlapping
  /// a duplicated window.
  static LayerMap build(uint32_t SourceCount, llvm::ArrayRef<LayerEdit> Edits);

  uint32_t sourceCount() const { return SourceCount; }
  uint32_t outputCount() const { return static_cast<uint32_t>(Layers.size()); }
  const OutputLayer &operator[](uint32_t Out) const { return Layers[Out]; }
  llvm::ArrayRef<OutputLayer> layers() const { return Layers; }
  llvm::ArrayRef<Seam> seams() const { return Seams; }

  /// Returns m: the source index of every output layer, in output order.
  std::vector<uint32_t> sources() const;

  /// True when the map is the identity (nothing inserted or removed).
  bool isIdentity() const;

private:
  uint32_t SourceCount = 0;
  std::vector<OutputLayer> Layers;
  std::vector<Seam> Seams;
};

/// Returns, for each source layer, the output layers made from it: the
/// original (the output no duplicate statement made) first, then the
/// copies in output order. A source layer whose outputs are all copies
/// lists them in output order. \p ExtraLayers more entries follow the
/// source layers, one output each, numbered after the new trunk (inline
/// extra stacks such as an MTP layer).
std::vector<std::vector<uint32_t>> layerOutputs(const LayerMap &Map, uint32_t ExtraLayers);

} // namespace rysc

#endif // RYSC_COMPILER_LAYERMAP_H
