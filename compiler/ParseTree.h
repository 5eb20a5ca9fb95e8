// Internal to the parser: source positions of ANTLR tokens and the lowering
// of the ANTLR parse tree into the typed AST. Only Parser.cpp and
// ParseTreeLowering.cpp include this header.
#ifndef RYSC_COMPILER_PARSETREE_H
#define RYSC_COMPILER_PARSETREE_H

#include "compiler/Ast.h"
#include "compiler/Diagnostics.h"

#include "RysParser.h"
#include "antlr4-runtime.h"

#include "llvm/ADT/StringRef.h"
#include "llvm/Support/SMLoc.h"

#include <vector>

namespace rysc {

/// Maps ANTLR's code-point indexes back to byte positions in the buffer,
/// because ANTLR decodes UTF-8 while SourceMgr points at bytes.
class SourcePositions {
public:
  explicit SourcePositions(llvm::StringRef Text);

  llvm::SMLoc at(size_t CodePoint) const;
  llvm::SMLoc start(const antlr4::Token *Token) const { return at(Token->getStartIndex()); }
  /// The position just past the token's last character.
  llvm::SMLoc end(const antlr4::Token *Token) const;
  llvm::SMRange range(const antlr4::Token *Token) const { return {start(Token), end(Token)}; }
  llvm::SMRange range(antlr4::ParserRuleContext *Context) const;

private:
  llvm::StringRef Text;
  std::vector<size_t> CodePointToByte;
};

/// Lowers a parse tree into the AST. Statements with syntax errors (already
/// reported) are skipped; semantic problems visible in the tree alone, such
/// as unknown statements or integers out of range, are reported here.
ast::Recipe lowerParseTree(rysgrammar::RysParser::RecipeContext *Tree,
                           const SourcePositions &Positions, DiagnosticEngine &Diags);

} // namespace rysc

#endif // RYSC_COMPILER_PARSETREE_H
