// Synthesized worlds (envs/world): schemas are distinct per shape code and canonical; every task
// family at every level is solved by a scripted solver that follows the reference solution, and
// scores 0 for a wrong answer or a wrong end state; malformed calls and failed preconditions give
// error observations; episodes never see each other's writes; the database is a real SQLite one.
#include "envs/world/world.h"

#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "envs/episode.h"
#include "envs/registry.h"
#include "envs/synthesis.h"
#include "envs/world/catalog.h"
#include "envs/world/schema.h"
#include "envs/world/sqlite_db.h"
#include "envs/world/tasks.h"
#include "envs/world/tasks_internal.h"
#include "envs/world/tools.h"
#include "envs/world/world_env.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl::envs::world {
namespace {

// A spec of the synthesized category with every constraint and optional tool in, so each
// precondition can be tested (bits 0, 2..11 and every optional attribute).
proto::EnvSpec FullSpec(const std::string& domain, uint64_t seed) {
  proto::EnvSpec spec;
  spec.set_id(seed);
  spec.set_category("synthesized");
  spec.set_seed(seed);
  spec.set_difficulty(4);
  uint64_t code = 0xFFD;  // two resources, both items, a home hub, all constraints and tools
  for (const DomainPart& d : Catalog()) {
    if (d.name != domain) continue;
    const EntityPart* parts[] = {&d.hub,   &d.resources[0], &d.resources[1],
                                 &d.actor, &d.items[0],     &d.items[1]};
    for (int k = 0; k < 6; ++k) {
      code |= ((uint64_t{1} << parts[k]->optional.size()) - 1) << (12 + 4 * k);
    }
  }
  (*spec.mutable_params())["domain"] = domain;
  (*spec.mutable_params())["shape"] = absl::StrCat(absl::Hex(code));
  return spec;
}

std::unique_ptr<WorldEnvironment> Build(const proto::EnvSpec& spec) {
  absl::StatusOr<std::unique_ptr<WorldEnvironment>> env = BuildWorldEnvironment(spec);
  EXPECT_TRUE(env.ok()) << env.status();
  return env.ok() ? *std::move(env) : nullptr;
}

Policy SolutionThen(std::string answer, size_t rounds_to_play = 1000) {
  return [answer, rounds_to_play](const Task& task, const std::vector<Turn>& turns) {
    Action a;
    if (turns.size() < task.solution.rounds.size() && turns.size() < rounds_to_play) {
      a.calls = task.solution.rounds[turns.size()];
    } else {
      a.final_answer = answer.empty() ? task.solution.final_answer : answer;
    }
    return absl::StatusOr<Action>(a);
  };
}

TEST(WorldSchemaTest, DistinctCodesGiveDistinctSchemasAndCodesAreCanonical) {
  for (const std::string& domain : DomainNames()) {
    Rng rng(HashString(domain));
    std::set<uint64_t> codes;
    std::set<std::string> hashes;
    for (int i = 0; i < 300; ++i) {
      ASSERT_OK_AND_ASSIGN(uint64_t code, SampleShapeCode(domain, rng));
      ASSERT_OK_AND_ASSIGN(Schema s, SchemaFromCode(domain, code));
      if (codes.insert(code).second) hashes.insert(SchemaHash(s));
      EXPECT_FALSE(SchemaDdl(s).empty());
    }
    EXPECT_EQ(hashes.size(), codes.size()) << domain;
  }
  // A bit of a part that is out (the second resource's attributes with one resource) is refused.
  EXPECT_EQ(SchemaFromCode("travel", uint64_t{1} << 20).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(SchemaFromCode("atlantis", 0).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_GE(DomainNames().size(), 12u);
}

TEST(WorldSchemaTest, WorldsAreDeterministicAndConsistent) {
  ASSERT_OK_AND_ASSIGN(World a, BuildWorld("health", 0x15, 99));
  ASSERT_OK_AND_ASSIGN(World b, BuildWorld("health", 0x15, 99));
  EXPECT_EQ(a.image, b.image);
  // Foreign keys point at rows that exist.
  for (size_t e = 0; e < a.tables.size(); ++e) {
    for (const ColumnDef& c : a.tables[e].columns) {
      if (c.references < 0) continue;
      for (size_t r = 0; r < a.tables[e].rows.size(); ++r) {
        EXPECT_GE(a.tables[c.references].FindRow(a.tables[e].Text(r, c.name)), 0) << c.name;
      }
    }
  }
}

// Every family at every level, in worlds of several domains with every constraint in.
TEST(WorldTaskTest, EveryFamilyAtEveryLevelIsSolvedAndWrongOnesFail) {
  int played = 0;
  for (const char* domain : {"travel", "education", "finance", "logistics", "dining"}) {
    auto env = Build(FullSpec(domain, HashString(domain)));
    ASSERT_NE(env, nullptr);
    for (const std::string& family : TaskFamilies()) {
      for (int level = 0; level <= 4; ++level) {
        int made = 0;
        for (uint64_t k = 0; k < 60 && made < 2; ++k) {
          Rng rng(DeriveSeed({k, HashString(family), static_cast<uint64_t>(level)}));
          absl::StatusOr<WorldTask> t =
              MakeFamilyTask(family, env->world(), env->tools(), rng, level);
          if (!t.ok()) {
            ASSERT_TRUE(absl::IsFailedPrecondition(t.status())) << t.status();
            continue;
          }
          ++made;
          ++played;
          EXPECT_EQ(t->family, family);
        }
        EXPECT_GT(made, 0) << domain << " " << family << " level " << level;
      }
    }
    // Through Reset: the reference scores 1, wrong answers and wrong end states score 0.
    for (int level = 0; level <= 4; ++level) {
      for (uint64_t seed = 0; seed < 12; ++seed) {
        ASSERT_OK_AND_ASSIGN(Episode ep, env->Reset(seed, level));
        const std::string& family = ep.task.reference.at("family");
        ASSERT_OK(CheckTask(*env, seed, level, std::move(ep)));
        ASSERT_OK_AND_ASSIGN(Episode again, env->Reset(seed, level));
        const EpisodeRecord good = RunEpisode(*env, seed, level, SolutionThen(""));
        ASSERT_TRUE(good.ok()) << good.infra_error;
        EXPECT_EQ(good.verdict.score, 1.0) << family << ": " << good.verdict.details;
        if (again.task.reference.at("verifier") == "answer") {
          const EpisodeRecord wrong = RunEpisode(*env, seed, level, SolutionThen("Nobody 0"));
          EXPECT_EQ(wrong.verdict.score, 0.0) << wrong.verdict.details;
        } else {
          // Stopping before the last action leaves a different end state.
          const EpisodeRecord partial = RunEpisode(
              *env, seed, level, SolutionThen("", again.task.solution.rounds.size() - 1));
          ASSERT_TRUE(partial.ok()) << partial.infra_error;
          EXPECT_EQ(partial.verdict.score, 0.0) << partial.verdict.details;
          EXPECT_TRUE(absl::StrContains(partial.verdict.details, "database"))
              << partial.verdict.details;
        }
      }
    }
  }
  EXPECT_GT(played, 100);
}

std::vector<ToolResult> Calls(const WorldEnvironment& env, EpisodeState* state,
                              std::vector<ToolCall> calls) {
  absl::StatusOr<StepResult> r = env.Step(state, calls);
  EXPECT_TRUE(r.ok()) << r.status();
  return r.ok() ? r->results : std::vector<ToolResult>{};
}

TEST(WorldToolTest, BadArgumentsAndFailedPreconditionsAreErrorObservations) {
  auto env = Build(FullSpec("travel", 3));
  ASSERT_NE(env, nullptr);
  const Schema& s = env->schema();
  ASSERT_TRUE(s.constraints.capacity && s.constraints.hours && s.constraints.budget);
  const World& w = env->world();
  ASSERT_OK_AND_ASSIGN(Episode ep, env->Reset(1, 4));
  const int r = s.resources[0];
  const TableRows& res = w.tables[r];
  const TableRows& actors = w.tables[s.actor];
  const std::string rid = ValueText(res.rows[0][0]);
  const std::string aid = ValueText(actors.rows[0][0]);
  const std::string book = absl::StrCat(s.verb, "_", s.entities[r].kind);
  const std::string find = absl::StrCat("find_", s.entities[r].plural);
  const std::string rk = absl::StrCat(s.entities[r].kind, "_id");
  const std::string ak = absl::StrCat(s.entities[s.actor].kind, "_id");
  const std::vector<std::pair<ToolCall, std::string>> cases = {
      {{"get_" + s.entities[r].kind, {{rk, "NOPE9"}}}, "no " + s.entities[r].kind + " has id"},
      {{find, {{"page", "99"}}}, "out of range"},
      {{find, {{"page", "0"}}}, "out of range"},
      {{book, {{ak, aid}, {rk, rid}, {"date", "2027-13-01"}, {"time", "10:00"}}}, "YYYY-MM-DD"},
      {{book, {{ak, aid}, {rk, rid}, {"date", "2027-03-02"}, {"time", "10h"}}}, "HH:MM"},
      {{book, {{ak, aid}, {rk, rid}, {"date", "2027-03-02"}, {"time", "03:00"}}},
       "closed at 03:00"},
      {{book, {{ak, "X"}, {rk, rid}, {"date", "2027-03-02"}, {"time", "10:00"}}}, "has id 'X'"},
      {{"no_such_tool", {}}, "there is no tool"},
  };
  for (const auto& [call, want] : cases) {
    std::vector<ToolResult> out = Calls(*env, ep.state.get(), {call});
    ASSERT_EQ(out.size(), 1u);
    EXPECT_TRUE(out[0].is_error) << call.name << " -> " << out[0].output;
    EXPECT_TRUE(absl::StrContains(out[0].output, want)) << out[0].output << " wants " << want;
  }
  // An enum filter with a value outside its choices names the choices.
  for (const ColumnDef& c : res.columns) {
    if (c.type != AttrType::kEnum || c.attr == nullptr) continue;
    std::vector<ToolResult> out = Calls(*env, ep.state.get(), {{find, {{c.name, "zzz"}}}});
    EXPECT_TRUE(out[0].is_error);
    EXPECT_TRUE(absl::StrContains(out[0].output, "must be one of")) << out[0].output;
  }
  // Capacity: book one resource for different actors on one day until it is full.
  const std::string opens = res.Text(0, "opens");
  int booked = 0;
  std::string refusal;
  for (size_t a = 0; a < actors.rows.size() && refusal.empty(); ++a) {
    // Give everyone enough money first (when transfers exist, from nobody: set directly is not a
    // tool, so pick actors who can pay).
    if (actors.Int(a, s.balance) < res.Int(0, s.entities[r].price)) continue;
    std::vector<ToolResult> out = Calls(*env, ep.state.get(),
                                        {{book,
                                          {{ak, ValueText(actors.rows[a][0])},
                                           {rk, rid},
                                           {"date", "2027-03-20"},
                                           {"time", opens}}}});
    if (out[0].is_error)
      refusal = out[0].output;
    else
      ++booked;
  }
  if (!refusal.empty()) {
    EXPECT_TRUE(absl::StrContains(refusal, "is full on 2027-03-20") ||
                absl::StrContains(refusal, "requires"))
        << refusal;
  }
  EXPECT_GT(booked + static_cast<int>(!refusal.empty()), 0);
  // Budget: an actor whose balance is below the price is refused with both numbers.
  for (size_t a = 0; a < actors.rows.size(); ++a) {
    for (size_t k = 0; k < res.rows.size(); ++k) {
      if (actors.Int(a, s.balance) >= res.Int(k, s.entities[r].price) ||
          !Prerequisites(w, ValueText(res.rows[k][0])).empty()) {
        continue;
      }
      auto fresh = env->Reset(2, 4);
      ASSERT_OK(fresh.status());
      std::vector<ToolResult> out = Calls(*env, fresh->state.get(),
                                          {{book,
                                            {{ak, ValueText(actors.rows[a][0])},
                                             {rk, ValueText(res.rows[k][0])},
                                             {"date", "2027-03-27"},
                                             {"time", res.Text(k, "opens")}}}});
      EXPECT_TRUE(out[0].is_error);
      EXPECT_TRUE(absl::StrContains(out[0].output, "is less than")) << out[0].output;
      a = actors.rows.size();
      break;
    }
  }
  // Transfers: not to oneself, not negative, not more than the balance.
  const std::string transfer = absl::StrCat("transfer_", s.balance);
  const std::string bid = ValueText(actors.rows[1][0]);
  for (const auto& [args, want] :
       std::vector<std::pair<std::vector<std::pair<std::string, std::string>>, std::string>>{
           {{{"from_" + ak, aid}, {"to_" + ak, aid}, {"amount", "5"}}, "same account"},
           {{{"from_" + ak, aid}, {"to_" + ak, bid}, {"amount", "-5"}}, "positive"},
           {{{"from_" + ak, aid}, {"to_" + ak, bid}, {"amount", "999999"}}, "has only"}}) {
    std::vector<ToolResult> out = Calls(*env, ep.state.get(), {{transfer, args}});
    EXPECT_TRUE(out[0].is_error);
    EXPECT_TRUE(absl::StrContains(out[0].output, want)) << out[0].output;
  }
  // Cancelling twice: the second is refused.
  const int b = s.bookings[0];
  const std::string bk = absl::StrCat(s.entities[b].kind, "_id");
  for (size_t k = 0; k < w.tables[b].rows.size(); ++k) {
    if (w.tables[b].Text(k, "status") != "active") continue;
    const ToolCall cancel{absl::StrCat("cancel_", s.entities[b].kind),
                          {{bk, w.tables[b].Text(k, "id")}}};
    std::vector<ToolResult> out = Calls(*env, ep.state.get(), {cancel, cancel});
    EXPECT_FALSE(out[0].is_error) << out[0].output;
    EXPECT_TRUE(out[1].is_error);
    EXPECT_TRUE(absl::StrContains(out[1].output, "already cancelled")) << out[1].output;
    break;
  }
}

TEST(WorldToolTest, LowerLevelsOfferFewerTools) {
  auto env = Build(FullSpec("retail", 5));
  ASSERT_NE(env, nullptr);
  size_t last = 0;
  for (int level = 0; level <= 4; ++level) {
    const size_t n = env->tools().Specs(level).size();
    EXPECT_GE(n, last);
    last = n;
  }
  EXPECT_LT(env->tools().Specs(0).size(), env->tools().Specs(4).size());
}

TEST(WorldEnvTest, EpisodesDoNotSeeEachOthersWritesAndTheImageIsSqlite) {
  auto env = Build(FullSpec("sports", 11));
  ASSERT_NE(env, nullptr);
  const Schema& s = env->schema();
  const int b = s.bookings[0];
  const std::string bk = absl::StrCat(s.entities[b].kind, "_id");
  std::string active;
  for (size_t k = 0; k < env->world().tables[b].rows.size() && active.empty(); ++k) {
    if (env->world().tables[b].Text(k, "status") == "active")
      active = env->world().tables[b].Text(k, "id");
  }
  ASSERT_FALSE(active.empty());
  ASSERT_OK_AND_ASSIGN(Episode one, env->Reset(1, 4));
  ASSERT_OK_AND_ASSIGN(Episode two, env->Reset(2, 4));
  const ToolCall cancel{absl::StrCat("cancel_", s.entities[b].kind), {{bk, active}}};
  const ToolCall get{absl::StrCat("get_", s.entities[b].kind), {{bk, active}}};
  EXPECT_FALSE(Calls(*env, one.state.get(), {cancel})[0].is_error);
  EXPECT_TRUE(absl::StrContains(Calls(*env, one.state.get(), {get})[0].output, "cancelled"));
  EXPECT_TRUE(absl::StrContains(Calls(*env, two.state.get(), {get})[0].output, "\"active\""));
  // The image is a SQLite database: it opens and has every table of the schema.
  ASSERT_OK_AND_ASSIGN(SqliteDb db, SqliteDb::FromImage(env->world().image));
  ASSERT_OK_AND_ASSIGN(QueryResult tables,
                       db.Query("SELECT COUNT(*) FROM sqlite_schema WHERE type = 'table'"));
  size_t links = 0;
  for (const Relation& r : s.relations) links += r.type == RelationType::kManyToMany;
  EXPECT_EQ(std::get<int64_t>(tables.rows[0][0]), static_cast<int64_t>(s.entities.size() + links));
  ASSERT_OK_AND_ASSIGN(QueryResult fk, db.Query("PRAGMA foreign_key_check"));
  EXPECT_TRUE(fk.rows.empty());
  // A state from another environment is refused.
  auto other = Build(FullSpec("sports", 12));
  EXPECT_EQ(other->Step(one.state.get(), {get}).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(WorldEnvTest, BadParametersAreNamed) {
  proto::EnvSpec spec = FullSpec("travel", 1);
  (*spec.mutable_params())["shape"] = "not-hex";
  EXPECT_TRUE(absl::StrContains(BuildWorldEnvironment(spec).status().message(), "not-hex"));
  spec.mutable_params()->erase("domain");
  EXPECT_EQ(BuildWorldEnvironment(spec).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace dsarl::envs::world

namespace dsarl::envs::world {
namespace {

// The pass@k filter on synthesized environments: a policy that solves only some tasks keeps
// exactly those (answer tasks and state tasks alike), and environments left empty are dropped.
TEST(WorldFilterTest, PassAtKKeepsWhatThePolicySolves) {
  Registry registry;
  RegisterBuiltinCategories(&registry);
  SynthesisOptions o;
  o.categories = {"synthesized"};
  o.envs_per_category = 1;
  o.tasks_per_env = 10;
  o.threads = 1;
  ASSERT_OK_AND_ASSIGN(SynthesisResult result, Synthesize(registry, o));
  const size_t total = result.prompts.size();
  ASSERT_GT(total, 20u);
  auto solves = [](uint64_t id) { return id % 3 != 0; };
  ASSERT_OK_AND_ASSIGN(FilterReport f,
                       FilterSolvable(
                           registry,
                           [&](const proto::Prompt& p, int attempt) -> Policy {
                             (void)attempt;
                             if (solves(p.id())) return ReferencePolicy();
                             return [](const Task&, const std::vector<Turn>&) {
                               return absl::StatusOr<Action>(Action{{}, "I do not know"});
                             };
                           },
                           /*k=*/2, /*threads=*/1, &result));
  EXPECT_EQ(f.infra_errors, 0);
  EXPECT_EQ(f.kept + f.removed, static_cast<int64_t>(total));
  EXPECT_EQ(f.kept, static_cast<int64_t>(result.prompts.size()));
  for (const proto::Prompt& p : result.prompts) EXPECT_TRUE(solves(p.id())) << p.id();
  EXPECT_GT(f.removed, 0);
}

}  // namespace
}  // namespace dsarl::envs::world
