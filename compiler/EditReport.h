// Text rendering of config edits, shared by every backend's plan report.
#ifndef RYSC_COMPILER_EDITREPORT_H
#define RYSC_COMPILER_EDITREPORT_H

#include "compiler/Compiler.h"

#include "llvm/Support/raw_ostream.h"

namespace rysc {

/// Prints every config edit (old -> new, with the reason) and the kept
/// fields. Per-layer lists are shown whole, as layer ranges with values.
void printEdits(llvm::raw_ostream &OS, llvm::StringRef ConfigName, const Compilation &C);

} // namespace rysc

#endif // RYSC_COMPILER_EDITREPORT_H
