// The compiler entry point and the checks of layer and expect statements.
#include "compiler/Analysis.h"

#include "llvm/ADT/SmallVector.h"

namespace rysc {

uint32_t DecoderStack::inlineCount() const {
  uint32_t Count = 0;
  for (const InlineStack &Stack : Inline)
    Count += Stack.Count;
  return Count;
}

uint32_t DecoderStack::countedInline() const {
  uint32_t Count = 0;
  for (const InlineStack &Stack : Inline)
    if (Stack.Counted)
      Count += Stack.Count;
  return Count;
}

std::string DecoderStack::fullPath(llvm::StringRef Relative) const {
  return DecoderPath.empty() ? Relative.str() : DecoderPath + "." + Relative.str();
}

void setPath(Json &Root, llvm::StringRef Path, const Json &Value) {
  Json *Current = &Root;
  llvm::SmallVector<llvm::StringRef, 4> Parts;
  Path.split(Parts, '.');
  for (llvm::StringRef Part : Parts)
    Current = &(*Current)[Part.str()];
  *Current = Value;
}

namespace {

std::string windowText(const ast::Window &W) {
  return "blocks[" + std::to_string(W.Begin) + ":" + std::to_string(W.End) + "]";
}

std::string layerRange(uint32_t Count) {
  return std::to_string(Count) + " layers (0.." + std::to_string(Count - 1) + ")";
}

/// Checks one window; reports and returns false when it is unusable.
bool checkWindow(AnalysisState &State, const ast::Window &W) {
  DiagnosticEngine &Diags = State.Diags;
  uint32_t Count = State.SourceCount;
  if (W.End < W.Begin) {
    Diags.error(W.Range.Start,
                "window " + windowText(W) + " is reversed; write blocks[" +
                    std::to_string(W.End) + ":" + std::to_string(W.Begin) + "]",
                W.Range);
    return false;
  }
  if (W.End == W.Begin) {
    Diags.error(W.Range.Start,
                "window " + windowText(W) +
                    " is empty; blocks[i:j] names layers i..j-1, so j must be greater than i",
                W.Range);
    return false;
  }
  if (W.End <= Count)
    return true;

  uint32_t Extra = State.Result.Stack.inlineCount();
  if (W.Begin < Count + Extra && Extra > 0) {
    const InlineStack &Stack = State.Result.Stack.Inline.front();
    Diags.error(W.EndRange.Start,
                "window " + windowText(W) + " reaches into the '" + Stack.Name +
                    "' extra stack (layers " + std::to_string(Count) + ".." +
                    std::to_string(Count + Extra - 1) + "); the trunk has " + layerRange(Count),
                W.EndRange);
    return false;
  }
  Diags.error(W.EndRange.Start,
              "window " + windowText(W) + " ends past the last layer; the model has " +
                  layerRange(Count),
              W.EndRange);
  return false;
}

void checkDropOverlaps(AnalysisState &State, const std::vector<LayerEdit> &Edits) {
  const auto &Statements = State.Recipe.Statements;
  for (size_t Index = 0; Index < Edits.size(); ++Index) {
    const LayerEdit &Drop = Edits[Index];
    if (Drop.Action != LayerEdit::Kind::Drop)
      continue;
    for (size_t Earlier = 0; Earlier < Index; ++Earlier) {
      const LayerEdit &Other = Edits[Earlier];
      if (Other.Action != LayerEdit::Kind::Drop || Other.End <= Drop.Begin ||
          Drop.End <= Other.Begin)
        continue;
      const ast::Window &W = Statements[Drop.Statement].Drop.Blocks;
      State.Diags.warning(W.Range.Start,
                          "drop " + windowText(W) + " overlaps the earlier drop " +
                              windowText(Statements[Other.Statement].Drop.Blocks) +
                              "; each layer is removed once",
                          W.Range);
    }
    for (const LayerEdit &Dup : Edits) {
      if (Dup.Action != LayerEdit::Kind::Duplicate)
        continue;
      uint32_t First = std::max(Drop.Begin, Dup.Begin);
      uint32_t Last = std::min(Drop.End, Dup.End);
      if (First >= Last)
        continue;
      const ast::Stmt &DropStmt = Statements[Drop.Statement];
      const ast::Stmt &DupStmt = Statements[Dup.Statement];
      State.Diags.error(DropStmt.Drop.Blocks.Range.Start,
                        "drop " + windowText(DropStmt.Drop.Blocks) +
                            " overlaps the duplicated window " +
                            windowText(DupStmt.Duplicate.Blocks) + " (layers " +
                            std::to_string(First) + ".." + std::to_string(Last - 1) +
                            "); a layer cannot be both copied and removed",
                        DropStmt.Drop.Blocks.Range);
      State.Diags.note(DupStmt.Duplicate.Blocks.Range.Start, "duplicated here",
                       DupStmt.Duplicate.Blocks.Range);
    }
  }
}

} // namespace

std::vector<LayerEdit> checkLayerStatements(AnalysisState &State) {
  std::vector<LayerEdit> Edits;
  const auto &Statements = State.Recipe.Statements;
  for (unsigned Index = 0; Index < Statements.size(); ++Index) {
    const ast::Stmt &S = Statements[Index];
    if (S.Kind != ast::StmtKind::Duplicate && S.Kind != ast::StmtKind::Drop)
      continue;
    const ast::Window &W =
        S.Kind == ast::StmtKind::Duplicate ? S.Duplicate.Blocks : S.Drop.Blocks;
    bool Ok = checkWindow(State, W);
    if (S.Kind == ast::StmtKind::Duplicate && S.Duplicate.Times < 1) {
      State.Diags.error(S.Duplicate.TimesRange.Start,
                        "'times' must be at least 1, found " + std::to_string(S.Duplicate.Times),
                        S.Duplicate.TimesRange);
      Ok = false;
    }
    if (!Ok)
      continue;

    LayerEdit Edit;
    Edit.Action = S.Kind == ast::StmtKind::Duplicate ? LayerEdit::Kind::Duplicate
                                                     : LayerEdit::Kind::Drop;
    Edit.Begin = static_cast<uint32_t>(W.Begin);
    Edit.End = static_cast<uint32_t>(W.End);
    Edit.Statement = Index;
    if (S.Kind == ast::StmtKind::Duplicate) {
      Edit.Before = S.Duplicate.Where == ast::Placement::Before;
      Edit.Times = static_cast<uint32_t>(S.Duplicate.Times);
    }
    Edits.push_back(Edit);
  }
  checkDropOverlaps(State, Edits);
  return Edits;
}

void checkExpectations(AnalysisState &State) {
  const LayerMap &Map = State.Result.Map;
  for (const ast::Stmt &S : State.Recipe.Statements) {
    if (S.Kind == ast::StmtKind::ExpectLayers && S.ExpectLayers.Count != Map.outputCount()) {
      State.Diags.error(S.ExpectLayers.CountRange.Start,
                        "expected " + std::to_string(S.ExpectLayers.Count) +
                            " output layers, but the recipe produces " +
                            std::to_string(Map.outputCount()),
                        S.ExpectLayers.CountRange);
    }
    if (S.Kind != ast::StmtKind::ExpectMap)
      continue;
    const ast::ExpectMapStmt &E = S.ExpectMap;
    if (E.Out < 0 || E.Out >= Map.outputCount()) {
      State.Diags.error(S.Range.Start,
                        "output layer " + std::to_string(E.Out) +
                            " does not exist; the output has " + layerRange(Map.outputCount()),
                        S.Range);
      continue;
    }
    uint32_t Actual = Map[static_cast<uint32_t>(E.Out)].Source;
    if (Actual != E.Src)
      State.Diags.error(S.Range.Start,
                        "output layer " + std::to_string(E.Out) + " comes from source layer " +
                            std::to_string(Actual) + ", not " + std::to_string(E.Src),
                        S.Range);
  }
}

static llvm::SMRange findAnchor(DiagnosticEngine &Diags, const ast::Recipe &Recipe) {
  for (const ast::Stmt &S : Recipe.Statements)
    if (S.Kind == ast::StmtKind::Duplicate || S.Kind == ast::StmtKind::Drop)
      return S.Range;
  const char *Start = Diags.sourceMgr().getMemoryBuffer(Recipe.BufferId)->getBufferStart();
  llvm::SMLoc Loc = llvm::SMLoc::getFromPointer(Start);
  return {Loc, Loc};
}

static bool resolveLayerCount(AnalysisState &State, ProfileRegistry &Registry) {
  if (State.Model) {
    if (!resolveModel(State, Registry))
      return false;
    if (State.Options.Layers && *State.Options.Layers != State.SourceCount) {
      State.Diags.error("--layers " + std::to_string(*State.Options.Layers) +
                        " disagrees with the model, which has " +
                        std::to_string(State.SourceCount) + " layers");
      return false;
    }
    return true;
  }
  if (!State.Options.Layers) {
    State.Diags.error("the layer count is unknown: give a model folder or --layers N");
    return false;
  }
  if (*State.Options.Layers == 0) {
    State.Diags.error("--layers must be at least 1");
    return false;
  }
  State.SourceCount = *State.Options.Layers;
  return true;
}

std::optional<Compilation> compileRecipe(DiagnosticEngine &Diags, ProfileRegistry &Registry,
                                         const ast::Recipe &Recipe, const ModelFacts *Model,
                                         const CompileOptions &Options) {
  AnalysisState State(Diags, Recipe, Model, Options);
  State.Anchor = findAnchor(Diags, Recipe);
  Registry.addRecipeProfiles(Diags, Recipe);
  if (Diags.hasErrors() || !resolveLayerCount(State, Registry))
    return std::nullopt;
  if (Options.ResolveOnly) {
    State.Result.Map = LayerMap::build(State.SourceCount, {});
    State.Result.OutputConfig = Model ? Model->Config : Json();
    return std::move(State.Result);
  }

  State.Edits = checkLayerStatements(State);
  if (Diags.hasErrors())
    return std::nullopt;

  State.Result.Map = LayerMap::build(State.SourceCount, State.Edits);
  if (State.Result.Map.outputCount() == 0) {
    Diags.error(State.Anchor.Start, "the recipe removes every layer", State.Anchor);
    return std::nullopt;
  }
  checkExpectations(State);
  if (Model)
    analyzeConfig(State);
  if (Diags.hasErrors())
    return std::nullopt;
  return std::move(State.Result);
}

} // namespace rysc
