// `dsarl store stats|dump|export`: look inside a job's store. All three open the store read-only
// (a RocksDB secondary instance), so they work while the job that writes it is running, and first
// check its SST files (present, full size, checksums): a secondary instance would otherwise read a
// damaged store as an older one and the tools would report success.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "store/export.h"
#include "store/store.h"

namespace dsarl::cli {
namespace {

absl::StatusOr<std::unique_ptr<store::Store>> OpenReader(const std::string& dir) {
  store::OpenOptions options;
  options.read_only = true;
  options.verify = true;
  return store::Store::Open(dir, options);
}

// Total size of the files under `dir`. [bytes]
uint64_t DiskBytes(const std::string& dir) {
  uint64_t total = 0;
  std::error_code ec;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (it->is_regular_file(ec)) total += it->file_size(ec);
  }
  return total;
}

std::string Mib(uint64_t bytes) { return absl::StrFormat("%.1f MiB", bytes / 1048576.0); }

absl::StatusOr<int> RunStats(const Args& args) {
  const std::string& dir = args.positional()[0];
  ASSIGN_OR_RETURN(auto store, OpenReader(dir));
  const proto::StoreMeta& meta = store->db().meta();
  const proto::StoreCounts c = store->Counts();
  std::cout << "store " << dir << "\n";
  std::cout << absl::StrFormat("  schema        version %d, created by %s at unix ms %d\n",
                               meta.schema_version(), meta.created_by(), meta.created_unix_ms());
  std::cout << absl::StrFormat("  disk          %s\n", Mib(DiskBytes(dir)));
  const store::VerifyReport& v = store->db().verified();
  std::cout << absl::StrFormat(
      "  checked       %d SST files (%s): present, full size, checksums good (%.2f s)\n",
      v.sst_files, Mib(v.sst_bytes), v.seconds);
  std::cout << absl::StrFormat(
      "  records       %d envs, %d prompts, %d groups, %d trajectories (%d tokens)\n", c.envs(),
      c.prompts(), c.groups(), c.trajectories(), c.trajectory_tokens());
  std::cout << absl::StrFormat("  runs          %d runs, %d step metrics, %d checkpoints\n",
                               c.runs(), c.step_metrics(), c.checkpoints());
  std::cout << absl::StrFormat(
      "  quarantine    %d groups refused by the learner (dsarl store dump %s --cf quarantine)\n",
      c.quarantined(), dir);
  std::cout << absl::StrFormat("  %-13s %12s %6s %12s %12s\n", "column family", "~keys", "ssts",
                               "sst", "memtable");
  for (const store::CfStats& s : store->db().Stats()) {
    std::cout << absl::StrFormat("  %-13s %12d %6d %12s %12s\n", s.name, s.estimated_keys,
                                 s.sst_files, Mib(s.sst_bytes), Mib(s.memtable_bytes));
  }
  return 0;
}

absl::StatusOr<int> RunDump(const Args& args) {
  ASSIGN_OR_RETURN(auto store, OpenReader(args.positional()[0]));
  store::DumpOptions options;
  ASSIGN_OR_RETURN(options.cf, store::CfFromName(args.Get("cf")));
  ASSIGN_OR_RETURN(int64_t limit, args.GetInt("limit"));
  if (limit < 0) return absl::InvalidArgumentError("--limit must be >= 0");
  options.limit = static_cast<uint64_t>(limit);
  options.full = args.GetBool("full");
  options.index = args.GetBool("index");
  ASSIGN_OR_RETURN(uint64_t n, store::DumpText(*store, options, [](const std::string& line) {
                     std::cout << line << "\n";
                     return absl::OkStatus();
                   }));
  std::cerr << n << " record(s)\n";
  return 0;
}

absl::StatusOr<int> RunExport(const Args& args) {
  if (args.Get("format") != "jsonl") {
    return absl::InvalidArgumentError(
        absl::StrCat("--format '", args.Get("format"), "' is not supported; use --format jsonl"));
  }
  store::ExportOptions options;
  options.table = args.Get("cf");
  if (args.Has("run")) {
    ASSIGN_OR_RETURN(int64_t run, args.GetInt("run"));
    options.run_id = static_cast<uint64_t>(run);
  }
  if (args.Has("from-step")) {
    ASSIGN_OR_RETURN(options.step_from, args.GetInt("from-step"));
  }
  if (args.Has("to-step")) {
    ASSIGN_OR_RETURN(options.step_to, args.GetInt("to-step"));
  }
  ASSIGN_OR_RETURN(int64_t limit, args.GetInt("limit"));
  if (limit < 0) return absl::InvalidArgumentError("--limit must be >= 0");
  options.limit = static_cast<uint64_t>(limit);
  ASSIGN_OR_RETURN(auto store, OpenReader(args.positional()[0]));

  const std::string path = args.Get("out");
  FILE* out = stdout;
  if (!path.empty() && path != "-") {
    out = fopen(path.c_str(), "w");
    if (out == nullptr) {
      return absl::UnavailableError(absl::StrCat("opening ", path, ": ", strerror(errno)));
    }
  }
  const std::string shown = out == stdout ? "standard output" : path;
  auto write_error = [&]() {
    const int err = errno;
    std::string msg = absl::StrCat("writing ", shown, ": ", strerror(err));
    return err == ENOSPC ? absl::ResourceExhaustedError(msg) : absl::UnavailableError(msg);
  };
  absl::StatusOr<uint64_t> rows =
      store::ExportJsonl(*store, options, [&](const std::string& line) -> absl::Status {
        if (fwrite(line.data(), 1, line.size(), out) != line.size() || fputc('\n', out) == EOF) {
          return write_error();
        }
        return absl::OkStatus();
      });
  absl::Status closed;
  if (fflush(out) != 0) closed = write_error();
  if (out != stdout && fclose(out) != 0 && closed.ok()) closed = write_error();
  RETURN_IF_ERROR(rows.status());
  RETURN_IF_ERROR(closed);
  std::cerr << *rows << " row(s) of " << options.table << " to " << shown << "\n";
  return 0;
}

}  // namespace

void RegisterStoreCommands(CommandTable* table) {
  table->Add(Command{
      .name = "store stats",
      .summary = "schema, record counts and per-column-family sizes of a job's store",
      .description =
          "Opens the store in DIR read-only (safe while a job writes it) and prints its\n"
          "schema version, record counts, disk use and RocksDB's per-column-family\n"
          "sizes, with the number of groups the learner refused (quarantined). Errors name\n"
          "DIR: missing, corrupt, or of a newer schema. Every SST file is checked first\n"
          "(present, of the size the MANIFEST records, every block's checksum); a damaged one\n"
          "is a DataLoss error naming the file, and the exit status is 1.",
      .positional = {"DIR"},
      .min_positional = 1,
      .run = RunStats});
  table->Add(Command{
      .name = "store dump",
      .summary = "print the records of one column family as readable text",
      .description =
          "Prints the records of one column family of the store in DIR in key order: a\n"
          "'# <key>' line, then the value in protobuf text format. Long repeated fields (token\n"
          "ids, log-probs) show their first 8 values unless --full. Index entries are skipped\n"
          "unless --index. Column families: envs, prompts, groups, trajectories, runs, meta,\n"
          "quarantine (groups the learner refused: each with its reason, the time, where it\n"
          "was caught, and the group as received). The SST files are checked first, as by\n"
          "store stats: a damaged store is a DataLoss error naming the file, never 0 records.",
      .positional = {"DIR"},
      .min_positional = 1,
      .flags = {FlagSpec{"cf", "column family to print", "prompts"},
                FlagSpec{"limit", "at most this many records (0: all)", "10"},
                FlagSpec{"full", "print repeated fields whole", "", true},
                FlagSpec{"index", "also print index entries", "", true}},
      .run = RunDump});
  table->Add(Command{
      .name = "store export",
      .summary = "write a table of the store as JSON Lines (for pandas, DuckDB)",
      .description =
          "Writes one JSON object per line: every field present, 64-bit integers as numbers,\n"
          "enums by name. Tables: envs, prompts, groups (headers), trajectories (each with its\n"
          "group's run_id, step, attempt, worker_id), runs, metrics, checkpoints.\n"
          "--run/--from-step/--to-step filter groups, trajectories, metrics and checkpoints.\n"
          "Example: dsarl store export runs/x/store --cf trajectories --format jsonl --out "
          "t.jsonl\n"
          "then pandas.read_json('t.jsonl', lines=True) or DuckDB read_json_auto('t.jsonl').\n"
          "The SST files are checked first, as by store stats: a damaged store is a DataLoss\n"
          "error naming the file, and nothing is written.",
      .positional = {"DIR"},
      .min_positional = 1,
      .flags = {FlagSpec{"cf", "table to export", "trajectories"},
                FlagSpec{"format", "output format (jsonl)", "jsonl"},
                FlagSpec{"out", "output file ('-': standard output)", "-"},
                FlagSpec{"run", "only this run id", ""},
                FlagSpec{"from-step", "only steps >= this", ""},
                FlagSpec{"to-step", "only steps <= this", ""},
                FlagSpec{"limit", "at most this many rows (0: all)", "0"}},
      .run = RunExport});
}

}  // namespace dsarl::cli
