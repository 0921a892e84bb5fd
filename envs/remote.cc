// Remote environments (remote.h): a thin translation between env.proto and environment.h, with
// deadlines and checks on what comes back.
#include "envs/remote.h"

#include <chrono>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "base/log.h"
#include "base/reply_limits.h"
#include "base/status_macros.h"
#include "proto/chat_proto.h"
#include "proto/grpc_status.h"

namespace dsarl::envs {
namespace {

void SetDeadline(grpc::ClientContext* ctx, absl::Duration timeout) {
  ctx->set_deadline(std::chrono::system_clock::now() + absl::ToChronoNanoseconds(timeout));
}

class RemoteEpisodeState : public EpisodeState {
 public:
  RemoteEpisodeState(const void* owner, std::shared_ptr<const RemoteServer> server, std::string id,
                     absl::Duration timeout)
      : owner(owner), server(std::move(server)), episode_id(std::move(id)), timeout(timeout) {}
  ~RemoteEpisodeState() override { CloseRemote(); }
  // Best effort: a server that is gone has nothing to free.
  void CloseRemote() {
    if (closed) return;
    closed = true;
    grpc::ClientContext ctx;
    server->Prepare(&ctx, std::min(timeout, absl::Seconds(2)));
    proto::CloseRequest req;
    req.set_episode_id(episode_id);
    proto::CloseResponse resp;
    (void)server->stub().Close(&ctx, req, &resp);
  }
  const void* owner;
  std::shared_ptr<const RemoteServer> server;
  std::string episode_id;
  absl::Duration timeout;
  bool closed = false;
};

class RemoteEnvironment : public Environment {
 public:
  RemoteEnvironment(std::shared_ptr<const RemoteServer> server, proto::EnvSpec spec,
                    absl::Duration timeout)
      : server_(std::move(server)),
        spec_(std::move(spec)),
        timeout_(timeout),
        label_(absl::StrCat("remote environment ", server_->address(), " category ",
                            spec_.category(), " env ", spec_.id())) {}

  const proto::EnvSpec& spec() const override { return spec_; }

  absl::StatusOr<Episode> Reset(uint64_t seed, int level) const override {
    RETURN_IF_ERROR(CheckLevel(spec_, level));
    grpc::ClientContext ctx;
    server_->Prepare(&ctx, timeout_);
    proto::ResetRequest req;
    *req.mutable_spec() = spec_;
    req.set_seed(seed);
    req.set_level(level);
    proto::ResetResponse resp;
    RETURN_IF_ERROR(FromGrpcStatus(server_->stub().Reset(&ctx, req, &resp), Label("Reset")));
    // From here the server holds an episode: the state closes it whatever happens.
    auto state = std::make_unique<RemoteEpisodeState>(this, server_, resp.episode_id(), timeout_);
    if (resp.episode_id().empty() || resp.task().user().empty()) {
      state->closed = resp.episode_id().empty();
      return absl::DataLossError(
          absl::StrCat(Label("Reset"), " returned garbage: no episode id or no user message"));
    }
    Episode e;
    e.task.system = resp.task().system();
    e.task.user = resp.task().user();
    e.task.tools.assign(resp.task().tools().begin(), resp.task().tools().end());
    for (const auto& [k, v] : resp.task().reference()) e.task.reference[k] = v;
    for (const proto::SolutionRound& round : resp.solution()) {
      std::vector<ToolCall> calls;
      for (const proto::ToolCall& c : round.calls()) calls.push_back(ToolCallFromProto(c));
      e.task.solution.rounds.push_back(std::move(calls));
    }
    e.task.solution.final_answer = resp.solution_answer();
    e.state = std::move(state);
    return e;
  }

  absl::StatusOr<StepResult> Step(EpisodeState* state,
                                  absl::Span<const ToolCall> calls) const override {
    ASSIGN_OR_RETURN(RemoteEpisodeState * s, Own(state, "Step"));
    grpc::ClientContext ctx;
    server_->Prepare(&ctx, timeout_);
    proto::StepRequest req;
    req.set_episode_id(s->episode_id);
    for (const ToolCall& call : calls) *req.add_calls() = ToolCallToProto(call);
    proto::StepResponse resp;
    RETURN_IF_ERROR(FromGrpcStatus(server_->stub().Step(&ctx, req, &resp), Label("Step")));
    if (resp.results_size() != static_cast<int>(calls.size())) {
      return absl::DataLossError(absl::StrCat(Label("Step"),
                                              " returned garbage: ", resp.results_size(),
                                              " results for ", calls.size(), " calls"));
    }
    StepResult out;
    for (const proto::ToolResult& r : resp.results()) {
      out.results.push_back(ToolResult{r.output(), r.is_error()});
    }
    out.done = resp.done();
    return out;
  }

  absl::StatusOr<Verdict> Verify(const EpisodeState& state,
                                 absl::string_view final_answer) const override {
    ASSIGN_OR_RETURN(RemoteEpisodeState * s, Own(const_cast<EpisodeState*>(&state), "Verify"));
    grpc::ClientContext ctx;
    server_->Prepare(&ctx, timeout_);
    proto::VerifyRequest req;
    req.set_episode_id(s->episode_id);
    req.set_final_answer(std::string(final_answer));
    proto::VerifyResponse resp;
    RETURN_IF_ERROR(FromGrpcStatus(server_->stub().Verify(&ctx, req, &resp), Label("Verify")));
    if (!std::isfinite(resp.score()) || resp.score() < 0 || resp.score() > 1) {
      return absl::DataLossError(absl::StrCat(Label("Verify"), " returned garbage: score ",
                                              resp.score(), " is not in [0, 1]"));
    }
    return Verdict{resp.score(), resp.details()};
  }

  void Close(EpisodeState* state) const override {
    auto* s = dynamic_cast<RemoteEpisodeState*>(state);
    if (s != nullptr && s->owner == this) s->CloseRemote();
  }

 private:
  std::string Label(const char* method) const { return absl::StrCat(label_, ": ", method); }

  absl::StatusOr<RemoteEpisodeState*> Own(EpisodeState* state, const char* method) const {
    auto* s = dynamic_cast<RemoteEpisodeState*>(state);
    if (s == nullptr || s->owner != this) {
      return absl::FailedPreconditionError(
          absl::StrCat(method, ": the episode state is not one of this environment"));
    }
    if (s->closed) {
      return absl::FailedPreconditionError(absl::StrCat(method, ": the episode is closed"));
    }
    return s;
  }

  std::shared_ptr<const RemoteServer> server_;
  proto::EnvSpec spec_;
  absl::Duration timeout_;
  std::string label_;
};

}  // namespace

void RemoteServer::Prepare(grpc::ClientContext* ctx, absl::Duration timeout) const {
  SetDeadline(ctx, timeout);
  rpc::Attach(ctx, credentials_);
}

absl::StatusOr<std::shared_ptr<RemoteServer>> RemoteServer::Connect(
    const std::string& address, absl::Duration timeout, const rpc::ClientSecurity& security) {
  auto server = std::shared_ptr<RemoteServer>(new RemoteServer());
  server->address_ = address;
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(static_cast<int>(kMaxReplyBytes));  // what a plugin may report
  ASSIGN_OR_RETURN(auto channel, rpc::MakeChannel(address, security, args));
  server->stub_ = proto::Environment::NewStub(channel);
  server->credentials_ = rpc::MakeCallCredentials(security);
  grpc::ClientContext ctx;
  server->Prepare(&ctx, timeout);
  ctx.set_wait_for_ready(true);  // the server may still be starting
  RETURN_IF_ERROR(
      FromGrpcStatus(server->stub_->Describe(&ctx, proto::DescribeRequest(), &server->description_),
                     absl::StrCat("remote environment ", address, ": Describe")));
  DSARL_LOG_INFO("connected to remote environment {} {} at {} ({} categories)",
                 server->description_.name(), server->description_.version(), address,
                 server->description_.categories_size());
  return server;
}

std::unique_ptr<Environment> MakeRemoteEnvironment(std::shared_ptr<const RemoteServer> server,
                                                   const proto::EnvSpec& spec,
                                                   absl::Duration call_timeout) {
  return std::make_unique<RemoteEnvironment>(std::move(server), spec, call_timeout);
}

std::vector<Category> RemoteCategories(std::shared_ptr<const RemoteServer> server,
                                       absl::Duration call_timeout) {
  std::vector<Category> out;
  for (const std::string& name : server->description().categories()) {
    Category c;
    c.name = name;
    c.kind = CategoryKind::kExternal;
    c.description = absl::StrCat("from remote server ", server->description().name(), " ",
                                 server->description().version());
    c.top_level = server->description().top_level();
    c.backend = absl::StrCat("remote:", server->address());
    c.build = [server, call_timeout](
                  const proto::EnvSpec& spec) -> absl::StatusOr<std::unique_ptr<Environment>> {
      return MakeRemoteEnvironment(server, spec, call_timeout);
    };
    out.push_back(std::move(c));
  }
  return out;
}

}  // namespace dsarl::envs
