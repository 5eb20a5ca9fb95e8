// The legacy llama.cpp importance-matrix format (.dat) and its remapping.
//
// Layout, all little-endian:
//   i32 entry count (at least 1)
//   per entry: i32 name length, the name bytes (no NUL), i32 ncall,
//              i32 nval, nval float32 values
//   optional trailer: i32 chunk count, i32 dataset-name length, the name
#ifndef RYSC_BACKENDS_GGUF_IMATRIX_H
#define RYSC_BACKENDS_GGUF_IMATRIX_H

#include "compiler/LayerMap.h"

#include "llvm/Support/Error.h"

#include <string>
#include <vector>

namespace rysc::imatrix {

/// Entries above this count are not a plausible imatrix.
constexpr uint32_t MaxEntries = 1u << 20;

struct Entry {
  std::string Name;
  int32_t CallCount = 0;
  std::string Values; ///< nval float32 values as stored.
};

struct DatFile {
  std::vector<Entry> Entries;
  std::string Trailer; ///< Bytes after the last entry, kept as they are.
};

/// Parses a legacy imatrix. Errors name \p Path and the entry at fault.
llvm::Expected<DatFile> parseDat(llvm::StringRef Path, llvm::StringRef Bytes);

/// Returns the layer count implied by "blk.N." entry names (highest N + 1).
uint32_t layerCount(const DatFile &File);

/// Renames entries through \p Map: each output block takes its source
/// block's statistics, blocks past the trunk move after the new trunk, and
/// other entries stay. Entries are sorted by name, as llama-imatrix writes
/// them.
DatFile remap(const DatFile &File, const LayerMap &Map);

std::string serialize(const DatFile &File);

} // namespace rysc::imatrix

#endif // RYSC_BACKENDS_GGUF_IMATRIX_H
