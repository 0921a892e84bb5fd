// Protobuf <-> JSON by reflection: what the store export writes reads back to the same message, for
// every kind of field; hand-written input in the forms people use is accepted; bad input is
// refused naming the field path.
#include "proto/json_proto.h"

#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "google/protobuf/util/message_differencer.h"
#include "gtest/gtest.h"
#include "proto/data.pb.h"
#include "proto/reward.pb.h"
#include "tests/status_matchers.h"

namespace dsarl {
namespace {

using ::testing::HasSubstr;

absl::StatusOr<proto::Prompt> PromptFrom(const std::string& text, bool ignore_unknown = false) {
  absl::StatusOr<Json> j = ParseJson(text);
  if (!j.ok()) return j.status();
  proto::Prompt p;
  absl::Status s = JsonToProto(*j, &p, {.ignore_unknown_fields = ignore_unknown});
  if (!s.ok()) return s;
  return p;
}

TEST(JsonProto, EveryKindOfFieldRoundTrips) {
  proto::Trajectory t;
  t.set_prompt_id(std::numeric_limits<uint64_t>::max());  // uint64 above INT64_MAX, exact
  t.set_sample_index(-3);
  t.add_token_ids(257);
  t.add_token_ids(0);
  t.add_behaviour_logprobs(-0.1f);
  t.add_behaviour_logprobs(-1e-30f);
  t.add_kept_sets()->add_ids(5);
  t.add_policy_versions(std::numeric_limits<int64_t>::min());
  proto::RewardComponent* c = t.add_reward_components();
  c->set_name("verifier \"quoted\" \xC3\xA9");
  c->set_value(0.25);
  c->set_applicable(true);
  t.set_reward(1.0 / 3.0);
  t.set_finish_reason(proto::FINISH_MAX_TOKENS);
  const Json j = ProtoToJson(t);
  EXPECT_THAT(j.Dump(), HasSubstr("\"prompt_id\":18446744073709551615"));
  EXPECT_THAT(j.Dump(), HasSubstr("\"behaviour_logprobs\":[-0.1,-1e-30]"));
  EXPECT_THAT(j.Dump(), HasSubstr("\"finish_reason\":\"FINISH_MAX_TOKENS\""));
  EXPECT_THAT(j.Dump(), HasSubstr("\"num_turns\":0"));  // defaults are present
  ASSERT_OK_AND_ASSIGN(Json back_json, ParseJson(j.Dump()));
  proto::Trajectory back;
  ASSERT_OK(JsonToProto(back_json, &back));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(t, back)) << back.DebugString();

  proto::Prompt p;
  p.set_id(9);
  (*p.mutable_reference())["b"] = "2";
  (*p.mutable_reference())["a"] = "1";
  p.add_tools()->set_name("calc");
  proto::ToolCall* call = p.add_solution()->add_calls();
  call->set_name("calc");
  (*call->mutable_arguments())["x"] = "6*7";
  p.set_solution_answer("42");
  EXPECT_THAT(ProtoToJson(p).Dump(), HasSubstr("\"reference\":{\"a\":\"1\",\"b\":\"2\"}"));
  ASSERT_OK_AND_ASSIGN(proto::Prompt p2, PromptFrom(ProtoToJson(p).Dump()));
  EXPECT_TRUE(google::protobuf::util::MessageDifferencer::Equals(p, p2));
}

TEST(JsonProto, SkipsNamedFieldsAndWritesUnsetMessagesAsNull) {
  proto::ScoreRequest r;
  r.add_samples()->set_final_answer("x");
  EXPECT_EQ(ProtoToJson(r, {"samples"}).Dump(), "{\"prompt\":null}");
}

TEST(JsonProto, AcceptsWhatPeopleWrite) {
  ASSERT_OK_AND_ASSIGN(proto::Prompt p, PromptFrom(R"({"id": "18446744073709551615",
      "taskSeed": 5, "difficulty": 2, "user": "hi", "tools": [{"name": "calc"}],
      "reference": {"answer": "4"}, "system": null, "heldout": true})"));
  EXPECT_EQ(p.id(), std::numeric_limits<uint64_t>::max());
  EXPECT_EQ(p.task_seed(), 5u);
  EXPECT_EQ(p.tools(0).name(), "calc");
  EXPECT_EQ(p.reference().at("answer"), "4");
  EXPECT_TRUE(p.heldout());
  ASSERT_OK_AND_ASSIGN(Json j, ParseJson(R"({"finish_reason": 2, "reward": "NaN"})"));
  proto::Trajectory t;
  ASSERT_OK(JsonToProto(j, &t));
  EXPECT_EQ(t.finish_reason(), 2);
  EXPECT_TRUE(std::isnan(t.reward()));
}

TEST(JsonProto, RefusesBadInputNamingTheField) {
  auto error = [](const std::string& text) {
    return std::string(PromptFrom(text).status().message());
  };
  EXPECT_THAT(error(R"({"tools": [{"name": "a"}, {"name": 5}]})"),
              HasSubstr("tools[1].name: expected a string"));
  EXPECT_THAT(error(R"({"id": -1})"), HasSubstr("id: expected a non-negative integer"));
  EXPECT_THAT(error(R"({"difficulty": 3000000000})"), HasSubstr("difficulty: expected an integer"));
  EXPECT_THAT(error(R"({"difficulty": 1.5})"), HasSubstr("difficulty: expected an integer"));
  EXPECT_THAT(error(R"({"tools": {"name": "a"}})"), HasSubstr("tools: expected an array"));
  EXPECT_THAT(error(R"({"reference": ["a"]})"), HasSubstr("reference: expected an object"));
  EXPECT_THAT(error(R"({"colour": 1})"),
              HasSubstr("colour: no field of that name in dsarl.proto.Prompt"));
  EXPECT_OK(PromptFrom(R"({"colour": 1})", /*ignore_unknown=*/true).status());
  EXPECT_THAT(error("[1]"), HasSubstr("expected an object"));
  ASSERT_OK_AND_ASSIGN(Json j, ParseJson(R"({"finish_reason": "FINISH_SOMETIMES"})"));
  proto::Trajectory t;
  EXPECT_THAT(
      std::string(JsonToProto(j, &t).message()),
      HasSubstr("finish_reason: 'FINISH_SOMETIMES' is not a value of dsarl.proto.FinishReason"));
}

}  // namespace
}  // namespace dsarl
