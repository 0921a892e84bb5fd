// Reward functions served over gRPC (proto/reward.proto, service Reward): model-based judges and
// anything else that should run outside the worker, in any language. examples/rewards/
// judge_server.py is a complete server.
//
// Every call has a deadline (RewardsConfig.call_timeout_s) and the calls a worker has in flight
// are capped (RewardsConfig.max_concurrency, one ConcurrencyLimit shared by every remote reward
// of a composer). A call that fails, times out or answers wrongly is a Status error, which the
// composer records as an infrastructure error on every trajectory of the group: never a 0.
//
// Wire mapping (Sample -> ScoredSample): messages keep role, content and reasoning; an assistant
// turn's tool calls are appended to its content in the chat markup of SPEC §4
// (<function_calls><invoke name="N"><parameter name="K">V</parameter></invoke></function_calls>)
// so a judge sees them; the verdict, raw text and parse errors are not sent. The Prompt is sent
// whole. The response must hold one SampleScore per sample, in order; each RewardComponent maps to
// a Component (name, value, applicable, details; weight is ignored). Careful: proto3's default
// for `applicable` is false, so a server must set applicable = true on every value it means.
#ifndef DSARL_REWARDS_REMOTE_H_
#define DSARL_REWARDS_REMOTE_H_

#include <memory>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "proto/reward.pb.h"
#include "proto/rpc_security.h"
#include "rewards/reward.h"

namespace dsarl::rewards {

// A counting semaphore: at most `max_in_flight` holders at once. Thread-safe.
class ConcurrencyLimit {
 public:
  explicit ConcurrencyLimit(int max_in_flight);

  // Blocks until a slot is free, then takes it.
  void Acquire();
  // Gives a slot back. Call once per Acquire.
  void Release();

  int max_in_flight() const { return max_; }
  // Slots taken now.
  int in_flight() const;
  // The most slots ever taken at once (for tests and metrics).
  int peak_in_flight() const;

 private:
  const int max_;
  mutable absl::Mutex mu_;
  int in_flight_ ABSL_GUARDED_BY(mu_) = 0;
  int peak_ ABSL_GUARDED_BY(mu_) = 0;
};

struct RemoteOptions {
  // host:port of servers answering the same function; calls go round robin. At least one.
  std::vector<std::string> addresses;
  absl::Duration timeout = absl::Seconds(30);  // deadline of one call (time waiting for a
                                               // concurrency slot does not count)
  std::shared_ptr<ConcurrencyLimit> limit;     // required; shared by all remote rewards of a worker
  // Token sent as "authorization: Bearer TOKEN" on every call, and TLS (rpc_security.h); from
  // RewardsConfig.remote_token_file and remote_tls_ca.
  rpc::ClientSecurity security;
};

// Creates a client. Channels connect lazily, so an unreachable server is reported by the first
// ScoreGroup, not here. InvalidArgument for no addresses, a non-positive timeout or a null limit;
// rpc::MakeChannel's errors for TLS files that cannot be read.
//
// Its ScoreGroup returns, per sample, the components the server sent. Errors: the gRPC status of
// a failed call as the same code (DEADLINE_EXCEEDED for a timeout, RESOURCE_EXHAUSTED for a reply
// over kMaxReplyBytes (base/reply_limits.h), UNAVAILABLE for a server that cannot be reached),
// with the address and the timeout in the message; Internal for a response
// with the wrong number of scores, or with a component that is not applicable yet has a non-zero
// value (the proto3 default trap above).
absl::StatusOr<std::unique_ptr<RewardFunction>> NewRemoteReward(RemoteOptions options);

// The request for one group (wire mapping above).
proto::ScoreRequest MakeScoreRequest(const proto::Prompt& task, absl::Span<const Sample> samples);

// The components of a response for `num_samples` samples; errors as for ScoreGroup (Internal).
absl::StatusOr<std::vector<Components>> ParseScoreResponse(const proto::ScoreResponse& response,
                                                           size_t num_samples);

}  // namespace dsarl::rewards

#endif  // DSARL_REWARDS_REMOTE_H_
