// Lowers the ANTLR parse tree into the typed AST.
#include "compiler/ParseTree.h"
#include "compiler/Parser.h"

#include "llvm/ADT/StringExtras.h"

using rysgrammar::RysParser;

namespace rysc {

SourcePositions::SourcePositions(llvm::StringRef Text) : Text(Text) {
  for (size_t Byte = 0; Byte < Text.size(); ++Byte)
    if ((static_cast<unsigned char>(Text[Byte]) & 0xC0) != 0x80)
      CodePointToByte.push_back(Byte);
  CodePointToByte.push_back(Text.size());
}

llvm::SMLoc SourcePositions::at(size_t CodePoint) const {
  size_t Byte = CodePoint < CodePointToByte.size() ? CodePointToByte[CodePoint] : Text.size();
  return llvm::SMLoc::getFromPointer(Text.data() + Byte);
}

llvm::SMLoc SourcePositions::end(const antlr4::Token *Token) const {
  if (Token->getType() == antlr4::Token::EOF)
    return at(Token->getStartIndex());
  return at(Token->getStopIndex() + 1);
}

llvm::SMRange SourcePositions::range(antlr4::ParserRuleContext *Context) const {
  if (!Context || !Context->getStart())
    return {};
  const antlr4::Token *Stop = Context->getStop() ? Context->getStop() : Context->getStart();
  if (Stop->getTokenIndex() < Context->getStart()->getTokenIndex())
    Stop = Context->getStart();
  return {start(Context->getStart()), end(Stop)};
}

namespace {

/// Walks one parse tree. Each lower* function returns false when the subtree
/// is incomplete because of a syntax error that was already reported.
class Lowering {
public:
  Lowering(const SourcePositions &Positions, DiagnosticEngine &Diags)
      : Positions(Positions), Diags(Diags) {}

  ast::Recipe lowerRecipe(RysParser::RecipeContext *Tree);

private:
  static bool complete(antlr4::ParserRuleContext *Context) {
    return Context && !Context->exception && Context->getStop();
  }

  bool lowerInteger(antlr4::Token *Token, int64_t &Value);
  std::string lowerName(RysParser::NameContext *Context) { return Context->getText(); }
  std::string lowerString(antlr4::tree::TerminalNode *Node);
  bool lowerFieldPath(RysParser::FieldPathContext *Context, ast::FieldPath &Path);
  bool lowerFieldList(RysParser::FieldListContext *Context, std::vector<ast::FieldPath> &Paths);
  bool lowerWindow(RysParser::WindowContext *Context, ast::Window &Window);
  std::vector<std::string> lowerStrings(RysParser::StringListContext *Context);

  void lowerHeader(RysParser::HeaderContext *Context, ast::Recipe &Recipe);
  bool lowerStatement(RysParser::StatementContext *Context, ast::Stmt &Stmt);
  bool lowerLayerStatement(RysParser::StatementContext *Context, ast::Stmt &Stmt);
  bool lowerFieldStatement(RysParser::StatementContext *Context, ast::Stmt &Stmt);
  bool lowerOtherStatement(RysParser::StatementContext *Context, ast::Stmt &Stmt);

  bool lowerProfile(RysParser::ProfileDeclContext *Context, ast::ProfileDecl &Profile);
  bool lowerProfileItem(RysParser::ProfileItemContext *Context, ast::ProfileDecl &Profile);
  bool lowerStructureItem(RysParser::ProfileItemContext *Context, ast::ProfileDecl &Profile);
  bool lowerFieldItem(RysParser::ProfileItemContext *Context, ast::ProfileDecl &Profile);
  bool lowerEffectItem(RysParser::ProfileItemContext *Context, ast::ProfileDecl &Profile);
  bool lowerScheduleItem(RysParser::ScheduleItemContext *Context, ast::ProfileDecl &Profile);
  bool lowerExtraStackItem(RysParser::ExtraStackItemContext *Context, ast::ProfileDecl &Profile);
  bool lowerMeaningItem(RysParser::MeaningItemContext *Context, ast::ProfileDecl &Profile);
  bool lowerTensorFamilyItem(RysParser::TensorFamilyItemContext *Context,
                             ast::ProfileDecl &Profile);

  ast::ExprPtr lowerExpr(RysParser::ExprContext *Context);
  ast::ExprPtr lowerOr(RysParser::OrExprContext *Context);
  ast::ExprPtr lowerAnd(RysParser::AndExprContext *Context);
  ast::ExprPtr lowerNot(RysParser::NotExprContext *Context);
  ast::ExprPtr lowerCompare(RysParser::CompareExprContext *Context);
  ast::ExprPtr lowerAdd(RysParser::AddExprContext *Context);
  ast::ExprPtr lowerMul(RysParser::MulExprContext *Context);
  ast::ExprPtr lowerUnary(RysParser::UnaryExprContext *Context);
  ast::ExprPtr lowerPostfix(RysParser::PostfixExprContext *Context);
  ast::ExprPtr lowerPrimary(RysParser::PrimaryContext *Context);
  ast::ExprPtr lowerLiteral(RysParser::LiteralContext *Context);
  ast::ExprPtr lowerSignedLiteral(antlr4::Token *Minus, RysParser::LiteralContext *Context);
  ast::ExprPtr makeNode(ast::ExprKind Kind, antlr4::ParserRuleContext *Context);
  ast::ExprPtr makeBinary(std::string Operator, ast::ExprPtr Left, ast::ExprPtr Right,
                          antlr4::ParserRuleContext *Context);

  const SourcePositions &Positions;
  DiagnosticEngine &Diags;
};

bool Lowering::lowerInteger(antlr4::Token *Token, int64_t &Value) {
  if (!Token || Token->getTokenIndex() == static_cast<size_t>(-1))
    return false;
  std::string Text = Token->getText();
  if (llvm::StringRef(Text).getAsInteger(10, Value)) {
    Diags.error(Positions.start(Token), "integer '" + Text + "' is too large",
                Positions.range(Token));
    return false;
  }
  return true;
}

std::string Lowering::lowerString(antlr4::tree::TerminalNode *Node) {
  std::string Quoted = Node->getText();
  std::string Value;
  for (size_t Index = 1; Index + 1 < Quoted.size(); ++Index) {
    char C = Quoted[Index];
    if (C == '\\' && Index + 2 < Quoted.size()) {
      char Next = Quoted[++Index];
      if (Next == 'n')
        Value += '\n';
      else if (Next == 't')
        Value += '\t';
      else
        Value += Next;
      continue;
    }
    Value += C;
  }
  return Value;
}

bool Lowering::lowerFieldPath(RysParser::FieldPathContext *Context, ast::FieldPath &Path) {
  if (!complete(Context))
    return false;
  for (RysParser::NameContext *Name : Context->name())
    Path.Parts.push_back(lowerName(Name));
  Path.Range = Positions.range(Context);
  return !Path.Parts.empty();
}

bool Lowering::lowerFieldList(RysParser::FieldListContext *Context,
                              std::vector<ast::FieldPath> &Paths) {
  if (!complete(Context))
    return false;
  for (RysParser::FieldPathContext *PathContext : Context->fieldPath()) {
    ast::FieldPath Path;
    if (!lowerFieldPath(PathContext, Path))
      return false;
    Paths.push_back(std::move(Path));
  }
  return true;
}

bool Lowering::lowerWindow(RysParser::WindowContext *Context, ast::Window &Window) {
  if (!complete(Context) || !Context->begin || !Context->end)
    return false;
  if (!lowerInteger(Context->begin, Window.Begin) || !lowerInteger(Context->end, Window.End))
    return false;
  Window.Range = Positions.range(Context);
  Window.BeginRange = Positions.range(Context->begin);
  Window.EndRange = Positions.range(Context->end);
  return true;
}

std::vector<std::string> Lowering::lowerStrings(RysParser::StringListContext *Context) {
  std::vector<std::string> Values;
  if (!Context)
    return Values;
  for (antlr4::tree::TerminalNode *Node : Context->STRING())
    Values.push_back(lowerString(Node));
  return Values;
}

void Lowering::lowerHeader(RysParser::HeaderContext *Context, ast::Recipe &Recipe) {
  if (!complete(Context))
    return;
  int64_t Version = 0;
  if (!lowerInteger(Context->version, Version))
    return;
  Recipe.Version = Version;
  Recipe.VersionRange = Positions.range(Context->version);
  if (Version != 1)
    Diags.error(Positions.start(Context->version),
                "unsupported recipe version " + llvm::Twine(Version) +
                    "; this rysc reads version 1 (write 'rys 1;')",
                Recipe.VersionRange);
}

bool Lowering::lowerStatement(RysParser::StatementContext *Context, ast::Stmt &Stmt) {
  if (!complete(Context))
    return false;
  Stmt.Range = Positions.range(Context);
  if (auto *Unknown = dynamic_cast<RysParser::UnknownStmtContext *>(Context)) {
    std::string Word = Unknown->unknown->getText();
    Diags.error(Positions.start(Unknown->unknown),
                "unknown statement '" + Word + "'" + didYouMean(Word, statementKeywords()),
                Positions.range(Unknown->unknown));
    return false;
  }
  return lowerLayerStatement(Context, Stmt) || lowerFieldStatement(Context, Stmt) ||
         lowerOtherStatement(Context, Stmt);
}

bool Lowering::lowerLayerStatement(RysParser::StatementContext *Context, ast::Stmt &Stmt) {
  if (auto *Duplicate = dynamic_cast<RysParser::DuplicateStmtContext *>(Context)) {
    Stmt.Kind = ast::StmtKind::Duplicate;
    ast::DuplicateStmt &D = Stmt.Duplicate;
    if (!lowerWindow(Duplicate->window(), D.Blocks) || !complete(Duplicate->placement()))
      return false;
    D.Where = Duplicate->placement()->BEFORE() ? ast::Placement::Before : ast::Placement::After;
    if (Duplicate->count) {
      if (!lowerInteger(Duplicate->count, D.Times))
        return false;
      D.TimesRange = Positions.range(Duplicate->count);
    }
    return true;
  }
  if (auto *Drop = dynamic_cast<RysParser::DropStmtContext *>(Context)) {
    Stmt.Kind = ast::StmtKind::Drop;
    return lowerWindow(Drop->window(), Stmt.Drop.Blocks);
  }
  return false;
}

bool Lowering::lowerFieldStatement(RysParser::StatementContext *Context, ast::Stmt &Stmt) {
  if (auto *Remap = dynamic_cast<RysParser::RemapStmtContext *>(Context)) {
    Stmt.Kind = ast::StmtKind::Remap;
    RysParser::FieldSelectionContext *Selection = Remap->fieldSelection();
    if (!complete(Selection))
      return false;
    if (Selection->STAR()) {
      Stmt.Remap.All = true;
      return true;
    }
    return lowerFieldList(Selection->fieldList(), Stmt.Remap.Fields);
  }
  if (auto *Keep = dynamic_cast<RysParser::KeepStmtContext *>(Context)) {
    Stmt.Kind = ast::StmtKind::Keep;
    return lowerFieldList(Keep->fieldList(), Stmt.Keep.Fields);
  }
  return false;
}

bool Lowering::lowerOtherStatement(RysParser::StatementContext *Context, ast::Stmt &Stmt) {
  if (auto *Layers = dynamic_cast<RysParser::ExpectLayersStmtContext *>(Context)) {
    Stmt.Kind = ast::StmtKind::ExpectLayers;
    Stmt.ExpectLayers.CountRange = Positions.range(Layers->count);
    return lowerInteger(Layers->count, Stmt.ExpectLayers.Count);
  }
  if (auto *Map = dynamic_cast<RysParser::ExpectMapStmtContext *>(Context)) {
    Stmt.Kind = ast::StmtKind::ExpectMap;
    return lowerInteger(Map->out, Stmt.ExpectMap.Out) && lowerInteger(Map->src, Stmt.ExpectMap.Src);
  }
  if (auto *Use = dynamic_cast<RysParser::UseProfileStmtContext *>(Context)) {
    Stmt.Kind = ast::StmtKind::UseProfile;
    if (!complete(Use->name()))
      return false;
    Stmt.UseProfile.Name = lowerName(Use->name());
    Stmt.UseProfile.NameRange = Positions.range(Use->name());
    return true;
  }
  return false;
}

bool Lowering::lowerProfile(RysParser::ProfileDeclContext *Context, ast::ProfileDecl &Profile) {
  if (!Context || !Context->profileName || !Context->getStop())
    return false;
  Profile.Name = lowerName(Context->profileName);
  Profile.NameRange = Positions.range(Context->profileName);
  Profile.Range = Positions.range(Context);
  if (Context->base) {
    Profile.Base = lowerName(Context->base);
    Profile.BaseRange = Positions.range(Context->base);
  }
  // Items that failed were reported; the rest still get checked, so one
  // run shows every problem of the declaration.
  for (RysParser::ProfileItemContext *Item : Context->profileItem())
    lowerProfileItem(Item, Profile);
  return true;
}

bool Lowering::lowerProfileItem(RysParser::ProfileItemContext *Context, ast::ProfileDecl &Profile) {
  if (!complete(Context))
    return false;
  if (auto *Unknown = dynamic_cast<RysParser::UnknownProfileItemContext *>(Context)) {
    std::string Word = Unknown->unknown->getText();
    Diags.error(Positions.start(Unknown->unknown),
                "unknown profile item '" + Word + "'" + didYouMean(Word, profileItemKeywords()),
                Positions.range(Unknown->unknown));
    return false;
  }
  if (auto *Schedule = dynamic_cast<RysParser::ScheduleItemContext *>(Context))
    return lowerScheduleItem(Schedule, Profile);
  if (auto *Stack = dynamic_cast<RysParser::ExtraStackItemContext *>(Context))
    return lowerExtraStackItem(Stack, Profile);
  if (auto *Family = dynamic_cast<RysParser::TensorFamilyItemContext *>(Context))
    return lowerTensorFamilyItem(Family, Profile);
  if (auto *Meaning = dynamic_cast<RysParser::MeaningItemContext *>(Context))
    return lowerMeaningItem(Meaning, Profile);
  return lowerStructureItem(Context, Profile) || lowerFieldItem(Context, Profile);
}

bool Lowering::lowerStructureItem(RysParser::ProfileItemContext *Context,
                                  ast::ProfileDecl &Profile) {
  if (auto *Match = dynamic_cast<RysParser::MatchItemContext *>(Context)) {
    auto &Into = Match->GGUF_ARCH() ? Profile.GgufArchs : Profile.ModelTypes;
    for (std::string &Type : lowerStrings(Match->stringList()))
      Into.push_back(std::move(Type));
    return true;
  }
  if (auto *Decoder = dynamic_cast<RysParser::DecoderItemContext *>(Context)) {
    Profile.HasDecoder = true;
    for (RysParser::DecoderPathContext *PathContext : Decoder->decoderPath()) {
      ast::FieldPath Path;
      Path.Range = Positions.range(PathContext);
      if (PathContext->fieldPath() && !lowerFieldPath(PathContext->fieldPath(), Path))
        return false;
      Profile.DecoderPaths.push_back(std::move(Path));
    }
    return true;
  }
  if (auto *Count = dynamic_cast<RysParser::LayerCountItemContext *>(Context)) {
    return lowerFieldList(Count->fieldList(), Profile.LayerCount);
  }
  if (auto *Stack = dynamic_cast<RysParser::StackItemContext *>(Context)) {
    for (std::string &Prefix : lowerStrings(Stack->stringList()))
      Profile.StackPrefixes.push_back(std::move(Prefix));
    return true;
  }
  return false;
}

bool Lowering::lowerFieldItem(RysParser::ProfileItemContext *Context, ast::ProfileDecl &Profile) {
  if (auto *Field = dynamic_cast<RysParser::FieldItemContext *>(Context)) {
    ast::FieldDecl Decl;
    if (!lowerFieldPath(Field->fieldPath(), Decl.Path) || !Field->fieldKind)
      return false;
    Decl.Kind = lowerName(Field->fieldKind);
    Decl.KindRange = Positions.range(Field->fieldKind);
    for (RysParser::FieldOptionContext *Option : Field->fieldOption()) {
      Decl.Options.push_back(Option->getText());
      Decl.OptionRanges.push_back(Positions.range(Option));
    }
    Profile.Fields.push_back(std::move(Decl));
    return true;
  }
  if (auto *NotPerLayer = dynamic_cast<RysParser::NotPerLayerItemContext *>(Context))
    return lowerFieldList(NotPerLayer->fieldList(), Profile.NotPerLayer);
  if (auto *Packed = dynamic_cast<RysParser::PackedTensorItemContext *>(Context)) {
    for (std::string &Name : lowerStrings(Packed->stringList()))
      Profile.PackedTensors.push_back(std::move(Name));
    return true;
  }
  return lowerEffectItem(Context, Profile);
}

bool Lowering::lowerEffectItem(RysParser::ProfileItemContext *Context, ast::ProfileDecl &Profile) {
  if (auto *Warn = dynamic_cast<RysParser::WarnItemContext *>(Context)) {
    ast::WarnDecl Decl;
    Decl.Message = lowerString(Warn->STRING());
    Decl.Range = Positions.range(Context);
    if (Warn->expr() && !(Decl.Condition = lowerExpr(Warn->expr())))
      return false;
    Profile.Warnings.push_back(std::move(Decl));
    return true;
  }
  if (auto *Pinned = dynamic_cast<RysParser::PinnedItemContext *>(Context)) {
    ast::WarnDecl Decl;
    Decl.Message = lowerString(Pinned->STRING());
    Decl.Range = Positions.range(Context);
    if (!(Decl.Condition = lowerExpr(Pinned->expr())))
      return false;
    Profile.Pinned.push_back(std::move(Decl));
    return true;
  }
  if (auto *Derive = dynamic_cast<RysParser::DeriveItemContext *>(Context)) {
    ast::DeriveDecl Decl;
    Decl.Range = Positions.range(Context);
    if (!lowerFieldPath(Derive->fieldPath(), Decl.Field) || !(Decl.Value = lowerExpr(Derive->expr())))
      return false;
    Profile.Derives.push_back(std::move(Decl));
    return true;
  }
  return false;
}

bool Lowering::lowerScheduleItem(RysParser::ScheduleItemContext *Context,
                                 ast::ProfileDecl &Profile) {
  ast::ScheduleDecl Decl;
  if (Context->fieldPath().empty() || !lowerFieldPath(Context->fieldPath(0), Decl.Scalar) ||
      !Context->scheduleKind || !lowerFieldPath(Context->target, Decl.Target))
    return false;
  Decl.Kind = lowerName(Context->scheduleKind);
  Decl.KindRange = Positions.range(Context->scheduleKind);
  if (Context->literal())
    Decl.Default = lowerSignedLiteral(Context->negative, Context->literal());
  Decl.Generator = lowerExpr(Context->expr());
  if (!Decl.Generator)
    return false;
  Profile.Schedules.push_back(std::move(Decl));
  return true;
}

bool Lowering::lowerExtraStackItem(RysParser::ExtraStackItemContext *Context,
                                   ast::ProfileDecl &Profile) {
  ast::ExtraStackDecl Decl;
  if (!Context->stackName || !Context->placementKind)
    return false;
  Decl.Name = lowerName(Context->stackName);
  Decl.Placement = lowerName(Context->placementKind);
  Decl.PlacementRange = Positions.range(Context->placementKind);
  Decl.Range = Positions.range(Context);
  if (Context->prefix)
    Decl.Prefix = lowerString(Context->STRING());
  if (Context->countField) {
    ast::FieldPath Path;
    if (!lowerFieldPath(Context->countField, Path))
      return false;
    Decl.CountField = std::move(Path);
  }
  Profile.ExtraStacks.push_back(std::move(Decl));
  return true;
}

bool Lowering::lowerTensorFamilyItem(RysParser::TensorFamilyItemContext *Context,
                                     ast::ProfileDecl &Profile) {
  ast::TensorFamilyDecl Decl;
  if (!lowerFieldPath(Context->fieldPath(), Decl.Field) || !Context->value)
    return false;
  Decl.Value = lowerLiteral(Context->value);
  Decl.Require = lowerStrings(Context->req);
  Decl.Forbid = lowerStrings(Context->forb);
  Decl.Range = Positions.range(Context);
  Profile.TensorFamilies.push_back(std::move(Decl));
  return true;
}

bool Lowering::lowerMeaningItem(RysParser::MeaningItemContext *Context,
                                ast::ProfileDecl &Profile) {
  ast::MeaningDecl Decl;
  if (!lowerFieldPath(Context->fieldPath(), Decl.Field))
    return false;
  Decl.Range = Positions.range(Context);
  for (RysParser::MeaningEntryContext *Entry : Context->meaningEntry()) {
    ast::ExprPtr Value = lowerSignedLiteral(Entry->negative, Entry->value);
    if (!Value || !Entry->STRING())
      return false;
    Decl.Entries.push_back({std::move(Value), lowerString(Entry->STRING())});
  }
  Profile.Meanings.push_back(std::move(Decl));
  return true;
}

ast::ExprPtr Lowering::makeNode(ast::ExprKind Kind, antlr4::ParserRuleContext *Context) {
  auto Node = std::make_unique<ast::Expr>();
  Node->Kind = Kind;
  Node->Range = Positions.range(Context);
  return Node;
}

ast::ExprPtr Lowering::makeBinary(std::string Operator, ast::ExprPtr Left, ast::ExprPtr Right,
                                  antlr4::ParserRuleContext *Context) {
  if (!Left || !Right)
    return nullptr;
  ast::ExprPtr Node = makeNode(ast::ExprKind::Binary, Context);
  Node->Text = std::move(Operator);
  Node->Operands.push_back(std::move(Left));
  Node->Operands.push_back(std::move(Right));
  return Node;
}

ast::ExprPtr Lowering::lowerExpr(RysParser::ExprContext *Context) {
  if (!complete(Context))
    return nullptr;
  ast::ExprPtr Condition = lowerOr(Context->cond);
  if (!Context->QUESTION())
    return Condition;
  ast::ExprPtr WhenTrue = lowerExpr(Context->whenTrue);
  ast::ExprPtr WhenFalse = lowerExpr(Context->whenFalse);
  if (!Condition || !WhenTrue || !WhenFalse)
    return nullptr;
  ast::ExprPtr Node = makeNode(ast::ExprKind::Conditional, Context);
  Node->Operands.push_back(std::move(Condition));
  Node->Operands.push_back(std::move(WhenTrue));
  Node->Operands.push_back(std::move(WhenFalse));
  return Node;
}

ast::ExprPtr Lowering::lowerOr(RysParser::OrExprContext *Context) {
  if (!complete(Context))
    return nullptr;
  ast::ExprPtr Result = lowerAnd(Context->andExpr(0));
  for (size_t Index = 1; Index < Context->andExpr().size(); ++Index)
    Result = makeBinary("||", std::move(Result), lowerAnd(Context->andExpr(Index)), Context);
  return Result;
}

ast::ExprPtr Lowering::lowerAnd(RysParser::AndExprContext *Context) {
  if (!complete(Context))
    return nullptr;
  ast::ExprPtr Result = lowerNot(Context->notExpr(0));
  for (size_t Index = 1; Index < Context->notExpr().size(); ++Index)
    Result = makeBinary("&&", std::move(Result), lowerNot(Context->notExpr(Index)), Context);
  return Result;
}

ast::ExprPtr Lowering::lowerNot(RysParser::NotExprContext *Context) {
  if (!complete(Context))
    return nullptr;
  if (!Context->NOT())
    return lowerCompare(Context->compareExpr());
  ast::ExprPtr Operand = lowerNot(Context->notExpr());
  if (!Operand)
    return nullptr;
  ast::ExprPtr Node = makeNode(ast::ExprKind::Unary, Context);
  Node->Text = "!";
  Node->Operands.push_back(std::move(Operand));
  return Node;
}

ast::ExprPtr Lowering::lowerCompare(RysParser::CompareExprContext *Context) {
  if (!complete(Context))
    return nullptr;
  ast::ExprPtr Left = lowerAdd(Context->left);
  if (!Context->op)
    return Left;
  return makeBinary(Context->op->getText(), std::move(Left), lowerAdd(Context->right), Context);
}

ast::ExprPtr Lowering::lowerAdd(RysParser::AddExprContext *Context) {
  if (!complete(Context))
    return nullptr;
  ast::ExprPtr Result = lowerMul(Context->mulExpr(0));
  for (size_t Index = 1; Index < Context->mulExpr().size(); ++Index)
    Result = makeBinary(Context->op[Index - 1]->getText(), std::move(Result),
                        lowerMul(Context->mulExpr(Index)), Context);
  return Result;
}

ast::ExprPtr Lowering::lowerMul(RysParser::MulExprContext *Context) {
  if (!complete(Context))
    return nullptr;
  ast::ExprPtr Result = lowerUnary(Context->unaryExpr(0));
  for (size_t Index = 1; Index < Context->unaryExpr().size(); ++Index)
    Result = makeBinary(Context->op[Index - 1]->getText(), std::move(Result),
                        lowerUnary(Context->unaryExpr(Index)), Context);
  return Result;
}

ast::ExprPtr Lowering::lowerUnary(RysParser::UnaryExprContext *Context) {
  if (!complete(Context))
    return nullptr;
  if (!Context->MINUS())
    return lowerPostfix(Context->postfixExpr());
  ast::ExprPtr Operand = lowerUnary(Context->unaryExpr());
  if (!Operand)
    return nullptr;
  ast::ExprPtr Node = makeNode(ast::ExprKind::Unary, Context);
  Node->Text = "-";
  Node->Operands.push_back(std::move(Operand));
  return Node;
}

ast::ExprPtr Lowering::lowerPostfix(RysParser::PostfixExprContext *Context) {
  if (!complete(Context))
    return nullptr;
  ast::ExprPtr Base = lowerPrimary(Context->primary());
  if (!Context->index)
    return Base;
  ast::ExprPtr Index = lowerExpr(Context->index);
  if (!Base || !Index)
    return nullptr;
  ast::ExprPtr Node = makeNode(ast::ExprKind::Index, Context);
  Node->Operands.push_back(std::move(Base));
  Node->Operands.push_back(std::move(Index));
  return Node;
}

ast::ExprPtr Lowering::lowerPrimary(RysParser::PrimaryContext *Context) {
  if (!complete(Context))
    return nullptr;
  if (auto *Literal = dynamic_cast<RysParser::LiteralPrimaryContext *>(Context))
    return lowerLiteral(Literal->literal());
  if (auto *Paren = dynamic_cast<RysParser::ParenPrimaryContext *>(Context))
    return lowerExpr(Paren->expr());
  if (auto *Name = dynamic_cast<RysParser::NamePrimaryContext *>(Context)) {
    ast::FieldPath Path;
    if (!lowerFieldPath(Name->fieldPath(), Path))
      return nullptr;
    ast::ExprPtr Node = makeNode(ast::ExprKind::Name, Context);
    Node->Text = Path.str();
    return Node;
  }
  auto *Call = dynamic_cast<RysParser::CallPrimaryContext *>(Context);
  if (!Call || !Call->callee)
    return nullptr;
  ast::ExprPtr Node = makeNode(ast::ExprKind::Call, Context);
  Node->Text = lowerName(Call->callee);
  for (RysParser::ExprContext *Argument : Call->expr()) {
    ast::ExprPtr Lowered = lowerExpr(Argument);
    if (!Lowered)
      return nullptr;
    Node->Operands.push_back(std::move(Lowered));
  }
  return Node;
}

/// Lowers a literal that a profile item allows a leading minus on.
ast::ExprPtr Lowering::lowerSignedLiteral(antlr4::Token *Minus, RysParser::LiteralContext *Context) {
  ast::ExprPtr Value = lowerLiteral(Context);
  if (Minus && Value) {
    Value->IntValue = -Value->IntValue;
    Value->FloatValue = -Value->FloatValue;
  }
  return Value;
}

ast::ExprPtr Lowering::lowerLiteral(RysParser::LiteralContext *Context) {
  if (!complete(Context))
    return nullptr;
  if (Context->INT()) {
    ast::ExprPtr Node = makeNode(ast::ExprKind::Int, Context);
    if (!lowerInteger(Context->INT()->getSymbol(), Node->IntValue))
      return nullptr;
    return Node;
  }
  if (Context->FLOAT()) {
    ast::ExprPtr Node = makeNode(ast::ExprKind::Float, Context);
    Node->FloatValue = std::strtod(Context->FLOAT()->getText().c_str(), nullptr);
    return Node;
  }
  if (Context->STRING()) {
    ast::ExprPtr Node = makeNode(ast::ExprKind::String, Context);
    Node->Text = lowerString(Context->STRING());
    return Node;
  }
  if (Context->TRUE_LIT() || Context->FALSE_LIT()) {
    ast::ExprPtr Node = makeNode(ast::ExprKind::Bool, Context);
    Node->BoolValue = Context->TRUE_LIT() != nullptr;
    return Node;
  }
  return makeNode(ast::ExprKind::Null, Context);
}

ast::Recipe Lowering::lowerRecipe(RysParser::RecipeContext *Tree) {
  ast::Recipe Recipe;
  if (!Tree)
    return Recipe;
  if (Tree->header())
    lowerHeader(Tree->header(), Recipe);
  for (RysParser::ItemContext *Item : Tree->item()) {
    if (RysParser::StatementContext *Statement = Item->statement()) {
      ast::Stmt Stmt;
      if (lowerStatement(Statement, Stmt))
        Recipe.Statements.push_back(std::move(Stmt));
      continue;
    }
    ast::ProfileDecl Profile;
    if (lowerProfile(Item->profileDecl(), Profile))
      Recipe.Profiles.push_back(std::move(Profile));
  }
  return Recipe;
}

} // namespace

ast::Recipe lowerParseTree(RysParser::RecipeContext *Tree, const SourcePositions &Positions,
                           DiagnosticEngine &Diags) {
  return Lowering(Positions, Diags).lowerRecipe(Tree);
}

std::string ast::FieldPath::str() const { return llvm::join(Parts, "."); }

} // namespace rysc
