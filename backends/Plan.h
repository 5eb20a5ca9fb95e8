// The write plan: the complete, format-free description of an output folder.
//
// A backend turns a layer map into a WritePlan; the executor carries it out
// byte for byte and knows nothing of safetensors, GGUF or recipes. Every
// output file is its Prefix (header bytes, or the whole content of a small
// file) followed by byte ranges copied from sources, zeros or more bytes of
// its own, or a whole source file copied as is.
#ifndef RYSC_BACKENDS_PLAN_H
#define RYSC_BACKENDS_PLAN_H

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace rysc {

/// The CopyRange::Source value that writes zero bytes instead of copying,
/// for padding between tensors.
constexpr uint32_t ZeroFill = UINT32_MAX;

/// The CopyRange::Source value that writes bytes of PlannedFile::Inline,
/// for header bytes that follow a range copied from a source (a GGUF header
/// around a tokenizer array that is copied, not loaded).
constexpr uint32_t InlineBytes = UINT32_MAX - 1;

/// The CopyRange::Source value that writes spaces, for the padding after a
/// safetensors header and inside a GGUF header's rys.padding string, which
/// would otherwise be held in memory for every file until it is written.
constexpr uint32_t SpaceFill = UINT32_MAX - 2;

/// One byte range copied from a source file into an output file.
struct CopyRange {
  /// Index into WritePlan::Sources, ZeroFill, SpaceFill or InlineBytes.
  uint32_t Source = 0;
  /// Absolute offset in the source file, or in PlannedFile::Inline.
  uint64_t SourceOffset = 0;
  uint64_t Length = 0;
  uint64_t OutputOffset = 0; ///< Absolute offset in the output file.
};

/// One output file.
struct PlannedFile {
  /// Path relative to the output folder, '/'-separated, never absolute and
  /// never containing "..".
  std::string Path;

  /// Bytes written at offset 0: a header, or the whole content of a small
  /// generated file such as config.json.
  std::string Prefix;

  /// Bytes that InlineBytes ranges write.
  std::string Inline;

  /// Ranges in ascending OutputOffset order. They start at Prefix.size() and
  /// follow each other with no gap.
  std::vector<CopyRange> Copies;

  /// Byte ranges (OutputOffset and Length) set to zero after every copy is
  /// written. A copy may carry the source's padding between two tensors so
  /// that both move in one call; the padding is then zeroed here.
  std::vector<CopyRange> ZerosAfter;

  /// When set, the file is this source file copied whole; Prefix and Copies
  /// are empty.
  std::optional<uint32_t> WholeSource;

  /// The exact final size, checked by the executor after writing.
  uint64_t Size = 0;
};

/// Everything the executor needs to produce an output folder.
struct WritePlan {
  /// Absolute paths of the input files. They are opened read-only.
  std::vector<std::string> Sources;
  std::vector<PlannedFile> Files;
};

} // namespace rysc

#endif // RYSC_BACKENDS_PLAN_H
