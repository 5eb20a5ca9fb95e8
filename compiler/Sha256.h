// SHA-256 (FIPS 180-4) for hashing tensor bytes and recipes.
//
// verify hashes every byte of a source and an output checkpoint, so the
// hash must keep up with the disk. On x86-64 CPUs with the SHA extensions
// the block function uses them, which made verify four times faster than
// with LLVM's portable SHA256 (docs/benchmarks.md). Elsewhere a portable
// block function runs.
#ifndef RYSC_COMPILER_SHA256_H
#define RYSC_COMPILER_SHA256_H

#include "llvm/ADT/StringRef.h"

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

namespace rysc {

/// A streaming SHA-256 hash.
class Sha256 {
public:
  using Digest = std::array<uint8_t, 32>;

  Sha256();

  /// Adds \p Size bytes at \p Data to the message.
  void update(const void *Data, size_t Size);
  void update(llvm::StringRef Data) { update(Data.data(), Data.size()); }

  /// Returns the digest of everything added. The object must not be used
  /// afterwards.
  Digest final();

  /// Returns the digest of \p Data as 64 lowercase hexadecimal digits.
  static std::string hex(llvm::StringRef Data);

  /// Returns \p Value as 64 lowercase hexadecimal digits.
  static std::string toHex(const Digest &Value);

  /// True when this CPU runs the SHA-extension block function.
  static bool usesShaExtensions();

  /// Runs the portable block function even on CPUs with the SHA extensions,
  /// so that tests can compare the two.
  static void forcePortable(bool Enable);

private:
  std::array<uint32_t, 8> State;
  std::array<uint8_t, 64> Pending;
  size_t PendingSize = 0;
  uint64_t TotalSize = 0;
};

} // namespace rysc

#endif // RYSC_COMPILER_SHA256_H
