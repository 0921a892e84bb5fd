// Certificates of a job (rpc_certs.h) by OpenSSL: a self-signed CA, then leaf certificates it
// signs, each written as PEM.
#include "proto/rpc_certs.h"

#include <arpa/inet.h>
#include <openssl/bio.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/rand.h>
#include <openssl/x509.h>
#include <openssl/x509v3.h>

#include <filesystem>
#include <fstream>
#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "proto/rpc_security.h"

namespace dsarl::rpc {
namespace {

struct KeyFree {
  void operator()(EVP_PKEY* k) const { EVP_PKEY_free(k); }
};
struct CertFree {
  void operator()(X509* x) const { X509_free(x); }
};
using Key = std::unique_ptr<EVP_PKEY, KeyFree>;
using Cert = std::unique_ptr<X509, CertFree>;

absl::Status Fail(const std::string& step) {
  return absl::InternalError(absl::StrCat("making certificates: ", step, " failed"));
}

bool AddExt(X509* cert, X509* issuer, int nid, const std::string& value) {
  X509V3_CTX ctx;
  X509V3_set_ctx(&ctx, issuer, cert, nullptr, nullptr, 0);
  X509_EXTENSION* ext = X509V3_EXT_conf_nid(nullptr, &ctx, nid, value.c_str());
  if (ext == nullptr) return false;
  const bool ok = X509_add_ext(cert, ext, -1) == 1;
  X509_EXTENSION_free(ext);
  return ok;
}

// "DNS:name" or "IP:address" for one host.
std::string AltName(const std::string& host) {
  unsigned char buf[16];
  const bool ip =
      inet_pton(AF_INET, host.c_str(), buf) == 1 || inet_pton(AF_INET6, host.c_str(), buf) == 1;
  return absl::StrCat(ip ? "IP:" : "DNS:", host);
}

// A certificate for `key` named `cn`, signed by `issuer`/`issuer_key` (self-signed when null),
// with `exts` (nid, value) added after the key identifiers.
absl::StatusOr<Cert> Sign(EVP_PKEY* key, const std::string& cn, X509* issuer, EVP_PKEY* issuer_key,
                          const std::vector<std::pair<int, std::string>>& exts, int days) {
  Cert x(X509_new());
  unsigned char serial[16];
  if (x == nullptr || RAND_bytes(serial, sizeof(serial)) != 1) return Fail("a new certificate");
  serial[0] &= 0x7f;  // positive
  BIGNUM* bn = BN_bin2bn(serial, sizeof(serial), nullptr);
  const bool serial_ok = bn != nullptr && BN_to_ASN1_INTEGER(bn, X509_get_serialNumber(x.get()));
  BN_free(bn);
  X509_NAME* name = X509_get_subject_name(x.get());
  if (!serial_ok || X509_set_version(x.get(), 2) != 1 ||
      X509_gmtime_adj(X509_getm_notBefore(x.get()), -3600) == nullptr ||
      X509_gmtime_adj(X509_getm_notAfter(x.get()), int64_t{days} * 86400) == nullptr ||
      X509_set_pubkey(x.get(), key) != 1 ||
      X509_NAME_add_entry_by_txt(name, "CN", MBSTRING_ASC,
                                 reinterpret_cast<const unsigned char*>(cn.c_str()), -1, -1,
                                 0) != 1 ||
      X509_set_issuer_name(x.get(), issuer ? X509_get_subject_name(issuer) : name) != 1) {
    return Fail(absl::StrCat("the fields of certificate ", cn));
  }
  X509* signer = issuer ? issuer : x.get();
  if (!AddExt(x.get(), signer, NID_subject_key_identifier, "hash") ||
      !AddExt(x.get(), signer, NID_authority_key_identifier, "keyid:always")) {
    return Fail(absl::StrCat("the key identifiers of ", cn));
  }
  for (const auto& [nid, value] : exts) {
    if (!AddExt(x.get(), signer, nid, value)) return Fail(absl::StrCat(value, " of ", cn));
  }
  if (X509_sign(x.get(), issuer_key ? issuer_key : key, EVP_sha256()) <= 0) {
    return Fail(absl::StrCat("signing ", cn));
  }
  return x;
}

absl::Status WritePem(const std::string& path, EVP_PKEY* key, X509* cert) {
  BIO* bio = BIO_new(BIO_s_mem());
  if (bio == nullptr) return Fail("a memory BIO");
  const bool ok = key ? PEM_write_bio_PrivateKey(bio, key, nullptr, nullptr, 0, nullptr, nullptr)
                      : PEM_write_bio_X509(bio, cert);
  char* data = nullptr;
  const long n = BIO_get_mem_data(bio, &data);
  std::string pem(data, n > 0 ? n : 0);
  BIO_free(bio);
  if (!ok) return Fail(absl::StrCat("encoding ", path));
  if (key) return WriteSecretFile(path, absl::string_view(pem).substr(0, pem.size() - 1));
  std::ofstream out(path, std::ios::trunc);
  out << pem;
  return out.good() ? absl::OkStatus() : absl::InternalError(absl::StrCat("cannot write ", path));
}

// A fresh key and a leaf certificate for it under the CA, written as DIR/BASE.pem and .key.
absl::Status Leaf(const std::string& dir, const std::string& base, const std::string& cn, X509* ca,
                  EVP_PKEY* ca_key, std::vector<std::pair<int, std::string>> exts, int days) {
  Key key(EVP_EC_gen("P-256"));
  if (key == nullptr) return Fail("an EC key");
  exts.insert(exts.begin(), {{NID_basic_constraints, "critical,CA:FALSE"},
                             {NID_key_usage, "critical,digitalSignature,keyEncipherment"}});
  absl::StatusOr<Cert> cert = Sign(key.get(), cn, ca, ca_key, exts, days);
  if (!cert.ok()) return cert.status();
  if (auto s = WritePem(absl::StrCat(dir, "/", base, ".pem"), nullptr, cert->get()); !s.ok()) {
    return s;
  }
  return WritePem(absl::StrCat(dir, "/", base, ".key"), key.get(), nullptr);
}

}  // namespace

absl::Status MakeCertificates(const std::string& dir, const CertRequest& r) {
  if (r.hosts.empty()) return absl::InvalidArgumentError("certificates need at least one host");
  for (const std::string& c : r.clients) {
    if (!IsValidWorkerName(c) || c == "ca" || c == "server") {
      return absl::InvalidArgumentError(
          absl::StrCat("client name '", c, "' is not a worker name (1 to 64 of [A-Za-z0-9_-])"));
    }
  }
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) return absl::InternalError(absl::StrCat("cannot create ", dir, ": ", ec.message()));
  Key ca_key(EVP_EC_gen("P-256"));
  if (ca_key == nullptr) return Fail("the CA key");
  absl::StatusOr<Cert> ca = Sign(ca_key.get(), "dsarl job CA", nullptr, nullptr,
                                 {{NID_basic_constraints, "critical,CA:TRUE"},
                                  {NID_key_usage, "critical,keyCertSign,cRLSign"}},
                                 r.days);
  if (!ca.ok()) return ca.status();
  if (auto s = WritePem(dir + "/ca.pem", nullptr, ca->get()); !s.ok()) return s;
  if (auto s = WritePem(dir + "/ca.key", ca_key.get(), nullptr); !s.ok()) return s;
  std::vector<std::string> alt;
  for (const std::string& h : r.hosts) alt.push_back(AltName(h));
  if (auto s =
          Leaf(dir, "server", r.hosts[0], ca->get(), ca_key.get(),
               {{NID_ext_key_usage, "serverAuth"}, {NID_subject_alt_name, absl::StrJoin(alt, ",")}},
               r.days);
      !s.ok()) {
    return s;
  }
  for (const std::string& c : r.clients) {
    if (auto s =
            Leaf(dir, c, c, ca->get(), ca_key.get(), {{NID_ext_key_usage, "clientAuth"}}, r.days);
        !s.ok()) {
      return s;
    }
  }
  return absl::OkStatus();
}

}  // namespace dsarl::rpc
