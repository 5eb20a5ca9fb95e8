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
  llvm::SmallString<256> Record(Hf.Dir);
  llvm::sys::path::append(Record, "rysc.json");
  if (auto Buffer = llvm::MemoryBuffer::getFile(Record)) {
    Json Parsed = Json::parse((*Buffer)->getBuffer().str(), nullptr, false);
    if (Parsed.is_object())
      Model.Provenance = std::move(Parsed);
  }
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
  if (const gguf::Value *Record = G.first().find("rys.provenance"))
    if (Record->type() == gguf::ValueType::String) {
      Json Parsed = Json::parse(Record->asString().str(), nullptr, false);
      if (Parsed.is_object())
        Model.Provenance = std::move(Parsed);
    }
}

} // namespace

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
  if (!gguf::isGgufFile(Path))
    return fileError(Path, "is neither a Hugging Face folder nor a GGUF file");
  auto G = gguf::readGgufModel(Path);
  if (!G)
    return G.takeError();
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
