// Parses what the model wrote in an assistant turn (decoded text) into reasoning, visible content
// and tool calls, in the markup of SPEC §4:
//
//   {reasoning}</think>{content}<function_calls><invoke name="NAME"><parameter
//   name="K">V</parameter>
//   </invoke>...</function_calls><eos>
//
// Why a hand parser and errors as values: the model's output is untrusted and often malformed while
// it learns; the agent loop must keep running and can show the error back to the model (or score
// it), so nothing here throws, aborts or reads out of bounds, whatever the bytes.
//
// Grammar, after the reasoning part:
//   content  : any text without markup (markup = the text of any special token of tokenizer.h)
//   calls    : "<function_calls>" ws (invoke ws)+ "</function_calls>" ws ["<eos>" ws]
//   invoke   : `<invoke name="` NAME `">` ws (param ws)* "</invoke>"
//   param    : `<parameter name="` KEY `">` VALUE "</parameter>"
//   ws       : spaces, tabs, newlines, carriage returns (ignored between elements)
// NAME and KEY are non-empty and contain no '"', '<', '>' or whitespace; KEYs are unique per
// invoke. VALUE is any text without markup, kept byte-exact (no trimming, no unescaping). A final
// "<eos>" (with nothing after it) is accepted and dropped anywhere the turn may end.
// Limitation: the decoded text cannot tell a special token from the same characters written as
// bytes, so a VALUE that itself contains, e.g., "</parameter>" does not parse back.
#ifndef DSARL_MODEL_TOOL_CALL_PARSER_H_
#define DSARL_MODEL_TOOL_CALL_PARSER_H_

#include <cstddef>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "base/message.h"

namespace dsarl::model {

// Why the text did not parse: a message for people (and for the model), and the byte offset in
// the parsed text where the problem was found.
struct ParseError {
  std::string message;
  size_t position = 0;
};

struct ParsedAssistantOutput {
  std::string reasoning;             // text before "</think>" (a leading "<think>" removed)
  bool reasoning_closed = false;     // "</think>" was found
  std::string content;               // visible answer before "<function_calls>", byte-exact
  std::vector<ToolCall> tool_calls;  // complete calls parsed before any error, in order
  std::optional<ParseError> error;   // set when the text breaks the grammar above
};

struct ParseOptions {
  // The prompt ended with "<think>" (thinking mode, the default), so the text starts inside the
  // reasoning. When false the text starts with the content (a prompt ending in "</think>").
  bool starts_in_reasoning = true;
};

// Parses one assistant turn. Never fails by crashing: problems are reported in `error`, with the
// fields parsed so far filled in. Errors: unclosed "<think>" (the turn ran out inside the
// reasoning), markup in the content, text after "</function_calls>", unclosed tags, missing or
// malformed names, a parameter outside an invoke, duplicate parameter keys, an empty
// "<function_calls>" block, and any special-token text where the grammar does not allow it.
ParsedAssistantOutput ParseAssistantOutput(absl::string_view text,
                                           const ParseOptions& options = {});

// Parses only the part after "</think>" (content and tool calls); `base_position` is added to error
// positions so they can point into a larger text. Fills content, tool_calls and error of the
// result.
ParsedAssistantOutput ParseContentAndToolCalls(absl::string_view text, size_t base_position = 0);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_TOOL_CALL_PARSER_H_
