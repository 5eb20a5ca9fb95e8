// The text of profile declarations as written, for `rysc profiles NAME`.
#ifndef RYSC_COMPILER_PROFILETEXT_H
#define RYSC_COMPILER_PROFILETEXT_H

#include "compiler/Profile.h"

#include "llvm/ADT/StringRef.h"

#include <string>

namespace rysc {

/// Returns the declaration that spans [\p Start, \p End) of \p Buffer, with
/// the comment lines directly above it. A declaration with no comment of
/// its own gets the file's leading comment when nothing but comments and
/// the `rys N;` header comes before it, because such a comment describes the
/// file's first profile.
std::string declarationWithComments(llvm::StringRef Buffer, const char *Start, const char *End);

/// Renders profile \p P as `rysc profiles NAME` prints it: its declaration
/// with a line naming its file and line, then the declaration of every
/// profile it extends, nearest first. The result parses as recipe text.
std::string profileDefinitionText(const ProfileRegistry &Registry, const Profile &P);

} // namespace rysc

#endif // RYSC_COMPILER_PROFILETEXT_H
