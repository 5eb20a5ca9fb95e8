// Unit tests of the per-layer field rules.
#include "compiler/FieldRules.h"

#include <gtest/gtest.h>

using namespace rysc;

namespace {

FieldSpec spec(FieldKind Kind) {
  FieldSpec Spec;
  Spec.Kind = Kind;
  return Spec;
}

// m for blocks[1:3] after on 5 layers: 0 1 2 1 2 3 4.
const std::vector<uint32_t> Map = {0, 1, 2, 1, 2, 3, 4};

TEST(FieldRules, ValuesFollowTheMap) {
  Json Old = Json::parse(R"(["a","b","c","d","e"])");
  auto New = remapValues(spec(FieldKind::Values), Old, Map, 5);
  ASSERT_TRUE(bool(New));
  EXPECT_EQ(*New, Json::parse(R"(["a","b","c","b","c","d","e"])"));
}

TEST(FieldRules, ValuesKeepTheirVocabulary) {
  Json Old = Json::parse(R"([1, 0, true, "mamba", {"x": [1]}])");
  auto New = remapValues(spec(FieldKind::Values), Old, Map, 5);
  ASSERT_TRUE(bool(New));
  EXPECT_EQ(*New, Json::parse(R"([1, 0, true, 0, true, "mamba", {"x": [1]}])"));
}

TEST(FieldRules, ValuesWrongLengthIsAnError) {
  auto New = remapValues(spec(FieldKind::Values), Json::parse("[1,2,3]"), Map, 5);
  ASSERT_FALSE(bool(New));
  EXPECT_EQ(llvm::toString(New.takeError()), "has 3 entries but the model has 5 layers");
}

TEST(FieldRules, LongerListWithoutTailOptionIsAnError) {
  auto New = remapValues(spec(FieldKind::Values), Json::parse("[1,2,3,4,5,6]"), Map, 5);
  ASSERT_FALSE(bool(New));
  EXPECT_EQ(llvm::toString(New.takeError()), "has 6 entries but the model has 5 layers");
}

TEST(FieldRules, TailEntriesAreCarried) {
  FieldSpec Spec = spec(FieldKind::Values);
  Spec.Tail = true;
  auto New = remapValues(Spec, Json::parse(R"(["a","b","c","d","e","mtp"])"), Map, 5);
  ASSERT_TRUE(bool(New));
  EXPECT_EQ(*New, Json::parse(R"(["a","b","c","b","c","d","e","mtp"])"));
}

TEST(FieldRules, TruncateDropsExtraEntries) {
  FieldSpec Spec = spec(FieldKind::Values);
  Spec.Truncate = true;
  auto New = remapValues(Spec, Json::parse("[1,0,1,0,1,1,1]"), Map, 5);
  ASSERT_TRUE(bool(New));
  EXPECT_EQ(*New, Json::parse("[1,0,1,0,1,0,1]"));
}

TEST(FieldRules, PatternRemapsCharacters) {
  auto New = remapPattern(Json("M-M*E"), Map, 5);
  ASSERT_TRUE(bool(New));
  EXPECT_EQ(*New, Json("M-M-M*E"));
}

TEST(FieldRules, PatternWrongLength) {
  auto New = remapPattern(Json("M-M"), Map, 5);
  ASSERT_FALSE(bool(New));
  EXPECT_EQ(llvm::toString(New.takeError()), "has 3 characters but the model has 5 layers");
}

TEST(FieldRules, IndicesExpandToEveryCopy) {
  auto New = remapIndices(spec(FieldKind::Indices), Json::parse("[2, 4]"), Map, 5);
  ASSERT_TRUE(bool(New));
  EXPECT_EQ(*New, Json::parse("[2, 4, 6]"));
}

TEST(FieldRules, OneBasedIndices) {
  FieldSpec Spec = spec(FieldKind::Indices);
  Spec.OneBased = true;
  // 1-based 2 is layer 1, which appears at outputs 1 and 3.
  auto New = remapIndices(Spec, Json::parse("[2]"), Map, 5);
  ASSERT_TRUE(bool(New));
  EXPECT_EQ(*New, Json::parse("[2, 4]"));
}

TEST(FieldRules, IndexOutOfRange) {
  auto New = remapIndices(spec(FieldKind::Indices), Json::parse("[0, 5]"), Map, 5);
  ASSERT_FALSE(bool(New));
  EXPECT_EQ(llvm::toString(New.takeError()), "entry 5 is not a layer of this model (0..4)");
}

TEST(FieldRules, DictIsRekeyedWithPadding) {
  // blocks[2:4] after on 10 layers.
  std::vector<uint32_t> Long = {0, 1, 2, 3, 2, 3, 4, 5, 6, 7, 8, 9};
  Json Old = Json::parse(R"({"2": {"skip": ["mlp"]}, "9": {"intermediate_size": 8}})");
  auto New = remapDict(Old, Long, 10);
  ASSERT_TRUE(bool(New));
  EXPECT_EQ(New->dump(),
            R"({"02":{"skip":["mlp"]},"04":{"skip":["mlp"]},"11":{"intermediate_size":8}})");
}

TEST(FieldRules, DictBadKey) {
  auto New = remapDict(Json::parse(R"({"x": 1})"), Map, 5);
  ASSERT_FALSE(bool(New));
  EXPECT_EQ(llvm::toString(New.takeError()), "key 'x' is not a layer of this model (0..4)");
}

TEST(FieldRules, PerLayerViewAndRebuild) {
  FieldSpec Indices = spec(FieldKind::Indices);
  Json List = Json::parse("[1, 3]");
  EXPECT_EQ(perLayerValue(Indices, List, 3), Json(true));
  EXPECT_EQ(perLayerValue(Indices, List, 2), Json(false));
  std::vector<Json> Flags = {Json(false), Json(true), Json(false), Json(true)};
  EXPECT_EQ(fieldFromPerLayer(Indices, Flags), Json::parse("[1, 3]"));
  EXPECT_EQ(fieldFromPerLayer(spec(FieldKind::Pattern), {Json("M"), Json("*")}), Json("M*"));
}

} // namespace
