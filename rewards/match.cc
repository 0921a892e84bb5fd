// exact_match, normalized_match and numeric_match (see match.h).
#include "rewards/match.h"

#include <cmath>
#include <string>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "base/status_macros.h"
#include "rewards/answer_text.h"

namespace dsarl::rewards {
namespace {

// What the three share: finding the reference and the answer. Subclasses compare.
class MatchReward : public SampleRewardFunction {
 public:
  absl::Status Init(const Params& params, bool allow_last_number) {
    key_ = params.String("reference_key", "answer");
    if (key_.empty()) return params.Error("reference_key", "must not be empty");
    separator_ = params.String("separator", "");
    absl::StatusOr<Extract> extract = ParseExtract(params.String("extract", "full"));
    if (!extract.ok()) return params.Error("extract", std::string(extract.status().message()));
    extract_ = *extract;
    if (extract_ == Extract::kLastNumber && !allow_last_number) {
      return params.Error("extract", "last_number is only for numeric_match");
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Components> Score(const proto::Prompt& task, const Sample& sample) const override {
    auto it = task.reference().find(key_);
    if (it == task.reference().end()) {
      return Components{Component::NotApplicable(absl::StrCat("no reference '", key_, "'"))};
    }
    std::vector<std::string> references;
    if (separator_.empty()) {
      references.push_back(it->second);
    } else {
      references = absl::StrSplit(it->second, separator_);
    }
    if (std::optional<Component> na = CheckReferences(references)) return Components{*na};
    std::optional<std::string> answer = ExtractAnswer(sample.final_answer, extract_);
    if (!answer.has_value()) {
      return Components{
          Component::Value(0, absl::StrCat("no answer found in ", Snippet(sample.final_answer)))};
    }
    return Components{Compare(*answer, references)};
  }

 protected:
  // A not-applicable component when no reference suits this function; nullopt otherwise.
  virtual std::optional<Component> CheckReferences(const std::vector<std::string>&) const {
    return std::nullopt;
  }
  // The component for `answer` against the accepted `references` (at least one).
  virtual Component Compare(const std::string& answer,
                            const std::vector<std::string>& references) const = 0;

 private:
  std::string key_;
  std::string separator_;
  Extract extract_ = Extract::kFull;
};

// Whether any of `references` matches `answer` once both pass through `canon`.
template <typename Canon>
Component CompareCanonical(const std::string& answer, const std::vector<std::string>& references,
                           Canon canon) {
  const std::string a = canon(answer);
  for (const std::string& r : references) {
    if (canon(r) == a) return Component::Value(1, absl::StrCat("matched ", Snippet(a)));
  }
  return Component::Value(
      0, absl::StrCat("got ", Snippet(a), ", expected ", Snippet(canon(references.front())),
                      references.size() > 1 ? " (or another)" : ""));
}

class ExactMatch : public MatchReward {
 public:
  explicit ExactMatch(bool trim) : trim_(trim) {}

 protected:
  Component Compare(const std::string& answer,
                    const std::vector<std::string>& references) const override {
    return CompareCanonical(answer, references, [this](const std::string& s) {
      return trim_ ? std::string(absl::StripAsciiWhitespace(s)) : s;
    });
  }

 private:
  bool trim_;
};

class NormalizedMatch : public MatchReward {
 public:
  explicit NormalizedMatch(NormalizeOptions options) : options_(options) {}

 protected:
  Component Compare(const std::string& answer,
                    const std::vector<std::string>& references) const override {
    return CompareCanonical(answer, references,
                            [this](const std::string& s) { return NormalizeAnswer(s, options_); });
  }

 private:
  NormalizeOptions options_;
};

class NumericMatch : public MatchReward {
 public:
  NumericMatch(double abs_tol, double rel_tol) : abs_tol_(abs_tol), rel_tol_(rel_tol) {}

 protected:
  std::optional<Component> CheckReferences(
      const std::vector<std::string>& references) const override {
    for (const std::string& r : references) {
      if (ParseNumber(r).has_value()) return std::nullopt;
    }
    return Component::NotApplicable(
        absl::StrCat("reference ", Snippet(references.front()), " is not a number"));
  }

  Component Compare(const std::string& answer,
                    const std::vector<std::string>& references) const override {
    std::vector<double> expected;
    for (const std::string& r : references) {
      if (std::optional<double> v = ParseNumber(r)) expected.push_back(*v);
    }
    std::optional<double> got = ParseNumber(answer);
    if (!got.has_value()) {
      return Component::Value(0, absl::StrCat(Snippet(answer), " is not a number"));
    }
    for (double e : expected) {
      const double tol = std::max(abs_tol_, rel_tol_ * std::fabs(e));
      if (std::fabs(*got - e) <= tol) {
        return Component::Value(1, absl::StrFormat("%g matches %g", *got, e));
      }
    }
    return Component::Value(0, absl::StrFormat("got %g, expected %g%s", *got, expected.front(),
                                               expected.size() > 1 ? " (or another)" : ""));
  }

 private:
  double abs_tol_;
  double rel_tol_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<RewardFunction>> NewExactMatch(const Params& params) {
  ASSIGN_OR_RETURN(bool trim, params.Bool("trim", true));
  auto fn = std::make_unique<ExactMatch>(trim);
  RETURN_IF_ERROR(fn->Init(params, /*allow_last_number=*/false));
  return fn;
}

absl::StatusOr<std::unique_ptr<RewardFunction>> NewNormalizedMatch(const Params& params) {
  NormalizeOptions options;
  ASSIGN_OR_RETURN(options.case_sensitive, params.Bool("case_sensitive", false));
  ASSIGN_OR_RETURN(options.strip_punctuation, params.Bool("strip_punctuation", true));
  ASSIGN_OR_RETURN(options.remove_articles, params.Bool("remove_articles", false));
  auto fn = std::make_unique<NormalizedMatch>(options);
  RETURN_IF_ERROR(fn->Init(params, /*allow_last_number=*/false));
  return fn;
}

absl::StatusOr<std::unique_ptr<RewardFunction>> NewNumericMatch(const Params& params) {
  ASSIGN_OR_RETURN(double abs_tol, params.Double("abs_tol", 1e-6));
  ASSIGN_OR_RETURN(double rel_tol, params.Double("rel_tol", 1e-9));
  if (abs_tol < 0) return params.Error("abs_tol", "must be >= 0");
  if (rel_tol < 0) return params.Error("rel_tol", "must be >= 0");
  auto fn = std::make_unique<NumericMatch>(abs_tol, rel_tol);
  RETURN_IF_ERROR(fn->Init(params, /*allow_last_number=*/true));
  return fn;
}

}  // namespace dsarl::rewards
