// Planning a Hugging Face output folder.
#include "backends/hf/HfPlanner.h"
#include "backends/hf/ConfigRewrite.h"
#include "compiler/Error.h"
#include "compiler/LayerNames.h"
#include "compiler/Parallel.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <cstdio>
#include <map>

namespace rysc::hf {

namespace {

std::string joinPath(llvm::StringRef Dir, llvm::StringRef Name) {
  llvm::SmallString<256> Path(Dir);
  llvm::sys::path::append(Path, Name);
  return std::string(Path);
}

/// Orders the output: global tensors in source order, then each output
/// layer's tensors in its source layer's order, then inline extra stacks.
class TensorLayout {
public:
  TensorLayout(const HfModel &Model, const Compilation &C) : Model(Model), C(C) {}

  std::vector<PlannedTensor> build(HfPlan &Plan) {
    std::map<uint32_t, std::vector<const SourceTensor *>> ByLayer;
    std::vector<PlannedTensor> Output;
    for (const SourceTensor &T : Model.Tensors) {
      if (auto Split = splitLayerTensorName(T.Name, C.Stack.Prefix)) {
        ByLayer[Split->Layer].push_back(&T);
        continue;
      }
      Output.push_back({T.Name, T.Name, T.Shard, T.Entry, std::nullopt});
      ++Plan.GlobalTensors;
      Plan.GlobalBytes += T.Entry->End - T.Entry->Begin;
    }

    const LayerMap &Map = C.Map;
    for (uint32_t Out = 0; Out < Map.outputCount(); ++Out) {
      LayerPlan Layer{Out, Map[Out].Source, Map[Out].isCopy(), 0, 0};
      for (const SourceTensor *T : ByLayer[Map[Out].Source]) {
        Output.push_back({renamed(*T, Out), T->Name, T->Shard, T->Entry, Out});
        ++Layer.Tensors;
        Layer.Bytes += T->Entry->End - T->Entry->Begin;
      }
      Plan.Layers.push_back(Layer);
    }

    // Inline extra stacks (e.g. MTP at model.layers.N) follow the new trunk.
    uint32_t Extra = C.Stack.inlineCount();
    for (uint32_t Index = 0; Index < Extra; ++Index)
      for (const SourceTensor *T : ByLayer[Map.sourceCount() + Index]) {
        Output.push_back({renamed(*T, Map.outputCount() + Index), T->Name, T->Shard, T->Entry,
                          std::nullopt});
        ++Plan.GlobalTensors;
        Plan.GlobalBytes += T->Entry->End - T->Entry->Begin;
      }
    return Output;
  }

private:
  std::string renamed(const SourceTensor &T, uint32_t Out) const {
    auto Split = splitLayerTensorName(T.Name, C.Stack.Prefix);
    assert(Split && "only decoder-stack tensors are renamed");
    return layerTensorName(C.Stack.Prefix, Out, Split->Rest);
  }

  const HfModel &Model;
  const Compilation &C;
};

uint64_t elementCount(const safetensors::TensorEntry &Entry) {
  uint64_t Count = 1;
  for (uint64_t Dim : Entry.Shape)
    Count *= Dim; // The reader checked that shape times dtype fits the file.
  return Count;
}

std::string shardName(size_t Index, size_t Count) {
  char Buffer[64];
  std::snprintf(Buffer, sizeof(Buffer), "model-%05zu-of-%05zu.safetensors", Index + 1, Count);
  return Buffer;
}

/// Fills shards greedily in output order, starting a new shard when the
/// next tensor would pass the limit (a tensor larger than the limit gets a
/// shard of its own).
std::vector<OutputShard> assignShards(std::vector<PlannedTensor> Tensors, uint64_t Limit,
                                      bool SingleFile) {
  std::vector<OutputShard> Shards;
  for (PlannedTensor &T : Tensors) {
    bool Full = !Shards.empty() && !SingleFile && Shards.back().DataSize + T.size() > Limit &&
                !Shards.back().Tensors.empty();
    if (Shards.empty() || Full)
      Shards.emplace_back();
    Shards.back().DataSize += T.size();
    Shards.back().Tensors.push_back(std::move(T));
  }
  if (Shards.empty())
    Shards.emplace_back();
  for (size_t Index = 0; Index < Shards.size(); ++Index)
    Shards[Index].Name = SingleFile ? "model.safetensors" : shardName(Index, Shards.size());
  return Shards;
}

/// Plans one output shard: header, then the tensor ranges, merging ranges
/// that are adjacent in both files into one copy.
PlannedFile planShard(OutputShard &Shard, const Json &Metadata,
                      const std::vector<uint32_t> &SourceIds, const HfModel &Model) {
  std::vector<safetensors::OutputTensor> Headers;
  for (const PlannedTensor &T : Shard.Tensors)
    Headers.push_back({T.Name, T.Entry->DType, T.Entry->Shape, T.size()});

  PlannedFile File;
  File.Path = Shard.Name;
  File.Prefix = safetensors::buildHeader(Metadata, Headers);
  uint64_t Offset = File.Prefix.size();
  for (const PlannedTensor &T : Shard.Tensors) {
    uint32_t Source = SourceIds[T.SourceShard];
    uint64_t SourceOffset = Model.Shards[T.SourceShard].Header.DataStart + T.Entry->Begin;
    if (!File.Copies.empty()) {
      CopyRange &Last = File.Copies.back();
      if (Last.Source == Source && Last.SourceOffset + Last.Length == SourceOffset) {
        Last.Length += T.size();
        Offset += T.size();
        continue;
      }
    }
    if (T.size() > 0)
      File.Copies.push_back({Source, SourceOffset, T.size(), Offset});
    Offset += T.size();
  }
  File.Size = Offset;
  Shard.FileSize = Offset;
  return File;
}

/// Plans every output shard, in parallel because building 100,000 header
/// entries is the largest part of planning a large MoE checkpoint.
void planShards(HfPlan &Plan, const Json &Metadata, const std::vector<uint32_t> &SourceIds,
                const HfModel &Model) {
  std::vector<PlannedFile> Files(Plan.Shards.size());
  parallelFor(Files.size(), /*Threads=*/0, [&](size_t Index) {
    Files[Index] = planShard(Plan.Shards[Index], Metadata, SourceIds, Model);
  });
  for (PlannedFile &File : Files)
    Plan.Write.Files.push_back(std::move(File));
}

/// Returns the index text as json::dump(2) formats it, with the weight map
/// sorted by tensor name as transformers writes it. The weight map is
/// written as text because a JSON object of 100,000 keys is slow to build.
std::string buildIndex(const HfModel &Model, const HfPlan &Plan) {
  nlohmann::json Metadata = nlohmann::json::object();
  if (Model.Index && Model.Index->contains("metadata") && (*Model.Index)["metadata"].is_object())
    Metadata = (*Model.Index)["metadata"];
  bool HadParameters = Metadata.contains("total_parameters");
  Metadata["total_size"] = Plan.TotalTensorBytes;
  if (HadParameters)
    Metadata["total_parameters"] = Plan.TotalParameters;

  std::vector<std::pair<llvm::StringRef, llvm::StringRef>> Entries;
  for (const OutputShard &Shard : Plan.Shards)
    for (const PlannedTensor &T : Shard.Tensors)
      Entries.push_back({T.Name, Shard.Name});
  llvm::sort(Entries);

  nlohmann::json Index;
  Index["metadata"] = std::move(Metadata);
  Index["weight_map"] = nlohmann::json::object();
  std::string Text = Index.dump(2);
  if (Entries.empty())
    return Text + "\n";

  // The dump ends with the empty weight map: "{}\n}".
  Text.resize(Text.size() - std::string_view("{}\n}").size());
  Text += "{";
  for (size_t I = 0; I < Entries.size(); ++I) {
    Text += I == 0 ? "\n    " : ",\n    ";
    safetensors::appendJsonString(Text, Entries[I].first);
    Text += ": ";
    safetensors::appendJsonString(Text, Entries[I].second);
  }
  Text += "\n  }\n}\n";
  return Text;
}

void addGeneratedFile(HfPlan &Plan, std::string Path, std::string Content) {
  PlannedFile File;
  File.Path = std::move(Path);
  File.Size = Content.size();
  File.Prefix = std::move(Content);
  Plan.Write.Files.push_back(std::move(File));
}

uint32_t addSource(HfPlan &Plan, const std::string &Path) {
  Plan.Write.Sources.push_back(Path);
  return static_cast<uint32_t>(Plan.Write.Sources.size() - 1);
}

llvm::Error planCopiedFiles(HfPlan &Plan, const HfModel &Model, const Compilation &C) {
  std::vector<std::string> Whole = Model.OtherFiles;
  if (!Plan.ConfigRewritten)
    Whole.push_back("config.json");
  std::sort(Whole.begin(), Whole.end());
  for (const std::string &Name : Whole) {
    if (Name == "rysc.json")
      continue; // Replaced by this run's own provenance record.
    std::string Path = joinPath(Model.RealDir, Name);
    uint64_t Size = 0;
    if (std::error_code EC = llvm::sys::fs::file_size(Path, Size))
      return fileError(Path, "cannot read its size: " + EC.message());
    PlannedFile File;
    File.Path = Name;
    File.WholeSource = addSource(Plan, Path);
    File.Size = Size;
    Plan.Write.Files.push_back(std::move(File));
    Plan.CopiedFiles.push_back({Name, Size});
  }
  return llvm::Error::success();
}

} // namespace

llvm::Expected<HfPlan> planHf(const HfModel &Model, const Compilation &C,
                              const HfPlanOptions &Options) {
  HfPlan Plan;
  std::vector<uint32_t> SourceIds;
  for (const Shard &S : Model.Shards)
    SourceIds.push_back(addSource(Plan, joinPath(Model.RealDir, S.Name)));

  std::vector<PlannedTensor> Tensors = TensorLayout(Model, C).build(Plan);
  for (const PlannedTensor &T : Tensors) {
    Plan.TotalTensorBytes += T.size();
    Plan.TotalParameters += elementCount(*T.Entry);
  }

  bool SingleSource = !Model.Index;
  bool SingleFile = SingleSource && !Options.MaxShardSize;
  Plan.MaxShardSize = Options.MaxShardSize.value_or(Model.largestShardDataSize());
  if (Plan.MaxShardSize == 0)
    return plainError("the maximum shard size must be positive");
  Plan.Shards = assignShards(std::move(Tensors), Plan.MaxShardSize, SingleFile);
  Plan.WritesIndex = !SingleFile;

  Json Metadata = Model.Shards.empty() ? Json(nullptr) : Model.Shards.front().Header.Metadata;
  if (llvm::any_of(Model.Shards, [&](const Shard &S) { return S.Header.Metadata != Metadata; }))
    Plan.Warnings.push_back("source shards carry different __metadata__; every output shard "
                            "takes the first shard's");
  planShards(Plan, Metadata, SourceIds, Model);

  if (Plan.WritesIndex)
    addGeneratedFile(Plan, "model.safetensors.index.json", buildIndex(Model, Plan));
  Plan.ConfigRewritten = !C.Edits.empty();
  if (Plan.ConfigRewritten) {
    auto Text = rewriteConfigText(Model.ConfigText, C.Edits);
    if (!Text)
      return fileError(joinPath(Model.Dir, "config.json"), llvm::toString(Text.takeError()));
    addGeneratedFile(Plan, "config.json", std::move(*Text));
  }
  addGeneratedFile(Plan, "rysc.json", Options.ProvenanceJson);
  if (llvm::Error E = planCopiedFiles(Plan, Model, C))
    return std::move(E);
  for (const auto &[Name, Reason] : Model.SkippedFiles)
    Plan.Warnings.push_back("'" + Name + "': " + Reason);
  return std::move(Plan);
}

} // namespace rysc::hf
