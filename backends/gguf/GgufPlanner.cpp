// Planning GGUF outputs.
#include "backends/gguf/GgufPlanner.h"
#include "backends/CopyAlignment.h"
#include "compiler/Error.h"
#include "compiler/LayerNames.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"

#include <map>
#include <set>

namespace rysc::gguf {

namespace {

constexpr llvm::StringLiteral SplitNo = "split.no";
constexpr llvm::StringLiteral SplitCount = "split.count";
constexpr llvm::StringLiteral SplitTensors = "split.tensors.count";
/// A string of spaces that moves the data section to an aligned start.
constexpr llvm::StringLiteral PaddingKey = "rys.padding";

/// An output tensor and where its bytes come from.
struct OutTensor {
  TensorInfo Info; ///< Name, dims, type and size for the output.
  unsigned Part = 0;
  uint64_t SourceOffset = 0; ///< Absolute offset in the source part.
  /// 0 for a tensor in its source place, N for the Nth extra copy.
  size_t Round = 0;
};

/// Lays out the output tensors as a mirror of the source, so that most
/// tensor bytes keep their offset. Every source tensor comes in source
/// order, named for the original output block made from its block. Each
/// copy of a block follows, again in source order. Readers find tensors by
/// name, so the copies need not sit between their neighbours. Counted extra
/// blocks (e.g. NextN) keep their place, renamed to follow the new trunk.
llvm::Expected<std::vector<OutTensor>> layoutTensors(const GgufModel &Model, const Compilation &C) {
  std::vector<std::vector<uint32_t>> Outputs = layerOutputs(C.Map, C.Stack.inlineCount());
  size_t Rounds = 1;
  for (const std::vector<uint32_t> &Blocks : Outputs)
    Rounds = std::max(Rounds, Blocks.size());

  std::vector<OutTensor> Result;
  llvm::StringRef Prefix = C.Stack.Prefix;
  for (size_t Round = 0; Round < Rounds; ++Round)
    for (const SourceTensor &T : Model.Tensors) {
      OutTensor Out{*T.Info, T.Part, Model.Parts[T.Part].DataStart + T.Info->Offset};
      auto Split = splitLayerTensorName(T.Info->Name, Prefix);
      if (!Split) {
        if (Round == 0)
          Result.push_back(std::move(Out));
        continue;
      }
      if (Split->Layer >= Outputs.size() || Round >= Outputs[Split->Layer].size())
        continue;
      Out.Info.Name = layerTensorName(Prefix, Outputs[Split->Layer][Round], Split->Rest);
      Out.Round = Round;
      if (Out.Info.Name.size() > MaxTensorNameLength)
        return plainError("tensor '" + T.Info->Name + "' would be renamed '" + Out.Info.Name +
                          "', longer than GGUF's limit of " + llvm::Twine(MaxTensorNameLength) +
                          " bytes");
      Result.push_back(std::move(Out));
    }
  return Result;
}

/// Applies the compilation's edits to the first part's metadata. Split keys
/// are left out, because each output part gets its own.
llvm::Expected<std::vector<KeyValue>> editMetadata(const GgufModel &Model, const Compilation &C,
                                                   const GgufPlanOptions &Options,
                                                   GgufPlan &Plan) {
  std::map<std::string, const ConfigEdit *> Edits;
  for (const ConfigEdit &Edit : C.Edits)
    Edits[Edit.Path] = &Edit;

  std::vector<KeyValue> Result;
  for (const KeyValue &KV : Model.first().Metadata) {
    llvm::StringRef Key = KV.Key;
    if (Key.startswith("split.") || Key.startswith("rys."))
      continue;
    auto Found = Edits.find(KV.Key);
    if (Found == Edits.end()) {
      Result.push_back(KV);
      continue;
    }
    auto New = fromJsonLike(Found->second->New, KV.Val, KV.Key);
    if (!New)
      return New.takeError();
    Result.push_back({KV.Key, std::move(*New)});
    Plan.ChangedKeys.push_back(KV.Key);
    Edits.erase(Found);
  }

  // Keys the source lacks (an explicit per-layer list) follow the others.
  for (const auto &[Path, Edit] : Edits) {
    std::string StorageType;
    std::string Relative = llvm::StringRef(Path).drop_front(C.Stack.DecoderPath.size() + 1).str();
    if (C.UsedProfile)
      if (const FieldSpec *Spec = C.UsedProfile->findField(Relative))
        StorageType = Spec->StorageType;
    auto New = fromJsonNew(Edit->New, StorageType, Path);
    if (!New)
      return New.takeError();
    Result.push_back({Path, std::move(*New)});
    Plan.ChangedKeys.push_back(Path);
  }

  std::vector<Value> MapValues;
  for (const OutputLayer &Layer : C.Map.layers())
    MapValues.push_back(Value::uint32(Layer.Source));
  Result.push_back({"rys.map", Value::array(ValueType::UInt32, MapValues)});
  Result.push_back({"rys.provenance", Value::string(Options.ProvenanceJson)});
  return Result;
}

/// Starts a new part where the source part changes and where each round
/// of extra copies begins, so that a split source keeps its parts and the
/// copies get parts of their own.
std::vector<size_t> mirrorBoundaries(const std::vector<OutTensor> &Tensors) {
  std::vector<size_t> Starts = {0};
  for (size_t Index = 1; Index < Tensors.size(); ++Index) {
    const OutTensor &Previous = Tensors[Index - 1];
    const OutTensor &T = Tensors[Index];
    bool NewRound = T.Round != Previous.Round;
    bool NewPart = T.Round == 0 && T.Part != Previous.Part;
    if (NewRound || NewPart)
      Starts.push_back(Index);
  }
  return Starts;
}

/// Starts a new part whenever the next tensor would pass \p Limit bytes; a
/// tensor larger than the limit gets a part of its own.
std::vector<size_t> partBoundariesBySize(const std::vector<OutTensor> &Tensors, uint64_t Limit,
                                         uint32_t Alignment) {
  std::vector<size_t> Starts = {0};
  uint64_t Running = 0;
  for (size_t Index = 0; Index < Tensors.size(); ++Index) {
    uint64_t Size = paddedSize(Tensors[Index].Info.Size, Alignment);
    if (Index > Starts.back() && Running + Size > Limit) {
      Starts.push_back(Index);
      Running = 0;
    }
    Running += Size;
  }
  return Starts;
}

std::string partName(llvm::StringRef OutName, unsigned Index, unsigned Count) {
  if (Count == 1)
    return OutName.str();
  llvm::StringRef Stem = OutName;
  if (parseSplitName(OutName))
    Stem = Stem.drop_back(std::string("-00001-of-00001.gguf").size());
  else
    Stem.consume_back(".gguf");
  return splitName(Stem, Index + 1, Count);
}

/// Writes \p Layout as the start of \p File: the bytes before the first gap
/// as its prefix, then each gap copied from \p Source (the file the
/// metadata was read from) followed by the next bytes, written inline.
void placeHeader(PlannedFile &File, HeaderLayout Layout, uint32_t Source) {
  if (Layout.Gaps.empty()) {
    File.Prefix = std::move(Layout.Bytes);
    return;
  }

  llvm::StringRef Bytes = Layout.Bytes;
  File.Prefix = Bytes.take_front(Layout.Gaps.front().At).str();
  File.Inline = Bytes.drop_front(Layout.Gaps.front().At).str();
  uint64_t InlineStart = Layout.Gaps.front().At;
  uint64_t Offset = File.Prefix.size();
  for (size_t Index = 0; Index < Layout.Gaps.size(); ++Index) {
    const HeaderLayout::Gap &Gap = Layout.Gaps[Index];
    if (Gap.Spaces)
      File.Copies.push_back({SpaceFill, 0, Gap.Length, Offset});
    else
      File.Copies.push_back({Source, Gap.SourceOffset, Gap.Length, Offset});
    Offset += Gap.Length;

    uint64_t End = Index + 1 < Layout.Gaps.size() ? Layout.Gaps[Index + 1].At : Bytes.size();
    if (End > Gap.At)
      File.Copies.push_back({InlineBytes, Gap.At - InlineStart, End - Gap.At, Offset});
    Offset += End - Gap.At;
  }
}

/// The tensor ranges of one part, at offsets relative to its data section.
struct PartRanges {
  std::vector<CopyRange> Copies;
  /// The padding inside merged copies, zeroed after them.
  std::vector<CopyRange> ZerosAfter;
};

/// Returns the ranges of one part. A tensor that follows the previous one
/// in the source with the same padding between them as in the output is
/// copied in the same range, padding included, and the padding is zeroed
/// afterwards: the source's padding need not be zeros, the output's must.
PartRanges tensorRanges(llvm::ArrayRef<OutTensor> Tensors, uint32_t Alignment) {
  PartRanges Result;
  std::vector<CopyRange> &Ranges = Result.Copies;
  uint64_t Offset = 0;
  for (size_t Index = 0; Index < Tensors.size(); ++Index) {
    const OutTensor &T = Tensors[Index];
    uint64_t Padded = paddedSize(T.Info.Size, Alignment);
    const OutTensor *Next = Index + 1 < Tensors.size() ? &Tensors[Index + 1] : nullptr;
    bool Merge = Next && Next->Part == T.Part && Next->SourceOffset == T.SourceOffset + Padded &&
                 Next->Info.Size > 0 && T.Info.Size > 0;
    CopyRange *Last = Ranges.empty() ? nullptr : &Ranges.back();
    bool Continues = Last && Last->Source == T.Part &&
                     Last->SourceOffset + Last->Length == T.SourceOffset &&
                     Last->OutputOffset + Last->Length == Offset;
    uint64_t Length = Merge ? Padded : T.Info.Size;
    if (Continues)
      Last->Length += Length;
    else if (Length > 0)
      Ranges.push_back({T.Part, T.SourceOffset, Length, Offset});

    if (Padded > T.Info.Size && Merge)
      Result.ZerosAfter.push_back({ZeroFill, 0, Padded - T.Info.Size, Offset + T.Info.Size});
    else if (Padded > T.Info.Size)
      Ranges.push_back({ZeroFill, 0, Padded - T.Info.Size, Offset + T.Info.Size});
    Offset += Padded;
  }
  return Result;
}

/// Lays out the header of a part whose data section is \p Ranges. When
/// that puts more bytes at their source offset modulo \p Granule, a
/// rys.padding string ends the metadata, long enough that the header ends
/// exactly at the aligned data start.
/// \p Added receives the bytes the padding adds to the header.
HeaderLayout layoutAlignedHeader(const File &First, std::vector<KeyValue> &Metadata,
                                 llvm::ArrayRef<TensorInfo> Infos,
                                 llvm::ArrayRef<CopyRange> Ranges, uint64_t Granule,
                                 uint64_t &Added) {
  HeaderLayout Layout = layoutHeader(First.Version, Metadata, Infos, First.Alignment);
  uint64_t Plain = Layout.size();
  Added = 0;
  if (alignedDataStart(Ranges, Plain, First.Alignment, Granule) == Plain)
    return Layout;

  Metadata.push_back({PaddingKey.str(), Value::string("")});
  Layout = layoutHeader(First.Version, Metadata, Infos, First.Alignment);
  uint64_t Unpadded = Layout.size() - Layout.Padding;
  uint64_t DataStart = alignedDataStart(Ranges, Unpadded, First.Alignment, Granule);
  Metadata.back().Val = Value::spaces(DataStart - Unpadded);
  Layout = layoutHeader(First.Version, Metadata, Infos, First.Alignment);
  assert(Layout.size() == DataStart && "padding missed the data start");
  assert(Layout.Padding == 0 && "the padding key, not zeros, ends the header");
  Added = DataStart - Plain;
  return Layout;
}

void planPart(GgufPlan &Plan, const GgufModel &Model, std::vector<KeyValue> Metadata,
              llvm::ArrayRef<OutTensor> Tensors, std::string Name, uint64_t Granule) {
  const File &First = Model.first();
  std::vector<TensorInfo> Infos;
  for (const OutTensor &T : Tensors) {
    Infos.push_back(T.Info);
    Plan.TensorBytes += T.Info.Size;
  }
  PartRanges Ranges = tensorRanges(Tensors, First.Alignment);
  uint64_t Added = 0;
  HeaderLayout Layout =
      layoutAlignedHeader(First, Metadata, Infos, Ranges.Copies, Granule, Added);
  uint64_t DataStart = Layout.size();

  PlannedFile File;
  File.Path = Name;
  // The metadata is the first part's, which is source 0.
  placeHeader(File, std::move(Layout), 0);
  uint64_t Offset = DataStart;
  for (CopyRange &Range : Ranges.Copies) {
    Range.OutputOffset += DataStart;
    Offset = Range.OutputOffset + Range.Length;
    File.Copies.push_back(Range);
  }
  for (CopyRange &Zeros : Ranges.ZerosAfter) {
    Zeros.OutputOffset += DataStart;
    File.ZerosAfter.push_back(Zeros);
  }
  File.Size = Offset;
  Plan.Parts.push_back({Name, static_cast<unsigned>(Tensors.size()), Offset, Added});
  Plan.Write.Files.push_back(std::move(File));
}

} // namespace

llvm::Expected<GgufPlan> planGguf(const GgufModel &Model, const Compilation &C,
                                  llvm::StringRef OutName, const GgufPlanOptions &Options) {
  GgufPlan Plan;
  for (const std::string &Path : Model.PartPaths) {
    llvm::SmallString<256> Absolute(Path);
    llvm::sys::fs::make_absolute(Absolute);
    Plan.Write.Sources.push_back(std::string(Absolute));
  }

  auto Tensors = layoutTensors(Model, C);
  if (!Tensors)
    return Tensors.takeError();
  auto Metadata = editMetadata(Model, C, Options, Plan);
  if (!Metadata)
    return Metadata.takeError();

  // A single-file source stays one file; a split source keeps its parts.
  uint32_t Alignment = Model.first().Alignment;
  std::vector<size_t> Starts = {0};
  if (Options.SplitMaxSize)
    Starts = partBoundariesBySize(*Tensors, *Options.SplitMaxSize, Alignment);
  else if (Model.Parts.size() > 1)
    Starts = mirrorBoundaries(*Tensors);
  if (Starts.size() > 99999)
    return plainError("--split-max-size would make " + llvm::Twine(Starts.size()) +
                      " parts; GGUF split names allow at most 99999");
  unsigned Count = static_cast<unsigned>(Starts.size());
  for (unsigned Part = 0; Part < Count; ++Part) {
    size_t Begin = Starts[Part];
    size_t End = Part + 1 < Count ? Starts[Part + 1] : Tensors->size();
    std::vector<KeyValue> PartMetadata;
    // The first part takes the metadata, moved because it contains the whole tokenizer.
    if (Part == 0)
      PartMetadata = std::move(*Metadata);
    else if (Alignment != DefaultAlignment)
      PartMetadata.push_back({AlignmentKey.str(), Value::uint32(Alignment)});
    if (Count > 1) {
      PartMetadata.push_back({SplitNo.str(), Value::uint16(Part)});
      PartMetadata.push_back({SplitCount.str(), Value::uint16(Count)});
      PartMetadata.push_back({SplitTensors.str(), Value::int32(static_cast<int32_t>(Tensors->size()))});
    }
    planPart(Plan, Model, std::move(PartMetadata),
             llvm::ArrayRef<OutTensor>(*Tensors).slice(Begin, End - Begin),
             partName(OutName, Part, Count), Options.CopyAlignment);
  }
  return std::move(Plan);
}

uint32_t imatrixLayerCount(const GgufModel &Model) {
  uint32_t Count = 0;
  for (const SourceTensor &T : Model.Tensors)
    if (auto Split = splitLayerTensorName(T.Info->Name, "blk"))
      Count = std::max(Count, Split->Layer + 1);
  return Count;
}

} // namespace rysc::gguf
