// Misbehaving reward plugins for plugin_test.cc, one per TEST_PLUGIN_MODE:
//   1 wrong ABI version   2 declines the host's version   3 score fails with a message
//   4 score throws        5 emits for a sample that does not exist
//   6 not thread-safe: score reports an error if it ever runs twice at once (the host must
//     serialize it), and otherwise emits the number of samples
#include <atomic>
#include <chrono>
#include <cstdio>
#include <stdexcept>
#include <thread>

#include "rewards/plugin_abi.h"

namespace {

int Create(const dsarl_reward_kv*, size_t, void** instance, char*, size_t) {
  *instance = nullptr;
  return 0;
}

void Destroy(void*) {}

std::atomic<int> in_flight{0};

int Score(void*, const dsarl_reward_task*, const dsarl_reward_sample*, size_t num_samples,
          const dsarl_reward_sink* sink, char* error, size_t error_size) {
  switch (TEST_PLUGIN_MODE) {
    case 3:
      std::snprintf(error, error_size, "model server exploded");
      return 3;
    case 4:
      throw std::runtime_error("boom");
    case 5:
      return sink->emit(sink->host, num_samples, "", 1, 1, nullptr) != 0 ? 0 : 1;
    case 6: {
      const bool overlapped = in_flight.fetch_add(1) != 0;
      std::this_thread::sleep_for(std::chrono::milliseconds(1));
      in_flight.fetch_sub(1);
      if (overlapped) {
        std::snprintf(error, error_size, "called concurrently");
        return 1;
      }
      for (size_t i = 0; i < num_samples; ++i) {
        sink->emit(sink->host, i, "", static_cast<double>(num_samples), 1, nullptr);
      }
      return 0;
    }
  }
  return 0;
}

const dsarl_reward_plugin kPlugin = {TEST_PLUGIN_MODE == 1 ? 99u : DSARL_REWARD_ABI_VERSION,
                                     0,
                                     "test_plugin",
                                     Create,
                                     Destroy,
                                     Score};

}  // namespace

extern "C" __attribute__((visibility("default"))) const dsarl_reward_plugin*
dsarl_reward_plugin_get(uint32_t) {
  return TEST_PLUGIN_MODE == 2 ? nullptr : &kPlugin;
}
