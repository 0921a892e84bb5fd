// RocksDB's info log for a store: RocksDB's events go to DIR/LOG (the writer) and its warnings and
// errors to our log as well. It replaces RocksDB's own file logger, which aborts the process (a
// debug assertion, enabled in Debian's librocksdb) when it writes again after a failed write, as
// happens on a full disk; this one stops writing the file instead.
#ifndef DSARL_STORE_ROCKS_LOGGER_H_
#define DSARL_STORE_ROCKS_LOGGER_H_

#include <cstdarg>
#include <cstdio>
#include <mutex>
#include <string>

#include "rocksdb/env.h"

namespace dsarl::store {

class RocksLogger : public rocksdb::Logger {
 public:
  // Logs INFO and above to `path` (after renaming an existing file to `path`.old), or nowhere
  // when `path` is empty or cannot be opened; WARN and above also to our log.
  explicit RocksLogger(const std::string& path);
  ~RocksLogger() override;

  using rocksdb::Logger::Logv;
  void Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) override;
  void Flush() override;

 private:
  // The file stops growing at this size, until the next open. [bytes]
  static constexpr long kMaxBytes = 64L << 20;

  std::mutex mu_;
  FILE* file_ = nullptr;  // guarded by mu_; null once a write failed
  long written_ = 0;
};

}  // namespace dsarl::store

#endif  // DSARL_STORE_ROCKS_LOGGER_H_
