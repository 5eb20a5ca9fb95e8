// A fast path for reading safetensors headers that are well formed.
#include "backends/hf/HeaderScan.h"

#include "llvm/ADT/STLExtras.h"

#include <string>
#include <utility>

using namespace llvm;

namespace rysc::safetensors {

namespace {

using Json = nlohmann::json;

/// The scanner's position in the expected structure
///   {"__metadata__": {"k": "v", ...}, "name": {"dtype": "F32",
///    "shape": [2, 3], "data_offsets": [0, 24]}, ...}
enum class Position {
  BeforeRoot,
  InRoot,
  BeforeMetadata,
  InMetadata,
  AtMetadataValue,
  BeforeEntry,
  InEntry,
  AtDType,
  BeforeShape,
  InShape,
  BeforeOffsets,
  InOffsets,
  AfterRoot,
};

/// The entry keys seen so far, as bits.
enum EntryKey : unsigned { DTypeKey = 1, ShapeKey = 2, OffsetsKey = 4 };
constexpr unsigned AllEntryKeys = DTypeKey | ShapeKey | OffsetsKey;

/// The handler nlohmann::json::sax_parse calls for each token. Every
/// handler returns false, which stops the parse, on anything but the plain
/// form.
class Scanner {
public:
  Scanner(std::vector<TensorEntry> &Tensors,
          std::vector<std::pair<std::string, std::string>> &Metadata)
      : Tensors(Tensors), Metadata(Metadata) {}

  bool hasMetadata() const { return SawMetadata; }

  bool null() { return false; }
  bool boolean(bool) { return false; }
  bool number_float(Json::number_float_t, const std::string &) {
    return false;
  }
  bool binary(Json::binary_t &) { return false; }
  bool parse_error(size_t, const std::string &,
                   const nlohmann::detail::exception &) {
    return false;
  }

  // nlohmann reads "-0" as a signed integer; the slow path accepts it as 0.
  bool number_integer(Json::number_integer_t Value) {
    return Value >= 0 && number(static_cast<uint64_t>(Value));
  }
  bool number_unsigned(Json::number_unsigned_t Value) { return number(Value); }

  bool string(std::string &Value) {
    if (At == Position::AtMetadataValue) {
      Metadata.emplace_back(std::move(PendingKey), std::move(Value));
      At = Position::InMetadata;
      return true;
    }
    if (At != Position::AtDType)
      return false;
    const DTypeInfo *Info = lookupDType(Value);
    if (!Info)
      return false;
    Tensors.back().DType = Info->Name.str();
    At = Position::InEntry;
    return true;
  }

  bool start_object(size_t) {
    switch (At) {
    case Position::BeforeRoot:
      At = Position::InRoot;
      return true;
    case Position::BeforeMetadata:
      At = Position::InMetadata;
      return true;
    case Position::BeforeEntry:
      At = Position::InEntry;
      KeysSeen = 0;
      return true;
    default:
      return false;
    }
  }

  bool end_object() {
    switch (At) {
    case Position::InRoot:
      At = Position::AfterRoot;
      return true;
    case Position::InMetadata:
      At = Position::InRoot;
      return true;
    case Position::InEntry:
      At = Position::InRoot;
      return KeysSeen == AllEntryKeys;
    default:
      return false;
    }
  }

  bool start_array(size_t) {
    if (At == Position::BeforeShape) {
      At = Position::InShape;
      return true;
    }
    if (At == Position::BeforeOffsets) {
      At = Position::InOffsets;
      OffsetCount = 0;
      return true;
    }
    return false;
  }

  bool end_array() {
    if (At == Position::InShape) {
      At = Position::InEntry;
      return true;
    }
    if (At == Position::InOffsets) {
      At = Position::InEntry;
      return OffsetCount == 2;
    }
    return false;
  }

  bool key(std::string &Name) {
    switch (At) {
    case Position::InRoot:
      return rootKey(Name);
    case Position::InMetadata:
      PendingKey = std::move(Name);
      At = Position::AtMetadataValue;
      return true;
    case Position::InEntry:
      return entryKey(Name);
    default:
      return false;
    }
  }

private:
  bool rootKey(std::string &Name) {
    if (Name == "__metadata__") {
      if (SawMetadata)
        return false;
      SawMetadata = true;
      At = Position::BeforeMetadata;
      return true;
    }
    Tensors.emplace_back();
    Tensors.back().Name = std::move(Name);
    At = Position::BeforeEntry;
    return true;
  }

  bool entryKey(const std::string &Name) {
    unsigned Key;
    Position Next;
    if (Name == "dtype") {
      Key = DTypeKey;
      Next = Position::AtDType;
    } else if (Name == "shape") {
      Key = ShapeKey;
      Next = Position::BeforeShape;
    } else if (Name == "data_offsets") {
      Key = OffsetsKey;
      Next = Position::BeforeOffsets;
    } else {
      return false;
    }
    if (KeysSeen & Key)
      return false;
    KeysSeen |= Key;
    At = Next;
    return true;
  }

  bool number(uint64_t Value) {
    TensorEntry &Tensor = Tensors.back();
    if (At == Position::InShape) {
      Tensor.Shape.push_back(Value);
      return true;
    }
    if (At != Position::InOffsets || OffsetCount == 2)
      return false;
    (OffsetCount == 0 ? Tensor.Begin : Tensor.End) = Value;
    ++OffsetCount;
    return true;
  }

  std::vector<TensorEntry> &Tensors;
  std::vector<std::pair<std::string, std::string>> &Metadata;
  Position At = Position::BeforeRoot;
  std::string PendingKey;
  unsigned KeysSeen = 0;
  unsigned OffsetCount = 0;
  bool SawMetadata = false;
};

/// Returns true when two of \p Tensors share a name.
bool hasRepeatedName(ArrayRef<TensorEntry> Tensors) {
  std::vector<StringRef> Names;
  Names.reserve(Tensors.size());
  for (const TensorEntry &Tensor : Tensors)
    Names.push_back(Tensor.Name);
  llvm::sort(Names);
  return std::adjacent_find(Names.begin(), Names.end()) != Names.end();
}

} // namespace

bool scanPlainHeader(StringRef HeaderJson, std::vector<TensorEntry> &Tensors,
                     nlohmann::ordered_json &Metadata) {
  Tensors.clear();
  std::vector<std::pair<std::string, std::string>> Pairs;
  Scanner Handler(Tensors, Pairs);
  if (!Json::sax_parse(HeaderJson.begin(), HeaderJson.end(), &Handler))
    return false;
  if (hasRepeatedName(Tensors))
    return false;

  // The slow path keeps metadata keys sorted by name, as nlohmann::json
  // does, so this one sorts them too.
  Metadata = nullptr;
  if (!Handler.hasMetadata())
    return true;
  llvm::sort(Pairs, [](const auto &A, const auto &B) { return A.first < B.first; });
  auto Repeat = std::adjacent_find(
      Pairs.begin(), Pairs.end(),
      [](const auto &A, const auto &B) { return A.first == B.first; });
  if (Repeat != Pairs.end())
    return false;
  Metadata = nlohmann::ordered_json::object();
  for (auto &[Key, Value] : Pairs)
    Metadata.emplace(std::move(Key), std::move(Value));
  return true;
}

} // namespace rysc::safetensors
