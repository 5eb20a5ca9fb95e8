// Reading a Hugging Face checkpoint folder without touching tensor data.
#include "backends/hf/HfModel.h"
#include "backends/hf/IndexScan.h"
#include "compiler/Error.h"
#include "compiler/Parallel.h"

#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/StringSet.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

#include <algorithm>
#include <map>
#include <set>

namespace rysc::hf {

namespace {

constexpr const char *IndexName = "model.safetensors.index.json";
constexpr const char *SingleName = "model.safetensors";
/// config.json and the index are small; anything larger is not one.
constexpr uint64_t MaxJsonFileSize = 256u << 20;

std::string joinPath(llvm::StringRef Dir, llvm::StringRef Name) {
  llvm::SmallString<256> Path(Dir);
  llvm::sys::path::append(Path, Name);
  return std::string(Path);
}

/// Returns \p Text with the bare literals NaN, Infinity and -Infinity, which
/// Python's json module writes (Falcon-H1 and Nemotron-H configs have
/// "time_step_limit": [0.0, Infinity]), turned into strings, so that a
/// strict JSON parser accepts the file. Edits are applied to the original
/// text, so these values are written back unchanged.
std::string quoteNonFiniteLiterals(llvm::StringRef Text) {
  // An index of 100,000 tensors is 10 MB, and copying it character by
  // character took a twentieth of plan's time.
  if (!Text.contains("NaN") && !Text.contains("Infinity"))
    return Text.str();

  std::string Result;
  Result.reserve(Text.size());
  bool InString = false;
  for (size_t Pos = 0; Pos < Text.size(); ++Pos) {
    char C = Text[Pos];
    if (InString) {
      Result += C;
      if (C == '\\' && Pos + 1 < Text.size())
        Result += Text[++Pos];
      else if (C == '"')
        InString = false;
      continue;
    }
    if (C == '"')
      InString = true;
    bool Matched = false;
    for (llvm::StringRef Literal : {"-Infinity", "Infinity", "NaN"})
      if (Text.substr(Pos).startswith(Literal)) {
        Result += "\"" + Literal.str() + "\"";
        Pos += Literal.size() - 1;
        Matched = true;
        break;
      }
    if (!Matched)
      Result += C;
  }
  return Result;
}

/// Reads a config or index file into \p Parseable, with non-finite literals
/// quoted, and into \p Original as read when it is not null.
llvm::Error readJsonText(const std::string &Path, std::string &Parseable,
                         std::string *Original = nullptr) {
  auto Buffer = llvm::MemoryBuffer::getFile(Path, /*IsText=*/false, /*RequiresNullTerminator=*/false);
  if (!Buffer)
    return fileError(Path, "cannot read: " + Buffer.getError().message());
  if ((*Buffer)->getBufferSize() > MaxJsonFileSize)
    return fileError(Path, "is " + llvm::Twine((*Buffer)->getBufferSize()) +
                               " bytes, larger than any config or index file");
  Parseable = quoteNonFiniteLiterals((*Buffer)->getBuffer());
  if (Original)
    *Original = (*Buffer)->getBuffer().str();
  return llvm::Error::success();
}

template <typename JsonType>
llvm::Expected<JsonType> parseJsonText(const std::string &Path, const std::string &Parseable) {
  JsonType Value = JsonType::parse(Parseable, nullptr, /*allow_exceptions=*/false);
  if (Value.is_discarded()) {
    // Parse again with exceptions only to get nlohmann's position message.
    try {
      (void)JsonType::parse(Parseable);
    } catch (const typename JsonType::parse_error &E) {
      return fileError(Path, "malformed JSON: " + llvm::StringRef(E.what()));
    }
    return fileError(Path, "malformed JSON");
  }
  if (!Value.is_object())
    return fileError(Path, "expected a JSON object at the top level");
  return Value;
}

template <typename JsonType = Json>
llvm::Expected<JsonType> readJsonFile(const std::string &Path, std::string *Text = nullptr) {
  std::string Parseable;
  if (llvm::Error E = readJsonText(Path, Parseable, Text))
    return std::move(E);
  return parseJsonText<JsonType>(Path, Parseable);
}

/// Checks an index shard name: a plain file name inside the folder.
llvm::Error checkShardName(const std::string &IndexPath, llvm::StringRef Tensor,
                           llvm::StringRef Name) {
  if (Name.empty() || Name.contains('/') || Name.contains('\\') || Name == "." || Name == "..")
    return fileError(IndexPath, "weight_map entry for '" + Tensor + "' names '" + Name +
                                    "', which is not a file in the model folder");
  return llvm::Error::success();
}

/// Reads the index through scanIndex, or, when that rejects it, as a
/// document, so that the error names what is wrong.
llvm::Expected<IndexContents> readIndexFile(const std::string &IndexPath) {
  std::string Text;
  if (llvm::Error E = readJsonText(IndexPath, Text))
    return std::move(E);
  IndexContents Contents;
  if (scanIndex(Text, Contents))
    return std::move(Contents);

  auto Index = parseJsonText<nlohmann::json>(IndexPath, Text);
  if (!Index)
    return Index.takeError();
  auto WeightMap = Index->find("weight_map");
  if (WeightMap == Index->end() || !WeightMap->is_object())
    return fileError(IndexPath, "has no 'weight_map' object");
  Contents = IndexContents();
  for (auto It = WeightMap->begin(); It != WeightMap->end(); ++It) {
    if (!It.value().is_string())
      return fileError(IndexPath, "weight_map entry for '" + It.key() + "' is not a file name");
    Contents.WeightMap.emplace_back(It.key(), It.value().get<std::string>());
  }
  Index->erase(WeightMap);
  Contents.Rest = std::move(*Index);
  return std::move(Contents);
}

/// Reads the shard headers on every core: a checkpoint can have a thousand
/// shards, and parsing their JSON headers is most of a plan's time.
llvm::Error readShardHeaders(HfModel &Model, const std::vector<std::string> &Names) {
  std::vector<std::optional<safetensors::Header>> Headers(Names.size());
  std::vector<std::string> Errors(Names.size());
  parallelFor(Names.size(), /*Threads=*/0, [&](size_t Index) {
    auto Header = safetensors::readHeader(joinPath(Model.Dir, Names[Index]));
    if (Header)
      Headers[Index] = std::move(*Header);
    else
      Errors[Index] = llvm::toString(Header.takeError());
  });

  // Report the first failing shard in name order, as a sequential read would.
  for (size_t Index = 0; Index < Names.size(); ++Index) {
    if (!Errors[Index].empty())
      return plainError(Errors[Index]);
    Model.Shards.push_back({Names[Index], std::move(*Headers[Index])});
  }
  return llvm::Error::success();
}

llvm::Error readShards(HfModel &Model, const std::vector<std::string> &Names) {
  if (llvm::Error E = readShardHeaders(Model, Names))
    return E;
  llvm::StringSet<> Seen;
  for (unsigned Index = 0; Index < Model.Shards.size(); ++Index)
    for (const safetensors::TensorEntry &Entry : Model.Shards[Index].Header.Tensors) {
      if (!Seen.insert(Entry.Name).second)
        return fileError(joinPath(Model.Dir, Model.Shards[Index].Name),
                         "tensor '" + Entry.Name + "' also appears in another shard");
      Model.Tensors.push_back({Entry.Name, Index, &Entry});
    }
  return llvm::Error::success();
}

/// Reads the index, checks every entry against the shard headers, and reads
/// the shards it names.
llvm::Error readIndexed(HfModel &Model) {
  std::string IndexPath = joinPath(Model.Dir, IndexName);
  auto Index = readIndexFile(IndexPath);
  if (!Index)
    return Index.takeError();

  llvm::StringMap<llvm::StringRef> Listed;
  std::set<llvm::StringRef> ShardNames;
  for (const auto &[Tensor, Shard] : Index->WeightMap) {
    if (llvm::Error E = checkShardName(IndexPath, Tensor, Shard))
      return E;
    if (!Listed.try_emplace(Tensor, Shard).second)
      return fileError(IndexPath, "lists tensor '" + Tensor +
                                      "' more than once in weight_map; each tensor must appear once");
    ShardNames.insert(Shard);
  }
  for (llvm::StringRef Name : ShardNames)
    if (!llvm::sys::fs::exists(joinPath(Model.Dir, Name)))
      return fileError(IndexPath, "names shard '" + Name + "', which does not exist");

  if (llvm::Error E = readShards(Model, {ShardNames.begin(), ShardNames.end()}))
    return E;

  // The index must describe the shards exactly, in both directions. Names
  // are unique on both sides, so when every index entry is found in the
  // shards and the counts agree, no shard tensor is missing from the index.
  llvm::StringMap<llvm::StringRef> Actual;
  for (const SourceTensor &T : Model.Tensors)
    Actual[T.Name] = Model.Shards[T.Shard].Name;
  for (const auto &[Tensor, Shard] : Index->WeightMap) {
    auto Found = Actual.find(Tensor);
    if (Found == Actual.end() || Found->second != Shard)
      return fileError(IndexPath, "maps tensor '" + Tensor + "' to '" + Shard +
                                      "', but that shard does not contain it");
  }
  if (Actual.size() != Listed.size())
    for (const SourceTensor &T : Model.Tensors)
      if (!Listed.count(T.Name))
        return fileError(joinPath(Model.Dir, Model.Shards[T.Shard].Name),
                         "tensor '" + T.Name + "' is missing from " + IndexName);
  Model.Index = std::move(Index->Rest);
  return llvm::Error::success();
}

/// Lists every regular file below the folder, relative and sorted.
llvm::Error listFiles(llvm::StringRef Dir, std::vector<std::string> &Files) {
  std::error_code EC;
  for (llvm::sys::fs::recursive_directory_iterator It(Dir, EC), End; It != End && !EC;
       It.increment(EC)) {
    llvm::sys::fs::file_status Status;
    if (std::error_code StatusError = llvm::sys::fs::status(It->path(), Status, /*Follow=*/true))
      return fileError(It->path(), "cannot read: " + StatusError.message());
    if (Status.type() != llvm::sys::fs::file_type::regular_file)
      continue;
    llvm::StringRef Relative = llvm::StringRef(It->path()).drop_front(Dir.size());
    Relative = Relative.ltrim('/');
    Files.push_back(Relative.str());
  }
  if (EC)
    return fileError(Dir, "cannot list the folder: " + EC.message());
  std::sort(Files.begin(), Files.end());
  return llvm::Error::success();
}

llvm::Error classifyOtherFiles(HfModel &Model) {
  std::vector<std::string> Files;
  if (llvm::Error E = listFiles(Model.Dir, Files))
    return E;
  std::set<std::string> Handled = {"config.json", IndexName};
  for (const Shard &S : Model.Shards)
    Handled.insert(S.Name);
  for (const std::string &File : Files) {
    if (Handled.count(File))
      continue;
    if (llvm::StringRef(File).endswith(".safetensors")) {
      // A stray shard would be picked up by tools that glob for shards.
      Model.SkippedFiles.push_back(
          {File, "a safetensors file that the model does not reference; it is not copied"});
      continue;
    }
    Model.OtherFiles.push_back(File);
  }
  return llvm::Error::success();
}

} // namespace

bool isHfModelDir(llvm::StringRef Dir) {
  return llvm::sys::fs::is_directory(Dir) && llvm::sys::fs::exists(joinPath(Dir, "config.json"));
}

llvm::Expected<HfModel> readHfModel(llvm::StringRef Dir) {
  HfModel Model;
  Model.Dir = Dir.str();
  if (!llvm::sys::fs::is_directory(Dir))
    return fileError(Dir, "is not a folder");
  llvm::SmallString<256> Real;
  if (std::error_code EC = llvm::sys::fs::real_path(Dir, Real))
    return fileError(Dir, "cannot resolve: " + EC.message());
  Model.RealDir = std::string(Real);

  auto Config = readJsonFile(joinPath(Dir, "config.json"), &Model.ConfigText);
  if (!Config)
    return Config.takeError();
  Model.Config = std::move(*Config);

  llvm::Error E = llvm::Error::success();
  if (llvm::sys::fs::exists(joinPath(Dir, IndexName)))
    E = readIndexed(Model);
  else if (llvm::sys::fs::exists(joinPath(Dir, SingleName)))
    E = readShards(Model, {SingleName});
  else
    E = fileError(Dir, "has neither model.safetensors nor model.safetensors.index.json");
  if (E)
    return std::move(E);
  if (llvm::Error E2 = classifyOtherFiles(Model))
    return std::move(E2);
  return std::move(Model);
}

ModelFacts HfModel::facts() const {
  ModelFacts Facts;
  Facts.ConfigName = joinPath(Dir, "config.json");
  Facts.Config = Config;
  for (const SourceTensor &T : Tensors)
    Facts.TensorNames.push_back(T.Name);
  return Facts;
}

uint64_t HfModel::largestShardDataSize() const {
  uint64_t Largest = 0;
  for (const Shard &S : Shards)
    Largest = std::max(Largest, S.Header.dataSize());
  return Largest;
}

} // namespace rysc::hf
