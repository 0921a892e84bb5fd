// `dsarl envs db ID --store DIR --out FILE`: writes a synthesized environment's sandbox database
// as a SQLite file, so a person can open it with the `sqlite3` shell and see exactly what the
// tools query (the file is the initial state every episode starts from).
#include <fstream>
#include <iostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "envs/factory.h"
#include "envs/world/world.h"
#include "envs/world/world_env.h"
#include "store/store.h"

namespace dsarl::cli {
namespace {

absl::StatusOr<int> RunDb(const Args& args) {
  const std::string& dir = args.Get("store");
  const std::string& out = args.Get("out");
  if (dir.empty()) return absl::InvalidArgumentError("--store DIR is required");
  if (out.empty()) return absl::InvalidArgumentError("--out FILE is required");
  uint64_t id = 0;
  if (!absl::SimpleAtoi(args.positional()[0], &id)) {
    return absl::InvalidArgumentError(
        absl::StrCat("environment id '", args.positional()[0], "' is not a number"));
  }
  store::OpenOptions options;
  options.read_only = true;
  ASSIGN_OR_RETURN(std::unique_ptr<store::Store> store, store::Store::Open(dir, options));
  ASSIGN_OR_RETURN(proto::EnvSpec spec, store->GetEnv(id));
  ASSIGN_OR_RETURN(std::unique_ptr<envs::EnvFactory> factory,
                   envs::EnvFactory::Create(proto::EnvsConfig()));
  ASSIGN_OR_RETURN(std::unique_ptr<envs::Environment> env, factory->Make(spec));
  const auto* world = dynamic_cast<const envs::world::WorldEnvironment*>(env.get());
  if (world == nullptr) {
    return absl::InvalidArgumentError(absl::StrCat("environment ", id, " of ", dir, " is ",
                                                   spec.category(),
                                                   ", which has no SQLite database (only "
                                                   "synthesized environments do)"));
  }
  std::ofstream file(out, std::ios::binary | std::ios::trunc);
  file.write(world->world().image.data(),
             static_cast<std::streamsize>(world->world().image.size()));
  file.close();
  if (!file) return absl::InternalError(absl::StrCat("cannot write ", out));
  std::cout << "wrote the database of environment " << id << " (" << spec.params().at("domain")
            << ", schema " << world->SchemaHash() << ", " << world->world().image.size()
            << " bytes) to " << out << "; open it with: sqlite3 " << out << "\n";
  return 0;
}

}  // namespace

void RegisterEnvsDbCommand(CommandTable* table) {
  table->Add(Command{
      .name = "envs db",
      .summary = "write a synthesized environment's database as a SQLite file",
      .description =
          "Rebuilds environment ID of --store (category synthesized) and writes its sandbox\n"
          "database, the state every episode starts from, to --out as a SQLite file: open it with\n"
          "`sqlite3 FILE` (.tables, .schema, SELECT ...). Episodes work on private copies.",
      .positional = {"ID"},
      .min_positional = 1,
      .flags = {FlagSpec{"store", "store directory", ""},
                FlagSpec{"out", "the SQLite file to write", ""}},
      .run = RunDb});
}

}  // namespace dsarl::cli
