// Unit tests of the per-layer list text that plan and inspect print.
#include "compiler/LayerListText.h"

#include <gtest/gtest.h>

using namespace rysc;

namespace {

/// Returns \p Count copies of \p Cycle back to back.
std::vector<Json> repeat(std::initializer_list<Json> Cycle, size_t Count) {
  std::vector<Json> Result;
  for (size_t Index = 0; Index < Count; ++Index)
    Result.insert(Result.end(), Cycle.begin(), Cycle.end());
  return Result;
}

std::vector<Json> concat(std::initializer_list<std::vector<Json>> Parts) {
  std::vector<Json> Result;
  for (const auto &Part : Parts)
    Result.insert(Result.end(), Part.begin(), Part.end());
  return Result;
}

std::vector<Json> qwen36Schedule(size_t Cycles) {
  return repeat({"linear_attention", "linear_attention", "linear_attention", "full_attention"},
                Cycles);
}

TEST(LayerListText, RunsOfHeadCounts) {
  std::vector<Json> Values = concat({repeat({128}, 4), {96}, repeat({128}, 3), repeat({64}, 2)});
  std::vector<std::string> Lines = describeLayerValues(Values, 100);
  ASSERT_EQ(Lines.size(), 1u);
  EXPECT_EQ(Lines[0], "layers 0..3: 128; layer 4: 96; layers 5..7: 128; layers 8..9: 64");
}

TEST(LayerListText, WholeListOfOneCycle) {
  std::vector<std::string> Lines = describeLayerValues(qwen36Schedule(16), 100);
  ASSERT_EQ(Lines.size(), 1u);
  EXPECT_EQ(Lines[0],
            "layers 0..63: 16 cycles of (3 layers: \"linear_attention\", 1 layer: \"full_attention\")");
}

TEST(LayerListText, CopyInsertedIntoCycleKeepsPhase) {
  // Qwen3.6 with source layers 15..19 copied after 19: the pattern resumes
  // after the copy in its original order.
  std::vector<Json> Source = qwen36Schedule(16);
  std::vector<Json> Values(Source.begin(), Source.begin() + 20);
  Values.insert(Values.end(), Source.begin() + 15, Source.begin() + 20);
  Values.insert(Values.end(), Source.begin() + 20, Source.end());
  std::vector<std::string> Lines = describeLayerValues(Values, 89);
  std::vector<std::string> Expected = {
      "layers 0..19: 5 cycles of (3 layers: \"linear_attention\", 1 layer: \"full_attention\");",
      "layer 20: \"full_attention\";",
      "layers 21..68: 12 cycles of (3 layers: \"linear_attention\", 1 layer: \"full_attention\")"};
  EXPECT_EQ(Lines, Expected);
}

TEST(LayerListText, AlternatingCycleListsValues) {
  std::vector<Json> Values = repeat({"sliding_attention", "full_attention"}, 21);
  std::vector<std::string> Lines = describeLayerValues(Values, 100);
  ASSERT_EQ(Lines.size(), 1u);
  EXPECT_EQ(Lines[0], "layers 0..41: 21 cycles of (\"sliding_attention\", \"full_attention\")");
}

TEST(LayerListText, LongCycleBreaksAfterCommas) {
  std::vector<Json> Values = concat(
      {repeat({"mamba", "moe", "mamba", "moe", "mamba", "attention", "moe"}, 5), {"mamba"}});
  std::vector<std::string> Lines = describeLayerValues(Values, 50);
  std::vector<std::string> Expected = {
      "layers 0..34: 5 cycles of (\"mamba\", \"moe\",",
      "\"mamba\", \"moe\", \"mamba\", \"attention\", \"moe\");",
      "layer 35: \"mamba\""};
  EXPECT_EQ(Lines, Expected);
}

TEST(LayerListText, BooleanCycleWithTailEntry) {
  std::vector<Json> Values = concat({repeat({true, true, true, false}, 16), {false}});
  std::vector<std::string> Lines = describeLayerValues(Values, 100);
  ASSERT_EQ(Lines.size(), 1u);
  EXPECT_EQ(Lines[0], "layers 0..63: 16 cycles of (3 layers: true, 1 layer: false); layer 64: false");
}

TEST(LayerListText, SegmentsOfCycleAndRuns) {
  std::vector<Json> Values = concat({repeat({"s", "f"}, 3), repeat({"f"}, 3)});
  std::vector<LayerSegment> Segments = segmentLayers(Values);
  ASSERT_EQ(Segments.size(), 2u);
  EXPECT_EQ(Segments[0].First, 0u);
  EXPECT_EQ(Segments[0].Last, 5u);
  EXPECT_EQ(Segments[0].Cycle, std::vector<Json>({"s", "f"}));
  EXPECT_EQ(Segments[0].repeats(), 3u);
  EXPECT_EQ(Segments[1].First, 6u);
  EXPECT_EQ(Segments[1].Last, 8u);
  EXPECT_EQ(Segments[1].Cycle, std::vector<Json>({"f"}));
  EXPECT_EQ(Segments[1].repeats(), 3u);
}

TEST(LayerListText, JsonOfSegments) {
  Json Expected = Json::parse(R"([{"first": 0, "last": 3, "cycle": [1, 0], "repeats": 2},
                                  {"first": 4, "last": 4, "cycle": [1], "repeats": 1}])");
  EXPECT_EQ(segmentsToJson(segmentLayers({1, 0, 1, 0, 1})), Expected);
}

TEST(LayerListText, LinesStayNarrowForManyLayers) {
  // 128 layers whose KV head count changes every few layers, with no cycle.
  std::vector<Json> Values;
  for (int Layer = 0; Layer < 128; ++Layer)
    Values.push_back(8 * (1 + (Layer / 3) % 5 + (Layer / 15) % 2));
  std::vector<std::string> Lines = describeLayerValues(Values, 89);
  EXPECT_GT(Lines.size(), 3u);
  for (const std::string &Line : Lines)
    EXPECT_LE(Line.size(), 89u) << Line;
  EXPECT_EQ(Lines.front().substr(0, 32), "layers 0..2: 8; layers 3..5: 16;");
  EXPECT_EQ(Lines.back().substr(Lines.back().rfind("; ") + 2), "layers 126..127: 24");
}

TEST(LayerListText, EveryLayerAppearsOnce) {
  std::vector<Json> Values;
  for (int Layer = 0; Layer < 200; ++Layer)
    Values.push_back(Layer % 7 == 3 || Layer % 11 == 0 ? "global" : "local");
  std::vector<LayerSegment> Segments = segmentLayers(Values);
  std::vector<Json> Rebuilt;
  for (const LayerSegment &Segment : Segments) {
    EXPECT_EQ(Segment.First, Rebuilt.size());
    for (uint32_t Repeat = 0; Repeat < Segment.repeats(); ++Repeat)
      Rebuilt.insert(Rebuilt.end(), Segment.Cycle.begin(), Segment.Cycle.end());
    EXPECT_EQ(Segment.Last + 1, Rebuilt.size());
  }
  EXPECT_EQ(Rebuilt, Values);
}

TEST(LayerListText, LongValuesGetNumberedNames) {
  Json Small = Json::parse(R"({"attention": {"n_heads_in_group": 8}, "ffn": {"ffn_mult": 2.625}})");
  Json Skip = Json::parse(R"({"attention": {"no_op": true}, "ffn": {"ffn_mult": 1.3125}})");
  std::vector<std::string> Lines = describeLayerValues({Small, Small, Skip, Small}, 100);
  std::vector<std::string> Expected = {
      "layers 0..1: #1; layer 2: #2; layer 3: #1",
      "#1 = {\"attention\":{\"n_heads_in_group\":8},\"ffn\":{\"ffn_mult\":2.625}}",
      "#2 = {\"attention\":{\"no_op\":true},\"ffn\":{\"ffn_mult\":1.3125}}"};
  EXPECT_EQ(Lines, Expected);
}

TEST(LayerListText, IndexRanges) {
  std::vector<std::string> Lines = describeLayerIndices(Json::parse("[1, 2, 3, 5, 9, 10]"), 100);
  ASSERT_EQ(Lines.size(), 1u);
  EXPECT_EQ(Lines[0], "layers 1..3, 5, 9..10");
}

TEST(LayerListText, SingleAndNoIndex) {
  EXPECT_EQ(describeLayerIndices(Json::parse("[7]"), 100), std::vector<std::string>{"layer 7"});
  EXPECT_EQ(describeLayerIndices(Json::array(), 100), std::vector<std::string>{"no layers"});
}

} // namespace
