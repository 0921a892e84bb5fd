// CRC-32C (Castagnoli), as used by TFRecord/TensorBoard event files and by our weight transfer
// checksums. Software, table-driven: fast enough for checkpoints of the sizes we move on CPU.
#ifndef DSARL_BASE_CRC32C_H_
#define DSARL_BASE_CRC32C_H_

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace dsarl {

// CRC-32C of data[0, n), continuing from `crc` (0 to start).
uint32_t Crc32c(const void* data, size_t n, uint32_t crc = 0);
inline uint32_t Crc32c(std::string_view s, uint32_t crc = 0) {
  return Crc32c(s.data(), s.size(), crc);
}

// TFRecord's masked CRC: ((crc >> 15) | (crc << 17)) + 0xa282ead8.
inline uint32_t MaskCrc32c(uint32_t crc) { return ((crc >> 15) | (crc << 17)) + 0xa282ead8u; }

}  // namespace dsarl

#endif  // DSARL_BASE_CRC32C_H_
