// The recipe parser: runs the ANTLR-generated parser, turns its errors into
// clang-style diagnostics and lowers the parse tree into the typed AST.
#include "compiler/Parser.h"
#include "compiler/ParseTree.h"

#include "RysLexer.h"
#include "RysParser.h"
#include "antlr4-runtime.h"

#include "llvm/Support/ConvertUTF.h"
#include "llvm/Support/Format.h"
#include "llvm/Support/MemoryBuffer.h"

using rysgrammar::RysLexer;
using rysgrammar::RysParser;

namespace rysc {

llvm::ArrayRef<std::string> statementKeywords() {
  static const std::vector<std::string> Words = {"duplicate", "drop", "remap", "keep",
                                                 "expect", "use", "profile", "rys"};
  return Words;
}

llvm::ArrayRef<std::string> profileItemKeywords() {
  static const std::vector<std::string> Words = {
      "match", "decoder", "layer_count", "stack", "field", "schedule",
      "extra_stack", "tensors", "not_per_layer", "warn", "derive", "packed_tensor", "pinned",
      "meaning"};
  return Words;
}

namespace {

/// Describes a token type for "expected ..." messages.
std::string describeTokenType(const antlr4::dfa::Vocabulary &Vocabulary, size_t Type) {
  switch (Type) {
  case RysParser::INT:
    return "an integer";
  case RysParser::FLOAT:
    return "a number";
  case RysParser::IDENT:
    return "a name";
  case RysParser::STRING:
    return "a string";
  case antlr4::Token::EOF:
    return "end of file";
  default:
    return Vocabulary.getLiteralName(Type);
  }
}

/// Renders an expected-token set, e.g. "'after' or 'before'".
std::string describeExpected(const antlr4::dfa::Vocabulary &Vocabulary,
                             const antlr4::misc::IntervalSet &Expected) {
  if (Expected.contains(static_cast<size_t>(RysParser::DUPLICATE)) && Expected.contains(static_cast<size_t>(RysParser::DROP)))
    return "a statement";
  if (Expected.contains(static_cast<size_t>(RysParser::MATCH)) && Expected.contains(static_cast<size_t>(RysParser::FIELD)))
    return "a profile item or '}'";
  if (Expected.contains(static_cast<size_t>(RysParser::IDENT)) && Expected.contains(static_cast<size_t>(RysParser::RYS)))
    return "a name";
  if (Expected.contains(static_cast<size_t>(RysParser::INT)) && Expected.contains(static_cast<size_t>(RysParser::LPAREN)))
    return "an expression";

  std::vector<std::string> Names;
  for (ssize_t Type : Expected.toList())
    Names.push_back(describeTokenType(Vocabulary, static_cast<size_t>(Type)));
  if (Names.empty())
    return "something else";
  std::string Text = Names.front();
  for (size_t Index = 1; Index < Names.size(); ++Index)
    Text += (Index + 1 == Names.size() ? " or " : ", ") + Names[Index];
  return Text;
}

/// Turns ANTLR's error callbacks into rysc diagnostics with exact positions
/// and suggestions, while keeping ANTLR's single-token recovery.
class RecipeErrorStrategy : public antlr4::DefaultErrorStrategy {
public:
  RecipeErrorStrategy(DiagnosticEngine &Diags, const SourcePositions &Positions)
      : Diags(Diags), Positions(Positions) {}

protected:
  void reportNoViableAlternative(antlr4::Parser *Parser,
                                 const antlr4::NoViableAltException &E) override {
    reportUnexpected(Parser, E.getOffendingToken(), E.getExpectedTokens());
  }

  void reportInputMismatch(antlr4::Parser *Parser,
                           const antlr4::InputMismatchException &E) override {
    reportUnexpected(Parser, E.getOffendingToken(), E.getExpectedTokens());
  }

  void reportFailedPredicate(antlr4::Parser *Parser,
                             const antlr4::FailedPredicateException &E) override {
    reportUnexpected(Parser, E.getOffendingToken(), E.getExpectedTokens());
  }

  void reportUnwantedToken(antlr4::Parser *Parser) override {
    if (inErrorRecoveryMode(Parser))
      return;
    beginErrorCondition(Parser);
    reportUnexpected(Parser, Parser->getCurrentToken(), getExpectedTokens(Parser));
  }

  void reportMissingToken(antlr4::Parser *Parser) override {
    if (inErrorRecoveryMode(Parser))
      return;
    beginErrorCondition(Parser);
    antlr4::misc::IntervalSet Expected = getExpectedTokens(Parser);
    std::string What = describeExpected(Parser->getVocabulary(), Expected);

    // Point just past the previous token, where the missing one belongs.
    antlr4::Token *Current = Parser->getCurrentToken();
    antlr4::Token *Previous = previousVisibleToken(Parser, Current);
    llvm::SMLoc Loc = Previous ? Positions.end(Previous) : Positions.start(Current);
    std::string Before = Current->getType() == antlr4::Token::EOF
                             ? " before end of file"
                             : " before '" + Current->getText() + "'";
    Diags.error(Loc, "expected " + What + Before);
  }

private:
  static antlr4::Token *previousVisibleToken(antlr4::Parser *Parser, antlr4::Token *Current) {
    auto *Stream = dynamic_cast<antlr4::BufferedTokenStream *>(Parser->getTokenStream());
    if (!Stream)
      return nullptr;
    for (ssize_t Index = static_cast<ssize_t>(Current->getTokenIndex()) - 1; Index >= 0; --Index) {
      antlr4::Token *Token = Stream->get(static_cast<size_t>(Index));
      if (Token->getChannel() == antlr4::Token::DEFAULT_CHANNEL)
        return Token;
    }
    return nullptr;
  }

  /// Reports an unexpected token. DefaultErrorStrategy::reportError has
  /// already entered error-recovery mode when this is called for an
  /// exception, so that check happens in the callers.
  void reportUnexpected(antlr4::Parser *Parser, antlr4::Token *Offending,
                        const antlr4::misc::IntervalSet &Expected) {
    const auto &Vocabulary = Parser->getVocabulary();
    std::string What = describeExpected(Vocabulary, Expected);

    if (Offending->getType() == antlr4::Token::EOF) {
      Diags.error(Positions.start(Offending), "expected " + What + " before end of file");
      return;
    }
    if (Offending->getType() == RysParser::UNTERMINATED_COMMENT) {
      Diags.error(Positions.start(Offending), "unterminated comment; close it with '*/'",
                  {Positions.start(Offending), Positions.start(Offending)});
      return;
    }
    if (Offending->getType() == RysParser::UNTERMINATED_STRING) {
      Diags.error(Positions.start(Offending),
                  "unterminated string; close it with '\"' on the same line",
                  Positions.range(Offending));
      return;
    }
    if (Offending->getType() == RysParser::BAD_CHAR) {
      Diags.error(Positions.start(Offending), "unexpected character '" + Offending->getText() + "'",
                  Positions.range(Offending));
      return;
    }
    // A token missing at the end of a line belongs after the previous token,
    // as in "expected ';'", not at the start of the next line.
    antlr4::Token *Previous = previousVisibleToken(Parser, Offending);
    if (Previous && Previous->getLine() < Offending->getLine()) {
      Diags.error(Positions.end(Previous),
                  "expected " + What + " after '" + Previous->getText() + "'");
      return;
    }
    std::string Message = "expected " + What + ", found '" + Offending->getText() + "'";
    Message += suggestKeyword(Vocabulary, Offending, Expected);
    Diags.error(Positions.start(Offending), Message, Positions.range(Offending));
  }

  /// Suggests the expected keyword closest to a misspelled word.
  static std::string suggestKeyword(const antlr4::dfa::Vocabulary &Vocabulary,
                                    antlr4::Token *Offending,
                                    const antlr4::misc::IntervalSet &Expected) {
    if (Offending->getType() != RysParser::IDENT)
      return "";
    std::vector<std::string> Keywords;
    for (ssize_t Type : Expected.toList()) {
      std::string Literal = Vocabulary.getLiteralName(static_cast<size_t>(Type));
      if (Literal.size() > 2 && std::isalpha(static_cast<unsigned char>(Literal[1])))
        Keywords.push_back(Literal.substr(1, Literal.size() - 2));
    }
    return didYouMean(Offending->getText(), Keywords);
  }

  DiagnosticEngine &Diags;
  const SourcePositions &Positions;
};

/// Lexer errors cannot happen (BAD_CHAR catches everything), and parser
/// errors go through RecipeErrorStrategy; this listener keeps ANTLR from
/// printing to the console.
class SilentListener : public antlr4::BaseErrorListener {};

/// Reports the first byte that is not part of valid UTF-8. ANTLR 4.9 decodes
/// the whole text before lexing and throws std::range_error on a malformed
/// sequence, so the text is checked here first.
bool checkUtf8(DiagnosticEngine &Diags, llvm::StringRef Text) {
  const auto *Cursor = reinterpret_cast<const llvm::UTF8 *>(Text.begin());
  const auto *End = reinterpret_cast<const llvm::UTF8 *>(Text.end());
  if (llvm::isLegalUTF8String(&Cursor, End))
    return true;

  std::string Byte;
  llvm::raw_string_ostream(Byte) << llvm::format_hex(*Cursor, 4, /*Upper=*/true);
  Diags.error(llvm::SMLoc::getFromPointer(reinterpret_cast<const char *>(Cursor)),
              "invalid UTF-8 byte " + Byte + "; recipes are UTF-8 text, so save the file " +
                  "as UTF-8");
  return false;
}

} // namespace

ast::Recipe parseRecipe(DiagnosticEngine &Diags, unsigned BufferId) {
  llvm::StringRef Text = Diags.sourceMgr().getMemoryBuffer(BufferId)->getBuffer();
  if (!checkUtf8(Diags, Text)) {
    ast::Recipe Empty;
    Empty.BufferId = BufferId;
    return Empty;
  }
  SourcePositions Positions(Text);

  antlr4::ANTLRInputStream Input(Text.str());
  RysLexer Lexer(&Input);
  Lexer.removeErrorListeners();
  antlr4::CommonTokenStream Tokens(&Lexer);
  RysParser Parser(&Tokens);
  Parser.removeErrorListeners();
  SilentListener Silent;
  Parser.addErrorListener(&Silent);
  Parser.setErrorHandler(std::make_shared<RecipeErrorStrategy>(Diags, Positions));

  RysParser::RecipeContext *Tree = Parser.recipe();
  ast::Recipe Recipe = lowerParseTree(Tree, Positions, Diags);
  Recipe.BufferId = BufferId;
  return Recipe;
}

ast::Recipe parseRecipeText(DiagnosticEngine &Diags, llvm::StringRef Text, llvm::StringRef Name) {
  return parseRecipe(Diags, Diags.addBuffer(Text, Name));
}

} // namespace rysc
