// Unit tests of the output-to-source layer map.
#include "compiler/LayerMap.h"

#include <gtest/gtest.h>

#include <numeric>

using namespace rysc;

namespace {

std::vector<uint32_t> range(uint32_t Begin, uint32_t End) {
  std::vector<uint32_t> Result(End - Begin);
  std::iota(Result.begin(), Result.end(), Begin);
  return Result;
}

std::vector<uint32_t> concat(std::initializer_list<std::vector<uint32_t>> Parts) {
  std::vector<uint32_t> Result;
  for (const auto &Part : Parts)
    Result.insert(Result.end(), Part.begin(), Part.end());
  return Result;
}

LayerEdit duplicate(uint32_t Begin, uint32_t End, unsigned Statement, bool Before = false,
                    uint32_t Times = 1) {
  LayerEdit Edit;
  Edit.Begin = Begin;
  Edit.End = End;
  Edit.Before = Before;
  Edit.Times = Times;
  Edit.Statement = Statement;
  return Edit;
}

LayerEdit drop(uint32_t Begin, uint32_t End, unsigned Statement) {
  LayerEdit Edit = duplicate(Begin, End, Statement);
  Edit.Action = LayerEdit::Kind::Drop;
  return Edit;
}

TEST(LayerMap, DuplicateAfterQwen36Window) {
  LayerMap Map = LayerMap::build(64, {duplicate(15, 20, 0)});
  EXPECT_EQ(Map.outputCount(), 69u);
  EXPECT_EQ(Map.sources(), concat({range(0, 20), range(15, 20), range(20, 64)}));
  EXPECT_FALSE(Map[19].isCopy());
  EXPECT_TRUE(Map[20].isCopy());
  EXPECT_EQ(Map[20].Statement, 0u);
  EXPECT_FALSE(Map[25].isCopy());
}

TEST(LayerMap, SeamOfDuplicateAfter) {
  LayerMap Map = LayerMap::build(64, {duplicate(15, 20, 0)});
  ASSERT_EQ(Map.seams().size(), 1u);
  const Seam &S = Map.seams()[0];
  EXPECT_EQ(S.Before, 19u);
  EXPECT_EQ(S.FirstCopy, 20u);
  EXPECT_EQ(S.LastCopy, 24u);
  EXPECT_EQ(S.After, 25u);
  EXPECT_EQ(Map[*S.Before].Source, 19u);
  EXPECT_EQ(Map[S.FirstCopy].Source, 15u);
  EXPECT_EQ(Map[S.LastCopy].Source, 19u);
  EXPECT_EQ(Map[*S.After].Source, 20u);
}

TEST(LayerMap, DuplicateBefore) {
  LayerMap Map = LayerMap::build(8, {duplicate(2, 4, 0, /*Before=*/true)});
  EXPECT_EQ(Map.sources(), (std::vector<uint32_t>{0, 1, 2, 3, 2, 3, 4, 5, 6, 7}));
  EXPECT_TRUE(Map[2].isCopy());
  EXPECT_FALSE(Map[4].isCopy());
}

TEST(LayerMap, DuplicateTimes) {
  LayerMap Map = LayerMap::build(6, {duplicate(1, 3, 0, false, 3)});
  EXPECT_EQ(Map.sources(), (std::vector<uint32_t>{0, 1, 2, 1, 2, 1, 2, 1, 2, 3, 4, 5}));
  EXPECT_EQ(Map[3].Copy, 0u);
  EXPECT_EQ(Map[5].Copy, 1u);
  EXPECT_EQ(Map[7].Copy, 2u);
  ASSERT_EQ(Map.seams().size(), 1u);
  EXPECT_EQ(Map.seams()[0].FirstCopy, 3u);
  EXPECT_EQ(Map.seams()[0].LastCopy, 8u);
}

TEST(LayerMap, DropRemovesWindow) {
  LayerMap Map = LayerMap::build(64, {drop(60, 64, 0)});
  EXPECT_EQ(Map.sources(), range(0, 60));
  EXPECT_TRUE(Map.seams().empty());
}

TEST(LayerMap, SameBoundaryKeepsStatementOrder) {
  // Both copies go into the gap between source layers 4 and 5.
  LayerMap Map = LayerMap::build(8, {duplicate(5, 7, 0, /*Before=*/true), duplicate(3, 5, 1)});
  EXPECT_EQ(Map.sources(), (std::vector<uint32_t>{0, 1, 2, 3, 4, 5, 6, 3, 4, 5, 6, 7}));
  ASSERT_EQ(Map.seams().size(), 2u);
  EXPECT_EQ(Map.seams()[0].Statement, 0u);
  EXPECT_EQ(Map.seams()[0].After, 7u);
  EXPECT_EQ(Map.seams()[1].Before, 6u);
}

TEST(LayerMap, OverlappingWindowsEachCopyNamesSourceLayers) {
  LayerMap Map = LayerMap::build(10, {duplicate(2, 5, 0), duplicate(4, 6, 1)});
  EXPECT_EQ(Map.sources(),
            (std::vector<uint32_t>{0, 1, 2, 3, 4, 2, 3, 4, 5, 4, 5, 6, 7, 8, 9}));
}

TEST(LayerMap, DuplicateAndDropCompose) {
  LayerMap Map = LayerMap::build(10, {duplicate(2, 4, 0), drop(6, 8, 1)});
  EXPECT_EQ(Map.sources(), (std::vector<uint32_t>{0, 1, 2, 3, 2, 3, 4, 5, 8, 9}));
}

TEST(LayerMap, CopyAtEndHasNoLayerAfter) {
  LayerMap Map = LayerMap::build(4, {duplicate(2, 4, 0)});
  ASSERT_EQ(Map.seams().size(), 1u);
  EXPECT_FALSE(Map.seams()[0].After.has_value());
  EXPECT_EQ(Map.seams()[0].Before, 3u);
}

TEST(LayerMap, CopyAtStartHasNoLayerBefore) {
  LayerMap Map = LayerMap::build(4, {duplicate(0, 1, 0, /*Before=*/true)});
  EXPECT_EQ(Map.sources(), (std::vector<uint32_t>{0, 0, 1, 2, 3}));
  EXPECT_FALSE(Map.seams()[0].Before.has_value());
  EXPECT_EQ(Map.seams()[0].After, 1u);
}

TEST(LayerMap, IdentityWithoutEdits) {
  LayerMap Map = LayerMap::build(5, {});
  EXPECT_TRUE(Map.isIdentity());
  EXPECT_EQ(Map.sources(), range(0, 5));
  EXPECT_FALSE(LayerMap::build(5, {drop(1, 2, 0)}).isIdentity());
}

} // namespace

TEST(LayerOutputs, OriginalFirstThenCopies) {
  LayerMap Map = LayerMap::build(6, {duplicate(1, 3, 0, false, 2)});
  std::vector<std::vector<uint32_t>> Outputs = layerOutputs(Map, 0);
  std::vector<std::vector<uint32_t>> Expected = {{0}, {1, 3, 5}, {2, 4, 6}, {7}, {8}, {9}};
  EXPECT_EQ(Outputs, Expected);
}

TEST(LayerOutputs, BeforePutsTheOriginalFirst) {
  // With before, the copies 2 and 3 come first in the output, and the
  // originals 4 and 5 keep the source place.
  LayerMap Map = LayerMap::build(5, {duplicate(2, 4, 0, /*Before=*/true)});
  std::vector<std::vector<uint32_t>> Outputs = layerOutputs(Map, 0);
  std::vector<std::vector<uint32_t>> Expected = {{0}, {1}, {4, 2}, {5, 3}, {6}};
  EXPECT_EQ(Outputs, Expected);
}

TEST(LayerOutputs, DroppedLayersAndExtraLayers) {
  LayerMap Map = LayerMap::build(4, {drop(1, 2, 0)});
  std::vector<std::vector<uint32_t>> Outputs = layerOutputs(Map, 1);
  std::vector<std::vector<uint32_t>> Expected = {{0}, {}, {1}, {2}, {3}};
  EXPECT_EQ(Outputs, Expected);
}
