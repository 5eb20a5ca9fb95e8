// Small helpers that build llvm::Error values with rysc's message style.
#ifndef RYSC_COMPILER_ERROR_H
#define RYSC_COMPILER_ERROR_H

#include "llvm/ADT/Twine.h"
#include "llvm/Support/Error.h"

namespace rysc {

/// Returns an error about the file at \p Path, rendered as "'path': message".
inline llvm::Error fileError(const llvm::Twine &Path, const llvm::Twine &Message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(),
                                 "'" + Path.str() + "': " + Message.str());
}

/// Returns an error with \p Message as its whole text.
inline llvm::Error plainError(const llvm::Twine &Message) {
  return llvm::createStringError(llvm::inconvertibleErrorCode(), Message.str());
}

} // namespace rysc

#endif // RYSC_COMPILER_ERROR_H
