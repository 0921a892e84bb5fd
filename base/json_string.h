// Writing a JSON string literal, shared by the model's JSON writer and the store's exports so that
// every file we write escapes text the same way.
#ifndef DSARL_BASE_JSON_STRING_H_
#define DSARL_BASE_JSON_STRING_H_

#include <string>

#include "absl/strings/string_view.h"

namespace dsarl {

// Appends `s` quoted, with '"', '\\' and control characters escaped; invalid UTF-8 becomes
// U+FFFD (see SanitizeUtf8), so the output is always valid JSON.
void AppendJsonString(absl::string_view s, std::string* out);

}  // namespace dsarl

#endif  // DSARL_BASE_JSON_STRING_H_
