// Version of the RocksDB library the store is linked against, for `dsarl doctor`.
#ifndef DSARL_STORE_VERSION_H_
#define DSARL_STORE_VERSION_H_

#include <string>

namespace dsarl::store {

// "MAJOR.MINOR.PATCH" of the linked RocksDB.
std::string RocksDbVersion();

}  // namespace dsarl::store

#endif  // DSARL_STORE_VERSION_H_
