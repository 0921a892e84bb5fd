// JSON Lines readers for offline scoring (see offline.h). Lines are parsed with the project's JSON
// reader (base/json.h); store rows and prompts then go into their messages by reflection
// (proto/json_proto.h), plain rows are walked member by member.
#include "rewards/offline.h"

#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "proto/json_proto.h"

namespace dsarl::rewards {
namespace {

// Typed reads of plain-row members; `what` names the member in errors.
absl::StatusOr<std::string> GetString(const Json& v, const std::string& what) {
  if (!v.is_string()) return absl::InvalidArgumentError(absl::StrCat(what, ": expected a string"));
  return v.string_value();
}

absl::StatusOr<double> GetNumber(const Json& v, const std::string& what) {
  if (!v.is_number()) return absl::InvalidArgumentError(absl::StrCat(what, ": expected a number"));
  return v.number_value();
}

absl::StatusOr<int64_t> GetInt(const Json& v, const std::string& what) {
  if (v.is_integer()) return v.int_value();
  ASSIGN_OR_RETURN(double d, GetNumber(v, what));
  if (d != std::floor(d) || std::fabs(d) > 9.0e15) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected an integer"));
  }
  return static_cast<int64_t>(d);
}

absl::StatusOr<bool> GetBool(const Json& v, const std::string& what) {
  if (!v.is_bool())
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected true or false"));
  return v.bool_value();
}

absl::StatusOr<const Json*> GetObject(const Json& v, const std::string& what) {
  if (!v.is_object()) return absl::InvalidArgumentError(absl::StrCat(what, ": expected an object"));
  return &v;
}

absl::StatusOr<const std::vector<Json>*> GetArray(const Json& v, const std::string& what) {
  if (!v.is_array()) return absl::InvalidArgumentError(absl::StrCat(what, ": expected an array"));
  return &v.array();
}

// InvalidArgument naming the first member of `s` not in `allowed`.
absl::Status CheckMembers(const Json& s, const std::set<std::string>& allowed,
                          const std::string& what) {
  for (const auto& [key, value] : s.object()) {
    if (allowed.count(key) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": unknown member '", key,
                       "' (known: ", absl::StrJoin(allowed.begin(), allowed.end(), ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<proto::FinishReason> GetFinishReason(const Json& v) {
  proto::FinishReason reason;
  if (v.is_string() && proto::FinishReason_Parse(v.string_value(), &reason)) return reason;
  if (v.is_integer() && proto::FinishReason_IsValid(static_cast<int>(v.int_value()))) {
    return static_cast<proto::FinishReason>(static_cast<int>(v.int_value()));
  }
  return absl::InvalidArgumentError(
      "finish_reason: expected a FinishReason name such as FINISH_EOS or FINISH_MAX_TOKENS");
}

absl::StatusOr<ToolCall> ParseToolCall(const Json& v, const std::string& what) {
  ASSIGN_OR_RETURN(const Json* s, GetObject(v, what));
  RETURN_IF_ERROR(CheckMembers(*s, {"name", "arguments"}, what));
  ToolCall call;
  if (const Json* name = s->Find("name")) {
    ASSIGN_OR_RETURN(call.name, GetString(*name, what + ".name"));
  }
  if (const Json* arguments = s->Find("arguments")) {
    ASSIGN_OR_RETURN(const Json* args, GetObject(*arguments, what + ".arguments"));
    for (const auto& [k, arg] : args->object()) {  // in the order written
      ASSIGN_OR_RETURN(std::string value, GetString(arg, absl::StrCat(what, ".arguments.", k)));
      call.arguments.emplace_back(k, std::move(value));
    }
  }
  return call;
}

absl::StatusOr<Message> ParseMessage(const Json& v, const std::string& what,
                                     const ReadOptions& options) {
  ASSIGN_OR_RETURN(const Json* s, GetObject(v, what));
  RETURN_IF_ERROR(CheckMembers(*s,
                               {"role", "content", "reasoning", "text", "parse_error", "tool_calls",
                                "is_error", "num_tokens"},
                               what));
  Message m;
  const Json* role_json = s->Find("role");
  if (role_json == nullptr) return absl::InvalidArgumentError(absl::StrCat(what, ": no role"));
  ASSIGN_OR_RETURN(std::string role, GetString(*role_json, what + ".role"));
  std::optional<Role> parsed = ParseRole(role);
  if (!parsed.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ".role: '", role, "' is not one of system, user, assistant, tool"));
  }
  m.role = *parsed;
  for (auto [key, field] :
       {std::pair{"content", &m.content}, std::pair{"reasoning", &m.reasoning},
        std::pair{"text", &m.raw_text}, std::pair{"parse_error", &m.parse_error}}) {
    if (const Json* member = s->Find(key)) {
      ASSIGN_OR_RETURN(*field, GetString(*member, absl::StrCat(what, ".", key)));
    }
  }
  if (const Json* calls = s->Find("tool_calls")) {
    ASSIGN_OR_RETURN(const std::vector<Json>* list, GetArray(*calls, what + ".tool_calls"));
    for (size_t i = 0; i < list->size(); ++i) {
      ASSIGN_OR_RETURN(ToolCall call,
                       ParseToolCall((*list)[i], absl::StrCat(what, ".tool_calls[", i, "]")));
      m.tool_calls.push_back(std::move(call));
    }
  }
  if (const Json* is_error = s->Find("is_error")) {
    ASSIGN_OR_RETURN(m.is_error, GetBool(*is_error, what + ".is_error"));
  }
  if (const Json* num_tokens = s->Find("num_tokens")) {
    ASSIGN_OR_RETURN(int64_t n, GetInt(*num_tokens, what + ".num_tokens"));
    m.num_tokens = static_cast<int32_t>(n);
  }
  const bool text_only = m.role == Role::kAssistant && !m.raw_text.empty() &&
                         s->Find("content") == nullptr && s->Find("reasoning") == nullptr &&
                         s->Find("tool_calls") == nullptr && s->Find("parse_error") == nullptr;
  if (text_only && options.parse_text) options.parse_text(&m);
  return m;
}

// The last assistant turn's visible content.
std::string LastAssistantContent(const Sample& s) {
  for (auto it = s.messages.rbegin(); it != s.messages.rend(); ++it) {
    if (it->role == Role::kAssistant) return it->content;
  }
  return "";
}

struct Row {
  std::string key;
  proto::Prompt task;
  OfflineTrajectory trajectory;
};

absl::StatusOr<Row> ParsePlainRow(const Json& s, int64_t line, const ReadOptions& options) {
  RETURN_IF_ERROR(
      CheckMembers(s,
                   {"group", "prompt", "prompt_id", "sample_index", "messages", "final_answer",
                    "num_generated_tokens", "finish_reason", "verdict", "reward"},
                   "row"));
  Row row;
  OfflineTrajectory& t = row.trajectory;
  Sample& sample = t.sample;
  if (const Json* p = s.Find("prompt")) {
    RETURN_IF_ERROR(Annotate(JsonToProto(*p, &row.task), "prompt"));
  } else if (const Json* id_json = s.Find("prompt_id")) {
    ASSIGN_OR_RETURN(int64_t id, GetInt(*id_json, "prompt_id"));
    auto p = options.prompts.find(static_cast<uint64_t>(id));
    if (p != options.prompts.end()) {
      row.task = p->second;
    } else {
      row.task.set_id(static_cast<uint64_t>(id));
    }
  }
  if (const Json* index = s.Find("sample_index")) {
    ASSIGN_OR_RETURN(int64_t i, GetInt(*index, "sample_index"));
    t.sample_index = static_cast<int32_t>(i);
  }
  if (const Json* messages = s.Find("messages")) {
    ASSIGN_OR_RETURN(const std::vector<Json>* list, GetArray(*messages, "messages"));
    for (size_t i = 0; i < list->size(); ++i) {
      ASSIGN_OR_RETURN(Message m,
                       ParseMessage((*list)[i], absl::StrCat("messages[", i, "]"), options));
      sample.messages.push_back(std::move(m));
    }
  }
  if (const Json* answer = s.Find("final_answer")) {
    ASSIGN_OR_RETURN(sample.final_answer, GetString(*answer, "final_answer"));
  } else {
    sample.final_answer = LastAssistantContent(sample);
  }
  if (const Json* generated = s.Find("num_generated_tokens")) {
    ASSIGN_OR_RETURN(int64_t n, GetInt(*generated, "num_generated_tokens"));
    sample.num_generated_tokens = static_cast<int32_t>(n);
  } else {
    for (const Message& m : sample.messages) sample.num_generated_tokens += m.num_tokens;
  }
  if (const Json* reason = s.Find("finish_reason")) {
    ASSIGN_OR_RETURN(sample.finish_reason, GetFinishReason(*reason));
  }
  if (const Json* verdict_json = s.Find("verdict"); verdict_json && !verdict_json->is_null()) {
    ASSIGN_OR_RETURN(const Json* v, GetObject(*verdict_json, "verdict"));
    RETURN_IF_ERROR(CheckMembers(*v, {"score", "details"}, "verdict"));
    Verdict verdict;
    const Json* score = v->Find("score");
    if (score == nullptr) return absl::InvalidArgumentError("verdict: no score");
    ASSIGN_OR_RETURN(verdict.score, GetNumber(*score, "verdict.score"));
    if (const Json* details = v->Find("details")) {
      ASSIGN_OR_RETURN(verdict.details, GetString(*details, "verdict.details"));
    }
    sample.verdict = std::move(verdict);
  }
  if (const Json* reward = s.Find("reward"); reward && !reward->is_null()) {
    ASSIGN_OR_RETURN(double r, GetNumber(*reward, "reward"));
    t.stored_reward = r;
  }
  if (const Json* group = s.Find("group")) {
    ASSIGN_OR_RETURN(row.key, GetString(*group, "group"));
  } else if (row.task.id() != 0) {
    row.key = absl::StrCat("prompt ", row.task.id());
  } else {
    row.key = absl::StrCat("line ", line);
  }
  return row;
}

absl::StatusOr<Row> ParseStoreRow(const Json& s, const ReadOptions& options) {
  if (!options.decode_tokens) {
    return absl::InvalidArgumentError("a store row (with token_ids) needs a token decoder");
  }
  proto::Trajectory traj;
  RETURN_IF_ERROR(JsonToProto(s, &traj, {.ignore_unknown_fields = true}));
  ASSIGN_OR_RETURN(DecodedEpisode episode, options.decode_tokens(traj));
  Row row;
  auto p = options.prompts.find(traj.prompt_id());
  if (p != options.prompts.end()) {
    row.task = p->second;
  } else {
    row.task.set_id(traj.prompt_id());
    row.task.set_system(episode.system);
    row.task.set_user(episode.user);
  }
  OfflineTrajectory& t = row.trajectory;
  t.sample_index = traj.sample_index();
  t.stored_reward = traj.reward();
  t.stored_infra_error = traj.infra_error();
  Sample& sample = t.sample;
  if (!episode.system.empty()) sample.messages.push_back(Message::System(episode.system));
  sample.messages.push_back(Message::User(episode.user));
  for (Message& m : episode.turns) sample.messages.push_back(std::move(m));
  sample.final_answer = LastAssistantContent(sample);
  for (int32_t mask : traj.loss_mask()) sample.num_generated_tokens += mask != 0 ? 1 : 0;
  sample.finish_reason = traj.finish_reason();
  for (const proto::RewardComponent& c : traj.reward_components()) {
    if (c.name() == options.verdict_component && c.applicable()) {
      sample.verdict = Verdict{.score = c.value(), .details = c.details()};
    }
  }
  // The group key: the fields the exporter puts in front of each row.
  std::string key;
  for (const char* member : {"run_id", "step", "prompt_id", "attempt"}) {
    const Json* v = s.Find(member);
    std::string value = "?";
    if (v != nullptr && v->is_integer()) value = absl::StrCat(v->int_value());
    if (v != nullptr && v->is_unsigned()) value = absl::StrCat(v->uint_value());
    absl::StrAppend(&key, key.empty() ? "" : " ", member == std::string("run_id") ? "run" : member,
                    " ", value);
  }
  row.key = key;
  return row;
}

}  // namespace

absl::Status ReadTrajectoriesJsonl(std::istream& in, const std::string& filename,
                                   const ReadOptions& options,
                                   const std::function<absl::Status(OfflineGroup)>& on_group) {
  std::optional<OfflineGroup> group;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::string where = absl::StrCat(filename, ":", line_no);
    absl::StatusOr<Json> parsed = ParseJson(line);
    if (!parsed.ok()) return Annotate(parsed.status(), where);
    if (!parsed->is_object()) {
      return absl::InvalidArgumentError(absl::StrCat(where, ": not a JSON object"));
    }
    absl::StatusOr<Row> row = parsed->Find("token_ids") != nullptr
                                  ? ParseStoreRow(*parsed, options)
                                  : ParsePlainRow(*parsed, line_no, options);
    if (!row.ok()) return Annotate(row.status(), where);
    row->trajectory.line = line_no;
    if (group.has_value() && group->key != row->key) {
      RETURN_IF_ERROR(on_group(*std::move(group)));
      group.reset();
    }
    if (!group.has_value()) {
      group.emplace();
      group->key = row->key;
      group->task = std::move(row->task);
    }
    group->trajectories.push_back(std::move(row->trajectory));
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(filename, ": read error"));
  if (group.has_value()) RETURN_IF_ERROR(on_group(*std::move(group)));
  return absl::OkStatus();
}

absl::StatusOr<std::map<uint64_t, proto::Prompt>> ReadPromptsJsonl(std::istream& in,
                                                                   const std::string& filename) {
  std::map<uint64_t, proto::Prompt> prompts;
  std::string line;
  int64_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (absl::StripAsciiWhitespace(line).empty()) continue;
    const std::string where = absl::StrCat(filename, ":", line_no);
    absl::StatusOr<Json> parsed = ParseJson(line);
    if (!parsed.ok()) return Annotate(parsed.status(), where);
    proto::Prompt p;
    RETURN_IF_ERROR(Annotate(JsonToProto(*parsed, &p, {.ignore_unknown_fields = true}), where));
    prompts[p.id()] = std::move(p);
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(filename, ": read error"));
  return prompts;
}

}  // namespace dsarl::rewards
