// libFuzzer entry point: the safetensors header parser on arbitrary bytes.
// It also checks that the fast path and the document path agree: whatever
// the document path accepts, the fast path must read the same way, and
// parseHeader may accept only what the document path accepts.
#include "backends/hf/HeaderScan.h"
#include "backends/hf/Safetensors.h"

#include <cstddef>
#include <cstdint>
#include <cstdlib>

namespace {

using namespace rysc::safetensors;

bool sameTensor(const TensorEntry &A, const TensorEntry &B) {
  return A.Name == B.Name && A.DType == B.DType && A.Shape == B.Shape &&
         A.Begin == B.Begin && A.End == B.End;
}

/// Aborts unless the fast path reads \p Json as \p Slow does.
void checkFastPathAgrees(llvm::StringRef Json, const Header &Slow) {
  std::vector<TensorEntry> Tensors;
  nlohmann::ordered_json Metadata;
  if (!scanPlainHeader(Json, Tensors, Metadata) ||
      Tensors.size() != Slow.Tensors.size() || Metadata != Slow.Metadata)
    std::abort();
  // The document path lists tensors by name; names are unique.
  llvm::sort(Tensors, [](const TensorEntry &A, const TensorEntry &B) {
    return A.Name < B.Name;
  });
  for (size_t I = 0; I < Tensors.size(); ++I)
    if (!sameTensor(Tensors[I], Slow.Tensors[I]))
      std::abort();
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Json(reinterpret_cast<const char *>(Data), Size);
  // The file is claimed to be a little larger than the header, so offsets
  // near the end of the data section are exercised too.
  uint64_t FileSize = 8 + Size + 64;
  auto Parsed = parseHeader("fuzz.safetensors", Json, FileSize);

  Header Slow;
  Slow.FileSize = FileSize;
  Slow.DataStart = 8 + Size;
  llvm::Error SlowError =
      detail::parseHeaderThroughDom("fuzz.safetensors", Json, Slow);
  bool SlowAccepted = !SlowError;
  llvm::consumeError(std::move(SlowError));
  if (SlowAccepted)
    checkFastPathAgrees(Json, Slow);
  if (Parsed && !SlowAccepted)
    std::abort();

  if (!Parsed)
    llvm::consumeError(Parsed.takeError());
  return 0;
}
