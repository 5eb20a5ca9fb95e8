// Applying config edits to the original config.json text, so that every
// byte outside the edited values stays as it was: key order, number
// spellings, escapes and integers too large for a double.
#ifndef RYSC_BACKENDS_HF_CONFIGREWRITE_H
#define RYSC_BACKENDS_HF_CONFIGREWRITE_H

#include "compiler/Compiler.h"

#include "llvm/Support/Error.h"

#include <string>

namespace rysc::hf {

/// Returns \p Original with each edit's value replaced, or its key added at
/// the end of the parent object. New values are indented to their depth,
/// two spaces per level, as transformers writes config.json.
llvm::Expected<std::string> rewriteConfigText(llvm::StringRef Original,
                                              llvm::ArrayRef<ConfigEdit> Edits);

} // namespace rysc::hf

#endif // RYSC_BACKENDS_HF_CONFIGREWRITE_H
