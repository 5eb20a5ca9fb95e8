// Resolving a model against the profiles: which profile applies, where the
// decoder config and its layer count are, and which tensor prefix numbers
// the decoder layers.
#include "compiler/Analysis.h"

#include "llvm/ADT/StringExtras.h"

#include <map>
#include <set>

namespace rysc {

namespace {

/// Reports that no profile matches \p What, so profile \p Fallback applies,
/// described to the user as \p Rules. Under --strict the fallback is rejected, and the
/// message names the fix.
void reportNoProfile(AnalysisState &State, const std::string &What, const std::string &Fallback,
                     const std::string &Rules, const std::string &MatchItem) {
  std::string Lead = "no profile matches " + What + " in '" + State.Model->ConfigName + "'";
  if (State.Options.Strict) {
    State.Diags.error(Lead + ", and --strict rejects falling back to " + Rules +
                      "; declare a profile in the recipe (profile NAME extends " + Fallback +
                      " { " + MatchItem + " ... }), or run without --strict to use them with a "
                      "warning");
    return;
  }
  State.Diags.warning(Lead + "; using " + Rules + " (declare a profile in the recipe to be exact)");
}

const Profile *selectProfile(AnalysisState &State, ProfileRegistry &Registry) {
  // An explicit `use profile` wins over matching.
  const ast::Stmt *Use = nullptr;
  for (const ast::Stmt &S : State.Recipe.Statements)
    if (S.Kind == ast::StmtKind::UseProfile)
      Use = &S;
  if (Use) {
    const Profile *Found = Registry.find(Use->UseProfile.Name);
    if (!Found)
      State.Diags.error(Use->UseProfile.NameRange.Start,
                        "unknown profile '" + Use->UseProfile.Name + "'" +
                            didYouMean(Use->UseProfile.Name, Registry.names()),
                        Use->UseProfile.NameRange);
    return Found;
  }

  const Json &Config = State.Model->Config;
  if (!State.Model->GgufArch.empty()) {
    if (const Profile *Found = Registry.matchGgufArch(State.Model->GgufArch))
      return Found;
    reportNoProfile(State, "GGUF architecture '" + State.Model->GgufArch + "'", "gguf_generic",
                    "the generic GGUF rules", "match gguf_arch \"" + State.Model->GgufArch + "\";");
    return Registry.find("gguf_generic");
  }
  for (const char *Path : {"model_type", "text_config.model_type"}) {
    const Json *Type = lookupPath(Config, Path);
    if (!Type || !Type->is_string())
      continue;
    if (const Profile *Found = Registry.matchModelType(Type->get<std::string>()))
      return Found;
  }

  const Json *Type = lookupPath(Config, "model_type");
  std::string TypeText = Type && Type->is_string() ? Type->get<std::string>() : "(none)";
  reportNoProfile(State, "model_type '" + TypeText + "'", "generic", "the generic rules",
                  "match model_type \"" + TypeText + "\";");
  return Registry.find("generic");
}

/// Finds the decoder config and its layer-count key in profile order.
bool findDecoder(AnalysisState &State, const Profile &P) {
  const Json &Config = State.Model->Config;
  std::vector<std::string> Decoders = P.DecoderPaths;
  if (Decoders.empty())
    Decoders.push_back(State.Model->GgufArch);
  std::vector<std::string> Tried;
  for (const std::string &Decoder : Decoders) {
    const Json *Object = Decoder.empty() ? &Config : lookupPath(Config, Decoder);
    for (const std::string &Field : P.LayerCountFields) {
      Tried.push_back(Decoder.empty() ? Field : Decoder + "." + Field);
      if (!Object || !Object->is_object() || !Object->contains(Field))
        continue;
      const Json &Count = (*Object)[Field];
      if (!Count.is_number_integer() || Count.get<int64_t>() <= 0 ||
          Count.get<int64_t>() > 100000) {
        State.Diags.error("'" + State.Model->ConfigName + "': '" + Tried.back() +
                          "' must be a positive layer count, found " + Count.dump());
        return false;
      }
      State.SourceDecoder = Object;
      State.SourceCount = static_cast<uint32_t>(Count.get<uint64_t>());
      State.Result.Stack.DecoderPath = Decoder;
      State.Result.Stack.CountField = Field;
      return true;
    }
  }
  State.Diags.error("'" + State.Model->ConfigName + "' has no layer count for profile '" +
                    P.Name + "': looked for " + llvm::join(Tried, ", "));
  return false;
}

bool resolveInlineStacks(AnalysisState &State, const Profile &P) {
  for (const ExtraStackSpec &Spec : P.ExtraStacks) {
    if (!Spec.Inline)
      continue;
    const Json *Count = lookupPath(*State.SourceDecoder, Spec.CountField);
    if (!Count || Count->is_null())
      continue;
    if (!Count->is_number_integer() || Count->get<int64_t>() < 0 || Count->get<int64_t>() > 64) {
      State.Diags.error("'" + State.Model->ConfigName + "': '" +
                        State.Result.Stack.fullPath(Spec.CountField) +
                        "' must be a small non-negative count, found " + Count->dump());
      return false;
    }
    uint32_t Layers = static_cast<uint32_t>(Count->get<uint64_t>());
    if (Layers == 0)
      continue;
    if (Spec.Counted && Layers >= State.SourceCount) {
      State.Diags.error("'" + State.Model->ConfigName + "': '" +
                        State.Result.Stack.fullPath(Spec.CountField) + "' = " +
                        std::to_string(Layers) + " leaves no trunk layers in a layer count of " +
                        std::to_string(State.SourceCount));
      return false;
    }
    // A counted stack's layers are part of the count field but not of the trunk.
    if (Spec.Counted)
      State.SourceCount -= Layers;
    State.Result.Stack.Inline.push_back({Spec.Name, Layers, Spec.Counted});
  }
  return true;
}

/// Splits "a.b.17.rest" into prefix "a.b" and index 17 at the first numeric
/// component that is followed by more name.
bool splitLayerName(llvm::StringRef Name, std::string &Prefix, uint32_t &Index) {
  size_t Start = 0;
  while (true) {
    size_t Dot = Name.find('.', Start);
    if (Dot == llvm::StringRef::npos)
      return false;
    size_t Next = Name.find('.', Dot + 1);
    if (Next == llvm::StringRef::npos)
      return false;
    llvm::StringRef Part = Name.slice(Dot + 1, Next);
    if (!Part.empty() && llvm::all_of(Part, llvm::isDigit) && !Part.getAsInteger(10, Index)) {
      Prefix = Name.take_front(Dot).str();
      return true;
    }
    Start = Dot + 1;
  }
}

std::string describeIndices(const std::set<uint32_t> &Indices) {
  if (Indices.empty())
    return "no layers";
  bool Contiguous = *Indices.rbegin() - *Indices.begin() + 1 == Indices.size();
  std::string Text = "layers " + std::to_string(*Indices.begin()) + ".." +
                     std::to_string(*Indices.rbegin());
  if (!Contiguous)
    Text += " with gaps";
  return Text + " (" + std::to_string(Indices.size()) + " indices)";
}

bool detectStack(AnalysisState &State, const Profile &P) {
  std::map<std::string, std::set<uint32_t>> Groups;
  for (const std::string &Name : State.Model->TensorNames) {
    std::string Prefix;
    uint32_t Index = 0;
    if (splitLayerName(Name, Prefix, Index))
      Groups[Prefix].insert(Index);
  }

  uint32_t Expected = State.SourceCount + State.Result.Stack.inlineCount();
  auto IsCandidate = [&](const std::set<uint32_t> &Indices) {
    return Indices.size() == Expected && *Indices.begin() == 0 && *Indices.rbegin() == Expected - 1;
  };

  std::vector<std::string> Candidates;
  for (const auto &[Prefix, Indices] : Groups)
    if (IsCandidate(Indices))
      Candidates.push_back(Prefix);
  for (const std::string &Preferred : P.StackPrefixes)
    if (llvm::is_contained(Candidates, Preferred)) {
      State.Result.Stack.Prefix = Preferred;
      return true;
    }
  if (Candidates.size() == 1) {
    State.Result.Stack.Prefix = Candidates.front();
    return true;
  }

  std::string Count = State.Result.Stack.fullPath(State.Result.Stack.CountField);
  if (Candidates.size() > 1) {
    State.Diags.error("several tensor prefixes number exactly layers 0.." +
                      std::to_string(Expected - 1) + ": '" + llvm::join(Candidates, "', '") +
                      "'; name the decoder stack with a profile ('stack \"...\";')");
    return false;
  }
  std::string Found;
  for (const auto &[Prefix, Indices] : Groups)
    Found += "\n  '" + Prefix + "': " + describeIndices(Indices);
  State.Diags.error("no tensor prefix numbers exactly layers 0.." + std::to_string(Expected - 1) +
                    " as '" + Count + "' says; numbered prefixes found:" +
                    (Found.empty() ? std::string(" none") : Found));
  return false;
}

} // namespace

bool resolveModel(AnalysisState &State, ProfileRegistry &Registry) {
  const Profile *P = selectProfile(State, Registry);
  if (!P)
    return false;
  State.Result.UsedProfile = P;
  State.Result.HasModel = true;
  return findDecoder(State, *P) && resolveInlineStacks(State, *P) && detectStack(State, *P);
}

} // namespace rysc
