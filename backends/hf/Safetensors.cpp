// Reads, validates and writes safetensors headers.
#include "backends/hf/Safetensors.h"

#include "backends/FileIo.h"
#include "backends/hf/HeaderScan.h"
#include "compiler/Error.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/Support/Endian.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <limits>
#include <optional>
#include <system_error>
#include <tuple>
#include <unordered_set>

using namespace llvm;

namespace rysc::safetensors {

namespace {

/// Every dtype a header may name, with its bits per element.
constexpr DTypeInfo DTypes[] = {
    {"BOOL", 8},    {"U8", 8},   {"I8", 8},   {"F8_E5M2", 8}, {"F8_E4M3", 8},
    {"F8_E8M0", 8}, {"I16", 16}, {"U16", 16}, {"F16", 16},    {"BF16", 16},
    {"I32", 32},    {"U32", 32}, {"F32", 32}, {"F64", 64},    {"I64", 64},
    {"U64", 64},    {"C64", 64}, {"F4", 4},   {"F6_E2M3", 6}, {"F6_E3M2", 6},
};

constexpr uint64_t LengthFieldSize = 8;
static_assert(LengthFieldSize == DataAlignment, "buildHeader pads to the length field's size");
constexpr StringRef MetadataKey = "__metadata__";

/// nlohmann's parse errors quote the last token read, which can be as long
/// as the header, so the detail is cut to this many characters.
constexpr size_t MaxJsonErrorLength = 300;

using Json = nlohmann::json;

/// Returns \p Text with control bytes, and with \p EscapeNonAscii also
/// bytes of 0x80 and above, written as \xNN. LLVM 14's createStringError
/// copies a message through c_str(), so a raw NUL byte would cut it short.
std::string escapeBytes(StringRef Text, bool EscapeNonAscii = false) {
  std::string Escaped;
  for (unsigned char Byte : Text) {
    bool IsControl = Byte < 0x20 || Byte == 0x7f;
    if (IsControl || (EscapeNonAscii && Byte >= 0x80)) {
      Escaped += "\\x";
      Escaped += hexdigit(Byte >> 4);
      Escaped += hexdigit(Byte & 0xf);
      continue;
    }
    Escaped += static_cast<char>(Byte);
  }
  return Escaped;
}

Error tensorError(StringRef Path, StringRef Name, const Twine &Message) {
  return fileError(Path, "tensor '" + escapeBytes(Name) + "': " + Message);
}

/// Describes a JSON value for an error message: numbers and null by their
/// value, anything else by its type.
std::string describe(const Json &Value) {
  if (Value.is_number() || Value.is_null())
    return Value.dump();
  if (Value.is_array() || Value.is_object())
    return std::string("an ") + Value.type_name();
  return std::string("a ") + Value.type_name();
}

std::string formatShape(ArrayRef<uint64_t> Shape) {
  std::string Text = "[";
  for (size_t I = 0; I < Shape.size(); ++I) {
    if (I > 0)
      Text += ", ";
    Text += std::to_string(Shape[I]);
  }
  return Text + "]";
}

std::string formatRange(const TensorEntry &Tensor) {
  return "[" + std::to_string(Tensor.Begin) + ", " +
         std::to_string(Tensor.End) + "]";
}

/// Returns the value of a JSON integer that is at least zero. nlohmann
/// stores "-0" as a signed integer, so signed values are accepted too.
std::optional<uint64_t> getNonNegativeInteger(const Json &Value) {
  if (Value.is_number_unsigned())
    return Value.get<uint64_t>();
  if (Value.is_number_integer() && Value.get<int64_t>() >= 0)
    return static_cast<uint64_t>(Value.get<int64_t>());
  return std::nullopt;
}

/// Checks the header length \p Length against the limit and against the
/// size of a file of \p FileSize bytes.
Error checkHeaderLength(StringRef Path, uint64_t Length, uint64_t FileSize) {
  if (FileSize < LengthFieldSize)
    return fileError(Path, "file size " + Twine(FileSize) +
                               " is less than the 8 bytes of the header "
                               "length field");
  if (Length > MaxHeaderSize)
    return fileError(Path, "header length " + Twine(Length) +
                               " exceeds the limit of " + Twine(MaxHeaderSize) +
                               " bytes");
  if (Length > FileSize - LengthFieldSize)
    return fileError(Path, "header length " + Twine(Length) +
                               " runs past the end of the file (file size " +
                               Twine(FileSize) + ")");
  return Error::success();
}

/// Finds the first key repeated within one JSON object. nlohmann keeps only
/// one value of a repeated key, so repeats are caught while parsing.
class DuplicateKeyFinder {
public:
  bool operator()(int Depth, Json::parse_event_t Event, Json &Parsed) {
    switch (Event) {
    case Json::parse_event_t::object_start:
      KeysPerObject.emplace_back();
      break;
    case Json::parse_event_t::object_end:
      KeysPerObject.pop_back();
      break;
    case Json::parse_event_t::key:
      noteKey(Depth, Parsed.get_ref<const std::string &>());
      break;
    default:
      break;
    }
    return true;
  }

  bool found() const { return Found; }

  /// Returns the error text for the first repeated key.
  std::string message() const {
    if (DuplicateDepth == 1)
      return DuplicateKey == MetadataKey
                 ? "duplicate '__metadata__' entry"
                 : "duplicate tensor name '" + escapeBytes(DuplicateKey) + "'";
    return "duplicate key '" + escapeBytes(DuplicateKey) +
           "' inside the entry '" + escapeBytes(TopLevelKey) + "'";
  }

private:
  void noteKey(int Depth, const std::string &Key) {
    if (Found)
      return;
    if (Depth == 1)
      TopLevelKey = Key;
    if (KeysPerObject.back().insert(Key).second)
      return;
    Found = true;
    DuplicateKey = Key;
    DuplicateDepth = Depth;
  }

  std::vector<std::unordered_set<std::string>> KeysPerObject;
  std::string TopLevelKey;
  std::string DuplicateKey;
  int DuplicateDepth = 0;
  bool Found = false;
};

Expected<Json> parseJson(StringRef Path, StringRef Text) {
  // nlohmann copies the callback, so the copy reports to this finder
  // through a reference.
  DuplicateKeyFinder Finder;
  auto Callback = [&Finder](int Depth, Json::parse_event_t Event,
                            Json &Parsed) {
    return Finder(Depth, Event, Parsed);
  };

  Json Root;
  try {
    Root = Json::parse(Text.begin(), Text.end(), Callback);
  } catch (const Json::exception &E) {
    // Drop the "[json.exception.parse_error.101] " tag but keep the line,
    // column and reason.
    StringRef Detail = E.what();
    size_t TagEnd = Detail.find("] ");
    if (TagEnd != StringRef::npos)
      Detail = Detail.drop_front(TagEnd + 2);
    // The last token read may hold any bytes of the file, including invalid
    // UTF-8, so they are escaped after the cut.
    std::string EscapedDetail =
        escapeBytes(Detail.take_front(MaxJsonErrorLength), true);
    if (Detail.size() > MaxJsonErrorLength)
      EscapedDetail += "...";
    return fileError(Path, "header is not valid JSON: " + EscapedDetail);
  }

  if (!Root.is_object())
    return fileError(Path, "header is " + describe(Root) +
                               ", expected a JSON object");
  if (Finder.found())
    return fileError(Path, Finder.message());
  return Root;
}

Expected<nlohmann::ordered_json> parseMetadata(StringRef Path,
                                               const Json &Value) {
  if (!Value.is_object())
    return fileError(Path, "'__metadata__' is " + describe(Value) +
                               ", expected an object of string values");
  for (const auto &[Key, Item] : Value.items())
    if (!Item.is_string())
      return fileError(Path, "'__metadata__' value for key '" +
                                 escapeBytes(Key) + "' is " + describe(Item) +
                                 ", expected a string");
  return nlohmann::ordered_json(Value);
}

/// Checks that a tensor entry has exactly the keys dtype, shape and
/// data_offsets.
Error checkEntryKeys(StringRef Path, StringRef Name, const Json &Entry) {
  if (!Entry.is_object())
    return tensorError(Path, Name,
                       "entry is " + describe(Entry) + ", expected an object");
  for (StringRef Key : {"dtype", "shape", "data_offsets"})
    if (!Entry.contains(Key.str()))
      return tensorError(Path, Name, "missing key '" + Key + "'");
  for (const auto &[Key, Item] : Entry.items())
    if (Key != "dtype" && Key != "shape" && Key != "data_offsets")
      return tensorError(Path, Name,
                         "unexpected key '" + escapeBytes(Key) +
                             "', expected only dtype, shape and data_offsets");
  return Error::success();
}

Expected<const DTypeInfo *> parseDType(StringRef Path, StringRef Name,
                                       const Json &Value) {
  if (!Value.is_string())
    return tensorError(Path, Name,
                       "dtype is " + describe(Value) + ", expected a string");
  const std::string &DTypeName = Value.get_ref<const std::string &>();
  const DTypeInfo *Info = lookupDType(DTypeName);
  if (!Info)
    return tensorError(Path, Name,
                       "unknown dtype '" + escapeBytes(DTypeName) + "'");
  return Info;
}

Expected<std::vector<uint64_t>> parseShape(StringRef Path, StringRef Name,
                                           const Json &Value) {
  if (!Value.is_array())
    return tensorError(Path, Name,
                       "shape is " + describe(Value) +
                           ", expected an array of non-negative integers");
  std::vector<uint64_t> Shape;
  Shape.reserve(Value.size());
  for (size_t I = 0; I < Value.size(); ++I) {
    std::optional<uint64_t> Dim = getNonNegativeInteger(Value[I]);
    if (!Dim)
      return tensorError(Path, Name,
                         "shape[" + Twine(I) + "] is " + describe(Value[I]) +
                             ", expected a non-negative integer");
    Shape.push_back(*Dim);
  }
  return Shape;
}

/// Checks \p Tensor's data_offsets against each other and against the size
/// of the data section.
Error checkOffsets(StringRef Path, const TensorEntry &Tensor,
                   uint64_t DataSize) {
  StringRef Name = Tensor.Name;
  if (Tensor.Begin > Tensor.End)
    return tensorError(Path, Name,
                       "data_offsets begin " + Twine(Tensor.Begin) +
                           " is greater than end " + Twine(Tensor.End));
  if (Tensor.End > DataSize)
    return tensorError(Path, Name,
                       "data_offsets end " + Twine(Tensor.End) +
                           " is past the end of the data section (size " +
                           Twine(DataSize) + ")");
  return Error::success();
}

/// Parses data_offsets into \p Tensor and checks them against the size of
/// the data section.
Error parseDataOffsets(StringRef Path, const Json &Value, uint64_t DataSize,
                       TensorEntry &Tensor) {
  StringRef Name = Tensor.Name;
  if (!Value.is_array())
    return tensorError(Path, Name,
                       "data_offsets is " + describe(Value) +
                           ", expected an array of two non-negative integers");
  if (Value.size() != 2)
    return tensorError(Path, Name,
                       "data_offsets has " + Twine(Value.size()) +
                           " elements, expected 2");

  uint64_t Offsets[2];
  for (size_t I = 0; I < 2; ++I) {
    std::optional<uint64_t> Offset = getNonNegativeInteger(Value[I]);
    if (!Offset)
      return tensorError(Path, Name,
                         "data_offsets[" + Twine(I) + "] is " +
                             describe(Value[I]) +
                             ", expected a non-negative integer");
    Offsets[I] = *Offset;
  }
  Tensor.Begin = Offsets[0];
  Tensor.End = Offsets[1];
  return checkOffsets(Path, Tensor, DataSize);
}

/// Checks that dtype times shape is a whole number of bytes equal to the
/// tensor's data_offsets span.
Error checkByteSize(StringRef Path, const DTypeInfo &DType,
                    const TensorEntry &Tensor) {
  StringRef Name = Tensor.Name;
  std::string Described =
      "dtype " + DType.Name.str() + " with shape " + formatShape(Tensor.Shape);

  // A zero dimension makes the count zero even when the other dimensions
  // alone would overflow.
  uint64_t Count = 1;
  if (is_contained(Tensor.Shape, 0))
    Count = 0;
  for (uint64_t Dim : Tensor.Shape) {
    if (Count == 0)
      break;
    if (Count > std::numeric_limits<uint64_t>::max() / Dim)
      return tensorError(Path, Name,
                         "shape " + formatShape(Tensor.Shape) +
                             " has an element count that overflows 64 bits");
    Count *= Dim;
  }

  if (Count > std::numeric_limits<uint64_t>::max() / DType.Bits)
    return tensorError(
        Path, Name, Described + " has a size in bits that overflows 64 bits");
  uint64_t Bits = Count * DType.Bits;
  if (Bits % 8 != 0)
    return tensorError(Path, Name,
                       Described + " is " + Twine(Bits) +
                           " bits, not a whole number of bytes");

  uint64_t Bytes = Bits / 8;
  uint64_t Span = Tensor.End - Tensor.Begin;
  if (Bytes != Span)
    return tensorError(Path, Name,
                       Described + " needs " + Twine(Bytes) +
                           " bytes but data_offsets span " + Twine(Span));
  return Error::success();
}

Expected<TensorEntry> parseTensor(StringRef Path, const std::string &Name,
                                  const Json &Entry, uint64_t DataSize) {
  if (Error E = checkEntryKeys(Path, Name, Entry))
    return E;

  TensorEntry Tensor;
  Tensor.Name = Name;
  Expected<const DTypeInfo *> DType = parseDType(Path, Name, Entry["dtype"]);
  if (!DType)
    return DType.takeError();
  Tensor.DType = (*DType)->Name.str();

  Expected<std::vector<uint64_t>> Shape =
      parseShape(Path, Name, Entry["shape"]);
  if (!Shape)
    return Shape.takeError();
  Tensor.Shape = std::move(*Shape);

  if (Error E = parseDataOffsets(Path, Entry["data_offsets"], DataSize, Tensor))
    return E;
  if (Error E = checkByteSize(Path, **DType, Tensor))
    return E;
  return Tensor;
}

/// Checks that the tensors, sorted by offset, cover the data section from 0
/// to \p DataSize with no gap and no overlap.
Error checkCoverage(StringRef Path, ArrayRef<TensorEntry> Tensors,
                    uint64_t DataSize) {
  uint64_t Cursor = 0;
  const TensorEntry *Previous = nullptr;
  for (const TensorEntry &Tensor : Tensors) {
    if (Tensor.Begin < Cursor)
      return fileError(Path,
                       "tensor '" + escapeBytes(Tensor.Name) +
                           "' (data_offsets " + formatRange(Tensor) +
                           ") overlaps tensor '" + escapeBytes(Previous->Name) +
                           "' (data_offsets " + formatRange(*Previous) + ")");
    if (Tensor.Begin > Cursor && !Previous)
      return fileError(Path, "first tensor '" + escapeBytes(Tensor.Name) +
                                 "' begins at data offset " +
                                 Twine(Tensor.Begin) +
                                 ", expected 0 (a gap of " +
                                 Twine(Tensor.Begin) + " bytes)");
    if (Tensor.Begin > Cursor)
      return fileError(Path,
                       "tensor '" + escapeBytes(Tensor.Name) +
                           "' begins at data offset " + Twine(Tensor.Begin) +
                           ", expected " + Twine(Cursor) + " where tensor '" +
                           escapeBytes(Previous->Name) + "' ends (a gap of " +
                           Twine(Tensor.Begin - Cursor) + " bytes)");
    Cursor = Tensor.End;
    Previous = &Tensor;
  }

  if (Cursor == DataSize)
    return Error::success();
  if (Tensors.empty())
    return fileError(Path, "the header lists no tensors but the data section "
                           "is " +
                               Twine(DataSize) + " bytes");
  return fileError(Path, "tensor data ends at data offset " + Twine(Cursor) +
                             " but the data section is " + Twine(DataSize) +
                             " bytes (" + Twine(DataSize - Cursor) +
                             " trailing bytes)");
}

/// Reads exactly \p Size bytes of the header at \p Offset.
Error readExactly(StringRef Path, int Fd, char *Buffer, size_t Size,
                  uint64_t Offset) {
  Expected<uint64_t> Count = readAt(Fd, Path, Buffer, Size, Offset);
  if (!Count)
    return Count.takeError();
  if (*Count < Size)
    return fileError(Path, "file ended at offset " + Twine(Offset + *Count) +
                               " while reading the header, expected " +
                               Twine(Offset + Size) + " bytes");
  return Error::success();
}

} // namespace

const DTypeInfo *lookupDType(StringRef Name) {
  for (const DTypeInfo &Info : DTypes)
    if (Info.Name == Name)
      return &Info;
  return nullptr;
}

namespace detail {

Error parseHeaderThroughDom(StringRef Path, StringRef HeaderJson,
                            Header &Result) {
  Expected<Json> Root = parseJson(Path, HeaderJson);
  if (!Root)
    return Root.takeError();

  // nlohmann::json keeps object keys sorted, so entries are checked in name
  // order and the first bad one by name is reported. ordered_json would keep
  // the file's order but inserts each key with a linear search.
  Result.Tensors.clear();
  Result.Metadata = nullptr;
  for (const auto &[Name, Entry] : Root->items()) {
    if (Name == MetadataKey) {
      Expected<nlohmann::ordered_json> Metadata = parseMetadata(Path, Entry);
      if (!Metadata)
        return Metadata.takeError();
      Result.Metadata = std::move(*Metadata);
      continue;
    }
    Expected<TensorEntry> Tensor =
        parseTensor(Path, Name, Entry, Result.dataSize());
    if (!Tensor)
      return Tensor.takeError();
    Result.Tensors.push_back(std::move(*Tensor));
  }
  return Error::success();
}

} // namespace detail

namespace {

/// Reads \p HeaderJson through scanPlainHeader and checks each tensor's
/// offsets and size. Returns false when the slow path must run instead,
/// because something is wrong and its message must name the first bad
/// entry in the slow path's order.
bool parseHeaderFast(StringRef Path, StringRef HeaderJson, Header &Result) {
  if (!scanPlainHeader(HeaderJson, Result.Tensors, Result.Metadata))
    return false;
  for (const TensorEntry &Tensor : Result.Tensors) {
    Error E = checkOffsets(Path, Tensor, Result.dataSize());
    if (!E)
      E = checkByteSize(Path, *lookupDType(Tensor.DType), Tensor);
    if (E) {
      consumeError(std::move(E));
      return false;
    }
  }
  return true;
}

} // namespace

Expected<Header> parseHeader(StringRef Path, StringRef HeaderJson,
                             uint64_t FileSize) {
  if (Error E = checkHeaderLength(Path, HeaderJson.size(), FileSize))
    return E;

  Header Result;
  Result.Path = Path.str();
  Result.FileSize = FileSize;
  Result.DataStart = LengthFieldSize + HeaderJson.size();

  if (!parseHeaderFast(Path, HeaderJson, Result))
    if (Error E = detail::parseHeaderThroughDom(Path, HeaderJson, Result))
      return E;

  // Names break ties so the order is the same on every run.
  llvm::sort(Result.Tensors, [](const TensorEntry &A, const TensorEntry &B) {
    return std::tie(A.Begin, A.End, A.Name) < std::tie(B.Begin, B.End, B.Name);
  });
  if (Error E = checkCoverage(Path, Result.Tensors, Result.dataSize()))
    return E;
  return Result;
}

Expected<Header> readHeader(StringRef Path) {
  FileDescriptor File(::open(Path.str().c_str(), O_RDONLY | O_CLOEXEC));
  if (File.get() < 0)
    return fileError(Path, "failed to open: " + errnoMessage(errno));

  struct stat Status;
  if (::fstat(File.get(), &Status) != 0)
    return fileError(Path,
                     "failed to read the file size: " + errnoMessage(errno));
  if (!S_ISREG(Status.st_mode))
    return fileError(Path, "not a regular file");
  uint64_t FileSize = static_cast<uint64_t>(Status.st_size);

  // The length is checked before the JSON buffer is allocated.
  if (Error E = checkHeaderLength(Path, 0, FileSize))
    return E;
  char LengthBytes[LengthFieldSize];
  if (Error E = readExactly(Path, File.get(), LengthBytes, LengthFieldSize, 0))
    return E;
  uint64_t Length = support::endian::read64le(LengthBytes);
  if (Error E = checkHeaderLength(Path, Length, FileSize))
    return E;

  std::string HeaderJson(static_cast<size_t>(Length), '\0');
  if (Error E = readExactly(Path, File.get(), HeaderJson.data(), Length,
                            LengthFieldSize))
    return E;
  return parseHeader(Path, HeaderJson, FileSize);
}

void appendJsonString(std::string &Out, StringRef Text) {
  // Names are printable ASCII almost always. Anything else goes through
  // nlohmann, whose escapes (and UTF-8 checks) the output then keeps.
  bool Plain = llvm::all_of(Text, [](char C) {
    return C >= 0x20 && C < 0x7f && C != '"' && C != '\\';
  });
  if (!Plain) {
    Out += nlohmann::json(Text.str()).dump();
    return;
  }
  Out += '"';
  Out.append(Text.data(), Text.size());
  Out += '"';
}

std::string buildHeader(const nlohmann::ordered_json &Metadata,
                        ArrayRef<OutputTensor> Tensors) {
  // The JSON is written as text, in the compact form nlohmann's dump()
  // produces, because building and dumping a JSON value per tensor was a
  // sixth of plan's instructions on 100,000 tensors (callgrind).
  std::string Json = "{";
  if (!Metadata.is_null()) {
    appendJsonString(Json, MetadataKey);
    Json += ':';
    Json += Metadata.dump();
  }

  uint64_t Offset = 0;
  for (const OutputTensor &Tensor : Tensors) {
    if (Json.size() > 1)
      Json += ',';
    appendJsonString(Json, Tensor.Name);
    Json += ":{\"dtype\":";
    appendJsonString(Json, Tensor.DType);
    Json += ",\"shape\":[";
    for (size_t I = 0; I < Tensor.Shape.size(); ++I) {
      if (I > 0)
        Json += ',';
      Json += std::to_string(Tensor.Shape[I]);
    }
    Json += "],\"data_offsets\":[";
    Json += std::to_string(Offset);
    Json += ',';
    Json += std::to_string(Offset + Tensor.Size);
    Json += "]}";
    Offset += Tensor.Size;
  }
  Json += '}';

  // Spaces pad the JSON so that 8 + its length is a multiple of 8, which
  // keeps the data section 8-byte aligned in the file.
  Json.append(
      (LengthFieldSize - Json.size() % LengthFieldSize) % LengthFieldSize, ' ');

  std::string Bytes(LengthFieldSize, '\0');
  support::endian::write64le(Bytes.data(), Json.size());
  return Bytes + Json;
}

void setDataStart(std::string &Header, uint64_t DataStart) {
  assert(DataStart >= Header.size() && "padding cannot shorten a header");
  support::endian::write64le(Header.data(), DataStart - LengthFieldSize);
}

} // namespace rysc::safetensors
