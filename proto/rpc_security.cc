// RPC security (rpc_security.h): tokens by OpenSSL's HMAC and CSPRNG, gRPC's SSL and local
// credentials, and the token check as an AuthMetadataProcessor.
#include "proto/rpc_security.h"

#include <fcntl.h>
#include <grpc/grpc_security_constants.h>
#include <grpcpp/security/auth_metadata_processor.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <mutex>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "base/file.h"

namespace dsarl::rpc {
namespace {

// The auth-context property that names the caller once its token verified.
constexpr char kIdentityProperty[] = "dsarl_identity";
constexpr char kBearer[] = "Bearer ";
constexpr int kSecretBytes = 32;

std::string Hex(const unsigned char* data, size_t n) {
  static const char kDigits[] = "0123456789abcdef";
  std::string out(2 * n, '0');
  for (size_t i = 0; i < n; ++i) {
    out[2 * i] = kDigits[data[i] >> 4];
    out[2 * i + 1] = kDigits[data[i] & 15];
  }
  return out;
}

std::string Mac(absl::string_view secret, absl::string_view name) {
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
       reinterpret_cast<const unsigned char*>(name.data()), name.size(), mac, &len);
  return Hex(mac, len);
}

absl::StatusOr<std::string> ReadFile(const std::string& path, const char* what) {
  return ReadFileBounded(path, kMaxTextFileBytes, what);
}

// The token of a call's "authorization: Bearer TOKEN" metadata; Unauthenticated when absent.
template <typename Multimap>
absl::StatusOr<std::string> BearerToken(const Multimap& metadata) {
  auto it = metadata.find("authorization");
  if (it == metadata.end()) {
    return absl::UnauthenticatedError("no token: this server requires a worker token");
  }
  const std::string value(it->second.data(), it->second.size());
  if (!absl::StartsWith(value, kBearer)) {
    return absl::UnauthenticatedError("the authorization metadata is not 'Bearer TOKEN'");
  }
  return value.substr(sizeof(kBearer) - 1);
}

// Checks the worker token of every call on a secure connection and names the caller in the
// connection's auth context. gRPC shares that context among the calls of one connection, so a
// connection is bound to the first identity that verified on it: a call on it with another
// worker's token is refused rather than let the two identities mix.
class TokenProcessor : public grpc::AuthMetadataProcessor {
 public:
  explicit TokenProcessor(std::string secret) : secret_(std::move(secret)) {}
  bool IsBlocking() const override { return false; }

  grpc::Status Process(const InputMetadata& metadata, grpc::AuthContext* context,
                       OutputMetadata* consumed, OutputMetadata*) override {
    absl::StatusOr<std::string> token = BearerToken(metadata);
    if (!token.ok()) return Refuse(token.status());
    absl::StatusOr<std::string> name = VerifyWorkerToken(secret_, *token);
    if (!name.ok()) return Refuse(name.status());
    consumed->insert({"authorization", std::string(kBearer) + *token});  // keep it from handlers
    std::lock_guard<std::mutex> l(mu_);
    for (const auto& cn : context->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME)) {
      if (std::string(cn.data(), cn.size()) != *name) {
        return grpc::Status(grpc::StatusCode::PERMISSION_DENIED,
                            absl::StrCat("token of worker ", *name, " with the certificate of ",
                                         std::string(cn.data(), cn.size())));
      }
    }
    const auto bound = context->FindPropertyValues(kIdentityProperty);
    if (!bound.empty()) {
      if (std::string(bound[0].data(), bound[0].size()) == *name) return grpc::Status::OK;
      return grpc::Status(grpc::StatusCode::UNAUTHENTICATED,
                          "this connection is authenticated as another worker");
    }
    context->AddProperty(kIdentityProperty, *name);
    context->SetPeerIdentityPropertyName(kIdentityProperty);
    return grpc::Status::OK;
  }

 private:
  static grpc::Status Refuse(const absl::Status& s) {
    return grpc::Status(grpc::StatusCode::UNAUTHENTICATED, std::string(s.message()));
  }
  const std::string secret_;
  std::mutex mu_;
};

// Puts the token into each call's metadata.
class TokenPlugin : public grpc::MetadataCredentialsPlugin {
 public:
  explicit TokenPlugin(std::string token) : value_(std::string(kBearer) + token) {}
  bool IsBlocking() const override { return false; }
  const char* GetType() const override { return "dsarl-token"; }
  grpc::Status GetMetadata(grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
                           std::multimap<grpc::string, grpc::string>* metadata) override {
    metadata->insert({"authorization", value_});
    return grpc::Status::OK;
  }

 private:
  const std::string value_;
};

}  // namespace

std::string RandomHex(int bytes) {
  std::string raw(bytes, '\0');
  if (RAND_bytes(reinterpret_cast<unsigned char*>(raw.data()), bytes) != 1) {
    std::fprintf(stderr, "dsarl: the CSPRNG (OpenSSL RAND_bytes) failed\n");
    std::abort();
  }
  return Hex(reinterpret_cast<const unsigned char*>(raw.data()), raw.size());
}

std::string NewJobSecret() { return RandomHex(kSecretBytes); }

bool IsJobSecret(absl::string_view token) {
  if (token.size() != 2 * kSecretBytes) return false;
  for (char c : token) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

bool IsValidWorkerName(absl::string_view name) {
  if (name.empty() || name.size() > 64) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '-') return false;
  }
  return true;
}

absl::StatusOr<std::string> WorkerToken(absl::string_view secret, absl::string_view name) {
  if (!IsJobSecret(secret)) {
    return absl::InvalidArgumentError("not a job secret (make one with `dsarl token new`)");
  }
  if (!IsValidWorkerName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("worker name '", name, "' is not 1 to 64 of [A-Za-z0-9_-]"));
  }
  return absl::StrCat(name, ".", Mac(secret, name));
}

absl::StatusOr<std::string> VerifyWorkerToken(absl::string_view secret, absl::string_view token) {
  const size_t dot = token.rfind('.');
  if (dot == absl::string_view::npos || !IsValidWorkerName(token.substr(0, dot))) {
    return absl::UnauthenticatedError("not a worker token (NAME.MAC)");
  }
  const absl::string_view name = token.substr(0, dot), mac = token.substr(dot + 1);
  const std::string expected = Mac(secret, name);
  if (mac.size() != expected.size() ||
      CRYPTO_memcmp(mac.data(), expected.data(), expected.size()) != 0) {
    return absl::UnauthenticatedError(
        absl::StrCat("the token of worker ", name, " does not verify under this job's secret"));
  }
  return std::string(name);
}

absl::StatusOr<std::string> ReadTokenFile(const std::string& path) {
  absl::StatusOr<std::string> text = ReadFile(path, "token file");
  if (!text.ok()) return text.status();
  std::string line = text->substr(0, text->find('\n'));
  line = std::string(absl::StripAsciiWhitespace(line));
  if (line.empty())
    return absl::InvalidArgumentError(absl::StrCat("token file ", path, " is empty"));
  return line;
}

absl::StatusOr<std::string> ResolveToken(const std::string& path) {
  if (!path.empty()) return ReadTokenFile(path);
  if (const char* file = std::getenv("DSARL_TOKEN_FILE"); file != nullptr && *file != '\0') {
    return ReadTokenFile(file);
  }
  if (const char* token = std::getenv("DSARL_TOKEN"); token != nullptr) {
    return std::string(absl::StripAsciiWhitespace(token));
  }
  return std::string();
}

absl::Status WriteSecretFile(const std::string& path, absl::string_view secret) {
  const int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) return absl::InternalError(absl::StrCat("cannot write ", path));
  const std::string text = absl::StrCat(secret, "\n");
  const bool ok = fchmod(fd, 0600) == 0 &&
                  write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size());
  close(fd);
  if (!ok) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

absl::Status ValidateAddress(const std::string& address, bool listening) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("address '", address, "': ", why));
  };
  if (absl::StartsWith(address, "unix:")) {
    return address.size() > 5 ? absl::OkStatus() : bad("unix: needs a socket path");
  }
  std::string host, port;
  if (absl::StartsWith(address, "[")) {
    const size_t close = address.find(']');
    if (close == std::string::npos || address.substr(close + 1, 1) != ":") {
      return bad("expected [IPv6]:PORT");
    }
    host = address.substr(1, close - 1);
    port = address.substr(close + 2);
  } else {
    const size_t colon = address.rfind(':');
    if (colon == std::string::npos) return bad("expected HOST:PORT");
    host = address.substr(0, colon);
    port = address.substr(colon + 1);
    if (host.find(':') != std::string::npos)
      return bad("write an IPv6 host in brackets, [::1]:PORT");
  }
  if (host.empty()) return bad("the host is empty");
  int value = -1;
  const bool digits =
      !port.empty() && port.size() <= 5 &&
      std::all_of(port.begin(), port.end(), [](char c) { return absl::ascii_isdigit(c); });
  if (!digits || !absl::SimpleAtoi(port, &value) || value > 65535 || (value == 0 && !listening)) {
    return bad(absl::StrCat("the port '", port, "' is not in [", listening ? 0 : 1, ", 65535]"));
  }
  return absl::OkStatus();
}

bool IsLoopbackAddress(const std::string& address) {
  if (absl::StartsWith(address, "unix:")) return true;
  std::string host;
  if (absl::StartsWith(address, "[")) {
    host = address.substr(1, address.find(']') - 1);
  } else {
    host = address.substr(0, address.rfind(':'));
  }
  if (host == "localhost" || host == "::1") return true;
  if (!absl::StartsWith(host, "127.")) return false;
  int dots = 0;
  for (char c : host) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  return dots == 3;
}

absl::StatusOr<std::shared_ptr<const ServerAuth>> ServerAuth::Create(ServerSecurity s,
                                                                     const std::string& address) {
  if (absl::Status a = ValidateAddress(address, /*listening=*/true); !a.ok()) return a;
  std::shared_ptr<ServerAuth> auth(new ServerAuth());
  if (!s.job_secret.empty() && !IsJobSecret(s.job_secret)) {
    return absl::InvalidArgumentError(
        "the learner's token must be a job secret (`dsarl token new`), not a worker token");
  }
  if (s.tls_cert_file.empty() != s.tls_key_file.empty()) {
    return absl::InvalidArgumentError("TLS needs both --tls-cert and --tls-key");
  }
  if (!s.tls_client_ca_file.empty() && s.tls_cert_file.empty()) {
    return absl::InvalidArgumentError("--tls-client-ca needs TLS (--tls-cert and --tls-key)");
  }
  auth->loopback_ = IsLoopbackAddress(address);
  auth->unix_socket_ = absl::StartsWith(address, "unix:");
  const bool tls = !s.tls_cert_file.empty();
  const bool authenticated = !s.job_secret.empty() || !s.tls_client_ca_file.empty();
  if (!auth->loopback_ && !s.insecure && !(tls && authenticated)) {
    return absl::FailedPreconditionError(absl::StrCat(
        "refusing to listen on ", address,
        " (not loopback) without TLS (--tls-cert, --tls-key) and authentication (--token-file "
        "or --tls-client-ca); pass --insecure to accept anyone who reaches the port"));
  }
  if (tls) {
    auto cert = ReadFile(s.tls_cert_file, "TLS certificate");
    auto key = ReadFile(s.tls_key_file, "TLS key");
    if (!cert.ok()) return cert.status();
    if (!key.ok()) return key.status();
    auth->cert_pem_ = std::move(*cert);
    auth->key_pem_ = std::move(*key);
  }
  if (!s.tls_client_ca_file.empty()) {
    auto ca = ReadFile(s.tls_client_ca_file, "TLS client CA");
    if (!ca.ok()) return ca.status();
    auth->client_ca_pem_ = std::move(*ca);
  }
  auth->security_ = std::move(s);
  return std::shared_ptr<const ServerAuth>(std::move(auth));
}

std::shared_ptr<grpc::ServerCredentials> ServerAuth::Credentials() const {
  std::shared_ptr<grpc::ServerCredentials> creds;
  if (tls()) {
    grpc::SslServerCredentialsOptions o(
        client_ca_pem_.empty() ? GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE
                               : GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY);
    o.pem_root_certs = client_ca_pem_;
    o.pem_key_cert_pairs.push_back({key_pem_, cert_pem_});
    creds = grpc::SslServerCredentials(o);
  } else if (requires_token() && loopback_) {
    creds = grpc::experimental::LocalServerCredentials(unix_socket_ ? UDS : LOCAL_TCP);
  } else {
    return grpc::InsecureServerCredentials();  // takes no processor: Identify checks each call
  }
  if (requires_token()) {
    creds->SetAuthMetadataProcessor(std::make_shared<TokenProcessor>(security_.job_secret));
  }
  return creds;
}

absl::StatusOr<std::string> ServerAuth::Identify(const grpc::ServerContextBase& ctx) const {
  std::shared_ptr<const grpc::AuthContext> ac = ctx.auth_context();
  if (ac != nullptr) {
    const auto named = ac->FindPropertyValues(kIdentityProperty);
    if (!named.empty()) return std::string(named[0].data(), named[0].size());
  }
  if (requires_token()) {
    // No processor ran (insecure credentials, or an in-process channel): check this call.
    absl::StatusOr<std::string> token = BearerToken(ctx.client_metadata());
    if (!token.ok()) return token.status();
    return VerifyWorkerToken(security_.job_secret, *token);
  }
  if (!client_ca_pem_.empty()) {
    if (ac != nullptr && ac->IsPeerAuthenticated()) {
      const auto cn = ac->FindPropertyValues(GRPC_X509_CN_PROPERTY_NAME);
      if (!cn.empty()) return std::string(cn[0].data(), cn[0].size());
    }
    return absl::UnauthenticatedError("no verified client certificate");
  }
  return ctx.peer();
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const std::string& target,
                                                           const ClientSecurity& s,
                                                           grpc::ChannelArguments args) {
  // A connection is bound to one identity (TokenProcessor): two clients of this process with
  // different tokens must not share one through gRPC's global subchannel pool.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  if (s.tls_cert_file.empty() != s.tls_key_file.empty()) {
    return absl::InvalidArgumentError("a client certificate needs both --tls-cert and --tls-key");
  }
  if (s.tls_ca_file.empty()) {
    if (!s.tls_cert_file.empty()) {
      return absl::InvalidArgumentError("a client certificate needs TLS (--tls-ca)");
    }
    return grpc::CreateCustomChannel(target, grpc::InsecureChannelCredentials(), args);
  }
  grpc::SslCredentialsOptions o;
  auto ca = ReadFile(s.tls_ca_file, "TLS CA");
  if (!ca.ok()) return ca.status();
  o.pem_root_certs = std::move(*ca);
  if (!s.tls_cert_file.empty()) {
    auto cert = ReadFile(s.tls_cert_file, "TLS certificate");
    auto key = ReadFile(s.tls_key_file, "TLS key");
    if (!cert.ok()) return cert.status();
    if (!key.ok()) return key.status();
    o.pem_cert_chain = std::move(*cert);
    o.pem_private_key = std::move(*key);
  }
  return grpc::CreateCustomChannel(target, grpc::SslCredentials(o), args);
}

std::shared_ptr<grpc::CallCredentials> MakeCallCredentials(const ClientSecurity& s) {
  if (s.token.empty()) return nullptr;
  return grpc::experimental::MetadataCredentialsFromPlugin(std::make_unique<TokenPlugin>(s.token),
                                                           GRPC_SECURITY_NONE);
}

void Attach(grpc::ClientContext* ctx, const std::shared_ptr<grpc::CallCredentials>& credentials) {
  if (credentials != nullptr) ctx->set_credentials(credentials);
}

}  // namespace dsarl::rpc
