// Provenance records and the JSON forms of the map, seams and edits.
#include "compiler/Provenance.h"
#include "compiler/Error.h"
#include "compiler/Sha256.h"

namespace rysc {

std::string sha256Hex(llvm::StringRef Data) { return Sha256::hex(Data); }

Json mapToJson(const LayerMap &Map) {
  Json Result = Json::array();
  for (const OutputLayer &Layer : Map.layers())
    Result.push_back(Layer.Source);
  return Result;
}

static Json neighbour(const LayerMap &Map, std::optional<uint32_t> Out) {
  if (!Out)
    return nullptr;
  return Json{{"out", *Out}, {"src", Map[*Out].Source}};
}

Json seamsToJson(const LayerMap &Map) {
  Json Result = Json::array();
  for (const Seam &S : Map.seams()) {
    Json Entry;
    Entry["statement"] = S.Statement;
    Entry["before"] = neighbour(Map, S.Before);
    Entry["first_copy"] = neighbour(Map, S.FirstCopy);
    Entry["last_copy"] = neighbour(Map, S.LastCopy);
    Entry["after"] = neighbour(Map, S.After);
    Result.push_back(std::move(Entry));
  }
  return Result;
}

Json editsToJson(const std::vector<ConfigEdit> &Edits) {
  Json Result = Json::array();
  for (const ConfigEdit &Edit : Edits) {
    Json Entry;
    Entry["path"] = Edit.Path;
    Entry["old"] = Edit.Added ? Json(nullptr) : Edit.Old;
    Entry["new"] = Edit.New;
    Entry["added"] = Edit.Added;
    Entry["reason"] = Edit.Reason;
    Result.push_back(std::move(Entry));
  }
  return Result;
}

llvm::Expected<Json> composeOriginalMap(const LayerMap &Map, const Json &Previous) {
  // A record that was itself chained maps to the first model already.
  const char *Key = Previous.contains("original_map") ? "original_map" : "map";
  const Json *Earlier = Previous.contains(Key) ? &Previous[Key] : nullptr;
  if (!Earlier || !Earlier->is_array())
    return plainError(llvm::Twine("it has no '") + Key + "' list");
  if (Earlier->size() != Map.sourceCount())
    return plainError(llvm::Twine("its '") + Key + "' lists " + llvm::Twine(Earlier->size()) +
                      " layers, but the source has " + llvm::Twine(Map.sourceCount()));

  Json Result = Json::array();
  for (const OutputLayer &Layer : Map.layers()) {
    const Json &Original = (*Earlier)[Layer.Source];
    if (!Original.is_number_integer() || Original.get<int64_t>() < 0)
      return plainError(llvm::Twine("entry ") + llvm::Twine(Layer.Source) + " of its '" + Key +
                        "' list is not a layer number");
    Result.push_back(Original);
  }
  return Result;
}

Json buildProvenance(const Compilation &C, const RecipeSource &Recipe,
                     llvm::StringRef SourceFormat, llvm::StringRef SourceConfigText,
                     const Json *Previous) {
  Json Record;
  Record["rysc_version"] = RYSC_VERSION;
  Record["recipe"] = {{"name", Recipe.Name}, {"sha256", sha256Hex(Recipe.Text)},
                      {"text", Recipe.Text}};
  Record["source"] = {{"format", SourceFormat},
                      {"config_sha256", sha256Hex(SourceConfigText)},
                      {"layers", C.Map.sourceCount()}};
  Record["profile"] = C.UsedProfile ? C.UsedProfile->Name : "";
  Record["decoder_stack"] = C.Stack.Prefix;
  Record["output_layers"] = C.Map.outputCount();
  Record["map"] = mapToJson(C.Map);
  Record["seams"] = seamsToJson(C.Map);
  Record["config_edits"] = editsToJson(C.Edits);
  Record["kept_fields"] = C.KeptFields;
  if (!Previous)
    return Record;

  // A map that does not compose is left out here; the driver warns about it.
  if (auto Original = composeOriginalMap(C.Map, *Previous))
    Record["original_map"] = std::move(*Original);
  else
    llvm::consumeError(Original.takeError());
  Record["previous"] = *Previous;
  return Record;
}

} // namespace rysc
