// The checks of `rysc check` and the report of `rysc inspect`.
#include "backends/ModelCheck.h"
#include "compiler/LayerListText.h"
#include "compiler/FieldRules.h"
#include "compiler/LayerNames.h"
#include "compiler/Provenance.h"

#include "llvm/ADT/StringExtras.h"

#include <set>

namespace rysc {

std::optional<ResolvedModel> resolveModelOnly(const LoadedModel &Model, ProfileRegistry &Registry,
                                              DiagnosticEngine &Diags) {
  ast::Recipe Empty;
  Empty.BufferId = Diags.addBuffer("", "<check>");
  CompileOptions Options;
  Options.ResolveOnly = true;
  Options.Strict = Diags.warningsAsErrors();
  auto C = compileRecipe(Diags, Registry, Empty, &Model.Facts, Options);
  if (!C)
    return std::nullopt;

  ResolvedModel R;
  R.Model = &Model;
  R.C = std::move(*C);
  R.Layers = R.C.Map.sourceCount();
  R.Decoder = R.C.Stack.DecoderPath.empty() ? &Model.Facts.Config
                                            : lookupPath(Model.Facts.Config, R.C.Stack.DecoderPath);
  for (const auto &[Name, Location] : Model.Tensors) {
    auto Split = splitLayerTensorName(Name, R.C.Stack.Prefix);
    if (!Split)
      continue;
    R.Suffixes[Split->Layer].push_back(Split->Rest.str());
    R.BlockBytes[Split->Layer] += Location.Size;
  }
  return R;
}

namespace {

const Profile &profileOf(const ResolvedModel &R) { return *R.C.UsedProfile; }

std::string full(const ResolvedModel &R, llvm::StringRef Relative) {
  return R.C.Stack.fullPath(Relative);
}

/// Length and range checks of every declared per-layer field.
void checkFieldShapes(const ResolvedModel &R, std::vector<Finding> &Findings) {
  uint32_t Counted = R.C.Stack.countedInline();
  for (const FieldSpec &Spec : profileOf(R).Fields) {
    const Json *Value = lookupPath(*R.Decoder, Spec.Path);
    if (!Value || Value->is_null() || (Spec.Broadcast && !Value->is_array()))
      continue;
    // A remap through the identity map applies every length and range rule.
    std::vector<uint32_t> Identity(R.Layers);
    for (uint32_t Layer = 0; Layer < R.Layers; ++Layer)
      Identity[Layer] = Layer;
    FieldSpec Lenient = Spec;
    if (Counted && Value->is_array() && Value->size() == R.Layers + Counted)
      Lenient.Tail = true;
    auto Result = remapField(Lenient, *Value, Identity, R.Layers);
    if (Result)
      continue;
    Findings.push_back({Severity::Error, "per-layer-field",
                        "'" + full(R, Spec.Path) + "' " + llvm::toString(Result.takeError()),
                        "rebuild the list with one entry per layer (" + std::to_string(R.Layers) +
                            "), in the order of the tensors"});
  }
}

/// Compares each schedule scalar with the explicit list it would generate.
void checkSchedules(const ResolvedModel &R, std::vector<Finding> &Findings) {
  for (const ScheduleSpec &Schedule : profileOf(R).Schedules) {
    const FieldSpec *Target = profileOf(R).findField(Schedule.Target);
    const Json *Explicit = explicitList(*R.Decoder, Schedule.Target, Target);
    const Json *Scalar = lookupPath(*R.Decoder, Schedule.Scalar);
    if (!Target || !Explicit)
      continue;
    Json Value = scheduleScalar(Schedule, *R.Decoder);
    if (Value.is_null())
      continue;
    // A schedule that cannot be evaluated is a profile error, which the
    // analysis of a recipe reports.
    auto Generated = evaluateSchedule(Schedule, Value, *R.Decoder, R.Layers);
    if (!Generated) {
      llvm::consumeError(Generated.takeError());
      continue;
    }
    for (uint32_t Layer = 0; Layer < R.Layers; ++Layer) {
      Json Listed = perLayerValue(*Target, *Explicit, Layer);
      // A list too short for the layer count is reported by the field check.
      if (Listed.is_null())
        break;
      if (sameLayerValue((*Generated)[Layer], Listed))
        continue;
      std::string ScalarText = "'" + full(R, Schedule.Scalar) + "' = " + Value.dump() +
                               (Scalar && !Scalar->is_null() ? "" : " (its default)");
      const Profile &P = profileOf(R);
      Findings.push_back(
          {Severity::Warning, "schedule",
           ScalarText + " disagrees with '" + full(R, Schedule.Target) + "' from layer " +
               std::to_string(Layer) + ": the scalar gives it " +
               P.describeValue(Schedule.Target, (*Generated)[Layer]) + ", but the list has " +
               P.describeValue(Schedule.Target, Listed) +
               "; readers of the list (transformers, llama.cpp with the array) and readers of "
               "the scalar alone (MLX, ik_llama.cpp) build different models",
           "use a window whose length keeps the scalar valid, or serve only with readers of '" +
               full(R, Schedule.Target) + "'"});
      break;
    }
  }
}

/// The fix for a tensor-family mismatch: write or correct the explicit list
/// when the file has one, else say that the scalar's schedule is wrong.
std::string familyFix(const ResolvedModel &R, const TensorFamilySpec &Family) {
  if (explicitList(*R.Decoder, Family.Field, profileOf(R).findField(Family.Field)))
    return "make '" + full(R, Family.Field) +
           "' match the tensors (rebuild it through the layer map that moved them)";
  return "the schedule scalar no longer describes the layers: add an explicit '" +
         full(R, Family.Field) + "' that matches the tensors, or rebuild the model with rysc";
}

bool hasPrefix(const std::vector<std::string> &Names, llvm::StringRef Prefix) {
  return llvm::any_of(Names, [&](const std::string &N) { return llvm::StringRef(N).startswith(Prefix); });
}

void checkTensorFamilies(const ResolvedModel &R, std::vector<Finding> &Findings) {
  for (const TensorFamilySpec &Family : profileOf(R).TensorFamilies) {
    auto Types = layerTypes(R, Family.Field);
    if (!Types)
      continue;
    unsigned Reported = 0, Total = 0;
    for (uint32_t Layer = 0; Layer < R.Layers && Layer < Types->size(); ++Layer) {
      const Json &Type = (*Types)[Layer];
      if (!sameLayerValue(Type, Family.Value))
        continue;
      auto Found = R.Suffixes.find(Layer);
      static const std::vector<std::string> None;
      const std::vector<std::string> &Names = Found == R.Suffixes.end() ? None : Found->second;
      std::vector<std::string> Problems;
      for (const std::string &Required : Family.Require)
        if (!hasPrefix(Names, Required))
          Problems.push_back("lacks '" + Required + "*' tensors");
      for (const std::string &Forbidden : Family.Forbid)
        if (hasPrefix(Names, Forbidden))
          Problems.push_back("carries '" + Forbidden + "*' tensors");
      if (Problems.empty())
        continue;
      ++Total;
      if (Reported++ >= 5)
        continue;
      Findings.push_back(
          {Severity::Error, "tensor-family",
           "layer " + std::to_string(Layer) + " is " +
               profileOf(R).describeValue(Family.Field, Type) + " in '" +
               full(R, Family.Field) + "' but " + llvm::join(Problems, " and ") +
               ": the model loads, then runs this layer on the wrong path",
           familyFix(R, Family)});
    }
    if (Total > 5)
      Findings.push_back({Severity::Error, "tensor-family",
                          std::to_string(Total - 5) + " more layers have the same problem",
                          familyFix(R, Family)});
  }
}

/// Extra-stack blocks numbered after the trunk must carry the stack's
/// marker tensors, and no trunk block may.
void checkExtraStacks(const ResolvedModel &R, std::vector<Finding> &Findings) {
  uint32_t First = R.Layers;
  for (const ExtraStackSpec &Spec : profileOf(R).ExtraStacks) {
    if (!Spec.Inline || Spec.Prefix.empty())
      continue;
    uint32_t Count = 0;
    for (const InlineStack &Stack : R.C.Stack.Inline)
      if (Stack.Name == Spec.Name)
        Count = Stack.Count;
    for (const auto &[Block, Names] : R.Suffixes) {
      bool Marked = hasPrefix(Names, Spec.Prefix);
      bool InStack = Block >= First && Block < First + Count;
      if (Marked && !InStack)
        Findings.push_back({Severity::Error, "extra-stack",
                            "block " + std::to_string(Block) + " carries '" + Spec.Prefix +
                                "*' tensors of the '" + Spec.Name + "' stack, but that stack is " +
                                (Count ? "blocks " + std::to_string(First) + ".." +
                                             std::to_string(First + Count - 1)
                                       : std::string("empty")),
                            "renumber the " + Spec.Name + " block to follow the trunk"});
      if (InStack && !Marked)
        Findings.push_back({Severity::Error, "extra-stack",
                            "block " + std::to_string(Block) + " should be a '" + Spec.Name +
                                "' block but has no '" + Spec.Prefix + "*' tensors",
                            "renumber the " + Spec.Name + " block to follow the trunk"});
    }
  }
}

void checkHfFiles(const ResolvedModel &R, std::vector<Finding> &Findings) {
  const LoadedModel &M = *R.Model;
  if (!M.Hf)
    return;
  for (const auto &[Name, Reason] : M.Hf->SkippedFiles)
    Findings.push_back({Severity::Error, "stray-shard",
                        "'" + Name + "' is not in the index; tools that collect every "
                        "*.safetensors file load its tensors a second time",
                        "delete '" + Name + "'"});
  if (!M.Hf->Index)
    return;
  uint64_t Total = 0;
  for (const auto &[Name, Location] : M.Tensors)
    Total += Location.Size;
  const nlohmann::json &Index = *M.Hf->Index;
  const nlohmann::json *Size = Index.contains("metadata") && Index["metadata"].contains("total_size")
                                   ? &Index["metadata"]["total_size"]
                                   : nullptr;
  if (!Size || *Size != nlohmann::json(Total))
    Findings.push_back({Severity::Error, "index",
                        "model.safetensors.index.json has total_size " +
                            (Size ? Size->dump() : std::string("(missing)")) +
                            ", but the shards hold " + std::to_string(Total) + " tensor bytes",
                        "set metadata.total_size to " + std::to_string(Total)});
}

/// Returns the parts of a provenance record that inspect shows. Earlier
/// recipes come from the chained "previous" records, nearest first.
Json summarizeProvenance(const Json &Record) {
  const Json *Name = lookupPath(Record, "recipe.name");
  Json Summary = {{"recipe", Name ? *Name : Json(nullptr)},
                  {"map", Record.value("map", Json::array())}};
  Json Earlier = Json::array();
  for (const Json *Previous = &Record; Previous->contains("previous") &&
                                       (*Previous)["previous"].is_object();) {
    Previous = &(*Previous)["previous"];
    const Json *EarlierName = lookupPath(*Previous, "recipe.name");
    Earlier.push_back(EarlierName ? *EarlierName : Json(nullptr));
  }
  if (!Earlier.empty()) {
    Summary["earlier_recipes"] = std::move(Earlier);
    Summary["original_map"] = Record.value("original_map", Json(nullptr));
  }
  return Summary;
}

} // namespace

std::optional<std::vector<Json>> layerTypes(const ResolvedModel &R, const std::string &Field) {
  auto Types = layerValues(profileOf(R), *R.Decoder, Field, R.Layers);
  if (!Types) {
    llvm::consumeError(Types.takeError());
    return std::nullopt;
  }
  return std::move(*Types);
}

std::vector<Finding> checkModel(const ResolvedModel &R) {
  std::vector<Finding> Findings;
  checkFieldShapes(R, Findings);
  checkSchedules(R, Findings);
  checkTensorFamilies(R, Findings);
  checkExtraStacks(R, Findings);
  checkHfFiles(R, Findings);
  return Findings;
}

/// Returns, for each field that a tensor rule reads and each of its values,
/// the first tensor-name components that the last layer with that value
/// carries, e.g. "self_attn" for a full-attention layer.
Json tensorFamilies(const ResolvedModel &R) {
  const Profile &P = profileOf(R);
  std::vector<std::string> Fields;
  for (const TensorFamilySpec &Family : P.TensorFamilies)
    if (!llvm::is_contained(Fields, Family.Field))
      Fields.push_back(Family.Field);
  Json Families = Json::array();
  for (const std::string &Field : Fields) {
    auto Types = layerTypes(R, Field);
    if (!Types)
      continue;
    std::vector<std::pair<Json, std::set<std::string>>> ByValue;
    for (uint32_t Layer = 0; Layer < Types->size(); ++Layer) {
      const Json &Type = (*Types)[Layer];
      auto Found = std::find_if(ByValue.begin(), ByValue.end(),
                                [&](const auto &Entry) { return Entry.first == Type; });
      if (Found == ByValue.end())
        Found = ByValue.emplace(ByValue.end(), Type, std::set<std::string>());
      Found->second.clear();
      auto Suffixes = R.Suffixes.find(Layer);
      if (Suffixes != R.Suffixes.end())
        for (const std::string &Suffix : Suffixes->second)
          Found->second.insert(llvm::StringRef(Suffix).split('.').first.str());
    }
    for (const auto &[Value, Groups] : ByValue) {
      Json Entry = {{"field", full(R, Field)}, {"value", Value}, {"carry", Groups}};
      if (const std::string *Meaning = P.meaningOf(Field, Value))
        Entry["meaning"] = *Meaning;
      Families.push_back(std::move(Entry));
    }
  }
  return Families;
}

Json inspectModel(const ResolvedModel &R) {
  const LoadedModel &M = *R.Model;
  const Profile &P = profileOf(R);
  Json Report;
  Report["format"] = M.Kind == LoadedModel::Format::Gguf ? "gguf" : "safetensors";
  Report["profile"] = P.Name;
  Report["layers"] = R.Layers;
  Report["layer_count_field"] = full(R, R.C.Stack.CountField);
  Report["decoder_stack"] = R.C.Stack.Prefix;

  Json Fields = Json::array();
  for (const FieldSpec &Spec : P.Fields) {
    const Json *Value = lookupPath(*R.Decoder, Spec.Path);
    if (!Value || Value->is_null() || (Spec.Broadcast && !Value->is_array()))
      continue;
    Json Entry = {{"field", full(R, Spec.Path)}, {"kind", fieldKindName(Spec.Kind)}};
    if (Value->is_array() || Value->is_string())
      Entry["length"] = Value->is_array() ? Value->size() : Value->get<std::string>().size();
    Fields.push_back(std::move(Entry));
  }
  Report["per_layer_fields"] = Fields;

  Json Schedules = Json::array();
  for (const FieldSpec &Spec : P.Fields)
    if (auto Types = layerTypes(R, Spec.Path)) {
      if (llvm::all_of(*Types, [](const Json &T) { return T.is_null(); }))
        continue;
      Json Entry = {{"field", full(R, Spec.Path)},
                    {"values", *Types},
                    {"segments", segmentsToJson(segmentLayers(*Types))}};
      Json Meanings = Json::array();
      for (const auto &[Value, Meaning] : valueMeanings(P, Spec.Path, *Types))
        Meanings.push_back({{"value", Value}, {"meaning", Meaning}});
      if (!Meanings.empty())
        Entry["meanings"] = Meanings;
      Schedules.push_back(std::move(Entry));
    }
  Report["schedules"] = Schedules;

  Json Stacks = Json::array();
  for (const InlineStack &Stack : R.C.Stack.Inline)
    Stacks.push_back({{"name", Stack.Name}, {"blocks", Stack.Count},
                      {"first_block", R.Layers}, {"counted_in_layer_count", Stack.Counted}});
  for (const ExtraStackSpec &Spec : P.ExtraStacks)
    if (!Spec.Inline) {
      unsigned Tensors = 0;
      for (const auto &[Name, Location] : M.Tensors)
        Tensors += llvm::StringRef(Name).startswith(Spec.Prefix);
      if (Tensors)
        Stacks.push_back({{"name", Spec.Name}, {"prefix", Spec.Prefix}, {"tensors", Tensors}});
    }
  Report["extra_stacks"] = Stacks;

  Report["tensor_families"] = tensorFamilies(R);

  Json Bytes = Json::array();
  for (uint32_t Layer = 0; Layer < R.Layers; ++Layer)
    Bytes.push_back(R.BlockBytes.count(Layer) ? R.BlockBytes.at(Layer) : 0);
  Report["bytes_per_layer"] = Bytes;
  Json Files = Json::array();
  for (const auto &[Name, Size] : M.dataFiles())
    Files.push_back({{"file", Name}, {"size", Size}});
  Report["files"] = Files;
  if (M.Provenance)
    Report["rysc_provenance"] = summarizeProvenance(*M.Provenance);
  return Report;
}

} // namespace rysc
