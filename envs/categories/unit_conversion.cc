// unit_conversion: length, mass, time, temperature and speed. Exact integer answers at the low
// levels; rounded decimals above, compared to the precision asked for.
#include <cmath>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "base/status_macros.h"
#include "envs/categories/categories.h"
#include "envs/single_turn.h"

namespace dsarl::envs {
namespace {

struct Unit {
  const char* name;  // plural, as in "3 kilometers"
  double per_base;   // how many base units one unit is (base: meter, gram, second)
};
struct Quantity {
  const char* what;
  std::vector<Unit> units;
};

const Quantity kMetric[] = {
    {"length",
     {{"kilometers", 1000}, {"meters", 1}, {"centimeters", 0.01}, {"millimeters", 0.001}}},
    {"mass", {{"kilograms", 1000}, {"grams", 1}, {"milligrams", 0.001}}},
};
const Quantity kTime = {"time", {{"hours", 3600}, {"minutes", 60}, {"seconds", 1}}};
const Quantity kImperial[] = {
    {"length",
     {{"miles", 1609.344},
      {"kilometers", 1000},
      {"inches", 0.0254},
      {"centimeters", 0.01},
      {"feet", 0.3048},
      {"meters", 1}}},
    {"mass", {{"pounds", 453.59237}, {"kilograms", 1000}, {"ounces", 28.349523125}, {"grams", 1}}},
};

std::string Fixed(double v, int decimals) {
  std::string s = absl::StrFormat("%.*f", decimals, v);
  if (s == "-0" || s == "-0.0" || s == "-0.00") s = s.substr(1);
  return s;
}

class UnitConversionEnv : public SingleTurnEnvironment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t style, IntParam(spec, "style", 0, 0, 3));
    return std::unique_ptr<Environment>(new UnitConversionEnv(spec, static_cast<int>(style)));
  }

 protected:
  absl::StatusOr<Problem> MakeProblem(Rng& rng, int level) const override {
    auto ask = [&](double value, const std::string& from, const std::string& to, int decimals) {
      static constexpr const char* kT[] = {"Convert %v %f to %t.", "How many %t are %v %f?",
                                           "%v %f in %t?", "Express %v %f in %t."};
      std::string user = kT[style_];
      user.replace(user.find("%v"), 2, Fixed(value, value == std::floor(value) ? 0 : 1));
      user.replace(user.find("%f"), 2, from);
      user.replace(user.find("%t"), 2, to);
      if (decimals > 0) absl::StrAppend(&user, " Round to ", decimals, " decimal places.");
      return user;
    };
    if (level == 3) {  // temperature
      const bool c_to_f = rng.Chance(0.5);
      const double v = static_cast<double>(rng.Uniform(-50, 250));
      const double r = c_to_f ? v * 9 / 5 + 32 : (v - 32) * 5 / 9;
      return Problem{ask(v, c_to_f ? "degrees Celsius" : "degrees Fahrenheit",
                         c_to_f ? "degrees Fahrenheit" : "degrees Celsius", 1),
                     Fixed(r, 1), AnswerMatch::kNumber};
    }
    if (level == 4) {  // speed
      const bool kmh_to_ms = rng.Chance(0.5);
      const double v = static_cast<double>(rng.Uniform(1, 1000));
      const double r = kmh_to_ms ? v / 3.6 : v * 3.6;
      return Problem{ask(v, kmh_to_ms ? "kilometers per hour" : "meters per second",
                         kmh_to_ms ? "meters per second" : "kilometers per hour", 2),
                     Fixed(r, 2), AnswerMatch::kNumber};
    }
    const Quantity& q = level == 0 ? rng.Pick(kMetric) : level == 1 ? kTime : rng.Pick(kImperial);
    size_t a = rng.Index(q.units.size()), b;
    if (level == 2) {  // imperial <-> metric: pairs (0,1), (2,3), ...
      a -= a % 2;
      b = a + 1;
      if (rng.Chance(0.5)) std::swap(a, b);
    } else {
      b = rng.Index(q.units.size() - 1);
      if (b >= a) ++b;
      if (q.units[a].per_base < q.units[b].per_base) std::swap(a, b);  // big -> small: integers
    }
    static constexpr int64_t kMax[] = {50, 200, 500};
    const double v = static_cast<double>(rng.Uniform(1, kMax[level]));
    const double r = v * q.units[a].per_base / q.units[b].per_base;
    const int decimals = level == 2 ? 2 : 0;
    return Problem{ask(v, q.units[a].name, q.units[b].name, decimals),
                   Fixed(std::round(r * std::pow(10, decimals)) / std::pow(10, decimals), decimals),
                   level == 2 ? AnswerMatch::kNumber : AnswerMatch::kInteger};
  }

 private:
  UnitConversionEnv(const proto::EnvSpec& spec, int style)
      : SingleTurnEnvironment(spec, SingleTurnSystem("Convert the quantity.", style)),
        style_(style) {}
  int style_;
};

}  // namespace

Category UnitConversionCategory() {
  return SingleTurnCategory<UnitConversionEnv>(
      "unit_conversion", "length, mass, time, temperature and speed conversions");
}

}  // namespace dsarl::envs
