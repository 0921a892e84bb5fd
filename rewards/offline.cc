// JSON Lines readers for offline scoring (see offline.h). JSON is parsed by protobuf's own JSON
// support: store rows and prompts straight into their messages, plain rows into a
// google.protobuf.Struct that is then walked.
#include "rewards/offline.h"

#include <cmath>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "base/status_macros.h"
#include "google/protobuf/struct.pb.h"
#include "google/protobuf/util/json_util.h"

namespace dsarl::rewards {
namespace {

using google::protobuf::Struct;
using google::protobuf::Value;

absl::Status ParseJson(const std::string& json, google::protobuf::Message* message,
                       bool ignore_unknown) {
  google::protobuf::util::JsonParseOptions options;
  options.ignore_unknown_fields = ignore_unknown;
  auto status = google::protobuf::util::JsonStringToMessage(json, message, options);
  if (!status.ok()) return absl::InvalidArgumentError(std::string(status.message()));
  return absl::OkStatus();
}

// Typed reads of plain-row members; `what` names the member in errors.
absl::StatusOr<std::string> GetString(const Value& v, const std::string& what) {
  if (v.kind_case() != Value::kStringValue) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected a string"));
  }
  return v.string_value();
}

absl::StatusOr<double> GetNumber(const Value& v, const std::string& what) {
  if (v.kind_case() != Value::kNumberValue) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected a number"));
  }
  return v.number_value();
}

absl::StatusOr<int64_t> GetInt(const Value& v, const std::string& what) {
  ASSIGN_OR_RETURN(double d, GetNumber(v, what));
  if (d != std::floor(d) || std::fabs(d) > 9.0e15) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected an integer"));
  }
  return static_cast<int64_t>(d);
}

absl::StatusOr<bool> GetBool(const Value& v, const std::string& what) {
  if (v.kind_case() != Value::kBoolValue) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected true or false"));
  }
  return v.bool_value();
}

absl::StatusOr<const Struct*> GetObject(const Value& v, const std::string& what) {
  if (v.kind_case() != Value::kStructValue) {
    return absl::InvalidArgumentError(absl::StrCat(what, ": expected an object"));
  }
  return &v.struct_value();
}

// InvalidArgument naming the first member of `s` not in `allowed`.
absl::Status CheckMembers(const Struct& s, const std::set<std::string>& allowed,
                          const std::string& what) {
  for (const auto& [key, value] : s.fields()) {
    if (allowed.count(key) == 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, ": unknown member '", key,
                       "' (known: ", absl::StrJoin(allowed.begin(), allowed.end(), ", "), ")"));
    }
  }
  return absl::OkStatus();
}

absl::StatusOr<proto::FinishReason> GetFinishReason(const Value& v) {
  proto::FinishReason reason;
  if (v.kind_case() == Value::kStringValue &&
      proto::FinishReason_Parse(v.string_value(), &reason)) {
    return reason;
  }
  if (v.kind_case() == Value::kNumberValue &&
      proto::FinishReason_IsValid(static_cast<int>(v.number_value()))) {
    return static_cast<proto::FinishReason>(static_cast<int>(v.number_value()));
  }
  return absl::InvalidArgumentError(
      "finish_reason: expected a FinishReason name such as FINISH_EOS or FINISH_MAX_TOKENS");
}

absl::StatusOr<ToolCall> ParseToolCall(const Value& v, const std::string& what) {
  ASSIGN_OR_RETURN(const Struct* s, GetObject(v, what));
  RETURN_IF_ERROR(CheckMembers(*s, {"name", "arguments"}, what));
  ToolCall call;
  if (auto it = s->fields().find("name"); it != s->fields().end()) {
    ASSIGN_OR_RETURN(call.name, GetString(it->second, what + ".name"));
  }
  if (auto it = s->fields().find("arguments"); it != s->fields().end()) {
    ASSIGN_OR_RETURN(const Struct* args, GetObject(it->second, what + ".arguments"));
    for (const auto& [k, arg] : args->fields()) {  // JSON objects keep no order: sorted by key
      ASSIGN_OR_RETURN(std::string value, GetString(arg, absl::StrCat(what, ".arguments.", k)));
      call.arguments.emplace_back(k, std::move(value));
    }
    std::sort(call.arguments.begin(), call.arguments.end());
  }
  return call;
}

absl::StatusOr<Message> ParseMessage(const Value& v, const std::string& what,
                                     const ReadOptions& options) {
  ASSIGN_OR_RETURN(const Struct* s, GetObject(v, what));
  RETURN_IF_ERROR(CheckMembers(*s,
                               {"role", "content", "reasoning", "text", "parse_error", "tool_calls",
                                "is_error", "num_tokens"},
                               what));
  const auto& f = s->fields();
  Message m;
  auto role_it = f.find("role");
  if (role_it == f.end()) return absl::InvalidArgumentError(absl::StrCat(what, ": no role"));
  ASSIGN_OR_RETURN(std::string role, GetString(role_it->second, what + ".role"));
  std::optional<Role> parsed = ParseRole(role);
  if (!parsed.has_value()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, ".role: '", role, "' is not one of system, user, assistant, tool"));
  }
  m.role = *parsed;
  for (auto [key, field] :
       {std::pair{"content", &m.content}, std::pair{"reasoning", &m.reasoning},
        std::pair{"text", &m.raw_text}, std::pair{"parse_error", &m.parse_error}}) {
    if (auto it = f.find(key); it != f.end()) {
      ASSIGN_OR_RETURN(*field, GetString(it->second, absl::StrCat(what, ".", key)));
    }
  }
  if (auto it = f.find("tool_calls"); it != f.end()) {
    if (it->second.kind_case() != Value::kListValue) {
      return absl::InvalidArgumentError(absl::StrCat(what, ".tool_calls: expected an array"));
    }
    for (int i = 0; i < it->second.list_value().values_size(); ++i) {
      ASSIGN_OR_RETURN(ToolCall call, ParseToolCall(it->second.list_value().values(i),
                                                    absl::StrCat(what, ".tool_calls[", i, "]")));
      m.tool_calls.push_back(std::move(call));
    }
  }
  if (auto it = f.find("is_error"); it != f.end()) {
    ASSIGN_OR_RETURN(m.is_error, GetBool(it->second, what + ".is_error"));
  }
  if (auto it = f.find("num_tokens"); it != f.end()) {
    ASSIGN_OR_RETURN(int64_t n, GetInt(it->second, what + ".num_tokens"));
    m.num_tokens = static_cast<int32_t>(n);
  }
  const bool text_only = m.role == Role::kAssistant && !m.raw_text.empty() &&
                         f.count("content") == 0 && f.count("reasoning") == 0 &&
                         f.count("tool_calls") == 0 && f.count("parse_error") == 0;
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

absl::StatusOr<Row> ParsePlainRow(const Struct& s, int64_t line, const ReadOptions& options) {
  RETURN_IF_ERROR(
      CheckMembers(s,
                   {"group", "prompt", "prompt_id", "sample_index", "messages", "final_answer",
                    "num_generated_tokens", "finish_reason", "verdict", "reward"},
                   "row"));
  const auto& f = s.fields();
  Row row;
  OfflineTrajectory& t = row.trajectory;
  Sample& sample = t.sample;
  if (auto it = f.find("prompt"); it != f.end()) {
    ASSIGN_OR_RETURN(const Struct* p, GetObject(it->second, "prompt"));
    std::string json;
    (void)google::protobuf::util::MessageToJsonString(*p, &json);
    RETURN_IF_ERROR(Annotate(ParseJson(json, &row.task, /*ignore_unknown=*/false), "prompt"));
  } else if (auto it = f.find("prompt_id"); it != f.end()) {
    ASSIGN_OR_RETURN(int64_t id, GetInt(it->second, "prompt_id"));
    auto p = options.prompts.find(static_cast<uint64_t>(id));
    if (p != options.prompts.end()) {
      row.task = p->second;
    } else {
      row.task.set_id(static_cast<uint64_t>(id));
    }
  }
  if (auto it = f.find("sample_index"); it != f.end()) {
    ASSIGN_OR_RETURN(int64_t i, GetInt(it->second, "sample_index"));
    t.sample_index = static_cast<int32_t>(i);
  }
  if (auto it = f.find("messages"); it != f.end()) {
    if (it->second.kind_case() != Value::kListValue) {
      return absl::InvalidArgumentError("messages: expected an array");
    }
    for (int i = 0; i < it->second.list_value().values_size(); ++i) {
      ASSIGN_OR_RETURN(Message m, ParseMessage(it->second.list_value().values(i),
                                               absl::StrCat("messages[", i, "]"), options));
      sample.messages.push_back(std::move(m));
    }
  }
  if (auto it = f.find("final_answer"); it != f.end()) {
    ASSIGN_OR_RETURN(sample.final_answer, GetString(it->second, "final_answer"));
  } else {
    sample.final_answer = LastAssistantContent(sample);
  }
  if (auto it = f.find("num_generated_tokens"); it != f.end()) {
    ASSIGN_OR_RETURN(int64_t n, GetInt(it->second, "num_generated_tokens"));
    sample.num_generated_tokens = static_cast<int32_t>(n);
  } else {
    for (const Message& m : sample.messages) sample.num_generated_tokens += m.num_tokens;
  }
  if (auto it = f.find("finish_reason"); it != f.end()) {
    ASSIGN_OR_RETURN(sample.finish_reason, GetFinishReason(it->second));
  }
  if (auto it = f.find("verdict"); it != f.end() && it->second.kind_case() != Value::kNullValue) {
    ASSIGN_OR_RETURN(const Struct* v, GetObject(it->second, "verdict"));
    RETURN_IF_ERROR(CheckMembers(*v, {"score", "details"}, "verdict"));
    Verdict verdict;
    if (auto sc = v->fields().find("score"); sc != v->fields().end()) {
      ASSIGN_OR_RETURN(verdict.score, GetNumber(sc->second, "verdict.score"));
    } else {
      return absl::InvalidArgumentError("verdict: no score");
    }
    if (auto d = v->fields().find("details"); d != v->fields().end()) {
      ASSIGN_OR_RETURN(verdict.details, GetString(d->second, "verdict.details"));
    }
    sample.verdict = std::move(verdict);
  }
  if (auto it = f.find("reward"); it != f.end() && it->second.kind_case() != Value::kNullValue) {
    ASSIGN_OR_RETURN(double r, GetNumber(it->second, "reward"));
    t.stored_reward = r;
  }
  if (auto it = f.find("group"); it != f.end()) {
    ASSIGN_OR_RETURN(row.key, GetString(it->second, "group"));
  } else if (row.task.id() != 0) {
    row.key = absl::StrCat("prompt ", row.task.id());
  } else {
    row.key = absl::StrCat("line ", line);
  }
  return row;
}

absl::StatusOr<Row> ParseStoreRow(const std::string& json, const Struct& s,
                                  const ReadOptions& options) {
  if (!options.decode_tokens) {
    return absl::InvalidArgumentError("a store row (with token_ids) needs a token decoder");
  }
  proto::Trajectory traj;
  RETURN_IF_ERROR(ParseJson(json, &traj, /*ignore_unknown=*/true));
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
  if (!episode.system.empty()) {
    sample.messages.push_back(Message{.role = Role::kSystem, .content = episode.system});
  }
  sample.messages.push_back(Message{.role = Role::kUser, .content = episode.user});
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
    auto it = s.fields().find(member);
    std::string value = "?";
    if (it != s.fields().end() && it->second.kind_case() == Value::kNumberValue) {
      value = absl::StrCat(static_cast<int64_t>(it->second.number_value()));
    }
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
    Struct s;
    RETURN_IF_ERROR(
        Annotate(ParseJson(line, &s, false), absl::StrCat(where, ": not a JSON object")));
    absl::StatusOr<Row> row = s.fields().count("token_ids") ? ParseStoreRow(line, s, options)
                                                            : ParsePlainRow(s, line_no, options);
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
    proto::Prompt p;
    RETURN_IF_ERROR(Annotate(ParseJson(line, &p, /*ignore_unknown=*/true),
                             absl::StrCat(filename, ":", line_no)));
    prompts[p.id()] = std::move(p);
  }
  if (in.bad()) return absl::DataLossError(absl::StrCat(filename, ": read error"));
  return prompts;
}

}  // namespace dsarl::rewards
