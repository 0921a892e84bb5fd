// RPC security as a client or an attacker meets it: worker tokens verify only under their job's
// secret; a server that requires a token refuses calls without one or with a wrong one
// (UNAUTHENTICATED) and names the caller from the token; TLS works with the job's CA and fails with
// another; mutual TLS refuses a client without a certificate; addresses beyond loopback need TLS
// and authentication unless the operator says --insecure.
#include "proto/rpc_security.h"

#include <sys/stat.h>

#include <fstream>

#include "gtest/gtest.h"
#include "proto/learner.grpc.pb.h"
#include "proto/rpc_certs.h"
#include "tests/base/temp_dir.h"
#include "tests/status_matchers.h"

namespace dsarl::rpc {
namespace {

TEST(RpcTokens, WorkerTokensVerifyOnlyUnderTheirSecret) {
  const std::string secret = NewJobSecret(), other = NewJobSecret();
  EXPECT_TRUE(IsJobSecret(secret));
  EXPECT_NE(secret, other);
  ASSERT_OK_AND_ASSIGN(std::string token, WorkerToken(secret, "worker-3"));
  EXPECT_EQ(token.rfind("worker-3.", 0), 0u);
  ASSERT_OK_AND_ASSIGN(std::string name, VerifyWorkerToken(secret, token));
  EXPECT_EQ(name, "worker-3");
  EXPECT_EQ(VerifyWorkerToken(other, token).status().code(), absl::StatusCode::kUnauthenticated);
  // Renaming a token does not make it another worker's.
  EXPECT_FALSE(VerifyWorkerToken(secret, "worker-4" + token.substr(8)).ok());
  std::string flipped = token;
  flipped.back() = flipped.back() == '0' ? '1' : '0';
  EXPECT_FALSE(VerifyWorkerToken(secret, flipped).ok());
  EXPECT_FALSE(VerifyWorkerToken(secret, secret).ok());  // the secret is not a worker token
  EXPECT_FALSE(WorkerToken(secret, "bad name").ok());
  EXPECT_FALSE(WorkerToken("short", "w").ok());
}

TEST(RpcTokens, SecretFilesArePrivateAndTokensResolveFromFlagOrEnvironment) {
  dsarl::testing::ScratchDir dir("rpc-token");
  const std::string path = dir.Sub("job.token");
  ASSERT_OK(WriteSecretFile(path, "abc"));
  struct stat st {};
  ASSERT_EQ(stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_OK_AND_ASSIGN(std::string t, ReadTokenFile(path));
  EXPECT_EQ(t, "abc");
  EXPECT_EQ(ReadTokenFile(dir.Sub("missing")).status().code(), absl::StatusCode::kNotFound);
  unsetenv("DSARL_TOKEN_FILE");
  setenv("DSARL_TOKEN", " from-env ", 1);
  ASSERT_OK_AND_ASSIGN(t, ResolveToken(""));
  EXPECT_EQ(t, "from-env");
  setenv("DSARL_TOKEN_FILE", path.c_str(), 1);
  ASSERT_OK_AND_ASSIGN(t, ResolveToken(""));
  EXPECT_EQ(t, "abc");
  unsetenv("DSARL_TOKEN");
  unsetenv("DSARL_TOKEN_FILE");
  ASSERT_OK_AND_ASSIGN(t, ResolveToken(""));
  EXPECT_EQ(t, "");
}

TEST(RpcAddress, PortsInRangeHostsPresent) {
  for (const char* ok : {"127.0.0.1:50051", "localhost:1", "[::1]:65535", "0.0.0.0:8080",
                         "unix:/tmp/s", "node7.cluster:50051"}) {
    EXPECT_TRUE(ValidateAddress(ok, false).ok()) << ok;
  }
  EXPECT_OK(ValidateAddress("127.0.0.1:0", /*listening=*/true));
  for (const char* bad :
       {"127.0.0.1:99999", "127.0.0.1:0", "127.0.0.1", ":50051", "host:", "host:12a", "::1:50051",
        "[::1]50051", "unix:", "host:-1", "host:000065536"}) {
    EXPECT_EQ(ValidateAddress(bad, false).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
  EXPECT_EQ(ValidateAddress("127.0.0.1:65536", true).code(), absl::StatusCode::kInvalidArgument);
  // The server refuses before gRPC would listen on 99999 mod 65536.
  auto auth = ServerAuth::Create(ServerSecurity{}, "127.0.0.1:99999");
  EXPECT_EQ(auth.status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(RpcServerAuth, BeyondLoopbackNeedsTlsAndAuthenticationOrInsecure) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:0"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:5"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:5"));
  EXPECT_FALSE(IsLoopbackAddress("0.0.0.0:5"));
  EXPECT_FALSE(IsLoopbackAddress("[::]:5"));
  EXPECT_FALSE(IsLoopbackAddress("127.0.0.1.evil.example:5"));
  EXPECT_FALSE(IsLoopbackAddress(":5"));
  ServerSecurity plain;
  auto refused = ServerAuth::Create(plain, "0.0.0.0:0");
  ASSERT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(refused.status().message().find("--insecure"), std::string::npos);
  EXPECT_NE(refused.status().message().find("--tls-cert"), std::string::npos);
  ServerSecurity token_only;
  token_only.job_secret = NewJobSecret();
  EXPECT_FALSE(ServerAuth::Create(token_only, "0.0.0.0:0").ok());  // a token in plaintext
  plain.insecure = true;
  EXPECT_OK(ServerAuth::Create(plain, "0.0.0.0:0").status());
  ServerSecurity half;
  half.tls_cert_file = "server.pem";
  EXPECT_EQ(ServerAuth::Create(half, "127.0.0.1:0").status().code(),
            absl::StatusCode::kInvalidArgument);
  ServerSecurity worker_token_as_secret;
  worker_token_as_secret.job_secret = WorkerToken(NewJobSecret(), "w").value();
  EXPECT_EQ(ServerAuth::Create(worker_token_as_secret, "127.0.0.1:0").status().code(),
            absl::StatusCode::kInvalidArgument);
}

// A Learner service whose GetStatus reports the caller's identity in `step`'s place: enough to
// see what the server made of a call.
class WhoAmI final : public proto::Learner::Service {
 public:
  explicit WhoAmI(std::shared_ptr<const ServerAuth> auth) : auth_(std::move(auth)) {}
  grpc::Status GetStatus(grpc::ServerContext* ctx, const proto::StatusRequest*,
                         proto::StatusResponse* resp) override {
    auto who = auth_->Identify(*ctx);
    if (!who.ok()) return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, "identify");
    last_identity = *who;
    resp->set_finished(true);
    return grpc::Status::OK;
  }
  std::string last_identity;

 private:
  std::shared_ptr<const ServerAuth> auth_;
};

struct TestServer {
  std::shared_ptr<const ServerAuth> auth;
  std::unique_ptr<WhoAmI> service;
  std::unique_ptr<grpc::Server> server;
  int port = 0;

  explicit TestServer(ServerSecurity s, const std::string& address = "127.0.0.1:0") {
    auth = ServerAuth::Create(std::move(s), address).value();
    service = std::make_unique<WhoAmI>(auth);
    grpc::ServerBuilder b;
    b.AddListeningPort(address, auth->Credentials(), &port);
    b.RegisterService(service.get());
    server = b.BuildAndStart();
  }
  ~TestServer() { server->Shutdown(std::chrono::system_clock::now()); }

  // GetStatus as a client with `security` would make it, dialing `host`.
  grpc::StatusCode Call(const ClientSecurity& security, const std::string& host = "127.0.0.1") {
    auto channel = MakeChannel(host + ":" + std::to_string(port), security);
    if (!channel.ok()) return grpc::StatusCode::INVALID_ARGUMENT;
    auto stub = proto::Learner::NewStub(*channel);
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
    Attach(&ctx, MakeCallCredentials(security));
    proto::StatusResponse resp;
    return stub->GetStatus(&ctx, proto::StatusRequest(), &resp).error_code();
  }
};

TEST(RpcServerAuth, TokenRequiredOnLoopbackRefusesMissingAndWrongTokens) {
  ServerSecurity s;
  s.job_secret = NewJobSecret();
  TestServer server(s);
  ASSERT_NE(server.port, 0);
  EXPECT_EQ(server.Call({}), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server.Call({.token = "garbage"}), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server.Call({.token = WorkerToken(NewJobSecret(), "w1").value()}),
            grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server.Call({.token = s.job_secret}), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server.Call({.token = WorkerToken(s.job_secret, "w1").value()}), grpc::StatusCode::OK);
  EXPECT_EQ(server.service->last_identity, "w1");
  EXPECT_EQ(server.Call({.token = WorkerToken(s.job_secret, "w2").value()}), grpc::StatusCode::OK);
  EXPECT_EQ(server.service->last_identity, "w2");
}

TEST(RpcServerAuth, InsecureBeyondLoopbackStillChecksTheToken) {
  ServerSecurity s;
  s.job_secret = NewJobSecret();
  s.insecure = true;
  TestServer server(s, "0.0.0.0:0");
  ASSERT_NE(server.port, 0);
  EXPECT_EQ(server.Call({}), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server.Call({.token = "w.00"}), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_EQ(server.Call({.token = WorkerToken(s.job_secret, "w9").value()}), grpc::StatusCode::OK);
  EXPECT_EQ(server.service->last_identity, "w9");
}

TEST(RpcServerAuth, WithoutATokenTheIdentityIsThePeer) {
  TestServer server({});
  EXPECT_EQ(server.Call({}), grpc::StatusCode::OK);
  EXPECT_EQ(server.service->last_identity.rfind("ipv4:127.0.0.1:", 0), 0u);
}

struct Certs {
  dsarl::testing::ScratchDir dir{"rpc-certs"};
  std::string job, other;  // the job's CA and files, and an unrelated CA's
  Certs() {
    job = dir.Sub("job");
    other = dir.Sub("other");
    EXPECT_OK(MakeCertificates(job, {.hosts = {"localhost", "127.0.0.1"}, .clients = {"w1"}}));
    EXPECT_OK(MakeCertificates(other, {.hosts = {"localhost"}, .clients = {"w1"}}));
  }
};

TEST(RpcTls, TlsAndTokenWorkWithTheJobCaAndFailWithAnother) {
  Certs c;
  ServerSecurity s;
  s.job_secret = NewJobSecret();
  s.tls_cert_file = c.job + "/server.pem";
  s.tls_key_file = c.job + "/server.key";
  TestServer server(s);
  ASSERT_NE(server.port, 0);
  const std::string token = WorkerToken(s.job_secret, "w1").value();
  EXPECT_EQ(server.Call({.token = token, .tls_ca_file = c.job + "/ca.pem"}), grpc::StatusCode::OK);
  EXPECT_EQ(server.Call({.token = token, .tls_ca_file = c.job + "/ca.pem"}, "localhost"),
            grpc::StatusCode::OK);
  EXPECT_EQ(server.Call({.token = "", .tls_ca_file = c.job + "/ca.pem"}),
            grpc::StatusCode::UNAUTHENTICATED);
  // A client that trusts another CA does not talk to this server at all.
  EXPECT_EQ(server.Call({.token = token, .tls_ca_file = c.other + "/ca.pem"}),
            grpc::StatusCode::UNAVAILABLE);
  // A plaintext client cannot either.
  EXPECT_EQ(server.Call({.token = token}), grpc::StatusCode::UNAVAILABLE);
  struct stat st {};
  ASSERT_EQ(stat((c.job + "/server.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
}

TEST(RpcTls, MutualTlsNamesTheWorkerByItsCertificateAndRefusesOthers) {
  Certs c;
  ServerSecurity s;
  s.tls_cert_file = c.job + "/server.pem";
  s.tls_key_file = c.job + "/server.key";
  s.tls_client_ca_file = c.job + "/ca.pem";
  TestServer server(s, "0.0.0.0:0");  // TLS + client CA: allowed beyond loopback
  ASSERT_NE(server.port, 0);
  ClientSecurity good{.tls_ca_file = c.job + "/ca.pem",
                      .tls_cert_file = c.job + "/w1.pem",
                      .tls_key_file = c.job + "/w1.key"};
  EXPECT_EQ(server.Call(good), grpc::StatusCode::OK);
  EXPECT_EQ(server.service->last_identity, "w1");
  ClientSecurity no_cert{.tls_ca_file = c.job + "/ca.pem"};
  EXPECT_EQ(server.Call(no_cert), grpc::StatusCode::UNAVAILABLE);
  ClientSecurity foreign_cert{.tls_ca_file = c.job + "/ca.pem",
                              .tls_cert_file = c.other + "/w1.pem",
                              .tls_key_file = c.other + "/w1.key"};
  EXPECT_EQ(server.Call(foreign_cert), grpc::StatusCode::UNAVAILABLE);
}

TEST(RpcTls, WithMutualTlsAndATokenBothMustNameTheSameWorker) {
  Certs c;
  ServerSecurity s;
  s.job_secret = NewJobSecret();
  s.tls_cert_file = c.job + "/server.pem";
  s.tls_key_file = c.job + "/server.key";
  s.tls_client_ca_file = c.job + "/ca.pem";
  TestServer server(s);
  ClientSecurity client{.token = WorkerToken(s.job_secret, "w1").value(),
                        .tls_ca_file = c.job + "/ca.pem",
                        .tls_cert_file = c.job + "/w1.pem",
                        .tls_key_file = c.job + "/w1.key"};
  EXPECT_EQ(server.Call(client), grpc::StatusCode::OK);
  client.token = WorkerToken(s.job_secret, "w2").value();  // w1's certificate, w2's token
  EXPECT_EQ(server.Call(client), grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace dsarl::rpc
