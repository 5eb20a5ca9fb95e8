// Checking profile declarations into Profile data, and the profile registry.
#include "compiler/Profile.h"
#include "compiler/FieldRules.h"
#include "compiler/Parser.h"
#include "compiler/ProfileText.h"
#include "compiler/Stdlib.h"

#include "llvm/ADT/StringExtras.h"

namespace rysc {

llvm::StringRef fieldKindName(FieldKind Kind) {
  switch (Kind) {
  case FieldKind::Values:
    return "values";
  case FieldKind::Pattern:
    return "pattern";
  case FieldKind::Indices:
    return "indices";
  case FieldKind::Dict:
    return "dict";
  }
  return "values";
}

const FieldSpec *Profile::findField(llvm::StringRef Path) const {
  for (const FieldSpec &Field : Fields)
    if (Field.Path == Path)
      return &Field;
  return nullptr;
}

const ScheduleSpec *Profile::findScheduleFor(llvm::StringRef Target) const {
  for (const ScheduleSpec &Schedule : Schedules)
    if (Schedule.Target == Target)
      return &Schedule;
  return nullptr;
}

const ScheduleSpec *Profile::findSchedule(llvm::StringRef Scalar) const {
  for (const ScheduleSpec &Schedule : Schedules)
    if (Schedule.Scalar == Scalar)
      return &Schedule;
  return nullptr;
}

const std::string *Profile::meaningOf(llvm::StringRef Field,
                                     const nlohmann::ordered_json &Value) const {
  for (const MeaningSpec &Meaning : Meanings)
    if (Meaning.Field == Field && sameLayerValue(Meaning.Value, Value))
      return &Meaning.Text;
  return nullptr;
}

std::string Profile::describeValue(llvm::StringRef Field,
                                   const nlohmann::ordered_json &Value) const {
  const std::string *Meaning = meaningOf(Field, Value);
  return Meaning ? Value.dump() + " (" + *Meaning + ")" : Value.dump();
}

namespace {

/// Replaces the entry of \p Items whose key equals \p Key, or appends.
template <typename T, typename KeyFn>
void upsert(std::vector<T> &Items, T Item, KeyFn Key) {
  for (T &Existing : Items)
    if (Key(Existing) == Key(Item)) {
      Existing = std::move(Item);
      return;
    }
  Items.push_back(std::move(Item));
}

std::optional<FieldKind> parseFieldKind(llvm::StringRef Name) {
  if (Name == "values")
    return FieldKind::Values;
  if (Name == "pattern")
    return FieldKind::Pattern;
  if (Name == "indices")
    return FieldKind::Indices;
  if (Name == "dict")
    return FieldKind::Dict;
  return std::nullopt;
}

nlohmann::ordered_json literalValue(const ast::Expr &Expr) {
  switch (Expr.Kind) {
  case ast::ExprKind::Int:
    return Expr.IntValue;
  case ast::ExprKind::Float:
    return Expr.FloatValue;
  case ast::ExprKind::String:
    return Expr.Text;
  case ast::ExprKind::Bool:
    return Expr.BoolValue;
  default:
    return nullptr;
  }
}

/// Checks one declaration's items and applies them over \p Result, which
/// starts as a copy of the base profile when the declaration extends one.
class ProfileBuilder {
public:
  ProfileBuilder(DiagnosticEngine &Diags, Profile &Result) : Diags(Diags), Result(Result) {}

  void apply(const ast::ProfileDecl &Decl) {
    if (!Decl.ModelTypes.empty())
      Result.ModelTypes = Decl.ModelTypes;
    if (!Decl.GgufArchs.empty())
      Result.GgufArchs = Decl.GgufArchs;
    if (Decl.HasDecoder) {
      Result.DecoderPaths.clear();
      for (const ast::FieldPath &Path : Decl.DecoderPaths)
        Result.DecoderPaths.push_back(Path.str());
    }
    if (!Decl.LayerCount.empty()) {
      Result.LayerCountFields.clear();
      for (const ast::FieldPath &Path : Decl.LayerCount)
        Result.LayerCountFields.push_back(Path.str());
    }
    if (!Decl.StackPrefixes.empty())
      Result.StackPrefixes = Decl.StackPrefixes;
    for (const ast::FieldDecl &Field : Decl.Fields)
      applyField(Field);
    for (const ast::ScheduleDecl &Schedule : Decl.Schedules)
      applySchedule(Schedule);
    for (const ast::ExtraStackDecl &Stack : Decl.ExtraStacks)
      applyExtraStack(Stack);
    for (const ast::TensorFamilyDecl &Family : Decl.TensorFamilies)
      applyTensorFamily(Family);
    for (const ast::FieldPath &Path : Decl.NotPerLayer)
      Result.NotPerLayer.push_back(Path.str());
    for (const ast::WarnDecl &Warn : Decl.Warnings)
      Result.Warnings.push_back({Warn.Message, Warn.Condition.get(), Warn.Range});
    for (const ast::WarnDecl &Pin : Decl.Pinned)
      Result.Pinned.push_back({Pin.Message, Pin.Condition.get(), Pin.Range});
    for (const ast::DeriveDecl &Derive : Decl.Derives)
      upsert(Result.Derives, DeriveSpec{Derive.Field.str(), Derive.Value.get(), Derive.Range},
             [](const DeriveSpec &D) { return D.Field; });
    for (const std::string &Name : Decl.PackedTensors)
      Result.PackedTensors.push_back(Name);
    for (const ast::MeaningDecl &Meaning : Decl.Meanings)
      applyMeaning(Meaning);
  }

private:
  void applyField(const ast::FieldDecl &Decl) {
    std::optional<FieldKind> Kind = parseFieldKind(Decl.Kind);
    if (!Kind) {
      Diags.error(Decl.KindRange.Start,
                  "unknown field kind '" + Decl.Kind + "'; expected values, pattern, indices or dict" +
                      didYouMean(Decl.Kind, {"values", "pattern", "indices", "dict"}),
                  Decl.KindRange);
      return;
    }
    FieldSpec Spec;
    Spec.Path = Decl.Path.str();
    Spec.Kind = *Kind;
    Spec.Range = Decl.Path.Range;
    for (size_t Index = 0; Index < Decl.Options.size(); ++Index)
      applyFieldOption(Spec, Decl.Options[Index], Decl.OptionRanges[Index]);
    upsert(Result.Fields, std::move(Spec), [](const FieldSpec &F) { return F.Path; });
  }

  void applyFieldOption(FieldSpec &Spec, const std::string &Option, llvm::SMRange Range) {
    static const std::vector<std::string> Known = {"one_based", "tail",  "truncate", "broadcast",
                                                   "bool",      "int32", "uint32",   "float32"};
    if (Option == "bool" || Option == "int32" || Option == "uint32" || Option == "float32")
      Spec.StorageType = Option;
    else if (Option == "broadcast" && Spec.Kind == FieldKind::Values)
      Spec.Broadcast = true;
    else if (Option == "one_based" && Spec.Kind == FieldKind::Indices)
      Spec.OneBased = true;
    else if (Option == "tail" && Spec.Kind != FieldKind::Indices)
      Spec.Tail = true;
    else if (Option == "truncate" && Spec.Kind != FieldKind::Indices)
      Spec.Truncate = true;
    else
      Diags.error(Range.Start,
                  "option '" + Option + "' does not apply to a field of kind '" +
                      fieldKindName(Spec.Kind) + "'" + didYouMean(Option, Known),
                  Range);
  }

  void applySchedule(const ast::ScheduleDecl &Decl) {
    ScheduleSpec Spec;
    if (Decl.Kind == "period") {
      Spec.Kind = ScheduleKind::Period;
    } else if (Decl.Kind == "threshold") {
      Spec.Kind = ScheduleKind::Threshold;
    } else {
      Diags.error(Decl.KindRange.Start,
                  "unknown schedule kind '" + Decl.Kind + "'; expected period or threshold" +
                      didYouMean(Decl.Kind, {"period", "threshold"}),
                  Decl.KindRange);
      return;
    }
    Spec.Scalar = Decl.Scalar.str();
    if (Decl.Default && *Decl.Default)
      Spec.Default = literalValue(**Decl.Default);
    Spec.Target = Decl.Target.str();
    Spec.Generator = Decl.Generator.get();
    Spec.Range = Decl.Scalar.Range;
    upsert(Result.Schedules, std::move(Spec), [](const ScheduleSpec &S) { return S.Scalar; });
  }

  void applyExtraStack(const ast::ExtraStackDecl &Decl) {
    ExtraStackSpec Spec;
    Spec.Name = Decl.Name;
    if (Decl.Placement == "inline" || Decl.Placement == "counted") {
      Spec.Inline = true;
      Spec.Counted = Decl.Placement == "counted";
    } else if (Decl.Placement != "separate") {
      Diags.error(Decl.PlacementRange.Start,
                  "unknown extra-stack placement '" + Decl.Placement +
                      "'; expected inline, counted or separate" +
                      didYouMean(Decl.Placement, {"inline", "counted", "separate"}),
                  Decl.PlacementRange);
      return;
    }
    Spec.Prefix = Decl.Prefix;
    if (Decl.CountField)
      Spec.CountField = Decl.CountField->str();
    if (Spec.Inline && Spec.CountField.empty())
      Diags.error(Decl.Range.Start, "an inline extra stack needs 'count FIELD'", Decl.Range);
    if (!Spec.Inline && Spec.Prefix.empty())
      Diags.error(Decl.Range.Start, "a separate extra stack needs 'prefix \"...\"'", Decl.Range);
    upsert(Result.ExtraStacks, std::move(Spec), [](const ExtraStackSpec &S) { return S.Name; });
  }

  /// Records the meanings of a field that the profile (or its base) lists
  /// per layer: as a field, a schedule target or a tensor rule's field. A
  /// meaning of any other name would never be shown, so it is an error.
  void applyMeaning(const ast::MeaningDecl &Decl) {
    std::string Field = Decl.Field.str();
    std::vector<std::string> Known = perLayerNames();
    if (!llvm::is_contained(Known, Field)) {
      Diags.error(Decl.Field.Range.Start,
                  "'meaning' names '" + Field + "', which is not a field, a schedule target or a "
                      "'tensors when' field of profile '" + Result.Name + "'" +
                      didYouMean(Field, Known),
                  Decl.Field.Range);
      return;
    }
    for (const auto &[Value, Text] : Decl.Entries)
      upsert(Result.Meanings, MeaningSpec{Field, literalValue(*Value), Text, Decl.Range},
             [](const MeaningSpec &M) { return M.Field + "=" + M.Value.dump(); });
  }

  std::vector<std::string> perLayerNames() const {
    std::vector<std::string> Names;
    for (const FieldSpec &Field : Result.Fields)
      Names.push_back(Field.Path);
    for (const ScheduleSpec &Schedule : Result.Schedules)
      Names.push_back(Schedule.Target);
    for (const TensorFamilySpec &Family : Result.TensorFamilies)
      Names.push_back(Family.Field);
    return Names;
  }

  void applyTensorFamily(const ast::TensorFamilyDecl &Decl) {
    TensorFamilySpec Spec;
    Spec.Field = Decl.Field.str();
    Spec.Value = literalValue(*Decl.Value);
    Spec.Require = Decl.Require;
    Spec.Forbid = Decl.Forbid;
    Spec.Range = Decl.Range;
    upsert(Result.TensorFamilies, std::move(Spec),
           [](const TensorFamilySpec &S) { return S.Field + "=" + S.Value.dump(); });
  }

  DiagnosticEngine &Diags;
  Profile &Result;
};

} // namespace

void ProfileRegistry::loadStdlib(DiagnosticEngine &Diags) {
  std::vector<std::pair<const ast::ProfileDecl *, std::string>> Decls;
  for (const StdlibFile &File : stdlibFiles()) {
    std::string Name = ("<stdlib>/" + File.Name).str();
    auto Recipe = std::make_unique<ast::Recipe>(parseRecipeText(Diags, File.Text, Name));
    for (const ast::ProfileDecl &Decl : Recipe->Profiles)
      Decls.push_back({&Decl, Name});
    Owned.push_back(std::move(Recipe));
  }
  addInDependencyOrder(Diags, Decls, /*FromStdlib=*/true);
}

void ProfileRegistry::addRecipeProfiles(DiagnosticEngine &Diags, const ast::Recipe &Recipe) {
  llvm::StringRef Name = Diags.sourceMgr().getMemoryBuffer(Recipe.BufferId)->getBufferIdentifier();
  std::vector<std::pair<const ast::ProfileDecl *, std::string>> Decls;
  for (const ast::ProfileDecl &Decl : Recipe.Profiles)
    Decls.push_back({&Decl, Name.str()});
  addInDependencyOrder(Diags, Decls, /*FromStdlib=*/false);
}

void ProfileRegistry::addInDependencyOrder(
    DiagnosticEngine &Diags, std::vector<std::pair<const ast::ProfileDecl *, std::string>> Decls,
    bool FromStdlib) {
  // A profile may extend one declared later in the same set, so add those
  // whose base is known until no more can be added; the rest report the
  // unknown base.
  bool Progress = true;
  while (Progress && !Decls.empty()) {
    Progress = false;
    for (size_t Index = 0; Index < Decls.size();) {
      const ast::ProfileDecl &Decl = *Decls[Index].first;
      if (Decl.Base && !find(*Decl.Base)) {
        ++Index;
        continue;
      }
      addDecl(Diags, Decl, FromStdlib, Decls[Index].second);
      Decls.erase(Decls.begin() + Index);
      Progress = true;
    }
  }
  for (const auto &[Decl, SourceName] : Decls)
    addDecl(Diags, *Decl, FromStdlib, SourceName);
}

void ProfileRegistry::addDecl(DiagnosticEngine &Diags, const ast::ProfileDecl &Decl,
                              bool FromStdlib, llvm::StringRef SourceName) {
  if (const Profile *Existing = find(Decl.Name)) {
    Diags.error(Decl.NameRange.Start,
                "profile '" + Decl.Name + "' is already defined" +
                    (Existing->FromStdlib ? " in the stdlib" : "") +
                    "; declare 'profile my_" + Decl.Name + " extends " + Decl.Name +
                    " { ... }' to change it",
                Decl.NameRange);
    return;
  }

  auto Result = std::make_unique<Profile>();
  if (Decl.Base) {
    const Profile *Base = find(*Decl.Base);
    if (Base) {
      *Result = *Base;
      // A derived profile matches only the model types it lists itself.
      Result->ModelTypes.clear();
      Result->GgufArchs.clear();
    } else {
      // Reported, and the items are still checked so one run shows all.
      Diags.error(Decl.BaseRange.Start,
                  "unknown base profile '" + *Decl.Base + "'" + didYouMean(*Decl.Base, names()),
                  Decl.BaseRange);
    }
    Result->Base = *Decl.Base;
  }
  Result->Name = Decl.Name;
  Result->SourceName = SourceName.str();
  if (Decl.Range.isValid()) {
    Result->Line = Diags.lineAndColumn(Decl.Range.Start).first;
    llvm::SourceMgr &Sources = Diags.sourceMgr();
    llvm::StringRef Buffer =
        Sources.getMemoryBuffer(Sources.FindBufferContainingLoc(Decl.Range.Start))->getBuffer();
    Result->Definition = declarationWithComments(Buffer, Decl.Range.Start.getPointer(),
                                                 Decl.Range.End.getPointer());
  }
  Result->FromStdlib = FromStdlib;
  ProfileBuilder(Diags, *Result).apply(Decl);
  Profiles.push_back(std::move(Result));
}

const Profile *ProfileRegistry::find(llvm::StringRef Name) const {
  for (const auto &P : Profiles)
    if (P->Name == Name)
      return P.get();
  return nullptr;
}

const Profile *ProfileRegistry::matchModelType(llvm::StringRef ModelType) const {
  for (bool Stdlib : {false, true})
    for (const auto &P : Profiles)
      if (P->FromStdlib == Stdlib && llvm::is_contained(P->ModelTypes, ModelType))
        return P.get();
  return nullptr;
}

const Profile *ProfileRegistry::matchGgufArch(llvm::StringRef Arch) const {
  for (bool Stdlib : {false, true})
    for (const auto &P : Profiles)
      if (P->FromStdlib == Stdlib && llvm::is_contained(P->GgufArchs, Arch))
        return P.get();
  return nullptr;
}

std::vector<std::string> ProfileRegistry::names() const {
  std::vector<std::string> Result;
  for (const auto &P : Profiles)
    Result.push_back(P->Name);
  return Result;
}

std::vector<const Profile *> ProfileRegistry::stdlibProfiles() const {
  std::vector<const Profile *> Result;
  for (const auto &P : Profiles)
    if (P->FromStdlib)
      Result.push_back(P.get());
  return Result;
}

} // namespace rysc
