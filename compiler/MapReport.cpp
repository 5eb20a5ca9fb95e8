// Text rendering of the layer map and its seams.
#include "compiler/MapReport.h"

#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"

namespace rysc {

std::vector<MapRun> mapRuns(const LayerMap &Map) {
  std::vector<MapRun> Runs;
  for (uint32_t Out = 0; Out < Map.outputCount(); ++Out) {
    const OutputLayer &Layer = Map[Out];
    if (!Runs.empty()) {
      MapRun &Last = Runs.back();
      bool Continues = Last.LastOut + 1 == Out &&
                       Last.FirstSource + (Out - Last.FirstOut) == Layer.Source &&
                       Last.Statement == Layer.Statement && Last.Copy == Layer.Copy;
      if (Continues) {
        Last.LastOut = Out;
        continue;
      }
    }
    Runs.push_back({Out, Out, Layer.Source, Layer.Statement, Layer.Copy});
  }
  return Runs;
}

std::string describeStatement(const ast::Recipe &Recipe, unsigned Index, DiagnosticEngine &Diags) {
  const ast::Stmt &S = Recipe.Statements[Index];
  llvm::StringRef Text(S.Range.Start.getPointer(), S.Range.End.getPointer() - S.Range.Start.getPointer());
  Text = Text.rtrim(";").rtrim();
  auto [Line, Column] = Diags.lineAndColumn(S.Range.Start);
  llvm::StringRef File =
      Diags.sourceMgr().getMemoryBuffer(Recipe.BufferId)->getBufferIdentifier();
  return (Text + " (" + File + ":" + llvm::Twine(Line) + ")").str();
}

static std::string span(uint32_t First, uint32_t Last) {
  if (First == Last)
    return std::to_string(First);
  return std::to_string(First) + ".." + std::to_string(Last);
}

void printMap(llvm::raw_ostream &OS, const LayerMap &Map, const ast::Recipe &Recipe,
              DiagnosticEngine &Diags) {
  for (const MapRun &Run : mapRuns(Map)) {
    std::string Out = "out " + span(Run.FirstOut, Run.LastOut);
    std::string Source =
        "src " + span(Run.FirstSource, Run.FirstSource + (Run.LastOut - Run.FirstOut));
    OS << "  " << llvm::left_justify(Out, 14) << " <- ";
    if (Run.Statement)
      OS << llvm::left_justify(Source, 12) << "  copy " << (Run.Copy + 1) << " of "
         << describeStatement(Recipe, *Run.Statement, Diags);
    else
      OS << Source;
    OS << "\n";
  }
}

static void printNeighbour(llvm::raw_ostream &OS, const LayerMap &Map,
                           std::optional<uint32_t> Out, llvm::StringRef Role) {
  if (!Out) {
    OS << "    " << llvm::left_justify("(none)", 16) << "  " << Role << "\n";
    return;
  }
  std::string Text = "out " + std::to_string(*Out) + " <- " + std::to_string(Map[*Out].Source);
  OS << "    " << llvm::left_justify(Text, 16) << "  " << Role << "\n";
}

void printSeams(llvm::raw_ostream &OS, const LayerMap &Map, const ast::Recipe &Recipe,
                DiagnosticEngine &Diags) {
  if (Map.seams().empty()) {
    OS << "  (no copies inserted)\n";
    return;
  }
  for (const Seam &S : Map.seams()) {
    OS << "  " << describeStatement(Recipe, S.Statement, Diags) << "\n";
    printNeighbour(OS, Map, S.Before, "last layer before the copy");
    printNeighbour(OS, Map, S.FirstCopy, "first copy");
    printNeighbour(OS, Map, S.LastCopy, "last copy");
    printNeighbour(OS, Map, S.After, "first layer after the copy");
  }
}

} // namespace rysc
