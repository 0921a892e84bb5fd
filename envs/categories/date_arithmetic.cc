// date_arithmetic: weekdays, adding days to dates, days between dates, across months, years and
// leap days. Calendar math on day numbers (Howard Hinnant's civil-date algorithms).
#include <cstdio>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

struct Date {
  int64_t y;
  int m, d;
};

// Days since 1970-01-01.
int64_t DaysFromCivil(Date date) {
  const int64_t y = date.y - (date.m <= 2);
  const int64_t era = (y >= 0 ? y : y - 399) / 400;
  const int64_t yoe = y - era * 400;
  const int64_t doy = (153 * (date.m + (date.m > 2 ? -3 : 9)) + 2) / 5 + date.d - 1;
  const int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
  return era * 146097 + doe - 719468;
}

Date CivilFromDays(int64_t z) {
  z += 719468;
  const int64_t era = (z >= 0 ? z : z - 146096) / 146097;
  const int64_t doe = z - era * 146097;
  const int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
  const int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
  const int64_t mp = (5 * doy + 2) / 153;
  const int d = static_cast<int>(doy - (153 * mp + 2) / 5 + 1);
  const int m = static_cast<int>(mp < 10 ? mp + 3 : mp - 9);
  return Date{era * 400 + yoe + (m <= 2), m, d};
}

const char* kWeekdays[] = {"Monday", "Tuesday",  "Wednesday", "Thursday",
                           "Friday", "Saturday", "Sunday"};

// 1970-01-01 was a Thursday (index 3).
const char* Weekday(int64_t days) { return kWeekdays[((days % 7) + 7 + 3) % 7]; }

std::string Format(int64_t days) {
  const Date d = CivilFromDays(days);
  return absl::StrFormat("%04d-%02d-%02d", d.y, d.m, d.d);
}

class DateArithmeticEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    ASSIGN_OR_RETURN(int64_t base_year, IntParam(spec, "base_year", 2000, 1900, 2100));
    return std::unique_ptr<Environment>(
        new DateArithmeticEnv(spec, static_cast<int>(style), base_year));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    const int64_t start = DaysFromCivil({base_year_, 1, 1});
    const int64_t day = start + rng.Uniform(0, level <= 2 ? 364 : 3652);
    switch (level) {
      case 0: {
        const int w = static_cast<int>(rng.Index(7)), k = static_cast<int>(rng.Uniform(1, 30));
        static constexpr const char* kT[] = {
            "What day of the week is %k days after %w?", "%w plus %k days is which weekday?",
            "Today is %w. What day is it in %k days?", "Which weekday comes %k days after %w?"};
        const std::string user =
            absl::StrReplaceAll(kT[style_], {{"%k", std::to_string(k)}, {"%w", kWeekdays[w]}});
        return Problem{user, kWeekdays[(w + k) % 7], AnswerMatch::kText};
      }
      case 1: {
        const int64_t k = rng.Uniform(1, 20);
        return Problem{absl::StrCat("What date is ", k, " days after ", Format(day),
                                    "? Answer as YYYY-MM-DD."),
                       Format(day + k), AnswerMatch::kText};
      }
      case 2: {
        const int64_t k = rng.Uniform(5, 200);
        return Problem{absl::StrCat("How many days are there from ", Format(day), " to ",
                                    Format(day + k), "?"),
                       std::to_string(k), AnswerMatch::kInteger};
      }
      case 3:
        return Problem{absl::StrCat("What day of the week was ", Format(day), "?"), Weekday(day),
                       AnswerMatch::kText};
      default: {
        const int64_t k = rng.Uniform(100, 1500) * (rng.Chance(0.3) ? -1 : 1);
        return Problem{
            absl::StrCat("What date is ", k < 0 ? -k : k, " days ", k < 0 ? "before " : "after ",
                         Format(day), "? Answer as YYYY-MM-DD."),
            Format(day + k), AnswerMatch::kText};
      }
    }
  }

 private:
  DateArithmeticEnv(const proto::EnvSpec& spec, int style, int64_t base_year)
      : SingleTurnEnvironment(spec, SingleTurnSystem("Use the Gregorian calendar.", style)),
        style_(style),
        base_year_(base_year) {}
  int style_;
  int64_t base_year_;
};

}  // namespace

Category DateArithmeticCategory() {
  return SingleTurnCategory<DateArithmeticEnv>(
      "date_arithmetic", "weekdays, adding and counting days across months, years and leap days",
      [](Rng& rng, std::map<std::string, std::string>* p) {
        (*p)["base_year"] = std::to_string(rng.Uniform(1950, 2040));
      });
}

}  // namespace dsarl::envs
