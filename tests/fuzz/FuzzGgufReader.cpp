// libFuzzer entry point: the GGUF header parser on arbitrary bytes.
#include "backends/gguf/Gguf.h"

#include <cstddef>
#include <cstdint>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t *Data, size_t Size) {
  llvm::StringRef Bytes(reinterpret_cast<const char *>(Data), Size);
  auto File = rysc::gguf::parse("fuzz.gguf", Bytes, Size);
  if (!File)
    llvm::consumeError(File.takeError());
  return 0;
}
