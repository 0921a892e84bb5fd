// A job's own certificate authority and certificates for TLS and mutual TLS between the learner
// and its workers (rpc_security.h), made with OpenSSL's C API so that `dsarl certs make` needs no
// openssl command line. Keys are ECDSA P-256, signatures SHA-256.
#ifndef DSARL_PROTO_RPC_CERTS_H_
#define DSARL_PROTO_RPC_CERTS_H_

#include <string>
#include <vector>

#include "absl/status/status.h"

namespace dsarl::rpc {

struct CertRequest {
  // Names (DNS) and addresses (IP) the server is reached at; they become its subjectAltNames, and a
  // client checks the address it dials against them. At least one.
  std::vector<std::string> hosts;
  // Client certificates to make, one per worker; the name is the certificate's common name, which
  // the learner takes as the worker's identity. Each must be a valid worker name.
  std::vector<std::string> clients;
  int days = 365;
};

// Writes into `dir` (created if missing): ca.pem and ca.key (the job's CA), server.pem and
// server.key (signed by it, for `hosts`), and NAME.pem and NAME.key per client. Keys get mode
// 0600. Existing files are overwritten. InvalidArgument for no host or a bad client name;
// Internal naming the step when OpenSSL or the file system fails.
absl::Status MakeCertificates(const std::string& dir, const CertRequest& request);

}  // namespace dsarl::rpc

#endif  // DSARL_PROTO_RPC_CERTS_H_
