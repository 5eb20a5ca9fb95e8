// Planning a Hugging Face output folder.
#include "backends/hf/HfPlanner.h"
#include "backends/CopyAlignment.h"
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

/// Orders the output as a mirror of the source, so that most tensor bytes
/// keep their place. Every source tensor comes in source order, named for
/// the original output layer made from its layer. Each copy of a layer
/// follows, again in source order. Each source shard and each round of
/// copies is a group. Groups never share an output shard, so tensors that
/// are contiguous in a source shard stay contiguous in one output shard and
/// are copied, aligned, as one range.
class TensorLayout {
public:
  TensorLayout(const HfModel &Model, const Compilation &C) : Model(Model), C(C) {}

  std::vector<std::vector<PlannedTensor>> build(HfPlan &Plan) {
    collectOutputs();
    // Each name is split once: the passes below read it up to three times.
    Splits.reserve(Model.Tensors.size());
    for (const SourceTensor &T : Model.Tensors)
      Splits.push_back(splitLayerTensorName(T.Name, C.Stack.Prefix));
    countLayers(Plan);

    std::vector<std::vector<PlannedTensor>> Groups;
    std::optional<unsigned> GroupShard;
    for (size_t Index = 0; Index < Model.Tensors.size(); ++Index) {
      const SourceTensor &T = Model.Tensors[Index];
      if (GroupShard != T.Shard) {
        Groups.emplace_back();
        GroupShard = T.Shard;
      }
      const std::optional<LayerTensorName> &Split = Splits[Index];
      if (!Split) {
        Groups.back().push_back({T.Name, T.Name, T.Shard, T.Entry, std::nullopt});
        ++Plan.GlobalTensors;
        Plan.GlobalBytes += T.Entry->End - T.Entry->Begin;
        continue;
      }
      if (Split->Layer < Outputs.size() && !Outputs[Split->Layer].empty())
        Groups.back().push_back(planned(T, *Split, 0));
    }

    for (size_t Round = 1; Round < Rounds; ++Round) {
      Groups.emplace_back();
      for (size_t Index = 0; Index < Model.Tensors.size(); ++Index) {
        const std::optional<LayerTensorName> &Split = Splits[Index];
        if (Split && Split->Layer < Outputs.size() && Round < Outputs[Split->Layer].size())
          Groups.back().push_back(planned(Model.Tensors[Index], *Split, Round));
      }
    }
    llvm::erase_if(Groups, [](const auto &Group) { return Group.empty(); });
    return Groups;
  }

private:
  /// Fills Outputs: for each source layer, the output layers made from it,
  /// the original first. Inline extra stacks (e.g. MTP at model.layers.N)
  /// follow the source layers and keep their place after the new trunk.
  void collectOutputs() {
    Outputs = layerOutputs(C.Map, C.Stack.inlineCount());
    for (const std::vector<uint32_t> &Layers : Outputs)
      Rounds = std::max(Rounds, Layers.size());
  }

  /// Fills the per-layer and global counts of the plan report.
  void countLayers(HfPlan &Plan) const {
    std::vector<uint64_t> Tensors(Outputs.size()), Bytes(Outputs.size());
    for (size_t Index = 0; Index < Model.Tensors.size(); ++Index) {
      const std::optional<LayerTensorName> &Split = Splits[Index];
      if (Split && Split->Layer < Outputs.size()) {
        ++Tensors[Split->Layer];
        Bytes[Split->Layer] += Model.Tensors[Index].Entry->End - Model.Tensors[Index].Entry->Begin;
      }
    }

    const LayerMap &Map = C.Map;
    for (uint32_t Out = 0; Out < Map.outputCount(); ++Out) {
      uint32_t Source = Map[Out].Source;
      Plan.Layers.push_back({Out, Source, Map[Out].isCopy(), Tensors[Source], Bytes[Source]});
    }
    for (uint32_t Index = 0; Index < C.Stack.inlineCount(); ++Index) {
      Plan.GlobalTensors += Tensors[Map.sourceCount() + Index];
      Plan.GlobalBytes += Bytes[Map.sourceCount() + Index];
    }
  }

  PlannedTensor planned(const SourceTensor &T, const LayerTensorName &Split,
                        size_t Round) const {
    uint32_t Out = Outputs[Split.Layer][Round];
    std::optional<uint32_t> OutputLayer;
    if (Out < C.Map.outputCount())
      OutputLayer = Out;
    return {layerTensorName(C.Stack.Prefix, Out, Split.Rest), T.Name, T.Shard, T.Entry,
            OutputLayer};
  }

  const HfModel &Model;
  const Compilation &C;
  /// The split name of each of Model.Tensors, or nullopt outside the stack.
  std::vector<std::optional<LayerTensorName>> Splits;
  std::vector<std::vector<uint32_t>> Outputs;
  size_t Rounds = 1;
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

/// Fills shards greedily, group by group, starting a new shard with each
/// group and whenever the next tensor would pass the limit (a tensor larger
/// than the limit gets a shard of its own). A single-file output takes all
/// groups in one file.
std::vector<OutputShard> assignShards(std::vector<std::vector<PlannedTensor>> Groups,
                                      uint64_t Limit, bool SingleFile) {
  std::vector<OutputShard> Shards;
  for (std::vector<PlannedTensor> &Group : Groups) {
    bool NewGroup = true;
    for (PlannedTensor &T : Group) {
      bool Full = !Shards.empty() && !SingleFile && !Shards.back().Tensors.empty() &&
                  (NewGroup || Shards.back().DataSize + T.size() > Limit);
      if (Shards.empty() || Full)
        Shards.emplace_back();
      NewGroup = false;
      Shards.back().DataSize += T.size();
      Shards.back().Tensors.push_back(std::move(T));
    }
  }
  if (Shards.empty())
    Shards.emplace_back();
  for (size_t Index = 0; Index < Shards.size(); ++Index)
    Shards[Index].Name = SingleFile ? "model.safetensors" : shardName(Index, Shards.size());
  return Shards;
}

/// Plans one output shard: the copies, merging tensors that are adjacent in
/// both files into one range, then the header, padded so that the most
/// bytes keep their source offset modulo \p Granule.
PlannedFile planShard(OutputShard &Shard, const Json &Metadata,
                      const std::vector<uint32_t> &SourceIds, const HfModel &Model,
                      uint64_t Granule) {
  PlannedFile File;
  File.Path = Shard.Name;
  uint64_t Offset = 0;
  for (const PlannedTensor &T : Shard.Tensors) {
    uint32_t Source = SourceIds[T.SourceShard];
    uint64_t SourceOffset = Model.Shards[T.SourceShard].Header.DataStart + T.Entry->Begin;
    CopyRange *Last = File.Copies.empty() ? nullptr : &File.Copies.back();
    if (Last && Last->Source == Source && Last->SourceOffset + Last->Length == SourceOffset)
      Last->Length += T.size();
    else if (T.size() > 0)
      File.Copies.push_back({Source, SourceOffset, T.size(), Offset});
    Offset += T.size();
  }

  std::vector<safetensors::OutputTensor> Headers;
  for (const PlannedTensor &T : Shard.Tensors)
    Headers.push_back({T.Name, T.Entry->DType, T.Entry->Shape, T.size()});
  File.Prefix = safetensors::buildHeader(Metadata, Headers);
  uint64_t DataStart =
      alignedDataStart(File.Copies, File.Prefix.size(), safetensors::DataAlignment, Granule);
  Shard.AlignmentPadding = DataStart - File.Prefix.size();
  safetensors::setDataStart(File.Prefix, DataStart);

  for (CopyRange &Range : File.Copies)
    Range.OutputOffset += DataStart;
  if (Shard.AlignmentPadding > 0)
    File.Copies.insert(File.Copies.begin(),
                       {SpaceFill, 0, Shard.AlignmentPadding, File.Prefix.size()});
  File.Size = DataStart + Offset;
  Shard.FileSize = File.Size;
  return File;
}

/// Plans every output shard, in parallel because building 100,000 header
/// entries is the largest part of planning a large MoE checkpoint.
void planShards(HfPlan &Plan, const Json &Metadata, const std::vector<uint32_t> &SourceIds,
                const HfModel &Model, uint64_t Granule) {
  std::vector<PlannedFile> Files(Plan.Shards.size());
  parallelFor(Files.size(), /*Threads=*/0, [&](size_t Index) {
    Files[Index] = planShard(Plan.Shards[Index], Metadata, SourceIds, Model, Granule);
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

  std::vector<std::vector<PlannedTensor>> Groups = TensorLayout(Model, C).build(Plan);
  for (const std::vector<PlannedTensor> &Group : Groups)
    for (const PlannedTensor &T : Group) {
      Plan.TotalTensorBytes += T.size();
      Plan.TotalParameters += elementCount(*T.Entry);
    }

  bool SingleSource = !Model.Index;
  bool SingleFile = SingleSource && !Options.MaxShardSize;
  Plan.MaxShardSize = Options.MaxShardSize.value_or(Model.largestShardDataSize());
  if (Plan.MaxShardSize == 0)
    return plainError("the maximum shard size must be positive");
  Plan.Shards = assignShards(std::move(Groups), Plan.MaxShardSize, SingleFile);
  Plan.WritesIndex = !SingleFile;

  Json Metadata = Model.Shards.empty() ? Json(nullptr) : Model.Shards.front().Header.Metadata;
  if (llvm::any_of(Model.Shards, [&](const Shard &S) { return S.Header.Metadata != Metadata; }))
    Plan.Warnings.push_back("source shards carry different __metadata__; every output shard "
                            "takes the first shard's");
  planShards(Plan, Metadata, SourceIds, Model, Options.CopyAlignment);

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
