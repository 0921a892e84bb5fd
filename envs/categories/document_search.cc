// document_search: a synthesized encyclopedia of invented people, cities and companies, with a
// `search` tool (ranked by shared words, titles first) and an `open` tool. The facts cannot be
// known without reading, and questions chain up to three documents: a company's founding year; a
// person's birthplace; the founding year of a person's employer; the river of a company's
// headquarters city; the river of the birthplace of a company's founder.
#include <algorithm>
#include <map>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "base/json.h"
#include "base/status_macros.h"
#include "envs/answer.h"
#include "envs/categories/categories.h"
#include "envs/names.h"
#include "envs/toolbox.h"

namespace dsarl::envs {
namespace {

struct Doc {
  std::string id, title, text;
  std::set<std::string> words;
};

struct Person {
  std::string name, birthplace, occupation, employer;
  int64_t born;
};
struct City {
  std::string name, country, river;
  int64_t founded;
};
struct Company {
  std::string name, city, founder, industry;
  int64_t founded;
};

struct Corpus {
  std::vector<Doc> docs;                   // in id order
  std::map<std::string, size_t> by_title;  // title -> index
  std::map<std::string, int> df;           // word -> documents containing it
  std::vector<Person> people;
  std::vector<City> cities;
  std::vector<Company> companies;
};

std::set<std::string> Words(absl::string_view text) {
  std::set<std::string> out;
  for (absl::string_view w :
       absl::StrSplit(text, absl::ByAnyChar(" ,.;:!?\"'()-\n"), absl::SkipEmpty())) {
    out.insert(absl::AsciiStrToLower(w));
  }
  return out;
}

Corpus MakeCorpus(uint64_t seed, int n_people, int n_cities, int n_companies) {
  Rng rng(DeriveSeed({seed, HashString("document_search/corpus")}));
  Corpus c;
  std::set<std::string> taken;
  static const char* kOccupations[] = {"engineer",  "painter",  "chemist", "pilot",
                                       "architect", "composer", "surgeon", "geologist"};
  static const char* kIndustries[] = {"shipping", "textiles", "software",  "mining",
                                      "brewing",  "optics",   "publishing"};
  static const char* kFiller[] = {
      "Local archives hold several letters about it.", "It is often mentioned in travel guides.",
      "Historians still debate parts of its early record.", "A short film was made about it.",
      "The regional museum keeps a small exhibit on the subject."};
  for (int i = 0; i < n_cities; ++i) {
    c.cities.push_back({UniqueInventedName(rng, &taken), UniqueInventedName(rng, &taken, 2),
                        UniqueInventedName(rng, &taken, 2), rng.Uniform(900, 1900)});
  }
  for (int i = 0; i < n_people; ++i) {
    c.people.push_back({UniquePersonName(rng, &taken), rng.Pick(c.cities).name,
                        rng.Pick(kOccupations), "", rng.Uniform(1900, 2000)});
  }
  for (int i = 0; i < n_companies; ++i) {
    c.companies.push_back(
        {absl::StrCat(UniqueInventedName(rng, &taken), " ", rng.Pick(kIndustries)),
         rng.Pick(c.cities).name, rng.Pick(c.people).name, "", rng.Uniform(1920, 2020)});
  }
  for (Person& p : c.people) p.employer = rng.Pick(c.companies).name;
  std::vector<std::pair<std::string, std::string>> docs;  // title, text
  for (const City& x : c.cities) {
    docs.push_back({x.name, absl::StrCat(x.name, " is a city in ", x.country,
                                         ". It was founded in ", x.founded, ". The river ", x.river,
                                         " flows through ", x.name, ". ", rng.Pick(kFiller))});
  }
  for (const Person& x : c.people) {
    docs.push_back({x.name, absl::StrCat(x.name, " is a ", x.occupation, " born in ", x.born,
                                         " in ", x.birthplace, ". ", x.name, " works for ",
                                         x.employer, ". ", rng.Pick(kFiller))});
  }
  for (const Company& x : c.companies) {
    docs.push_back(
        {x.name, absl::StrCat(x.name, " is a company founded in ", x.founded, " by ", x.founder,
                              ". Its headquarters are in ", x.city, ". ", rng.Pick(kFiller))});
  }
  rng.Shuffle(&docs);
  for (size_t i = 0; i < docs.size(); ++i) {
    Doc d{absl::StrCat("doc-", i + 1), docs[i].first, docs[i].second, {}};
    d.words = Words(absl::StrCat(d.title, " ", d.text));
    for (const std::string& w : d.words) ++c.df[w];
    c.by_title[d.title] = i;
    c.docs.push_back(std::move(d));
  }
  return c;
}

class SearchState : public EpisodeState {
 public:
  SearchState(const void* owner, std::string answer, AnswerMatch match)
      : owner(owner), answer(std::move(answer)), match(match) {}
  const void* owner;
  std::string answer;
  AnswerMatch match;
};

class DocumentSearchEnv : public Environment {
 public:
  static absl::StatusOr<std::unique_ptr<Environment>> Create(const proto::EnvSpec& spec) {
    ASSIGN_OR_RETURN(int64_t people, IntParam(spec, "people", 12, 2, 200));
    ASSIGN_OR_RETURN(int64_t cities, IntParam(spec, "cities", 6, 2, 100));
    ASSIGN_OR_RETURN(int64_t companies, IntParam(spec, "companies", 5, 2, 100));
    ASSIGN_OR_RETURN(int64_t naming, IntParam(spec, "naming", 0, 0, 1 << 30));
    ASSIGN_OR_RETURN(int64_t top_k, IntParam(spec, "top_k", 5, 1, 20));
    return std::unique_ptr<Environment>(new DocumentSearchEnv(
        spec, MakeCorpus(spec.seed(), people, cities, companies), naming, top_k));
  }

  const proto::EnvSpec& spec() const override { return spec_; }

  absl::StatusOr<Episode> Reset(uint64_t seed, int level) const override {
    RETURN_IF_ERROR(CheckLevel(spec_, level));
    Rng rng(DeriveSeed({spec_.seed(), seed, static_cast<uint64_t>(level)}));
    std::vector<std::string> hops;  // the titles opened, in order
    std::string user, answer;
    AnswerMatch match = AnswerMatch::kText;
    const Company& co = rng.Pick(corpus_.companies);
    const Person& pe = rng.Pick(corpus_.people);
    auto city = [&](const std::string& name) -> const City& {
      for (const City& c : corpus_.cities) {
        if (c.name == name) return c;
      }
      return corpus_.cities[0];
    };
    auto company = [&](const std::string& name) -> const Company& {
      for (const Company& c : corpus_.companies) {
        if (c.name == name) return c;
      }
      return corpus_.companies[0];
    };
    auto person = [&](const std::string& name) -> const Person& {
      for (const Person& p : corpus_.people) {
        if (p.name == name) return p;
      }
      return corpus_.people[0];
    };
    switch (level) {
      case 0:
        user = absl::StrCat("In what year was ", co.name, " founded?");
        hops = {co.name};
        answer = std::to_string(co.founded);
        match = AnswerMatch::kInteger;
        break;
      case 1:
        user = absl::StrCat("In which city was ", pe.name, " born?");
        hops = {pe.name};
        answer = pe.birthplace;
        break;
      case 2:
        user = absl::StrCat("In what year was the company that ", pe.name, " works for founded?");
        hops = {pe.name, pe.employer};
        answer = std::to_string(company(pe.employer).founded);
        match = AnswerMatch::kInteger;
        break;
      case 3:
        user = absl::StrCat("Which river flows through the city where ", co.name,
                            " has its headquarters?");
        hops = {co.name, co.city};
        answer = city(co.city).river;
        break;
      default:
        user = absl::StrCat("Which river flows through the city where the founder of ", co.name,
                            " was born?");
        hops = {co.name, co.founder, person(co.founder).birthplace};
        answer = city(person(co.founder).birthplace).river;
    }
    Episode e;
    e.task.system =
        "Answer the question using the document collection. Search for what you "
        "need, open documents to read them, and reply with only the answer.";
    e.task.user = user;
    e.task.tools = Tools();
    e.task.reference["answer"] = answer;
    e.task.reference["match"] = AnswerMatchName(match);
    e.task.reference["verifier"] = "answer";
    for (const std::string& title : hops) {
      ToolCall search{search_name_, {{"query", title}}};
      ToolCall open{open_name_, {{"doc_id", corpus_.docs[corpus_.by_title.at(title)].id}}};
      e.task.solution.rounds.push_back({search});
      e.task.solution.rounds.push_back({open});
    }
    e.task.solution.final_answer = answer;
    e.task.check_answer_in_outputs = true;
    e.state = std::make_unique<SearchState>(this, answer, match);
    return e;
  }

  absl::StatusOr<StepResult> Step(EpisodeState* state,
                                  absl::Span<const ToolCall> calls) const override {
    auto* s = dynamic_cast<SearchState*>(state);
    if (s == nullptr || s->owner != this) {
      return absl::FailedPreconditionError(
          "Step: the episode state is not one of this environment");
    }
    const std::vector<proto::ToolSpec> tools = Tools();
    StepResult out;
    for (const ToolCall& call : calls) {
      ToolArgs args;
      ToolResult error;
      if (call.name == search_name_) {
        out.results.push_back(CheckCall(tools[0], call, &args, &error) ? error
                                                                       : Search(args.Str("query")));
      } else if (call.name == open_name_) {
        out.results.push_back(CheckCall(tools[1], call, &args, &error) ? error
                                                                       : Open(args.Str("doc_id")));
      } else {
        out.results.push_back(UnknownToolResult(call.name, tools));
      }
    }
    return out;
  }

  absl::StatusOr<Verdict> Verify(const EpisodeState& state,
                                 absl::string_view final_answer) const override {
    auto* s = dynamic_cast<const SearchState*>(&state);
    if (s == nullptr || s->owner != this) {
      return absl::FailedPreconditionError(
          "Verify: the episode state is not one of this environment");
    }
    return MatchAnswer(s->match, s->answer, final_answer);
  }

 private:
  DocumentSearchEnv(proto::EnvSpec spec, Corpus corpus, int64_t naming, int64_t top_k)
      : spec_(std::move(spec)), corpus_(std::move(corpus)), top_k_(static_cast<size_t>(top_k)) {
    static const char* kSearch[] = {"search", "search_documents", "find_documents"};
    static const char* kOpen[] = {"open", "open_document", "read_document"};
    search_name_ = kSearch[Mix64(naming) % 3];
    open_name_ = kOpen[Mix64(naming + 1) % 3];
  }

  std::vector<proto::ToolSpec> Tools() const {
    return {MakeToolSpec(search_name_,
                         absl::StrCat("Searches the collection; returns up to ", top_k_,
                                      " documents (id, title, first words), best first."),
                         {{"query", "string", "words to look for"}}),
            MakeToolSpec(open_name_, "Returns the full text of a document.",
                         {{"doc_id", "string", "a document id from search, e.g. doc-7"}})};
  }

  ToolResult Search(const std::string& query) const {
    const std::set<std::string> q = Words(query);
    const std::string lower = absl::AsciiStrToLower(query);
    std::vector<std::pair<double, size_t>> scored;
    for (size_t i = 0; i < corpus_.docs.size(); ++i) {
      const Doc& d = corpus_.docs[i];
      double score = absl::AsciiStrToLower(d.title) == lower ? 100 : 0;
      for (const std::string& w : q) {
        if (d.words.count(w) > 0) score += 1.0 / corpus_.df.at(w);
      }
      if (score > 0) scored.push_back({-score, i});
    }
    std::sort(scored.begin(), scored.end());
    Json items = Json::Array();
    for (size_t k = 0; k < scored.size() && k < top_k_; ++k) {
      const Doc& d = corpus_.docs[scored[k].second];
      Json item = Json::Object();
      item.Set("id", Json::String(d.id));
      item.Set("title", Json::String(d.title));
      item.Set("snippet", Json::String(d.text.substr(0, 60)));
      items.Push(std::move(item));
    }
    return {items.Dump(), false};
  }

  ToolResult Open(const std::string& id) const {
    for (const Doc& d : corpus_.docs) {
      if (d.id != id) continue;
      Json doc = Json::Object();
      doc.Set("id", Json::String(d.id));
      doc.Set("title", Json::String(d.title));
      doc.Set("text", Json::String(d.text));
      return {doc.Dump(), false};
    }
    return ErrorResult(absl::StrCat("no document '", id, "'"));
  }

  proto::EnvSpec spec_;
  Corpus corpus_;
  size_t top_k_;
  std::string search_name_, open_name_;
};

}  // namespace

Category DocumentSearchCategory() {
  Category c;
  c.name = "document_search";
  c.kind = CategoryKind::kSearch;
  c.description = "search and open an invented encyclopedia; questions chain 1 to 3 documents";
  c.top_level = 4;
  c.sample_params = [](Rng& rng) {
    return std::map<std::string, std::string>{{"people", std::to_string(rng.Uniform(8, 30))},
                                              {"cities", std::to_string(rng.Uniform(6, 14))},
                                              {"companies", std::to_string(rng.Uniform(8, 16))},
                                              {"naming", std::to_string(rng.Uniform(0, 999))},
                                              {"top_k", std::to_string(rng.Uniform(3, 6))}};
  };
  c.build = DocumentSearchEnv::Create;
  return c;
}

}  // namespace dsarl::envs
