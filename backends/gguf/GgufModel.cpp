// Reading GGUF models and converting metadata between GGUF and JSON.
#include "backends/gguf/GgufModel.h"
#include "compiler/Error.h"

#include "llvm/ADT/SmallVector.h"
#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"

#include <cmath>
#include <cstring>

namespace rysc::gguf {

bool isGgufFile(llvm::StringRef Path) {
  auto Buffer = llvm::MemoryBuffer::getFileSlice(Path, 4, 0);
  return Buffer && (*Buffer)->getBuffer() == Magic;
}

llvm::Expected<GgufModel> readGgufModel(llvm::StringRef Path) {
  auto Parts = readSplitSet(Path);
  if (!Parts)
    return Parts.takeError();
  GgufModel Model;
  Model.Path = Path.str();
  Model.Parts = std::move(*Parts);
  for (const File &Part : Model.Parts)
    Model.PartPaths.push_back(Part.Path);
  for (unsigned Index = 0; Index < Model.Parts.size(); ++Index)
    for (const TensorInfo &Info : Model.Parts[Index].Tensors)
      Model.Tensors.push_back({Index, &Info});

  const File &First = Model.first();
  if (const Value *Type = First.find("general.type"))
    Model.IsImatrix = Type->type() == ValueType::String && Type->asString() == "imatrix";
  const Value *Arch = First.find("general.architecture");
  if (Arch && Arch->type() == ValueType::String)
    Model.Arch = Arch->asString().str();
  else if (!Model.IsImatrix)
    return fileError(Path, "has no STRING key 'general.architecture'; it is not a model file");
  return std::move(Model);
}

namespace {

Json scalarToJson(const Value &V) {
  switch (V.type()) {
  case ValueType::Float32:
    return V.asFloat32();
  case ValueType::Float64:
    return V.asFloat64();
  case ValueType::Bool:
    return V.asBool();
  case ValueType::String:
    return V.asString().str();
  default:
    if (auto Signed = V.asInt64())
      return *Signed;
    return *V.asUInt64();
  }
}

/// Puts \p Value at the dotted \p Key unless a leaf is in the way, which
/// happens only for key sets that no profile can name.
void insertDotted(Json &Root, llvm::StringRef Key, Json Value) {
  llvm::SmallVector<llvm::StringRef, 6> Parts;
  Key.split(Parts, '.');
  Json *Current = &Root;
  for (size_t Index = 0; Index + 1 < Parts.size(); ++Index) {
    Json &Next = (*Current)[Parts[Index].str()];
    if (!Next.is_null() && !Next.is_object())
      return;
    if (Next.is_null())
      Next = Json::object();
    Current = &Next;
  }
  if (Current->contains(Parts.back().str()))
    return;
  (*Current)[Parts.back().str()] = std::move(Value);
}

} // namespace

Json toJson(const Value &V) {
  if (!V.isArray())
    return scalarToJson(V);
  Json Result = Json::array();
  for (uint64_t Index = 0; Index < V.arraySize(); ++Index)
    Result.push_back(scalarToJson(V.element(Index)));
  return Result;
}

ModelFacts GgufModel::facts() const {
  ModelFacts Facts;
  Facts.ConfigName = Path;
  Facts.GgufArch = Arch;
  Facts.Config = Json::object();
  std::string ArchPrefix = Arch + ".";
  for (const KeyValue &KV : first().Metadata) {
    llvm::StringRef Key = KV.Key;
    // Tokenizer arrays are large and never per-layer.
    if (!Key.startswith("general.") && (Arch.empty() || !Key.startswith(ArchPrefix)))
      continue;
    // An external array has over 64 KiB of elements, more than any
    // per-layer list, and its elements are not in memory.
    if (KV.Val.isExternal())
      continue;
    insertDotted(Facts.Config, Key, toJson(KV.Val));
  }
  for (const SourceTensor &T : Tensors)
    Facts.TensorNames.push_back(T.Info->Name);
  return Facts;
}

namespace {

llvm::Expected<Value> scalarOfType(const Json &New, ValueType Type, llvm::StringRef Key) {
  auto Mismatch = [&]() {
    return plainError("key '" + Key + "': value " + llvm::StringRef(New.dump()) +
                      " does not fit its type " + valueTypeName(Type));
  };
  switch (Type) {
  case ValueType::Bool:
    if (New.is_boolean())
      return Value::boolean(New.get<bool>());
    if (New.is_number_integer())
      return Value::boolean(New.get<int64_t>() != 0);
    return Mismatch();
  case ValueType::Float32:
  case ValueType::Float64:
    if (!New.is_number())
      return Mismatch();
    return Type == ValueType::Float32 ? Value::float32(New.get<float>())
                                      : Value::float64(New.get<double>());
  case ValueType::String:
    if (!New.is_string())
      return Mismatch();
    return Value::string(New.get<std::string>());
  default:
    break;
  }
  if (!New.is_number_integer() && !New.is_boolean())
    return Mismatch();
  int64_t I = New.is_boolean() ? New.get<bool>() : New.get<int64_t>();
  bool Unsigned = Type == ValueType::UInt8 || Type == ValueType::UInt16 ||
                  Type == ValueType::UInt32 || Type == ValueType::UInt64;
  if (Unsigned && I < 0)
    return Mismatch();
  struct Range {
    int64_t Min;
    int64_t Max;
  };
  Range Limits{INT64_MIN, INT64_MAX};
  switch (Type) {
  case ValueType::UInt8:
    Limits = {0, UINT8_MAX};
    break;
  case ValueType::Int8:
    Limits = {INT8_MIN, INT8_MAX};
    break;
  case ValueType::UInt16:
    Limits = {0, UINT16_MAX};
    break;
  case ValueType::Int16:
    Limits = {INT16_MIN, INT16_MAX};
    break;
  case ValueType::UInt32:
    Limits = {0, UINT32_MAX};
    break;
  case ValueType::Int32:
    Limits = {INT32_MIN, INT32_MAX};
    break;
  default:
    break;
  }
  if (I < Limits.Min || I > Limits.Max)
    return Mismatch();
  if (Type == ValueType::UInt64)
    return Value::uint64(static_cast<uint64_t>(I));
  if (Type == ValueType::Int64)
    return Value::int64(I);
  // Signed values are stored as their two's complement in the type's width.
  unsigned Width = Type == ValueType::UInt8 || Type == ValueType::Int8     ? 8
                   : Type == ValueType::UInt16 || Type == ValueType::Int16 ? 16
                                                                           : 32;
  return Value::fromBits(Type, static_cast<uint64_t>(I) & ((uint64_t(1) << Width) - 1));
}

llvm::Expected<Value> arrayOfType(const Json &New, ValueType Element, llvm::StringRef Key) {
  if (!New.is_array())
    return plainError("key '" + Key + "': expected a list, found " + New.dump());
  if (Element == ValueType::String) {
    std::vector<std::string> Strings;
    for (const Json &Item : New) {
      if (!Item.is_string())
        return plainError("key '" + Key + "': list entry " + Item.dump() + " is not a string");
      Strings.push_back(Item.get<std::string>());
    }
    return Value::stringArray(std::move(Strings));
  }
  std::vector<Value> Elements;
  for (const Json &Item : New) {
    auto Element_ = scalarOfType(Item, Element, Key);
    if (!Element_)
      return Element_.takeError();
    Elements.push_back(std::move(*Element_));
  }
  return Value::array(Element, Elements);
}

} // namespace

llvm::Expected<Value> fromJsonLike(const Json &New, const Value &Old, llvm::StringRef Key) {
  if (Old.isArray())
    return arrayOfType(New, Old.elementType(), Key);
  return scalarOfType(New, Old.type(), Key);
}

llvm::Expected<Value> fromJsonNew(const Json &New, llvm::StringRef StorageType,
                                  llvm::StringRef Key) {
  const Json &Sample = New.is_array() && !New.empty() ? New.front() : New;
  ValueType Type = ValueType::Int32;
  if (StorageType == "bool" || (StorageType.empty() && Sample.is_boolean()))
    Type = ValueType::Bool;
  else if (StorageType == "uint32")
    Type = ValueType::UInt32;
  else if (StorageType == "float32" || (StorageType.empty() && Sample.is_number_float()))
    Type = ValueType::Float32;
  else if (StorageType.empty() && Sample.is_string())
    Type = ValueType::String;
  if (New.is_array())
    return arrayOfType(New, Type, Key);
  return scalarOfType(New, Type, Key);
}

} // namespace rysc::gguf
