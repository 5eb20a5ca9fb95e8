// Config analysis: the layer count, per-layer fields and their coverage by
// remap and keep statements, schedule scalars and the tensor-family check.
#include "compiler/Analysis.h"
#include "compiler/FieldRules.h"
#include "compiler/LayerNames.h"

#include "llvm/ADT/StringExtras.h"

#include <map>
#include <set>

namespace rysc {

namespace {

/// A config field with one entry per layer.
struct PerLayerField {
  std::string Relative; ///< Relative to the decoder config.
  std::string Full;     ///< From the config root.
  FieldSpec Spec;
  bool Declared = false; ///< Declared by the profile, not guessed by length.
  const Json *Value = nullptr;
};

/// Config keys that hold other models or settings, never decoder layers.
bool isOtherSubConfig(llvm::StringRef Key, const Json &Value) {
  if (Value.is_object() && Value.contains("model_type"))
    return true;
  return Key == "vision_config" || Key == "audio_config" || Key == "quantization_config" ||
         Key == "text_config";
}

class ConfigAnalysis {
public:
  explicit ConfigAnalysis(AnalysisState &State)
      : State(State), Diags(State.Diags), P(*State.Result.UsedProfile),
        Stack(State.Result.Stack), Map(State.Result.Map.sources()),
        Output(State.Result.OutputConfig) {}

  void run() {
    Output = State.Model->Config;
    uint32_t Counted = Stack.countedInline();
    recordEdit(Stack.CountField, Json(State.SourceCount + Counted), Json(Map.size() + Counted),
               "layer count");
    collectDeclaredFields();
    collectUnknownLists(*State.SourceDecoder, "");
    resolveStatements();
    applyFields();
    // Schedules and tensor families read the remapped fields; after an
    // error there they would only repeat it in other words.
    if (Diags.hasErrors())
      return;
    for (const ScheduleSpec &Schedule : P.Schedules)
      applySchedule(Schedule);
    for (const TensorFamilySpec &Family : P.TensorFamilies)
      checkTensorFamily(Family);
    if (State.Result.Map.isIdentity())
      return;
    for (const WarnSpec &Warn : P.Warnings)
      applyWarning(Warn);
    for (const WarnSpec &Pin : P.Pinned)
      checkPinned(Pin);
    for (const DeriveSpec &Derive : P.Derives)
      applyDerive(Derive);
    checkPackedTensors();
    rewriteModuleNames();
  }

private:
  const Json &outputDecoder() const {
    return Stack.DecoderPath.empty() ? Output : *lookupPath(Output, Stack.DecoderPath);
  }

  void recordEdit(const std::string &Relative, const Json &Old, const Json &New,
                  const std::string &Reason, bool Added = false,
                  const FieldSpec *Field = nullptr) {
    recordRootEdit(Stack.fullPath(Relative), Old, New, Reason, Added, Field);
  }

  void recordRootEdit(const std::string &Full, const Json &Old, const Json &New,
                      const std::string &Reason, bool Added = false,
                      const FieldSpec *Field = nullptr) {
    if (!Added && Old == New)
      return;
    ConfigEdit Edit;
    Edit.Path = Full;
    Edit.Old = Added ? Json(nullptr) : Old;
    Edit.New = New;
    Edit.Added = Added;
    Edit.Reason = Reason;
    if (Field)
      Edit.Field = *Field;
    State.Result.Edits.push_back(std::move(Edit));
    setPath(Output, Full, New);
  }

  void collectDeclaredFields() {
    for (const FieldSpec &Spec : P.Fields) {
      const Json *Value = lookupPath(*State.SourceDecoder, Spec.Path);
      if (!Value || Value->is_null())
        continue;
      // An empty per-layer value list means "not given": transformers then
      // falls back to its default (llama4's no_rope_layers: []).
      if (Spec.Kind == FieldKind::Values && Value->is_array() && Value->empty())
        continue;
      // A broadcast scalar stands for every layer and never changes.
      if (Spec.Broadcast && !Value->is_array())
        continue;
      Fields.push_back({Spec.Path, Stack.fullPath(Spec.Path), Spec, true, Value});
    }
  }

  bool isKnownNonField(const std::string &Relative) const {
    return P.findField(Relative) || P.findSchedule(Relative) ||
           llvm::is_contained(P.NotPerLayer, Relative) || Relative == Stack.CountField;
  }

  /// Any list with one entry per layer that the profile does not declare is
  /// treated as per-layer, so that nothing per-layer is left in old order.
  void collectUnknownLists(const Json &Object, const std::string &Prefix) {
    for (auto It = Object.begin(); It != Object.end(); ++It) {
      std::string Relative = Prefix + It.key();
      if (isKnownNonField(Relative))
        continue;
      if (It.value().is_object() && !isOtherSubConfig(It.key(), It.value())) {
        collectUnknownLists(It.value(), Relative + ".");
        continue;
      }
      // GGUF arrays carry an entry for each counted extra block (MTP) too.
      uint32_t Counted = Stack.countedInline();
      bool TrunkLength = It.value().is_array() && It.value().size() == State.SourceCount;
      bool BlockLength = Counted > 0 && It.value().is_array() &&
                         It.value().size() == State.SourceCount + Counted;
      if (!TrunkLength && !BlockLength)
        continue;
      FieldSpec Spec;
      Spec.Path = Relative;
      Spec.Tail = BlockLength;
      Fields.push_back({Relative, Stack.fullPath(Relative), Spec, false, &It.value()});
    }
  }

  PerLayerField *findField(llvm::StringRef Path) {
    for (PerLayerField &Field : Fields)
      if (Field.Full == Path || Field.Relative == Path)
        return &Field;
    return nullptr;
  }

  std::vector<std::string> fieldNames() const {
    std::vector<std::string> Names;
    for (const PerLayerField &Field : Fields)
      Names.push_back(Field.Full);
    return Names;
  }

  void resolveStatements() {
    for (const ast::Stmt &S : State.Recipe.Statements) {
      if (S.Kind == ast::StmtKind::Remap && S.Remap.All)
        RemapAll = true;
      if (S.Kind == ast::StmtKind::Remap)
        for (const ast::FieldPath &Path : S.Remap.Fields)
          resolveNamedField(Path, /*Keep=*/false);
      if (S.Kind == ast::StmtKind::Keep)
        for (const ast::FieldPath &Path : S.Keep.Fields)
          resolveNamedField(Path, /*Keep=*/true);
    }
  }

  void resolveNamedField(const ast::FieldPath &Path, bool Keep) {
    std::string Name = Path.str();
    PerLayerField *Field = findField(Name);
    if (Field) {
      auto &Own = Keep ? Kept : Remapped;
      auto &Other = Keep ? Remapped : Kept;
      if (Other.count(Field->Full)) {
        Diags.error(Path.Range.Start,
                    "'" + Field->Full + "' is both remapped and kept; choose one", Path.Range);
        return;
      }
      Own[Field->Full] = Path.Range;
      return;
    }

    bool Exists = lookupPath(State.Model->Config, Name) ||
                  lookupPath(*State.SourceDecoder, Name);
    if (Exists && Keep) {
      Diags.warning(Path.Range.Start,
                    "'keep " + Name + "' has no effect: it is not a per-layer field of this model",
                    Path.Range);
      return;
    }
    if (Exists) {
      Diags.error(Path.Range.Start,
                  "'" + Name + "' is not a per-layer field of this model, so it cannot be remapped" +
                      didYouMean(Name, fieldNames()),
                  Path.Range);
      return;
    }
    Diags.error(Path.Range.Start,
                "no field '" + Name + "' in '" + State.Model->ConfigName + "'" +
                    didYouMean(Name, fieldNames()),
                Path.Range);
  }

  void applyFields() {
    for (PerLayerField &Field : Fields) {
      auto KeptAt = Kept.find(Field.Full);
      if (KeptAt != Kept.end()) {
        keepField(Field, KeptAt->second);
        continue;
      }
      if (Remapped.count(Field.Full) || RemapAll) {
        remapOne(Field);
        continue;
      }
      if (State.Result.Map.isIdentity())
        continue;
      Diags.error(State.Anchor.Start,
                  "per-layer field '" + Field.Full +
                      "' is not covered by the recipe; add 'remap per_layer " + Field.Full +
                      ";' to move it with the layers, or 'keep " + Field.Full +
                      ";' to leave it unchanged",
                  State.Anchor);
    }
  }

  void keepField(const PerLayerField &Field, llvm::SMRange Where) {
    State.Result.KeptFields.push_back(Field.Full);
    if (Field.Value->is_array() && Field.Value->size() == State.SourceCount &&
        Map.size() != State.SourceCount)
      Diags.warning(Where.Start,
                    "kept '" + Field.Full + "' has " + std::to_string(State.SourceCount) +
                        " entries but the output has " + std::to_string(Map.size()) + " layers",
                    Where);
  }

  void remapOne(PerLayerField &Field) {
    auto New = remapField(Field.Spec, *Field.Value, Map, State.SourceCount);
    if (!New) {
      Diags.error(State.Anchor.Start,
                  "cannot remap '" + Field.Full + "': it " + llvm::toString(New.takeError()),
                  State.Anchor);
      return;
    }
    if (!Field.Declared && State.Options.Strict) {
      rejectUnknownList(Field);
      return;
    }
    if (!Field.Declared)
      Diags.warning(State.Anchor.Start,
                    "remapping unknown list '" + Field.Full + "' as one value per layer, because it has " +
                        std::to_string(State.SourceCount) +
                        " entries; declare it in a profile to make this explicit",
                    State.Anchor);
    recordEdit(Field.Relative, *Field.Value, *New,
               "per-layer " + fieldKindName(Field.Spec.Kind).str() + " remapped",
               /*Added=*/false, &Field.Spec);
  }

  /// Reports, under --strict, a list that only its length marks as
  /// per-layer. Nothing is remapped then, so the message names the fix.
  void rejectUnknownList(const PerLayerField &Field) {
    std::string Where = P.FromStdlib ? "a recipe profile that extends '" + P.Name +
                                           "' and matches this model"
                                     : "profile '" + P.Name + "'";
    Diags.error(State.Anchor.Start,
                "'" + Field.Full + "' has one entry per layer (" +
                    std::to_string(State.SourceCount) + ") but profile '" + P.Name +
                    "' does not declare it, and --strict rejects remapping an undeclared list; "
                    "declare it with 'field " + Field.Relative + " : values;' in " + Where +
                    ", or run without --strict to remap it with a warning",
                State.Anchor);
  }

  // --- Schedules -------------------------------------------------------------

  /// Returns the inline extra layers a schedule covers: those of a target list that
  /// carries entries past the trunk (GGUF arrays include MTP blocks).
  uint32_t scheduleExtra(const ScheduleSpec &Schedule) const {
    const FieldSpec *Target = P.findField(Schedule.Target);
    return Target && Target->Tail ? Stack.inlineCount() : 0;
  }

  /// Evaluates \p Schedule for every output layer in the output config, with
  /// `n` the trunk count and \p Extra inline layers after it; returns
  /// nullopt after reporting an evaluation error.
  std::optional<std::vector<Json>> evaluateOutput(const ScheduleSpec &Schedule,
                                                  const Json &Scalar, const Json &Decoder,
                                                  uint32_t Count, uint32_t Extra) {
    auto Values = evaluateSchedule(Schedule, Scalar, Decoder, Count, Extra);
    if (!Values) {
      reportEvaluationError(Schedule, Values.takeError());
      return std::nullopt;
    }
    return std::move(*Values);
  }

  void reportEvaluationError(const ScheduleSpec &Schedule, llvm::Error Error) {
    Diags.error(Schedule.Range.Start,
                "cannot evaluate the schedule of '" + Schedule.Scalar + "': " +
                    llvm::toString(std::move(Error)),
                Schedule.Range);
  }

  /// The schedule the output must have: the source schedule moved through
  /// the map, taken from the explicit list when the source has one.
  std::optional<std::vector<Json>> mappedTruth(const ScheduleSpec &Schedule, const Json &Scalar,
                                               llvm::ArrayRef<uint32_t> TrunkMap) {
    const FieldSpec *Target = P.findField(Schedule.Target);
    const Json *Explicit = explicitList(*State.SourceDecoder, Schedule.Target, Target);
    std::vector<uint32_t> Sources(TrunkMap.begin(), TrunkMap.end());
    for (uint32_t Index = 0; Index < scheduleExtra(Schedule); ++Index)
      Sources.push_back(State.SourceCount + Index);
    std::vector<Json> Truth;
    EvalContext Context{0, State.SourceCount, State.SourceDecoder, {{Schedule.Scalar, Scalar}}};
    for (uint32_t Source : Sources) {
      if (Target && Explicit) {
        Truth.push_back(perLayerValue(*Target, *Explicit, Source));
        continue;
      }
      Context.LayerIndex = Source;
      auto Value = evaluate(*Schedule.Generator, Context);
      if (!Value) {
        reportEvaluationError(Schedule, Value.takeError());
        return std::nullopt;
      }
      Truth.push_back(std::move(*Value));
    }
    return Truth;
  }

  static std::optional<uint32_t> firstMismatch(const std::vector<Json> &A,
                                               const std::vector<Json> &B) {
    for (uint32_t Index = 0; Index < A.size(); ++Index)
      if (!sameLayerValue(A[Index], B[Index]))
        return Index;
    return std::nullopt;
  }

  void applySchedule(const ScheduleSpec &Schedule) {
    const Json *Present = lookupPath(*State.SourceDecoder, Schedule.Scalar);
    bool HasScalar = Present && !Present->is_null();
    if (!HasScalar && !Schedule.Default)
      return;
    if (Kept.count(Stack.fullPath(Schedule.Target)))
      return;
    Json Scalar = HasScalar ? *Present : *Schedule.Default;

    auto Truth = mappedTruth(Schedule, Scalar, Map);
    auto Generated = Truth ? evaluateOutput(Schedule, Scalar, outputDecoder(), Map.size(), scheduleExtra(Schedule))
                           : std::nullopt;
    if (!Generated)
      return;
    std::optional<uint32_t> Mismatch = firstMismatch(*Generated, *Truth);
    if (!Mismatch)
      return;
    if (HasScalar && Schedule.Kind == ScheduleKind::Threshold && recomputeThreshold(Schedule, *Truth))
      return;
    writeExplicitList(Schedule, Scalar, HasScalar, *Truth, *Mismatch, (*Generated)[*Mismatch]);
  }

  bool recomputeThreshold(const ScheduleSpec &Schedule, const std::vector<Json> &Truth) {
    for (uint32_t Candidate = 0; Candidate <= Map.size(); ++Candidate) {
      auto Generated = evaluateOutput(Schedule, Json(Candidate), outputDecoder(), Map.size(),
                                      scheduleExtra(Schedule));
      if (!Generated)
        return true;
      if (firstMismatch(*Generated, Truth))
        continue;
      const Json &Old = *lookupPath(*State.SourceDecoder, Schedule.Scalar);
      recordEdit(Schedule.Scalar, Old, Json(Candidate), "threshold recomputed for the new layers");
      return true;
    }
    return false;
  }

  std::string scalarText(const ScheduleSpec &Schedule, const Json &Scalar, bool HasScalar) {
    std::string Text = "'" + Stack.fullPath(Schedule.Scalar) + "' = " + Scalar.dump();
    return HasScalar ? Text : Text + " (its default when absent)";
  }

  /// Names a per-layer target in a message: its config path in quotes, or
  /// "the profile's NAME" for a value that only the profile computes.
  std::string targetName(const std::string &Target) const {
    if (P.findField(Target) || lookupPath(*State.SourceDecoder, Target))
      return "'" + Stack.fullPath(Target) + "'";
    return "the profile's " + Target;
  }

  /// Describes output layer \p Layer, where the scalar generates \p Wrong
  /// but the map needs \p Needed, the value of the layer's source.
  std::string describeMismatch(const ScheduleSpec &Schedule, uint32_t Layer, const Json &Needed,
                               const Json &Wrong) const {
    // Entries past the trunk belong to inline extra layers (GGUF nextn blocks).
    uint32_t Source = Layer < Map.size() ? Map[Layer] : State.SourceCount + (Layer - Map.size());
    return "output layer " + std::to_string(Layer) + " comes from source layer " +
           std::to_string(Source) + " and needs " + targetName(Schedule.Target) + " = " +
           P.describeValue(Schedule.Target, Needed) + ", but the scalar gives it " +
           P.describeValue(Schedule.Target, Wrong);
  }

  void writeExplicitList(const ScheduleSpec &Schedule, const Json &Scalar, bool HasScalar,
                         const std::vector<Json> &Truth, uint32_t Mismatch, const Json &Wrong) {
    const FieldSpec *Target = P.findField(Schedule.Target);
    std::string Where = describeMismatch(Schedule, Mismatch, Truth[Mismatch], Wrong);
    if (!Target) {
      Diags.error(State.Anchor.Start,
                  scalarText(Schedule, Scalar, HasScalar) +
                      " cannot express the new layer schedule: " + Where + "; profile '" +
                      P.Name + "' has no per-layer list to write instead" +
                      windowHint(Schedule, Scalar),
                  State.Anchor);
      return;
    }

    std::string TargetPath = Stack.fullPath(Schedule.Target);
    bool Materialize = !explicitList(outputDecoder(), Schedule.Target, Target);
    std::string Lead = scalarText(Schedule, Scalar, HasScalar) +
                       " no longer generates the layer schedule: " + Where;
    if (State.Options.Strict) {
      rejectUnderStrict(Schedule, Scalar, Lead, Materialize);
      return;
    }
    if (Materialize)
      recordEdit(Schedule.Target, Json(nullptr), fieldFromPerLayer(*Target, Truth),
                 "written because '" + Schedule.Scalar + "' cannot express the new schedule",
                 /*Added=*/true, Target);
    Diags.warning(State.Anchor.Start,
                  Lead + "; the explicit '" + TargetPath + "' list is " +
                      (Materialize ? "added" : "written") + ", but readers that use only '" +
                      Schedule.Scalar + "' will build the wrong layers" +
                      windowHint(Schedule, Scalar),
                  State.Anchor);
  }

  /// Reports, under --strict, a schedule that only an explicit list could
  /// fix. Nothing is added or written then, so the message names what to
  /// change instead of what rysc would do without --strict.
  void rejectUnderStrict(const ScheduleSpec &Schedule, const Json &Scalar,
                         const std::string &Lead, bool Materialize) {
    std::string TargetPath = Stack.fullPath(Schedule.Target);
    std::string Rejected = Materialize ? "adding the explicit '" + TargetPath + "' list"
                                       : "writing '" + TargetPath + "' out of step with the scalar";
    std::string Window = validWindow(Schedule, Scalar);
    Diags.error(State.Anchor.Start,
                Lead + "; --strict rejects " + Rejected + ", because readers that use only '" +
                    Schedule.Scalar + "' would build the wrong layers; use a window that keeps " +
                    "the scalar valid" + (Window.empty() ? "" : ", such as " + Window) +
                    ", or run without --strict to " +
                    (Materialize ? "add the list" : "write the list anyway"),
                State.Anchor);
  }

  /// Returns "; a window that keeps it valid: blocks[B:E]", or "" when
  /// validWindow finds none.
  std::string windowHint(const ScheduleSpec &Schedule, const Json &Scalar) {
    std::string Window = validWindow(Schedule, Scalar);
    return Window.empty() ? "" : "; a window that keeps it valid: " + Window;
  }

  /// Finds the nearest end of the single duplicate window under which the
  /// scalar still generates the schedule, as "blocks[B:E]" for a hint, or
  /// returns "" when the recipe has no single duplicate or no end works.
  std::string validWindow(const ScheduleSpec &Schedule, const Json &Scalar) {
    std::vector<size_t> Duplicates;
    for (size_t Index = 0; Index < State.Edits.size(); ++Index)
      if (State.Edits[Index].Action == LayerEdit::Kind::Duplicate)
        Duplicates.push_back(Index);
    if (Duplicates.size() != 1)
      return "";
    LayerEdit Original = State.Edits[Duplicates.front()];
    for (uint32_t Delta = 1; Delta <= State.SourceCount; ++Delta)
      for (int Sign : {-1, 1}) {
        int64_t End = static_cast<int64_t>(Original.End) + Sign * static_cast<int64_t>(Delta);
        if (End <= Original.Begin || End > State.SourceCount)
          continue;
        if (windowWorks(Schedule, Scalar, Duplicates.front(), static_cast<uint32_t>(End)))
          return "blocks[" + std::to_string(Original.Begin) + ":" + std::to_string(End) + "]";
      }
    return "";
  }

  bool windowWorks(const ScheduleSpec &Schedule, const Json &Scalar, size_t EditIndex,
                   uint32_t End) {
    std::vector<LayerEdit> Edits = State.Edits;
    Edits[EditIndex].End = End;
    for (const LayerEdit &Edit : Edits)
      if (Edit.Action == LayerEdit::Kind::Drop && Edit.Begin < End &&
          Edits[EditIndex].Begin < Edit.End)
        return false;
    std::vector<uint32_t> Candidate = LayerMap::build(State.SourceCount, Edits).sources();

    // Rebuild the fields the formula may read for this candidate map.
    Json Decoder = *State.SourceDecoder;
    for (const PerLayerField &Field : Fields)
      if (auto New = remapField(Field.Spec, *Field.Value, Candidate, State.SourceCount))
        setPath(Decoder, Field.Relative, *New);
      else
        llvm::consumeError(New.takeError());

    auto Truth = mappedTruth(Schedule, Scalar, Candidate);
    if (!Truth)
      return false;
    // A threshold may take a new value for the candidate window.
    std::vector<Json> Values = {Scalar};
    if (Schedule.Kind == ScheduleKind::Threshold)
      for (uint32_t Value = 0; Value <= Candidate.size(); ++Value)
        Values.push_back(Json(Value));
    for (const Json &Value : Values) {
      auto Generated = evaluateOutput(Schedule, Value, Decoder, Candidate.size(), scheduleExtra(Schedule));
      if (Generated && !firstMismatch(*Generated, *Truth))
        return true;
    }
    return false;
  }

  // --- Tensor families -------------------------------------------------------

  /// The type of every output layer as consumers will read it from the
  /// output config: the explicit list, or the schedule that generates it.
  std::optional<std::vector<Json>> outputLayerTypes(const std::string &Field) {
    auto Types = layerValues(P, outputDecoder(), Field, static_cast<uint32_t>(Map.size()));
    if (!Types) {
      reportEvaluationError(*P.findScheduleFor(Field), Types.takeError());
      return std::nullopt;
    }
    return std::move(*Types);
  }

  /// Returns the tensor name suffixes of each source layer, sorted. They
  /// point into the model's tensor names, because a checkpoint with many
  /// experts has 100,000 of them.
  const std::map<uint32_t, std::vector<llvm::StringRef>> &suffixesBySourceLayer() {
    if (!Suffixes.empty())
      return Suffixes;
    for (const std::string &Name : State.Model->TensorNames)
      if (auto Split = splitLayerTensorName(Name, Stack.Prefix))
        Suffixes[Split->Layer].push_back(Split->Rest);
    for (auto &[Layer, Names] : Suffixes)
      llvm::sort(Names);
    return Suffixes;
  }

  static bool hasPrefix(llvm::ArrayRef<llvm::StringRef> SortedNames, llvm::StringRef Prefix) {
    auto First = llvm::lower_bound(SortedNames, Prefix);
    return First != SortedNames.end() && First->startswith(Prefix);
  }

  void checkTensorFamily(const TensorFamilySpec &Family) {
    auto Types = outputLayerTypes(Family.Field);
    if (!Types)
      return;
    const auto &BySource = suffixesBySourceLayer();
    std::vector<std::string> Problems;
    for (uint32_t Out = 0; Out < Map.size(); ++Out) {
      if (!sameLayerValue((*Types)[Out], Family.Value))
        continue;
      auto Found = BySource.find(Map[Out]);
      llvm::ArrayRef<llvm::StringRef> Names;
      if (Found != BySource.end())
        Names = Found->second;
      for (const std::string &Required : Family.Require)
        if (!hasPrefix(Names, Required))
          Problems.push_back(describeFamilyProblem(Family, Out, "has no '" + Required + "*' tensors"));
      for (const std::string &Forbidden : Family.Forbid)
        if (hasPrefix(Names, Forbidden))
          Problems.push_back(describeFamilyProblem(Family, Out, "carries '" + Forbidden + "*' tensors"));
    }
    reportFamilyProblems(Problems);
  }

  std::string describeFamilyProblem(const TensorFamilySpec &Family, uint32_t Out,
                                    const std::string &What) {
    return "output layer " + std::to_string(Out) + " has type " +
           P.describeValue(Family.Field, Family.Value) + " in '" +
           Stack.fullPath(Family.Field) + "' but " + What + " (copied from source layer " +
           std::to_string(Map[Out]) + ")";
  }

  void reportFamilyProblems(const std::vector<std::string> &Problems) {
    const size_t Shown = 3;
    for (size_t Index = 0; Index < Problems.size() && Index < Shown; ++Index)
      Diags.error(State.Anchor.Start,
                  Problems[Index] + "; the loaded model would run this layer on the wrong path",
                  State.Anchor);
    if (Problems.size() > Shown)
      Diags.error(State.Anchor.Start,
                  std::to_string(Problems.size() - Shown) + " more layers have the same problem",
                  State.Anchor);
  }

  // --- Effects no field carries ----------------------------------------------

  EvalContext sourceContext() const {
    EvalContext Context{0, State.SourceCount, State.SourceDecoder, {}};
    Context.Overrides["n_out"] = Json(Map.size());
    Context.Overrides["n_source"] = Json(State.SourceCount);
    return Context;
  }

  void applyWarning(const WarnSpec &Warn) {
    if (Warn.Condition) {
      auto Value = evaluate(*Warn.Condition, sourceContext());
      if (!Value) {
        Diags.error(Warn.Range.Start, "cannot evaluate the condition of this warning: " +
                                          llvm::toString(Value.takeError()),
                    Warn.Range);
        return;
      }
      if (*Value != Json(true))
        return;
    }
    Diags.warning(State.Anchor.Start, Warn.Message + " (profile '" + P.Name + "')", State.Anchor);
  }

  /// Reports each source layer that the condition pins but the map copies
  /// or drops.
  void checkPinned(const WarnSpec &Pin) {
    std::vector<uint32_t> Occurrences(State.SourceCount, 0);
    for (uint32_t Source : Map)
      ++Occurrences[Source];
    EvalContext Context = sourceContext();
    for (uint32_t Layer = 0; Layer < State.SourceCount; ++Layer) {
      if (Occurrences[Layer] == 1)
        continue;
      Context.LayerIndex = Layer;
      auto Value = evaluate(*Pin.Condition, Context);
      if (!Value) {
        Diags.error(Pin.Range.Start, "cannot evaluate the condition of this rule: " +
                                         llvm::toString(Value.takeError()),
                    Pin.Range);
        return;
      }
      if (*Value != Json(true))
        continue;
      Diags.error(State.Anchor.Start,
                  "source layer " + std::to_string(Layer) + " is " +
                      (Occurrences[Layer] ? "copied" : "dropped") + ", but " + Pin.Message +
                      " (profile '" + P.Name + "')",
                  State.Anchor);
    }
  }

  void applyDerive(const DeriveSpec &Derive) {
    const Json *Old = lookupPath(*State.SourceDecoder, Derive.Field);
    if (!Old || Old->is_null())
      return;
    EvalContext Context = sourceContext();
    Context.LayerCount = Map.size();
    auto New = evaluate(*Derive.Value, Context);
    if (!New) {
      Diags.error(Derive.Range.Start, "cannot compute '" + Derive.Field + "': " +
                                          llvm::toString(New.takeError()),
                  Derive.Range);
      return;
    }
    recordEdit(Derive.Field, *Old, *New, "recomputed for the new layer count");
  }

  void checkPackedTensors() {
    for (const std::string &Name : State.Model->TensorNames)
      for (const std::string &Suffix : P.PackedTensors)
        if (llvm::StringRef(Name).endswith(Suffix))
          Diags.error(State.Anchor.Start,
                      "tensor '" + Name +
                          "' packs one slice per layer into its shape, and rysc cannot rebuild "
                          "it through the map yet; this model's layers cannot be changed",
                      State.Anchor);
  }

  // --- Module names inside other config strings ------------------------------

  /// Returns the layer named by a module path under the decoder prefix
  /// ("model.layers.7" or "model.layers.7.mlp"), or nullopt.
  std::optional<uint32_t> moduleLayer(llvm::StringRef Module, llvm::StringRef &Rest) const {
    if (!Module.consume_front(Stack.Prefix) || !Module.consume_front("."))
      return std::nullopt;
    size_t Digits = 0;
    while (Digits < Module.size() && llvm::isDigit(Module[Digits]))
      ++Digits;
    uint32_t Layer = 0;
    if (Digits == 0 || (Digits < Module.size() && Module[Digits] != '.') ||
        Module.take_front(Digits).getAsInteger(10, Layer))
      return std::nullopt;
    Rest = Module.drop_front(Digits);
    return Layer;
  }

  /// True for a regular expression that names one decoder layer by number.
  bool pinsLayer(llvm::StringRef Entry) const {
    if (!Entry.startswith("re:") && !Entry.contains("\\."))
      return false;
    std::string Plain;
    for (size_t Index = 0; Index < Entry.size(); ++Index)
      if (!(Entry[Index] == '\\' && Index + 1 < Entry.size() && Entry[Index + 1] == '.'))
        Plain += Entry[Index];
    size_t At = Plain.find(Stack.Prefix + ".");
    return At != std::string::npos && At + Stack.Prefix.size() + 1 < Plain.size() &&
           llvm::isDigit(Plain[At + Stack.Prefix.size() + 1]);
  }

  std::string renameModule(uint32_t Out, llvm::StringRef Rest) const {
    return Stack.Prefix + "." + std::to_string(Out) + Rest.str();
  }

  /// Rewrites a list of module names: layer entries follow the map, in
  /// output order, where the first layer entry stood.
  std::optional<Json> rewriteModuleList(const std::string &Path, const Json &List) {
    Json Before = Json::array(), After = Json::array();
    std::map<uint32_t, std::vector<std::string>> ByLayer;
    bool SawLayer = false;
    for (const Json &Entry : List) {
      llvm::StringRef Rest;
      std::optional<uint32_t> Layer;
      if (Entry.is_string()) {
        if (pinsLayer(Entry.get<std::string>())) {
          reportPinnedRegex(Path, Entry.get<std::string>());
          return std::nullopt;
        }
        Layer = moduleLayer(Entry.get_ref<const std::string &>(), Rest);
      }
      if (!Layer) {
        (SawLayer ? After : Before).push_back(Entry);
        continue;
      }
      SawLayer = true;
      ByLayer[*Layer].push_back(Rest.str());
    }
    Json Result = Before;
    for (uint32_t Out = 0; Out < Map.size(); ++Out)
      for (const std::string &Rest : ByLayer[Map[Out]])
        Result.push_back(renameModule(Out, Rest));
    for (const Json &Entry : After)
      Result.push_back(Entry);
    return Result;
  }

  /// Re-keys a dict keyed by module names (AutoRound extra_config).
  std::optional<Json> rewriteModuleDict(const std::string &Path, const Json &Dict) {
    Json Result = Json::object();
    std::map<uint32_t, std::vector<std::pair<std::string, const Json *>>> ByLayer;
    for (auto It = Dict.begin(); It != Dict.end(); ++It) {
      if (pinsLayer(It.key())) {
        reportPinnedRegex(Path, It.key());
        return std::nullopt;
      }
      llvm::StringRef Rest;
      std::optional<uint32_t> Layer = moduleLayer(It.key(), Rest);
      if (Layer)
        ByLayer[*Layer].push_back({Rest.str(), &It.value()});
      else
        Result[It.key()] = It.value();
    }
    for (uint32_t Out = 0; Out < Map.size(); ++Out)
      for (const auto &[Rest, Value] : ByLayer[Map[Out]])
        Result[renameModule(Out, Rest)] = *Value;
    return Result;
  }

  void reportPinnedRegex(const std::string &Path, const std::string &Entry) {
    Diags.error(State.Anchor.Start,
                "'" + Path + "' holds the regular expression '" + Entry +
                    "', which names a decoder layer by number; rysc cannot move it with the "
                    "map, so list the modules explicitly or use a wildcard",
                State.Anchor);
  }

  void rewriteModuleNamesIn(const Json &Value, const std::string &Path) {
    if (Value.is_object()) {
      bool KeyedByModule = llvm::any_of(Value.items(), [&](const auto &Item) {
        llvm::StringRef Rest;
        return moduleLayer(Item.key(), Rest).has_value() || pinsLayer(Item.key());
      });
      if (KeyedByModule) {
        if (auto New = rewriteModuleDict(Path, Value))
          recordRootEdit(Path, Value, *New, "module names follow the map");
        return;
      }
      for (auto It = Value.begin(); It != Value.end(); ++It)
        rewriteModuleNamesIn(It.value(), Path + "." + It.key());
      return;
    }
    if (Value.is_array())
      if (auto New = rewriteModuleList(Path, Value))
        recordRootEdit(Path, Value, *New, "module names follow the map");
  }

  /// Quantization configs list modules by path, layer numbers included.
  void rewriteModuleNames() {
    const Json &Config = State.Model->Config;
    for (const char *Key : {"quantization_config", "modules_to_not_convert"})
      if (Config.contains(Key))
        rewriteModuleNamesIn(Config[Key], Key);
    if (!Stack.DecoderPath.empty() && State.SourceDecoder->contains("quantization_config"))
      rewriteModuleNamesIn((*State.SourceDecoder)["quantization_config"],
                           Stack.fullPath("quantization_config"));
  }

  AnalysisState &State;
  DiagnosticEngine &Diags;
  const Profile &P;
  DecoderStack &Stack;
  std::vector<uint32_t> Map;
  Json &Output;
  std::vector<PerLayerField> Fields;
  bool RemapAll = false;
  std::map<std::string, llvm::SMRange> Remapped;
  std::map<std::string, llvm::SMRange> Kept;
  std::map<uint32_t, std::vector<llvm::StringRef>> Suffixes;
};

} // namespace

void analyzeConfig(AnalysisState &State) { ConfigAnalysis(State).run(); }

} // namespace rysc
