// Tests of the choice of an output file's data start for aligned copies.
#include "backends/CopyAlignment.h"

#include <gtest/gtest.h>

namespace rysc {
namespace {

constexpr uint64_t Granule = 4096;
constexpr uint64_t Enough = MinAlignedGranules * Granule;

TEST(CopyAlignmentTest, OneRangeKeepsItsSourcePhase) {
  // Source offset 1000 is phase 1000; output offset 0 needs data start
  // 1000 + k * 4096, and the smallest at or above 5097 is 9192.
  std::vector<CopyRange> Ranges = {{0, 1000, Enough, 0}};
  EXPECT_EQ(alignedDataStart(Ranges, 5097, 8, Granule), 9192u);
  EXPECT_EQ(alignedDataStart(Ranges, 5000, 8, Granule), 5096u);
  EXPECT_EQ(alignedDataStart(Ranges, 1000, 8, Granule), 1000u);
  EXPECT_EQ(alignedDataStart(Ranges, 999, 8, Granule), 1000u);
  EXPECT_EQ(alignedDataStart(Ranges, 1001, 8, Granule), 5096u);
}

TEST(CopyAlignmentTest, OutputOffsetsAreRelativeToTheDataStart) {
  // A range at output offset 3000 from source offset 1000: D + 3000 must be
  // congruent to 1000, so D is congruent to 2096.
  std::vector<CopyRange> Ranges = {{0, 1000, Enough, 3000}};
  EXPECT_EQ(alignedDataStart(Ranges, 100, 8, Granule), 2096u);
}

TEST(CopyAlignmentTest, MostBytesWin) {
  std::vector<CopyRange> Ranges = {
      {0, 64, Enough / 2, 0},              // phase 64
      {1, 4096 + 512, Enough, Enough / 2}, // phase (512 - Enough / 2) mod 4096 = 512
      {0, 128, Enough / 4, Enough * 2},    // phase 128
  };
  EXPECT_EQ(alignedDataStart(Ranges, 0, 8, Granule), 512u);
}

TEST(CopyAlignmentTest, TiesGoToTheSmallerPhase) {
  std::vector<CopyRange> Ranges = {{0, 200, Enough, 0}, {1, 100, Enough, Enough}};
  EXPECT_EQ(alignedDataStart(Ranges, 0, 4, Granule), 100u);
}

TEST(CopyAlignmentTest, ZerosAndInlineBytesDoNotVote) {
  std::vector<CopyRange> Ranges = {
      {ZeroFill, 0, 10 * Enough, 0},
      {InlineBytes, 8, 10 * Enough, 10 * Enough},
      {2, 256, Enough, 20 * Enough},
  };
  EXPECT_EQ(alignedDataStart(Ranges, 0, 8, Granule), 256u);
}

TEST(CopyAlignmentTest, PhasesOffTheStepAreSkipped) {
  // Phase 100 is not a multiple of 32, so the 32-aligned phase 64 wins
  // although it copies fewer bytes.
  std::vector<CopyRange> Ranges = {{0, 100, 2 * Enough, 0}, {0, 64, Enough, 2 * Enough}};
  EXPECT_EQ(alignedDataStart(Ranges, 0, 32, Granule), 64u);

  std::vector<CopyRange> Unaligned = {{0, 100, Enough, 0}};
  EXPECT_EQ(alignedDataStart(Unaligned, 40, 32, Granule), 40u);
}

TEST(CopyAlignmentTest, SmallFilesAndZeroGranuleKeepTheMinimum) {
  std::vector<CopyRange> Small = {{0, 1000, Enough - 1, 0}};
  EXPECT_EQ(alignedDataStart(Small, 5000, 8, Granule), 5000u);

  std::vector<CopyRange> Large = {{0, 1000, Enough, 0}};
  EXPECT_EQ(alignedDataStart(Large, 5000, 8, 0), 5000u);
  EXPECT_EQ(alignedDataStart({}, 5000, 8, Granule), 5000u);
}

TEST(CopyAlignmentTest, DefaultGranuleIsTwoMebibytes) {
  std::vector<CopyRange> Ranges = {{0, 25592, MinAlignedGranules * DefaultCopyAlignment, 0}};
  EXPECT_EQ(alignedDataStart(Ranges, 30000, 8, DefaultCopyAlignment), 25592u + (2u << 20));
}

} // namespace
} // namespace rysc
