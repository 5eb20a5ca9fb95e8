// Text rendering of config edits, shared by every backend's plan report.
#ifndef RYSC_COMPILER_EDITREPORT_H
#define RYSC_COMPILER_EDITREPORT_H

#include "compiler/Compiler.h"

#include "llvm/Support/raw_ostream.h"

namespace rysc {

/// Prints every config edit (old -> new, with the reason) and the kept
/// fields. Per-layer lists are shown whole, as layer ranges with values.
void printEdits(llvm::raw_ostream &OS, llvm::StringRef ConfigName, const Compilation &C);

/// Renders a per-layer list as one letter per layer in groups of ten, with
/// a legend, when it has at most 26 distinct values; nullopt otherwise.
std::optional<std::string> compactLayers(const Json &List);

/// Renders one letter per layer as repeated groups, e.g. "(L L L F) x16".
std::string periodicForm(llvm::StringRef Letters);

} // namespace rysc

#endif // RYSC_COMPILER_EDITREPORT_H
