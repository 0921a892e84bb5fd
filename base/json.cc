// Recursive-descent JSON reader with positions in every error, and a writer that always produces
// valid JSON. Depth is bounded so hostile input cannot overflow the stack.
#include "base/json.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>
#include <system_error>
#include <unordered_set>

#include "absl/strings/str_cat.h"
#include "base/json_string.h"
#include "base/status_macros.h"
#include "base/utf8.h"

namespace dsarl {
namespace {}  // namespace

// A friend of Json, so objects are built by appending, with duplicates caught by a hash set
// (Json::Set would make a header of n tensors cost n^2).
class JsonParser {
 public:
  explicit JsonParser(absl::string_view text) : text_(text) {}

  absl::Status ParseDocument(Json* out) {
    SkipSpace();
    RETURN_IF_ERROR(ParseValue(0, out));
    SkipSpace();
    if (pos_ < text_.size()) return Error("unexpected text after the JSON value");
    return absl::OkStatus();
  }

 private:
  absl::Status Error(absl::string_view what) const {
    size_t line = 1, column = 1;
    for (size_t i = 0; i < pos_ && i < text_.size(); ++i) {
      if (text_[i] == '\n') {
        ++line;
        column = 1;
      } else {
        ++column;
      }
    }
    return absl::InvalidArgumentError(
        absl::StrCat("JSON line ", line, ", column ", column, " (byte ", pos_, "): ", what));
  }

  void SkipSpace() {
    while (pos_ < text_.size() && (text_[pos_] == ' ' || text_[pos_] == '\t' ||
                                   text_[pos_] == '\n' || text_[pos_] == '\r')) {
      ++pos_;
    }
  }

  bool Consume(absl::string_view literal) {
    if (text_.substr(pos_, literal.size()) != literal) return false;
    pos_ += literal.size();
    return true;
  }

  absl::Status ParseValue(int depth, Json* out) {
    if (depth > Json::kMaxDepth) return Error("nesting deeper than 256 levels");
    if (pos_ >= text_.size()) return Error("expected a value, found the end of the text");
    const char c = text_[pos_];
    if (c == '{') return ParseObject(depth, out);
    if (c == '[') return ParseArray(depth, out);
    if (c == '"') {
      std::string s;
      RETURN_IF_ERROR(ParseString(&s));
      *out = Json::String(std::move(s));
      return absl::OkStatus();
    }
    if (c == '-' || (c >= '0' && c <= '9')) return ParseNumber(out);
    if (Consume("true")) {
      *out = Json::Bool(true);
    } else if (Consume("false")) {
      *out = Json::Bool(false);
    } else if (Consume("null")) {
      *out = Json();
    } else {
      return Error(absl::StrCat("expected a value, found '", std::string(1, c), "'"));
    }
    return absl::OkStatus();
  }

  absl::Status ParseObject(int depth, Json* out) {
    ++pos_;  // '{'
    *out = Json::Object();
    SkipSpace();
    if (Consume("}")) return absl::OkStatus();
    std::unordered_set<std::string> keys;
    while (true) {
      SkipSpace();
      if (pos_ >= text_.size() || text_[pos_] != '"') return Error("expected a string key");
      const size_t key_pos = pos_;
      std::string key;
      RETURN_IF_ERROR(ParseString(&key));
      if (!keys.insert(key).second) {
        pos_ = key_pos;
        return Error(absl::StrCat("duplicate key \"", key, "\""));
      }
      SkipSpace();
      if (!Consume(":")) return Error("expected ':' after the key");
      SkipSpace();
      Json value;
      RETURN_IF_ERROR(ParseValue(depth + 1, &value));
      out->object_.emplace_back(std::move(key), std::move(value));
      SkipSpace();
      if (Consume("}")) return absl::OkStatus();
      if (!Consume(",")) return Error("expected ',' or '}' in object");
    }
  }

  absl::Status ParseArray(int depth, Json* out) {
    ++pos_;  // '['
    *out = Json::Array();
    SkipSpace();
    if (Consume("]")) return absl::OkStatus();
    while (true) {
      SkipSpace();
      Json value;
      RETURN_IF_ERROR(ParseValue(depth + 1, &value));
      out->Push(std::move(value));
      SkipSpace();
      if (Consume("]")) return absl::OkStatus();
      if (!Consume(",")) return Error("expected ',' or ']' in array");
    }
  }

  absl::Status ParseHex4(uint32_t* value) {
    *value = 0;
    for (int i = 0; i < 4; ++i, ++pos_) {
      if (pos_ >= text_.size()) return Error("truncated \\u escape");
      const char c = text_[pos_];
      int digit;
      if (c >= '0' && c <= '9') {
        digit = c - '0';
      } else if (c >= 'a' && c <= 'f') {
        digit = c - 'a' + 10;
      } else if (c >= 'A' && c <= 'F') {
        digit = c - 'A' + 10;
      } else {
        return Error("invalid hex digit in \\u escape");
      }
      *value = *value * 16 + digit;
    }
    return absl::OkStatus();
  }

  absl::Status ParseEscape(std::string* out) {
    if (pos_ >= text_.size()) return Error("unterminated string");
    const char c = text_[pos_++];
    switch (c) {
      case '"':
        out->push_back('"');
        return absl::OkStatus();
      case '\\':
        out->push_back('\\');
        return absl::OkStatus();
      case '/':
        out->push_back('/');
        return absl::OkStatus();
      case 'b':
        out->push_back('\b');
        return absl::OkStatus();
      case 'f':
        out->push_back('\f');
        return absl::OkStatus();
      case 'n':
        out->push_back('\n');
        return absl::OkStatus();
      case 'r':
        out->push_back('\r');
        return absl::OkStatus();
      case 't':
        out->push_back('\t');
        return absl::OkStatus();
      case 'u':
        break;
      default:
        --pos_;
        return Error(absl::StrCat("invalid escape '\\", std::string(1, c), "'"));
    }
    uint32_t cp;
    RETURN_IF_ERROR(ParseHex4(&cp));
    if (cp >= 0xDC00 && cp <= 0xDFFF) return Error("unpaired low surrogate in \\u escape");
    if (cp >= 0xD800 && cp <= 0xDBFF) {
      uint32_t low;
      if (!Consume("\\u")) return Error("high surrogate not followed by a \\u low surrogate");
      RETURN_IF_ERROR(ParseHex4(&low));
      if (low < 0xDC00 || low > 0xDFFF) return Error("high surrogate not followed by a low one");
      cp = 0x10000 + ((cp - 0xD800) << 10) + (low - 0xDC00);
    }
    AppendUtf8(cp, out);
    return absl::OkStatus();
  }

  absl::Status ParseString(std::string* out) {
    ++pos_;  // '"'
    while (true) {
      if (pos_ >= text_.size()) return Error("unterminated string");
      const unsigned char c = static_cast<unsigned char>(text_[pos_]);
      if (c == '"') {
        ++pos_;
        return absl::OkStatus();
      }
      if (c == '\\') {
        ++pos_;
        RETURN_IF_ERROR(ParseEscape(out));
      } else if (c < 0x20) {
        return Error("unescaped control character in string");
      } else if (c < 0x80) {
        out->push_back(static_cast<char>(c));
        ++pos_;
      } else {
        const size_t len = Utf8SequenceLength(text_, pos_);
        if (len == 0) return Error("invalid UTF-8 in string");
        out->append(text_.data() + pos_, len);
        pos_ += len;
      }
    }
  }

  absl::Status ParseNumber(Json* out) {
    const size_t start = pos_;
    const auto digits = [&] {
      const size_t from = pos_;
      while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') ++pos_;
      return pos_ - from;
    };
    Consume("-");
    if (Consume("0")) {
      if (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9') {
        return Error("leading zero in number");
      }
    } else if (digits() == 0) {
      return Error("expected digits in number");
    }
    bool integer = true;
    if (Consume(".")) {
      integer = false;
      if (digits() == 0) return Error("expected digits after '.'");
    }
    if (pos_ < text_.size() && (text_[pos_] == 'e' || text_[pos_] == 'E')) {
      integer = false;
      ++pos_;
      if (!Consume("+")) Consume("-");
      if (digits() == 0) return Error("expected digits in exponent");
    }
    const char* first = text_.data() + start;
    const char* last = text_.data() + pos_;
    if (integer) {
      int64_t value;
      const auto [ptr, ec] = std::from_chars(first, last, value);
      if (ec == std::errc() && ptr == last) {
        *out = Json::Int(value);
        return absl::OkStatus();
      }
      uint64_t big;  // above INT64_MAX: ids and seeds are uint64
      const auto [uptr, uec] = std::from_chars(first, last, big);
      if (uec == std::errc() && uptr == last) {
        *out = Json::Uint(big);
        return absl::OkStatus();
      }
    }
    double value;
    const auto [ptr, ec] = std::from_chars(first, last, value);
    if (ec != std::errc() || ptr != last || !std::isfinite(value)) {
      pos_ = start;
      return Error("number out of range");
    }
    *out = Json::Number(value);
    return absl::OkStatus();
  }

  absl::string_view text_;
  size_t pos_ = 0;
};

namespace {

void NewLine(int indent, int depth, std::string* out) {
  if (indent < 0) return;
  out->push_back('\n');
  out->append(static_cast<size_t>(indent) * depth, ' ');
}

}  // namespace

Json Json::Bool(bool value) {
  Json j;
  j.type_ = Type::kBool;
  j.bool_ = value;
  return j;
}

Json Json::Number(double value) {
  Json j;
  j.type_ = Type::kNumber;
  j.number_ = value;
  return j;
}

Json Json::Int(int64_t value) {
  Json j = Number(static_cast<double>(value));
  j.is_integer_ = true;
  j.int_ = value;
  return j;
}

Json Json::Uint(uint64_t value) {
  if (value <= uint64_t(std::numeric_limits<int64_t>::max())) return Int(int64_t(value));
  Json j = Number(static_cast<double>(value));
  j.is_unsigned_ = true;
  j.uint_ = value;
  return j;
}

Json Json::Float(float value) {
  Json j = Number(value);
  j.is_float_ = true;
  return j;
}

Json Json::String(std::string value) {
  Json j;
  j.type_ = Type::kString;
  j.string_ = std::move(value);
  return j;
}

Json Json::Array(std::vector<Json> items) {
  Json j;
  j.type_ = Type::kArray;
  j.array_ = std::move(items);
  return j;
}

Json Json::Object() {
  Json j;
  j.type_ = Type::kObject;
  return j;
}

const Json* Json::Find(absl::string_view key) const {
  for (const auto& [k, v] : object_) {
    if (k == key) return &v;
  }
  return nullptr;
}

void Json::Set(std::string key, Json value) {
  if (type_ == Type::kNull) type_ = Type::kObject;
  if (type_ != Type::kObject) return;
  for (auto& [k, v] : object_) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  object_.emplace_back(std::move(key), std::move(value));
}

void Json::Push(Json value) {
  if (type_ == Type::kNull) type_ = Type::kArray;
  if (type_ == Type::kArray) array_.push_back(std::move(value));
}

bool Json::operator==(const Json& other) const {
  if (type_ != other.type_) return false;
  switch (type_) {
    case Type::kNull:
      return true;
    case Type::kBool:
      return bool_ == other.bool_;
    case Type::kNumber:
      if (is_integer_ && other.is_integer_) return int_ == other.int_;
      if (is_unsigned_ && other.is_unsigned_) return uint_ == other.uint_;
      return number_ == other.number_;
    case Type::kString:
      return string_ == other.string_;
    case Type::kArray:
      return array_ == other.array_;
    case Type::kObject:
      if (object_.size() != other.object_.size()) return false;
      for (const auto& [k, v] : object_) {
        const Json* o = other.Find(k);
        if (o == nullptr || !(*o == v)) return false;
      }
      return true;
  }
  return false;
}

std::string Json::Dump(int indent) const {
  std::string out;
  DumpTo(&out, indent, 0);
  return out;
}

void Json::DumpTo(std::string* out, int indent, int depth) const {
  switch (type_) {
    case Type::kNull:
      out->append("null");
      return;
    case Type::kBool:
      out->append(bool_ ? "true" : "false");
      return;
    case Type::kNumber: {
      if (is_integer_) {
        absl::StrAppend(out, int_);
      } else if (is_unsigned_) {
        absl::StrAppend(out, uint_);
      } else if (!std::isfinite(number_)) {
        out->append("null");
      } else if (number_ == 0 && std::signbit(number_)) {
        out->append("-0.0");  // "-0" would read back as the integer 0, losing the sign
      } else {
        char buf[64];
        const auto [ptr, ec] = is_float_ ? std::to_chars(buf, buf + sizeof(buf), float(number_))
                                         : std::to_chars(buf, buf + sizeof(buf), number_);
        const size_t n = ec == std::errc() ? ptr - buf : 0;
        out->append(buf, n);
        // An integral value that is not an integer ("1.0", as Python writes a float) keeps its
        // point, so it reads back as a number that is not an integer: strict readers (Hugging
        // Face configs) tell 1 from 1.0.
        if (std::find_if(buf, buf + n, [](char ch) { return ch == '.' || ch == 'e'; }) == buf + n) {
          out->append(".0");
        }
      }
      return;
    }
    case Type::kString:
      AppendJsonString(string_, out);
      return;
    case Type::kArray:
      out->push_back('[');
      for (size_t i = 0; i < array_.size(); ++i) {
        if (i > 0) out->push_back(',');
        NewLine(indent, depth + 1, out);
        array_[i].DumpTo(out, indent, depth + 1);
      }
      if (!array_.empty()) NewLine(indent, depth, out);
      out->push_back(']');
      return;
    case Type::kObject:
      out->push_back('{');
      for (size_t i = 0; i < object_.size(); ++i) {
        if (i > 0) out->push_back(',');
        NewLine(indent, depth + 1, out);
        AppendJsonString(object_[i].first, out);
        out->append(indent < 0 ? ":" : ": ");
        object_[i].second.DumpTo(out, indent, depth + 1);
      }
      if (!object_.empty()) NewLine(indent, depth, out);
      out->push_back('}');
      return;
  }
}

absl::StatusOr<Json> ParseJson(absl::string_view text) {
  Json out;
  RETURN_IF_ERROR(JsonParser(text).ParseDocument(&out));
  return out;
}

}  // namespace dsarl
