// The `synthesized` category: every environment has its own schema (from a domain and a shape
// code no other environment of the set has), its own SQLite database, the tools derived from the
// schema and the four task families over it, each on a ladder 0..4.
#include "envs/world/world_env.h"

#include <algorithm>
#include <memory>
#include <set>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "envs/agent.h"
#include "envs/categories/categories.h"
#include "envs/toolbox.h"
#include "envs/world/tasks.h"
#include "envs/world/tools.h"
#include "envs/world/world.h"

namespace dsarl::envs::world {
namespace {

// One episode: its private copy of the database, its task, and for state tasks the end state a
// replay of the reference actions reaches.
class WorldState : public EpisodeState {
 public:
  WorldState(const void* owner, SqliteDb db, int level, WorldTask task, std::string expected,
             std::vector<proto::ToolSpec> offered)
      : owner(owner),
        db(std::move(db)),
        level(level),
        task(std::move(task)),
        expected(std::move(expected)),
        offered(std::move(offered)) {}
  const void* owner;
  SqliteDb db;
  int level;
  WorldTask task;
  std::string expected;                  // "" for answer tasks
  std::vector<proto::ToolSpec> offered;  // the tools this episode may call
};

// The tools a task offers: every tool its reference solution calls, plus distractors drawn from
// the level's tools (2 at level 0, then 5, 8, 11; all of them at level 4), in declaration order.
// Fewer tools make the lower rungs shorter to read as well as easier to choose from.
std::vector<proto::ToolSpec> OfferedTools(const WorldTools& tools, const WorldTask& task, int level,
                                          Rng& rng) {
  std::vector<proto::ToolSpec> all = tools.Specs(level);
  if (level >= 4) return all;
  std::set<std::string> needed;
  for (const auto& round : task.rounds) {
    for (const ToolCall& c : round) needed.insert(c.name);
  }
  std::vector<size_t> others;
  for (size_t i = 0; i < all.size(); ++i) {
    if (needed.count(all[i].name()) == 0) others.push_back(i);
  }
  rng.Shuffle(&others);
  others.resize(std::min<size_t>(others.size(), static_cast<size_t>(2 + 3 * level)));
  const std::set<size_t> extra(others.begin(), others.end());
  std::vector<proto::ToolSpec> out;
  for (size_t i = 0; i < all.size(); ++i) {
    if (needed.count(all[i].name()) > 0 || extra.count(i) > 0) out.push_back(all[i]);
  }
  return out;
}

std::string SystemText(const Schema& s) {
  return absl::StrCat(
      "You are an assistant for a ", s.domain == "real_estate" ? "real estate" : s.domain,
      " service. Its database holds ", s.entities.size(),
      " kinds of record; the tools below read and change it. Look facts up with the tools and "
      "never guess ids, names or prices. When a request changes something, make exactly the "
      "changes asked for, then reply \"",
      kDoneAnswer, "\". Otherwise reply with the answer only.");
}

// The first line where two dumps differ, for the verdict's details.
std::string FirstDiff(const std::string& got, const std::string& want) {
  std::vector<std::string> a = absl::StrSplit(got, '\n'), b = absl::StrSplit(want, '\n');
  for (size_t i = 0; i < std::max(a.size(), b.size()); ++i) {
    const std::string x = i < a.size() ? a[i] : "(nothing)", y = i < b.size() ? b[i] : "(nothing)";
    if (x != y) return absl::StrCat("has '", x, "' where '", y, "' was expected");
  }
  return "";
}

}  // namespace

WorldEnvironment::WorldEnvironment(proto::EnvSpec spec, std::shared_ptr<const World> world)
    : spec_(std::move(spec)),
      world_(std::move(world)),
      tools_(std::make_unique<WorldTools>(world_->schema)),
      system_(SystemText(world_->schema)),
      hash_(world::SchemaHash(world_->schema)) {}

WorldEnvironment::~WorldEnvironment() = default;

absl::StatusOr<Episode> WorldEnvironment::Reset(uint64_t seed, int level) const {
  RETURN_IF_ERROR(CheckLevel(spec_, level));
  Rng rng(DeriveSeed({spec_.seed(), seed, static_cast<uint64_t>(level)}));
  ASSIGN_OR_RETURN(WorldTask task, MakeTask(*world_, *tools_, rng, level));
  std::string expected;
  const bool state = task.answer.empty();
  if (state) {
    // The end state the reference actions reach, played on a scratch copy.
    ASSIGN_OR_RETURN(SqliteDb scratch, SqliteDb::FromImage(world_->image));
    for (const auto& round : task.rounds) {
      for (const ToolCall& call : round)
        RETURN_IF_ERROR(tools_->Run(call, level, &scratch).status());
    }
    ASSIGN_OR_RETURN(expected, scratch.Dump());
  }
  Episode e;
  e.task.system = system_;
  e.task.user = task.user;
  e.task.tools = OfferedTools(*tools_, task, level, rng);
  e.task.reference["family"] = task.family;
  e.task.reference["verifier"] = state ? "state" : "answer";
  if (!state) {
    e.task.reference["answer"] = task.answer;
    e.task.reference["match"] = AnswerMatchName(task.match);
  }
  e.task.solution.rounds = task.rounds;
  e.task.solution.final_answer = state ? kDoneAnswer : task.answer;
  e.task.check_answer_in_outputs = task.answer_is_lookup;
  e.task.check_noop_fails = state;
  ASSIGN_OR_RETURN(SqliteDb db, SqliteDb::FromImage(world_->image));
  e.state = std::make_unique<WorldState>(this, std::move(db), level, std::move(task),
                                         std::move(expected), e.task.tools);
  return e;
}

absl::StatusOr<StepResult> WorldEnvironment::Step(EpisodeState* state,
                                                  absl::Span<const ToolCall> calls) const {
  auto* s = dynamic_cast<WorldState*>(state);
  if (s == nullptr || s->owner != this) {
    return absl::FailedPreconditionError("Step: the episode state is not one of this environment");
  }
  StepResult out;
  for (const ToolCall& call : calls) {
    bool offered = false;
    for (const proto::ToolSpec& t : s->offered) offered |= t.name() == call.name;
    if (!offered) {
      out.results.push_back(UnknownToolResult(call.name, s->offered));
      continue;
    }
    ASSIGN_OR_RETURN(ToolResult r, tools_->Run(call, s->level, &s->db));
    out.results.push_back(std::move(r));
  }
  return out;
}

absl::StatusOr<Verdict> WorldEnvironment::Verify(const EpisodeState& state,
                                                 absl::string_view final_answer) const {
  const auto* cs = dynamic_cast<const WorldState*>(&state);
  if (cs == nullptr || cs->owner != this) {
    return absl::FailedPreconditionError(
        "Verify: the episode state is not one of this environment");
  }
  auto* s = const_cast<WorldState*>(cs);  // Dump runs queries; it changes nothing
  if (!s->task.answer.empty()) {
    Verdict v = MatchAnswer(s->task.match, s->task.answer, final_answer);
    v.details = absl::StrCat("answer ", v.details);
    return v;
  }
  ASSIGN_OR_RETURN(std::string got, s->db.Dump());
  const std::string diff = FirstDiff(got, s->expected);
  if (diff.empty()) return Verdict{1.0, "database as expected"};
  return Verdict{0.0, absl::StrCat("database: ", diff)};
}

const Schema& WorldEnvironment::schema() const { return world_->schema; }

absl::StatusOr<std::unique_ptr<WorldEnvironment>> BuildWorldEnvironment(
    const proto::EnvSpec& spec) {
  auto d = spec.params().find("domain");
  auto c = spec.params().find("shape");
  if (d == spec.params().end() || c == spec.params().end()) {
    return absl::InvalidArgumentError(absl::StrCat("environment ", spec.id(), " (", spec.category(),
                                                   "): needs parameters domain and shape"));
  }
  uint64_t code = 0;
  if (!absl::SimpleHexAtoi(c->second, &code)) {
    return absl::InvalidArgumentError(absl::StrCat("environment ", spec.id(), ": shape '",
                                                   c->second, "' is not a hexadecimal number"));
  }
  absl::StatusOr<World> w = BuildWorld(d->second, code, spec.seed());
  if (!w.ok()) {
    return absl::Status(w.status().code(),
                        absl::StrCat("environment ", spec.id(), ": ", w.status().message()));
  }
  return std::make_unique<WorldEnvironment>(spec, std::make_shared<const World>(*std::move(w)));
}

}  // namespace dsarl::envs::world

namespace dsarl::envs {

Category SynthesizedCategory() {
  Category c;
  c.name = "synthesized";
  c.kind = CategoryKind::kAgent;
  c.description =
      "a schema, SQLite database, tools and tasks synthesized per environment from 12 domains";
  c.top_level = 4;
  c.envs_factor = 6;
  c.sample_params = [](Rng& rng) {
    const std::vector<std::string>& domains = world::DomainNames();
    const std::string& domain = domains[rng.Index(domains.size())];
    const uint64_t code = *world::SampleShapeCode(domain, rng);
    return std::map<std::string, std::string>{{"domain", domain},
                                              {"shape", absl::StrFormat("%x", code)}};
  };
  c.build = [](const proto::EnvSpec& spec) -> absl::StatusOr<std::unique_ptr<Environment>> {
    ASSIGN_OR_RETURN(std::unique_ptr<world::WorldEnvironment> env,
                     world::BuildWorldEnvironment(spec));
    return std::unique_ptr<Environment>(std::move(env));
  };
  return c;
}

}  // namespace dsarl::envs
