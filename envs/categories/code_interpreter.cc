// code_interpreter: questions that are easy to compute and hard to do in one's head (big
// products, digit sums of powers, prime counts, Fibonacci numbers modulo m, longest common
// subsequences). The model's Python runs in the sandbox (envs/sandbox.h); the reference solution
// is a program whose printed output is the answer, and synthesis checks the output matches the
// answer computed here.
#include <algorithm>
#include <memory>
#include <string>

#include "absl/strings/str_cat.h"
#include "base/status_macros.h"
#include "envs/answer.h"
#include "envs/categories/categories.h"
#include "envs/sandbox.h"
#include "envs/toolbox.h"

namespace dsarl::envs {
namespace {

// Digit sum of 2^n, by doubling a little-endian decimal number.
int64_t DigitSumOfPowerOfTwo(int n) {
  std::vector<int> d = {1};
  for (int i = 0; i < n; ++i) {
    int carry = 0;
    for (int& x : d) {
      x = x * 2 + carry;
      carry = x / 10;
      x %= 10;
    }
    if (carry) d.push_back(carry);
  }
  int64_t s = 0;
  for (int x : d) s += x;
  return s;
}

int64_t PrimesBelow(int64_t n) {
  std::vector<bool> composite(n, false);
  int64_t count = 0;
  for (int64_t i = 2; i < n; ++i) {
    if (composite[i]) continue;
    ++count;
    for (int64_t j = i * i; j < n; j += i) composite[j] = true;
  }
  return count;
}

int64_t FibonacciMod(int64_t n, int64_t m) {
  int64_t a = 0, b = 1;
  for (int64_t i = 0; i < n; ++i) {
    const int64_t c = (a + b) % m;
    a = b;
    b = c;
  }
  return a;
}

int64_t Lcs(const std::string& a, const std::string& b) {
  std::vector<std::vector<int64_t>> t(a.size() + 1, std::vector<int64_t>(b.size() + 1, 0));
  for (size_t i = 1; i <= a.size(); ++i) {
    for (size_t j = 1; j <= b.size(); ++j) {
      t[i][j] = a[i - 1] == b[j - 1] ? t[i - 1][j - 1] + 1 : std::max(t[i - 1][j], t[i][j - 1]);
    }
  }
  return t[a.size()][b.size()];
}

class CodeState : public EpisodeState {
 public:
  CodeState(const void* owner, std::string answer) : owner(owner), answer(std::move(answer)) {}
  const void* owner;
  std::string answer;
};

class CodeInterpreterEnv : public Environment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t naming, IntParam(spec, "naming", 0, 0, 1 << 30));
    ASSIGN_OR_RETURN(int64_t timeout, IntParam(spec, "timeout_s", 10, 1, 600));
    ASSIGN_OR_RETURN(std::string python, FindPython());
    return std::unique_ptr<Environment>(
        new CodeInterpreterEnv(spec, std::move(python), naming, timeout));
  }

  const proto::EnvSpec& spec() const override { return spec_; }

  absl::StatusOr<Episode> Reset(uint64_t seed, int level) const override {
    RETURN_IF_ERROR(CheckLevel(spec_, level));
    Rng rng(DeriveSeed({spec_.seed(), seed, static_cast<uint64_t>(level)}));
    std::string user, code;
    int64_t answer = 0;
    switch (level) {
      case 0: {
        const int64_t a = rng.Uniform(100000, 999999), b = rng.Uniform(100000, 999999);
        user = absl::StrCat("What is ", a, " * ", b, "?");
        code = absl::StrCat("print(", a, " * ", b, ")\n");
        answer = a * b;
        break;
      }
      case 1: {
        const int n = static_cast<int>(rng.Uniform(60, 400));
        user = absl::StrCat("What is the sum of the decimal digits of 2 to the power ", n, "?");
        code = absl::StrCat("print(sum(int(d) for d in str(2 ** ", n, ")))\n");
        answer = DigitSumOfPowerOfTwo(n);
        break;
      }
      case 2: {
        const int64_t n = rng.Uniform(1000, 60000);
        user = absl::StrCat("How many prime numbers are smaller than ", n, "?");
        code = absl::StrCat("n = ", n,
                            "\nsieve = bytearray([1]) * n\nsieve[0:2] = b'\\x00\\x00'\n"
                            "for i in range(2, int(n ** 0.5) + 1):\n"
                            "    if sieve[i]:\n"
                            "        sieve[i * i::i] = bytearray(len(range(i * i, n, i)))\n"
                            "print(sum(sieve))\n");
        answer = PrimesBelow(n);
        break;
      }
      case 3: {
        const int64_t n = rng.Uniform(1000, 20000), m = rng.Uniform(1000, 1000000007);
        user = absl::StrCat("Let F(0) = 0, F(1) = 1 and F(k) = F(k-1) + F(k-2). What is F(", n,
                            ") modulo ", m, "?");
        code = absl::StrCat("a, b = 0, 1\nfor _ in range(", n, "):\n    a, b = b, (a + b) % ", m,
                            "\nprint(a)\n");
        answer = FibonacciMod(n, m);
        break;
      }
      default: {
        auto word = [&] {
          std::string s;
          for (int i = 0, n = static_cast<int>(rng.Uniform(20, 30)); i < n; ++i) {
            s += static_cast<char>('a' + rng.Index(4));
          }
          return s;
        };
        const std::string a = word(), b = word();
        user = absl::StrCat("What is the length of the longest common subsequence of \"", a,
                            "\" and \"", b, "\"?");
        code = absl::StrCat("a, b = '", a, "', '", b, "'\n",
                            "t = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]\n"
                            "for i in range(1, len(a) + 1):\n"
                            "    for j in range(1, len(b) + 1):\n"
                            "        t[i][j] = t[i-1][j-1] + 1 if a[i-1] == b[j-1] else "
                            "max(t[i-1][j], t[i][j-1])\n"
                            "print(t[len(a)][len(b)])\n");
        answer = Lcs(a, b);
      }
    }
    Episode e;
    e.task.system = absl::StrCat(
        "Use the Python tool to compute the answer: it runs a program and returns what it prints "
        "(Python 3 standard library, no network, ",
        timeout_s_, " s). Reply with only the answer.");
    e.task.user = user;
    e.task.tools = {Tool()};
    e.task.reference["answer"] = std::to_string(answer);
    e.task.reference["match"] = AnswerMatchName(AnswerMatch::kInteger);
    e.task.reference["verifier"] = "answer";
    e.task.solution.rounds = {{ToolCall{tool_name_, {{"code", code}}}}};
    e.task.solution.final_answer = std::to_string(answer);
    e.task.check_answer_in_outputs = true;
    e.state = std::make_unique<CodeState>(this, std::to_string(answer));
    return e;
  }

  absl::StatusOr<StepResult> Step(EpisodeState* state,
                                  absl::Span<const ToolCall> calls) const override {
    auto* s = dynamic_cast<CodeState*>(state);
    if (s == nullptr || s->owner != this) {
      return absl::FailedPreconditionError(
          "Step: the episode state is not one of this environment");
    }
    const proto::ToolSpec tool = Tool();
    StepResult out;
    for (const ToolCall& call : calls) {
      ToolArgs args;
      ToolResult error;
      if (call.name != tool_name_) {
        out.results.push_back(UnknownToolResult(call.name, {tool}));
      } else if (CheckCall(tool, call, &args, &error) != nullptr) {
        out.results.push_back(error);
      } else {
        ASSIGN_OR_RETURN(ToolResult r, Run(args.Str("code")));
        out.results.push_back(std::move(r));
      }
    }
    return out;
  }

  absl::StatusOr<Verdict> Verify(const EpisodeState& state,
                                 absl::string_view final_answer) const override {
    auto* s = dynamic_cast<const CodeState*>(&state);
    if (s == nullptr || s->owner != this) {
      return absl::FailedPreconditionError(
          "Verify: the episode state is not one of this environment");
    }
    return MatchAnswer(AnswerMatch::kInteger, s->answer, final_answer);
  }

 private:
  CodeInterpreterEnv(proto::EnvSpec spec, std::string python, int64_t naming, int64_t timeout_s)
      : spec_(std::move(spec)), python_(std::move(python)), timeout_s_(timeout_s) {
    static const char* kNames[] = {"python", "run_python", "execute_code"};
    tool_name_ = kNames[Mix64(naming) % 3];
  }

  proto::ToolSpec Tool() const {
    return MakeToolSpec(tool_name_, "Runs a Python 3 program and returns its output.",
                        {{"code", "string", "the program; print what you need to see"}});
  }

  // Runs `code`; the output is what it printed, plus how it ended when that was not a clean exit.
  // Sandbox setup failures are infrastructure errors.
  absl::StatusOr<ToolResult> Run(const std::string& code) const {
    SandboxOptions options;
    options.limits.wall_time_s = static_cast<double>(timeout_s_);
    options.limits.cpu_time_s = static_cast<double>(timeout_s_);
    options.files["main.py"] = code;
    ASSIGN_OR_RETURN(options.read_only_paths, PythonReadPaths(python_));
    ASSIGN_OR_RETURN(SandboxResult r, RunSandboxed({python_, "-I", "-S", "main.py"}, options));
    std::string out = r.stdout_text;
    if (!r.stderr_text.empty()) absl::StrAppend(&out, out.empty() ? "" : "\n", r.stderr_text);
    if (!r.ok()) absl::StrAppend(&out, out.empty() ? "" : "\n", "[", r.Summary(), "]");
    return ToolResult{out, false};
  }

  proto::EnvSpec spec_;
  std::string python_;
  int64_t timeout_s_;
  std::string tool_name_;
};

}  // namespace

Category CodeInterpreterCategory() {
  Category c;
  c.name = "code_interpreter";
  c.kind = CategoryKind::kCode;
  c.description = "compute with Python in the sandbox: big products, primes, Fibonacci, LCS";
  c.top_level = 4;
  // Each task's solution runs Python once at synthesis (about 25 ms of CPU).
  c.max_tasks_per_env = 10;
  c.sample_params = [](Rng& rng) {
    return std::map<std::string, std::string>{{"naming", std::to_string(rng.Uniform(0, 999))}};
  };
  c.build = CodeInterpreterEnv::Create;
  return c;
}

}  // namespace dsarl::envs
