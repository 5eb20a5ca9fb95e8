// Rendering a Hugging Face plan as text or JSON.
#include "backends/hf/HfPlanReport.h"
#include "compiler/EditReport.h"
#include "compiler/MapReport.h"

#include "llvm/Support/Format.h"

#include <algorithm>
#include <cctype>

namespace rysc::hf {

std::string formatCount(uint64_t Count, llvm::StringRef Noun) {
  return std::to_string(Count) + " " + Noun.str() + (Count == 1 ? "" : "s");
}

std::string formatBytes(uint64_t Bytes) {
  std::string Digits = std::to_string(Bytes);
  std::string Grouped;
  for (size_t Index = 0; Index < Digits.size(); ++Index) {
    if (Index > 0 && (Digits.size() - Index) % 3 == 0)
      Grouped += ',';
    Grouped += Digits[Index];
  }
  const char *Units[] = {"KiB", "MiB", "GiB", "TiB"};
  double Value = static_cast<double>(Bytes);
  int Unit = -1;
  while (Value >= 1024 && Unit < 3) {
    Value /= 1024;
    ++Unit;
  }
  if (Unit < 0)
    return Grouped + " bytes";
  char Buffer[32];
  std::snprintf(Buffer, sizeof(Buffer), "%.1f %s", Value, Units[Unit]);
  return Grouped + " bytes (" + Buffer + ")";
}

namespace {

void printLayers(llvm::raw_ostream &OS, const Compilation &C, const HfPlan &Plan) {
  OS << "tensors by output layer (" << C.Stack.Prefix << ".N.*):\n";
  size_t Index = 0;
  while (Index < Plan.Layers.size()) {
    // Group runs that move together and carry the same tensor count.
    size_t End = Index + 1;
    while (End < Plan.Layers.size() && Plan.Layers[End].Copy == Plan.Layers[Index].Copy &&
           Plan.Layers[End].Source == Plan.Layers[End - 1].Source + 1 &&
           Plan.Layers[End].Out == Plan.Layers[End - 1].Out + 1)
      ++End;
    const LayerPlan &First = Plan.Layers[Index];
    const LayerPlan &Last = Plan.Layers[End - 1];
    uint64_t Tensors = 0, Bytes = 0;
    for (size_t K = Index; K < End; ++K) {
      Tensors += Plan.Layers[K].Tensors;
      Bytes += Plan.Layers[K].Bytes;
    }
    std::string Out = First.Out == Last.Out ? std::to_string(First.Out)
                                            : std::to_string(First.Out) + ".." + std::to_string(Last.Out);
    std::string Src = First.Source == Last.Source
                          ? std::to_string(First.Source)
                          : std::to_string(First.Source) + ".." + std::to_string(Last.Source);
    OS << "  out " << llvm::left_justify(Out, 10) << " <- src " << llvm::left_justify(Src, 10)
       << (First.Copy ? " copy      " : " original  ") << formatCount(Tensors, "tensor") << ", "
       << formatBytes(Bytes) << "\n";
    Index = End;
  }
  OS << "  other tensors (embeddings, norms, heads, towers, extra stacks): "
     << formatCount(Plan.GlobalTensors, "tensor") << ", " << formatBytes(Plan.GlobalBytes)
     << ", names unchanged\n";
}

void printFiles(llvm::raw_ostream &OS, const HfPlan &Plan) {
  if (Plan.WritesIndex)
    OS << "output shards (at most " << formatBytes(Plan.MaxShardSize)
       << " of tensor data each, unless one tensor is larger):\n";
  else
    OS << "output file (the source is one file; --max-shard-size splits it):\n";
  for (const OutputShard &Shard : Plan.Shards) {
    OS << "  " << Shard.Name << ": " << formatCount(Shard.Tensors.size(), "tensor") << ", "
       << formatBytes(Shard.DataSize) << " of tensor data, file " << formatBytes(Shard.FileSize);
    if (Shard.AlignmentPadding > 0)
      OS << ", header padded by " << formatBytes(Shard.AlignmentPadding) << " for --copy-alignment";
    OS << "\n";
  }
  OS << "generated files:\n";
  if (Plan.WritesIndex)
    OS << "  model.safetensors.index.json (total_size " << Plan.TotalTensorBytes << ")\n";
  if (Plan.ConfigRewritten)
    OS << "  config.json (with the edits above)\n";
  OS << "  rysc.json (provenance: recipe, map, edits)\n";
  OS << "files copied byte for byte:" << (Plan.CopiedFiles.empty() ? " none" : "") << "\n";
  for (const auto &[Name, Size] : Plan.CopiedFiles)
    OS << "  " << Name << " (" << formatBytes(Size) << ")\n";
  uint64_t Total = 0;
  for (const PlannedFile &File : Plan.Write.Files)
    Total += File.Size;
  OS << "total written: " << formatBytes(Total) << " in " << Plan.Write.Files.size()
     << " files\n";
}

} // namespace

void printPlanText(llvm::raw_ostream &OS, const HfModel &Model, const Compilation &C,
                   const HfPlan &Plan) {
  printEdits(OS, "config.json", C);
  OS << "\n";
  printLayers(OS, C, Plan);
  OS << "\n";
  printFiles(OS, Plan);
}

Json planToJson(const HfPlan &Plan) {
  Json Output;
  Output["max_shard_size"] = Plan.MaxShardSize;
  Output["total_size"] = Plan.TotalTensorBytes;
  Output["total_parameters"] = Plan.TotalParameters;
  Output["shards"] = Json::array();
  for (const OutputShard &Shard : Plan.Shards)
    Output["shards"].push_back({{"name", Shard.Name},
                                {"tensors", Shard.Tensors.size()},
                                {"data_bytes", Shard.DataSize},
                                {"file_size", Shard.FileSize},
                                {"alignment_padding", Shard.AlignmentPadding}});
  Output["layers"] = Json::array();
  for (const LayerPlan &Layer : Plan.Layers)
    Output["layers"].push_back({{"out", Layer.Out},
                                {"src", Layer.Source},
                                {"copy", Layer.Copy},
                                {"tensors", Layer.Tensors},
                                {"bytes", Layer.Bytes}});
  Output["other_tensors"] = {{"tensors", Plan.GlobalTensors}, {"bytes", Plan.GlobalBytes}};
  Output["files"] = Json::array();
  for (const PlannedFile &File : Plan.Write.Files) {
    std::string Kind = File.WholeSource ? "copy" : File.Copies.empty() ? "generated" : "shard";
    Output["files"].push_back({{"path", File.Path}, {"size", File.Size}, {"kind", Kind}});
  }
  Output["warnings"] = Plan.Warnings;
  return Output;
}

} // namespace rysc::hf
