#include "base/json.h"

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/status_matchers.h"

namespace dsarl {
namespace {

using ::testing::HasSubstr;

TEST(Json, ParsesAllTypes) {
  ASSERT_OK_AND_ASSIGN(
      Json j, ParseJson(R"( {"a": [1, -2.5, 3e2, true, false, null], "s": "x\ty\u00e9\ud83d\ude00",
                             "big": 9007199254740993, "o": {}} )"));
  ASSERT_TRUE(j.is_object());
  const Json* a = j.Find("a");
  ASSERT_NE(a, nullptr);
  ASSERT_EQ(a->array().size(), 6u);
  EXPECT_TRUE(a->array()[0].is_integer());
  EXPECT_EQ(a->array()[0].int_value(), 1);
  EXPECT_FALSE(a->array()[1].is_integer());
  EXPECT_EQ(a->array()[1].number_value(), -2.5);
  EXPECT_FALSE(a->array()[2].is_integer());  // exponent form is a double
  EXPECT_EQ(a->array()[2].number_value(), 300.0);
  EXPECT_TRUE(a->array()[3].bool_value());
  EXPECT_TRUE(a->array()[4].is_bool());
  EXPECT_TRUE(a->array()[5].is_null());
  EXPECT_EQ(j.Find("s")->string_value(), "x\ty\xC3\xA9\xF0\x9F\x98\x80");
  EXPECT_EQ(j.Find("big")->int_value(), 9007199254740993);  // exact beyond 2^53
  EXPECT_TRUE(j.Find("o")->is_object());
  EXPECT_EQ(j.Find("missing"), nullptr);
  // Document order is kept.
  ASSERT_EQ(j.object().size(), 4u);
  EXPECT_EQ(j.object()[0].first, "a");
  EXPECT_EQ(j.object()[3].first, "o");
}

TEST(Json, HugeIntegersFallBackToDouble) {
  ASSERT_OK_AND_ASSIGN(Json j, ParseJson("123456789012345678901234567890"));
  EXPECT_FALSE(j.is_integer());
  EXPECT_DOUBLE_EQ(j.number_value(), 1.2345678901234568e29);
}

TEST(Json, StrictErrorsSayWhere) {
  const struct {
    const char* text;
    const char* error;
  } cases[] = {
      {"", "line 1, column 1 (byte 0): expected a value"},
      {"{\"a\":1,}", "byte 7): expected a string key"},
      {"[1,]", "expected a value, found ']'"},
      {"{\"a\":1 \"b\":2}", "expected ',' or '}' in object"},
      {"{\"a\":1,\n \"a\":2}", "line 2, column 2 (byte 9): duplicate key \"a\""},
      {"01", "leading zero"},
      {"1.", "expected digits after '.'"},
      {"-", "expected digits in number"},
      {"1e", "expected digits in exponent"},
      {"1e999", "number out of range"},
      {"NaN", "expected a value"},
      {"\"a\nb\"", "unescaped control character"},
      {"\"\\x\"", "invalid escape '\\x'"},
      {"\"\\ud800\"", "high surrogate not followed"},
      {"\"\\udc00\"", "unpaired low surrogate"},
      {"\"\xC3\"", "invalid UTF-8"},
      {"\"abc", "unterminated string"},
      {"[1] 2", "unexpected text after the JSON value"},
      {"// c\n1", "expected a value, found '/'"},
      {"tru", "expected a value"},
  };
  for (const auto& c : cases) {
    const absl::StatusOr<Json> j = ParseJson(c.text);
    ASSERT_FALSE(j.ok()) << c.text;
    EXPECT_EQ(j.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(j.status().message()), HasSubstr(c.error)) << c.text;
  }
}

TEST(Json, DeepNestingIsRefusedNotACrash) {
  const std::string deep(100000, '[');
  EXPECT_THAT(std::string(ParseJson(deep).status().message()), HasSubstr("nesting deeper"));
  const std::string ok = std::string(200, '[') + std::string(200, ']');
  EXPECT_OK(ParseJson(ok));
}

TEST(Json, DumpRoundTrips) {
  Json j = Json::Object();
  j.Set("name", Json::String("quote\" back\\ nl\n ctl\x01 \xC3\xA9"));
  j.Set("int", Json::Int(-9007199254740993));
  j.Set("pi", Json::Number(3.141592653589793));
  j.Set("tiny", Json::Number(5e-324));
  j.Set("list", Json::Array({Json::Bool(true), Json(), Json::Array(), Json::Object()}));
  j.Set("int", Json::Int(7));  // replaces in place
  EXPECT_EQ(j.Dump(),
            "{\"name\":\"quote\\\" back\\\\ nl\\n ctl\\u0001 \xC3\xA9\",\"int\":7,"
            "\"pi\":3.141592653589793,\"tiny\":5e-324,\"list\":[true,null,[],{}]}");
  for (int indent : {-1, 0, 2}) {
    ASSERT_OK_AND_ASSIGN(Json back, ParseJson(j.Dump(indent)));
    EXPECT_TRUE(back == j) << j.Dump(indent);
  }
  EXPECT_EQ(Json::Array({Json::Int(1), Json::Object()}).Dump(2), "[\n  1,\n  {}\n]");
}

TEST(Json, DumpAlwaysWritesValidJson) {
  Json j = Json::Array();
  j.Push(Json::Number(std::nan("")));
  j.Push(Json::Number(std::numeric_limits<double>::infinity()));
  j.Push(Json::String("bad \xFF byte"));
  EXPECT_EQ(j.Dump(), "[null,null,\"bad \xEF\xBF\xBD byte\"]");
  EXPECT_OK(ParseJson(j.Dump()));
}

TEST(Json, EqualityIgnoresKeyOrder) {
  ASSERT_OK_AND_ASSIGN(Json a, ParseJson(R"({"x":1,"y":[2]})"));
  ASSERT_OK_AND_ASSIGN(Json b, ParseJson(R"({"y":[2],"x":1})"));
  ASSERT_OK_AND_ASSIGN(Json c, ParseJson(R"({"y":[2],"x":1.5})"));
  EXPECT_TRUE(a == b);
  EXPECT_FALSE(a == c);
}

TEST(Json, Uint64AboveInt64MaxStaysExact) {
  const uint64_t big = 18446744073709551615ull;
  ASSERT_OK_AND_ASSIGN(Json j, ParseJson("[18446744073709551615, 9223372036854775808, 7]"));
  EXPECT_TRUE(j.array()[0].is_unsigned());
  EXPECT_FALSE(j.array()[0].is_integer());
  EXPECT_EQ(j.array()[0].uint_value(), big);
  EXPECT_EQ(j.array()[1].uint_value(), 9223372036854775808ull);
  EXPECT_TRUE(j.array()[2].is_integer());
  EXPECT_EQ(j.array()[2].uint_value(), 7u);
  EXPECT_EQ(Json::Uint(big).Dump(), "18446744073709551615");
  EXPECT_EQ(Json::Uint(5).Dump(), "5");
  EXPECT_TRUE(Json::Uint(5).is_integer());
  EXPECT_TRUE(ParseJson("18446744073709551616").value().is_number());  // beyond: a double
  EXPECT_FALSE(ParseJson("18446744073709551616").value().is_unsigned());
}

TEST(Json, FloatsAreWrittenInTheirOwnShortestForm) {
  EXPECT_EQ(Json::Float(0.1f).Dump(), "0.1");
  EXPECT_EQ(Json::Number(0.1f).Dump(), "0.10000000149011612");
  EXPECT_EQ(Json::Float(-3.5f).Dump(), "-3.5");
  EXPECT_EQ(Json::Float(std::nanf("")).Dump(), "null");
  ASSERT_OK_AND_ASSIGN(Json back, ParseJson(Json::Float(1e-30f).Dump()));
  EXPECT_EQ(float(back.number_value()), 1e-30f);
}

}  // namespace
}  // namespace dsarl
