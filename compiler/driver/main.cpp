// The rysc command-line driver: parses options, calls the library, prints
// diagnostics and maps results to exit codes.
#include "Options.h"
#include "Session.h"

#include "backends/ModelCheck.h"
#include "backends/ModelLoader.h"
#include "backends/Verify.h"
#include "backends/exec/Executor.h"
#include "backends/hf/HfPlanReport.h"
#include "compiler/EditReport.h"
#include "compiler/LayerListText.h"
#include "compiler/MapReport.h"
#include "compiler/ProfileText.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace rysc;
using namespace rysc::driver;

namespace {

enum ExitCode { Success = 0, Failure = 1, Usage = 2, Interrupted = 130 };

void printSummary(llvm::raw_ostream &OS, Session &S) {
  const Compilation &C = *S.Compiled;
  OS << "recipe: " << S.Source.Name << "\n";
  if (C.HasModel)
    OS << "model: " << S.ModelPath << " (profile " << C.UsedProfile->Name << ", decoder stack "
       << C.Stack.Prefix << ".N, layer count '" << C.Stack.fullPath(C.Stack.CountField)
       << "')\n";
  else if (S.Kind != InputKind::None)
    OS << "imatrix: " << S.ModelPath << " (entries named blk.N.*)\n";
  if (S.SourceProvenance) {
    const Json *Name = lookupPath(*S.SourceProvenance, "recipe.name");
    OS << "source built by rysc from recipe " << (Name ? Name->dump() : "(unnamed)")
       << "; the output's provenance record chains the source's\n";
  }
  int64_t Delta = static_cast<int64_t>(C.Map.outputCount()) - C.Map.sourceCount();
  OS << "layers: " << C.Map.sourceCount() << " -> " << C.Map.outputCount() << " ("
     << (Delta >= 0 ? "+" : "") << Delta << ")";
  if (uint32_t Extra = C.Stack.inlineCount())
    OS << ", plus " << Extra << " extra block(s) renumbered after the trunk";
  OS << "\n\nmap (output <- source):\n";
  printMap(OS, C.Map, S.Recipe, S.Diags);
  OS << "\nseams:\n";
  printSeams(OS, C.Map, S.Recipe, S.Diags);
}

void printGgufPlan(llvm::raw_ostream &OS, Session &S) {
  printEdits(OS, "GGUF metadata", *S.Compiled);
  OS << "\noutput files:\n";
  for (const gguf::OutputPart &Part : S.GgufPlan->Parts) {
    OS << "  " << Part.Name << ": " << hf::formatCount(Part.Tensors, "tensor") << ", "
       << hf::formatBytes(Part.FileSize);
    if (Part.AlignmentPadding > 0)
      OS << ", header padded by " << hf::formatBytes(Part.AlignmentPadding)
         << " for --copy-alignment";
    OS << "\n";
  }
  OS << "tensor data copied unchanged: " << hf::formatBytes(S.GgufPlan->TensorBytes) << "\n";
  OS << "provenance: rys.map and rys.provenance keys\n";
}

Json outputJson(Session &S) {
  if (S.HfPlan)
    return hf::planToJson(*S.HfPlan);
  if (S.GgufPlan) {
    Json Output;
    Output["format"] = "gguf";
    Output["tensor_bytes"] = S.GgufPlan->TensorBytes;
    Output["changed_keys"] = S.GgufPlan->ChangedKeys;
    Output["files"] = Json::array();
    for (const gguf::OutputPart &Part : S.GgufPlan->Parts)
      Output["files"].push_back(
          {{"path", Part.Name},
           {"size", Part.FileSize},
           {"tensors", Part.Tensors},
           {"alignment_padding", Part.AlignmentPadding}});
    return Output;
  }
  if (S.DatPlan)
    return {{"format", "imatrix-dat"},
            {"files", Json::array({{{"path", S.DatPlan->Files[0].Path},
                                    {"size", S.DatPlan->Files[0].Size}}})}};
  return nullptr;
}

Json planDocument(Session &S) {
  const Compilation &C = *S.Compiled;
  Json Doc;
  Doc["schema"] = "rysc-plan/1";
  Doc["recipe"] = S.Source.Name;
  Doc["profile"] = C.UsedProfile ? Json(C.UsedProfile->Name) : Json(nullptr);
  Doc["layers"] = {{"source", C.Map.sourceCount()}, {"output", C.Map.outputCount()}};
  if (C.HasModel)
    Doc["decoder"] = {{"config", C.Stack.DecoderPath},
                      {"count_field", C.Stack.fullPath(C.Stack.CountField)},
                      {"stack_prefix", C.Stack.Prefix}};
  Doc["map"] = mapToJson(C.Map);
  Doc["seams"] = seamsToJson(C.Map);
  Doc["config_edits"] = editsToJson(C.Edits);
  Doc["kept_fields"] = C.KeptFields;
  Doc["output"] = outputJson(S);
  return Doc;
}

/// Returns a session that is never destroyed. The process exits right after
/// the command, and freeing the headers of 100,000 tensors one by one took
/// about a tenth of plan's time on a 1,000-shard checkpoint.
Session &makeSession(const Options &Opts) { return *new Session(Opts); }

/// Returns what a verify check found: its summary when it passed, and the
/// number of problems when it failed, whose lines follow.
std::string checkSummary(const VerifyResult &R) {
  if (R.Passed)
    return R.Summary;
  return std::to_string(R.Failures.size()) + (R.Failures.size() == 1 ? " problem" : " problems");
}

int runPlan(const Options &Opts) {
  if (Opts.Positional.empty() || Opts.Positional.size() > 2) {
    llvm::errs() << "rysc: error: usage: rysc plan RECIPE [MODEL]\n";
    return Usage;
  }
  if (Opts.Positional.size() == 1 && !Opts.Layers) {
    llvm::errs() << "rysc: error: the layer count is unknown: give a model or --layers N\n";
    return Usage;
  }
  Session &S = makeSession(Opts);
  const std::string *Model = Opts.Positional.size() == 2 ? &Opts.Positional[1] : nullptr;
  // plan has no OUT; GGUF part names are shown for an OUT called "OUT.gguf".
  std::string OutName = Model ? (gguf::isGgufFile(*Model) ? "OUT.gguf" : "OUT.dat") : "";
  if (!S.compile(Opts.Positional[0], Model) || !S.plan(OutName))
    return Failure;

  if (Opts.Format == "json") {
    llvm::outs() << planDocument(S).dump(2) << "\n";
    return Success;
  }
  printSummary(llvm::outs(), S);
  if (S.HfPlan) {
    llvm::outs() << "\n";
    hf::printPlanText(llvm::outs(), *S.Hf, *S.Compiled, *S.HfPlan);
  } else if (S.GgufPlan) {
    llvm::outs() << "\n";
    printGgufPlan(llvm::outs(), S);
  }
  return Success;
}

/// Rejects an output inside the source folder: a later run on the source
/// would copy the output as if it were part of the model.
bool checkOutputPlace(Session &S, const std::string &Out) {
  if (S.Kind != InputKind::HfFolder)
    return true;
  llvm::SmallString<256> Parent(Out);
  while (!Parent.empty() && !llvm::sys::fs::exists(Parent))
    llvm::sys::path::remove_filename(Parent);
  llvm::SmallString<256> Real;
  if (Parent.empty() || llvm::sys::fs::real_path(Parent, Real))
    return true;
  llvm::StringRef Source = S.Hf->RealDir;
  if (Real == Source || llvm::StringRef(Real).startswith((Source + "/").str())) {
    S.Diags.error("'" + Out + "': the output folder must not be inside the source folder '" +
                  S.Hf->Dir + "'");
    return false;
  }
  return true;
}

int runApply(const Options &Opts) {
  if (Opts.Positional.size() != 3) {
    llvm::errs() << "rysc: error: usage: rysc apply RECIPE MODEL OUT\n";
    return Usage;
  }
  Session &S = makeSession(Opts);
  const std::string &Out = Opts.Positional[2];
  std::string OutName = llvm::sys::path::filename(Out).str();
  if (!S.compile(Opts.Positional[0], &Opts.Positional[1]) || !S.plan(OutName) ||
      !checkOutputPlace(S, Out))
    return Failure;

  llvm::StringRef Parent = llvm::sys::path::parent_path(Out);
  if (!Parent.empty() && !llvm::sys::fs::is_directory(Parent)) {
    llvm::errs() << "rysc: error: '" << Out << "': the folder '" << Parent
                 << "' does not exist; create it first\n";
    return Failure;
  }

  for (const std::string &Leftover : findLeftoverFolders(Out))
    llvm::errs() << "rysc: warning: '" << Leftover
                 << "' was left by an earlier run that was killed before it finished; "
                    "delete it to free its space\n";

  ExecuteOptions Exec;
  Exec.Jobs = Opts.Jobs;
  Exec.Force = Opts.Force;
  Exec.Log = Opts.Verbose ? &llvm::errs() : nullptr;
  installInterruptHandlers();
  const WritePlan &Plan = *S.writePlan();
  llvm::Error E = S.Kind == InputKind::HfFolder ? executePlan(Plan, Out, Exec)
                                                : executePlanAsFiles(Plan, Out, Exec);
  if (E) {
    llvm::errs() << "rysc: error: " << llvm::toString(std::move(E)) << "\n";
    return wasInterrupted() ? Interrupted : Failure;
  }

  printSummary(llvm::outs(), S);
  uint64_t Total = 0;
  for (const PlannedFile &File : Plan.Files)
    Total += File.Size;
  llvm::outs() << "\nwrote " << hf::formatBytes(Total) << " in " << Plan.Files.size()
               << " file(s)";
  if (S.Kind == InputKind::HfFolder) {
    llvm::outs() << " to " << Out << "\n";
  } else {
    llvm::outs() << ":\n";
    llvm::StringRef Folder = llvm::sys::path::parent_path(Out);
    for (const PlannedFile &File : Plan.Files)
      llvm::outs() << "  " << (Folder.empty() ? "" : (Folder + "/").str()) << File.Path << "\n";
  }
  return Success;
}

int runVerify(const Options &Opts) {
  if (Opts.Positional.size() != 3) {
    llvm::errs() << "rysc: error: usage: rysc verify RECIPE SOURCE OUT\n";
    return Usage;
  }
  Session S(Opts);
  if (!S.compile(Opts.Positional[0], &Opts.Positional[1]))
    return Failure;
  if (S.Kind != InputKind::HfFolder && S.Kind != InputKind::Gguf) {
    llvm::errs() << "rysc: error: '" << Opts.Positional[1]
                 << "' is an importance matrix; verify works on models (Hugging Face folders and "
                    "GGUF model files)\n";
    return Failure;
  }
  auto Source = loadModel(Opts.Positional[1]);
  if (!Source) {
    llvm::errs() << "rysc: error: " << llvm::toString(Source.takeError()) << "\n";
    return Failure;
  }
  auto Out = loadModel(Opts.Positional[2]);
  if (!Out) {
    llvm::errs() << "rysc: error: " << llvm::toString(Out.takeError()) << "\n";
    return Failure;
  }

  VerifyOptions Options;
  Options.Jobs = Opts.Jobs;
  std::vector<VerifyResult> Results = verifyOutput(*Source, *Out, *S.Compiled, S.Source, Options);
  unsigned Failed = llvm::count_if(Results, [](const VerifyResult &R) { return !R.Passed; });

  if (Opts.Format == "json") {
    Json Doc;
    Doc["schema"] = "rysc-verify/1";
    Doc["passed"] = Failed == 0;
    Doc["checks"] = Json::array();
    for (const VerifyResult &R : Results)
      Doc["checks"].push_back({{"check", R.Check}, {"passed", R.Passed},
                               {"summary", checkSummary(R)}, {"failures", R.Failures}});
    Doc["seams"] = seamsToJson(S.Compiled->Map);
    llvm::outs() << Doc.dump(2) << "\n";
    return Failed ? Failure : Success;
  }

  llvm::outs() << "verify " << S.Source.Name << ": " << Opts.Positional[1] << " -> "
               << Opts.Positional[2] << "\n";
  for (const VerifyResult &R : Results) {
    llvm::outs() << "  " << (R.Passed ? "ok    " : "FAILED") << " "
                 << llvm::left_justify(R.Check, 15) << checkSummary(R) << "\n";
    for (const std::string &Failure : R.Failures)
      llvm::outs() << "           " << Failure << "\n";
  }
  llvm::outs() << "\nseams:\n";
  printSeams(llvm::outs(), S.Compiled->Map, S.Recipe, S.Diags);
  llvm::outs() << "\n" << (Failed ? std::to_string(Failed) + " check(s) failed" : "all checks passed")
               << "\n";
  return Failed ? Failure : Success;
}

/// Loads and resolves a model for check and inspect; prints problems.
std::optional<ResolvedModel> loadAndResolve(const std::string &Path, LoadedModel &Model,
                                            ProfileRegistry &Registry, DiagnosticEngine &Diags) {
  auto Loaded = loadModel(Path);
  if (!Loaded) {
    Diags.error(llvm::toString(Loaded.takeError()));
    return std::nullopt;
  }
  Model = std::move(*Loaded);
  Registry.loadStdlib(Diags);
  return resolveModelOnly(Model, Registry, Diags);
}

llvm::StringRef severityText(Severity Level) {
  return Level == Severity::Error ? "error" : Level == Severity::Warning ? "warning" : "note";
}

int runCheck(const Options &Opts) {
  if (Opts.Positional.size() != 1) {
    llvm::errs() << "rysc: error: usage: rysc check MODEL\n";
    return Usage;
  }
  DiagnosticEngine Diags(llvm::errs());
  Diags.setWarningsAsErrors(Opts.Strict);
  ProfileRegistry Registry;
  LoadedModel Model;
  auto Resolved = loadAndResolve(Opts.Positional[0], Model, Registry, Diags);
  if (!Resolved)
    return Failure;
  std::vector<Finding> Findings = checkModel(*Resolved);
  // Resolving reports its own problems as diagnostics, such as a model
  // that no profile matches, which --strict makes errors.
  bool Failed = Diags.hasErrors() || llvm::any_of(Findings, [&](const Finding &F) {
                  return F.Level == Severity::Error || (Opts.Strict && F.Level == Severity::Warning);
                });

  if (Opts.Format == "json") {
    Json Doc;
    Doc["schema"] = "rysc-check/1";
    Doc["passed"] = !Failed;
    Doc["profile"] = Resolved->C.UsedProfile->Name;
    Doc["findings"] = Json::array();
    for (const Finding &F : Findings)
      Doc["findings"].push_back({{"severity", severityText(F.Level)}, {"check", F.Check},
                                 {"message", F.Message}, {"fix", F.Fix}});
    llvm::outs() << Doc.dump(2) << "\n";
    return Failed ? Failure : Success;
  }
  llvm::outs() << "check " << Opts.Positional[0] << " (profile " << Resolved->C.UsedProfile->Name
               << ", " << Resolved->Layers << " layers under " << Resolved->C.Stack.Prefix
               << ".N)\n";
  for (const Finding &F : Findings) {
    llvm::outs() << "  " << severityText(F.Level) << " [" << F.Check << "]: " << F.Message << "\n";
    if (!F.Fix.empty())
      llvm::outs() << "    fix: " << F.Fix << "\n";
  }
  std::string Summary =
      Findings.empty() ? "no problems found" : std::to_string(Findings.size()) + " finding(s)";
  if (Diags.hasErrors())
    Summary = Findings.empty() ? "no findings, but the errors above fail the check"
                               : Summary + ", and the errors above";
  llvm::outs() << Summary << "\n";
  return Failed ? Failure : Success;
}

/// Describes the decoder layer count and the config field it comes from.
/// A field that also counts extra blocks (GGUF block_count with an MTP
/// block) holds more than the decoder layers, and the text shows both.
std::string describeLayerCount(const Json &Report, uint32_t Layers) {
  std::string Field = Report["layer_count_field"].get<std::string>();
  uint32_t Extra = 0;
  std::string Names;
  for (const Json &S : Report["extra_stacks"])
    if (S.contains("counted_in_layer_count") && S["counted_in_layer_count"].get<bool>()) {
      Extra += S["blocks"].get<uint32_t>();
      Names += (Names.empty() ? "" : ", ") + S["name"].get<std::string>();
    }
  if (Extra == 0)
    return std::to_string(Layers) + " ('" + Field + "')";
  return std::to_string(Layers) + " ('" + Field + "' is " + std::to_string(Layers + Extra) +
         ", which also counts " + hf::formatCount(Extra, "block") + " of " + Names + ")";
}

/// Prints the recipe that built the model. For a model that rysc built from
/// its own output, also prints the earlier recipes and the composed map.
void printProvenance(llvm::raw_ostream &OS, const Json &Summary) {
  OS << "built by rysc from recipe " << Summary["recipe"].dump() << "; map: "
     << Summary["map"].dump() << "\n";
  if (!Summary.contains("earlier_recipes"))
    return;
  OS << "  applied to the output of " << Summary["earlier_recipes"][0].dump();
  for (size_t I = 1; I < Summary["earlier_recipes"].size(); ++I)
    OS << ", which was built from " << Summary["earlier_recipes"][I].dump();
  OS << "\n";
  if (!Summary["original_map"].is_null())
    OS << "  map to the first model's layers: " << Summary["original_map"].dump() << "\n";
}

/// Prints one entry of inspect's "schedules": the field, its layers and,
/// when the profile gives them, the meanings of its values.
void printSchedule(llvm::raw_ostream &OS, const Json &Schedule) {
  OS << "schedule " << Schedule["field"].get<std::string>() << ":\n";
  const std::string Indent = "  ";
  std::vector<Json> Values = Schedule["values"].get<std::vector<Json>>();
  for (const std::string &Line : describeLayerValues(Values, ReportWidth - Indent.size()))
    OS << Indent << Line << "\n";
  if (!Schedule.contains("meanings"))
    return;
  std::vector<std::pair<Json, std::string>> Meanings;
  for (const Json &Entry : Schedule["meanings"])
    Meanings.push_back({Entry["value"], Entry["meaning"].get<std::string>()});
  const std::string Prefix = Indent + "meaning: ";
  printIndented(OS, Prefix, describeMeanings(Meanings, ReportWidth - Prefix.size()));
}

int runInspect(const Options &Opts) {
  if (Opts.Positional.size() != 1) {
    llvm::errs() << "rysc: error: usage: rysc inspect MODEL\n";
    return Usage;
  }
  DiagnosticEngine Diags(llvm::errs());
  ProfileRegistry Registry;
  LoadedModel Model;
  auto Resolved = loadAndResolve(Opts.Positional[0], Model, Registry, Diags);
  if (!Resolved)
    return Failure;
  Json Report = inspectModel(*Resolved);
  if (Opts.Format == "json") {
    Report["schema"] = "rysc-inspect/2";
    llvm::outs() << Report.dump(2) << "\n";
    return Success;
  }
  llvm::raw_ostream &OS = llvm::outs();
  OS << "model: " << Opts.Positional[0] << "\nformat: " << Report["format"].get<std::string>()
     << "\nprofile: " << Report["profile"].get<std::string>() << "\nlayers: "
     << describeLayerCount(Report, Resolved->Layers) << ", decoder stack "
     << Resolved->C.Stack.Prefix << ".N\n";
  OS << "per-layer fields:" << (Report["per_layer_fields"].empty() ? " none" : "") << "\n";
  for (const Json &F : Report["per_layer_fields"])
    OS << "  " << F["field"].get<std::string>() << " (" << F["kind"].get<std::string>()
       << (F.contains("length") ? ", " + std::to_string(F["length"].get<size_t>()) + " entries" : "")
       << ")\n";
  for (const Json &S : Report["schedules"])
    printSchedule(OS, S);
  OS << "extra stacks:" << (Report["extra_stacks"].empty() ? " none" : "") << "\n";
  for (const Json &S : Report["extra_stacks"]) {
    OS << "  " << S["name"].get<std::string>() << ": ";
    if (S.contains("prefix"))
      OS << hf::formatCount(S["tensors"].get<unsigned>(), "tensor") << " under '"
         << S["prefix"].get<std::string>()
         << "', left as they are\n";
    else
      OS << hf::formatCount(S["blocks"].get<unsigned>(), "block") << " from block " << S["first_block"].get<unsigned>()
         << (S["counted_in_layer_count"].get<bool>() ? ", counted in the layer count" : "")
         << "\n";
  }
  for (const Json &Family : Report["tensor_families"]) {
    std::vector<std::string> Groups = Family["carry"].get<std::vector<std::string>>();
    OS << "layers with '" << Family["field"].get<std::string>() << "' = " << Family["value"].dump()
       << (Family.contains("meaning") ? " (" + Family["meaning"].get<std::string>() + ")" : "")
       << " carry: " << llvm::join(Groups, ", ") << "\n";
  }
  uint64_t Min = UINT64_MAX, Max = 0;
  for (const Json &B : Report["bytes_per_layer"]) {
    Min = std::min<uint64_t>(Min, B.get<uint64_t>());
    Max = std::max<uint64_t>(Max, B.get<uint64_t>());
  }
  OS << "bytes per layer: " << hf::formatBytes(Min) << " to " << hf::formatBytes(Max) << "\n";
  OS << "files:\n";
  for (const Json &F : Report["files"])
    OS << "  " << F["file"].get<std::string>() << ": " << hf::formatBytes(F["size"].get<uint64_t>())
       << "\n";
  if (Report.contains("rysc_provenance"))
    printProvenance(OS, Report["rysc_provenance"]);
  return Success;
}

/// Returns " (did you mean 'a', 'b' or 'c'?)" for the profile names close
/// to \p Name, or "" when none is.
std::string suggestProfiles(const std::string &Name, const std::vector<std::string> &Names) {
  std::vector<std::string> Matches = closeMatches(Name, Names, 5);
  if (Matches.empty())
    return "";
  std::string Text = " (did you mean ";
  for (size_t Index = 0; Index < Matches.size(); ++Index) {
    if (Index)
      Text += Index + 1 == Matches.size() ? " or " : ", ";
    Text += "'" + Matches[Index] + "'";
  }
  return Text + "?)";
}

int runProfiles(const Options &Opts) {
  if (Opts.Positional.size() > 1) {
    llvm::errs() << "rysc: error: usage: rysc profiles [NAME]\n";
    return Usage;
  }
  DiagnosticEngine Diags(llvm::errs());
  ProfileRegistry Registry;
  Registry.loadStdlib(Diags);
  if (Opts.Positional.empty()) {
    for (const Profile *P : Registry.stdlibProfiles()) {
      std::string Matches;
      for (const std::string &Type : P->ModelTypes)
        Matches += (Matches.empty() ? "model_type " : ", ") + Type;
      for (const std::string &Arch : P->GgufArchs)
        Matches += (Matches.empty() ? "gguf_arch " : ", ") + Arch;
      llvm::outs() << llvm::left_justify(P->Name, 20)
                   << (Matches.empty() ? "(a base for other profiles, or the fallback)" : Matches)
                   << "\n";
    }
    return Success;
  }
  const std::string &Name = Opts.Positional[0];
  const Profile *P = Registry.find(Name);
  if (!P) {
    llvm::errs() << "rysc: error: unknown profile '" << Name << "'"
                 << suggestProfiles(Name, Registry.names())
                 << "; run 'rysc profiles' to list every profile\n";
    return Failure;
  }
  llvm::outs() << profileDefinitionText(Registry, *P);
  return Success;
}

} // namespace

int main(int Argc, const char **Argv) {
  auto Opts = parseOptions(llvm::ArrayRef<const char *>(Argv, Argc));
  if (!Opts) {
    llvm::errs() << "rysc: error: " << llvm::toString(Opts.takeError()) << "\n";
    return Usage;
  }
  if (Opts->Help) {
    printHelp(llvm::outs());
    return Success;
  }
  if (Opts->Version) {
    llvm::outs() << "rysc " << RYSC_VERSION << "\n";
    return Success;
  }
  if (Opts->Command == "plan")
    return runPlan(*Opts);
  if (Opts->Command == "apply")
    return runApply(*Opts);
  if (Opts->Command == "verify")
    return runVerify(*Opts);
  if (Opts->Command == "check")
    return runCheck(*Opts);
  if (Opts->Command == "inspect")
    return runInspect(*Opts);
  return runProfiles(*Opts);
}
