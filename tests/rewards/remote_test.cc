// The remote reward client against an in-process gRPC server on a loopback port picked by the OS:
// the wire mapping, timeouts, failures, protocol violations and the concurrency limit.
#include "rewards/remote.h"

#include <atomic>
#include <chrono>
#include <thread>

#include "absl/strings/str_replace.h"
#include "base/reply_limits.h"
#include "google/protobuf/text_format.h"
#include "grpcpp/grpcpp.h"
#include "gtest/gtest.h"
#include "proto/reward.grpc.pb.h"
#include "rewards/composer.h"
#include "tests/base/closed_port.h"
#include "tests/rewards/test_util.h"

namespace dsarl::rewards {
namespace {

using testing::Answer;
using testing::Get;
using testing::Task;

// Scores each sample with its final answer's length; behaviour is set per test.
class FakeJudge final : public proto::Reward::Service {
 public:
  std::atomic<int> delay_ms{0};
  std::atomic<int> hold_until_peak{0};  // hold each call until this many were in flight at once
                                        // (bounded by 10 s), then apply delay_ms
  std::atomic<int> fail_code{0};        // a grpc::StatusCode to fail with, 0: answer
  std::atomic<int> drop_scores{0};      // answer with this many fewer scores
  std::atomic<bool> bad_applicable{false};
  std::atomic<size_t> details_bytes{0};  // the first score's details are this long, 0: "counted"
  std::atomic<int> in_flight{0};
  std::atomic<int> peak{0};
  std::atomic<int> calls{0};
  proto::ScoreRequest last_request;  // written under mu
  std::mutex mu;

  grpc::Status Score(grpc::ServerContext* context, const proto::ScoreRequest* request,
                     proto::ScoreResponse* response) override {
    const int now = ++in_flight;
    for (int p = peak.load(); now > p && !peak.compare_exchange_weak(p, now);) {
    }
    ++calls;
    {
      std::lock_guard<std::mutex> lock(mu);
      last_request = *request;
    }
    // Sleep in small steps, leaving early once the client has gone (bounded either way).
    const auto hold = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    while (peak.load() < hold_until_peak.load() && std::chrono::steady_clock::now() < hold &&
           !context->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    const auto until = std::chrono::steady_clock::now() + std::chrono::milliseconds(delay_ms);
    while (std::chrono::steady_clock::now() < until && !context->IsCancelled()) {
      std::this_thread::sleep_for(std::chrono::milliseconds(2));
    }
    --in_flight;
    if (fail_code != 0) {
      return grpc::Status(static_cast<grpc::StatusCode>(fail_code.load()), "judge is sick");
    }
    const int n = request->samples_size() - drop_scores;
    for (int i = 0; i < n; ++i) {
      auto* c = response->add_scores()->add_components();
      c->set_name("len");
      c->set_value(static_cast<double>(request->samples(i).final_answer().size()));
      c->set_applicable(!bad_applicable);
      c->set_details(i == 0 && details_bytes > 0 ? std::string(details_bytes, 'x') : "counted");
    }
    return grpc::Status::OK;
  }
};

class RemoteTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port_);
    builder.RegisterService(&judge_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port_, 0);
  }
  void TearDown() override {
    if (server_) server_->Shutdown(std::chrono::system_clock::now() + std::chrono::seconds(2));
  }

  std::string address() const { return absl::StrCat("127.0.0.1:", port_); }

  std::unique_ptr<RewardFunction> Client(double timeout_s = 5, int max_concurrency = 4) {
    limit_ = std::make_shared<ConcurrencyLimit>(max_concurrency);
    auto fn = NewRemoteReward(RemoteOptions{
        .addresses = {address()}, .timeout = absl::Seconds(timeout_s), .limit = limit_});
    EXPECT_TRUE(fn.ok()) << fn.status();
    return *std::move(fn);
  }

  FakeJudge judge_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
  std::shared_ptr<ConcurrencyLimit> limit_;
};

TEST_F(RemoteTest, ScoresAGroupAndSendsTheWholeSample) {
  auto fn = Client();
  Sample s = Answer("four");
  s.messages.back().tool_calls.push_back(ToolCall{.name = "calc", .arguments = {{"x", "2+2"}}});
  s.num_generated_tokens = 17;
  ASSERT_OK_AND_ASSIGN(std::vector<Components> r,
                       fn->ScoreGroup(Task({{"answer", "4"}}), {s, Answer("forty")}));
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(Get(r[0], "len").value, 4);
  EXPECT_EQ(Get(r[1], "len").value, 5);
  EXPECT_EQ(Get(r[1], "len").details, "counted");
  std::lock_guard<std::mutex> lock(judge_.mu);
  const proto::ScoreRequest& req = judge_.last_request;
  EXPECT_EQ(req.prompt().reference().at("answer"), "4");
  ASSERT_EQ(req.samples_size(), 2);
  EXPECT_EQ(req.samples(0).num_generated_tokens(), 17);
  EXPECT_EQ(req.samples(0).finish_reason(), proto::FINISH_EOS);
  ASSERT_EQ(req.samples(0).messages_size(), 2);
  EXPECT_EQ(req.samples(0).messages(1).role(), "assistant");
  EXPECT_EQ(req.samples(0).messages(1).reasoning(), "six times seven");
  // The visible answer, and the turn's calls as structured data (the judge renders them as it
  // likes; the markup is the model's business).
  EXPECT_EQ(req.samples(0).messages(1).content(), "four");
  ASSERT_EQ(req.samples(0).messages(1).tool_calls_size(), 1);
  EXPECT_EQ(req.samples(0).messages(1).tool_calls(0).name(), "calc");
  EXPECT_EQ(req.samples(0).messages(1).tool_calls(0).arguments().at("x"), "2+2");
}

// The judge would answer after a minute; the call returns at its 0.2 s deadline. The upper bound
// on the wait is the behaviour under test (not waiting for the server), so it stays, with room
// for a loaded machine: half the server's delay.
TEST_F(RemoteTest, TimeoutIsDeadlineExceeded) {
  judge_.delay_ms = 60000;  // the handler leaves as soon as the call is cancelled
  auto fn = Client(/*timeout_s=*/0.2);
  const auto start = std::chrono::steady_clock::now();
  const absl::Status s = fn->ScoreGroup(Task(), {Answer("a")}).status();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(30));
  EXPECT_EQ(s.code(), absl::StatusCode::kDeadlineExceeded) << s;
  EXPECT_NE(s.message().find(address()), absl::string_view::npos) << s;
  EXPECT_NE(s.message().find("timeout 0.2s"), absl::string_view::npos) << s;
}

TEST_F(RemoteTest, ServerErrorsKeepTheirCode) {
  judge_.fail_code = static_cast<int>(grpc::StatusCode::RESOURCE_EXHAUSTED);
  const absl::Status s = Client()->ScoreGroup(Task(), {Answer("a")}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted);
  EXPECT_NE(s.message().find("judge is sick"), absl::string_view::npos) << s;
}

// A reply has the bound a plugin's output has (base/reply_limits.h): one just under it is read,
// one over it is RESOURCE_EXHAUSTED.
TEST_F(RemoteTest, AReplyOverTheBoundIsRefused) {
  judge_.details_bytes = kMaxReplyBytes - 1024;
  ASSERT_OK_AND_ASSIGN(std::vector<Components> ok, Client()->ScoreGroup(Task(), {Answer("a")}));
  EXPECT_EQ(Get(ok[0], "len").details.size(), kMaxReplyBytes - 1024);
  judge_.details_bytes = kMaxReplyBytes + 1;
  const absl::Status s = Client()->ScoreGroup(Task(), {Answer("a")}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kResourceExhausted) << s;
  EXPECT_NE(s.message().find(address()), absl::string_view::npos) << s;
}

TEST_F(RemoteTest, ProtocolViolationsAreErrors) {
  judge_.drop_scores = 1;
  absl::Status s = Client()->ScoreGroup(Task(), {Answer("a"), Answer("b")}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("returned 1 score(s) for 2 sample(s)"), absl::string_view::npos) << s;
  judge_.drop_scores = 0;
  judge_.bad_applicable = true;  // a value with proto3's default applicable = false
  s = Client()->ScoreGroup(Task(), {Answer("abc")}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInternal);
  EXPECT_NE(s.message().find("set applicable = true"), absl::string_view::npos) << s;
}

// Nothing listens there: a port held bound and never listening, so no other process can take it
// (a port freed by shutting the server down could be reused by anyone meanwhile).
TEST_F(RemoteTest, UnreachableServerIsUnavailable) {
  const dsarl::testing::ClosedPort closed;
  ASSERT_GT(closed.port(), 0);
  auto limit = std::make_shared<ConcurrencyLimit>(1);
  ASSERT_OK_AND_ASSIGN(
      auto fn, NewRemoteReward(RemoteOptions{
                   .addresses = {closed.address()}, .timeout = absl::Seconds(30), .limit = limit}));
  const absl::Status s = fn->ScoreGroup(Task(), {Answer("a")}).status();
  EXPECT_EQ(s.code(), absl::StatusCode::kUnavailable) << s;  // refused: no waiting for a deadline
  EXPECT_NE(s.message().find(closed.address()), absl::string_view::npos) << s;
  EXPECT_EQ(judge_.calls.load(), 0);
}

TEST_F(RemoteTest, ConcurrencyLimitCapsCallsInFlight) {
  // Calls wait until two are in flight together, so the limit is reached however the threads are
  // scheduled; a third never joins them while the limit holds.
  judge_.hold_until_peak = 2;
  judge_.delay_ms = 30;
  auto fn = Client(/*timeout_s=*/10, /*max_concurrency=*/2);
  std::vector<std::thread> threads;
  std::atomic<int> errors{0};
  for (int t = 0; t < 6; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 2; ++i) {
        if (!fn->ScoreGroup(Task(), {Answer("a")}).ok()) ++errors;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(judge_.calls.load(), 12);
  EXPECT_EQ(judge_.peak.load(), 2);  // never more than the limit, and the limit was reached
  EXPECT_EQ(limit_->peak_in_flight(), 2);
  EXPECT_EQ(limit_->in_flight(), 0);
}

// A composer with one remote component and the given call timeout, talking to this test's judge.
std::unique_ptr<Composer> RemoteComposer(const std::string& address, const std::string& timeout_s) {
  proto::RewardsConfig config;
  EXPECT_TRUE(google::protobuf::TextFormat::ParseFromString(
      absl::StrReplaceAll(R"pb(
                            components {
                              name: "judge"
                              weight: 0.5
                              params { key: "type" value: "remote" }
                            }
                            remote_addresses: "ADDRESS"
                            call_timeout_s: TIMEOUT
                            max_concurrency: 3
                          )pb",
                          {{"ADDRESS", address}, {"TIMEOUT", timeout_s}}),
      &config));
  auto composer = Composer::Create(config, BuiltinRegistry());
  EXPECT_OK(composer.status());
  return composer.ok() ? *std::move(composer) : nullptr;
}

TEST_F(RemoteTest, ThroughTheComposer) {
  auto composer = RemoteComposer(address(), "10");
  ASSERT_NE(composer, nullptr);
  EXPECT_EQ(composer->remote_limit().max_in_flight(), 3);
  auto r = composer->ScoreGroup(Task(), {Answer("abcd")});
  EXPECT_EQ(r[0].infra_error, "");
  EXPECT_DOUBLE_EQ(r[0].reward, 2);  // the only component "len" is the entry's value
  EXPECT_EQ(r[0].components[0].name(), "judge");

  // A judge slower than the call timeout: an infrastructure error, not a 0. (Another composer,
  // so the call above had ample time even on a loaded machine.)
  auto impatient = RemoteComposer(address(), "0.2");
  ASSERT_NE(impatient, nullptr);
  judge_.delay_ms = 60000;  // the handler leaves as soon as the call is cancelled
  r = impatient->ScoreGroup(Task(), {Answer("abcd"), Answer("e")});
  for (const ScoredSample& s : r) {
    EXPECT_NE(s.infra_error.find("DEADLINE_EXCEEDED"), std::string::npos) << s.infra_error;
  }
}

}  // namespace
}  // namespace dsarl::rewards
