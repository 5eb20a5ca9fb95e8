// The command-line option table of rysc and its parser. Help text is
// generated from the same table.
#ifndef RYSC_DRIVER_OPTIONS_H
#define RYSC_DRIVER_OPTIONS_H

#include "backends/CopyAlignment.h"

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"
#include "llvm/Support/raw_ostream.h"

#include <optional>
#include <string>
#include <vector>

namespace rysc::driver {

struct Options {
  std::string Command;
  std::vector<std::string> Positional;
  std::optional<uint32_t> Layers;
  std::string Format = "text";
  std::optional<uint64_t> MaxShardSize;
  std::optional<uint64_t> SplitMaxSize;
  uint64_t CopyAlignment = DefaultCopyAlignment;
  unsigned Jobs = 0;
  bool Force = false;
  bool Strict = false;
  bool Verbose = false;
  bool Help = false;
  bool Version = false;
};

/// Parses argv. Errors are usage errors (exit status 2).
llvm::Expected<Options> parseOptions(llvm::ArrayRef<const char *> Args);

void printHelp(llvm::raw_ostream &OS);

/// Parses a size such as "5GB", "512MiB", "4k" or "1000000". Units with an
/// "i", and K, M, G and T alone, are powers of 1024; KB, MB, GB and TB are
/// powers of 1000. Case does not matter.
std::optional<uint64_t> parseSize(llvm::StringRef Text);

} // namespace rysc::driver

#endif // RYSC_DRIVER_OPTIONS_H
