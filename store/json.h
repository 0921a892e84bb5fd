// Protobuf messages as JSON objects for `dsarl store export`, shaped for pandas and DuckDB rather
// than for the proto3 JSON mapping: every field is present (defaults included), so every row of a
// table has the same columns; 64-bit integers are JSON numbers, not strings; names are the .proto
// field names (snake_case).
//
// Values: integers as numbers; float/double in the shortest form that reads back to the same
// value, NaN and infinities as null; bool as true/false; enums by name (an unknown number as the
// number); strings escaped; bytes as base64; repeated fields as arrays; maps as objects with keys
// sorted; unset message fields as null; oneof members only when set.
#ifndef DSARL_STORE_JSON_H_
#define DSARL_STORE_JSON_H_

#include <initializer_list>
#include <string>

#include "absl/strings/string_view.h"
#include "google/protobuf/message.h"

namespace dsarl::store {

// Appends the members of `message` ("name":value,...) to `*out`, without the braces, so a caller
// can put its own members beside them. `*first` says whether nothing has been written inside the
// object yet (no comma needed) and is updated. Fields named in `skip` are left out.
void AppendJsonMembers(const google::protobuf::Message& message, std::string* out, bool* first,
                       std::initializer_list<absl::string_view> skip = {});

// `message` as one JSON object, on one line.
std::string ToJson(const google::protobuf::Message& message);

}  // namespace dsarl::store

#endif  // DSARL_STORE_JSON_H_
