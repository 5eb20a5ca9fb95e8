// A fast path for reading model.safetensors.index.json.
#include "backends/hf/IndexScan.h"

namespace rysc::hf {

namespace {

using Json = nlohmann::json;

/// The handler nlohmann::json::sax_parse calls for each token. Values
/// outside weight_map are built into a document, as nlohmann's own parser
/// builds them, so a repeated key keeps its last value. Inside weight_map,
/// only string values are taken, into a flat list.
class IndexScanner {
public:
  explicit IndexScanner(IndexContents &Out) : Out(Out) {}

  bool null() { return value(nullptr); }
  bool boolean(bool Value) { return value(Value); }
  bool number_integer(Json::number_integer_t Value) { return value(Value); }
  bool number_unsigned(Json::number_unsigned_t Value) { return value(Value); }
  bool number_float(Json::number_float_t Value, const std::string &) {
    return value(Value);
  }
  bool binary(Json::binary_t &) { return false; }
  bool parse_error(size_t, const std::string &,
                   const nlohmann::detail::exception &) {
    return false;
  }

  bool string(std::string &Value) {
    if (!InWeightMap)
      return value(std::move(Value));
    Out.WeightMap.emplace_back(std::move(Key), std::move(Value));
    return true;
  }

  bool start_object(size_t) {
    if (InWeightMap)
      return false;
    if (Stack.empty()) {
      Stack.push_back(&Out.Rest);
      return true;
    }
    if (Stack.size() == 1 && Key == "weight_map") {
      InWeightMap = true;
      SawWeightMap = true;
      return true;
    }
    return open(Json::object());
  }

  bool end_object() {
    if (InWeightMap) {
      InWeightMap = false;
      return true;
    }
    Stack.pop_back();
    return true;
  }

  bool start_array(size_t) {
    if (Stack.empty() || InWeightMap)
      return false;
    if (Stack.size() == 1 && Key == "weight_map")
      return false;
    return open(Json::array());
  }

  bool end_array() {
    Stack.pop_back();
    return true;
  }

  bool key(std::string &Name) {
    Key = std::move(Name);
    // A second weight_map would replace the first in a document.
    return !(Stack.size() == 1 && Key == "weight_map" && SawWeightMap);
  }

  bool sawWeightMap() const { return SawWeightMap; }

private:
  /// Stores \p Value under the pending key or at the end of the open array.
  /// weight_map itself must be an object, which start_object handles.
  Json *store(Json Value) {
    Json &Parent = *Stack.back();
    if (Parent.is_array()) {
      Parent.push_back(std::move(Value));
      return &Parent.back();
    }
    Json &Slot = Parent[Key];
    Slot = std::move(Value);
    return &Slot;
  }

  bool value(Json Value) {
    if (Stack.empty() || InWeightMap)
      return false;
    if (Stack.size() == 1 && Key == "weight_map")
      return false;
    store(std::move(Value));
    return true;
  }

  bool open(Json Container) {
    Stack.push_back(store(std::move(Container)));
    return true;
  }

  IndexContents &Out;
  std::vector<Json *> Stack;
  std::string Key;
  bool InWeightMap = false;
  bool SawWeightMap = false;
};

} // namespace

bool scanIndex(llvm::StringRef Text, IndexContents &Out) {
  Out = IndexContents();
  IndexScanner Handler(Out);
  return Json::sax_parse(Text.begin(), Text.end(), &Handler) &&
         Handler.sawWeightMap();
}

} // namespace rysc::hf
