// Reads, validates and writes GGUF headers.
#include "backends/gguf/Gguf.h"

#include "backends/FileIo.h"
#include "compiler/Error.h"

#include "llvm/ADT/STLExtras.h"
#include "llvm/ADT/StringExtras.h"
#include "llvm/ADT/StringMap.h"
#include "llvm/ADT/Twine.h"
#include "llvm/Support/Endian.h"
#include "llvm/Support/MathExtras.h"
#include "llvm/Support/Path.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cassert>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <system_error>
#include <tuple>
#include <utility>

using namespace llvm;

namespace rysc::gguf {

namespace {

/// Every ggml type id of mainline llama.cpp, indexed by id, from the type
/// traits in ggml/src/ggml.c. A block size of 0 marks an id that ggml has
/// removed: its files no longer load.
constexpr TypeTraits Types[] = {
    {"F32", 1, 4},          {"F16", 1, 2},         {"Q4_0", 32, 18},
    {"Q4_1", 32, 20},       {"Q4_2", 0, 0},        {"Q4_3", 0, 0},
    {"Q5_0", 32, 22},       {"Q5_1", 32, 24},      {"Q8_0", 32, 34},
    {"Q8_1", 32, 36},       {"Q2_K", 256, 84},     {"Q3_K", 256, 110},
    {"Q4_K", 256, 144},     {"Q5_K", 256, 176},    {"Q6_K", 256, 210},
    {"Q8_K", 256, 292},     {"IQ2_XXS", 256, 66},  {"IQ2_XS", 256, 74},
    {"IQ3_XXS", 256, 98},   {"IQ1_S", 256, 50},    {"IQ4_NL", 32, 18},
    {"IQ3_S", 256, 110},    {"IQ2_S", 256, 82},    {"IQ4_XS", 256, 136},
    {"I8", 1, 1},           {"I16", 1, 2},         {"I32", 1, 4},
    {"I64", 1, 8},          {"F64", 1, 8},         {"IQ1_M", 256, 56},
    {"BF16", 1, 2},         {"Q4_0_4_4", 0, 0},    {"Q4_0_4_8", 0, 0},
    {"Q4_0_8_8", 0, 0},     {"TQ1_0", 256, 54},    {"TQ2_0", 256, 66},
    {"IQ4_NL_4_4", 0, 0},   {"IQ4_NL_4_8", 0, 0},  {"IQ4_NL_8_8", 0, 0},
    {"MXFP4", 32, 17},      {"NVFP4", 64, 36},     {"Q1_0", 128, 18},
    {"Q2_0", 64, 18},
};
static_assert(std::size(Types) == 43, "GGML_TYPE_COUNT is 43");

/// Bytes read from a file at a time while parsing a header. Larger reads,
/// such as a long string, go straight into their destination.
constexpr uint64_t ReadChunkSize = uint64_t(1) << 20;

/// The maximum number of bytes of a key, name or string value quoted in a
/// message.
constexpr size_t MaxQuotedLength = 100;

/// The largest file size accepted, the largest off_t. Keeping every offset
/// below 2^63 lets offsets plus padding be added without overflow.
constexpr uint64_t MaxFileSize = uint64_t(std::numeric_limits<int64_t>::max());

/// The split-set keys written by llama-gguf-split.
constexpr StringLiteral SplitNoKey = "split.no";
constexpr StringLiteral SplitCountKey = "split.count";
constexpr StringLiteral SplitTensorsCountKey = "split.tensors.count";

/// The length of the split suffix "-00001-of-00003" without ".gguf".
constexpr size_t SplitSuffixLength = 15;
constexpr StringLiteral GgufExtension = ".gguf";
/// The largest number with the 5 digits of a split suffix.
[[maybe_unused]] constexpr unsigned MaxSplitCount = 99999;

bool isKnownValueType(uint32_t Id) {
  return Id <= static_cast<uint32_t>(ValueType::Float64);
}

/// Returns the encoded size of a numeric or BOOL value, or 0 for STRING and
/// ARRAY.
unsigned scalarSize(ValueType Type) {
  switch (Type) {
  case ValueType::UInt8:
  case ValueType::Int8:
  case ValueType::Bool:
    return 1;
  case ValueType::UInt16:
  case ValueType::Int16:
    return 2;
  case ValueType::UInt32:
  case ValueType::Int32:
  case ValueType::Float32:
    return 4;
  case ValueType::UInt64:
  case ValueType::Int64:
  case ValueType::Float64:
    return 8;
  case ValueType::String:
  case ValueType::Array:
    return 0;
  }
  llvm_unreachable("invalid ValueType");
}

bool isSignedInteger(ValueType Type) {
  return Type == ValueType::Int8 || Type == ValueType::Int16 ||
         Type == ValueType::Int32 || Type == ValueType::Int64;
}

/// Appends the low \p Size bytes of \p Number, least significant first.
void appendLittleEndian(std::string &Out, uint64_t Number, unsigned Size) {
  assert(Size <= 8 && "at most 8 bytes");
  char Buffer[8];
  support::endian::write64le(Buffer, Number);
  Out.append(Buffer, Size);
}

/// Reads \p Size bytes (at most 8) at \p Data as a little-endian number.
uint64_t readLittleEndian(const char *Data, unsigned Size) {
  assert(Size <= 8 && "at most 8 bytes");
  char Buffer[8] = {};
  std::memcpy(Buffer, Data, Size);
  return support::endian::read64le(Buffer);
}

void appendString(std::string &Out, StringRef Text) {
  appendLittleEndian(Out, Text.size(), 8);
  Out.append(Text.data(), Text.size());
}

/// Returns \p A * \p B, or std::nullopt if the product overflows 64 bits.
std::optional<uint64_t> multiply(uint64_t A, uint64_t B) {
  if (B != 0 && A > std::numeric_limits<uint64_t>::max() / B)
    return std::nullopt;
  return A * B;
}

/// Returns \p Text in single quotes for a message, with control bytes
/// written as \xNN and anything past MaxQuotedLength bytes cut to "...".
/// LLVM 14's createStringError copies a message through c_str(), so a raw
/// NUL byte would end it early.
std::string quote(StringRef Text) {
  StringRef Excerpt = Text;
  bool Cut = Text.size() > MaxQuotedLength;
  if (Cut) {
    size_t End = MaxQuotedLength;
    // Cut before a UTF-8 continuation byte rather than inside a character.
    while (End > 0 && (static_cast<unsigned char>(Text[End]) & 0xc0) == 0x80)
      --End;
    Excerpt = Text.take_front(End);
  }

  std::string Quoted = "'";
  for (unsigned char Byte : Excerpt) {
    if (Byte < 0x20 || Byte == 0x7f) {
      Quoted += "\\x";
      Quoted += hexdigit(Byte >> 4);
      Quoted += hexdigit(Byte & 0xf);
      continue;
    }
    Quoted += static_cast<char>(Byte);
  }
  if (Cut)
    Quoted += "...";
  return Quoted + "'";
}

std::string formatShape(ArrayRef<uint64_t> Dims) {
  std::string Text = "[";
  for (size_t I = 0; I < Dims.size(); ++I) {
    if (I > 0)
      Text += ", ";
    Text += std::to_string(Dims[I]);
  }
  return Text + "]";
}

/// Returns the data size of a tensor of shape \p Dims and type \p Traits,
/// or std::nullopt if it overflows 64 bits. ne[0] must be a multiple of the
/// block size. Missing dimensions count as 1.
std::optional<uint64_t> computeDataSize(ArrayRef<uint64_t> Dims,
                                        const TypeTraits &Traits) {
  // A zero dimension makes the size zero even when the other dimensions
  // alone would overflow.
  if (is_contained(Dims, 0))
    return 0;
  uint64_t RowLength = Dims.empty() ? 1 : Dims[0];
  assert(RowLength % Traits.BlockSize == 0 && "partial block");
  std::optional<uint64_t> Size =
      multiply(RowLength / Traits.BlockSize, Traits.BytesPerBlock);
  for (size_t I = 1; I < Dims.size() && Size; ++I)
    Size = multiply(*Size, Dims[I]);
  return Size;
}

/// Reads exactly \p Size bytes at \p At. A file that ends first is
/// reported with its size when opened, \p FileSize, because it shrank while
/// being read.
Error readExactlyAt(int Descriptor, StringRef Path, uint64_t FileSize,
                    char *Destination, uint64_t Size, uint64_t At) {
  Expected<uint64_t> Count = readAt(Descriptor, Path, Destination, Size, At);
  if (!Count)
    return Count.takeError();
  if (*Count < Size)
    return fileError(Path, "file ended at offset " + Twine(At + *Count) +
                               " but was " + Twine(FileSize) +
                               " bytes when opened");
  return Error::success();
}

/// Reads a header front to back, either from an in-memory prefix of the
/// file or from an open file in chunks of ReadChunkSize bytes. Each read is
/// checked against the file size, then against the bytes available, and
/// either failure is reported as "truncated".
class Cursor {
public:
  /// Reads from \p Prefix, the first bytes of a file of \p FileSize bytes.
  Cursor(StringRef Path, uint64_t FileSize, StringRef Prefix)
      : Path(Path), FileSize(FileSize), Prefix(Prefix) {
    assert(Prefix.size() <= FileSize && "prefix longer than the file");
  }

  /// Reads from the open file \p Descriptor of \p FileSize bytes.
  Cursor(StringRef Path, uint64_t FileSize, int Descriptor)
      : Path(Path), FileSize(FileSize), Descriptor(Descriptor) {}

  uint64_t offset() const { return Offset; }
  uint64_t remaining() const { return FileSize - Offset; }

  /// Checks that the next \p Size bytes, which \p What names for messages,
  /// lie inside the file and, for a prefix, inside the prefix.
  Error require(uint64_t Size, const Twine &What) const {
    if (Size > remaining())
      return fileError(Path, "truncated: " + What + " at offset " +
                                 Twine(Offset) + " needs " + Twine(Size) +
                                 " bytes, but the file ends at offset " +
                                 Twine(FileSize));
    if (Descriptor < 0 && Size > Prefix.size() - Offset)
      return fileError(Path, "truncated: " + What + " at offset " +
                                 Twine(Offset) + " needs " + Twine(Size) +
                                 " bytes, but only the first " +
                                 Twine(Prefix.size()) +
                                 " bytes of the file were given");
    return Error::success();
  }

  /// Copies the next \p Size bytes into \p Destination.
  Error read(char *Destination, uint64_t Size, const Twine &What) {
    if (Error E = require(Size, What))
      return E;
    if (Descriptor >= 0)
      return readFromFile(Destination, Size);
    std::memcpy(Destination, Prefix.data() + Offset, Size);
    Offset += Size;
    return Error::success();
  }

  Expected<uint64_t> readNumber(unsigned Size, const Twine &What) {
    char Buffer[8];
    if (Error E = read(Buffer, Size, What))
      return E;
    return readLittleEndian(Buffer, Size);
  }

  /// Moves past the next \p Size bytes without reading them.
  Error skip(uint64_t Size, const Twine &What) {
    if (Error E = require(Size, What))
      return E;
    Offset += Size;
    return Error::success();
  }

  Expected<std::string> readBytes(uint64_t Size, const Twine &What) {
    // Checked before allocating, so that a length read from the file cannot
    // allocate more than the bytes that exist.
    if (Error E = require(Size, What))
      return E;
    std::string Bytes(Size, '\0');
    if (Error E = read(Bytes.data(), Size, What))
      return E;
    return Bytes;
  }

private:
  /// Copies from the chunk buffer, refilling it as needed. Reads of at
  /// least ReadChunkSize bytes bypass it.
  Error readFromFile(char *Destination, uint64_t Size) {
    while (Size > 0) {
      uint64_t ChunkEnd = ChunkStart + Chunk.size();
      if (Offset >= ChunkStart && Offset < ChunkEnd) {
        uint64_t Count = std::min(Size, ChunkEnd - Offset);
        std::memcpy(Destination, Chunk.data() + (Offset - ChunkStart), Count);
        Destination += Count;
        Size -= Count;
        Offset += Count;
        continue;
      }
      if (Size >= ReadChunkSize) {
        if (Error E = readExactly(Destination, Size, Offset))
          return E;
        Offset += Size;
        return Error::success();
      }
      uint64_t Count = std::min(ReadChunkSize, remaining());
      Chunk.resize(Count);
      ChunkStart = Offset;
      if (Error E = readExactly(Chunk.data(), Count, Offset)) {
        Chunk.clear();
        return E;
      }
    }
    return Error::success();
  }

  Error readExactly(char *Destination, uint64_t Size, uint64_t At) {
    return readExactlyAt(Descriptor, Path, FileSize, Destination, Size, At);
  }

  StringRef Path;
  uint64_t FileSize;
  uint64_t Offset = 0;
  StringRef Prefix;
  int Descriptor = -1;
  std::vector<char> Chunk;
  uint64_t ChunkStart = 0;
};

/// Parses and validates one header from a Cursor.
class Parser {
public:
  Parser(StringRef Path, uint64_t FileSize, Cursor &Input)
      : Path(Path), FileSize(FileSize), Input(Input) {}

  Expected<File> run();

private:
  Error error(const Twine &Message) { return fileError(Path, Message); }

  Error parsePreamble(uint64_t &TensorCount, uint64_t &KeyValueCount);
  Expected<uint64_t> parseCount(StringRef What, uint64_t Limit);
  Expected<uint64_t> parseStringLength(const Twine &What);
  Expected<std::string> parseString(const Twine &What);
  Error parseMetadata(uint64_t Count);
  Expected<Value> parseValue(const std::string &QuotedKey, ValueType Type);
  Expected<Value> parseArray(const std::string &QuotedKey);
  Expected<Value> parseStringArray(const std::string &QuotedKey,
                                   uint64_t Count);
  Error checkAlignment();
  Error parseTensorInfos(uint64_t Count);
  Expected<TensorInfo> parseTensorInfo(uint64_t Index);
  Error checkTensorType(TensorInfo &Tensor, const std::string &QuotedName);
  Error checkDataLayout();

  StringRef Path;
  uint64_t FileSize;
  Cursor &Input;
  File Result;
  /// Maps each tensor name read so far to the index of its info.
  StringMap<uint64_t> TensorIndex;
};

Expected<File> Parser::run() {
  if (FileSize > MaxFileSize)
    return error("file size " + Twine(FileSize) + " exceeds the limit of " +
                 Twine(MaxFileSize) + " bytes");
  Result.Path = Path.str();
  Result.FileSize = FileSize;

  uint64_t TensorCount = 0;
  uint64_t KeyValueCount = 0;
  if (Error E = parsePreamble(TensorCount, KeyValueCount))
    return E;
  if (Error E = parseMetadata(KeyValueCount))
    return E;
  if (Error E = checkAlignment())
    return E;
  if (Error E = parseTensorInfos(TensorCount))
    return E;
  if (Error E = checkDataLayout())
    return E;
  return std::move(Result);
}

Error Parser::parsePreamble(uint64_t &TensorCount, uint64_t &KeyValueCount) {
  Expected<std::string> FileMagic = Input.readBytes(Magic.size(), "the magic");
  if (!FileMagic)
    return FileMagic.takeError();
  if (*FileMagic != Magic)
    return error("invalid magic " + quote(*FileMagic) + ", expected 'GGUF'");

  Expected<uint64_t> Version = Input.readNumber(4, "the version");
  if (!Version)
    return Version.takeError();
  // A file written on a big-endian host has version 3 stored as 0x03000000.
  if ((*Version & 0xffff) == 0)
    return error("GGUF version " + Twine(*Version) + " (0x" +
                 utohexstr(*Version) +
                 ") has its low 16 bits zero, so the file is big-endian or "
                 "corrupt, and only little-endian files are supported");
  if (*Version == 1)
    return error("GGUF version 1 is not supported, expected 2 or 3 (convert "
                 "the model again with a current llama.cpp)");
  if (*Version != 2 && *Version != 3)
    return error("unsupported GGUF version " + Twine(*Version) +
                 ", expected 2 or 3");
  Result.Version = static_cast<uint32_t>(*Version);

  Expected<uint64_t> Tensors = parseCount("tensor count", MaxTensorCount);
  if (!Tensors)
    return Tensors.takeError();
  Expected<uint64_t> KeyValues =
      parseCount("key-value count", MaxKeyValueCount);
  if (!KeyValues)
    return KeyValues.takeError();
  TensorCount = *Tensors;
  KeyValueCount = *KeyValues;
  return Error::success();
}

/// Reads a 64-bit count, which llama.cpp reads as int64.
Expected<uint64_t> Parser::parseCount(StringRef What, uint64_t Limit) {
  Expected<uint64_t> Count = Input.readNumber(8, "the " + What);
  if (!Count)
    return Count.takeError();
  auto AsSigned = static_cast<int64_t>(*Count);
  if (AsSigned < 0)
    return error(What + " is negative (" + Twine(AsSigned) +
                 " when read as int64), expected 0 to " + Twine(Limit));
  if (*Count > Limit)
    return error(What + " " + Twine(*Count) + " exceeds the limit of " +
                 Twine(Limit));
  return *Count;
}

/// Reads a string's length and checks it against the limit and the file.
Expected<uint64_t> Parser::parseStringLength(const Twine &What) {
  Expected<uint64_t> Length = Input.readNumber(8, "the length of " + What);
  if (!Length)
    return Length.takeError();
  if (*Length > MaxStringLength)
    return error(What + " has length " + Twine(*Length) +
                 ", which exceeds the limit of " + Twine(MaxStringLength) +
                 " bytes");
  if (*Length > Input.remaining())
    return error(What + " has length " + Twine(*Length) + ", but only " +
                 Twine(Input.remaining()) + " bytes remain in the file");
  return *Length;
}

Expected<std::string> Parser::parseString(const Twine &What) {
  Expected<uint64_t> Length = parseStringLength(What);
  if (!Length)
    return Length.takeError();
  return Input.readBytes(*Length, What);
}

Error Parser::parseMetadata(uint64_t Count) {
  // Maps each key to the index of its pair. Result.Metadata is not reserved
  // up front because Count comes from the file.
  StringMap<uint64_t> KeyIndex;
  for (uint64_t I = 0; I < Count; ++I) {
    Expected<std::string> Key =
        parseString("the key of key-value pair " + Twine(I));
    if (!Key)
      return Key.takeError();
    if (Key->empty())
      return error("key-value pair " + Twine(I) + " has an empty key");
    std::string QuotedKey = quote(*Key);
    auto [Found, Inserted] = KeyIndex.try_emplace(*Key, I);
    if (!Inserted)
      return error("duplicate key " + QuotedKey + " in key-value pairs " +
                   Twine(Found->second) + " and " + Twine(I));

    Expected<uint64_t> TypeId =
        Input.readNumber(4, "the value type of key " + QuotedKey);
    if (!TypeId)
      return TypeId.takeError();
    if (!isKnownValueType(*TypeId))
      return error("key " + QuotedKey + " has unknown value type id " +
                   Twine(static_cast<int32_t>(*TypeId)) +
                   ", expected 0 to 12");

    Expected<Value> Parsed =
        parseValue(QuotedKey, static_cast<ValueType>(*TypeId));
    if (!Parsed)
      return Parsed.takeError();
    Result.Metadata.push_back({std::move(*Key), std::move(*Parsed)});
  }
  return Error::success();
}

Expected<Value> Parser::parseValue(const std::string &QuotedKey,
                                   ValueType Type) {
  if (Type == ValueType::Array)
    return parseArray(QuotedKey);
  if (Type == ValueType::String) {
    Expected<std::string> Text = parseString("the value of key " + QuotedKey);
    if (!Text)
      return Text.takeError();
    return Value::string(*Text);
  }
  Expected<uint64_t> Bits =
      Input.readNumber(scalarSize(Type), "the value of key " + QuotedKey);
  if (!Bits)
    return Bits.takeError();
  return Value::fromBits(Type, *Bits);
}

Expected<Value> Parser::parseArray(const std::string &QuotedKey) {
  Expected<uint64_t> TypeId =
      Input.readNumber(4, "the array element type of key " + QuotedKey);
  if (!TypeId)
    return TypeId.takeError();
  if (*TypeId == static_cast<uint32_t>(ValueType::Array))
    return error("key " + QuotedKey +
                 " is an array of arrays, but arrays of arrays are not "
                 "supported, as in llama.cpp");
  if (!isKnownValueType(*TypeId))
    return error("key " + QuotedKey + " has unknown array element type id " +
                 Twine(static_cast<int32_t>(*TypeId)) +
                 ", expected 0 to 12 except 9");
  auto ElementType = static_cast<ValueType>(*TypeId);

  Expected<uint64_t> Count =
      Input.readNumber(8, "the array length of key " + QuotedKey);
  if (!Count)
    return Count.takeError();
  if (*Count > MaxArrayLength)
    return error("key " + QuotedKey + " has an array of " + Twine(*Count) +
                 " elements, which exceeds the limit of " +
                 Twine(MaxArrayLength));

  if (ElementType == ValueType::String)
    return parseStringArray(QuotedKey, *Count);

  // The count is at most 2^30 and an element at most 8 bytes, so the
  // product cannot overflow.
  uint64_t Size = *Count * scalarSize(ElementType);
  if (Size > Input.remaining())
    return error("key " + QuotedKey + " has an array of " + Twine(*Count) +
                 " " + valueTypeName(ElementType) + " elements (" +
                 Twine(Size) + " bytes), but only " +
                 Twine(Input.remaining()) + " bytes remain in the file");

  uint64_t Start = Input.offset();
  if (Size > MaxInlineArrayBytes) {
    if (Error E = Input.skip(Size, "the elements of key " + QuotedKey))
      return std::move(E);
    return Value::externalArray(ElementType, *Count, Start, Size);
  }
  Expected<std::string> Packed =
      Input.readBytes(Size, "the elements of key " + QuotedKey);
  if (!Packed)
    return Packed.takeError();
  return Value::packedArray(ElementType, std::move(*Packed));
}

/// Reads the elements of a STRING array. Once they pass MaxInlineArrayBytes
/// the strings read so far are dropped and the rest are only validated, so
/// that memory stays bounded whatever the vocabulary.
Expected<Value> Parser::parseStringArray(const std::string &QuotedKey,
                                         uint64_t Count) {
  // Each string needs at least its 8-byte length, so a count that cannot
  // fit is rejected before any element is read.
  if (Count > Input.remaining() / 8)
    return error("key " + QuotedKey + " has an array of " + Twine(Count) +
                 " strings, which needs at least " + Twine(Count * 8) +
                 " bytes, but only " + Twine(Input.remaining()) +
                 " bytes remain in the file");

  uint64_t Start = Input.offset();
  std::vector<std::string> Elements;
  bool Loaded = true;
  for (uint64_t I = 0; I < Count; ++I) {
    // The element's name is built at each call, not stored, because a Twine
    // refers to its operands and is formatted only in an error message.
    Expected<uint64_t> Length =
        parseStringLength("element " + Twine(I) + " of key " + QuotedKey);
    if (!Length)
      return Length.takeError();

    if (Loaded && Input.offset() + *Length - Start > MaxInlineArrayBytes) {
      Loaded = false;
      std::vector<std::string>().swap(Elements);
    }
    if (!Loaded) {
      if (Error E = Input.skip(*Length, "element " + Twine(I) + " of key " +
                                            QuotedKey))
        return std::move(E);
      continue;
    }
    Expected<std::string> Element =
        Input.readBytes(*Length, "element " + Twine(I) + " of key " + QuotedKey);
    if (!Element)
      return Element.takeError();
    Elements.push_back(std::move(*Element));
  }

  if (!Loaded)
    return Value::externalArray(ValueType::String, Count, Start,
                                Input.offset() - Start);
  return Value::stringArray(std::move(Elements));
}

Error Parser::checkAlignment() {
  const Value *Alignment = Result.find(AlignmentKey);
  if (!Alignment) {
    Result.Alignment = DefaultAlignment;
    return Error::success();
  }
  if (Alignment->type() != ValueType::UInt32)
    return error("key 'general.alignment' has type " +
                 valueTypeName(Alignment->type()) + ", expected UINT32");
  uint64_t Bits = Alignment->bits();
  if (Bits == 0)
    return error("key 'general.alignment' is 0, expected a non-zero power of "
                 "two");
  if (!isPowerOf2_64(Bits))
    return error("key 'general.alignment' is " + Twine(Bits) +
                 ", expected a power of two");
  if (Bits > MaxAlignment)
    return error("key 'general.alignment' is " + Twine(Bits) +
                 ", which exceeds the limit of " + Twine(MaxAlignment));
  Result.Alignment = static_cast<uint32_t>(Bits);
  return Error::success();
}

Error Parser::parseTensorInfos(uint64_t Count) {
  for (uint64_t I = 0; I < Count; ++I) {
    Expected<TensorInfo> Tensor = parseTensorInfo(I);
    if (!Tensor)
      return Tensor.takeError();
    Result.Tensors.push_back(std::move(*Tensor));
  }
  return Error::success();
}

Expected<TensorInfo> Parser::parseTensorInfo(uint64_t Index) {
  TensorInfo Tensor;
  Expected<std::string> Name =
      parseString("the name of tensor info " + Twine(Index));
  if (!Name)
    return Name.takeError();
  Tensor.Name = std::move(*Name);
  std::string QuotedName = quote(Tensor.Name);
  if (Tensor.Name.size() > MaxTensorNameLength)
    return error("tensor name " + QuotedName + " is " +
                 Twine(Tensor.Name.size()) + " bytes, expected at most " +
                 Twine(MaxTensorNameLength));
  auto [Found, Inserted] = TensorIndex.try_emplace(Tensor.Name, Index);
  if (!Inserted)
    return error("duplicate tensor name " + QuotedName + " in tensor infos " +
                 Twine(Found->second) + " and " + Twine(Index));

  Expected<uint64_t> DimCount =
      Input.readNumber(4, "the dimension count of tensor " + QuotedName);
  if (!DimCount)
    return DimCount.takeError();
  if (*DimCount > MaxDims)
    return error("tensor " + QuotedName + " has " + Twine(*DimCount) +
                 " dimensions, expected at most " + Twine(MaxDims));

  for (uint64_t D = 0; D < *DimCount; ++D) {
    Expected<uint64_t> Dim = Input.readNumber(
        8, "ne[" + Twine(D) + "] of tensor " + QuotedName);
    if (!Dim)
      return Dim.takeError();
    auto AsSigned = static_cast<int64_t>(*Dim);
    if (AsSigned < 0)
      return error("tensor " + QuotedName + " has ne[" + Twine(D) + "] = " +
                   Twine(AsSigned) + ", expected a size of at least 0");
    Tensor.Dims.push_back(*Dim);
  }

  Expected<uint64_t> TypeId =
      Input.readNumber(4, "the type of tensor " + QuotedName);
  if (!TypeId)
    return TypeId.takeError();
  Tensor.Type = static_cast<uint32_t>(*TypeId);
  if (Error E = checkTensorType(Tensor, QuotedName))
    return E;

  Expected<uint64_t> Offset =
      Input.readNumber(8, "the offset of tensor " + QuotedName);
  if (!Offset)
    return Offset.takeError();
  Tensor.Offset = *Offset;
  return Tensor;
}

/// Checks the element count, the type id and the row length of \p Tensor,
/// in llama.cpp's order, then sets its Size.
Error Parser::checkTensorType(TensorInfo &Tensor,
                              const std::string &QuotedName) {
  constexpr uint64_t MaxElements = std::numeric_limits<int64_t>::max();
  if (!is_contained(Tensor.Dims, 0)) {
    uint64_t Elements = 1;
    for (uint64_t Dim : Tensor.Dims) {
      if (Elements > MaxElements / Dim)
        return error("tensor " + QuotedName + " with shape " +
                     formatShape(Tensor.Dims) +
                     " has more elements than int64 can count");
      Elements *= Dim;
    }
  }

  // NOTE: files with ik_llama.cpp-only types (for example ids 31-33, 36 and
  // 133 upward) are rejected here, because their sizes are not in the table.
  const TypeTraits *Traits = lookupType(Tensor.Type);
  if (!Traits)
    return error("unknown or removed ggml type id " +
                 Twine(static_cast<int32_t>(Tensor.Type)) + " for tensor " +
                 QuotedName);

  uint64_t RowLength = Tensor.Dims.empty() ? 1 : Tensor.Dims[0];
  if (RowLength % Traits->BlockSize != 0)
    return error("tensor " + QuotedName + " of type " + Traits->Name +
                 " has ne[0] = " + Twine(RowLength) +
                 ", which is not a multiple of the block size " +
                 Twine(Traits->BlockSize));

  std::optional<uint64_t> Size = computeDataSize(Tensor.Dims, *Traits);
  if (!Size)
    return error("tensor " + QuotedName + " of type " + Traits->Name +
                 " with shape " + formatShape(Tensor.Dims) +
                 " has a data size that overflows 64 bits");
  Tensor.Size = *Size;
  return Error::success();
}

/// Sets DataStart, then checks that the offsets are the running padded sum
/// and that every tensor's data lies inside the file.
Error Parser::checkDataLayout() {
  // Both values are below 2^63 and the alignment below 2^32, so rounding up
  // cannot overflow.
  uint64_t InfoEnd = Input.offset();
  uint64_t Padded = paddedSize(InfoEnd, Result.Alignment);
  if (Result.Tensors.empty()) {
    // llama.cpp's reader (ggml/src/gguf.cpp) seeks to the data section only
    // when there are tensors, so a file without them may end before the
    // padding.
    Result.DataStart = std::min(Padded, FileSize);
    return Error::success();
  }
  if (Padded > FileSize)
    return error("the data section starts at offset " + Twine(Padded) +
                 " (the tensor infos end at offset " + Twine(InfoEnd) +
                 ", padded to the alignment " + Twine(Result.Alignment) +
                 "), past the end of the file at offset " + Twine(FileSize));
  Result.DataStart = Padded;

  uint64_t DataSize = FileSize - Result.DataStart;
  uint64_t ExpectedOffset = 0;
  for (const TensorInfo &Tensor : Result.Tensors) {
    if (Tensor.Offset != ExpectedOffset)
      return error("tensor " + quote(Tensor.Name) + " has offset " +
                   Twine(Tensor.Offset) + ", expected " +
                   Twine(ExpectedOffset));
    if (Tensor.Offset > DataSize || Tensor.Size > DataSize - Tensor.Offset)
      return error("tensor " + quote(Tensor.Name) + " needs " +
                   Twine(Tensor.Size) + " bytes at file offset " +
                   Twine(Result.DataStart + Tensor.Offset) +
                   ", but the file ends at offset " + Twine(FileSize));
    // The data ends inside the file, below 2^63, so padding it is safe.
    ExpectedOffset =
        paddedSize(Tensor.Offset + Tensor.Size, Result.Alignment);
  }
  return Error::success();
}

/// Checks one split key of \p Part: absent only when not \p Required, else
/// of type \p Type with the value \p Expected. \p Reason ends the message.
Error checkSplitKey(const File &Part, StringRef Key, ValueType Type,
                    int64_t Expected, bool Required, const Twine &Reason) {
  const Value *Found = Part.find(Key);
  if (!Found) {
    if (!Required)
      return Error::success();
    return fileError(Part.Path, "missing key '" + Key + "', expected " +
                                    valueTypeName(Type) + " " +
                                    Twine(Expected) + " " + Reason);
  }
  if (Found->type() != Type)
    return fileError(Part.Path, "key '" + Key + "' has type " +
                                    valueTypeName(Found->type()) +
                                    ", expected " + valueTypeName(Type));
  int64_t Actual = *Found->asInt64();
  if (Actual != Expected)
    return fileError(Part.Path, "key '" + Key + "' is " + Twine(Actual) +
                                    ", expected " + Twine(Expected) + " " +
                                    Reason);
  return Error::success();
}

/// Checks split.no and split.count of part \p Index (0-based) of a set of
/// \p Count parts. The keys are optional in a set of one file.
Error checkSplitPosition(const File &Part, unsigned Index, unsigned Count) {
  bool Required = Count > 1;
  if (Error E = checkSplitKey(Part, SplitNoKey, ValueType::UInt16, Index,
                              Required,
                              "for part " + Twine(Index + 1) + " of " +
                                  Twine(Count) + " (split.no counts from 0)"))
    return E;
  return checkSplitKey(Part, SplitCountKey, ValueType::UInt16, Count,
                       Required,
                       "for a set of " + Twine(Count) +
                           (Count == 1 ? " file" : " files"));
}

/// Checks that no tensor name occurs in two parts and that
/// split.tensors.count matches the total.
Error checkSplitTensors(ArrayRef<File> Parts) {
  StringMap<size_t> Owner;
  uint64_t Total = 0;
  for (size_t P = 0; P < Parts.size(); ++P) {
    for (const TensorInfo &Tensor : Parts[P].Tensors) {
      auto [Found, Inserted] = Owner.try_emplace(Tensor.Name, P);
      if (!Inserted)
        return fileError(Parts[P].Path,
                         "tensor " + quote(Tensor.Name) +
                             " is also in part " + Twine(Found->second + 1) +
                             ", '" + Parts[Found->second].Path + "'");
    }
    Total += Parts[P].Tensors.size();
  }

  bool Required = Parts.size() > 1;
  std::string Reason = "because the " + std::to_string(Parts.size()) +
                       (Parts.size() == 1 ? " part contains " : " parts contain ") +
                       std::to_string(Total) + " tensors";
  for (const File &Part : Parts) {
    if (Error E = checkSplitKey(Part, SplitTensorsCountKey, ValueType::Int32,
                                static_cast<int64_t>(Total),
                                Required && &Part == &Parts.front(), Reason))
      return E;
  }
  return Error::success();
}

} // namespace

StringRef valueTypeName(ValueType Type) {
  switch (Type) {
  case ValueType::UInt8:
    return "UINT8";
  case ValueType::Int8:
    return "INT8";
  case ValueType::UInt16:
    return "UINT16";
  case ValueType::Int16:
    return "INT16";
  case ValueType::UInt32:
    return "UINT32";
  case ValueType::Int32:
    return "INT32";
  case ValueType::Float32:
    return "FLOAT32";
  case ValueType::Bool:
    return "BOOL";
  case ValueType::String:
    return "STRING";
  case ValueType::Array:
    return "ARRAY";
  case ValueType::UInt64:
    return "UINT64";
  case ValueType::Int64:
    return "INT64";
  case ValueType::Float64:
    return "FLOAT64";
  }
  llvm_unreachable("invalid ValueType");
}

// --- Value ------------------------------------------------------------------

Value Value::fromBits(ValueType Type, uint64_t Bits) {
  [[maybe_unused]] unsigned Size = scalarSize(Type);
  assert(Size != 0 && "fromBits needs a numeric or BOOL type");
  assert((Size == 8 || Bits >> (8 * Size) == 0) && "bits wider than the type");
  Value Result;
  Result.Type = Type;
  Result.ElementType = Type;
  Result.Bits = Bits;
  return Result;
}

Value Value::uint8(uint8_t V) { return fromBits(ValueType::UInt8, V); }
Value Value::int8(int8_t V) {
  return fromBits(ValueType::Int8, static_cast<uint8_t>(V));
}
Value Value::uint16(uint16_t V) { return fromBits(ValueType::UInt16, V); }
Value Value::int16(int16_t V) {
  return fromBits(ValueType::Int16, static_cast<uint16_t>(V));
}
Value Value::uint32(uint32_t V) { return fromBits(ValueType::UInt32, V); }
Value Value::int32(int32_t V) {
  return fromBits(ValueType::Int32, static_cast<uint32_t>(V));
}
Value Value::uint64(uint64_t V) { return fromBits(ValueType::UInt64, V); }
Value Value::int64(int64_t V) {
  return fromBits(ValueType::Int64, static_cast<uint64_t>(V));
}
Value Value::float32(float V) {
  return fromBits(ValueType::Float32, std::bit_cast<uint32_t>(V));
}
Value Value::float64(double V) {
  return fromBits(ValueType::Float64, std::bit_cast<uint64_t>(V));
}
Value Value::boolean(bool V) { return fromBits(ValueType::Bool, V ? 1 : 0); }

Value Value::string(StringRef V) {
  Value Result;
  Result.Type = ValueType::String;
  Result.ElementType = ValueType::String;
  Result.Text = V.str();
  return Result;
}

Value Value::array(ValueType ElementType, ArrayRef<Value> Elements) {
  assert(ElementType != ValueType::Array && "arrays of arrays are invalid");
  if (ElementType == ValueType::String) {
    std::vector<std::string> Strings;
    Strings.reserve(Elements.size());
    for (const Value &Element : Elements)
      Strings.push_back(Element.asString().str());
    return stringArray(std::move(Strings));
  }
  unsigned Size = scalarSize(ElementType);
  std::string Packed;
  Packed.reserve(Elements.size() * Size);
  for (const Value &Element : Elements) {
    assert(Element.type() == ElementType && "element of another type");
    appendLittleEndian(Packed, Element.Bits, Size);
  }
  return packedArray(ElementType, std::move(Packed));
}

Value Value::packedArray(ValueType ElementType, std::string PackedElements) {
  [[maybe_unused]] unsigned Size = scalarSize(ElementType);
  assert(Size != 0 && "packedArray needs a numeric or BOOL element type");
  assert(PackedElements.size() % Size == 0 && "partial element");
  Value Result;
  Result.Type = ValueType::Array;
  Result.ElementType = ElementType;
  Result.PackedElements = std::move(PackedElements);
  return Result;
}

Value Value::stringArray(std::vector<std::string> Elements) {
  Value Result;
  Result.Type = ValueType::Array;
  Result.ElementType = ValueType::String;
  Result.StringElements = std::move(Elements);
  return Result;
}

Value Value::spaces(uint64_t Count) {
  Value Result;
  Result.Type = Result.ElementType = ValueType::String;
  Result.Spaces = true;
  Result.SpaceCount = Count;
  return Result;
}

Value Value::externalArray(ValueType ElementType, uint64_t Count,
                           uint64_t Offset, uint64_t Length) {
  assert(ElementType != ValueType::Array && "arrays of arrays are invalid");
  Value Result;
  Result.Type = ValueType::Array;
  Result.ElementType = ElementType;
  Result.External = true;
  Result.ExternalCount = Count;
  Result.ExternalOffset = Offset;
  Result.ExternalLength = Length;
  return Result;
}

uint64_t Value::externalOffset() const {
  assert(External && "not an external array");
  return ExternalOffset;
}

uint64_t Value::externalLength() const {
  assert(External && "not an external array");
  return ExternalLength;
}

bool Value::isInteger() const {
  switch (Type) {
  case ValueType::UInt8:
  case ValueType::Int8:
  case ValueType::UInt16:
  case ValueType::Int16:
  case ValueType::UInt32:
  case ValueType::Int32:
  case ValueType::UInt64:
  case ValueType::Int64:
    return true;
  default:
    return false;
  }
}

std::optional<uint64_t> Value::asUInt64() const {
  if (!isInteger())
    return std::nullopt;
  if (!isSignedInteger(Type))
    return Bits;
  int64_t Signed = SignExtend64(Bits, 8 * scalarSize(Type));
  if (Signed < 0)
    return std::nullopt;
  return static_cast<uint64_t>(Signed);
}

std::optional<int64_t> Value::asInt64() const {
  if (!isInteger())
    return std::nullopt;
  if (isSignedInteger(Type))
    return SignExtend64(Bits, 8 * scalarSize(Type));
  if (Bits > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))
    return std::nullopt;
  return static_cast<int64_t>(Bits);
}

uint64_t Value::bits() const {
  assert(scalarSize(Type) != 0 && "bits() needs a numeric or BOOL scalar");
  return Bits;
}

bool Value::asBool() const {
  assert(Type == ValueType::Bool && "not a BOOL");
  // llama.cpp reads any non-zero byte as true.
  return Bits != 0;
}

float Value::asFloat32() const {
  assert(Type == ValueType::Float32 && "not a FLOAT32");
  return std::bit_cast<float>(static_cast<uint32_t>(Bits));
}

double Value::asFloat64() const {
  assert(Type == ValueType::Float64 && "not a FLOAT64");
  return std::bit_cast<double>(Bits);
}

StringRef Value::asString() const {
  assert(Type == ValueType::String && "not a STRING");
  assert(!Spaces && "the spaces of Value::spaces() are not held");
  return Text;
}

ValueType Value::elementType() const {
  assert(isArray() && "not an ARRAY");
  return ElementType;
}

uint64_t Value::arraySize() const {
  assert(isArray() && "not an ARRAY");
  if (External)
    return ExternalCount;
  if (ElementType == ValueType::String)
    return StringElements.size();
  return PackedElements.size() / scalarSize(ElementType);
}

Value Value::element(uint64_t Index) const {
  assert(!External && "the elements of an external array are not loaded");
  assert(Index < arraySize() && "array index out of range");
  if (ElementType == ValueType::String)
    return string(StringElements[Index]);
  unsigned Size = scalarSize(ElementType);
  return fromBits(ElementType,
                  readLittleEndian(PackedElements.data() + Index * Size, Size));
}

std::string Value::describe() const {
  std::string TypeName = valueTypeName(Type).str() + " ";
  char Buffer[32];
  switch (Type) {
  case ValueType::Array:
    return "ARRAY of " + std::to_string(arraySize()) + " " +
           valueTypeName(ElementType).str();
  case ValueType::String:
    if (Spaces)
      return TypeName + "of " + std::to_string(SpaceCount) + " spaces";
    return TypeName + quote(Text);
  case ValueType::Bool:
    return TypeName + (asBool() ? "true" : "false");
  case ValueType::Float32:
    // 9 and 17 significant digits print every float and double exactly.
    std::snprintf(Buffer, sizeof(Buffer), "%.9g", asFloat32());
    return TypeName + Buffer;
  case ValueType::Float64:
    std::snprintf(Buffer, sizeof(Buffer), "%.17g", asFloat64());
    return TypeName + Buffer;
  default:
    if (isSignedInteger(Type))
      return TypeName + std::to_string(*asInt64());
    return TypeName + std::to_string(Bits);
  }
}

void Value::encode(std::string &Out) const {
  appendLittleEndian(Out, static_cast<uint32_t>(Type), 4);
  if (Spaces) {
    appendLittleEndian(Out, SpaceCount, 8);
    return;
  }
  if (Type == ValueType::String) {
    appendString(Out, Text);
    return;
  }
  if (Type != ValueType::Array) {
    appendLittleEndian(Out, Bits, scalarSize(Type));
    return;
  }
  appendLittleEndian(Out, static_cast<uint32_t>(ElementType), 4);
  appendLittleEndian(Out, arraySize(), 8);
  if (External)
    return;
  if (ElementType != ValueType::String) {
    Out += PackedElements;
    return;
  }
  for (const std::string &Element : StringElements)
    appendString(Out, Element);
}

bool Value::operator==(const Value &Other) const {
  if (Spaces || Other.Spaces)
    return Spaces == Other.Spaces && SpaceCount == Other.SpaceCount;
  if (External || Other.External)
    return std::tie(External, ElementType, ExternalCount, ExternalLength) ==
           std::tie(Other.External, Other.ElementType, Other.ExternalCount,
                    Other.ExternalLength);
  return std::tie(Type, ElementType, Bits, Text, PackedElements,
                  StringElements) ==
         std::tie(Other.Type, Other.ElementType, Other.Bits, Other.Text,
                  Other.PackedElements, Other.StringElements);
}

// --- Types, files and sizes -------------------------------------------------

const TypeTraits *lookupType(uint32_t Id) {
  if (Id >= std::size(Types) || Types[Id].BlockSize == 0)
    return nullptr;
  return &Types[Id];
}

const Value *File::find(StringRef Key) const {
  for (const KeyValue &Entry : Metadata)
    if (Entry.Key == Key)
      return &Entry.Val;
  return nullptr;
}

uint64_t paddedSize(uint64_t Size, uint32_t Alignment) {
  assert(isPowerOf2_32(Alignment) && "alignment must be a power of two");
  assert(Size <= std::numeric_limits<uint64_t>::max() - (Alignment - 1) &&
         "padded size overflows");
  return alignTo(Size, Alignment);
}

uint64_t tensorDataSize(const TensorInfo &Tensor) {
  const TypeTraits *Traits = lookupType(Tensor.Type);
  assert(Traits && "unknown or removed tensor type");
  std::optional<uint64_t> Size = computeDataSize(Tensor.Dims, *Traits);
  assert(Size && "tensor data size overflows");
  return *Size;
}

// --- Reading ----------------------------------------------------------------

Expected<File> parse(StringRef Path, StringRef Bytes, uint64_t FileSize) {
  Cursor Input(Path, FileSize, Bytes);
  return Parser(Path, FileSize, Input).run();
}

Expected<File> readFile(StringRef Path) {
  FileDescriptor Descriptor(::open(Path.str().c_str(), O_RDONLY | O_CLOEXEC));
  if (Descriptor.get() < 0)
    return fileError(Path, "failed to open: " + errnoMessage(errno));

  struct stat Status;
  if (::fstat(Descriptor.get(), &Status) != 0)
    return fileError(Path,
                     "failed to read the file size: " + errnoMessage(errno));
  if (!S_ISREG(Status.st_mode))
    return fileError(Path, "not a regular file");
  uint64_t FileSize = static_cast<uint64_t>(Status.st_size);

  Cursor Input(Path, FileSize, Descriptor.get());
  return Parser(Path, FileSize, Input).run();
}

// --- Writing ----------------------------------------------------------------

namespace {

/// True when "general.alignment" in \p Metadata agrees with \p Alignment,
/// so that a reader pads the way the writer did.
[[maybe_unused]] bool alignmentKeyMatches(ArrayRef<KeyValue> Metadata,
                                          uint32_t Alignment) {
  for (const KeyValue &Entry : Metadata)
    if (Entry.Key == AlignmentKey)
      return Entry.Val.type() == ValueType::UInt32 &&
             Entry.Val.bits() == Alignment;
  return Alignment == DefaultAlignment;
}

/// True when no key and no tensor name occurs twice.
[[maybe_unused]] bool namesAreDistinct(ArrayRef<KeyValue> Metadata,
                                       ArrayRef<TensorInfo> Tensors) {
  StringMap<bool> Keys;
  for (const KeyValue &Entry : Metadata)
    if (!Keys.try_emplace(Entry.Key, true).second)
      return false;
  StringMap<bool> Names;
  for (const TensorInfo &Tensor : Tensors)
    if (!Names.try_emplace(Tensor.Name, true).second)
      return false;
  return true;
}

void appendTensorInfo(std::string &Out, const TensorInfo &Tensor,
                      uint64_t Offset) {
  assert(Tensor.Name.size() <= MaxTensorNameLength && "tensor name too long");
  assert(Tensor.Dims.size() <= MaxDims && "too many dimensions");
  assert((!lookupType(Tensor.Type) || tensorDataSize(Tensor) == Tensor.Size) &&
         "Size disagrees with the type and shape");
  appendString(Out, Tensor.Name);
  appendLittleEndian(Out, Tensor.Dims.size(), 4);
  for (uint64_t Dim : Tensor.Dims) {
    assert(Dim <= uint64_t(std::numeric_limits<int64_t>::max()) &&
           "dimension does not fit int64");
    appendLittleEndian(Out, Dim, 8);
  }
  appendLittleEndian(Out, Tensor.Type, 4);
  appendLittleEndian(Out, Offset, 8);
}

} // namespace

uint64_t HeaderLayout::size() const {
  uint64_t Size = Bytes.size();
  for (const Gap &G : Gaps)
    Size += G.Length;
  return Size;
}

HeaderLayout layoutHeader(uint32_t Version, ArrayRef<KeyValue> Metadata,
                          ArrayRef<TensorInfo> Tensors, uint32_t Alignment) {
  assert((Version == 2 || Version == 3) && "only versions 2 and 3");
  assert(isPowerOf2_32(Alignment) && "alignment must be a power of two");
  assert(Alignment <= MaxAlignment && "alignment above the reader's limit");
  assert(alignmentKeyMatches(Metadata, Alignment) &&
         "general.alignment must be the UINT32 Alignment, or absent for 32");
  assert(namesAreDistinct(Metadata, Tensors) && "repeated key or name");

  HeaderLayout Layout;
  std::string &Out = Layout.Bytes;
  Out = Magic.str();
  appendLittleEndian(Out, Version, 4);
  appendLittleEndian(Out, Tensors.size(), 8);
  appendLittleEndian(Out, Metadata.size(), 8);

  for (const KeyValue &Entry : Metadata) {
    assert(!Entry.Key.empty() && "empty key");
    appendString(Out, Entry.Key);
    Entry.Val.encode(Out);
    if (Entry.Val.isExternal())
      Layout.Gaps.push_back({Out.size(), Entry.Val.externalOffset(),
                             Entry.Val.externalLength()});
    else if (Entry.Val.isSpaces())
      Layout.Gaps.push_back({Out.size(), 0, Entry.Val.spaceCount(), true});
  }

  uint64_t Offset = 0;
  for (const TensorInfo &Tensor : Tensors) {
    appendTensorInfo(Out, Tensor, Offset);
    Offset += paddedSize(Tensor.Size, Alignment);
  }

  uint64_t Size = Layout.size();
  Layout.Padding = paddedSize(Size, Alignment) - Size;
  Out.resize(Out.size() + Layout.Padding, '\0');
  return Layout;
}

std::string buildHeader(uint32_t Version, ArrayRef<KeyValue> Metadata,
                        ArrayRef<TensorInfo> Tensors, uint32_t Alignment) {
  HeaderLayout Layout = layoutHeader(Version, Metadata, Tensors, Alignment);
  assert(Layout.Gaps.empty() && "external arrays need layoutHeader");
  return std::move(Layout.Bytes);
}

// --- Comparing external arrays ---------------------------------------------

namespace {

/// An open file and its size.
struct OpenFile {
  FileDescriptor Descriptor;
  uint64_t Size = 0;
};

Expected<OpenFile> openForReading(StringRef Path) {
  FileDescriptor Descriptor(::open(Path.str().c_str(), O_RDONLY | O_CLOEXEC));
  if (Descriptor.get() < 0)
    return fileError(Path, "failed to open: " + errnoMessage(errno));
  struct stat Status;
  if (::fstat(Descriptor.get(), &Status) != 0)
    return fileError(Path,
                     "failed to read the file size: " + errnoMessage(errno));
  return OpenFile{std::move(Descriptor), static_cast<uint64_t>(Status.st_size)};
}

} // namespace

Expected<bool> sameExternalElements(StringRef PathA, const Value &A,
                                    StringRef PathB, const Value &B) {
  assert(A.isExternal() && "A must be an external array");
  assert(B.isExternal() && "B must be an external array");
  if (A != B)
    return false;

  Expected<OpenFile> FileA = openForReading(PathA);
  if (!FileA)
    return FileA.takeError();
  Expected<OpenFile> FileB = openForReading(PathB);
  if (!FileB)
    return FileB.takeError();

  std::vector<char> BufferA(ReadChunkSize), BufferB(ReadChunkSize);
  for (uint64_t Done = 0; Done < A.externalLength();) {
    uint64_t Size = std::min(ReadChunkSize, A.externalLength() - Done);
    if (Error E = readExactlyAt(FileA->Descriptor.get(), PathA, FileA->Size,
                                BufferA.data(), Size, A.externalOffset() + Done))
      return std::move(E);
    if (Error E = readExactlyAt(FileB->Descriptor.get(), PathB, FileB->Size,
                                BufferB.data(), Size, B.externalOffset() + Done))
      return std::move(E);
    if (std::memcmp(BufferA.data(), BufferB.data(), Size) != 0)
      return false;
    Done += Size;
  }
  return true;
}

// --- Split sets -------------------------------------------------------------

std::optional<std::pair<unsigned, unsigned>>
parseSplitName(StringRef FileName) {
  if (!FileName.consume_back(GgufExtension) ||
      FileName.size() <= SplitSuffixLength)
    return std::nullopt;

  // The suffix is "-IIIII-of-CCCCC": both numbers have exactly 5 digits, as
  // llama-gguf-split writes them with "%05d".
  StringRef Suffix = FileName.take_back(SplitSuffixLength);
  StringRef IndexText = Suffix.substr(1, 5);
  StringRef CountText = Suffix.substr(10, 5);
  if (Suffix[0] != '-' || Suffix.substr(6, 4) != "-of-" ||
      !all_of(IndexText, isDigit) || !all_of(CountText, isDigit))
    return std::nullopt;

  unsigned Index = 0;
  unsigned Count = 0;
  if (IndexText.getAsInteger(10, Index) || CountText.getAsInteger(10, Count))
    return std::nullopt;
  if (Index < 1 || Index > Count)
    return std::nullopt;
  return std::make_pair(Index, Count);
}

std::string splitName(StringRef Stem, unsigned Index, unsigned Count) {
  assert(Index >= 1 && "split index counts from 1");
  assert(Index <= Count && "split index past the count");
  assert(Count <= MaxSplitCount && "split count has more than 5 digits");
  char Suffix[32];
  std::snprintf(Suffix, sizeof(Suffix), "-%05u-of-%05u.gguf", Index, Count);
  return Stem.str() + Suffix;
}

Expected<std::vector<File>> readSplitSet(StringRef FirstPath) {
  StringRef FileName = sys::path::filename(FirstPath);
  std::optional<std::pair<unsigned, unsigned>> Position =
      parseSplitName(FileName);

  if (!Position) {
    Expected<File> Only = readFile(FirstPath);
    if (!Only)
      return Only.takeError();
    const Value *Count = Only->find(SplitCountKey);
    if (Count && Count->asUInt64() != 1u)
      return fileError(FirstPath,
                       "key 'split.count' is " + Count->describe() +
                           ", but the file name does not end in "
                           "-00001-of-NNNNN.gguf; pass the first part of the "
                           "split set under its original name");
    if (Error E = checkSplitPosition(*Only, 0, 1))
      return E;
    std::vector<File> Parts;
    Parts.push_back(std::move(*Only));
    if (Error E = checkSplitTensors(Parts))
      return E;
    return Parts;
  }

  auto [Index, Count] = *Position;
  StringRef Stem =
      FileName.drop_back(SplitSuffixLength + GgufExtension.size());
  if (Index != 1)
    return fileError(FirstPath, "this is part " + Twine(Index) + " of " +
                                    Twine(Count) +
                                    " of a split set; pass the first part, '" +
                                    splitName(Stem, 1, Count) + "'");

  StringRef Directory = sys::path::parent_path(FirstPath);
  std::vector<File> Parts;
  for (unsigned Part = 1; Part <= Count; ++Part) {
    SmallString<256> PartPath = Directory;
    sys::path::append(PartPath, splitName(Stem, Part, Count));
    Expected<File> Read = readFile(Part == 1 ? FirstPath : PartPath.str());
    if (!Read)
      return Read.takeError();
    if (Error E = checkSplitPosition(*Read, Part - 1, Count))
      return E;
    Parts.push_back(std::move(*Read));
  }
  if (Error E = checkSplitTensors(Parts))
    return E;
  return Parts;
}

} // namespace rysc::gguf
