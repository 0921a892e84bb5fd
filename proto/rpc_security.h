// RPC security for every gRPC server and client of dsarl, in one place (DESIGN "Trust boundary"):
// job secrets and per-worker tokens, the server's token check (a grpc::AuthMetadataProcessor), TLS
// and mutual-TLS credentials, the caller's identity, and the client's call credentials.
//
// Tokens. A job has one secret (256 random bits, 64 hex characters) that only the learner holds.
// Each worker gets its own token, NAME.HEX(HMAC-SHA256(secret, NAME)), so the learner verifies a
// worker without a list of tokens and knows who it is: the identity of a call is the name in its
// token, never a field the client writes. With mutual TLS the client certificate's common name is
// the identity (and a token, when the server also requires one, must carry the same name).
//
// Transport. gRPC sends call credentials only over channels it deems secure enough, and attaches an
// AuthMetadataProcessor only to secure server credentials. So: TLS when configured; otherwise a
// server that requires a token listens with local credentials (loopback peers only, plaintext on
// the wire), and clients send their token with call credentials whose minimum security level is
// NONE, which gRPC then sends over plaintext channels too. A server started with `insecure` beyond
// loopback cannot hold a processor: Identify() verifies the token of each call itself.
#ifndef DSARL_PROTO_RPC_SECURITY_H_
#define DSARL_PROTO_RPC_SECURITY_H_

#include <grpcpp/grpcpp.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dsarl::rpc {

// ---- secrets and tokens ----

// `bytes` bytes from OpenSSL's CSPRNG, as 2 * bytes lowercase hex characters. Aborts the process
// when the CSPRNG fails: nothing that needs an unguessable value can go on without it.
std::string RandomHex(int bytes);
// A fresh job secret: 256 random bits as 64 hex characters.
std::string NewJobSecret();
// True when `token` has the form of a job secret (64 hex characters).
bool IsJobSecret(absl::string_view token);
// True when `name` may name a worker: 1 to 64 of [A-Za-z0-9_-].
bool IsValidWorkerName(absl::string_view name);
// The token of worker `name` under `secret`. InvalidArgument when `secret` is not a job secret or
// `name` is not a valid worker name.
absl::StatusOr<std::string> WorkerToken(absl::string_view secret, absl::string_view name);
// The worker name in `token` when its MAC verifies under `secret` (constant-time compare);
// Unauthenticated otherwise (the message never echoes the token).
absl::StatusOr<std::string> VerifyWorkerToken(absl::string_view secret, absl::string_view token);
// The first line of file `path`, without surrounding whitespace. NotFound when it cannot be read,
// InvalidArgument when it is empty.
absl::StatusOr<std::string> ReadTokenFile(const std::string& path);
// The token from `path` when it is set, else from the file named by $DSARL_TOKEN_FILE, else
// $DSARL_TOKEN; "" when none is set. Errors: ReadTokenFile's.
absl::StatusOr<std::string> ResolveToken(const std::string& path);
// Writes `secret` and a newline to `path`, created or truncated with mode 0600. Internal naming
// the file on failure.
absl::Status WriteSecretFile(const std::string& path, absl::string_view secret);

// ---- servers ----

struct ServerSecurity {
  std::string job_secret;          // when set, every call must carry a worker token derived from it
  std::string tls_cert_file;       // PEM certificate chain of the server: with tls_key_file, TLS
  std::string tls_key_file;        // PEM private key of the server
  std::string tls_client_ca_file;  // PEM CA: clients must present a certificate it signed (mTLS)
  bool insecure = false;  // allow an address beyond loopback without TLS and authentication
};

// InvalidArgument unless `address` is "host:port", "[v6]:port" or "unix:PATH" with a non-empty
// host and a decimal port in [1, 65535] ([0, 65535] when `listening`: 0 picks a free port).
// gRPC itself takes an out-of-range port modulo 65536 and listens somewhere else.
absl::Status ValidateAddress(const std::string& address, bool listening);

// True when `address` (host:port, [v6]:port, unix:PATH) only accepts connections from this
// machine: 127.0.0.0/8, ::1, localhost, or a Unix socket.
bool IsLoopbackAddress(const std::string& address);

// The security of one server: its credentials and the identity of each call.
class ServerAuth {
 public:
  // Checks `security` for `address` and loads its PEM files. Errors: FailedPrecondition naming the
  // flags when `address` is not loopback and the server lacks TLS or authentication (a token or a
  // client CA) and `insecure` is not set; InvalidArgument for half a certificate/key pair, a client
  // CA without TLS, or a secret that is not a job secret; NotFound for a file that cannot be read.
  static absl::StatusOr<std::shared_ptr<const ServerAuth>> Create(ServerSecurity security,
                                                                  const std::string& address);

  // For ServerBuilder::AddListeningPort: TLS (client certificates required with a client CA),
  // else local credentials when a token is required and the address is loopback, else insecure.
  // The token processor is installed wherever the credentials take one.
  std::shared_ptr<grpc::ServerCredentials> Credentials() const;

  // Who made the call: the name in its worker token, else the common name of its verified client
  // certificate (mTLS), else ctx.peer() when the server requires neither. Unauthenticated when the
  // server requires a token or a certificate and the call has none that verifies (e.g. a call over
  // an in-process channel without call credentials).
  absl::StatusOr<std::string> Identify(const grpc::ServerContextBase& ctx) const;

  bool requires_token() const { return !security_.job_secret.empty(); }
  bool tls() const { return !cert_pem_.empty(); }

 private:
  ServerAuth() = default;
  ServerSecurity security_;
  bool loopback_ = false, unix_socket_ = false;
  std::string cert_pem_, key_pem_, client_ca_pem_;
};

// ---- clients ----

struct ClientSecurity {
  std::string token;          // sent on every call as "authorization: Bearer TOKEN"; "" sends none
  std::string tls_ca_file;    // verify the server's certificate against this PEM CA (TLS)
  std::string tls_cert_file;  // this client's PEM certificate chain, for mutual TLS
  std::string tls_key_file;   // and its private key
};

// A channel to `target` ("host:port") with `args`: TLS when tls_ca_file is set, else plaintext.
// Errors: NotFound for a file that cannot be read, InvalidArgument for half a certificate/key pair
// or a client certificate without tls_ca_file.
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ClientSecurity& security,
                                                           grpc::ChannelArguments args = {});
// Call credentials that carry `security.token` (nullptr when it is empty); gRPC sends them over
// plaintext channels too. Set them on each call with Attach.
std::shared_ptr<grpc::CallCredentials> MakeCallCredentials(const ClientSecurity& security);
// Sets `credentials` on `ctx` unless it is null.
void Attach(grpc::ClientContext* ctx, const std::shared_ptr<grpc::CallCredentials>& credentials);

}  // namespace dsarl::rpc

#endif  // DSARL_PROTO_RPC_SECURITY_H_
