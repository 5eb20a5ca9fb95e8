// Small POSIX file helpers shared by the readers and the executor.
#include "backends/FileIo.h"
#include "compiler/Error.h"

#include <cerrno>
#include <system_error>
#include <unistd.h>

namespace rysc {

std::string errnoMessage(int Errno) {
  return std::error_code(Errno, std::generic_category()).message();
}

FileDescriptor::~FileDescriptor() {
  if (Fd >= 0)
    ::close(Fd);
}

llvm::Expected<uint64_t> readAt(int Fd, llvm::StringRef Path, char *Buffer, uint64_t Size,
                                uint64_t Offset) {
  uint64_t Done = 0;
  while (Done < Size) {
    ssize_t Count = ::pread(Fd, Buffer + Done, Size - Done, static_cast<off_t>(Offset + Done));
    if (Count < 0 && errno == EINTR)
      continue;
    if (Count < 0)
      return fileError(Path, "failed to read: " + errnoMessage(errno));
    if (Count == 0)
      break;
    Done += static_cast<uint64_t>(Count);
  }
  return Done;
}

} // namespace rysc
