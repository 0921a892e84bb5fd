// A RocksDB info logger that survives a full disk (see rocks_logger.h).
#include "store/rocks_logger.h"

#include <sys/time.h>

#include <cstdio>
#include <ctime>

#include "base/log.h"

namespace dsarl::store {

RocksLogger::RocksLogger(const std::string& path)
    : rocksdb::Logger(rocksdb::InfoLogLevel::INFO_LEVEL) {
  if (path.empty()) return;
  std::rename(path.c_str(), (path + ".old").c_str());  // may fail: there may be no previous LOG
  file_ = std::fopen(path.c_str(), "w");
}

RocksLogger::~RocksLogger() {
  if (file_ != nullptr) std::fclose(file_);
}

void RocksLogger::Logv(const rocksdb::InfoLogLevel level, const char* format, va_list ap) {
  const bool header = level == rocksdb::InfoLogLevel::HEADER_LEVEL;  // options dump at open
  if (!header && level < GetInfoLogLevel()) return;
  char message[2048];
  vsnprintf(message, sizeof(message), format, ap);
  if (!header && level >= rocksdb::InfoLogLevel::ERROR_LEVEL) {
    DSARL_LOG_ERROR("rocksdb: {}", message);
  } else if (level == rocksdb::InfoLogLevel::WARN_LEVEL) {
    DSARL_LOG_WARN("rocksdb: {}", message);
  }
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ == nullptr || written_ > kMaxBytes) return;
  timeval now;
  gettimeofday(&now, nullptr);
  tm t;
  localtime_r(&now.tv_sec, &t);
  const int n = std::fprintf(file_, "%04d/%02d/%02d-%02d:%02d:%02d.%06ld %s\n", t.tm_year + 1900,
                             t.tm_mon + 1, t.tm_mday, t.tm_hour, t.tm_min, t.tm_sec,
                             static_cast<long>(now.tv_usec), message);
  if (n < 0 || std::fflush(file_) != 0) {
    // Out of space (or another I/O error): stop logging to the file rather than fail anything.
    std::fclose(file_);
    file_ = nullptr;
    return;
  }
  written_ += n;
}

void RocksLogger::Flush() {
  std::lock_guard<std::mutex> lock(mu_);
  if (file_ != nullptr && std::fflush(file_) != 0) {
    std::fclose(file_);
    file_ = nullptr;
  }
}

}  // namespace dsarl::store
