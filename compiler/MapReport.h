// Text rendering of the layer map and its seams, shared by `plan` and
// `apply`.
#ifndef RYSC_COMPILER_MAPREPORT_H
#define RYSC_COMPILER_MAPREPORT_H

#include "compiler/Ast.h"
#include "compiler/Diagnostics.h"
#include "compiler/LayerMap.h"

#include "llvm/Support/raw_ostream.h"

namespace rysc {

/// A maximal run of output layers whose sources are consecutive and which
/// are all originals or all copies of one statement's copy number.
struct MapRun {
  uint32_t FirstOut = 0;
  uint32_t LastOut = 0;
  uint32_t FirstSource = 0;
  std::optional<unsigned> Statement;
  uint32_t Copy = 0;
};

std::vector<MapRun> mapRuns(const LayerMap &Map);

/// Prints the map as runs ("out 0..19 <- src 0..19").
void printMap(llvm::raw_ostream &OS, const LayerMap &Map, const ast::Recipe &Recipe,
              DiagnosticEngine &Diags);

/// Prints each seam with the layer before, the first and last copy, and the
/// layer after.
void printSeams(llvm::raw_ostream &OS, const LayerMap &Map, const ast::Recipe &Recipe,
                DiagnosticEngine &Diags);

/// Describes a statement as "duplicate blocks[15:20] after (recipe.rys:2)".
std::string describeStatement(const ast::Recipe &Recipe, unsigned Index, DiagnosticEngine &Diags);

} // namespace rysc

#endif // RYSC_COMPILER_MAPREPORT_H
