// The checks of `rysc verify`.
#include "backends/Verify.h"
#include "compiler/LayerNames.h"
#include "compiler/Parallel.h"
#include "compiler/Sha256.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/FileSystem.h"

#include <fcntl.h>
#include <map>
#include <set>
#include <unistd.h>

namespace rysc {

namespace {

/// Bytes per read while hashing: large enough for sequential throughput,
/// small enough that memory does not depend on tensor sizes.
constexpr size_t HashChunk = 4u << 20;

std::string hashRange(const TensorLocation &T, std::vector<char> &Buffer) {
  int Fd = ::open(T.File.c_str(), O_RDONLY | O_CLOEXEC);
  if (Fd < 0)
    return "error: cannot open '" + T.File + "'";
  ::posix_fadvise(Fd, static_cast<off_t>(T.Offset), static_cast<off_t>(T.Size),
                  POSIX_FADV_SEQUENTIAL);
  Sha256 Hash;
  uint64_t Done = 0;
  while (Done < T.Size) {
    size_t Want = static_cast<size_t>(std::min<uint64_t>(HashChunk, T.Size - Done));
    ssize_t Got = ::pread(Fd, Buffer.data(), Want, static_cast<off_t>(T.Offset + Done));
    if (Got <= 0) {
      ::close(Fd);
      return "error: '" + T.File + "' ends before offset " + std::to_string(T.Offset + Done);
    }
    Hash.update(Buffer.data(), static_cast<size_t>(Got));
    Done += static_cast<uint64_t>(Got);
  }
  ::close(Fd);
  return Sha256::toHex(Hash.final());
}

/// Returns the output name of every source tensor under the map, as the recipe
/// defines it: block tensors once per output layer that copies their block,
/// inline extra blocks after the new trunk, everything else unchanged.
std::map<std::string, std::string> expectedNames(const LoadedModel &Source, const Compilation &C) {
  std::map<uint32_t, std::vector<uint32_t>> Outputs;
  for (uint32_t Out = 0; Out < C.Map.outputCount(); ++Out)
    Outputs[C.Map[Out].Source].push_back(Out);
  std::map<std::string, std::string> Expected; // output name -> source name
  const std::string &Prefix = C.Stack.Prefix;
  for (const auto &[Name, Location] : Source.Tensors) {
    auto Split = splitLayerTensorName(Name, Prefix);
    if (!Split) {
      Expected[Name] = Name;
      continue;
    }
    if (Split->Layer >= C.Map.sourceCount()) {
      uint32_t Out = Split->Layer - C.Map.sourceCount() + C.Map.outputCount();
      Expected[layerTensorName(Prefix, Out, Split->Rest)] = Name;
      continue;
    }
    for (uint32_t Out : Outputs[Split->Layer])
      Expected[layerTensorName(Prefix, Out, Split->Rest)] = Name;
  }
  return Expected;
}

/// Returns "1 tensor" or "N tensors".
std::string counted(uint64_t Count, llvm::StringRef Noun) {
  return std::to_string(Count) + " " + Noun.str() + (Count == 1 ? "" : "s");
}

void fail(VerifyResult &R, std::string Message) {
  R.Passed = false;
  if (R.Failures.size() < 50)
    R.Failures.push_back(std::move(Message));
  else if (R.Failures.size() == 50)
    R.Failures.push_back("(further failures omitted)");
}

VerifyResult checkNames(const std::map<std::string, std::string> &Expected, const LoadedModel &Out) {
  VerifyResult R{"tensor-names", true, {}, ""};
  for (const auto &[Name, SourceName] : Expected)
    if (!Out.Tensors.count(Name))
      fail(R, "missing tensor '" + Name + "' (from source '" + SourceName + "')");
  for (const auto &[Name, Location] : Out.Tensors)
    if (!Expected.count(Name))
      fail(R, "unexpected tensor '" + Name + "'");
  R.Summary = counted(Expected.size(), "tensor") + " expected, " +
              std::to_string(Out.Tensors.size()) + " present";
  return R;
}

VerifyResult checkLayerCount(const LoadedModel &Out, const Compilation &C) {
  VerifyResult R{"layer-count", true, {}, ""};
  std::set<uint32_t> Blocks;
  for (const auto &[Name, Location] : Out.Tensors)
    if (auto Split = splitLayerTensorName(Name, C.Stack.Prefix))
      Blocks.insert(Split->Layer);
  std::string CountPath = C.Stack.fullPath(C.Stack.CountField);
  const Json *Count = lookupPath(Out.Facts.Config, CountPath);
  uint32_t Expected = C.Map.outputCount() + C.Stack.countedInline();
  uint32_t Groups = C.Map.outputCount() + C.Stack.inlineCount();
  if (!Count || *Count != Json(Expected))
    fail(R, "'" + CountPath + "' is " + (Count ? Count->dump() : "missing") + ", expected " +
                std::to_string(Expected));
  if (Blocks.size() != Groups || (!Blocks.empty() && *Blocks.rbegin() != Groups - 1))
    fail(R, "tensors under '" + C.Stack.Prefix + "' form " + std::to_string(Blocks.size()) +
                " layer groups, expected " + std::to_string(Groups) + " (0.." +
                std::to_string(Groups - 1) + ")");
  R.Summary = CountPath + " = " + std::to_string(Expected);
  return R;
}

/// Compares two JSON values and reports each differing path.
void diffJson(const Json &Expected, const Json &Actual, const std::string &Path, VerifyResult &R) {
  if (Expected.is_object() && Actual.is_object()) {
    for (auto It = Expected.begin(); It != Expected.end(); ++It) {
      std::string Child = Path.empty() ? It.key() : Path + "." + It.key();
      if (!Actual.contains(It.key()))
        fail(R, "'" + Child + "' is missing");
      else
        diffJson(It.value(), Actual[It.key()], Child, R);
    }
    for (auto It = Actual.begin(); It != Actual.end(); ++It)
      if (!Expected.contains(It.key()))
        fail(R, "'" + (Path.empty() ? It.key() : Path + "." + It.key()) + "' is unexpected");
    return;
  }
  if (Expected.is_array() && Actual.is_array() && Expected.size() == Actual.size()) {
    for (size_t Index = 0; Index < Expected.size(); ++Index)
      if (Expected[Index] != Actual[Index]) {
        fail(R, "'" + Path + "'[" + std::to_string(Index) + "] is " + Actual[Index].dump() +
                    ", expected " + Expected[Index].dump());
      }
    return;
  }
  if (Expected != Actual) {
    std::string Found = Actual.dump(), Wanted = Expected.dump();
    if (Actual.is_array() && Expected.is_array())
      Found = std::to_string(Actual.size()) + " entries", Wanted = std::to_string(Expected.size()) + " entries";
    fail(R, "'" + Path + "' is " + Found + ", expected " + Wanted);
  }
}

VerifyResult checkConfig(const LoadedModel &Out, const Compilation &C) {
  VerifyResult R{"config", true, {}, ""};
  Json Actual = Out.Facts.Config;
  diffJson(C.OutputConfig, Actual, "", R);
  R.Summary = counted(C.Edits.size(), "edit") + " expected, every other key unchanged";
  return R;
}

/// True when \p A, read from \p PathA, and \p B, read from \p PathB, have
/// the same encoding. External arrays are compared from the files.
llvm::Expected<bool> sameGgufValue(llvm::StringRef PathA, const gguf::Value &A,
                                   llvm::StringRef PathB, const gguf::Value &B) {
  if (A.isExternal() && B.isExternal())
    return gguf::sameExternalElements(PathA, A, PathB, B);
  return A == B;
}

/// Checks that every rys.padding key, in any part, is a string of spaces.
/// apply writes nothing else there, so other bytes would be data hidden in
/// the header.
void checkPaddingKeys(VerifyResult &R, const gguf::GgufModel &Out) {
  for (const gguf::File &Part : Out.Parts) {
    const gguf::Value *Padding = Part.find("rys.padding");
    if (!Padding)
      continue;
    if (Padding->type() != gguf::ValueType::String)
      fail(R, "'" + Part.Path + "': key 'rys.padding' is " + Padding->describe() +
                  ", not a STRING of spaces");
    else if (Padding->asString().find_first_not_of(' ') != llvm::StringRef::npos)
      fail(R, "'" + Part.Path + "': key 'rys.padding' holds bytes other than spaces");
  }
}

/// Every GGUF key keeps its exact type, and every key the recipe does not
/// edit keeps its exact value; the output has no key the source lacks except
/// added per-layer lists and the rys.* record. llama.cpp rejects a key of the
/// wrong type, so a value that reads the same in JSON is not enough.
VerifyResult checkGgufKeys(const LoadedModel &Source, const LoadedModel &Out,
                           const Compilation &C) {
  VerifyResult R{"metadata-keys", true, {}, ""};
  std::map<std::string, const gguf::Value *> OutKeys;
  for (const gguf::KeyValue &KV : Out.Gguf->first().Metadata)
    OutKeys[KV.Key] = &KV.Val;
  std::set<std::string> Added;
  for (const ConfigEdit &Edit : C.Edits)
    if (Edit.Added)
      Added.insert(Edit.Path);

  // Values of general.* and {arch}.* keys are compared by the config check,
  // except external arrays, which the config view leaves out.
  std::string ArchPrefix = Source.Gguf->Arch + ".";
  auto InView = [&](llvm::StringRef Key, const gguf::Value &V) {
    return !V.isExternal() && (Key.startswith("general.") || Key.startswith(ArchPrefix));
  };
  const std::string &SourcePath = Source.Gguf->first().Path;
  const std::string &OutPath = Out.Gguf->first().Path;
  std::set<std::string> Seen;
  for (const gguf::KeyValue &KV : Source.Gguf->first().Metadata) {
    llvm::StringRef Key = KV.Key;
    if (Key.startswith("split.") || Key.startswith("rys."))
      continue;
    Seen.insert(KV.Key);
    auto Found = OutKeys.find(KV.Key);
    if (Found == OutKeys.end()) {
      fail(R, "key '" + KV.Key + "' is missing");
      continue;
    }
    const gguf::Value &Got = *Found->second;
    bool SameType = Got.type() == KV.Val.type() &&
                    (!Got.isArray() || Got.elementType() == KV.Val.elementType());
    if (!SameType) {
      fail(R, "key '" + KV.Key + "' changed type from " + KV.Val.describe() + " to " +
                  Got.describe());
      continue;
    }
    if (InView(Key, KV.Val))
      continue;
    llvm::Expected<bool> Same = sameGgufValue(SourcePath, KV.Val, OutPath, Got);
    if (!Same)
      fail(R, "key '" + KV.Key + "' could not be compared: " + llvm::toString(Same.takeError()));
    else if (!*Same && Got.describe() == KV.Val.describe())
      fail(R, "key '" + KV.Key + "' (" + Got.describe() + ") has different elements");
    else if (!*Same)
      fail(R, "key '" + KV.Key + "' changed from " + KV.Val.describe() + " to " + Got.describe());
  }
  for (const auto &[Key, Value] : OutKeys)
    if (!Seen.count(Key) && !Added.count(Key) && !llvm::StringRef(Key).startswith("rys.") &&
        !llvm::StringRef(Key).startswith("split."))
      fail(R, "key '" + Key + "' is not in the source and the recipe does not add it");
  checkPaddingKeys(R, *Out.Gguf);
  R.Summary = std::to_string(Seen.size()) + " source keys: types kept, other values identical";
  return R;
}

/// Files copied whole must be byte-identical to the source's.
VerifyResult checkCopiedFiles(const LoadedModel &Source, const LoadedModel &Out, unsigned Jobs) {
  VerifyResult R{"copied-files", true, {}, ""};
  std::vector<TensorLocation> Files;
  std::vector<std::string> Names;
  for (const std::string &Name : Source.Hf->OtherFiles) {
    if (Name == "rysc.json")
      continue;
    uint64_t SourceSize = 0, OutSize = 0;
    std::string SourcePath = Source.Hf->Dir + "/" + Name, OutPath = Out.Hf->Dir + "/" + Name;
    if (llvm::sys::fs::file_size(OutPath, OutSize)) {
      fail(R, "'" + Name + "' is missing");
      continue;
    }
    llvm::sys::fs::file_size(SourcePath, SourceSize);
    if (SourceSize != OutSize) {
      fail(R, "'" + Name + "' is " + std::to_string(OutSize) + " bytes, the source's " +
                  std::to_string(SourceSize));
      continue;
    }
    Files.push_back({SourcePath, 0, SourceSize, "", {}});
    Files.push_back({OutPath, 0, OutSize, "", {}});
    Names.push_back(Name);
  }
  std::vector<const TensorLocation *> Pointers;
  for (const TensorLocation &File : Files)
    Pointers.push_back(&File);
  std::vector<std::string> Hashes = hashTensors(Pointers, Jobs);
  for (size_t Index = 0; Index < Names.size(); ++Index)
    if (Hashes[2 * Index] != Hashes[2 * Index + 1])
      fail(R, "'" + Names[Index] + "' differs from the source's copy");
  R.Summary = counted(Source.Hf->OtherFiles.size(), "file") + " byte-identical";
  return R;
}

VerifyResult checkBytes(const std::map<std::string, std::string> &Expected,
                        const LoadedModel &Source, const LoadedModel &Out, unsigned Jobs) {
  VerifyResult R{"tensor-bytes", true, {}, ""};
  // Each source tensor is hashed once however many copies it has.
  std::map<std::string, size_t> SourceIndex;
  std::vector<const TensorLocation *> ToHash;
  std::vector<std::pair<std::string, std::string>> Pairs;
  uint64_t Bytes = 0;
  for (const auto &[Name, SourceName] : Expected) {
    auto OutIt = Out.Tensors.find(Name);
    if (OutIt == Out.Tensors.end())
      continue;
    const TensorLocation &S = Source.Tensors.at(SourceName);
    if (OutIt->second.Type != S.Type || OutIt->second.Shape != S.Shape ||
        OutIt->second.Size != S.Size) {
      fail(R, "tensor '" + Name + "' has type " + OutIt->second.Type + " and " +
                  std::to_string(OutIt->second.Size) + " bytes, expected " + S.Type + " and " +
                  std::to_string(S.Size) + " bytes like '" + SourceName + "'");
      continue;
    }
    if (!SourceIndex.count(SourceName)) {
      SourceIndex[SourceName] = ToHash.size();
      ToHash.push_back(&S);
    }
    Pairs.push_back({Name, SourceName});
    Bytes += S.Size;
  }
  std::map<std::string, size_t> OutIndex;
  for (const auto &[Name, SourceName] : Pairs) {
    OutIndex[Name] = ToHash.size();
    ToHash.push_back(&Out.Tensors.at(Name));
  }

  std::vector<std::string> Hashes = hashTensors(ToHash, Jobs);
  for (const auto &[Name, SourceName] : Pairs) {
    const std::string &Want = Hashes[SourceIndex[SourceName]];
    const std::string &Got = Hashes[OutIndex[Name]];
    if (llvm::StringRef(Got).startswith("error:") || Got != Want)
      fail(R, "tensor '" + Name + "' bytes differ from source '" + SourceName + "' (sha256 " +
                  Got.substr(0, 16) + " vs " + Want.substr(0, 16) + ")");
  }
  R.Summary = counted(Pairs.size(), "tensor") + ", " + std::to_string(Bytes) +
              " bytes compared by SHA-256";
  return R;
}

VerifyResult checkIndex(const LoadedModel &Out) {
  VerifyResult R{"index", true, {}, ""};
  if (!Out.Hf || !Out.Hf->Index) {
    R.Summary = "no index (single file)";
    return R;
  }
  uint64_t Total = 0;
  for (const auto &[Name, Location] : Out.Tensors)
    Total += Location.Size;
  const nlohmann::json &Index = *Out.Hf->Index;
  const nlohmann::json *Size = Index.contains("metadata") && Index["metadata"].contains("total_size")
                                   ? &Index["metadata"]["total_size"]
                                   : nullptr;
  if (!Size || *Size != nlohmann::json(Total))
    fail(R, "metadata.total_size is " + (Size ? Size->dump() : std::string("missing")) +
                ", expected " + std::to_string(Total));
  for (const auto &[Name, Reason] : Out.Hf->SkippedFiles)
    fail(R, "'" + Name + "': " + Reason);
  R.Summary = "total_size " + std::to_string(Total) + ", weight_map matches the shards";
  return R;
}

/// Returns whether two parts of provenance records are equal. Key order is
/// not part of a record, so a record rewritten with sorted keys still matches.
bool sameRecordPart(const Json &A, const Json &B) {
  return nlohmann::json::parse(A.dump()) == nlohmann::json::parse(B.dump());
}

/// Checks that the output's record chains the source's record, when the
/// source has one, and that its original_map composes the two maps.
void checkChain(VerifyResult &R, const LoadedModel &Source, const Json &P,
                const Compilation &C) {
  if (!Source.Provenance) {
    if (P.contains("previous"))
      fail(R, "the record chains an earlier record, but the source has none");
    return;
  }
  if (!P.contains("previous") || !sameRecordPart(P["previous"], *Source.Provenance)) {
    fail(R, "the record does not chain the source's provenance record");
    return;
  }
  auto Original = composeOriginalMap(C.Map, *Source.Provenance);
  if (!Original) {
    llvm::consumeError(Original.takeError());
    if (P.contains("original_map"))
      fail(R, "the record has an 'original_map', but the source's map does not compose with it");
    return;
  }
  if (!P.contains("original_map") || P["original_map"] != *Original)
    fail(R, "the recorded original_map differs from the source's map composed with the recipe's");
}

VerifyResult checkProvenance(const LoadedModel &Source, const LoadedModel &Out,
                             const Compilation &C, const RecipeSource &Recipe) {
  VerifyResult R{"provenance", true, {}, ""};
  if (!Out.Provenance) {
    fail(R, "the output has no rysc provenance record");
    R.Summary = "no record";
    return R;
  }
  const Json &P = *Out.Provenance;
  if (!P.contains("map") || P["map"] != mapToJson(C.Map))
    fail(R, "the recorded map differs from the recipe's map");
  if (Out.Gguf) {
    const gguf::Value *Map = Out.Gguf->first().find("rys.map");
    Json Listed = Map ? gguf::toJson(*Map) : Json(nullptr);
    if (Listed != mapToJson(C.Map))
      fail(R, "the rys.map key differs from the recipe's map");
  }
  const Json *Sha = lookupPath(P, "recipe.sha256");
  if (!Sha || *Sha != Json(sha256Hex(Recipe.Text)))
    fail(R, "the recorded recipe differs from '" + Recipe.Name + "'");
  if (!P.contains("seams") || !sameRecordPart(P["seams"], seamsToJson(C.Map)))
    fail(R, "the recorded seams differ from the recipe's seams");
  checkChain(R, Source, P, C);
  R.Summary = Source.Provenance ? "map, seams and recipe hash recorded, source's record chained"
                                : "map, seams and recipe hash recorded";
  return R;
}

} // namespace

std::vector<std::string> hashTensors(const std::vector<const TensorLocation *> &Tensors,
                                     unsigned Jobs) {
  std::vector<std::string> Hashes(Tensors.size());
  parallelFor(Tensors.size(), Jobs, [&](size_t Index) {
    // One buffer per thread, so memory does not depend on the tensor count.
    thread_local std::vector<char> Buffer(HashChunk);
    Hashes[Index] = hashRange(*Tensors[Index], Buffer);
  });
  return Hashes;
}

std::vector<VerifyResult> verifyOutput(const LoadedModel &Source, const LoadedModel &Out,
                                       const Compilation &C, const RecipeSource &Recipe,
                                       const VerifyOptions &Options) {
  std::map<std::string, std::string> Expected = expectedNames(Source, C);
  std::vector<VerifyResult> Results;
  Results.push_back(checkNames(Expected, Out));
  Results.push_back(checkLayerCount(Out, C));
  Results.push_back(checkConfig(Out, C));
  if (Out.Gguf && Source.Gguf)
    Results.push_back(checkGgufKeys(Source, Out, C));
  if (Out.Hf && Source.Hf)
    Results.push_back(checkCopiedFiles(Source, Out, Options.Jobs));
  Results.push_back(checkBytes(Expected, Source, Out, Options.Jobs));
  if (Out.Hf)
    Results.push_back(checkIndex(Out));
  Results.push_back(checkProvenance(Source, Out, C, Recipe));
  return Results;
}

} // namespace rysc
