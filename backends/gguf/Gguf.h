// Reads, validates and writes GGUF headers (versions 2 and 3).
//
// On-disk layout of a .gguf file. Every integer is little-endian, and files
// written big-endian are rejected.
//
//   offset 0   4 bytes  magic "GGUF" (0x47 0x47 0x55 0x46)
//   offset 4   u32      version, 2 or 3 (version 1 had 32-bit counts)
//   offset 8   u64      tensor count T (read as int64, so at most 2^63 - 1)
//   offset 16  u64      key-value count K (the same rule)
//   offset 24  K key-value pairs:
//                string  key
//                i32     value type id (ValueType)
//                ...     the value:
//                          UINT8, INT8, BOOL              1 byte
//                          UINT16, INT16                  2 bytes
//                          UINT32, INT32, FLOAT32         4 bytes
//                          UINT64, INT64, FLOAT64         8 bytes
//                          STRING                         a string
//                          ARRAY   i32 element type id, u64 element count,
//                                  then the elements packed with no type
//                                  tag (string elements keep their length)
//   then       T tensor infos:
//                string  name, at most 63 bytes
//                u32     n_dims, at most 4
//                i64     ne[0], ..., ne[n_dims - 1]; ne[0] is the row length
//                i32     ggml type id (lookupType)
//                u64     offset of the data, relative to the data section
//   then       zero bytes up to a multiple of the alignment: this is the
//              start of the data section
//   then       the tensor data, each tensor padded with zeros to a multiple
//              of the alignment
//
// A string is a u64 byte length followed by that many bytes, without a NUL.
// The alignment is the UINT32 value of "general.alignment", a power of two
// up to 1 MiB, or 32 when that key is absent. Tensor i's offset must equal the sum of the padded sizes of
// tensors 0 .. i-1, as llama.cpp's reader requires since January 2025.
#ifndef RYSC_BACKENDS_GGUF_GGUF_H
#define RYSC_BACKENDS_GGUF_GGUF_H

#include "llvm/ADT/ArrayRef.h"
#include "llvm/ADT/StringRef.h"
#include "llvm/Support/Error.h"

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace rysc::gguf {

/// The four bytes every GGUF file starts with.
constexpr llvm::StringLiteral Magic = "GGUF";

/// The version buildHeader callers should write.
constexpr uint32_t CurrentVersion = 3;

/// The key whose UINT32 value sets the alignment.
constexpr llvm::StringLiteral AlignmentKey = "general.alignment";

/// The alignment used when "general.alignment" is absent.
constexpr uint32_t DefaultAlignment = 32;

/// The maximum alignment accepted, 1 MiB, the limit of ggml's reader
/// (ggml-org/ggml src/gguf.cpp) against padding that exhausts memory.
constexpr uint32_t MaxAlignment = uint32_t(1) << 20;

/// The maximum tensor count and key-value count accepted. These are rysc's
/// own limits, chosen far above the counts of published models rather than
/// taken from llama.cpp.
constexpr uint64_t MaxTensorCount = uint64_t(1) << 20;
constexpr uint64_t MaxKeyValueCount = uint64_t(1) << 20;

/// The maximum string length in bytes and array length in elements, the
/// limits of llama.cpp's reader (ggml/src/gguf.cpp): 1 GiB and 2^30.
constexpr uint64_t MaxStringLength = uint64_t(1) << 30;
constexpr uint64_t MaxArrayLength = uint64_t(1) << 30;

/// Arrays whose elements take more bytes than this are not loaded: the
/// parser validates them and records where they lie (Value::externalArray),
/// and writers copy them from the source file. Tokenizer arrays are the
/// large ones, and they would otherwise make memory grow with the
/// vocabulary. Per-layer arrays are far smaller (512 blocks of 8 bytes).
constexpr uint64_t MaxInlineArrayBytes = uint64_t(1) << 16;

/// The maximum number of tensor dimensions (GGML_MAX_DIMS).
constexpr uint32_t MaxDims = 4;

/// The maximum tensor name length in bytes: GGML_MAX_NAME (64) minus the
/// terminating NUL that ggml stores.
constexpr size_t MaxTensorNameLength = 63;

/// The type id of a metadata value, as stored in the file.
enum class ValueType : uint32_t {
  UInt8 = 0,
  Int8,
  UInt16,
  Int16,
  UInt32,
  Int32,
  Float32,
  Bool,
  String,
  Array,
  UInt64,
  Int64,
  Float64,
};

/// Returns the name GGUF gives \p Type ("UINT8", ..., "FLOAT64").
llvm::StringRef valueTypeName(ValueType Type);

/// One metadata value: a scalar, or an array whose elements all have one
/// scalar type. Integers keep their exact type, floats and bools their exact
/// bits, so a value read from a file is written back byte for byte.
struct Value {
  /// A UINT8 zero, so that containers can default-construct values.
  Value() = default;

  static Value uint8(uint8_t V);
  static Value int8(int8_t V);
  static Value uint16(uint16_t V);
  static Value int16(int16_t V);
  static Value uint32(uint32_t V);
  static Value int32(int32_t V);
  static Value uint64(uint64_t V);
  static Value int64(int64_t V);
  static Value float32(float V);
  static Value float64(double V);
  static Value boolean(bool V);
  static Value string(llvm::StringRef V);

  /// Returns a scalar of numeric or BOOL type \p Type whose encoding is the
  /// low bytes of \p Bits. \p Bits must fit in the type's size.
  static Value fromBits(ValueType Type, uint64_t Bits);

  /// Returns an array of \p ElementType, which must be a scalar type. Every
  /// element must have that type.
  static Value array(ValueType ElementType, llvm::ArrayRef<Value> Elements);

  /// Returns a numeric or BOOL array whose elements are \p PackedElements,
  /// encoded little-endian back to back as in the file. Its size must be a
  /// multiple of the element size.
  static Value packedArray(ValueType ElementType, std::string PackedElements);

  /// Returns a STRING array.
  static Value stringArray(std::vector<std::string> Elements);

  /// Returns an array of \p Count elements of \p ElementType whose encoded
  /// elements, \p Length bytes, stay in the file they were read from at
  /// absolute offset \p Offset. Such an array can be described, compared
  /// with sameExternalElements and copied into a header (layoutHeader), but
  /// its elements are not in memory.
  static Value externalArray(ValueType ElementType, uint64_t Count,
                             uint64_t Offset, uint64_t Length);

  /// Returns a STRING of \p Count spaces that are not held in memory:
  /// layoutHeader leaves a gap for them, which the writer fills. A header's
  /// alignment padding can be megabytes of spaces.
  static Value spaces(uint64_t Count);

  ValueType type() const { return Type; }
  bool isArray() const { return Type == ValueType::Array; }

  /// True for a string made by spaces(), and its length.
  bool isSpaces() const { return Spaces; }
  uint64_t spaceCount() const { return SpaceCount; }

  /// True for an array whose elements were left in the file.
  bool isExternal() const { return External; }
  /// The absolute file offset and byte length of an external array's
  /// elements.
  uint64_t externalOffset() const;
  uint64_t externalLength() const;

  /// True for the scalar types UINT8 to INT32, UINT64 and INT64.
  bool isInteger() const;

  /// Returns the value of an integer scalar if it lies in [0, 2^64), or
  /// std::nullopt for a negative value or a value that is not an integer.
  std::optional<uint64_t> asUInt64() const;

  /// Returns the value of an integer scalar if it lies in [-2^63, 2^63), or
  /// std::nullopt for a larger UINT64 or a value that is not an integer.
  std::optional<int64_t> asInt64() const;

  /// Returns the encoding of a numeric or BOOL scalar, zero-extended: the
  /// IEEE bits of a float and the two's complement bits of a signed integer.
  uint64_t bits() const;

  /// Accessors for one scalar type each. The value must have that type.
  bool asBool() const;
  float asFloat32() const;
  double asFloat64() const;
  llvm::StringRef asString() const;

  /// Returns the element type of an array.
  ValueType elementType() const;
  /// Returns the element count of an array.
  uint64_t arraySize() const;
  /// Returns element \p Index of an array as a scalar. The array must not
  /// be external.
  Value element(uint64_t Index) const;

  /// Describes the value for messages: "UINT32 7", "STRING 'llama'",
  /// "ARRAY of 32 INT32".
  std::string describe() const;

  /// Appends the value's type id and encoding to \p Out, as in a file. For
  /// an external array only the type ids and the count are appended, and
  /// the caller copies the elements after them.
  void encode(std::string &Out) const;

  /// Compares types and contents. Two external arrays are equal when their
  /// element types, counts and byte lengths are: their elements are not
  /// read, and sameExternalElements compares those.
  bool operator==(const Value &Other) const;
  bool operator!=(const Value &Other) const { return !(*this == Other); }

private:
  ValueType Type = ValueType::UInt8;
  /// The element type of an array, or Type itself for a scalar.
  ValueType ElementType = ValueType::UInt8;
  /// The zero-extended encoding of a numeric or BOOL scalar.
  uint64_t Bits = 0;
  /// The bytes of a STRING scalar.
  std::string Text;
  /// The elements of a numeric or BOOL array, as stored in the file.
  std::string PackedElements;
  /// The elements of a STRING array.
  std::vector<std::string> StringElements;
  /// The length of a string made by spaces().
  bool Spaces = false;
  uint64_t SpaceCount = 0;
  /// An external array's element count, and where its elements lie.
  bool External = false;
  uint64_t ExternalCount = 0;
  uint64_t ExternalOffset = 0;
  uint64_t ExternalLength = 0;
};

/// One metadata entry.
struct KeyValue {
  std::string Key;
  Value Val;
};

/// The block layout of a ggml tensor type.
struct TypeTraits {
  llvm::StringRef Name;
  /// Values per block. A row length ne[0] must be a multiple of it.
  uint32_t BlockSize;
  uint32_t BytesPerBlock;
};

/// Returns the layout of the ggml type \p Id as mainline llama.cpp defines
/// it (ids 0 to 42), or nullptr for a removed id (4, 5, 31-33, 36-38), an id
/// that only ik_llama.cpp defines, or any other unknown id.
const TypeTraits *lookupType(uint32_t Id);

/// One tensor info.
struct TensorInfo {
  std::string Name;
  /// ne[0], ne[1], ...: the row length comes first.
  std::vector<uint64_t> Dims;
  /// The ggml type id.
  uint32_t Type = 0;
  /// Offset of the data relative to the start of the data section.
  uint64_t Offset = 0;
  /// Data size in bytes without padding, computed from Type and Dims.
  uint64_t Size = 0;
};

/// A validated GGUF header.
struct File {
  std::string Path;
  uint32_t Version = 0;
  uint64_t FileSize = 0;
  uint32_t Alignment = DefaultAlignment;
  /// Absolute offset of the data section: the end of the tensor infos
  /// rounded up to Alignment. A file without tensors may lack the padding,
  /// and then this is FileSize.
  uint64_t DataStart = 0;
  /// The key-value pairs in file order.
  std::vector<KeyValue> Metadata;
  /// The tensor infos in file order, which is also their data order.
  std::vector<TensorInfo> Tensors;

  /// Returns the value of \p Key, or nullptr if the file has no such key.
  const Value *find(llvm::StringRef Key) const;
};

/// Reads and validates the header of the GGUF file at \p Path: everything
/// before the data section, read in bounded chunks. Tensor data is never
/// read, but each tensor's data must lie inside the file.
llvm::Expected<File> readFile(llvm::StringRef Path);

/// Validates \p Bytes, the first bytes of a GGUF file of \p FileSize bytes.
/// \p Bytes must contain at least everything before the data section,
/// otherwise the error message contains "truncated". \p Path is used only in
/// error messages.
llvm::Expected<File> parse(llvm::StringRef Path, llvm::StringRef Bytes,
                           uint64_t FileSize);

/// Returns \p Size rounded up to a multiple of \p Alignment, a power of two.
uint64_t paddedSize(uint64_t Size, uint32_t Alignment);

/// Returns the data size in bytes of a tensor of known type and valid shape.
uint64_t tensorDataSize(const TensorInfo &Tensor);

/// A header ready to write: its bytes, except the elements of external
/// arrays, which are copied from the file the arrays were read from.
struct HeaderLayout {
  /// The destination of one external array's elements, or of the bytes of
  /// a string made by Value::spaces().
  struct Gap {
    /// The position in Bytes before which the elements belong.
    uint64_t At = 0;
    uint64_t SourceOffset = 0;
    uint64_t Length = 0;
    /// True when the gap is spaces, not bytes copied from the source.
    bool Spaces = false;
  };

  /// Every header byte outside the gaps, in order, with the final padding.
  std::string Bytes;
  /// The gaps in ascending At order.
  std::vector<Gap> Gaps;
  /// The zero bytes at the end of Bytes that align the data section.
  uint64_t Padding = 0;

  /// The header size in the file: Bytes plus the gaps.
  uint64_t size() const;
};

/// Lays out a header: magic, version, counts, \p Metadata, tensor infos,
/// then zero padding up to the data section. Offsets are recomputed as the
/// running sum of paddedSize(Size, Alignment) in the given order, so the
/// callers set only Name, Dims, Type and Size. n_dims is Dims.size(). Keys
/// and tensor names must be distinct and names at most 63 bytes, as in
/// anything parse accepts. "general.alignment", if present, must be the
/// UINT32 \p Alignment, and must be present if \p Alignment is not 32.
/// External arrays in \p Metadata become gaps.
HeaderLayout layoutHeader(uint32_t Version, llvm::ArrayRef<KeyValue> Metadata,
                          llvm::ArrayRef<TensorInfo> Tensors,
                          uint32_t Alignment);

/// Returns the header bytes as layoutHeader does, for metadata without
/// external arrays.
std::string buildHeader(uint32_t Version, llvm::ArrayRef<KeyValue> Metadata,
                        llvm::ArrayRef<TensorInfo> Tensors,
                        uint32_t Alignment);

/// Compares the elements of external arrays \p A, read from \p PathA, and
/// \p B, read from \p PathB, in bounded chunks. Returns false when their
/// types, counts or lengths differ.
llvm::Expected<bool> sameExternalElements(llvm::StringRef PathA,
                                          const Value &A,
                                          llvm::StringRef PathB,
                                          const Value &B);

/// Returns {index, count} for a split-file name "NAME-00001-of-00003.gguf"
/// (5-digit numbers, 1 <= index <= count, NAME not empty), or std::nullopt
/// for any other name. \p FileName has no directory part.
std::optional<std::pair<unsigned, unsigned>>
parseSplitName(llvm::StringRef FileName);

/// Returns "STEM-0000I-of-0000C.gguf" for part \p Index of \p Count, where
/// 1 <= Index <= Count <= 99999.
std::string splitName(llvm::StringRef Stem, unsigned Index, unsigned Count);

/// Reads every part of a split set, given the path of the first part
/// "NAME-00001-of-0000N.gguf", and checks the parts against each other.
/// Each part's "split.no" (UINT16) must be its 0-based index and its
/// "split.count" (UINT16) must be N. The first part's "split.tensors.count"
/// (INT32) must be the total tensor count, and so must any other part's.
/// No tensor name may occur in two parts. A path without the split suffix is
/// read as a set of one file, in which the split keys are optional but must
/// agree if present.
llvm::Expected<std::vector<File>> readSplitSet(llvm::StringRef FirstPath);

} // namespace rysc::gguf

#endif // RYSC_BACKENDS_GGUF_GGUF_H
