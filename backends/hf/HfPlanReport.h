// Rendering a Hugging Face plan for `rysc plan`, as text or as JSON.
#ifndef RYSC_BACKENDS_HF_HFPLANREPORT_H
#define RYSC_BACKENDS_HF_HFPLANREPORT_H

#include "backends/hf/HfPlanner.h"
#include "compiler/Expr.h"

#include "llvm/Support/raw_ostream.h"

namespace rysc::hf {

/// Prints the output side of the plan: edits, fields, shards, layers and
/// files. The map and seams are printed by the caller.
void printPlanText(llvm::raw_ostream &OS, const HfModel &Model, const Compilation &C,
                   const HfPlan &Plan);

/// Returns the output side of the plan as JSON (the "output" member of the
/// plan document described in docs/architecture.md).
Json planToJson(const HfPlan &Plan);

/// Formats a byte count with thousands separators and a binary unit.
std::string formatBytes(uint64_t Bytes);

/// Returns \p Count and \p Noun, with an "s" unless \p Count is 1:
/// "1 tensor", "0 tensors".
std::string formatCount(uint64_t Count, llvm::StringRef Noun);

} // namespace rysc::hf

#endif // RYSC_BACKENDS_HF_HFPLANREPORT_H
