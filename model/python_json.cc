// Python's json.dumps: string escaping is the project's own (AppendJsonString escapes the same set
// of characters the same way); numbers follow float_repr_style "short".
#include "model/python_json.h"

#include <charconv>
#include <cmath>
#include <cstdlib>
#include <system_error>

#include "absl/strings/str_cat.h"
#include "base/json_string.h"

namespace dsarl::model {
namespace {

// repr(x) for a finite double: the shortest digits that read back to x, in positional form when
// the decimal exponent is in [-4, 16), else as d.ddde±XX (at least two exponent digits).
std::string PythonFloatRepr(double x) {
  char buf[64];
  const auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), x, std::chars_format::scientific);
  if (ec != std::errc()) return "0.0";   // cannot happen: 64 bytes hold any double
  std::string_view sci(buf, end - buf);  // "-d.ddde+XX"
  std::string out;
  if (sci.front() == '-') {
    out = "-";
    sci.remove_prefix(1);
  }
  const size_t e_pos = sci.find('e');
  std::string digits(1, sci[0]);
  if (e_pos > 1) digits.append(sci.substr(2, e_pos - 2));
  const int exponent = std::atoi(std::string(sci.substr(e_pos + 1)).c_str());
  const int n = static_cast<int>(digits.size());
  if (exponent < -4 || exponent >= 16) {
    absl::StrAppend(&out, digits.substr(0, 1));
    if (n > 1) absl::StrAppend(&out, ".", digits.substr(1));
    const int magnitude = std::abs(exponent);
    absl::StrAppend(&out, exponent < 0 ? "e-" : "e+", magnitude < 10 ? "0" : "", magnitude);
    return out;
  }
  if (exponent < 0) {
    absl::StrAppend(&out, "0.", std::string(-exponent - 1, '0'), digits);
  } else if (n <= exponent + 1) {
    absl::StrAppend(&out, digits, std::string(exponent + 1 - n, '0'), ".0");
  } else {
    absl::StrAppend(&out, digits.substr(0, exponent + 1), ".", digits.substr(exponent + 1));
  }
  return out;
}

void AppendNumber(const Json& value, std::string* out) {
  if (value.is_unsigned()) return absl::StrAppend(out, value.uint_value());
  if (value.is_integer()) return absl::StrAppend(out, value.int_value());
  const double x = value.number_value();
  if (std::isnan(x)) return absl::StrAppend(out, "NaN");
  if (std::isinf(x)) return absl::StrAppend(out, x < 0 ? "-Infinity" : "Infinity");
  absl::StrAppend(out, PythonFloatRepr(x));
}

void AppendValue(const Json& value, std::string* out) {
  switch (value.type()) {
    case Json::Type::kNull:
      out->append("null");
      return;
    case Json::Type::kBool:
      out->append(value.bool_value() ? "true" : "false");
      return;
    case Json::Type::kNumber:
      return AppendNumber(value, out);
    case Json::Type::kString:
      return AppendJsonString(value.string_value(), out);
    case Json::Type::kArray:
      out->push_back('[');
      for (size_t i = 0; i < value.array().size(); ++i) {
        if (i > 0) out->append(", ");
        AppendValue(value.array()[i], out);
      }
      out->push_back(']');
      return;
    case Json::Type::kObject:
      out->push_back('{');
      for (size_t i = 0; i < value.object().size(); ++i) {
        if (i > 0) out->append(", ");
        AppendJsonString(value.object()[i].first, out);
        out->append(": ");
        AppendValue(value.object()[i].second, out);
      }
      out->push_back('}');
      return;
  }
}

}  // namespace

std::string PythonJsonDumps(const Json& value) {
  std::string out;
  AppendValue(value, &out);
  return out;
}

}  // namespace dsarl::model
