// The stdlib profile files embedded into the binary at build time.
#ifndef RYSC_COMPILER_STDLIB_H
#define RYSC_COMPILER_STDLIB_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"

namespace rysc {

/// One embedded file of stdlib/: its base name and its text.
struct StdlibFile {
  llvm::StringRef Name;
  llvm::StringRef Text;
};

/// Returns every stdlib file, sorted by name.
llvm::ArrayRef<StdlibFile> stdlibFiles();

} // namespace rysc

#endif // RYSC_COMPILER_STDLIB_H
