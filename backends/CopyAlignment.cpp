// Choosing an output file's data start for aligned copies.
#include "backends/CopyAlignment.h"

#include "llvm/ADT/DenseMap.h"

namespace rysc {

namespace {

bool isCopy(const CopyRange &Range) {
  return Range.Source != ZeroFill && Range.Source != SpaceFill && Range.Source != InlineBytes;
}

/// The data start modulo \p Granule that aligns the most copied bytes.
std::optional<uint64_t> bestPhase(llvm::ArrayRef<CopyRange> Ranges, uint64_t Step,
                                  uint64_t Granule) {
  llvm::DenseMap<uint64_t, uint64_t> BytesByPhase;
  for (const CopyRange &Range : Ranges) {
    if (!isCopy(Range))
      continue;
    // The data start D aligns this range when D + OutputOffset is congruent
    // to SourceOffset.
    uint64_t Phase = (Range.SourceOffset % Granule + Granule - Range.OutputOffset % Granule) %
                     Granule;
    if (Phase % Step == 0)
      BytesByPhase[Phase] += Range.Length;
  }

  std::optional<uint64_t> Best;
  uint64_t BestBytes = 0;
  for (const auto &[Phase, Bytes] : BytesByPhase)
    if (Bytes > BestBytes || (Bytes == BestBytes && Best && Phase < *Best)) {
      Best = Phase;
      BestBytes = Bytes;
    }
  return Best;
}

} // namespace

uint64_t alignedDataStart(llvm::ArrayRef<CopyRange> Ranges, uint64_t Minimum, uint64_t Step,
                          uint64_t Granule) {
  if (Granule == 0 || Step == 0 || Granule % Step != 0)
    return Minimum;

  uint64_t Copied = 0;
  for (const CopyRange &Range : Ranges)
    if (isCopy(Range))
      Copied += Range.Length;
  if (Copied / Granule < MinAlignedGranules)
    return Minimum;

  std::optional<uint64_t> Phase = bestPhase(Ranges, Step, Granule);
  if (!Phase)
    return Minimum;
  return Minimum + (*Phase + Granule - Minimum % Granule) % Granule;
}

} // namespace rysc
