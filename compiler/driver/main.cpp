// The rysc command-line driver: parses options, calls the library, prints
// diagnostics and maps results to exit codes.
#include "Options.h"

#include "backends/exec/Executor.h"
#include "backends/hf/HfModel.h"
#include "backends/hf/HfPlanReport.h"
#include "backends/hf/HfPlanner.h"
#include "compiler/Compiler.h"
#include "compiler/MapReport.h"
#include "compiler/Parser.h"
#include "compiler/Provenance.h"

#include "llvm/Support/FileSystem.h"
#include "llvm/Support/MemoryBuffer.h"
#include "llvm/Support/Path.h"
#include "llvm/Support/raw_ostream.h"

using namespace rysc;

namespace {

enum ExitCode { Success = 0, Failure = 1, Usage = 2, Interrupted = 130 };

/// Everything one plan or apply run builds, in dependency order.
struct Session {
  explicit Session(const driver::Options &Opts) : Opts(Opts), Diags(llvm::errs()) {}

  const driver::Options &Opts;
  DiagnosticEngine Diags;
  ProfileRegistry Registry;
  RecipeSource Source;
  ast::Recipe Recipe;
  std::optional<hf::HfModel> Model;
  ModelFacts Facts;
  std::optional<Compilation> Compiled;
};

int reportError(llvm::Error E) {
  llvm::errs() << "rysc: error: " << llvm::toString(std::move(E)) << "\n";
  return Failure;
}

/// Reads and parses the recipe, loads profiles, reads the model (when
/// given) and compiles. Returns false after diagnostics were printed.
bool compileSession(Session &S, const std::string &RecipePath, const std::string *ModelDir) {
  auto Buffer = llvm::MemoryBuffer::getFile(RecipePath, /*IsText=*/true);
  if (!Buffer) {
    S.Diags.error("'" + RecipePath + "': cannot read the recipe: " + Buffer.getError().message());
    return false;
  }
  S.Source.Name = llvm::sys::path::filename(RecipePath).str();
  S.Source.Text = (*Buffer)->getBuffer().str();
  S.Diags.setWarningsAsErrors(S.Opts.Strict);
  S.Registry.loadStdlib(S.Diags);
  S.Recipe = parseRecipeText(S.Diags, S.Source.Text, RecipePath);

  if (ModelDir) {
    auto Model = hf::readHfModel(*ModelDir);
    if (!Model) {
      S.Diags.error(llvm::toString(Model.takeError()));
      return false;
    }
    S.Model = std::move(*Model);
    S.Facts = S.Model->facts();
  }
  if (S.Diags.hasErrors())
    return false;

  CompileOptions Options;
  Options.Layers = S.Opts.Layers;
  Options.Strict = S.Opts.Strict;
  S.Compiled = compileRecipe(S.Diags, S.Registry, S.Recipe, ModelDir ? &S.Facts : nullptr, Options);
  return S.Compiled.has_value();
}

/// Plans the output. Plan warnings go through the diagnostics, so that
/// --strict turns them into errors like any other warning.
std::optional<hf::HfPlan> planSession(Session &S) {
  hf::HfPlanOptions Options;
  Options.MaxShardSize = S.Opts.MaxShardSize;
  Json Provenance = buildProvenance(*S.Compiled, S.Source, "safetensors", S.Model->ConfigText);
  Options.ProvenanceJson = Provenance.dump(2) + "\n";
  auto Plan = hf::planHf(*S.Model, *S.Compiled, Options);
  if (!Plan) {
    S.Diags.error(llvm::toString(Plan.takeError()));
    return std::nullopt;
  }
  for (const std::string &Warning : Plan->Warnings)
    S.Diags.warning(Warning);
  if (S.Diags.hasErrors())
    return std::nullopt;
  return std::move(*Plan);
}

/// Rejects an output folder inside the source folder: a later run on the
/// source would copy the output as if it were part of the model.
bool checkOutputPlace(Session &S, const std::string &Out) {
  llvm::SmallString<256> Parent(Out);
  while (!Parent.empty() && !llvm::sys::fs::exists(Parent))
    llvm::sys::path::remove_filename(Parent);
  llvm::SmallString<256> Real;
  if (Parent.empty() || llvm::sys::fs::real_path(Parent, Real))
    return true;
  llvm::StringRef Source = S.Model->RealDir;
  if (Real == Source || llvm::StringRef(Real).startswith((Source + "/").str())) {
    S.Diags.error("'" + Out + "': the output folder must not be inside the source folder '" +
                  S.Model->Dir + "'");
    return false;
  }
  return true;
}

void printSummary(llvm::raw_ostream &OS, Session &S) {
  const Compilation &C = *S.Compiled;
  OS << "recipe: " << S.Source.Name << "\n";
  if (C.HasModel)
    OS << "model: " << S.Model->Dir << " (profile " << C.UsedProfile->Name << ", decoder stack "
       << C.Stack.Prefix << ".N, layer count '" << C.Stack.fullPath(C.Stack.CountField)
       << "')\n";
  int64_t Delta = static_cast<int64_t>(C.Map.outputCount()) - C.Map.sourceCount();
  OS << "layers: " << C.Map.sourceCount() << " -> " << C.Map.outputCount() << " ("
     << (Delta >= 0 ? "+" : "") << Delta << ")\n\nmap (output <- source):\n";
  printMap(OS, C.Map, S.Recipe, S.Diags);
  OS << "\nseams:\n";
  printSeams(OS, C.Map, S.Recipe, S.Diags);
}

Json planDocument(Session &S, const hf::HfPlan *Plan) {
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
  Doc["output"] = Plan ? hf::planToJson(*Plan) : Json(nullptr);
  return Doc;
}

int runPlan(const driver::Options &Opts) {
  if (Opts.Positional.empty() || Opts.Positional.size() > 2) {
    llvm::errs() << "rysc: error: usage: rysc plan RECIPE [MODEL]\n";
    return Usage;
  }
  Session S(Opts);
  const std::string *ModelDir = Opts.Positional.size() == 2 ? &Opts.Positional[1] : nullptr;
  if (!compileSession(S, Opts.Positional[0], ModelDir))
    return Failure;

  std::optional<hf::HfPlan> Plan;
  if (ModelDir) {
    Plan = planSession(S);
    if (!Plan)
      return Failure;
  }

  if (Opts.Format == "json") {
    llvm::outs() << planDocument(S, Plan ? &*Plan : nullptr).dump(2) << "\n";
    return Success;
  }
  printSummary(llvm::outs(), S);
  if (Plan) {
    llvm::outs() << "\n";
    hf::printPlanText(llvm::outs(), *S.Model, *S.Compiled, *Plan);
  }
  return Success;
}

int runApply(const driver::Options &Opts) {
  if (Opts.Positional.size() != 3) {
    llvm::errs() << "rysc: error: usage: rysc apply RECIPE MODEL OUT\n";
    return Usage;
  }
  Session S(Opts);
  if (!compileSession(S, Opts.Positional[0], &Opts.Positional[1]))
    return Failure;
  auto Plan = planSession(S);
  if (!Plan || !checkOutputPlace(S, Opts.Positional[2]))
    return Failure;

  ExecuteOptions Exec;
  Exec.Jobs = Opts.Jobs;
  Exec.Force = Opts.Force;
  Exec.Log = Opts.Verbose ? &llvm::errs() : nullptr;
  installInterruptHandlers();
  if (llvm::Error E = executePlan(Plan->Write, Opts.Positional[2], Exec)) {
    reportError(std::move(E));
    return wasInterrupted() ? Interrupted : Failure;
  }

  printSummary(llvm::outs(), S);
  uint64_t Total = 0;
  for (const PlannedFile &File : Plan->Write.Files)
    Total += File.Size;
  llvm::outs() << "\nwrote " << Opts.Positional[2] << ": " << Plan->Shards.size()
               << " shard(s), " << Plan->Write.Files.size() << " files, "
               << hf::formatBytes(Total) << "\n";
  return Success;
}

int runProfiles(const driver::Options &Opts) {
  DiagnosticEngine Diags(llvm::errs());
  ProfileRegistry Registry;
  Registry.loadStdlib(Diags);
  if (Opts.Positional.empty()) {
    for (const Profile *P : Registry.stdlibProfiles()) {
      llvm::outs() << llvm::left_justify(P->Name, 16);
      std::string Types;
      for (const std::string &Type : P->ModelTypes)
        Types += (Types.empty() ? "" : ", ") + Type;
      llvm::outs() << (Types.empty() ? "(used when nothing else matches)" : "model_type " + Types)
                   << "\n";
    }
    return Success;
  }
  const std::string &Name = Opts.Positional[0];
  llvm::StringRef Text = Registry.stdlibText(Name);
  if (Text.empty()) {
    llvm::errs() << "rysc: error: unknown profile '" << Name << "'"
                 << didYouMean(Name, Registry.names()) << "\n";
    return Failure;
  }
  llvm::outs() << Text;
  return Success;
}

} // namespace

int main(int Argc, const char **Argv) {
  auto Opts = driver::parseOptions(llvm::ArrayRef<const char *>(Argv, Argc));
  if (!Opts) {
    llvm::errs() << "rysc: error: " << llvm::toString(Opts.takeError()) << "\n";
    return Usage;
  }
  if (Opts->Help) {
    driver::printHelp(llvm::outs());
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
  return runProfiles(*Opts);
}
