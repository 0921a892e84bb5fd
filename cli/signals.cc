#include "cli/signals.h"

#include <unistd.h>

#include <csignal>
#include <cstdlib>

namespace dsarl::cli {
namespace {

std::atomic<bool> g_stop{false};  // the one process-wide flag a signal handler may touch

void OnSignal(int) {
  if (g_stop.exchange(true)) _exit(130);  // second signal: leave now
}

}  // namespace

std::atomic<bool>& StopFlagOnSignals() {
  struct sigaction sa {};
  sa.sa_handler = OnSignal;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGINT, &sa, nullptr);
  sigaction(SIGTERM, &sa, nullptr);
  return g_stop;
}

}  // namespace dsarl::cli
