// Reads, validates and writes safetensors headers.
//
// On-disk layout of a .safetensors file (integers little-endian):
//
//   offset 0       u64   N, the length of the JSON header in bytes
//   offset 8       N     a UTF-8 JSON object; writers pad it with spaces
//   offset 8 + N   ...   the data section, raw tensor bytes
//
// The JSON object maps each tensor name to
//   {"dtype": "F32", "shape": [2, 3], "data_offsets": [Begin, End]}
// where Begin and End are byte offsets relative to the start of the data
// section. An optional "__metadata__" entry maps strings to strings. The
// tensors' ranges cover the data section exactly, with no gap or overlap.
#ifndef RYSC_BACKENDS_HF_SAFETENSORS_H
#define RYSC_BACKENDS_HF_SAFETENSORS_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace rysc::safetensors {

/// The largest JSON header accepted, the same 100 MB limit as
/// MAX_HEADER_SIZE in the safetensors Rust crate.
constexpr uint64_t MaxHeaderSize = 100'000'000;

/// A dtype name and its size in bits per element.
struct DTypeInfo {
  llvm::StringRef Name;
  unsigned Bits;
};

/// Returns the dtype called \p Name, or nullptr if safetensors has no such
/// dtype.
const DTypeInfo *lookupDType(llvm::StringRef Name);

/// One tensor as listed in a header.
struct TensorEntry {
  std::string Name;
  std::string DType;
  std::vector<uint64_t> Shape;
  /// Byte offsets relative to the start of the data section.
  uint64_t Begin = 0, End = 0;
};

/// A validated header.
struct Header {
  std::string Path;
  uint64_t FileSize = 0;
  /// Absolute offset of the data section: 8 plus the JSON header length.
  uint64_t DataStart = 0;
  /// The "__metadata__" object with its keys sorted by name, or null when
  /// the header has none.
  nlohmann::ordered_json Metadata;
  /// Every tensor, sorted by Begin.
  std::vector<TensorEntry> Tensors;

  uint64_t dataSize() const { return FileSize - DataStart; }
};

/// Reads and validates the header of the safetensors file at \p Path. Only
/// the length field and the JSON header are read, never tensor data.
llvm::Expected<Header> readHeader(llvm::StringRef Path);

/// Validates \p HeaderJson, the N JSON bytes of a file of \p FileSize bytes
/// at \p Path. \p Path is used only in error messages.
llvm::Expected<Header> parseHeader(llvm::StringRef Path,
                                   llvm::StringRef HeaderJson,
                                   uint64_t FileSize);

namespace detail {
/// The slow path of parseHeader: builds a JSON document and checks it,
/// filling \p Result's Tensors (in name order) and Metadata. parseHeader
/// takes it only when its fast path rejects a header; tests and the fuzzer
/// call it directly to compare the two.
llvm::Error parseHeaderThroughDom(llvm::StringRef Path,
                                  llvm::StringRef HeaderJson, Header &Result);
} // namespace detail

/// Appends \p Text to \p Out as a JSON string, escaped exactly as
/// nlohmann::json::dump() escapes it. \p Text must be valid UTF-8.
void appendJsonString(std::string &Out, llvm::StringRef Text);

/// One tensor of a header to be written.
struct OutputTensor {
  std::string Name;
  std::string DType;
  std::vector<uint64_t> Shape;
  /// Data size in bytes, which must equal the dtype's bits times the element
  /// count of Shape, divided by 8.
  uint64_t Size = 0;
};

/// Returns the complete header bytes: the 8-byte little-endian length, the
/// JSON, then spaces so the data section starts at a multiple of 8. Tensors
/// get contiguous data_offsets in the given order. "__metadata__" comes
/// first and is omitted when \p Metadata is null. Tensor names must be
/// distinct, and all names and metadata strings must be valid UTF-8, as they
/// are after parseHeader.
std::string buildHeader(const nlohmann::ordered_json &Metadata,
                        llvm::ArrayRef<OutputTensor> Tensors);

/// The alignment of the data section that buildHeader keeps.
constexpr uint64_t DataAlignment = 8;

/// Updates the length field of \p Header, a result of buildHeader, so that
/// the data section starts at \p DataStart, at least Header.size(). The
/// caller writes DataStart - Header.size() spaces after it, which the
/// format allows after the JSON object.
void setDataStart(std::string &Header, uint64_t DataStart);

} // namespace rysc::safetensors

#endif // RYSC_BACKENDS_HF_SAFETENSORS_H
