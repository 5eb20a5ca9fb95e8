// Provenance records and the JSON forms of the map, seams and edits.
#include "compiler/Provenance.h"
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

Json buildProvenance(const Compilation &C, const RecipeSource &Recipe,
                     llvm::StringRef SourceFormat, llvm::StringRef SourceConfigText) {
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
  return Record;
}

} // namespace rysc
