// Parses recipe text into the typed syntax tree, reporting syntax errors
// through the DiagnosticEngine.
#ifndef RYSC_COMPILER_PARSER_H
#define RYSC_COMPILER_PARSER_H

#include "compiler/Ast.h"
#include "compiler/Diagnostics.h"

#include "llvm/ADT/StringRef.h"

namespace rysc {

/// Parses the buffer \p BufferId of \p Diags' SourceMgr. Every syntax error is
/// reported; the returned tree contains the statements that parsed cleanly.
ast::Recipe parseRecipe(DiagnosticEngine &Diags, unsigned BufferId);

/// Adds \p Text as a buffer named \p Name and parses it.
ast::Recipe parseRecipeText(DiagnosticEngine &Diags, llvm::StringRef Text, llvm::StringRef Name);

/// Returns the recipe keywords that may start a statement, for suggestions.
llvm::ArrayRef<std::string> statementKeywords();

/// Returns the keywords that may start a profile item, for suggestions.
llvm::ArrayRef<std::string> profileItemKeywords();

} // namespace rysc

#endif // RYSC_COMPILER_PARSER_H
