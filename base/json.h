// The project's one JSON value, reader and writer (RFC 8259), for every file and message dsarl
// reads or writes as JSON: safetensors headers, Hugging Face config.json, SFT data, metrics,
// learner state, store exports. Why our own rather than nlohmann-json (Debian's usual choice): what
// comes from outside must be validated, not trusted, and nlohmann accepts duplicate keys silently
// and reports no line and column; a strict reader of our own is a few hundred lines.
//
// Strict means: no comments, no trailing commas, no leading zeros, no NaN/Infinity, no duplicate
// object keys, strings must be valid UTF-8 with control characters escaped, \u escapes must pair
// surrogates correctly, nothing but whitespace after the value, and nesting at most kMaxDepth deep.
// Objects keep their keys in document order.
#ifndef DSARL_BASE_JSON_H_
#define DSARL_BASE_JSON_H_

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace dsarl {

class JsonParser;

class Json {
 public:
  enum class Type { kNull, kBool, kNumber, kString, kArray, kObject };
  static constexpr int kMaxDepth = 256;

  Json() = default;  // null
  static Json Bool(bool value);
  static Json Number(double value);
  static Json Int(int64_t value);    // exact: is_integer() is true
  static Json Uint(uint64_t value);  // exact, also above INT64_MAX: is_unsigned() is true
  // A float: written in the shortest form that reads back to the same float (0.1f as 0.1, not
  // 0.10000000149011612); number_value() is its exact double value.
  static Json Float(float value);
  static Json String(std::string value);
  static Json Array(std::vector<Json> items = {});
  static Json Object();

  Type type() const { return type_; }
  bool is_null() const { return type_ == Type::kNull; }
  bool is_bool() const { return type_ == Type::kBool; }
  bool is_number() const { return type_ == Type::kNumber; }
  bool is_string() const { return type_ == Type::kString; }
  bool is_array() const { return type_ == Type::kArray; }
  bool is_object() const { return type_ == Type::kObject; }
  // A number written without fraction or exponent that fits in int64 (or made by Int()).
  bool is_integer() const { return type_ == Type::kNumber && is_integer_; }
  // A number written without fraction or exponent in (INT64_MAX, UINT64_MAX] (or made by Uint()
  // with such a value): exact in uint_value(), not in int_value().
  bool is_unsigned() const { return type_ == Type::kNumber && is_unsigned_; }

  // Accessors return the value for the matching type and a zero/empty value otherwise.
  bool bool_value() const { return type_ == Type::kBool && bool_; }
  double number_value() const { return type_ == Type::kNumber ? number_ : 0.0; }
  int64_t int_value() const { return is_integer() ? int_ : 0; }  // exact, no rounding
  // Exact for a non-negative is_integer() or an is_unsigned() number; 0 otherwise.
  uint64_t uint_value() const {
    return is_unsigned() ? uint_ : (is_integer() && int_ >= 0 ? uint64_t(int_) : 0);
  }
  const std::string& string_value() const { return string_; }
  const std::vector<Json>& array() const { return array_; }
  const std::vector<std::pair<std::string, Json>>& object() const { return object_; }

  // The member named `key` of an object, or nullptr (also for non-objects).
  const Json* Find(absl::string_view key) const;
  // Sets member `key` of an object, replacing an existing one in place, else appending. A null
  // value becomes an empty object first; no effect on other types.
  void Set(std::string key, Json value);
  // Appends to an array. A null value becomes an empty array first; no effect on other types.
  void Push(Json value);

  // Serializes. indent < 0: compact, one line; otherwise pretty, `indent` spaces per level.
  // Numbers: integers exactly, others in the shortest form that reads back bit-exactly; NaN and
  // infinities (which JSON cannot hold) are written as null. Strings are escaped; invalid UTF-8
  // bytes become U+FFFD so the output is always valid JSON. Never fails.
  std::string Dump(int indent = -1) const;

  bool operator==(const Json& other) const;

 private:
  friend class JsonParser;
  void DumpTo(std::string* out, int indent, int depth) const;

  Type type_ = Type::kNull;
  bool bool_ = false;
  bool is_integer_ = false;
  bool is_unsigned_ = false;
  bool is_float_ = false;
  double number_ = 0.0;
  int64_t int_ = 0;
  uint64_t uint_ = 0;
  std::string string_;
  std::vector<Json> array_;
  std::vector<std::pair<std::string, Json>> object_;
};

// Parses one JSON document. Returns InvalidArgument for anything the strict grammar above refuses,
// with a message "line L, column C (byte B): what was expected".
absl::StatusOr<Json> ParseJson(absl::string_view text);

}  // namespace dsarl

#endif  // DSARL_BASE_JSON_H_
