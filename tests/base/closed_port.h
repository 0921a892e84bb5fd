// A loopback TCP port on which nothing listens, for as long as the object lives. A port found free
// and then closed can be taken by another process before the test uses it, and a fixed port (say 1)
// may be served on some machine; instead a socket is bound to a port the OS picks and never
// listens: no other socket can bind that port while it is held, and a connection to it is refused
// at once.
#ifndef DSARL_TESTS_BASE_CLOSED_PORT_H_
#define DSARL_TESTS_BASE_CLOSED_PORT_H_

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <string>

namespace dsarl::testing {

class ClosedPort {
 public:
  // `let_servers_listen`: the socket sets SO_REUSEPORT, so a server of the same user that sets it
  // too (gRPC servers do, by default on Linux) can listen on the port while it is held, and takes
  // every connection; when that server dies the port stays held, and refuses connections, instead
  // of being free for any process to take.
  explicit ClosedPort(bool let_servers_listen = false) {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    if (fd_ < 0) return;
    const int on = 1;
    if (let_servers_listen && setsockopt(fd_, SOL_SOCKET, SO_REUSEPORT, &on, sizeof(on)) != 0) {
      return;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = 0;
    socklen_t len = sizeof(a);
    if (bind(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a)) == 0 &&
        getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) == 0) {
      port_ = ntohs(a.sin_port);
    }
  }
  ~ClosedPort() {
    if (fd_ >= 0) close(fd_);
  }
  ClosedPort(const ClosedPort&) = delete;
  ClosedPort& operator=(const ClosedPort&) = delete;

  // The held port; 0 if the OS gave none (the test should assert port() > 0).
  int port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_ = -1;
  int port_ = 0;
};

}  // namespace dsarl::testing

#endif  // DSARL_TESTS_BASE_CLOSED_PORT_H_
