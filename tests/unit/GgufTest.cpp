// Tests for the GGUF header reader, validator and writer.
#include "backends/gguf/Gguf.h"

#include "llvm/Support/Endian.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <bit>
#include <cctype>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <vector>

using namespace rysc::gguf;

namespace rysc::gguf {
// Prints values in failure messages as "UINT32 7" rather than raw bytes.
void PrintTo(const Value &V, std::ostream *Out) { *Out << V.describe(); }
} // namespace rysc::gguf

namespace {

const char *const TestPath = "x/model.gguf";
const std::string Prefix = "'x/model.gguf': ";

// Value type ids as written in files.
constexpr uint32_t TypeUInt8 = 0, TypeInt8 = 1, TypeUInt16 = 2, TypeInt16 = 3,
                   TypeUInt32 = 4, TypeInt32 = 5, TypeFloat32 = 6,
                   TypeBool = 7, TypeString = 8, TypeArray = 9,
                   TypeUInt64 = 10, TypeInt64 = 11, TypeFloat64 = 12;

// ggml type ids used below.
constexpr uint32_t GgmlF32 = 0, GgmlQ8_0 = 8, GgmlQ4_K = 12, GgmlI8 = 24,
                   GgmlF64 = 28;

/// Builds file bytes by hand, little-endian, so that the reader is not
/// tested with its own writer.
class ByteWriter {
public:
  ByteWriter &u8(uint8_t V) { return append(V); }
  ByteWriter &u16(uint16_t V) { return append(V); }
  ByteWriter &u32(uint32_t V) { return append(V); }
  ByteWriter &u64(uint64_t V) { return append(V); }
  ByteWriter &i8(int8_t V) { return append(V); }
  ByteWriter &i16(int16_t V) { return append(V); }
  ByteWriter &i32(int32_t V) { return append(V); }
  ByteWriter &i64(int64_t V) { return append(V); }
  ByteWriter &f32(float V) { return append(std::bit_cast<uint32_t>(V)); }
  ByteWriter &f64(double V) { return append(std::bit_cast<uint64_t>(V)); }

  /// Appends a GGUF string: u64 length, then the bytes.
  ByteWriter &str(const std::string &Text) {
    u64(Text.size());
    return raw(Text);
  }

  ByteWriter &raw(const std::string &Text) {
    Bytes += Text;
    return *this;
  }

  /// Appends zero bytes up to a multiple of \p Alignment.
  ByteWriter &padTo(size_t Alignment) {
    Bytes.append((Alignment - Bytes.size() % Alignment) % Alignment, '\0');
    return *this;
  }

  ByteWriter &zeros(size_t Count) {
    Bytes.append(Count, '\0');
    return *this;
  }

  /// Appends a tensor info, writing the dimensions as given, negative ones
  /// too.
  ByteWriter &tensorInfo(const std::string &Name,
                         const std::vector<int64_t> &Dims, uint32_t Type,
                         uint64_t Offset) {
    str(Name).u32(Dims.size());
    for (int64_t Dim : Dims)
      i64(Dim);
    return u32(Type).u64(Offset);
  }

  size_t size() const { return Bytes.size(); }
  const std::string &bytes() const { return Bytes; }

private:
  template <typename T> ByteWriter &append(T V) {
    char Buffer[sizeof(T)];
    llvm::support::endian::write<T, llvm::support::little,
                                 llvm::support::unaligned>(Buffer, V);
    Bytes.append(Buffer, sizeof(T));
    return *this;
  }

  std::string Bytes;
};

/// Starts a file: magic, version and the two counts.
ByteWriter start(uint64_t TensorCount, uint64_t KeyValueCount,
                 uint32_t Version = 3) {
  ByteWriter Writer;
  Writer.raw("GGUF").u32(Version).u64(TensorCount).u64(KeyValueCount);
  return Writer;
}

/// Parses \p Bytes as a whole file.
llvm::Expected<File> parseAll(const std::string &Bytes) {
  return parse(TestPath, Bytes, Bytes.size());
}

/// Returns the error text, or "success" when there is no error.
std::string errorText(llvm::Expected<File> Result) {
  if (Result)
    return "success";
  return llvm::toString(Result.takeError());
}

std::string errorText(llvm::Expected<std::vector<File>> Result) {
  if (Result)
    return "success";
  return llvm::toString(Result.takeError());
}

/// Decodes hex digits, ignoring spaces.
std::string fromHex(const std::string &Hex) {
  std::string Bytes;
  std::string Digits;
  for (char C : Hex)
    if (!std::isspace(static_cast<unsigned char>(C)))
      Digits += C;
  for (size_t I = 0; I + 1 < Digits.size(); I += 2)
    Bytes += static_cast<char>(std::stoi(Digits.substr(I, 2), nullptr, 16));
  return Bytes;
}

/// Returns a tensor info with Size computed from its type and shape.
TensorInfo makeTensor(const std::string &Name, std::vector<uint64_t> Dims,
                      uint32_t Type) {
  TensorInfo Tensor;
  Tensor.Name = Name;
  Tensor.Dims = std::move(Dims);
  Tensor.Type = Type;
  Tensor.Size = tensorDataSize(Tensor);
  return Tensor;
}

/// Returns a whole file: the header from buildHeader, then each tensor's
/// data padded to \p Alignment. Data byte i of every tensor is i % 251.
std::string buildFile(const std::vector<KeyValue> &Metadata,
                      const std::vector<TensorInfo> &Tensors,
                      uint32_t Alignment = DefaultAlignment) {
  std::string Bytes = buildHeader(CurrentVersion, Metadata, Tensors, Alignment);
  for (const TensorInfo &Tensor : Tensors) {
    for (uint64_t I = 0; I < Tensor.Size; ++I)
      Bytes += static_cast<char>(I % 251);
    Bytes.append(paddedSize(Tensor.Size, Alignment) - Tensor.Size, '\0');
  }
  return Bytes;
}

/// A per-test folder under /tmp, deleted at the end of the test.
class TempFolder {
public:
  TempFolder() {
    char Template[] = "/tmp/rysc-gguf-test-XXXXXX";
    EXPECT_NE(::mkdtemp(Template), nullptr);
    Path = Template;
  }
  ~TempFolder() { std::filesystem::remove_all(Path); }

  std::string write(const std::string &Name, const std::string &Bytes) const {
    std::string FilePath = Path + "/" + Name;
    std::ofstream Out(FilePath, std::ios::binary);
    Out << Bytes;
    EXPECT_TRUE(Out.good());
    return FilePath;
  }

  std::string Path;
};

// --- Tensor types -----------------------------------------------------------

TEST(GgufTypeTest, SpotChecks) {
  struct Case {
    uint32_t Id;
    const char *Name;
    uint32_t BlockSize;
    uint32_t BytesPerBlock;
  };
  const Case Cases[] = {
      {12, "Q4_K", 256, 144}, {20, "IQ4_NL", 32, 18}, {8, "Q8_0", 32, 34},
      {39, "MXFP4", 32, 17},  {30, "BF16", 1, 2},
  };
  for (const Case &C : Cases) {
    SCOPED_TRACE(C.Name);
    const TypeTraits *Traits = lookupType(C.Id);
    ASSERT_NE(Traits, nullptr);
    EXPECT_EQ(Traits->Name, C.Name);
    EXPECT_EQ(Traits->BlockSize, C.BlockSize);
    EXPECT_EQ(Traits->BytesPerBlock, C.BytesPerBlock);
  }
}

TEST(GgufTypeTest, EveryKnownId) {
  struct Case {
    uint32_t Id;
    const char *Name;
    uint32_t BlockSize;
    uint32_t BytesPerBlock;
  };
  const Case Cases[] = {
      {0, "F32", 1, 4},         {1, "F16", 1, 2},
      {2, "Q4_0", 32, 18},      {3, "Q4_1", 32, 20},
      {6, "Q5_0", 32, 22},      {7, "Q5_1", 32, 24},
      {8, "Q8_0", 32, 34},      {9, "Q8_1", 32, 36},
      {10, "Q2_K", 256, 84},    {11, "Q3_K", 256, 110},
      {12, "Q4_K", 256, 144},   {13, "Q5_K", 256, 176},
      {14, "Q6_K", 256, 210},   {15, "Q8_K", 256, 292},
      {16, "IQ2_XXS", 256, 66}, {17, "IQ2_XS", 256, 74},
      {18, "IQ3_XXS", 256, 98}, {19, "IQ1_S", 256, 50},
      {20, "IQ4_NL", 32, 18},   {21, "IQ3_S", 256, 110},
      {22, "IQ2_S", 256, 82},   {23, "IQ4_XS", 256, 136},
      {24, "I8", 1, 1},         {25, "I16", 1, 2},
      {26, "I32", 1, 4},        {27, "I64", 1, 8},
      {28, "F64", 1, 8},        {29, "IQ1_M", 256, 56},
      {30, "BF16", 1, 2},       {34, "TQ1_0", 256, 54},
      {35, "TQ2_0", 256, 66},   {39, "MXFP4", 32, 17},
      {40, "NVFP4", 64, 36},    {41, "Q1_0", 128, 18},
      {42, "Q2_0", 64, 18},
  };
  for (const Case &C : Cases) {
    SCOPED_TRACE(C.Name);
    const TypeTraits *Traits = lookupType(C.Id);
    ASSERT_NE(Traits, nullptr);
    EXPECT_EQ(Traits->Name, C.Name);
    EXPECT_EQ(Traits->BlockSize, C.BlockSize);
    EXPECT_EQ(Traits->BytesPerBlock, C.BytesPerBlock);
  }
}

TEST(GgufTypeTest, RemovedAndUnknownIds) {
  for (uint32_t Id : {4u, 5u, 31u, 32u, 33u, 36u, 37u, 38u, 43u, 97u, 144u,
                      1000u, std::numeric_limits<uint32_t>::max()}) {
    SCOPED_TRACE(Id);
    EXPECT_EQ(lookupType(Id), nullptr);
  }
}

// --- Sizes ------------------------------------------------------------------

TEST(GgufSizeTest, PaddedSize) {
  EXPECT_EQ(paddedSize(0, 32), 0u);
  EXPECT_EQ(paddedSize(1, 32), 32u);
  EXPECT_EQ(paddedSize(32, 32), 32u);
  EXPECT_EQ(paddedSize(33, 32), 64u);
  EXPECT_EQ(paddedSize(5, 1), 5u);
  EXPECT_EQ(paddedSize(4097, 4096), 8192u);
}

TEST(GgufSizeTest, TensorDataSize) {
  EXPECT_EQ(makeTensor("q", {512, 3}, GgmlQ4_K).Size, 2u * 144 * 3);
  EXPECT_EQ(makeTensor("f", {4, 2, 3}, GgmlF32).Size, 4u * 2 * 3 * 4);
  EXPECT_EQ(makeTensor("q", {64}, GgmlQ8_0).Size, 2u * 34);
  // No dimensions is a single value; a zero dimension is no data.
  EXPECT_EQ(makeTensor("s", {}, GgmlF32).Size, 4u);
  EXPECT_EQ(makeTensor("z", {0, 5}, GgmlF32).Size, 0u);
}

// --- Values -----------------------------------------------------------------

TEST(GgufValueTest, IntegerRanges) {
  EXPECT_EQ(Value::int8(-1).asUInt64(), std::nullopt);
  EXPECT_EQ(Value::int8(-1).asInt64(), -1);
  EXPECT_EQ(Value::int8(-1).bits(), 0xffu);
  EXPECT_EQ(Value::int16(5).asUInt64(), 5u);
  EXPECT_EQ(Value::uint64(std::numeric_limits<uint64_t>::max()).asInt64(),
            std::nullopt);
  EXPECT_EQ(Value::uint64(std::numeric_limits<uint64_t>::max()).asUInt64(),
            std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(Value::int64(std::numeric_limits<int64_t>::min()).asInt64(),
            std::numeric_limits<int64_t>::min());
  EXPECT_EQ(Value::uint32(7).asInt64(), 7);
}

TEST(GgufValueTest, IsInteger) {
  EXPECT_TRUE(Value::uint8(1).isInteger());
  EXPECT_TRUE(Value::int64(1).isInteger());
  EXPECT_FALSE(Value::float32(1).isInteger());
  EXPECT_FALSE(Value::boolean(true).isInteger());
  EXPECT_FALSE(Value::string("1").isInteger());
  EXPECT_FALSE(Value::array(ValueType::Int32, {Value::int32(1)}).isInteger());
  EXPECT_EQ(Value::float32(1).asUInt64(), std::nullopt);
  EXPECT_EQ(Value::string("1").asInt64(), std::nullopt);
}

TEST(GgufValueTest, ArrayElements) {
  Value Numbers = Value::array(ValueType::Int16, {Value::int16(-2),
                                                  Value::int16(300)});
  EXPECT_TRUE(Numbers.isArray());
  EXPECT_EQ(Numbers.type(), ValueType::Array);
  EXPECT_EQ(Numbers.elementType(), ValueType::Int16);
  ASSERT_EQ(Numbers.arraySize(), 2u);
  EXPECT_EQ(Numbers.element(0), Value::int16(-2));
  EXPECT_EQ(Numbers.element(1).asInt64(), 300);

  Value Words = Value::array(ValueType::String,
                             {Value::string("a"), Value::string("bc")});
  EXPECT_EQ(Words, Value::stringArray({"a", "bc"}));
  EXPECT_EQ(Words.element(1).asString(), "bc");

  Value Packed = Value::packedArray(ValueType::UInt16, std::string("\x01\x02", 2));
  ASSERT_EQ(Packed.arraySize(), 1u);
  EXPECT_EQ(Packed.element(0).bits(), 0x0201u);
}

TEST(GgufValueTest, Describe) {
  EXPECT_EQ(Value::uint32(7).describe(), "UINT32 7");
  EXPECT_EQ(Value::int8(-3).describe(), "INT8 -3");
  EXPECT_EQ(Value::float32(0.5f).describe(), "FLOAT32 0.5");
  EXPECT_EQ(Value::float64(-2.25).describe(), "FLOAT64 -2.25");
  EXPECT_EQ(Value::boolean(false).describe(), "BOOL false");
  EXPECT_EQ(Value::string("ll\nama").describe(), "STRING 'll\\x0Aama'");
  EXPECT_EQ(Value::stringArray({"a", "b"}).describe(), "ARRAY of 2 STRING");
  EXPECT_EQ(Value::string(std::string(120, 'a')).describe(),
            "STRING '" + std::string(100, 'a') + "...'");
}

TEST(GgufValueTest, EqualityComparesTypeAndBits) {
  EXPECT_EQ(Value::uint32(1), Value::uint32(1));
  EXPECT_NE(Value::uint32(1), Value::int32(1));
  EXPECT_NE(Value::float32(0.0f), Value::float32(-0.0f));
  EXPECT_NE(Value::string("a"), Value::stringArray({"a"}));
  EXPECT_EQ(Value(), Value::uint8(0));
}

// --- Parsing valid files ----------------------------------------------------

TEST(GgufParseTest, EveryScalarType) {
  ByteWriter Writer = start(0, 13);
  Writer.str("u8").u32(TypeUInt8).u8(200);
  Writer.str("i8").u32(TypeInt8).i8(-5);
  Writer.str("u16").u32(TypeUInt16).u16(65535);
  Writer.str("i16").u32(TypeInt16).i16(-300);
  Writer.str("u32").u32(TypeUInt32).u32(4000000000u);
  Writer.str("i32").u32(TypeInt32).i32(-2);
  Writer.str("f32").u32(TypeFloat32).u32(0x3fc00000); // 1.5
  Writer.str("bool").u32(TypeBool).u8(2);
  Writer.str("str").u32(TypeString).str("llama");
  Writer.str("u64").u32(TypeUInt64).u64(std::numeric_limits<uint64_t>::max());
  Writer.str("i64").u32(TypeInt64).i64(std::numeric_limits<int64_t>::min());
  Writer.str("f64").u32(TypeFloat64).f64(-0.25);
  Writer.str("empty").u32(TypeString).str("");

  llvm::Expected<File> Result = parseAll(Writer.bytes());
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->Path, TestPath);
  EXPECT_EQ(Result->Version, 3u);
  EXPECT_EQ(Result->FileSize, Writer.size());
  EXPECT_EQ(Result->Alignment, 32u);
  EXPECT_TRUE(Result->Tensors.empty());
  ASSERT_EQ(Result->Metadata.size(), 13u);
  EXPECT_EQ(Result->Metadata[0].Key, "u8");
  EXPECT_EQ(Result->Metadata[12].Key, "empty");

  const File &F = *Result;
  EXPECT_EQ(F.find("u8")->type(), ValueType::UInt8);
  EXPECT_EQ(F.find("u8")->asUInt64(), 200u);
  EXPECT_EQ(F.find("i8")->type(), ValueType::Int8);
  EXPECT_EQ(F.find("i8")->asInt64(), -5);
  EXPECT_EQ(F.find("u16")->type(), ValueType::UInt16);
  EXPECT_EQ(F.find("u16")->asUInt64(), 65535u);
  EXPECT_EQ(F.find("i16")->type(), ValueType::Int16);
  EXPECT_EQ(F.find("i16")->asInt64(), -300);
  EXPECT_EQ(F.find("u32")->type(), ValueType::UInt32);
  EXPECT_EQ(F.find("u32")->asUInt64(), 4000000000u);
  EXPECT_EQ(F.find("i32")->type(), ValueType::Int32);
  EXPECT_EQ(F.find("i32")->asInt64(), -2);
  EXPECT_EQ(F.find("f32")->type(), ValueType::Float32);
  EXPECT_EQ(F.find("f32")->asFloat32(), 1.5f);
  EXPECT_EQ(F.find("f32")->bits(), 0x3fc00000u);
  EXPECT_EQ(F.find("bool")->type(), ValueType::Bool);
  EXPECT_TRUE(F.find("bool")->asBool());
  EXPECT_EQ(F.find("bool")->bits(), 2u);
  EXPECT_EQ(F.find("str")->type(), ValueType::String);
  EXPECT_EQ(F.find("str")->asString(), "llama");
  EXPECT_EQ(F.find("u64")->type(), ValueType::UInt64);
  EXPECT_EQ(F.find("u64")->asUInt64(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(F.find("i64")->type(), ValueType::Int64);
  EXPECT_EQ(F.find("i64")->asInt64(), std::numeric_limits<int64_t>::min());
  EXPECT_EQ(F.find("f64")->type(), ValueType::Float64);
  EXPECT_EQ(F.find("f64")->asFloat64(), -0.25);
  EXPECT_EQ(F.find("empty")->asString(), "");
  EXPECT_EQ(F.find("missing"), nullptr);
  // Without tensors, the data section is where the padding would end, but
  // no further than the end of the file.
  EXPECT_EQ(F.DataStart, Writer.size());
}

TEST(GgufParseTest, EveryArrayElementType) {
  ByteWriter Writer = start(0, 13);
  Writer.str("u8").u32(TypeArray).u32(TypeUInt8).u64(2).u8(1).u8(255);
  Writer.str("i8").u32(TypeArray).u32(TypeInt8).u64(1).i8(-128);
  Writer.str("u16").u32(TypeArray).u32(TypeUInt16).u64(1).u16(513);
  Writer.str("i16").u32(TypeArray).u32(TypeInt16).u64(1).i16(-2);
  Writer.str("u32").u32(TypeArray).u32(TypeUInt32).u64(1).u32(70000);
  Writer.str("i32").u32(TypeArray).u32(TypeInt32).u64(3).i32(-1).i32(0).i32(7);
  Writer.str("f32").u32(TypeArray).u32(TypeFloat32).u64(1).f32(0.25f);
  Writer.str("bool").u32(TypeArray).u32(TypeBool).u64(2).u8(0).u8(1);
  Writer.str("str").u32(TypeArray).u32(TypeString).u64(2).str("a").str("");
  Writer.str("u64").u32(TypeArray).u32(TypeUInt64).u64(1).u64(1ull << 40);
  Writer.str("i64").u32(TypeArray).u32(TypeInt64).u64(1).i64(-(1ll << 40));
  Writer.str("f64").u32(TypeArray).u32(TypeFloat64).u64(1).f64(1e300);
  Writer.str("none").u32(TypeArray).u32(TypeInt32).u64(0);

  llvm::Expected<File> Result = parseAll(Writer.bytes());
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  const File &F = *Result;

  struct Case {
    const char *Key;
    ValueType ElementType;
    std::vector<Value> Elements;
  };
  const Case Cases[] = {
      {"u8", ValueType::UInt8, {Value::uint8(1), Value::uint8(255)}},
      {"i8", ValueType::Int8, {Value::int8(-128)}},
      {"u16", ValueType::UInt16, {Value::uint16(513)}},
      {"i16", ValueType::Int16, {Value::int16(-2)}},
      {"u32", ValueType::UInt32, {Value::uint32(70000)}},
      {"i32",
       ValueType::Int32,
       {Value::int32(-1), Value::int32(0), Value::int32(7)}},
      {"f32", ValueType::Float32, {Value::float32(0.25f)}},
      {"bool", ValueType::Bool, {Value::boolean(false), Value::boolean(true)}},
      {"str", ValueType::String, {Value::string("a"), Value::string("")}},
      {"u64", ValueType::UInt64, {Value::uint64(1ull << 40)}},
      {"i64", ValueType::Int64, {Value::int64(-(1ll << 40))}},
      {"f64", ValueType::Float64, {Value::float64(1e300)}},
      {"none", ValueType::Int32, {}},
  };
  for (const Case &C : Cases) {
    SCOPED_TRACE(C.Key);
    const Value *Found = F.find(C.Key);
    ASSERT_NE(Found, nullptr);
    ASSERT_TRUE(Found->isArray());
    EXPECT_EQ(Found->elementType(), C.ElementType);
    ASSERT_EQ(Found->arraySize(), C.Elements.size());
    for (size_t I = 0; I < C.Elements.size(); ++I)
      EXPECT_EQ(Found->element(I), C.Elements[I]) << "element " << I;
    EXPECT_EQ(*Found, Value::array(C.ElementType, C.Elements));
  }
}

TEST(GgufParseTest, TensorInfosAndDataStart) {
  ByteWriter Writer = start(2, 1, 2);
  Writer.str("general.architecture").u32(TypeString).str("llama");
  Writer.tensorInfo("a", {4, 2}, GgmlF32, 0);
  Writer.tensorInfo("b", {64}, GgmlQ8_0, 32);
  size_t InfoEnd = Writer.size();
  Writer.padTo(32).zeros(32 + 68);

  llvm::Expected<File> Result = parseAll(Writer.bytes());
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->Version, 2u);
  EXPECT_EQ(Result->DataStart, (InfoEnd + 31) / 32 * 32);
  ASSERT_EQ(Result->Tensors.size(), 2u);

  const TensorInfo &A = Result->Tensors[0];
  EXPECT_EQ(A.Name, "a");
  EXPECT_EQ(A.Dims, (std::vector<uint64_t>{4, 2}));
  EXPECT_EQ(A.Type, GgmlF32);
  EXPECT_EQ(A.Offset, 0u);
  EXPECT_EQ(A.Size, 32u);

  const TensorInfo &B = Result->Tensors[1];
  EXPECT_EQ(B.Name, "b");
  EXPECT_EQ(B.Dims, (std::vector<uint64_t>{64}));
  EXPECT_EQ(B.Type, GgmlQ8_0);
  EXPECT_EQ(B.Offset, 32u);
  EXPECT_EQ(B.Size, 68u);
}

TEST(GgufParseTest, CustomAlignment) {
  ByteWriter Writer = start(2, 1);
  Writer.str("general.alignment").u32(TypeUInt32).u32(64);
  Writer.tensorInfo("a", {10}, GgmlI8, 0);
  Writer.tensorInfo("b", {3}, GgmlI8, 64);
  Writer.padTo(64).zeros(64 + 3);

  llvm::Expected<File> Result = parseAll(Writer.bytes());
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->Alignment, 64u);
  EXPECT_EQ(Result->DataStart % 64, 0u);
  EXPECT_EQ(Result->DataStart + 64 + 3, Writer.size());
}

TEST(GgufParseTest, ScalarAndEmptyTensors) {
  ByteWriter Writer = start(3, 0);
  Writer.tensorInfo("scalar", {}, GgmlF32, 0);
  Writer.tensorInfo("empty", {0, 5}, GgmlF32, 32);
  Writer.tensorInfo("last", {1}, GgmlF32, 32);
  Writer.padTo(32).zeros(36);

  llvm::Expected<File> Result = parseAll(Writer.bytes());
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  ASSERT_EQ(Result->Tensors.size(), 3u);
  EXPECT_TRUE(Result->Tensors[0].Dims.empty());
  EXPECT_EQ(Result->Tensors[0].Size, 4u);
  EXPECT_EQ(Result->Tensors[1].Size, 0u);
  EXPECT_EQ(Result->Tensors[2].Size, 4u);
}

TEST(GgufParseTest, LastTensorNeedsNoFinalPadding) {
  ByteWriter Writer = start(1, 0);
  Writer.tensorInfo("t", {3}, GgmlI8, 0);
  Writer.padTo(32).zeros(3);
  llvm::Expected<File> Result = parseAll(Writer.bytes());
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->DataStart + 3, Writer.size());
}

TEST(GgufParseTest, PrefixUpToDataSection) {
  ByteWriter Writer = start(1, 0);
  Writer.tensorInfo("t", {1000}, GgmlF32, 0);
  // Only the bytes before the padding are given; the file is larger.
  llvm::Expected<File> Result =
      parse(TestPath, Writer.bytes(), 64 + 4000);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Writer.size(), 57u);
  EXPECT_EQ(Result->DataStart, 64u);
  EXPECT_EQ(Result->FileSize, 64u + 4000);
}

// --- Writing ----------------------------------------------------------------

TEST(GgufWriteTest, ExactBytes) {
  std::vector<KeyValue> Metadata = {{"a", Value::uint32(7)}};
  std::vector<TensorInfo> Tensors = {makeTensor("t", {2}, GgmlF32)};
  std::string Expected = fromHex("47475546 03000000"            // magic, v3
                                 "0100000000000000"             // 1 tensor
                                 "0100000000000000"             // 1 key
                                 "0100000000000000 61"          // "a"
                                 "04000000 07000000"            // UINT32 7
                                 "0100000000000000 74"          // "t"
                                 "01000000 0200000000000000"    // [2]
                                 "00000000 0000000000000000"    // F32, at 0
                                 "0000000000000000000000"       // padding
                                 "0000000000000000000000");     // to 96
  EXPECT_EQ(Expected.size(), 96u);
  EXPECT_EQ(buildHeader(3, Metadata, Tensors, 32), Expected);
}

TEST(GgufWriteTest, SpacesLeaveAGap) {
  // The same header as a STRING of 5 spaces laid out in memory, except that
  // the spaces are a gap the writer fills.
  std::vector<KeyValue> InMemory = {{"a", Value::uint32(7)},
                                    {"pad", Value::string("     ")}};
  std::vector<KeyValue> Gapped = {{"a", Value::uint32(7)},
                                  {"pad", Value::spaces(5)}};
  std::vector<TensorInfo> Tensors = {makeTensor("t", {2}, GgmlF32)};
  std::string Expected = buildHeader(3, InMemory, Tensors, 32);

  HeaderLayout Layout = layoutHeader(3, Gapped, Tensors, 32);
  // Preamble 24, key "a" 9, UINT32 8, key "pad" 11, STRING type and length 12.
  ASSERT_EQ(Layout.Gaps.size(), 1u);
  EXPECT_EQ(Layout.Gaps[0].At, 64u);
  EXPECT_EQ(Layout.Gaps[0].Length, 5u);
  EXPECT_TRUE(Layout.Gaps[0].Spaces);
  EXPECT_EQ(Layout.size(), Expected.size());
  EXPECT_EQ(Layout.Bytes.substr(0, 64) + "     " + Layout.Bytes.substr(64), Expected);

  EXPECT_EQ(Value::spaces(5).describe(), "STRING of 5 spaces");
  EXPECT_EQ(Value::spaces(5), Value::spaces(5));
  EXPECT_NE(Value::spaces(5), Value::spaces(6));
  EXPECT_NE(Value::spaces(5), Value::string("     "));
}

TEST(GgufWriteTest, OffsetsAreRunningPaddedSum) {
  std::vector<TensorInfo> Tensors = {makeTensor("a", {8}, GgmlI8),
                                     makeTensor("b", {100}, GgmlI8),
                                     makeTensor("c", {1}, GgmlI8)};
  // Callers need not set offsets; stale ones are replaced.
  Tensors[1].Offset = 12345;
  std::string Bytes = buildFile({}, Tensors);
  llvm::Expected<File> Result = parseAll(Bytes);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  ASSERT_EQ(Result->Tensors.size(), 3u);
  EXPECT_EQ(Result->Tensors[0].Offset, 0u);
  EXPECT_EQ(Result->Tensors[1].Offset, 32u);
  EXPECT_EQ(Result->Tensors[2].Offset, 160u);
  EXPECT_EQ(Result->DataStart % 32, 0u);
  EXPECT_EQ(Bytes.size(), Result->DataStart + 192);
}

TEST(GgufWriteTest, RoundTripEveryType) {
  std::vector<KeyValue> Metadata = {
      {"u8", Value::uint8(250)},
      {"i8", Value::int8(-7)},
      {"u16", Value::uint16(40000)},
      {"i16", Value::int16(-20000)},
      {"u32", Value::uint32(3000000000u)},
      {"i32", Value::int32(-123456)},
      // A NaN with payload bits and a negative zero keep their exact bits.
      {"f32.nan", Value::fromBits(ValueType::Float32, 0x7fc00001)},
      {"f32.zero", Value::float32(-0.0f)},
      {"bool", Value::fromBits(ValueType::Bool, 3)},
      {"str", Value::string(std::string("with\0nul", 8))},
      {"u64", Value::uint64(1ull << 63)},
      {"i64", Value::int64(-1)},
      {"f64", Value::fromBits(ValueType::Float64, 0xfff0000000000001ull)},
      {"arr.i32", Value::array(ValueType::Int32,
                               {Value::int32(1), Value::int32(-1)})},
      {"arr.f32", Value::array(ValueType::Float32, {Value::float32(0.5f)})},
      {"arr.bool", Value::array(ValueType::Bool, {Value::boolean(true)})},
      {"arr.str", Value::stringArray({"x", "", "yz"})},
      {"arr.empty", Value::array(ValueType::UInt64, {})},
  };
  std::vector<TensorInfo> Tensors = {
      makeTensor("token_embd.weight", {256, 4}, GgmlQ4_K),
      makeTensor("blk.0.attn_norm.weight", {256}, GgmlF32),
      makeTensor("output.weight", {64, 2}, GgmlQ8_0),
  };

  std::string Bytes = buildFile(Metadata, Tensors);
  llvm::Expected<File> Result = parseAll(Bytes);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());

  ASSERT_EQ(Result->Metadata.size(), Metadata.size());
  for (size_t I = 0; I < Metadata.size(); ++I) {
    SCOPED_TRACE(Metadata[I].Key);
    EXPECT_EQ(Result->Metadata[I].Key, Metadata[I].Key);
    EXPECT_EQ(Result->Metadata[I].Val.type(), Metadata[I].Val.type());
    EXPECT_EQ(Result->Metadata[I].Val, Metadata[I].Val);
  }
  EXPECT_EQ(Result->find("f32.nan")->bits(), 0x7fc00001u);
  EXPECT_TRUE(std::signbit(Result->find("f32.zero")->asFloat32()));
  EXPECT_EQ(Result->find("bool")->bits(), 3u);
  EXPECT_EQ(Result->find("str")->asString().size(), 8u);

  ASSERT_EQ(Result->Tensors.size(), Tensors.size());
  for (size_t I = 0; I < Tensors.size(); ++I) {
    SCOPED_TRACE(Tensors[I].Name);
    EXPECT_EQ(Result->Tensors[I].Name, Tensors[I].Name);
    EXPECT_EQ(Result->Tensors[I].Dims, Tensors[I].Dims);
    EXPECT_EQ(Result->Tensors[I].Type, Tensors[I].Type);
    EXPECT_EQ(Result->Tensors[I].Size, Tensors[I].Size);
  }

  // Writing the parsed header again gives the same bytes.
  std::string Again = buildHeader(Result->Version, Result->Metadata,
                                  Result->Tensors, Result->Alignment);
  EXPECT_EQ(Again, Bytes.substr(0, Result->DataStart));
}

TEST(GgufWriteTest, RoundTripCustomAlignment) {
  std::vector<KeyValue> Metadata = {{"general.alignment", Value::uint32(256)}};
  std::vector<TensorInfo> Tensors = {makeTensor("a", {3}, GgmlI8),
                                     makeTensor("b", {300}, GgmlI8)};
  std::string Bytes = buildFile(Metadata, Tensors, 256);
  llvm::Expected<File> Result = parseAll(Bytes);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->Alignment, 256u);
  EXPECT_EQ(Result->DataStart, 256u);
  EXPECT_EQ(Result->Tensors[1].Offset, 256u);
  EXPECT_EQ(Bytes.size(), 256u + 256 + 512);
}

TEST(GgufWriteTest, VersionTwoAndNoTensors) {
  std::string Bytes = buildHeader(2, {{"k", Value::boolean(true)}}, {}, 32);
  EXPECT_EQ(Bytes.size() % 32, 0u);
  llvm::Expected<File> Result = parseAll(Bytes);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->Version, 2u);
  EXPECT_EQ(Result->DataStart, Bytes.size());
}

// --- Rejected files ---------------------------------------------------------

struct BadCase {
  std::string Name;
  std::string Bytes;
  /// The message after "'x/model.gguf': ".
  std::string Message;
  /// The file size when only a prefix is given, else 0 for Bytes.size().
  uint64_t FileSize = 0;
};

void PrintTo(const BadCase &Case, std::ostream *Out) { *Out << Case.Name; }

/// Returns a file with no keys, a valid tensor "t" of 8 F32 values, a
/// second tensor info with the given fields, and 64 bytes of data.
std::string withSecondTensor(const std::string &Name,
                             const std::vector<int64_t> &Dims, uint32_t Type,
                             uint64_t Offset = 32) {
  ByteWriter Writer = start(2, 0);
  Writer.tensorInfo("t", {8}, GgmlF32, 0);
  Writer.tensorInfo(Name, Dims, Type, Offset);
  return Writer.padTo(32).zeros(64).bytes();
}

/// Returns a file with one key "a" of value type \p Type followed by
/// \p Rest.
std::string withKey(uint32_t Type, const ByteWriter &Rest) {
  ByteWriter Writer = start(0, 1);
  Writer.str("a").u32(Type).raw(Rest.bytes());
  return Writer.bytes();
}

std::vector<BadCase> badCases() {
  std::vector<BadCase> Cases;
  auto Add = [&Cases](std::string Name, std::string Bytes,
                      std::string Message, uint64_t FileSize = 0) {
    Cases.push_back(
        {std::move(Name), std::move(Bytes), std::move(Message), FileSize});
  };

  // The preamble.
  Add("bad_empty_file", "",
      "truncated: the magic at offset 0 needs 4 bytes, but the file ends at "
      "offset 0");
  Add("bad_magic", ByteWriter().raw("GGML").u32(3).u64(0).u64(0).bytes(),
      "invalid magic 'GGML', expected 'GGUF'");
  Add("bad_magic_binary",
      ByteWriter().raw(std::string("\0\x01GU", 4)).u32(3).bytes(),
      "invalid magic '\\x00\\x01GU', expected 'GGUF'");
  Add("bad_version_1", start(0, 0, 1).bytes(),
      "GGUF version 1 is not supported, expected 2 or 3 (convert the model "
      "again with a current llama.cpp)");
  Add("bad_version_4", start(0, 0, 4).bytes(),
      "unsupported GGUF version 4, expected 2 or 3");
  Add("bad_version_big_endian", start(0, 0, 0x03000000).bytes(),
      "GGUF version 50331648 (0x3000000) has its low 16 bits zero, so the "
      "file is big-endian or corrupt, and only little-endian files are "
      "supported");
  Add("bad_version_0", start(0, 0, 0).bytes(),
      "GGUF version 0 (0x0) has its low 16 bits zero, so the file is "
      "big-endian or corrupt, and only little-endian files are supported");
  Add("bad_tensor_count_negative", start(uint64_t(-1), 0).bytes(),
      "tensor count is negative (-1 when read as int64), expected 0 to "
      "1048576");
  Add("bad_tensor_count_too_large", start(1048577, 0).bytes(),
      "tensor count 1048577 exceeds the limit of 1048576");
  Add("bad_key_value_count_negative", start(0, uint64_t(1) << 63).bytes(),
      "key-value count is negative (-9223372036854775808 when read as "
      "int64), expected 0 to 1048576");
  Add("bad_key_value_count_too_large", start(0, 1048577).bytes(),
      "key-value count 1048577 exceeds the limit of 1048576");
  Add("bad_truncated_preamble", ByteWriter().raw("GGUF").u32(3).u32(0).bytes(),
      "truncated: the tensor count at offset 8 needs 8 bytes, but the file "
      "ends at offset 12");
  Add("bad_truncated_prefix", ByteWriter().raw("GGUF").u32(3).u32(0).bytes(),
      "truncated: the tensor count at offset 8 needs 8 bytes, but only the "
      "first 12 bytes of the file were given",
      1000);

  // Key-value pairs.
  Add("bad_key_too_long", start(0, 1).u64((uint64_t(1) << 30) + 1).bytes(),
      "the key of key-value pair 0 has length 1073741825, which exceeds the "
      "limit of 1073741824 bytes");
  Add("bad_key_past_end", start(0, 1).u64(100).raw("abc").bytes(),
      "the key of key-value pair 0 has length 100, but only 3 bytes remain "
      "in the file");
  Add("bad_key_truncated_prefix", start(0, 1).u64(100).raw("abc").bytes(),
      "truncated: the key of key-value pair 0 at offset 32 needs 100 bytes, "
      "but only the first 35 bytes of the file were given",
      1000);
  Add("bad_empty_key",
      start(0, 2).str("a").u32(TypeUInt8).u8(1).str("").bytes(),
      "key-value pair 1 has an empty key");
  Add("bad_duplicate_key",
      start(0, 2).str("a").u32(TypeUInt8).u8(1).str("a").bytes(),
      "duplicate key 'a' in key-value pairs 0 and 1");
  Add("bad_duplicate_key_control_byte",
      start(0, 2)
          .str("a\nb")
          .u32(TypeUInt8)
          .u8(1)
          .str("a\nb")
          .u32(TypeUInt8)
          .u8(1)
          .bytes(),
      "duplicate key 'a\\x0Ab' in key-value pairs 0 and 1");
  Add("bad_value_type", withKey(13, ByteWriter()),
      "key 'a' has unknown value type id 13, expected 0 to 12");
  Add("bad_value_type_negative", withKey(uint32_t(-1), ByteWriter()),
      "key 'a' has unknown value type id -1, expected 0 to 12");
  Add("bad_value_truncated", withKey(TypeUInt32, ByteWriter().u16(1)),
      "truncated: the value of key 'a' at offset 37 needs 4 bytes, but the "
      "file ends at offset 39");
  Add("bad_string_value_past_end",
      withKey(TypeString, ByteWriter().u64(10).raw("abc")),
      "the value of key 'a' has length 10, but only 3 bytes remain in the "
      "file");
  Add("bad_string_value_too_long",
      withKey(TypeString, ByteWriter().u64(uint64_t(-1))),
      "the value of key 'a' has length 18446744073709551615, which exceeds "
      "the limit of 1073741824 bytes");
  Add("bad_array_of_arrays",
      withKey(TypeArray, ByteWriter().u32(TypeArray).u64(0)),
      "key 'a' is an array of arrays, but arrays of arrays are not supported, "
      "as in llama.cpp");
  Add("bad_array_element_type",
      withKey(TypeArray, ByteWriter().u32(13).u64(0)),
      "key 'a' has unknown array element type id 13, expected 0 to 12 except "
      "9");
  Add("bad_array_too_long",
      withKey(TypeArray, ByteWriter().u32(TypeUInt8).u64((1u << 30) + 1)),
      "key 'a' has an array of 1073741825 elements, which exceeds the limit "
      "of 1073741824");
  Add("bad_array_past_end",
      withKey(TypeArray, ByteWriter().u32(TypeInt32).u64(10).u64(0)),
      "key 'a' has an array of 10 INT32 elements (40 bytes), but only 8 "
      "bytes remain in the file");
  Add("bad_string_array_past_end",
      withKey(TypeArray,
              ByteWriter().u32(TypeString).u64(5).str("ab").str("cd")),
      "key 'a' has an array of 5 strings, which needs at least 40 bytes, but "
      "only 20 bytes remain in the file");
  Add("bad_string_array_element_past_end",
      withKey(TypeArray,
              ByteWriter().u32(TypeString).u64(2).str("ab").u64(30).raw(
                  std::string(10, 'x'))),
      "element 1 of key 'a' has length 30, but only 10 bytes remain in the "
      "file");

  // general.alignment.
  Add("bad_alignment_type",
      start(0, 1).str("general.alignment").u32(TypeUInt64).u64(32).bytes(),
      "key 'general.alignment' has type UINT64, expected UINT32");
  Add("bad_alignment_zero",
      start(0, 1).str("general.alignment").u32(TypeUInt32).u32(0).bytes(),
      "key 'general.alignment' is 0, expected a non-zero power of two");
  Add("bad_alignment_not_power_of_two",
      start(0, 1).str("general.alignment").u32(TypeUInt32).u32(48).bytes(),
      "key 'general.alignment' is 48, expected a power of two");
  Add("bad_alignment_too_large",
      start(0, 1)
          .str("general.alignment")
          .u32(TypeUInt32)
          .u32(uint32_t(1) << 21)
          .bytes(),
      "key 'general.alignment' is 2097152, which exceeds the limit of "
      "1048576");

  // Tensor infos.
  Add("bad_tensor_name_too_long",
      withSecondTensor(std::string(64, 'n'), {8}, GgmlF32),
      "tensor name '" + std::string(64, 'n') +
          "' is 64 bytes, expected at most 63");
  Add("bad_duplicate_tensor_name", withSecondTensor("t", {8}, GgmlF32),
      "duplicate tensor name 't' in tensor infos 0 and 1");
  Add("bad_too_many_dims", withSecondTensor("u", {1, 1, 1, 1, 1}, GgmlF32),
      "tensor 'u' has 5 dimensions, expected at most 4");
  Add("bad_negative_dim", withSecondTensor("u", {8, -3}, GgmlF32),
      "tensor 'u' has ne[1] = -3, expected a size of at least 0");
  Add("bad_element_count_overflow",
      withSecondTensor("u", {int64_t(1) << 32, int64_t(1) << 32}, GgmlF32),
      "tensor 'u' with shape [4294967296, 4294967296] has more elements than "
      "int64 can count");
  Add("bad_element_count_just_over",
      withSecondTensor("u", {int64_t(1) << 62, 2}, GgmlI8),
      "tensor 'u' with shape [4611686018427387904, 2] has more elements than "
      "int64 can count");
  Add("bad_removed_type", withSecondTensor("u", {8}, 4),
      "unknown or removed ggml type id 4 for tensor 'u'");
  Add("bad_removed_type_36", withSecondTensor("u", {8}, 36),
      "unknown or removed ggml type id 36 for tensor 'u'");
  Add("bad_unknown_type", withSecondTensor("u", {8}, 43),
      "unknown or removed ggml type id 43 for tensor 'u'");
  Add("bad_negative_type", withSecondTensor("u", {8}, uint32_t(-1)),
      "unknown or removed ggml type id -1 for tensor 'u'");
  Add("bad_partial_block", withSecondTensor("u", {100}, GgmlQ4_K),
      "tensor 'u' of type Q4_K has ne[0] = 100, which is not a multiple of "
      "the block size 256");
  Add("bad_size_overflow",
      withSecondTensor("u", {int64_t(1) << 62}, GgmlF64),
      "tensor 'u' of type F64 with shape [4611686018427387904] has a data "
      "size that overflows 64 bits");
  Add("bad_truncated_tensor_info",
      start(1, 0).str("t").u32(2).u64(8).bytes(),
      "truncated: ne[1] of tensor 't' at offset 45 needs 8 bytes, but the "
      "file ends at offset 45");

  // Offsets and bounds. Two tensor infos "t" and "u" end at offset 90, so
  // the data section starts at 96.
  Add("bad_first_offset",
      start(1, 0).tensorInfo("t", {8}, GgmlF32, 32).padTo(32).zeros(64)
          .bytes(),
      "tensor 't' has offset 32, expected 0");
  Add("bad_second_offset_gap", withSecondTensor("u", {8}, GgmlF32, 64),
      "tensor 'u' has offset 64, expected 32");
  Add("bad_second_offset_unpadded",
      start(2, 0)
          .tensorInfo("t", {2}, GgmlF32, 0)
          .tensorInfo("u", {2}, GgmlF32, 8)
          .padTo(32)
          .zeros(64)
          .bytes(),
      "tensor 'u' has offset 8, expected 32");
  Add("bad_aliased_offsets", withSecondTensor("u", {8}, GgmlF32, 0),
      "tensor 'u' has offset 0, expected 32");
  Add("bad_data_past_end",
      start(2, 0)
          .tensorInfo("t", {8}, GgmlF32, 0)
          .tensorInfo("u", {8}, GgmlF32, 32)
          .padTo(32)
          .zeros(36)
          .bytes(),
      "tensor 'u' needs 32 bytes at file offset 128, but the file ends at "
      "offset 132");
  Add("bad_data_start_past_end",
      start(2, 0)
          .tensorInfo("t", {8}, GgmlF32, 0)
          .tensorInfo("u", {8}, GgmlF32, 32)
          .bytes(),
      "the data section starts at offset 96 (the tensor infos end at offset "
      "90, padded to the alignment 32), past the end of the file at offset "
      "90");
  return Cases;
}

class GgufBadFileTest : public testing::TestWithParam<BadCase> {};

TEST_P(GgufBadFileTest, ExactMessage) {
  const BadCase &Case = GetParam();
  uint64_t FileSize = Case.FileSize ? Case.FileSize : Case.Bytes.size();
  EXPECT_EQ(errorText(parse(TestPath, Case.Bytes, FileSize)),
            Prefix + Case.Message);
}

INSTANTIATE_TEST_SUITE_P(Catalogue, GgufBadFileTest,
                         testing::ValuesIn(badCases()),
                         [](const testing::TestParamInfo<BadCase> &Info) {
                           return Info.param.Name;
                         });

// Every prefix of a valid file is handled cleanly. As a whole file, a
// prefix is rejected until it contains the last tensor's data, because the
// final padding is optional. As the start of the full-size file, a prefix
// fails with "truncated" until it contains the tensor infos.
TEST(GgufBadFileTest, EveryTruncation) {
  std::vector<KeyValue> Metadata = {
      {"general.architecture", Value::string("llama")},
      {"tokenizer.ggml.tokens", Value::stringArray({"a", "bb"})},
      {"scores", Value::array(ValueType::Float32, {Value::float32(1)})}};
  std::string Bytes =
      buildFile(Metadata, {makeTensor("t", {32}, GgmlQ8_0)});
  llvm::Expected<File> Whole = parseAll(Bytes);
  ASSERT_TRUE(bool(Whole)) << llvm::toString(Whole.takeError());
  uint64_t DataEnd = Whole->DataStart + Whole->Tensors.back().Size;

  for (size_t Size = 0; Size < Bytes.size(); ++Size) {
    SCOPED_TRACE(Size);
    std::string Cut = Bytes.substr(0, Size);
    std::string Message = errorText(parse(TestPath, Cut, Size));
    if (Size >= DataEnd) {
      EXPECT_EQ(Message, "success");
    } else {
      EXPECT_NE(Message, "success");
    }

    Message = errorText(parse(TestPath, Cut, Bytes.size()));
    EXPECT_TRUE(Message == "success" ||
                Message.find("truncated") != std::string::npos)
        << Message;
    if (Size >= Whole->DataStart) {
      EXPECT_EQ(Message, "success");
    }
  }
}

// Random corruptions of a valid file never crash the reader. A rejected
// file gets a message naming it. An accepted one is written back the same,
// except for padding, which the writer always fills with zeros.
TEST(GgufBadFileTest, SeededRandomCorruptions) {
  std::vector<KeyValue> Metadata = {
      {"general.architecture", Value::string("llama")},
      {"llama.block_count", Value::uint32(2)},
      {"tokenizer.ggml.tokens", Value::stringArray({"a", "bb", "ccc"})},
      {"heads", Value::array(ValueType::Int32,
                             {Value::int32(4), Value::int32(8)})}};
  std::vector<TensorInfo> Tensors = {
      makeTensor("blk.0.attn_q.weight", {256, 2}, GgmlQ4_K),
      makeTensor("blk.1.attn_q.weight", {32, 3}, GgmlQ8_0),
      makeTensor("output_norm.weight", {5}, GgmlF32)};
  const std::string Valid = buildFile(Metadata, Tensors);

  std::mt19937_64 Random(20250101);
  int Accepted = 0;
  for (int Round = 0; Round < 20000; ++Round) {
    std::string Bytes = Valid;
    int Edits = 1 + static_cast<int>(Random() % 4);
    for (int E = 0; E < Edits; ++E)
      Bytes[Random() % Bytes.size()] = static_cast<char>(Random());
    if (Random() % 4 == 0)
      Bytes.resize(Random() % Bytes.size());

    llvm::Expected<File> Result = parseAll(Bytes);
    if (!Result) {
      std::string Message = llvm::toString(Result.takeError());
      EXPECT_EQ(Message.rfind(Prefix, 0), 0u) << Message;
      continue;
    }
    ++Accepted;
    std::string Again = buildHeader(Result->Version, Result->Metadata,
                                    Result->Tensors, Result->Alignment);
    size_t Common = std::min<size_t>(Again.size(), Result->DataStart);
    for (size_t I = 0; I < Common; ++I) {
      if (Again[I] != 0) {
        ASSERT_EQ(Again[I], Bytes[I]) << "round " << Round << ", byte " << I;
      }
    }
  }
  // Edits inside string values and data keep many files valid.
  EXPECT_GT(Accepted, 0);
}

// --- readFile ---------------------------------------------------------------

TEST(GgufReadFileTest, MatchesParse) {
  // A header larger than the 1 MiB read chunk, with a string longer than a
  // chunk, exercises both read paths.
  std::vector<std::string> Tokens;
  for (int I = 0; I < 200000; ++I)
    Tokens.push_back("token" + std::to_string(I));
  std::vector<KeyValue> Metadata = {
      {"tokenizer.ggml.tokens", Value::stringArray(Tokens)},
      {"long", Value::string(std::string(3 << 20, 'x'))},
      {"general.alignment", Value::uint32(64)}};
  std::vector<TensorInfo> Tensors = {makeTensor("a", {256, 2}, GgmlQ4_K),
                                     makeTensor("b", {7}, GgmlF32)};
  std::string Bytes = buildFile(Metadata, Tensors, 64);

  TempFolder Folder;
  std::string Path = Folder.write("model.gguf", Bytes);
  llvm::Expected<File> FromFile = readFile(Path);
  ASSERT_TRUE(bool(FromFile)) << llvm::toString(FromFile.takeError());
  llvm::Expected<File> FromMemory = parse(Path, Bytes, Bytes.size());
  ASSERT_TRUE(bool(FromMemory)) << llvm::toString(FromMemory.takeError());

  EXPECT_EQ(FromFile->Path, Path);
  EXPECT_EQ(FromFile->FileSize, Bytes.size());
  EXPECT_EQ(FromFile->DataStart, FromMemory->DataStart);
  EXPECT_EQ(FromFile->Alignment, 64u);
  ASSERT_EQ(FromFile->Metadata.size(), 3u);
  for (size_t I = 0; I < 3; ++I)
    EXPECT_EQ(FromFile->Metadata[I].Val, FromMemory->Metadata[I].Val);
  ASSERT_EQ(FromFile->Tensors.size(), 2u);
  EXPECT_EQ(FromFile->Tensors[1].Offset, FromMemory->Tensors[1].Offset);

  // The tokens take more than MaxInlineArrayBytes, so they stay in the file:
  // their elements start after the magic, version, counts (24 bytes), the
  // key (8 + 21), the type ids (4 + 4) and the count (8).
  const Value &FileTokens = *FromFile->find("tokenizer.ggml.tokens");
  uint64_t Length = 0;
  for (const std::string &Token : Tokens)
    Length += 8 + Token.size();
  ASSERT_TRUE(FileTokens.isExternal());
  EXPECT_EQ(FileTokens.arraySize(), 200000u);
  EXPECT_EQ(FileTokens.externalOffset(), 69u);
  EXPECT_EQ(FileTokens.externalLength(), Length);
  EXPECT_EQ(FileTokens.describe(), "ARRAY of 200000 STRING");
  EXPECT_EQ(Bytes.substr(69, 15), std::string("\x06\0\0\0\0\0\0\0token0", 14) + '\x06');
}

/// Returns a header whose only key is "big", an array of \p Count elements.
std::string arrayFile(ValueType ElementType, uint64_t Count) {
  std::vector<Value> Elements;
  for (uint64_t I = 0; I < Count; ++I)
    Elements.push_back(ElementType == ValueType::String ? Value::string("1234567")
                                                        : Value::int32(static_cast<int32_t>(I)));
  return buildFile({{"big", Value::array(ElementType, Elements)}}, {}, 32);
}

TEST(GgufExternalArrayTest, LoadedUpToTheLimit) {
  // 16384 INT32 elements take exactly MaxInlineArrayBytes, and 4096 strings
  // of 7 bytes with their 8-byte lengths take 61440 bytes.
  for (auto [Type, Count] : {std::pair{ValueType::Int32, uint64_t(16384)},
                             std::pair{ValueType::String, uint64_t(4096)}}) {
    std::string Bytes = arrayFile(Type, Count);
    llvm::Expected<File> Parsed = parse("m.gguf", Bytes, Bytes.size());
    ASSERT_TRUE(bool(Parsed)) << llvm::toString(Parsed.takeError());
    const Value &Big = *Parsed->find("big");
    EXPECT_FALSE(Big.isExternal());
    EXPECT_EQ(Big.arraySize(), Count);
    EXPECT_EQ(buildHeader(3, Parsed->Metadata, {}, 32), Bytes);
  }
}

TEST(GgufExternalArrayTest, LeftInTheFileAboveTheLimit) {
  for (auto [Type, Count] : {std::pair{ValueType::Int32, uint64_t(16385)},
                             std::pair{ValueType::String, uint64_t(4370)}}) {
    std::string Bytes = arrayFile(Type, Count);
    llvm::Expected<File> Parsed = parse("m.gguf", Bytes, Bytes.size());
    ASSERT_TRUE(bool(Parsed)) << llvm::toString(Parsed.takeError());
    const Value &Big = *Parsed->find("big");
    ASSERT_TRUE(Big.isExternal());
    EXPECT_EQ(Big.arraySize(), Count);
    // 24 bytes of preamble, the key "big" (8 + 3), two type ids, the count.
    EXPECT_EQ(Big.externalOffset(), 51u);
    EXPECT_EQ(Big.externalLength(), Type == ValueType::Int32 ? Count * 4 : Count * 15);

    // The layout leaves a gap for the elements; the header bytes around it
    // are the file's bytes around them.
    HeaderLayout Layout = layoutHeader(3, Parsed->Metadata, {}, 32);
    ASSERT_EQ(Layout.Gaps.size(), 1u);
    EXPECT_EQ(Layout.Gaps[0].At, 51u);
    EXPECT_EQ(Layout.Gaps[0].SourceOffset, 51u);
    EXPECT_EQ(Layout.Gaps[0].Length, Big.externalLength());
    EXPECT_EQ(Layout.size(), Bytes.size());
    std::string Joined = Layout.Bytes.substr(0, 51) +
                         Bytes.substr(51, Big.externalLength()) +
                         Layout.Bytes.substr(51);
    EXPECT_EQ(Joined, Bytes);
  }
}

TEST(GgufExternalArrayTest, BadElementAfterTheLimitNamed) {
  // 5000 strings of 15 bytes pass the limit at element 4369; element 4999
  // then claims 1000 bytes where 7 remain before the file's padding.
  std::string Bytes = arrayFile(ValueType::String, 5000);
  size_t Last = 51 + 4999 * 15;
  Bytes.replace(Last, 8, std::string("\xe8\x03\0\0\0\0\0\0", 8));
  llvm::Expected<File> Parsed = parse("m.gguf", Bytes, Bytes.size());
  ASSERT_FALSE(bool(Parsed));
  EXPECT_EQ(llvm::toString(Parsed.takeError()),
            "'m.gguf': element 4999 of key 'big' has length 1000, but only " +
                std::to_string(Bytes.size() - Last - 8) +
                " bytes remain in the file");
}

TEST(GgufExternalArrayTest, ElementsComparedFromTheFiles) {
  std::string Bytes = arrayFile(ValueType::String, 5000);
  std::string Changed = Bytes;
  Changed[51 + 5000 * 15 - 1] = '8'; // the last byte of the last string
  TempFolder Folder;
  std::string PathA = Folder.write("a.gguf", Bytes);
  std::string PathB = Folder.write("b.gguf", Changed);
  llvm::Expected<File> A = readFile(PathA);
  llvm::Expected<File> B = readFile(PathB);
  ASSERT_TRUE(bool(A)) << llvm::toString(A.takeError());
  ASSERT_TRUE(bool(B)) << llvm::toString(B.takeError());
  const Value &BigA = *A->find("big");
  const Value &BigB = *B->find("big");

  EXPECT_EQ(BigA, BigB); // same types, counts and lengths
  llvm::Expected<bool> Same = sameExternalElements(PathA, BigA, PathA, BigA);
  ASSERT_TRUE(bool(Same)) << llvm::toString(Same.takeError());
  EXPECT_TRUE(*Same);
  Same = sameExternalElements(PathA, BigA, PathB, BigB);
  ASSERT_TRUE(bool(Same)) << llvm::toString(Same.takeError());
  EXPECT_FALSE(*Same);
}

TEST(GgufReadFileTest, LargeSparseFile) {
  // A 4 GiB tensor in a sparse file: only the header is read.
  std::vector<TensorInfo> Tensors = {
      makeTensor("big", {uint64_t(1) << 30}, GgmlF32)};
  std::string Header = buildHeader(3, {}, Tensors, 32);
  TempFolder Folder;
  std::string Path = Folder.write("big.gguf", Header);
  std::filesystem::resize_file(Path, Header.size() + (uint64_t(4) << 30));

  llvm::Expected<File> Result = readFile(Path);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->Tensors[0].Size, uint64_t(4) << 30);
  EXPECT_EQ(Result->DataStart, Header.size());
}

TEST(GgufReadFileTest, TruncatedFile) {
  std::string Bytes = buildHeader(3, {{"k", Value::string("value")}}, {}, 32);
  TempFolder Folder;
  // The string's length field ends at offset 45; its 5 bytes are cut to 2.
  std::string Path = Folder.write("cut.gguf", Bytes.substr(0, 47));
  EXPECT_EQ(errorText(readFile(Path)),
            "'" + Path +
                "': the value of key 'k' has length 5, but only 2 bytes "
                "remain in the file");
  Path = Folder.write("cut2.gguf", Bytes.substr(0, 40));
  EXPECT_EQ(errorText(readFile(Path)),
            "'" + Path +
                "': truncated: the length of the value of key 'k' at offset "
                "37 needs 8 bytes, but the file ends at offset 40");
}

TEST(GgufReadFileTest, MissingFile) {
  TempFolder Folder;
  std::string Path = Folder.Path + "/missing.gguf";
  EXPECT_EQ(errorText(readFile(Path)),
            "'" + Path + "': failed to open: No such file or directory");
}

TEST(GgufReadFileTest, Directory) {
  TempFolder Folder;
  EXPECT_EQ(errorText(readFile(Folder.Path)),
            "'" + Folder.Path + "': not a regular file");
}

// --- Split sets -------------------------------------------------------------

TEST(GgufSplitTest, ParseSplitName) {
  using Position = std::optional<std::pair<unsigned, unsigned>>;
  EXPECT_EQ(parseSplitName("model-00001-of-00003.gguf"), Position({1, 3}));
  EXPECT_EQ(parseSplitName("a-b-00003-of-00003.gguf"), Position({3, 3}));
  EXPECT_EQ(parseSplitName("m-99999-of-99999.gguf"), Position({99999, 99999}));
  for (const char *Name :
       {"model.gguf", "model-00004-of-00003.gguf", "model-00000-of-00003.gguf",
        "model-0001-of-00003.gguf", "model-000001-of-00003.gguf",
        "-00001-of-00003.gguf", "model-00001-of-00003.bin",
        "model-000a1-of-00003.gguf", "model_00001-of-00003.gguf",
        "model-00001_of-00003.gguf", "model-00001-of-0000+.gguf",
        "model-00001-of-00003.gguf.part", ""}) {
    SCOPED_TRACE(Name);
    EXPECT_EQ(parseSplitName(Name), std::nullopt);
  }
}

TEST(GgufSplitTest, SplitName) {
  EXPECT_EQ(splitName("model", 2, 3), "model-00002-of-00003.gguf");
  EXPECT_EQ(splitName("x", 12345, 99999), "x-12345-of-99999.gguf");
}

/// Writes part \p Index (1-based) of a split set with one I8 tensor per name.
std::string writePart(const TempFolder &Folder, unsigned Index, unsigned Count,
                      const std::vector<std::string> &Names,
                      std::vector<KeyValue> Metadata) {
  std::vector<TensorInfo> Tensors;
  for (const std::string &Name : Names)
    Tensors.push_back(makeTensor(Name, {4}, GgmlI8));
  return Folder.write(splitName("model", Index, Count),
                      buildFile(Metadata, Tensors));
}

/// The split keys llama-gguf-split writes into part \p Index (1-based).
std::vector<KeyValue> splitKeys(unsigned Index, unsigned Count,
                                int32_t TensorCount) {
  return {{"split.no", Value::uint16(Index - 1)},
          {"split.count", Value::uint16(Count)},
          {"split.tensors.count", Value::int32(TensorCount)}};
}

TEST(GgufSplitTest, ReadsEveryPart) {
  TempFolder Folder;
  std::vector<KeyValue> First = splitKeys(1, 3, 4);
  First.push_back({"general.architecture", Value::string("llama")});
  std::string FirstPath = writePart(Folder, 1, 3, {"a", "b"}, First);
  writePart(Folder, 2, 3, {"c"}, splitKeys(2, 3, 4));
  writePart(Folder, 3, 3, {"d"}, splitKeys(3, 3, 4));

  llvm::Expected<std::vector<File>> Parts = readSplitSet(FirstPath);
  ASSERT_TRUE(bool(Parts)) << llvm::toString(Parts.takeError());
  ASSERT_EQ(Parts->size(), 3u);
  EXPECT_EQ((*Parts)[0].Path, FirstPath);
  EXPECT_EQ((*Parts)[1].Path,
            Folder.Path + "/" + splitName("model", 2, 3));
  EXPECT_EQ((*Parts)[2].Tensors[0].Name, "d");
}

TEST(GgufSplitTest, SingleFile) {
  TempFolder Folder;
  std::string Path = Folder.write(
      "model.gguf", buildFile({}, {makeTensor("a", {4}, GgmlI8)}));
  llvm::Expected<std::vector<File>> Parts = readSplitSet(Path);
  ASSERT_TRUE(bool(Parts)) << llvm::toString(Parts.takeError());
  ASSERT_EQ(Parts->size(), 1u);

  // A set of one may carry the split keys, if they are consistent.
  Path = writePart(Folder, 1, 1, {"a"}, splitKeys(1, 1, 1));
  Parts = readSplitSet(Path);
  ASSERT_TRUE(bool(Parts)) << llvm::toString(Parts.takeError());
  EXPECT_EQ(Parts->size(), 1u);
}

TEST(GgufSplitTest, BadSingleFileWithSplitCount) {
  TempFolder Folder;
  std::string Path = Folder.write(
      "model.gguf", buildFile(splitKeys(1, 3, 1), {makeTensor("a", {4}, GgmlI8)}));
  EXPECT_EQ(errorText(readSplitSet(Path)),
            "'" + Path +
                "': key 'split.count' is UINT16 3, but the file name does not "
                "end in -00001-of-NNNNN.gguf; pass the first part of the "
                "split set under its original name");
}

TEST(GgufSplitTest, BadNotFirstPart) {
  TempFolder Folder;
  std::string Path = writePart(Folder, 2, 3, {"a"}, splitKeys(2, 3, 1));
  EXPECT_EQ(errorText(readSplitSet(Path)),
            "'" + Path +
                "': this is part 2 of 3 of a split set; pass the first part, "
                "'model-00001-of-00003.gguf'");
}

TEST(GgufSplitTest, BadMissingPart) {
  TempFolder Folder;
  std::string First = writePart(Folder, 1, 2, {"a"}, splitKeys(1, 2, 2));
  EXPECT_EQ(errorText(readSplitSet(First)),
            "'" + Folder.Path +
                "/model-00002-of-00002.gguf': failed to open: No such file "
                "or directory");
}

TEST(GgufSplitTest, BadSplitNo) {
  TempFolder Folder;
  std::string First = writePart(Folder, 1, 2, {"a"}, splitKeys(1, 2, 2));
  std::string Second = writePart(Folder, 2, 2, {"b"}, splitKeys(1, 2, 2));
  EXPECT_EQ(errorText(readSplitSet(First)),
            "'" + Second +
                "': key 'split.no' is 0, expected 1 for part 2 of 2 "
                "(split.no counts from 0)");
}

TEST(GgufSplitTest, BadSplitNoType) {
  TempFolder Folder;
  std::vector<KeyValue> Keys = splitKeys(1, 2, 2);
  Keys[0].Val = Value::uint32(0);
  std::string First = writePart(Folder, 1, 2, {"a"}, Keys);
  writePart(Folder, 2, 2, {"b"}, splitKeys(2, 2, 2));
  EXPECT_EQ(errorText(readSplitSet(First)),
            "'" + First + "': key 'split.no' has type UINT32, expected UINT16");
}

TEST(GgufSplitTest, BadMissingSplitNo) {
  TempFolder Folder;
  std::string First = writePart(Folder, 1, 2, {"a"}, splitKeys(1, 2, 2));
  std::vector<KeyValue> Keys = splitKeys(2, 2, 2);
  Keys.erase(Keys.begin());
  std::string Second = writePart(Folder, 2, 2, {"b"}, Keys);
  EXPECT_EQ(errorText(readSplitSet(First)),
            "'" + Second +
                "': missing key 'split.no', expected UINT16 1 for part 2 of 2 "
                "(split.no counts from 0)");
}

TEST(GgufSplitTest, BadSplitCount) {
  TempFolder Folder;
  std::string First = writePart(Folder, 1, 2, {"a"}, splitKeys(1, 2, 2));
  std::string Second = writePart(Folder, 2, 2, {"b"}, splitKeys(2, 3, 2));
  EXPECT_EQ(errorText(readSplitSet(First)),
            "'" + Second +
                "': key 'split.count' is 3, expected 2 for a set of 2 files");
}

TEST(GgufSplitTest, BadSplitTensorsCount) {
  TempFolder Folder;
  std::string First = writePart(Folder, 1, 2, {"a", "b"}, splitKeys(1, 2, 2));
  writePart(Folder, 2, 2, {"c"}, splitKeys(2, 2, 2));
  EXPECT_EQ(errorText(readSplitSet(First)),
            "'" + First +
                "': key 'split.tensors.count' is 2, expected 3 because the 2 "
                "parts contain 3 tensors");
}

TEST(GgufSplitTest, BadSplitTensorsCountType) {
  TempFolder Folder;
  std::vector<KeyValue> Keys = splitKeys(1, 2, 2);
  Keys[2].Val = Value::uint32(2);
  std::string First = writePart(Folder, 1, 2, {"a"}, Keys);
  writePart(Folder, 2, 2, {"b"}, splitKeys(2, 2, 2));
  EXPECT_EQ(errorText(readSplitSet(First)),
            "'" + First +
                "': key 'split.tensors.count' has type UINT32, expected INT32");
}

TEST(GgufSplitTest, BadTensorInTwoParts) {
  TempFolder Folder;
  std::string First = writePart(Folder, 1, 2, {"a", "b"}, splitKeys(1, 2, 3));
  std::string Second = writePart(Folder, 2, 2, {"b"}, splitKeys(2, 2, 3));
  EXPECT_EQ(errorText(readSplitSet(First)),
            "'" + Second + "': tensor 'b' is also in part 1, '" + First + "'");
}

TEST(GgufSplitTest, BadPartContent) {
  TempFolder Folder;
  std::string First = writePart(Folder, 1, 2, {"a"}, splitKeys(1, 2, 2));
  std::string Second =
      Folder.write(splitName("model", 2, 2), start(0, 0, 1).bytes());
  EXPECT_EQ(errorText(readSplitSet(First)),
            "'" + Second +
                "': GGUF version 1 is not supported, expected 2 or 3 (convert "
                "the model again with a current llama.cpp)");
}

} // namespace
