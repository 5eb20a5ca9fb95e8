// Choosing where an output file's tensor data starts, so that copied bytes
// keep their source offset modulo a large page.
//
// On ext4 under Linux 6.18, copy_file_range of a cold 2 GiB file took about
// 2.8 s until synced when each output byte sat at its source offset modulo
// 2 MiB. Shifted by 32 or 4096 bytes, it took 3.5-3.9 s and used a third more
// system time (docs/benchmarks.md). The likely cause is the page cache
// building the output from smaller folios when the two phases differ. Both
// formats let the header absorb a shift: safetensors allows spaces after
// the header JSON, and a GGUF header can hold a padding key.
#ifndef RYSC_BACKENDS_COPYALIGNMENT_H
#define RYSC_BACKENDS_COPYALIGNMENT_H

#include "backends/Plan.h"

#include "llvm/ADT/ArrayRef.h"

#include <cstdint>

namespace rysc {

/// The default granule: the x86-64 huge page size, the largest shift
/// measured to matter.
constexpr uint64_t DefaultCopyAlignment = 2u << 20;

/// A file copies too little to be worth up to one granule of padding when
/// it copies fewer than this many granules.
constexpr uint64_t MinAlignedGranules = 64;

/// Returns the smallest data start >= \p Minimum that is a multiple of
/// \p Step and puts the most copied bytes of \p Ranges at their source
/// offset modulo \p Granule. Output offsets in \p Ranges are relative to the
/// data start; ranges that are not copies (zeros, spaces, inline bytes) are
/// ignored.
/// Returns \p Minimum when \p Granule is 0, when the ranges copy fewer than
/// MinAlignedGranules granules, or when no copied byte can be aligned at a
/// multiple of \p Step.
uint64_t alignedDataStart(llvm::ArrayRef<CopyRange> Ranges, uint64_t Minimum,
                          uint64_t Step, uint64_t Granule);

} // namespace rysc

#endif // RYSC_BACKENDS_COPYALIGNMENT_H
