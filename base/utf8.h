// UTF-8 checks shared by everything that takes text from outside (plugins, model output, files):
// one definition of "valid" (no overlong forms, no surrogates, nothing above U+10FFFF).
#ifndef DSARL_BASE_UTF8_H_
#define DSARL_BASE_UTF8_H_

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"

namespace dsarl {

// Length of the valid UTF-8 sequence starting at s[i], or 0 when it is invalid; then `*bad_len`
// (when given) gets the length of the maximal invalid subpart to replace (at least 1).
size_t Utf8SequenceLength(absl::string_view s, size_t i, size_t* bad_len = nullptr);

bool IsValidUtf8(absl::string_view s);

// Replaces every invalid UTF-8 sequence with U+FFFD, one replacement per maximal invalid subpart.
// Valid input is returned unchanged. Use it before putting model text into logs or JSON.
std::string SanitizeUtf8(absl::string_view s);

// Appends the UTF-8 encoding of code point `cp` (at most U+10FFFF; the caller checks) to `out`.
void AppendUtf8(uint32_t cp, std::string* out);

}  // namespace dsarl

#endif  // DSARL_BASE_UTF8_H_
