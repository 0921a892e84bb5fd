#include "store/version.h"

#include "rocksdb/version.h"

namespace dsarl::store {

std::string RocksDbVersion() { return rocksdb::GetRocksVersionAsString(true); }

}  // namespace dsarl::store
