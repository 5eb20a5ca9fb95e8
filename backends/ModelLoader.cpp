// Loading models for verify, check and inspect.
#include "backends/ModelLoader.h"
#include "compiler/Error.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"

namespace rysc {

namespace {

void loadHf(LoadedModel &Model) {
  const hf::HfModel &Hf = *Model.Hf;
  Model.Facts = Hf.facts();
  for (const hf::SourceTensor &T : Hf.Tensors) {
    const hf::Shard &Shard = Hf.Shards[T.Shard];
    Model.Tensors[T.Name] = {Shard.Header.Path, Shard.Header.DataStart + T.Entry->Begin,
                             T.Entry->End - T.Entry->Begin, T.Entry->DType, T.Entry->Shape};
  }
  // check and inspect also read outputs of other tools, so a damaged record
  // is reported as no record rather than as an error.
  auto Record = readProvenance(Hf);
  if (Record)
    Model.Provenance = std::move(*Record);
  else
    llvm::consumeError(Record.takeError());
}

void loadGguf(LoadedModel &Model) {
  const gguf::GgufModel &G = *Model.Gguf;
  Model.Facts = G.facts();
  for (const gguf::SourceTensor &T : G.Tensors) {
    const gguf::File &Part = G.Parts[T.Part];
    const gguf::TypeTraits *Traits = gguf::lookupType(T.Info->Type);
    Model.Tensors[T.Info->Name] = {Part.Path, Part.DataStart + T.Info->Offset, T.Info->Size,
                                   Traits ? Traits->Name.str() : "?", T.Info->Dims};
  }
  auto Record = readProvenance(G);
  if (Record)
    Model.Provenance = std::move(*Record);
  else
    llvm::consumeError(Record.takeError());
}

llvm::Expected<std::optional<Json>> parseRecord(llvm::StringRef Text, const llvm::Twine &Where) {
  Json Parsed = Json::parse(Text.str(), nullptr, false);
  if (!Parsed.is_object())
    return plainError(Where + " is not a JSON object, so it is not a rysc provenance record");
  return std::optional<Json>(std::move(Parsed));
}

} // namespace

llvm::Expected<std::optional<Json>> readProvenance(const hf::HfModel &Model) {
  llvm::SmallString<256> Path(Model.Dir);
  llvm::sys::path::append(Path, "rysc.json");
  auto Buffer = llvm::MemoryBuffer::getFile(Path);
  if (!Buffer)
    return std::nullopt;
  return parseRecord((*Buffer)->getBuffer(), "'" + Path + "'");
}

llvm::Expected<std::optional<Json>> readProvenance(const gguf::GgufModel &Model) {
  const gguf::Value *Record = Model.first().find("rys.provenance");
  if (!Record)
    return std::nullopt;
  if (Record->type() != gguf::ValueType::String)
    return plainError("the key 'rys.provenance' of '" + Model.first().Path +
                      "' is not a string, so it is not a rysc provenance record");
  return parseRecord(Record->asString(),
                     "the key 'rys.provenance' of '" + Model.first().Path + "'");
}

llvm::Expected<LoadedModel> loadModel(llvm::StringRef Path) {
  LoadedModel Model;
  Model.Path = Path.str();
  if (llvm::sys::fs::is_directory(Path)) {
    auto Hf = hf::readHfModel(Path);
    if (!Hf)
      return Hf.takeError();
    Model.Hf = std::move(*Hf);
    loadHf(Model);
    return std::move(Model);
  }
  // A split output is named after the OUT given to apply; its first part
  // carries a "-00001-of-0000N" suffix.
  std::string Resolved = Path.str();
  if (!llvm::sys::fs::exists(Resolved) && Path.endswith(".gguf")) {
    std::error_code EC;
    llvm::StringRef Stem = llvm::sys::path::stem(Path);
    llvm::SmallString<256> Folder(llvm::sys::path::parent_path(Path));
    if (Folder.empty())
      Folder = ".";
    for (llvm::sys::fs::directory_iterator It(Folder, EC), End; It != End && !EC; It.increment(EC)) {
      llvm::StringRef Name = llvm::sys::path::filename(It->path());
      auto Split = gguf::parseSplitName(Name);
      if (Split && Split->first == 1 && Name.startswith((Stem + "-").str()) &&
          Name.size() == Stem.size() + std::string("-00001-of-00001.gguf").size())
        Resolved = It->path();
    }
  }
  if (!llvm::sys::fs::exists(Resolved))
    return fileError(Path, "not found");
  if (!gguf::isGgufFile(Resolved))
    return fileError(Path, "is neither a Hugging Face folder nor a GGUF model file (legacy "
                           "imatrix files are not read by verify, check and inspect)");
  auto G = gguf::readGgufModel(Resolved);
  if (!G)
    return G.takeError();
  if (G->IsImatrix)
    return fileError(Path, "is an importance matrix, not a model; verify, check and inspect "
                           "read models only");
  Model.Kind = LoadedModel::Format::Gguf;
  Model.Gguf = std::move(*G);
  loadGguf(Model);
  return std::move(Model);
}

std::vector<std::pair<std::string, uint64_t>> LoadedModel::dataFiles() const {
  std::vector<std::pair<std::string, uint64_t>> Files;
  if (Hf)
    for (const hf::Shard &S : Hf->Shards)
      Files.push_back({S.Name, S.Header.FileSize});
  if (Gguf)
    for (const gguf::File &Part : Gguf->Parts)
      Files.push_back({llvm::sys::path::filename(Part.Path).str(), Part.FileSize});
  return Files;
}

} // namespace rysc
