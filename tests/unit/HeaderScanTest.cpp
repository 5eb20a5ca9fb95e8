// Tests for the fast paths that read safetensors headers and index files:
// each must give what the slow document path gives, and reject what it
// cannot represent, so that the slow path names the problem.
#include "backends/hf/HeaderScan.h"
#include "backends/hf/IndexScan.h"
#include "backends/hf/Safetensors.h"

#include "llvm/ADT/STLExtras.h"

#include <gtest/gtest.h>

#include <string>
#include <tuple>
#include <vector>

using namespace rysc;
using namespace rysc::safetensors;

namespace {

/// Returns one line per tensor, sorted, so that the results of both paths
/// can be compared.
std::vector<std::string> describe(const std::vector<TensorEntry> &Tensors) {
  std::vector<std::string> Lines;
  for (const TensorEntry &T : Tensors) {
    std::string Line = T.Name + " " + T.DType + " [";
    for (uint64_t Dim : T.Shape)
      Line += std::to_string(Dim) + ",";
    Line += "] " + std::to_string(T.Begin) + "-" + std::to_string(T.End);
    Lines.push_back(Line);
  }
  llvm::sort(Lines);
  return Lines;
}

/// Headers in the plain form, spelled in the ways writers spell them.
const char *const PlainHeaders[] = {
    "{}",
    "  {\n}\n   ",
    R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
    R"({"a":{"data_offsets":[0,4],"shape":[4],"dtype":"U8"}})",
    R"({"__metadata__":{},"a":{"dtype":"U8","shape":[2,2],"data_offsets":[0,4]}})",
    R"({"b":{"dtype":"F32","shape":[],"data_offsets":[4,8]},)"
    R"("__metadata__":{"z":"1","format":"pt","a\u00e9":"\"q\""},)"
    R"("a\n\u0001":{"dtype":"U8","shape":[-0,4],"data_offsets":[0,-0]}})",
    R"({"t":{"dtype":"BF16","shape":[2],"data_offsets":[100,104]}})",
};

TEST(HeaderScanTest, PlainHeadersMatchDomPath) {
  for (const char *Json : PlainHeaders) {
    SCOPED_TRACE(Json);
    std::vector<TensorEntry> Tensors;
    nlohmann::ordered_json Metadata;
    ASSERT_TRUE(scanPlainHeader(Json, Tensors, Metadata));

    Header Slow;
    Slow.FileSize = 1 << 20;
    llvm::Error E = detail::parseHeaderThroughDom("x", Json, Slow);
    ASSERT_FALSE(bool(E)) << llvm::toString(std::move(E));
    EXPECT_EQ(describe(Tensors), describe(Slow.Tensors));
    EXPECT_EQ(Metadata.dump(), Slow.Metadata.dump());
  }
}

TEST(HeaderScanTest, FileOrderAndSortedMetadata) {
  std::vector<TensorEntry> Tensors;
  nlohmann::ordered_json Metadata;
  ASSERT_TRUE(scanPlainHeader(PlainHeaders[5], Tensors, Metadata));
  ASSERT_EQ(Tensors.size(), 2u);
  EXPECT_EQ(Tensors[0].Name, "b");
  EXPECT_EQ(Tensors[1].Name, "a\n\x01");
  EXPECT_EQ(Tensors[1].Shape, (std::vector<uint64_t>{0, 4}));
  EXPECT_EQ(Metadata.dump(), "{\"a\xc3\xa9\":\"\\\"q\\\"\",\"format\":\"pt\",\"z\":\"1\"}");
}

TEST(HeaderScanTest, RejectsNonPlainHeaders) {
  const char *const Rejected[] = {
      "",
      "[]",
      "{\"a\":",
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]}} x)",
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},)"
      R"("a":{"dtype":"U8","shape":[4],"data_offsets":[4,8]}})",
      R"({"a":{"dtype":"U8","dtype":"U8","shape":[4],"data_offsets":[0,4]}})",
      R"({"a":{"dtype":"U8","shape":[4]}})",
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4],"x":1}})",
      R"({"a":{"dtype":"Q4_K","shape":[4],"data_offsets":[0,4]}})",
      R"({"a":{"dtype":4,"shape":[4],"data_offsets":[0,4]}})",
      R"({"a":{"dtype":"U8","shape":[4.0],"data_offsets":[0,4]}})",
      R"({"a":{"dtype":"U8","shape":[-4],"data_offsets":[0,4]}})",
      R"({"a":{"dtype":"U8","shape":4,"data_offsets":[0,4]}})",
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4,8]}})",
      R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0]}})",
      R"({"a":{"dtype":"U8","shape":[[4]],"data_offsets":[0,4]}})",
      R"({"a":null})",
      R"({"__metadata__":{"k":"1","k":"2"}})",
      R"({"__metadata__":{},"__metadata__":{}})",
      R"({"__metadata__":{"k":1}})",
      R"({"__metadata__":["k"]})",
  };
  for (const char *Json : Rejected) {
    SCOPED_TRACE(Json);
    std::vector<TensorEntry> Tensors;
    nlohmann::ordered_json Metadata;
    EXPECT_FALSE(scanPlainHeader(Json, Tensors, Metadata));
  }
}

TEST(IndexScanTest, WeightMapFlatRestDocument) {
  const char *Json = R"({"metadata":{"total_size":48,"nested":[1,{"a":null}]},
    "weight_map":{"b.weight":"model-00002-of-00002.safetensors",
                  "a.weight":"model-00001-of-00002.safetensors"},
    "extra":[true,1.5,"s"]})";
  hf::IndexContents Contents;
  ASSERT_TRUE(hf::scanIndex(Json, Contents));

  using Pair = std::pair<std::string, std::string>;
  EXPECT_EQ(Contents.WeightMap,
            (std::vector<Pair>{{"b.weight", "model-00002-of-00002.safetensors"},
                               {"a.weight", "model-00001-of-00002.safetensors"}}));
  EXPECT_EQ(Contents.Rest.dump(),
            R"({"extra":[true,1.5,"s"],"metadata":{"nested":[1,{"a":null}],"total_size":48}})");
}

TEST(IndexScanTest, RepeatedEntriesKept) {
  hf::IndexContents Contents;
  ASSERT_TRUE(hf::scanIndex(R"({"weight_map":{"a":"x","a":"y"}})", Contents));
  EXPECT_EQ(Contents.WeightMap.size(), 2u);
  EXPECT_EQ(Contents.Rest.dump(), "{}");
}

TEST(IndexScanTest, RejectsMalformedIndex) {
  const char *const Rejected[] = {
      "",
      "[]",
      "{}",
      R"({"metadata":{}})",
      R"({"weight_map":[]})",
      R"({"weight_map":"x"})",
      R"({"weight_map":{"a":1}})",
      R"({"weight_map":{"a":{"b":"c"}}})",
      R"({"weight_map":{"a":["x"]}})",
      R"({"weight_map":{"a":"x"},"weight_map":{"b":"y"}})",
      R"({"weight_map":{"a":"x"})",
  };
  for (const char *Json : Rejected) {
    SCOPED_TRACE(Json);
    hf::IndexContents Contents;
    EXPECT_FALSE(hf::scanIndex(Json, Contents));
  }
}

} // namespace
