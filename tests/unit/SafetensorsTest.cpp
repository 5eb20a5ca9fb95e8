// Tests for the safetensors header reader, validator and writer.
#include "backends/hf/Safetensors.h"

#include "llvm/Support/Endian.h"

#include <gtest/gtest.h>

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

using namespace rysc::safetensors;

namespace {

const char *const TestPath = "x/model.safetensors";

/// Returns the bytes of a safetensors file with the given JSON header and
/// data section, laid out by hand so the reader is not tested with itself.
std::string makeFile(const std::string &Json, const std::string &Data) {
  std::string Bytes(8, '\0');
  llvm::support::endian::write64le(Bytes.data(), Json.size());
  return Bytes + Json + Data;
}

/// Parses \p Json as the header of a file whose data section has
/// \p DataSize bytes.
llvm::Expected<Header> parseWithData(const std::string &Json,
                                     uint64_t DataSize) {
  return parseHeader(TestPath, Json, 8 + Json.size() + DataSize);
}

/// Returns the error text, or "success" when there is no error.
std::string errorText(llvm::Expected<Header> Result) {
  if (Result)
    return "success";
  return llvm::toString(Result.takeError());
}

/// A tensor entry as JSON text.
std::string entry(const std::string &DType, const std::string &Shape,
                  uint64_t Begin, uint64_t End) {
  return "{\"dtype\":\"" + DType + "\",\"shape\":" + Shape +
         ",\"data_offsets\":[" + std::to_string(Begin) + "," +
         std::to_string(End) + "]}";
}

/// A per-test folder under /tmp, deleted at the end of the test.
class TempFolder {
public:
  TempFolder() {
    char Template[] = "/tmp/rysc-safetensors-test-XXXXXX";
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

TEST(SafetensorsDTypeTest, KnownTypesAndBits) {
  const std::pair<const char *, unsigned> Expected[] = {
      {"BOOL", 8},    {"U8", 8},   {"I8", 8},   {"F8_E5M2", 8}, {"F8_E4M3", 8},
      {"F8_E8M0", 8}, {"I16", 16}, {"U16", 16}, {"F16", 16},    {"BF16", 16},
      {"I32", 32},    {"U32", 32}, {"F32", 32}, {"F64", 64},    {"I64", 64},
      {"U64", 64},    {"C64", 64}, {"F4", 4},   {"F6_E2M3", 6}, {"F6_E3M2", 6},
  };
  for (const auto &[Name, Bits] : Expected) {
    SCOPED_TRACE(Name);
    const DTypeInfo *Info = lookupDType(Name);
    ASSERT_NE(Info, nullptr);
    EXPECT_EQ(Info->Name, Name);
    EXPECT_EQ(Info->Bits, Bits);
  }
}

TEST(SafetensorsDTypeTest, UnknownTypes) {
  EXPECT_EQ(lookupDType("f32"), nullptr);
  EXPECT_EQ(lookupDType("Q4_K"), nullptr);
  EXPECT_EQ(lookupDType(""), nullptr);
}

TEST(SafetensorsParseTest, ValidHeaderSortedByOffset) {
  std::string Json = "{\"__metadata__\":{\"format\":\"pt\",\"b\":\"2\"},"
                     "\"z.weight\":" +
                     entry("F32", "[2, 3]", 0, 24) + "," +
                     "\"a.bias\":" + entry("BF16", "[3]", 24, 30) + "}  ";
  llvm::Expected<Header> Result = parseWithData(Json, 30);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());

  EXPECT_EQ(Result->Path, TestPath);
  EXPECT_EQ(Result->DataStart, 8 + Json.size());
  EXPECT_EQ(Result->FileSize, 8 + Json.size() + 30);
  EXPECT_EQ(Result->dataSize(), 30u);
  EXPECT_EQ(Result->Metadata.dump(), "{\"b\":\"2\",\"format\":\"pt\"}");

  ASSERT_EQ(Result->Tensors.size(), 2u);
  const TensorEntry &First = Result->Tensors[0];
  EXPECT_EQ(First.Name, "z.weight");
  EXPECT_EQ(First.DType, "F32");
  EXPECT_EQ(First.Shape, (std::vector<uint64_t>{2, 3}));
  EXPECT_EQ(First.Begin, 0u);
  EXPECT_EQ(First.End, 24u);
  const TensorEntry &Second = Result->Tensors[1];
  EXPECT_EQ(Second.Name, "a.bias");
  EXPECT_EQ(Second.DType, "BF16");
  EXPECT_EQ(Second.Shape, (std::vector<uint64_t>{3}));
  EXPECT_EQ(Second.Begin, 24u);
  EXPECT_EQ(Second.End, 30u);
}

TEST(SafetensorsParseTest, NoMetadataIsNull) {
  llvm::Expected<Header> Result =
      parseWithData("{\"t\":" + entry("U8", "[4]", 0, 4) + "}", 4);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_TRUE(Result->Metadata.is_null());
}

TEST(SafetensorsParseTest, EmptyHeaderAndData) {
  llvm::Expected<Header> Result = parseWithData("{}", 0);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_TRUE(Result->Tensors.empty());
  EXPECT_EQ(Result->dataSize(), 0u);
}

TEST(SafetensorsParseTest, ZeroElementTensors) {
  // Zero-size tensors at the start, between two tensors and at the end.
  std::string Json = "{\"empty.start\":" + entry("F32", "[0, 4]", 0, 0) +
                     ",\"x\":" + entry("U8", "[2]", 0, 2) +
                     ",\"empty.middle\":" + entry("I64", "[3, 0]", 2, 2) +
                     ",\"y\":" + entry("U8", "[2]", 2, 4) +
                     ",\"empty.end\":" + entry("BF16", "[0]", 4, 4) + "}";
  llvm::Expected<Header> Result = parseWithData(Json, 4);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());

  std::vector<std::string> Names;
  for (const TensorEntry &Tensor : Result->Tensors)
    Names.push_back(Tensor.Name);
  EXPECT_EQ(Names, (std::vector<std::string>{"empty.start", "x", "empty.middle",
                                             "y", "empty.end"}));
}

TEST(SafetensorsParseTest, ZeroDimensionBeatsOverflow) {
  // The other dimensions alone would overflow, but the count is zero.
  std::string Json =
      "{\"t\":" + entry("F64", "[4294967296, 4294967296, 0]", 0, 0) + "}";
  EXPECT_EQ(errorText(parseWithData(Json, 0)), "success");
}

TEST(SafetensorsParseTest, ScalarAndSubByteTypes) {
  std::string Json = "{\"scalar\":" + entry("F32", "[]", 0, 4) +
                     ",\"four\":" + entry("F4", "[2, 3]", 4, 7) +
                     ",\"six\":" + entry("F6_E2M3", "[4]", 7, 10) + "}";
  EXPECT_EQ(errorText(parseWithData(Json, 10)), "success");
}

TEST(SafetensorsParseTest, NegativeZeroIsZero) {
  std::string Json =
      "{\"t\":{\"dtype\":\"U8\",\"shape\":[-0],\"data_offsets\":[0,-0]}}";
  llvm::Expected<Header> Result = parseWithData(Json, 0);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->Tensors[0].Shape, (std::vector<uint64_t>{0}));
}

/// One corrupted header and the exact error it must produce.
struct BadCase {
  const char *Name;
  std::string Json;
  uint64_t DataSize;
  std::string Message;
};

TEST(SafetensorsParseTest, BadHeaderCatalogue) {
  const std::string P = "'x/model.safetensors': ";
  const std::string A = entry("U8", "[4]", 0, 4);
  const BadCase Cases[] = {
      {"bad-truncated-json", "{\"a\":", 0,
       P + "header is not valid JSON: parse error at line 1, column 6: "
           "syntax error while parsing value - unexpected end of input; "
           "expected '[', '{', or a literal"},
      {"bad-second-line", "{\n\"a\" 1}", 0,
       P + "header is not valid JSON: parse error at line 2, column 5: "
           "syntax error while parsing object separator - unexpected number "
           "literal; expected ':'"},
      {"bad-invalid-utf8", "{\"a\xff\":1}", 0,
       P + "header is not valid JSON: parse error at line 1, column 4: "
           "syntax error while parsing object key - invalid string: "
           "ill-formed UTF-8 byte; last read: '\"a\\xFF'; expected string "
           "literal"},
      {"bad-number-overflow", "{\"a\":1e400}", 0,
       P + "header is not valid JSON: number overflow parsing '1e400'"},
      {"bad-empty-header", "", 0,
       P + "header is not valid JSON: parse error at line 1, column 1: "
           "syntax error while parsing value - unexpected end of input; "
           "expected '[', '{', or a literal"},
      {"bad-not-object", "[1,2]", 0,
       P + "header is an array, expected a JSON object"},
      {"bad-string-header", "\"x\"", 0,
       P + "header is a string, expected a JSON object"},
      {"bad-duplicate-tensor", "{\"a\":" + A + ",\"a\":" + A + "}", 4,
       P + "duplicate tensor name 'a'"},
      {"bad-duplicate-metadata", "{\"__metadata__\":{},\"__metadata__\":{}}", 0,
       P + "duplicate '__metadata__' entry"},
      {"bad-duplicate-entry-key",
       "{\"a\":{\"dtype\":\"U8\",\"dtype\":\"U8\",\"shape\":[4],"
       "\"data_offsets\":[0,4]}}",
       4, P + "duplicate key 'dtype' inside the entry 'a'"},
      {"bad-duplicate-metadata-key",
       "{\"__metadata__\":{\"k\":\"1\",\"k\":\"2\"}}", 0,
       P + "duplicate key 'k' inside the entry '__metadata__'"},
      {"bad-entry-not-object", "{\"a\":[1]}", 0,
       P + "tensor 'a': entry is an array, expected an object"},
      {"bad-entry-null", "{\"a\":null}", 0,
       P + "tensor 'a': entry is null, expected an object"},
      {"bad-missing-dtype", "{\"a\":{\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
       P + "tensor 'a': missing key 'dtype'"},
      {"bad-missing-shape", "{\"a\":{\"dtype\":\"U8\",\"data_offsets\":[0,4]}}",
       4, P + "tensor 'a': missing key 'shape'"},
      {"bad-missing-offsets", "{\"a\":{\"dtype\":\"U8\",\"shape\":[4]}}", 4,
       P + "tensor 'a': missing key 'data_offsets'"},
      {"bad-extra-key",
       "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4],"
       "\"stride\":[1]}}",
       4,
       P + "tensor 'a': unexpected key 'stride', expected only dtype, shape "
           "and data_offsets"},
      {"bad-dtype-not-string",
       "{\"a\":{\"dtype\":5,\"shape\":[4],\"data_offsets\":[0,4]}}", 4,
       P + "tensor 'a': dtype is 5, expected a string"},
      {"bad-unknown-dtype", "{\"a\":" + entry("Q4_K", "[4]", 0, 4) + "}", 4,
       P + "tensor 'a': unknown dtype 'Q4_K'"},
      {"bad-lowercase-dtype", "{\"a\":" + entry("f32", "[1]", 0, 4) + "}", 4,
       P + "tensor 'a': unknown dtype 'f32'"},
      {"bad-shape-not-array",
       "{\"a\":{\"dtype\":\"U8\",\"shape\":\"4\",\"data_offsets\":[0,4]}}", 4,
       P + "tensor 'a': shape is a string, expected an array of non-negative "
           "integers"},
      {"bad-shape-negative", "{\"a\":" + entry("U8", "[4, -3]", 0, 4) + "}", 4,
       P + "tensor 'a': shape[1] is -3, expected a non-negative integer"},
      {"bad-shape-float", "{\"a\":" + entry("U8", "[2.5]", 0, 4) + "}", 4,
       P + "tensor 'a': shape[0] is 2.5, expected a non-negative integer"},
      {"bad-shape-too-large",
       "{\"a\":" + entry("U8", "[18446744073709551616]", 0, 4) + "}", 4,
       P + "tensor 'a': shape[0] is 1.8446744073709552e+19, expected a "
           "non-negative integer"},
      {"bad-shape-string-element",
       "{\"a\":" + entry("U8", "[\"4\"]", 0, 4) + "}", 4,
       P + "tensor 'a': shape[0] is a string, expected a non-negative "
           "integer"},
      {"bad-offsets-not-array",
       "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":{}}}", 4,
       P + "tensor 'a': data_offsets is an object, expected an array of two "
           "non-negative integers"},
      {"bad-offsets-count",
       "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,4,8]}}", 8,
       P + "tensor 'a': data_offsets has 3 elements, expected 2"},
      {"bad-offsets-negative",
       "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[-1,4]}}", 4,
       P + "tensor 'a': data_offsets[0] is -1, expected a non-negative "
           "integer"},
      {"bad-offsets-bool",
       "{\"a\":{\"dtype\":\"U8\",\"shape\":[4],\"data_offsets\":[0,true]}}", 4,
       P + "tensor 'a': data_offsets[1] is a boolean, expected a "
           "non-negative integer"},
      {"bad-offsets-reversed", "{\"a\":" + entry("U8", "[4]", 8, 4) + "}", 8,
       P + "tensor 'a': data_offsets begin 8 is greater than end 4"},
      {"bad-offsets-past-data", "{\"a\":" + entry("U8", "[16]", 0, 16) + "}", 8,
       P + "tensor 'a': data_offsets end 16 is past the end of the data "
           "section (size 8)"},
      {"bad-offsets-huge",
       "{\"a\":" +
           entry("U8", "[1]", 18446744073709551614u, 18446744073709551615u) +
           "}",
       8,
       P + "tensor 'a': data_offsets end 18446744073709551615 is past the end "
           "of the data section (size 8)"},
      {"bad-count-overflow",
       "{\"a\":" + entry("U8", "[4294967296, 4294967297]", 0, 4) + "}", 4,
       P + "tensor 'a': shape [4294967296, 4294967297] has an element count "
           "that overflows 64 bits"},
      {"bad-bits-overflow",
       "{\"a\":" + entry("F64", "[4611686018427387904]", 0, 4) + "}", 4,
       P + "tensor 'a': dtype F64 with shape [4611686018427387904] has a size "
           "in bits that overflows 64 bits"},
      {"bad-partial-byte", "{\"a\":" + entry("F4", "[3]", 0, 2) + "}", 2,
       P + "tensor 'a': dtype F4 with shape [3] is 12 bits, not a whole "
           "number of bytes"},
      {"bad-partial-byte-f6",
       "{\"a\":" + entry("F6_E3M2", "[2, 1]", 0, 2) + "}", 2,
       P + "tensor 'a': dtype F6_E3M2 with shape [2, 1] is 12 bits, not a "
           "whole number of bytes"},
      {"bad-span", "{\"a.weight\":" + entry("BF16", "[3, 4]", 0, 20) + "}", 20,
       P + "tensor 'a.weight': dtype BF16 with shape [3, 4] needs 24 bytes but "
           "data_offsets span 20"},
      {"bad-span-zero-elements", "{\"a\":" + entry("F32", "[0]", 0, 4) + "}", 4,
       P + "tensor 'a': dtype F32 with shape [0] needs 0 bytes but "
           "data_offsets span 4"},
      {"bad-gap-at-start", "{\"a\":" + entry("U8", "[4]", 4, 8) + "}", 8,
       P + "first tensor 'a' begins at data offset 4, expected 0 (a gap of 4 "
           "bytes)"},
      {"bad-gap", "{\"a\":" + A + ",\"b\":" + entry("U8", "[4]", 8, 12) + "}",
       12,
       P + "tensor 'b' begins at data offset 8, expected 4 where tensor 'a' "
           "ends (a gap of 4 bytes)"},
      {"bad-overlap",
       "{\"b\":" + entry("U8", "[8]", 4, 12) +
           ",\"a\":" + entry("U8", "[8]", 0, 8) + "}",
       12,
       P + "tensor 'b' (data_offsets [4, 12]) overlaps tensor 'a' "
           "(data_offsets [0, 8])"},
      {"bad-same-range", "{\"a\":" + A + ",\"b\":" + A + "}", 4,
       P + "tensor 'b' (data_offsets [0, 4]) overlaps tensor 'a' "
           "(data_offsets [0, 4])"},
      {"bad-zero-size-inside",
       "{\"a\":" + entry("U8", "[8]", 0, 8) +
           ",\"z\":" + entry("U8", "[0]", 4, 4) + "}",
       8,
       P + "tensor 'z' (data_offsets [4, 4]) overlaps tensor 'a' "
           "(data_offsets [0, 8])"},
      {"bad-trailing-bytes", "{\"a\":" + A + "}", 6,
       P + "tensor data ends at data offset 4 but the data section is 6 "
           "bytes (2 trailing bytes)"},
      {"bad-no-tensors-with-data", "{}", 4,
       P + "the header lists no tensors but the data section is 4 bytes"},
      {"bad-metadata-not-object", "{\"__metadata__\":[\"x\"]}", 0,
       P + "'__metadata__' is an array, expected an object of string values"},
      {"bad-metadata-value", "{\"__metadata__\":{\"format\":1}}", 0,
       P + "'__metadata__' value for key 'format' is 1, expected a string"},
      {"bad-metadata-nested", "{\"__metadata__\":{\"format\":{}}}", 0,
       P + "'__metadata__' value for key 'format' is an object, expected a "
           "string"},
  };

  for (const BadCase &Case : Cases) {
    SCOPED_TRACE(Case.Name);
    EXPECT_EQ(errorText(parseWithData(Case.Json, Case.DataSize)), Case.Message);
  }
}

TEST(SafetensorsParseTest, LongJsonErrorIsShortened) {
  // The invalid byte ends a 10,000-character string, which nlohmann quotes
  // whole in its message.
  std::string Json = "{\"" + std::string(10000, 'k') + "\xff\":1}";
  std::string Detail = "parse error at line 1, column 10003: syntax error "
                       "while parsing object key - invalid string: "
                       "ill-formed UTF-8 byte; last read: '\"" +
                       std::string(10000, 'k');
  EXPECT_EQ(errorText(parseWithData(Json, 0)),
            "'x/model.safetensors': header is not valid JSON: " +
                Detail.substr(0, 300) + "...");
}

TEST(SafetensorsParseTest, ControlBytesInNamesAreEscaped) {
  // JSON can spell a NUL or a newline inside a name.
  std::string Json = "{\"a\\u0000b\\n\":" + entry("Q4", "[1]", 0, 1) + "}";
  EXPECT_EQ(errorText(parseWithData(Json, 1)),
            "'x/model.safetensors': tensor 'a\\x00b\\x0A': unknown dtype 'Q4'");
}

TEST(SafetensorsParseTest, FileSizeChecks) {
  EXPECT_EQ(errorText(parseHeader(TestPath, "{}", 4)),
            "'x/model.safetensors': file size 4 is less than the 8 bytes of "
            "the header length field");
  EXPECT_EQ(errorText(parseHeader(TestPath, "{\"a\":1}   ", 12)),
            "'x/model.safetensors': header length 10 runs past the end of the "
            "file (file size 12)");
  EXPECT_EQ(errorText(parseHeader(TestPath, "{}", 10)), "success");
}

TEST(SafetensorsReadTest, ReadsHandWrittenFile) {
  TempFolder Folder;
  std::string Json = "{\"__metadata__\":{\"format\":\"pt\"},\"w\":" +
                     entry("I16", "[2, 2]", 0, 8) + "}";
  std::string Path =
      Folder.write("model.safetensors", makeFile(Json, "ABCDEFGH"));

  llvm::Expected<Header> Result = readHeader(Path);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->Path, Path);
  EXPECT_EQ(Result->FileSize, 8 + Json.size() + 8);
  EXPECT_EQ(Result->DataStart, 8 + Json.size());
  EXPECT_EQ(Result->Metadata.dump(), "{\"format\":\"pt\"}");
  ASSERT_EQ(Result->Tensors.size(), 1u);
  EXPECT_EQ(Result->Tensors[0].Name, "w");
  EXPECT_EQ(Result->Tensors[0].DType, "I16");
}

TEST(SafetensorsReadTest, HugeSparseDataIsNotRead) {
  // A 16 GiB sparse file: reading its data section would take far longer
  // than the test and need that much memory.
  TempFolder Folder;
  const uint64_t DataSize = uint64_t(1) << 34;
  std::string Json =
      "{\"big\":" + entry("F32", "[4294967296]", 0, DataSize) + "}";
  std::string Path = Folder.write("big.safetensors", makeFile(Json, ""));
  ASSERT_EQ(::truncate(Path.c_str(), 8 + Json.size() + DataSize), 0);

  llvm::Expected<Header> Result = readHeader(Path);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->dataSize(), DataSize);
}

TEST(SafetensorsReadTest, BadFiles) {
  TempFolder Folder;
  std::string P = "'" + Folder.Path + "/";

  std::string Short = Folder.write("short", "abc");
  EXPECT_EQ(errorText(readHeader(Short)),
            P + "short': file size 3 is less than the 8 bytes of the header "
                "length field");

  std::string Empty = Folder.write("empty", "");
  EXPECT_EQ(errorText(readHeader(Empty)),
            P + "empty': file size 0 is less than the 8 bytes of the header "
                "length field");

  std::string TooLong(8, '\0');
  llvm::support::endian::write64le(TooLong.data(), 200000000);
  std::string Limit = Folder.write("limit", TooLong + "{}");
  EXPECT_EQ(errorText(readHeader(Limit)),
            P + "limit': header length 200000000 exceeds the limit of "
                "100000000 bytes");

  std::string PastEnd(8, '\0');
  llvm::support::endian::write64le(PastEnd.data(), 5000);
  std::string Past = Folder.write("past", PastEnd + std::string(3992, ' '));
  EXPECT_EQ(errorText(readHeader(Past)),
            P + "past': header length 5000 runs past the end of the file "
                "(file size 4000)");

  std::string Max(8, '\xff');
  std::string MaxPath = Folder.write("max", Max);
  EXPECT_EQ(errorText(readHeader(MaxPath)),
            P + "max': header length 18446744073709551615 exceeds the limit "
                "of 100000000 bytes");

  std::string Bad = Folder.write("bad", makeFile("{\"a\":3}", ""));
  EXPECT_EQ(errorText(readHeader(Bad)),
            P + "bad': tensor 'a': entry is 3, expected an object");

  EXPECT_EQ(errorText(readHeader(Folder.Path + "/missing")),
            P + "missing': failed to open: No such file or directory");
  EXPECT_EQ(errorText(readHeader(Folder.Path)),
            "'" + Folder.Path + "': not a regular file");
}

TEST(SafetensorsBuildTest, ExactBytesWithMetadata) {
  nlohmann::ordered_json Metadata = {{"format", "pt"}};
  std::vector<OutputTensor> Tensors = {
      {"a", "F32", {2}, 8},
      {"b", "BF16", {1, 3}, 6},
  };
  const std::string Json =
      "{\"__metadata__\":{\"format\":\"pt\"},"
      "\"a\":{\"dtype\":\"F32\",\"shape\":[2],\"data_offsets\":[0,8]},"
      "\"b\":{\"dtype\":\"BF16\",\"shape\":[1,3],\"data_offsets\":[8,14]}}"
      "  ";
  // 142 bytes of JSON and 2 spaces: 144 is 0x90.
  const std::string Expected = std::string("\x90\0\0\0\0\0\0\0", 8) + Json;
  EXPECT_EQ(buildHeader(Metadata, Tensors), Expected);
}

TEST(SafetensorsBuildTest, ExactBytesWithoutMetadata) {
  std::vector<OutputTensor> Tensors = {{"w", "U8", {}, 1}};
  // 52 bytes of JSON and 4 spaces: 56 is 0x38.
  const std::string Expected =
      std::string("\x38\0\0\0\0\0\0\0", 8) +
      "{\"w\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}    ";
  EXPECT_EQ(buildHeader(nullptr, Tensors), Expected);
}

TEST(SafetensorsBuildTest, EmptyHeader) {
  EXPECT_EQ(buildHeader(nullptr, {}),
            std::string("\x08\0\0\0\0\0\0\0{}      ", 16));
  EXPECT_EQ(buildHeader(nlohmann::ordered_json::object(), {}),
            std::string("\x18\0\0\0\0\0\0\0{\"__metadata__\":{}}      ", 32));
}

TEST(SafetensorsBuildTest, DataStartMovesPastPadding) {
  std::vector<OutputTensor> Tensors = {{"w", "U8", {}, 1}};
  std::string Header = buildHeader(nullptr, Tensors);
  ASSERT_EQ(Header.size(), 64u);
  setDataStart(Header, 4096);

  // The length field counts the JSON and the 4032 spaces the caller writes:
  // 4088 is 0xff8.
  ASSERT_EQ(Header.size(), 64u);
  EXPECT_EQ(Header.substr(0, 8), std::string("\xf8\x0f\0\0\0\0\0\0", 8));
  EXPECT_EQ(Header.substr(8), "{\"w\":{\"dtype\":\"U8\",\"shape\":[],\"data_offsets\":[0,1]}}    ");

  // The reader takes the spaces as part of the header, and the data after it.
  std::string Json = Header.substr(8) + std::string(4096 - 64, ' ');
  auto Parsed = parseHeader("padded.safetensors", Json, 4097);
  ASSERT_TRUE(static_cast<bool>(Parsed)) << llvm::toString(Parsed.takeError());
  EXPECT_EQ(Parsed->DataStart, 4096u);
  ASSERT_EQ(Parsed->Tensors.size(), 1u);
  EXPECT_EQ(Parsed->Tensors[0].Begin, 0u);
}

TEST(SafetensorsBuildTest, DataStartAtTheHeaderEndChangesNothing) {
  std::string Header = buildHeader(nullptr, {});
  std::string Before = Header;
  setDataStart(Header, Header.size());
  EXPECT_EQ(Header, Before);
}

TEST(SafetensorsBuildTest, MetadataOrderAndEscapes) {
  nlohmann::ordered_json Metadata = nlohmann::ordered_json::object();
  Metadata["z"] = "1";
  Metadata["a"] = "quote \" and \xc3\xa9";
  std::vector<OutputTensor> Tensors = {{"n\"x", "U8", {0}, 0}};
  // 103 bytes of JSON (the é is two bytes) and 1 space: 104 is 0x68.
  EXPECT_EQ(buildHeader(Metadata, Tensors),
            std::string("\x68\0\0\0\0\0\0\0", 8) +
                "{\"__metadata__\":{\"z\":\"1\",\"a\":\"quote \\\" and "
                "\xc3\xa9\"},\"n\\\"x\":{\"dtype\":\"U8\",\"shape\":[0],"
                "\"data_offsets\":[0,0]}} ");
}

TEST(SafetensorsBuildTest, JsonStringEscapes) {
  // Each case: the text, then its JSON form as written by hand from RFC 8259
  // with UTF-8 kept and DEL (0x7f) unescaped.
  const std::pair<std::string, std::string> Cases[] = {
      {"model.layers.0.mlp.up_proj.weight", "\"model.layers.0.mlp.up_proj.weight\""},
      {"", "\"\""},
      {"a\"b\\c", "\"a\\\"b\\\\c\""},
      {"tab\tnl\ncr\rbs\bff\f", "\"tab\\tnl\\ncr\\rbs\\bff\\f\""},
      {std::string("\x01\x1f\x7f", 3), "\"\\u0001\\u001f\x7f\""},
      {"caf\xc3\xa9 \xe2\x96\x81w", "\"caf\xc3\xa9 \xe2\x96\x81w\""},
  };
  for (const auto &[Text, Expected] : Cases) {
    SCOPED_TRACE(Text);
    std::string Out = "x";
    appendJsonString(Out, Text);
    EXPECT_EQ(Out, "x" + Expected);
  }
}

TEST(SafetensorsBuildTest, DataSectionIsAligned) {
  for (size_t Length = 1; Length <= 16; ++Length) {
    SCOPED_TRACE(Length);
    std::vector<OutputTensor> Tensors = {
        {std::string(Length, 'n'), "U8", {3}, 3}};
    std::string Bytes = buildHeader(nullptr, Tensors);
    EXPECT_EQ(Bytes.size() % 8, 0u);
    EXPECT_EQ(llvm::support::endian::read64le(Bytes.data()), Bytes.size() - 8);
    EXPECT_EQ(Bytes[Bytes.find_last_not_of(' ')], '}');
  }
}

TEST(SafetensorsBuildTest, RoundTripThroughFile) {
  TempFolder Folder;
  nlohmann::ordered_json Metadata = {{"format", "pt"}, {"note", "é"}};
  std::vector<OutputTensor> Tensors = {
      {"model.embed", "BF16", {4, 2}, 16},
      {"model.empty", "F32", {0}, 0},
      {"model.norm", "F4", {6}, 3},
      {"model.head", "I64", {1}, 8},
  };
  std::string Path =
      Folder.write("round.safetensors",
                   buildHeader(Metadata, Tensors) + std::string(27, '\x5a'));

  llvm::Expected<Header> Result = readHeader(Path);
  ASSERT_TRUE(bool(Result)) << llvm::toString(Result.takeError());
  EXPECT_EQ(Result->DataStart % 8, 0u);
  EXPECT_EQ(Result->dataSize(), 27u);
  EXPECT_EQ(Result->Metadata,
            nlohmann::ordered_json({{"format", "pt"}, {"note", "é"}}));
  ASSERT_EQ(Result->Tensors.size(), Tensors.size());
  uint64_t Offset = 0;
  for (size_t I = 0; I < Tensors.size(); ++I) {
    SCOPED_TRACE(Tensors[I].Name);
    EXPECT_EQ(Result->Tensors[I].Name, Tensors[I].Name);
    EXPECT_EQ(Result->Tensors[I].DType, Tensors[I].DType);
    EXPECT_EQ(Result->Tensors[I].Shape, Tensors[I].Shape);
    EXPECT_EQ(Result->Tensors[I].Begin, Offset);
    Offset += Tensors[I].Size;
    EXPECT_EQ(Result->Tensors[I].End, Offset);
  }
}

} // namespace
