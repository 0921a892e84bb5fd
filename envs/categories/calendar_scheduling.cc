// calendar_scheduling: people in teams and their week's events (whole hours, Monday to Friday),
// with tools to read calendars, create and cancel events. The ladder: when an event starts; a
// count or first event of a day; the busiest member of a team (two rounds of calls); cancelling
// or scheduling into the first free hour (verified by the final database); a meeting of two
// people at their first common free hour, in both calendars.
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "envs/agent.h"
#include "envs/categories/categories.h"
#include "envs/names.h"

namespace dsarl::envs {
namespace {

constexpr ColumnType kInt = ColumnType::kInt;
const char* kDays[] = {"Monday", "Tuesday", "Wednesday", "Thursday", "Friday"};

std::vector<ToolTemplate> Catalog() {
  std::vector<ToolTemplate> c;
  auto add = [&](ToolDef def, std::vector<std::string> names, bool optional = false) {
    c.push_back(ToolTemplate{std::move(def), std::move(names), optional});
  };
  add({.id = "teams",
       .description = "Lists the teams.",
       .op = ToolOp::kListDistinct,
       .table = "people",
       .column = "team"},
      {"list_teams", "get_teams"});
  add({.id = "members",
       .description = "The members of a team.",
       .op = ToolOp::kFind,
       .table = "people",
       .params = {{"team", "team", "the team's name"}},
       .output = {"name"},
       .min_level = 2},
      {"list_team_members", "team_members", "get_team"});
  add({.id = "events_on",
       .description = "A person's events on a day (hours 0-23, end exclusive).",
       .op = ToolOp::kFind,
       .table = "events",
       .params = {{"person", "person", "full name"}, {"day", "day", "Monday to Friday"}},
       .output = {"event_id", "title", "start", "end"}},
      {"get_events", "list_events", "calendar_for_day"});
  add({.id = "week",
       .description = "All of a person's events this week.",
       .op = ToolOp::kFind,
       .table = "events",
       .params = {{"person", "person", "full name"}},
       .output = {"event_id", "title", "day", "start", "end"}},
      {"get_all_events_for_person", "week_calendar"}, true);
  add({.id = "count_on",
       .description = "How many events a person has on a day.",
       .op = ToolOp::kCount,
       .table = "events",
       .params = {{"person", "person", "full name"}, {"day", "day", "Monday to Friday"}}},
      {"count_events", "number_of_events"}, true);
  add({.id = "create",
       .description = "Adds an event to a person's calendar.",
       .op = ToolOp::kInsert,
       .table = "events",
       .params = {{"title", "title", "the event's title"},
                  {"person", "person", "full name"},
                  {"day", "day", "Monday to Friday"},
                  {"start", "start", "start hour"},
                  {"end", "end", "end hour (exclusive)"}},
       .key_prefix = "E",
       .min_level = 3},
      {"create_event", "schedule_meeting", "add_event"});
  add({.id = "cancel",
       .description = "Removes an event.",
       .op = ToolOp::kDelete,
       .table = "events",
       .params = {{"event_id", "event_id", "the event's id"}},
       .min_level = 3},
      {"cancel_event", "delete_event", "remove_event"});
  add({.id = "rename",
       .description = "Renames an event.",
       .op = ToolOp::kSet,
       .table = "events",
       .params = {{"event_id", "event_id", "the event's id"}, {"title", "title", "the new title"}},
       .column = "title",
       .min_level = 3},
      {"rename_event", "retitle_event"}, true);
  return c;
}

absl::StatusOr<Database> MakeDb(const proto::EnvSpec& spec) {
  ASSIGN_OR_RETURN(int64_t n_people, IntParam(spec, "people", 8, 2, 40));
  ASSIGN_OR_RETURN(int64_t n_teams, IntParam(spec, "teams", 3, 1, 10));
  Rng rng(DeriveSeed({spec.seed(), HashString("calendar_scheduling/db")}));
  Database db;
  db.tables = {{"people", {{"name"}, {"team"}}, {}},
               {"events",
                {{"event_id"}, {"title"}, {"person"}, {"day"}, {"start", kInt}, {"end", kInt}},
                {}}};
  std::set<std::string> taken;
  std::vector<std::string> teams;
  for (int64_t i = 0; i < n_teams; ++i) teams.push_back(UniqueInventedName(rng, &taken, 2));
  static const char* kTitles[] = {"standup", "review",   "planning", "lunch",    "interview",
                                  "demo",    "training", "sync",     "workshop", "retro"};
  Table& people = *db.Find("people");
  Table& events = *db.Find("events");
  for (int64_t i = 0; i < n_people; ++i) {
    const std::string name = UniquePersonName(rng, &taken);
    people.rows.push_back({name, teams[i % teams.size()]});
    for (const char* day : kDays) {
      // Non-overlapping events between 8 and 18.
      int hour = static_cast<int>(rng.Uniform(8, 11));
      std::set<std::string> titles;
      while (hour < 17 && rng.Chance(0.75)) {
        const int len = static_cast<int>(rng.Uniform(1, 2));
        std::string title = rng.Pick(kTitles);
        if (!titles.insert(title).second) break;  // one title per day: tasks name events by it
        events.rows.push_back({absl::StrCat("E", events.rows.size() + 1), title, name, day,
                               std::to_string(hour), std::to_string(hour + len)});
        hour += len + static_cast<int>(rng.Uniform(0, 2));
      }
    }
  }
  return db;
}

// The first hour h in [9, 17) at which none of `events` overlaps [h, h + 1); -1 when none.
int FirstFreeHour(const Table& t, const std::vector<std::vector<const Row*>>& calendars) {
  for (int h = 9; h < 17; ++h) {
    bool free = true;
    for (const auto& events : calendars) {
      for (const Row* e : events) {
        if (t.Int(*e, "start") < h + 1 && t.Int(*e, "end") > h) free = false;
      }
    }
    if (free) return h;
  }
  return -1;
}

// The calendar a task maker reads.
struct Calendar {
  const Database& db;
  const ToolSet& ts;
  const Table& people;
  const Table& events;
};

// What every attempt at a task draws first: a person, a day, and the person's events that day.
struct PersonDay {
  std::string person;
  std::string day;
  std::vector<const Row*> mine;
};

PersonDay DrawPersonDay(const Calendar& c, Rng& rng) {
  PersonDay d;
  d.person = PickRow(c.people, rng)[0];
  d.day = rng.Pick(kDays);
  for (const Row* e : RowsWhere(c.events, "person", d.person)) {
    if (c.events.Get(*e, "day") == d.day) d.mine.push_back(e);
  }
  return d;
}

// The call that reads `who`'s events on `day`: sometimes the whole week, when there is that tool.
ToolCall ReadDay(const Calendar& c, const std::string& who, const std::string& day, Rng& rng) {
  return c.ts.Has("week") && rng.Chance(0.3) ? c.ts.Call("week", {who})
                                             : c.ts.Call("events_on", {who, day});
}

// Answers are hours and counts unless a task says otherwise.
AgentTask IntegerTask() {
  AgentTask t;
  t.match = AnswerMatch::kInteger;
  return t;
}

// Level 0: when one of the person's events that day starts.
std::optional<AgentTask> EventStart(const Calendar& c, const PersonDay& d, Rng& rng) {
  if (d.mine.empty()) return std::nullopt;
  const Row& e = *d.mine[rng.Index(d.mine.size())];
  AgentTask t = IntegerTask();
  t.user = absl::StrCat("At what hour does ", d.person, "'s ", c.events.Get(e, "title"), " on ",
                        d.day, " start?");
  t.rounds = {{ReadDay(c, d.person, d.day, rng)}};
  t.answer = c.events.Get(e, "start");
  t.answer_is_lookup = true;
  return t;
}

// Level 1: how many events the person has that day, or which comes first.
std::optional<AgentTask> CountOrFirstEvent(const Calendar& c, const PersonDay& d, Rng& rng) {
  const ToolSet& ts = c.ts;
  AgentTask t = IntegerTask();
  if (rng.Chance(0.5) || d.mine.empty()) {
    t.user = absl::StrCat("How many events does ", d.person, " have on ", d.day, "?");
    t.rounds = {{ts.Has("count_on") ? ts.Call("count_on", {d.person, d.day})
                                    : ts.Call("events_on", {d.person, d.day})}};
    t.answer = std::to_string(d.mine.size());
    t.answer_is_lookup = ts.Has("count_on");
    return t;
  }
  const Row* first = UniqueExtreme(c.events, d.mine, "start");
  t.user =
      absl::StrCat("What is ", d.person, "'s first event on ", d.day, "? Answer with its title.");
  t.rounds = {{ReadDay(c, d.person, d.day, rng)}};
  t.answer = c.events.Get(*first, "title");
  t.match = AnswerMatch::kText;
  t.answer_is_lookup = true;
  return t;
}

// Level 2: who in the person's team has the most events that day (members, then their days).
std::optional<AgentTask> BusiestMember(const Calendar& c, const PersonDay& d, Rng&) {
  const Table& people = c.people;
  const Table& events = c.events;
  const std::string team = people.Get(*people.Find(d.person), "team");
  std::vector<ToolCall> reads;
  std::map<std::string, int> count;
  for (const Row* m : RowsWhere(people, "team", team)) {
    reads.push_back(c.ts.Call("events_on", {(*m)[0], d.day}));
    count[(*m)[0]] = 0;
  }
  for (const Row& e : events.rows) {
    auto it = count.find(events.Get(e, "person"));
    if (it != count.end() && events.Get(e, "day") == d.day) ++it->second;
  }
  std::string best;
  int most = -1, ties = 0;
  for (const auto& [name, n] : count) {
    if (n > most)
      most = n, best = name, ties = 0;
    else if (n == most)
      ++ties;
  }
  if (ties > 0 || count.size() < 2) return std::nullopt;
  AgentTask t = IntegerTask();
  t.user = absl::StrCat("Who in team ", team, " has the most events on ", d.day,
                        "? Answer with the full name.");
  t.rounds = {{c.ts.Call("members", {team})}, reads};
  t.answer = best;
  t.match = AnswerMatch::kText;
  t.answer_is_lookup = true;
  return t;
}

// Level 3: cancel one of the person's events that day, or schedule one into their first free hour
// (verified by the final database).
std::optional<AgentTask> CancelOrSchedule(const Calendar& c, const PersonDay& d, Rng& rng) {
  const ToolSet& ts = c.ts;
  const Table& events = c.events;
  AgentTask t = IntegerTask();
  Database expected = c.db;
  Table& ee = *expected.Find("events");
  if (!d.mine.empty() && rng.Chance(0.5)) {
    const Row& e = *d.mine[rng.Index(d.mine.size())];
    ee.rows.erase(ee.rows.begin() + (ee.Find(e[0]) - ee.rows.data()));
    t.user = absl::StrCat("Cancel ", d.person, "'s ", events.Get(e, "title"), " on ", d.day, ".");
    t.rounds = {{ts.Call("events_on", {d.person, d.day})}, {ts.Call("cancel", {e[0]})}};
  } else {
    const int h = FirstFreeHour(events, {d.mine});
    if (h < 0) return std::nullopt;
    const std::string title = absl::StrCat("meeting with ", InventedName(rng, 2));
    ee.rows.push_back(
        {ee.NextKey("E"), title, d.person, d.day, std::to_string(h), std::to_string(h + 1)});
    t.user = absl::StrCat("Schedule a one-hour event titled \"", title, "\" for ", d.person, " on ",
                          d.day, " at the earliest whole hour from 9 on (ending by 17)",
                          " when they are free.");
    t.rounds = {
        {ts.Call("events_on", {d.person, d.day})},
        {ts.Call("create", {title, d.person, d.day, std::to_string(h), std::to_string(h + 1)})}};
  }
  t.expected = std::move(expected);
  return t;
}

// Level 4: a meeting of the person and another at their first common free hour, in both calendars;
// the answer is its start hour.
std::optional<AgentTask> CommonMeeting(const Calendar& c, const PersonDay& d, Rng& rng) {
  const ToolSet& ts = c.ts;
  const Table& events = c.events;
  const std::string& person = d.person;
  const std::string& day = d.day;
  const std::string other = PickRow(c.people, rng)[0];
  if (other == person) return std::nullopt;
  std::vector<const Row*> theirs;
  for (const Row* e : RowsWhere(events, "person", other)) {
    if (events.Get(*e, "day") == day) theirs.push_back(e);
  }
  const int h = FirstFreeHour(events, {d.mine, theirs});
  if (h < 0) return std::nullopt;
  const std::string title = absl::StrCat(InventedName(rng, 2), " sync");
  Database expected = c.db;
  Table& ee = *expected.Find("events");
  for (const std::string& who : {person, other}) {
    ee.rows.push_back({ee.NextKey("E"), title, who, day, std::to_string(h), std::to_string(h + 1)});
  }
  AgentTask t = IntegerTask();
  t.user = absl::StrCat("Find the earliest whole hour on ", day, " from 9 on (ending by 17) ",
                        "when both ", person, " and ", other, " are free, put a one-hour ",
                        "event titled \"", title, "\" in both calendars then, and answer ",
                        "with the start hour.");
  t.rounds = {{ts.Call("events_on", {person, day}), ts.Call("events_on", {other, day})},
              {ts.Call("create", {title, person, day, std::to_string(h), std::to_string(h + 1)}),
               ts.Call("create", {title, other, day, std::to_string(h), std::to_string(h + 1)})}};
  t.answer = std::to_string(h);
  t.expected = std::move(expected);
  return t;
}

// One attempt at a task of one level: the task, or nullopt when this draw cannot make one.
using LevelTask = std::optional<AgentTask> (*)(const Calendar&, const PersonDay&, Rng&);
// Level -> its task (the ladder of the file comment).
constexpr LevelTask kLevelTasks[] = {EventStart, CountOrFirstEvent, BusiestMember, CancelOrSchedule,
                                     CommonMeeting};

absl::StatusOr<AgentTask> MakeTask(const Database& db, const ToolSet& ts, Rng& rng, int level) {
  const Calendar c{db, ts, *db.Find("people"), *db.Find("events")};
  for (int attempt = 0; attempt < 50; ++attempt) {
    const PersonDay d = DrawPersonDay(c, rng);
    if (std::optional<AgentTask> t = ForLevel(kLevelTasks, level)(c, d, rng)) return *std::move(t);
  }
  return absl::InternalError("calendar_scheduling: no task found for this database");
}

}  // namespace

Category CalendarSchedulingCategory() {
  return AgentCategory(
      "calendar_scheduling", "teams and calendars: read, count, cancel, schedule, find common time",
      "You manage calendars. Use the tools to read and change them; days are Monday to Friday and "
      "times are whole hours.",
      Catalog(), MakeDb, MakeTask, [](Rng& rng, std::map<std::string, std::string>* p) {
        const int64_t people = rng.Uniform(4, 12);
        (*p)["people"] = std::to_string(people);
        (*p)["teams"] = std::to_string(rng.Uniform(1, std::min<int64_t>(4, people / 2)));
      });
}

}  // namespace dsarl::envs
