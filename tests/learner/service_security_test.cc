// The learner service against hostile clients, over real loopback ports: without the job's token
// (or with a wrong one) every RPC is UNAUTHENTICATED; a worker cannot submit or return another
// worker's lease, and trying leaves the lease with its holder; one worker cannot lease every slot;
// with TLS and mutual TLS a worker with the job's certificate trains and others are refused; a
// learner does not listen beyond loopback unprotected unless told --insecure.
#include "base/crc32c.h"
#include "gtest/gtest.h"
#include "learner/service.h"
#include "proto/rpc_certs.h"
#include "rollout/learner_client.h"
#include "tests/base/temp_dir.h"
#include "tests/learner/prompt_store.h"
#include "tests/status_matchers.h"

namespace dsarl::learner {
namespace {

struct Fixture {
  dsarl::testing::ScratchDir dir;  // first: outlives the store in it
  std::unique_ptr<store::Store> store;
  std::unique_ptr<LearnerState> state;
  std::unique_ptr<LearnerServer> server;
  rpc::ServerSecurity security;

  Fixture(const std::string& name, rpc::ServerSecurity s, int per_worker = 0)
      : dir("service-security-" + name), security(std::move(s)) {
    std::vector<uint64_t> ids;
    store = dsarl::testing::StoreWithPrompts(dir.path(), 8, &ids);
    state = std::make_unique<LearnerState>(
        store.get(), 1, std::make_unique<PromptScheduler>(ids, 1, 60000), 1,
        [] { return int64_t(1000); }, 0, per_worker);
    auto w = std::make_shared<PublishedWeights>();
    w->blob = "weights";
    w->crc32c = Crc32c(w->blob);
    state->Publish(w);
    auto started = LearnerServer::Start("127.0.0.1:0", state.get(), security);
    EXPECT_OK(started.status());
    if (started.ok()) server = std::move(*started);
  }

  // A client as a worker holding `token` (and TLS settings) would make it, dialing `host`.
  std::unique_ptr<rollout::LearnerClient> Client(rpc::ClientSecurity s,
                                                 const std::string& host = "127.0.0.1") {
    const std::string target = host + ":" + std::to_string(server->port());
    auto channel = rollout::LearnerClient::Connect(target, s);
    EXPECT_OK(channel.status());
    return std::make_unique<rollout::LearnerClient>(*channel, target, 10,
                                                    rpc::MakeCallCredentials(s));
  }
  std::unique_ptr<rollout::LearnerClient> Worker(const std::string& name,
                                                 rpc::ClientSecurity s = {}) {
    s.token = rpc::WorkerToken(security.job_secret, name).value();
    return Client(s);
  }
};

proto::Group GroupFor(const proto::Lease& l) {
  proto::Group g;
  g.set_prompt_id(l.prompt().id());
  g.set_attempt(l.attempt());
  for (int i = 0; i < 2; ++i) {
    proto::Trajectory* t = g.add_trajectories();
    t->set_prompt_id(l.prompt().id());
    t->set_sample_index(i);
    for (int k = 0; k < 4; ++k) {
      t->add_token_ids(k);
      t->add_loss_mask(k >= 2);
      t->add_behaviour_logprobs(k >= 2 ? -1.0f : 0.0f);
      t->add_policy_versions(0);
    }
    t->set_reward(i);
  }
  return g;
}

rpc::ServerSecurity WithToken() {
  rpc::ServerSecurity s;
  s.job_secret = rpc::NewJobSecret();
  return s;
}

// Every RPC of `client` fails with `code`.
void ExpectEveryRpcFails(rollout::LearnerClient& client, const proto::Lease& lease,
                         absl::StatusCode code) {
  EXPECT_EQ(client.Lease(1).status().code(), code);
  EXPECT_EQ(client.ReturnLeases({lease.lease_id()}).status().code(), code);
  EXPECT_EQ(client.Submit(lease.lease_id(), GroupFor(lease)).status().code(), code);
  EXPECT_EQ(client.PullWeights().status().code(), code);
  EXPECT_EQ(client.Status().status().code(), code);
}

TEST(LearnerSecurity, EveryRpcWithoutTheTokenOrWithAWrongOneIsUnauthenticated) {
  Fixture f("token", WithToken());
  auto honest = f.Worker("w1");
  ASSERT_OK_AND_ASSIGN(auto leased, honest->Lease(1));
  ASSERT_EQ(leased.leases_size(), 1);
  const proto::Lease lease = leased.leases(0);
  EXPECT_EQ(lease.lease_id().size(), 32u);
  auto anonymous = f.Client({});
  ExpectEveryRpcFails(*anonymous, lease, absl::StatusCode::kUnauthenticated);
  auto forged = f.Client({.token = rpc::WorkerToken(rpc::NewJobSecret(), "w1").value()});
  ExpectEveryRpcFails(*forged, lease, absl::StatusCode::kUnauthenticated);
  auto garbage = f.Client({.token = "w1.deadbeef"});
  ExpectEveryRpcFails(*garbage, lease, absl::StatusCode::kUnauthenticated);
  // An in-process channel skips the transport, not the check.
  rollout::LearnerClient in_process(f.server->InProcessChannel(), "in-process", 10);
  ExpectEveryRpcFails(in_process, lease, absl::StatusCode::kUnauthenticated);
  // Nothing of that touched the honest worker's lease.
  ASSERT_OK_AND_ASSIGN(auto r, honest->Submit(lease.lease_id(), GroupFor(lease)));
  EXPECT_EQ(r.outcome(), proto::SubmitGroupResponse::ACCEPTED);
  ASSERT_OK_AND_ASSIGN(auto img, honest->PullWeights());
  EXPECT_EQ(img.blob, "weights");
  ASSERT_OK_AND_ASSIGN(auto st, honest->Status());
  EXPECT_EQ(st.groups_pending(), 1);
  // The stored group names the worker by its credentials, whatever it wrote.
  ASSERT_OK_AND_ASSIGN(auto stored, f.store->GetGroup(lease.prompt().id(), lease.attempt(), false));
  EXPECT_EQ(stored.worker_id(), "w1");
}

TEST(LearnerSecurity, AnotherWorkersLeaseCannotBeSubmittedOrReturned) {
  Fixture f("hijack", WithToken());
  auto alice = f.Worker("alice");
  auto mallory = f.Worker("mallory");
  ASSERT_OK_AND_ASSIGN(auto leased, alice->Lease(2));
  ASSERT_EQ(leased.leases_size(), 2);
  const proto::Lease a = leased.leases(0), b = leased.leases(1);
  EXPECT_EQ(mallory->Submit(a.lease_id(), GroupFor(a)).status().code(),
            absl::StatusCode::kPermissionDenied);
  proto::Group wrong_prompt = GroupFor(b);  // the old way to cancel a lease
  EXPECT_EQ(mallory->Submit(a.lease_id(), wrong_prompt).status().code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(alice->Submit(a.lease_id(), wrong_prompt).status().code(),
            absl::StatusCode::kInvalidArgument);
  ASSERT_OK_AND_ASSIGN(int returned, mallory->ReturnLeases({a.lease_id(), b.lease_id()}));
  EXPECT_EQ(returned, 0);
  ASSERT_OK_AND_ASSIGN(auto st, alice->Status());
  EXPECT_EQ(st.prompts_leased(), 2);
  ASSERT_OK_AND_ASSIGN(auto r, alice->Submit(a.lease_id(), GroupFor(a)));
  EXPECT_EQ(r.outcome(), proto::SubmitGroupResponse::ACCEPTED);
  ASSERT_OK_AND_ASSIGN(returned, alice->ReturnLeases({b.lease_id()}));
  EXPECT_EQ(returned, 1);
}

TEST(LearnerSecurity, OneWorkerCannotLeaseEverySlot) {
  Fixture f("flood", WithToken(), /*per_worker=*/3);
  auto greedy = f.Worker("greedy");
  ASSERT_OK_AND_ASSIGN(auto first, greedy->Lease(1000));
  EXPECT_EQ(first.leases_size(), 3);
  ASSERT_OK_AND_ASSIGN(auto more, greedy->Lease(1000));
  EXPECT_EQ(more.leases_size(), 0);
  auto honest = f.Worker("honest");
  ASSERT_OK_AND_ASSIGN(auto fair, honest->Lease(2));
  EXPECT_EQ(fair.leases_size(), 2);
  // Submitting frees the slot for the next lease.
  ASSERT_OK(greedy->Submit(first.leases(0).lease_id(), GroupFor(first.leases(0))).status());
  ASSERT_OK_AND_ASSIGN(more, greedy->Lease(1000));
  EXPECT_EQ(more.leases_size(), 1);
}

TEST(LearnerSecurity, TlsWithClientCertificatesAdmitsOnlyTheJobsWorkers) {
  dsarl::testing::ScratchDir certs("service-security-certs");
  ASSERT_OK(rpc::MakeCertificates(certs.Sub("job"), {.hosts = {"127.0.0.1"}, .clients = {"w1"}}));
  ASSERT_OK(rpc::MakeCertificates(certs.Sub("other"), {.hosts = {"127.0.0.1"}}));
  rpc::ServerSecurity s = WithToken();
  s.tls_cert_file = certs.Sub("job/server.pem");
  s.tls_key_file = certs.Sub("job/server.key");
  s.tls_client_ca_file = certs.Sub("job/ca.pem");
  Fixture f("mtls", s);
  const rpc::ClientSecurity good{.tls_ca_file = certs.Sub("job/ca.pem"),
                                 .tls_cert_file = certs.Sub("job/w1.pem"),
                                 .tls_key_file = certs.Sub("job/w1.key")};
  auto worker = f.Worker("w1", good);
  ASSERT_OK_AND_ASSIGN(auto leased, worker->Lease(1));
  ASSERT_EQ(leased.leases_size(), 1);
  ASSERT_OK_AND_ASSIGN(auto r,
                       worker->Submit(leased.leases(0).lease_id(), GroupFor(leased.leases(0))));
  EXPECT_EQ(r.outcome(), proto::SubmitGroupResponse::ACCEPTED);
  ASSERT_OK(worker->PullWeights().status());
  // The right token without a client certificate: the handshake fails.
  auto no_cert = f.Worker("w1", {.tls_ca_file = certs.Sub("job/ca.pem")});
  EXPECT_EQ(no_cert->Status().status().code(), absl::StatusCode::kUnavailable);
  // A worker that trusts another CA does not accept the learner's certificate.
  rpc::ClientSecurity wrong_ca = good;
  wrong_ca.tls_ca_file = certs.Sub("other/ca.pem");
  EXPECT_EQ(f.Worker("w1", wrong_ca)->Status().status().code(), absl::StatusCode::kUnavailable);
  // Plaintext to a TLS learner fails too.
  EXPECT_EQ(f.Worker("w1")->Status().status().code(), absl::StatusCode::kUnavailable);
}

TEST(LearnerSecurity, BeyondLoopbackWithoutTlsIsRefusedUnlessInsecure) {
  dsarl::testing::ScratchDir dir("service-security-listen");
  store::OpenOptions o;
  o.create_if_missing = true;
  auto store = std::move(store::Store::Open(dir.path(), o).value());
  LearnerState state(store.get(), 1,
                     std::make_unique<PromptScheduler>(std::vector<uint64_t>{1}, 1, 1000), 1,
                     [] { return int64_t(0); });
  auto refused = LearnerServer::Start("0.0.0.0:0", &state, WithToken());
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("--insecure"), std::string::npos);
  rpc::ServerSecurity insecure;
  insecure.insecure = true;
  ASSERT_OK_AND_ASSIGN(auto server, LearnerServer::Start("0.0.0.0:0", &state, insecure));
  EXPECT_NE(server->port(), 0);
}

}  // namespace
}  // namespace dsarl::learner
