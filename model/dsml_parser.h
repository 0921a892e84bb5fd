// Parses what a model writes in DeepSeek-V3.2's encoding (model/chat_format_dsv32.h) after the
// prompt's "<think>" into reasoning, visible content and DSML tool calls. The counterpart of
// model/tool_call_parser.h for that format, with the same contract and the same reasons: the
// model's output is untrusted and often malformed while it learns, so nothing here throws, aborts
// or reads out of bounds, and every problem comes back as a value the agent loop can show the
// model.
//
// Grammar (ws: spaces, tabs, newlines, carriage returns, ignored between elements):
//   turn     : [reasoning "</think>"] content (calls | "") "<｜end▁of▁sentence｜>" ws
//   content  : any text without markup; one "\n\n" right before the calls is the separator the
//              encoder writes, not content
//   calls    : "<｜DSML｜function_calls>" ws (invoke ws)+ "</｜DSML｜function_calls>" ws
//   invoke   : `<｜DSML｜invoke name="` NAME `">` ws (param ws)* "</｜DSML｜invoke>"
//   param    : `<｜DSML｜parameter name="` KEY `" string="` ("true" | "false") `">` VALUE
//              "</｜DSML｜parameter>"
// Markup is the text of the format's special tokens (BOS, EOS, "<｜User｜>", "<｜Assistant｜>",
// "<think>", "</think>") and of any tag starting "<｜DSML｜" or "</｜DSML｜". NAME and KEY are
// non-empty and contain no '"', '<', '>' or whitespace; KEYs are unique per invoke. VALUE is any
// text without markup, kept byte-exact: for string="true" the raw text, for string="false" the JSON
// text as written, which must parse as JSON (base/json.h). The reasoning ends at the first
// "</think>"; an end token before it means the turn ended inside the reasoning.
// Limitation: decoded text cannot tell a special token from the same characters written as plain
// text, so a VALUE that itself contains, e.g., "</｜DSML｜parameter>" does not parse back.
#ifndef DSARL_MODEL_DSML_PARSER_H_
#define DSARL_MODEL_DSML_PARSER_H_

#include "absl/strings/string_view.h"
#include "base/message.h"
#include "model/tool_call_parser.h"

namespace dsarl::model {

// Parses one assistant turn. Never fails by crashing: problems are reported in `error` (message and
// byte offset into `text`), with the fields parsed so far filled in (calls complete before the
// error). Errors: unclosed "<think>", markup in the content, a missing "<｜end▁of▁sentence｜>",
// text after it or after "</｜DSML｜function_calls>", unclosed tags, missing or malformed names, a
// string attribute other than "true"/"false", a string="false" value that is not JSON, a parameter
// outside an invoke, duplicate parameter keys and an empty function_calls block.
// options.starts_in_reasoning = false parses a chat-mode turn (the prompt ended with "</think>").
ParsedAssistantOutput ParseDsmlAssistantOutput(absl::string_view text,
                                               const ParseOptions& options = {});

// The same turn as a message: role kAssistant, reasoning, content and tool calls as parsed,
// raw_text = `text`, and parse_error = the error's message ("" when it parsed).
Message ParseDsmlMessage(absl::string_view text, const ParseOptions& options = {});

}  // namespace dsarl::model

#endif  // DSARL_MODEL_DSML_PARSER_H_
