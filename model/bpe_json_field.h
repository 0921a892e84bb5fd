// Typed access to a tokenizer.json value that remembers where the value sits, so every refusal of
// the BPE loader names the file and the field: `tokenizer.json: model.merges[3]: expected an
// array of two strings`. Used by the bpe_*.cc loaders only.
#ifndef DSARL_MODEL_BPE_JSON_FIELD_H_
#define DSARL_MODEL_BPE_JSON_FIELD_H_

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "base/json.h"

namespace dsarl::model::bpe {

class JsonField {
 public:
  // `value` and `source` must outlive the field and every field derived from it.
  JsonField(const Json& value, absl::string_view source, std::string path)
      : value_(&value), source_(source), path_(std::move(path)) {}

  const Json& value() const { return *value_; }
  const std::string& path() const { return path_; }
  absl::string_view source() const { return source_; }

  // InvalidArgument "<source>: <path>: <what>" ("<source>: <what>" at the root).
  absl::Status Error(absl::string_view what) const;

  // Error unless the value is an object / an array.
  absl::Status RequireObject() const;
  absl::Status RequireArray() const;

  // Member `key`: nullopt when the value is not an object or has no such member. A member whose
  // value is null is returned (callers decide what null means).
  std::optional<JsonField> Find(absl::string_view key) const;
  // Member `key`; Error naming the path when this is not an object or `key` is missing.
  absl::StatusOr<JsonField> Get(absl::string_view key) const;
  // Element i of an array (i < value().array().size()).
  JsonField At(size_t i) const;
  // Member of an object by its position, path written as `path["key"]`.
  JsonField MemberAt(size_t i) const;

  // The value as a string / bool / integer in [min, max]; Error naming the path otherwise.
  absl::StatusOr<std::string> AsString() const;
  absl::StatusOr<bool> AsBool() const;
  absl::StatusOr<int64_t> AsInt(int64_t min, int64_t max) const;

  // Member `key` as a string (required).
  absl::StatusOr<std::string> GetString(absl::string_view key) const;
  // Member `key` as a bool; `fallback` when it is missing or null.
  absl::StatusOr<bool> GetBool(absl::string_view key, bool fallback) const;
  // The object's "type" member (required string), as Hugging Face tags its components.
  absl::StatusOr<std::string> Type() const { return GetString("type"); }
  // Error "<path>.type: unsupported \"<type>\"" for a component this loader does not implement.
  absl::Status UnsupportedType(absl::string_view type, absl::string_view why = "") const;

 private:
  const Json* value_;
  absl::string_view source_;
  std::string path_;
};

}  // namespace dsarl::model::bpe

#endif  // DSARL_MODEL_BPE_JSON_FIELD_H_
