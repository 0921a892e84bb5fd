// Protobuf messages to and from base/json.h values, by reflection, in the shape `dsarl store
// export` writes and offline tools read back: rows for pandas and DuckDB rather than the proto3
// JSON mapping.
//
// Writing (ProtoToJson): every field is present (defaults included), so every row of a table has
// the same columns; names are the .proto field names (snake_case); 64-bit integers are JSON
// numbers, exact (not strings); float/double in the shortest form that reads back to the same
// value, NaN and infinities as null; bool as true/false; enums by name (an unknown number as the
// number); strings as they are; bytes as base64; repeated fields as arrays; maps as objects with
// keys sorted; unset message fields as null; oneof members only when set.
//
// Reading (JsonToProto) accepts that shape and what people write by hand: field names or their
// lowerCamelCase JSON names; integers as numbers or decimal strings; enums by name or number; null
// for "unset". Everything else is an error naming the field path ("prompt.tools[2].name: expected
// a string").
#ifndef DSARL_PROTO_JSON_PROTO_H_
#define DSARL_PROTO_JSON_PROTO_H_

#include <initializer_list>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "base/json.h"
#include "google/protobuf/message.h"

namespace dsarl {

// `message` as a JSON object; fields named in `skip` are left out (a caller may put its own
// members beside the rest with Json::Set).
Json ProtoToJson(const google::protobuf::Message& message,
                 std::initializer_list<absl::string_view> skip = {});

struct JsonToProtoOptions {
  bool ignore_unknown_fields = false;  // else an unknown member is an error
};

// Fills `message` (cleared first) from the object `json`. InvalidArgument naming the field path for
// a member of the wrong type, an out-of-range integer, an unknown enum name, invalid base64, or
// (unless ignored) an unknown member; `message` is then partly filled.
absl::Status JsonToProto(const Json& json, google::protobuf::Message* message,
                         const JsonToProtoOptions& options = {});

}  // namespace dsarl

#endif  // DSARL_PROTO_JSON_PROTO_H_
