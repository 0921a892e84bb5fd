// `dsarl token new|worker` and `dsarl certs make`: the credentials of a cluster job
// (proto/rpc_security.h, docs/training.md "Running a cluster job securely"), and the flags that
// `dsarl learner` and `dsarl rollout` share for them.
#include <unistd.h>

#include <iostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "cli/commands.h"
#include "proto/rpc_certs.h"

namespace dsarl::cli {

std::vector<FlagSpec> LearnerSecurityFlags() {
  return {
      FlagSpec{"token-file", "job secret (dsarl token new); or $DSARL_TOKEN(_FILE)", ""},
      FlagSpec{"tls-cert", "PEM server certificate (TLS)", ""},
      FlagSpec{"tls-key", "PEM server key", ""},
      FlagSpec{"tls-client-ca", "PEM CA that signs the workers' certificates (mTLS)", ""},
      FlagSpec{"insecure", "allow listening beyond loopback without TLS and a token", "", true}};
}

std::vector<FlagSpec> WorkerSecurityFlags() {
  return {FlagSpec{"token-file", "worker token (dsarl token worker); or $DSARL_TOKEN(_FILE)", ""},
          FlagSpec{"tls-ca", "PEM CA to verify the learner's certificate (TLS)", ""},
          FlagSpec{"tls-cert", "PEM client certificate (mTLS)", ""},
          FlagSpec{"tls-key", "PEM client key (mTLS)", ""}};
}

absl::StatusOr<rpc::ServerSecurity> LearnerSecurity(const Args& args) {
  rpc::ServerSecurity s;
  ASSIGN_OR_RETURN(s.job_secret, rpc::ResolveToken(args.Get("token-file")));
  s.tls_cert_file = args.Get("tls-cert");
  s.tls_key_file = args.Get("tls-key");
  s.tls_client_ca_file = args.Get("tls-client-ca");
  s.insecure = args.GetBool("insecure");
  return s;
}

absl::StatusOr<rpc::ClientSecurity> WorkerSecurity(const Args& args, std::string* worker_id) {
  rpc::ClientSecurity s;
  ASSIGN_OR_RETURN(std::string token, rpc::ResolveToken(args.Get("token-file")));
  if (rpc::IsJobSecret(token)) {
    // Holding the job secret, this worker makes its own token; weaker than one token per node.
    if (worker_id->empty()) *worker_id = absl::StrCat("worker-", getpid());
    ASSIGN_OR_RETURN(token, rpc::WorkerToken(token, *worker_id));
  } else if (!token.empty() && worker_id->empty()) {
    *worker_id = token.substr(0, token.rfind('.'));  // the learner names it so anyway
  }
  if (worker_id->empty()) *worker_id = absl::StrCat("worker-", getpid());
  s.token = std::move(token);
  s.tls_ca_file = args.Get("tls-ca");
  s.tls_cert_file = args.Get("tls-cert");
  s.tls_key_file = args.Get("tls-key");
  return s;
}

namespace {

absl::StatusOr<int> TokenWorker(const Args& args) {
  ASSIGN_OR_RETURN(std::string secret, rpc::ResolveToken(args.Get("token-file")));
  if (secret.empty()) return absl::InvalidArgumentError("--token-file JOB_SECRET is required");
  for (const std::string& name : args.positional()) {
    ASSIGN_OR_RETURN(std::string token, rpc::WorkerToken(secret, name));
    std::cout << token << "\n";
  }
  return 0;
}

absl::StatusOr<int> CertsMake(const Args& args) {
  if (args.Get("out").empty()) return absl::InvalidArgumentError("--out DIR is required");
  rpc::CertRequest r;
  r.hosts = absl::StrSplit(args.Get("hosts"), ',', absl::SkipEmpty());
  r.clients = absl::StrSplit(args.Get("clients"), ',', absl::SkipEmpty());
  ASSIGN_OR_RETURN(int64_t days, args.GetInt("days"));
  r.days = static_cast<int>(days);
  RETURN_IF_ERROR(rpc::MakeCertificates(args.Get("out"), r));
  std::cout << "wrote " << args.Get("out") << "/{ca,server" << (r.clients.empty() ? "" : ",...")
            << "}.{pem,key}; keep ca.key off the workers\n";
  return 0;
}

}  // namespace

void RegisterTokenCommands(CommandTable* table) {
  table->Add(Command{
      .name = "token new",
      .summary = "print a fresh job secret (256 random bits) for `dsarl learner --token-file`",
      .description = "Keep it on the learner only (chmod 600); give each worker its own token\n"
                     "from `dsarl token worker NAME`.",
      .run = [](const Args&) -> absl::StatusOr<int> {
        std::cout << rpc::NewJobSecret() << "\n";
        return 0;
      }});
  table->Add(Command{
      .name = "token worker",
      .summary = "print the token of each named worker under a job secret",
      .description = "NAME.HMAC-SHA256(secret, NAME): the learner verifies it with the secret\n"
                     "and names the worker NAME in its leases, logs and stored groups.",
      .positional = {"NAME", "..."},
      .min_positional = 1,
      .flags = {FlagSpec{"token-file", "job secret file (or $DSARL_TOKEN(_FILE))", ""}},
      .run = TokenWorker});
  table->Add(Command{
      .name = "certs make",
      .summary = "make a job's CA, the learner's TLS certificate and workers' client certificates",
      .description =
          "Writes DIR/ca.pem, ca.key, server.pem, server.key (subjectAltNames: --hosts)\n"
          "and NAME.pem, NAME.key per --clients name (common name NAME: the worker's\n"
          "identity under mutual TLS). Keys are ECDSA P-256, mode 0600.",
      .flags = {FlagSpec{"out", "directory to write", ""},
                FlagSpec{"hosts", "comma-separated names and IPs of the learner", "127.0.0.1"},
                FlagSpec{"clients", "comma-separated worker names for client certificates", ""},
                FlagSpec{"days", "validity [days]", "365"}},
      .run = CertsMake});
}

}  // namespace dsarl::cli
