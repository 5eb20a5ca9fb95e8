// Transform rules for per-layer field kinds.
#include "compiler/FieldRules.h"
#include "compiler/Error.h"

#include <algorithm>
#include <set>

namespace rysc {

llvm::Expected<Json> remapField(const FieldSpec &Spec, const Json &Old,
                                llvm::ArrayRef<uint32_t> Map, uint32_t SourceCount) {
  switch (Spec.Kind) {
  case FieldKind::Values:
    return remapValues(Spec, Old, Map, SourceCount);
  case FieldKind::Pattern:
    return remapPattern(Old, Map, SourceCount);
  case FieldKind::Indices:
    return remapIndices(Spec, Old, Map, SourceCount);
  case FieldKind::Dict:
    return remapDict(Old, Map, SourceCount);
  }
  return plainError("unknown field kind");
}

llvm::Expected<Json> remapValues(const FieldSpec &Spec, const Json &Old,
                                 llvm::ArrayRef<uint32_t> Map, uint32_t SourceCount) {
  if (Spec.Broadcast && !Old.is_array())
    return Old;
  if (!Old.is_array())
    return plainError("is not a list with one entry per layer, but a " +
                      llvm::StringRef(Old.type_name()));
  if (Old.size() < SourceCount || (Old.size() > SourceCount && !Spec.Tail && !Spec.Truncate))
    return plainError("has " + llvm::Twine(Old.size()) + " entries but the model has " +
                      llvm::Twine(SourceCount) + " layers");

  Json New = Json::array();
  for (uint32_t Source : Map)
    New.push_back(Old[Source]);
  if (Spec.Tail)
    for (size_t Index = SourceCount; Index < Old.size(); ++Index)
      New.push_back(Old[Index]);
  return New;
}

llvm::Expected<Json> remapPattern(const Json &Old, llvm::ArrayRef<uint32_t> Map,
                                  uint32_t SourceCount) {
  if (!Old.is_string())
    return plainError("is not a string with one character per layer, but a " +
                      llvm::StringRef(Old.type_name()));
  const std::string &Pattern = Old.get_ref<const std::string &>();
  if (Pattern.size() != SourceCount)
    return plainError("has " + llvm::Twine(Pattern.size()) + " characters but the model has " +
                      llvm::Twine(SourceCount) + " layers");
  std::string New;
  for (uint32_t Source : Map)
    New += Pattern[Source];
  return Json(New);
}

llvm::Expected<Json> remapIndices(const FieldSpec &Spec, const Json &Old,
                                  llvm::ArrayRef<uint32_t> Map, uint32_t SourceCount) {
  if (!Old.is_array())
    return plainError("is not a list of layer indices, but a " +
                      llvm::StringRef(Old.type_name()));
  int64_t Base = Spec.OneBased ? 1 : 0;
  std::set<int64_t> Members;
  for (const Json &Entry : Old) {
    if (!Entry.is_number_integer())
      return plainError("entry " + llvm::StringRef(Entry.dump()) + " is not a layer index");
    int64_t Layer = Entry.get<int64_t>() - Base;
    if (Layer < 0 || Layer >= SourceCount)
      return plainError("entry " + llvm::Twine(Entry.get<int64_t>()) +
                        " is not a layer of this model (" + llvm::Twine(Base) + ".." +
                        llvm::Twine(SourceCount - 1 + Base) + ")");
    Members.insert(Layer);
  }
  Json New = Json::array();
  for (uint32_t Out = 0; Out < Map.size(); ++Out)
    if (Members.count(Map[Out]))
      New.push_back(static_cast<int64_t>(Out) + Base);
  return New;
}

llvm::Expected<Json> remapDict(const Json &Old, llvm::ArrayRef<uint32_t> Map,
                               uint32_t SourceCount) {
  if (!Old.is_object())
    return plainError("is not a dict keyed by layer index, but a " +
                      llvm::StringRef(Old.type_name()));
  std::map<uint32_t, const Json *> Entries;
  for (auto It = Old.begin(); It != Old.end(); ++It) {
    uint32_t Layer = 0;
    if (llvm::StringRef(It.key()).getAsInteger(10, Layer) || Layer >= SourceCount)
      return plainError("key '" + It.key() + "' is not a layer of this model (0.." +
                        llvm::Twine(SourceCount - 1) + ")");
    Entries[Layer] = &It.value();
  }

  std::vector<std::pair<uint32_t, const Json *>> Kept;
  for (uint32_t Out = 0; Out < Map.size(); ++Out) {
    auto Found = Entries.find(Map[Out]);
    if (Found != Entries.end())
      Kept.push_back({Out, Found->second});
  }

  // Zero-pad keys to the width of the largest one, as transformers saves them.
  size_t Width = Kept.empty() ? 1 : std::to_string(Kept.back().first).size();
  Json New = Json::object();
  for (const auto &[Out, Value] : Kept) {
    std::string Key = std::to_string(Out);
    Key.insert(0, Width - Key.size(), '0');
    New[Key] = *Value;
  }
  return New;
}

bool sameLayerValue(const Json &A, const Json &B) {
  if (A.is_boolean() && B.is_number())
    return A.get<bool>() == (B.get<double>() != 0);
  if (B.is_boolean() && A.is_number())
    return B.get<bool>() == (A.get<double>() != 0);
  return A == B;
}

const Json *explicitList(const Json &Decoder, llvm::StringRef Path, const FieldSpec *Spec) {
  const Json *Value = lookupPath(Decoder, Path);
  if (!Value || Value->is_null())
    return nullptr;
  if (Value->is_array() && Value->empty() && (!Spec || Spec->Kind == FieldKind::Values))
    return nullptr;
  return Value;
}

Json perLayerValue(const FieldSpec &Spec, const Json &Value, uint32_t Layer) {
  switch (Spec.Kind) {
  case FieldKind::Values:
    return Value.is_array() && Layer < Value.size() ? Value[Layer] : Json(nullptr);
  case FieldKind::Pattern:
    if (Value.is_string() && Layer < Value.get_ref<const std::string &>().size())
      return Json(std::string(1, Value.get_ref<const std::string &>()[Layer]));
    return Json(nullptr);
  case FieldKind::Indices: {
    int64_t Wanted = static_cast<int64_t>(Layer) + (Spec.OneBased ? 1 : 0);
    return Json(Value.is_array() && std::find(Value.begin(), Value.end(), Json(Wanted)) != Value.end());
  }
  case FieldKind::Dict: {
    if (!Value.is_object())
      return Json(nullptr);
    for (auto It = Value.begin(); It != Value.end(); ++It) {
      uint32_t Key = 0;
      if (!llvm::StringRef(It.key()).getAsInteger(10, Key) && Key == Layer)
        return It.value();
    }
    return Json(nullptr);
  }
  }
  return Json(nullptr);
}

Json fieldFromPerLayer(const FieldSpec &Spec, llvm::ArrayRef<Json> PerLayer) {
  if (Spec.Kind == FieldKind::Pattern) {
    std::string Pattern;
    for (const Json &Value : PerLayer)
      Pattern += Value.is_string() ? Value.get<std::string>() : "?";
    return Json(Pattern);
  }
  Json Result = Json::array();
  for (size_t Layer = 0; Layer < PerLayer.size(); ++Layer) {
    if (Spec.Kind != FieldKind::Indices) {
      Result.push_back(PerLayer[Layer]);
      continue;
    }
    if (PerLayer[Layer] == Json(true))
      Result.push_back(static_cast<int64_t>(Layer) + (Spec.OneBased ? 1 : 0));
  }
  return Result;
}

Json scheduleScalar(const ScheduleSpec &Schedule, const Json &Decoder) {
  const Json *Scalar = lookupPath(Decoder, Schedule.Scalar);
  if (Scalar && !Scalar->is_null())
    return *Scalar;
  return Schedule.Default.value_or(nullptr);
}

llvm::Expected<std::vector<Json>> evaluateSchedule(const ScheduleSpec &Schedule,
                                                   const Json &Scalar, const Json &Decoder,
                                                   uint32_t Count, uint32_t Extra) {
  std::vector<Json> Values;
  EvalContext Context{0, Count, &Decoder, {{Schedule.Scalar, Scalar}}};
  for (uint32_t Layer = 0; Layer < Count + Extra; ++Layer) {
    Context.LayerIndex = Layer;
    auto Value = evaluate(*Schedule.Generator, Context);
    if (!Value)
      return Value.takeError();
    Values.push_back(std::move(*Value));
  }
  return Values;
}

llvm::Expected<std::optional<std::vector<Json>>>
layerValues(const Profile &P, const Json &Decoder, const std::string &Field, uint32_t Count) {
  const FieldSpec *Spec = P.findField(Field);
  if (const Json *Explicit = explicitList(Decoder, Field, Spec)) {
    // A list with no profile entry is read as a plain value list.
    FieldSpec Values;
    std::vector<Json> Result;
    for (uint32_t Layer = 0; Layer < Count; ++Layer)
      Result.push_back(perLayerValue(Spec ? *Spec : Values, *Explicit, Layer));
    return Result;
  }

  const ScheduleSpec *Schedule = P.findScheduleFor(Field);
  if (!Schedule)
    return std::nullopt;
  Json Scalar = scheduleScalar(*Schedule, Decoder);
  if (Scalar.is_null())
    return std::nullopt;
  auto Generated = evaluateSchedule(*Schedule, Scalar, Decoder, Count);
  if (!Generated)
    return Generated.takeError();
  return std::move(*Generated);
}

} // namespace rysc
