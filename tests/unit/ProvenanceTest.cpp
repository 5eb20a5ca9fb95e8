// Unit tests of the composed map in chained provenance records.
#include "compiler/Provenance.h"

#include <gtest/gtest.h>

using namespace rysc;

namespace {

LayerEdit duplicateAfter(uint32_t Begin, uint32_t End) {
  LayerEdit Edit;
  Edit.Begin = Begin;
  Edit.End = End;
  return Edit;
}

std::string composeError(const LayerMap &Map, const Json &Previous) {
  auto Result = composeOriginalMap(Map, Previous);
  if (Result)
    return "composed " + Result->dump();
  return llvm::toString(Result.takeError());
}

} // namespace

TEST(ComposeOriginalMap, MapsThroughPreviousMap) {
  // The source duplicated layer 1 of 3 layers: its layers are 0, 1, 1, 2.
  Json Previous = {{"map", {0, 1, 1, 2}}};
  LayerMap Map = LayerMap::build(4, {duplicateAfter(2, 4)});
  auto Original = composeOriginalMap(Map, Previous);
  ASSERT_TRUE(static_cast<bool>(Original)) << llvm::toString(Original.takeError());
  EXPECT_EQ(*Original, Json({0, 1, 1, 2, 1, 2}));
}

TEST(ComposeOriginalMap, PrefersOriginalMapOfChainedRecord) {
  Json Previous = {{"map", {0, 1, 2}}, {"original_map", {0, 0, 1}}};
  LayerMap Map = LayerMap::build(3, {duplicateAfter(1, 2)});
  auto Original = composeOriginalMap(Map, Previous);
  ASSERT_TRUE(static_cast<bool>(Original)) << llvm::toString(Original.takeError());
  EXPECT_EQ(*Original, Json({0, 0, 0, 1}));
}

TEST(ComposeOriginalMap, RejectsWrongLength) {
  LayerMap Map = LayerMap::build(4, {});
  EXPECT_EQ(composeError(Map, {{"map", {0, 1}}}),
            "its 'map' lists 2 layers, but the source has 4");
}

TEST(ComposeOriginalMap, RejectsMissingMap) {
  LayerMap Map = LayerMap::build(4, {});
  EXPECT_EQ(composeError(Map, {{"recipe", "x"}}), "it has no 'map' list");
}

TEST(ComposeOriginalMap, RejectsEntryThatIsNotLayer) {
  LayerMap Map = LayerMap::build(3, {});
  EXPECT_EQ(composeError(Map, {{"map", {0, "one", 2}}}),
            "entry 1 of its 'map' list is not a layer number");
}
