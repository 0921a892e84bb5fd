#include "cli/command.h"

#include <algorithm>
#include <filesystem>
#include <iostream>
#include <new>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/log.h"

namespace dsarl::cli {
namespace {

const FlagSpec kHelpFlag{"help", "show this help and exit", "", true, false};
const FlagSpec kLogLevelFlag{"log-level", "trace, debug, info, warn, error or off", "info", false,
                             false};

const FlagSpec* FindFlag(const Command& c, const std::string& name) {
  if (name == kHelpFlag.name) return &kHelpFlag;
  if (name == kLogLevelFlag.name) return &kLogLevelFlag;
  for (const FlagSpec& f : c.flags) {
    if (f.name == name) return &f;
  }
  return nullptr;
}

// Levenshtein distance, to suggest the flag a user probably meant.
int EditDistance(const std::string& a, const std::string& b) {
  std::vector<int> prev(b.size() + 1), cur(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1])});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

// The one place where what escapes a command as a C++ exception (an allocation the checks did not
// foresee, a std::filesystem error) becomes an error message and exit 1 instead of an abort.
absl::StatusOr<int> RunCatching(const Command& c, const Args& args) {
  try {
    return c.run(args);
  } catch (const std::bad_alloc&) {
    return absl::ResourceExhaustedError(
        "out of memory; the job needs more memory than this machine gives it (see `dsarl config "
        "check`, which estimates it)");
  } catch (const std::filesystem::filesystem_error& e) {
    return absl::InternalError(absl::StrCat("file system error: ", e.what()));
  } catch (const std::exception& e) {
    return absl::InternalError(absl::StrCat("unexpected error: ", e.what()));
  }
}

}  // namespace

const std::string& Args::Get(const std::string& name) const {
  auto it = values_.find(name);
  if (it != values_.end() && !it->second.empty()) return it->second.back();
  static const std::string kEmpty;
  auto d = defaults_.find(name);
  return d == defaults_.end() ? kEmpty : d->second;
}

const std::vector<std::string>& Args::GetAll(const std::string& name) const {
  static const std::vector<std::string> kNone;
  auto it = values_.find(name);
  return it == values_.end() ? kNone : it->second;
}

absl::StatusOr<int64_t> Args::GetInt(const std::string& name) const {
  int64_t v;
  if (!absl::SimpleAtoi(Get(name), &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": expected an integer, got '", Get(name), "'"));
  }
  return v;
}

absl::StatusOr<double> Args::GetDouble(const std::string& name) const {
  double v;
  if (!absl::SimpleAtod(Get(name), &v)) {
    return absl::InvalidArgumentError(
        absl::StrCat("--", name, ": expected a number, got '", Get(name), "'"));
  }
  return v;
}

void CommandTable::Add(Command command) { commands_.push_back(std::move(command)); }

absl::StatusOr<Args> CommandTable::Parse(const Command& c,
                                         const std::vector<std::string>& argv) const {
  Args args;
  for (const FlagSpec& f : c.flags) args.defaults_[f.name] = f.default_value;
  args.defaults_[kLogLevelFlag.name] = kLogLevelFlag.default_value;
  bool only_positional = false;
  for (size_t i = 0; i < argv.size(); ++i) {
    const std::string& a = argv[i];
    if (only_positional || !absl::StartsWith(a, "--") || a == "-") {
      args.positional_.push_back(a);
      continue;
    }
    if (a == "--") {
      only_positional = true;
      continue;
    }
    std::string name = a.substr(2);
    std::string value;
    bool has_value = false;
    if (size_t eq = name.find('='); eq != std::string::npos) {
      value = name.substr(eq + 1);
      name = name.substr(0, eq);
      has_value = true;
    }
    const FlagSpec* f = FindFlag(c, name);
    if (f == nullptr) {
      std::string hint;
      int best = 3;
      for (const FlagSpec& g : c.flags) {
        int d = EditDistance(name, g.name);
        if (d < best) {
          best = d;
          hint = absl::StrCat(" (did you mean --", g.name, "?)");
        }
      }
      return absl::InvalidArgumentError(
          absl::StrCat("dsarl ", c.name, ": unknown flag --", name, hint));
    }
    if (f->is_bool) {
      if (!has_value) value = "true";
    } else if (!has_value) {
      if (i + 1 >= argv.size()) {
        return absl::InvalidArgumentError(
            absl::StrCat("dsarl ", c.name, ": flag --", name, " needs a value"));
      }
      value = argv[++i];
    }
    auto& slot = args.values_[name];
    if (!f->repeated) slot.clear();
    slot.push_back(value);
  }
  if (args.Has("help")) return args;
  const bool variadic = !c.positional.empty() && absl::EndsWith(c.positional.back(), "...");
  if (static_cast<int>(args.positional_.size()) < c.min_positional) {
    return absl::InvalidArgumentError(absl::StrCat("dsarl ", c.name, ": expected ",
                                                   absl::StrJoin(c.positional, " "), " (see dsarl ",
                                                   c.name, " --help)"));
  }
  if (!variadic && args.positional_.size() > c.positional.size()) {
    return absl::InvalidArgumentError(absl::StrCat("dsarl ", c.name, ": unexpected argument '",
                                                   args.positional_[c.positional.size()], "'"));
  }
  return args;
}

std::string CommandTable::HelpFor(const Command& c) const {
  std::string out = absl::StrCat("usage: dsarl ", c.name);
  if (!c.flags.empty()) absl::StrAppend(&out, " [flags]");
  for (const std::string& p : c.positional) absl::StrAppend(&out, " ", p);
  absl::StrAppend(&out, "\n\n", c.summary, "\n");
  if (!c.description.empty()) absl::StrAppend(&out, "\n", c.description, "\n");
  absl::StrAppend(&out, "\nflags:\n");
  std::vector<FlagSpec> all = c.flags;
  all.push_back(kLogLevelFlag);
  all.push_back(kHelpFlag);
  for (const FlagSpec& f : all) {
    std::string left = absl::StrCat("  --", f.name, f.is_bool ? "" : " VALUE");
    if (left.size() < 26) left.resize(26, ' ');
    absl::StrAppend(&out, left, " ", f.help);
    if (!f.default_value.empty()) absl::StrAppend(&out, " (default: ", f.default_value, ")");
    if (f.repeated) absl::StrAppend(&out, " (repeatable)");
    absl::StrAppend(&out, "\n");
  }
  return out;
}

std::string CommandTable::Overview(const std::string& prefix) const {
  std::string out = prefix.empty()
                        ? "usage: dsarl COMMAND [flags] [args]\n\ncommands:\n"
                        : absl::StrCat("usage: dsarl ", prefix, " COMMAND\n\ncommands:\n");
  for (const Command& c : commands_) {
    if (!prefix.empty() && !absl::StartsWith(c.name, prefix + " ")) continue;
    std::string left = absl::StrCat("  ", c.name);
    if (left.size() < 24) left.resize(24, ' ');
    absl::StrAppend(&out, left, " ", c.summary, "\n");
  }
  absl::StrAppend(&out, "\nRun 'dsarl COMMAND --help' for a command's flags.\n");
  return out;
}

int CommandTable::Main(const std::vector<std::string>& argv) const {
  if (argv.empty() || argv[0] == "--help" || argv[0] == "-h" || argv[0] == "help") {
    std::cout << Overview("");
    return argv.empty() ? 2 : 0;
  }
  // Longest command name matching the leading words.
  const Command* best = nullptr;
  size_t best_words = 0;
  for (const Command& c : commands_) {
    std::vector<std::string> words = absl::StrSplit(c.name, ' ');
    if (words.size() > argv.size()) continue;
    if (std::equal(words.begin(), words.end(), argv.begin()) && words.size() > best_words) {
      best = &c;
      best_words = words.size();
    }
  }
  if (best == nullptr) {
    // A group name alone ("dsarl config") lists its commands.
    bool is_group = std::any_of(commands_.begin(), commands_.end(), [&](const Command& c) {
      return absl::StartsWith(c.name, argv[0] + " ");
    });
    if (is_group) {
      std::cout << Overview(argv[0]);
      return (argv.size() > 1 && argv[1] != "--help") ? 2 : 0;
    }
    std::cerr << "dsarl: unknown command '" << argv[0] << "'\n\n" << Overview("");
    return 2;
  }
  std::vector<std::string> rest(argv.begin() + best_words, argv.end());
  auto args = Parse(*best, rest);
  if (!args.ok()) {
    std::cerr << args.status().message() << "\n";
    return 2;
  }
  if (args->Has("help")) {
    std::cout << HelpFor(*best);
    return 0;
  }
  if (!SetLogLevel(args->Get("log-level"))) {
    std::cerr << "dsarl " << best->name << ": --log-level: unknown level '"
              << args->Get("log-level") << "'\n";
    return 2;
  }
  absl::StatusOr<int> rc = RunCatching(*best, *args);
  if (!rc.ok()) {
    std::cerr << "dsarl " << best->name << ": " << rc.status().message() << "\n";
    return rc.status().code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
  }
  return *rc;
}

}  // namespace dsarl::cli
