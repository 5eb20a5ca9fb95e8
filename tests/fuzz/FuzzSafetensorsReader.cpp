// libFuzzer entry point: the safetensors header parser on arbitrary bytes.
#include "backends/hf/Safetensors.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Json(reinterpret_cast<const char *>(Data), Size);
  // The file is claimed to be a little larger than the header, so offsets
  // near the end of the data section are exercised too.
  auto Header = rysc::safetensors::parseHeader("fuzz.safetensors", Json, 8 + Size + 64);
  if (!Header)
    llvm::consumeError(Header.takeError());
  return 0;
}
