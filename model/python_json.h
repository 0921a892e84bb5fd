// JSON text exactly as Python's json.dumps(value, ensure_ascii=False) writes it. DeepSeek-V3.2's
// published chat encoding (model/chat_format_dsv32.h) embeds tool schemas serialized that way, so a
// byte-identical prompt needs Python's spacing and number forms, which Json::Dump (compact, C++
// shortest forms) does not produce.
#ifndef DSARL_MODEL_PYTHON_JSON_H_
#define DSARL_MODEL_PYTHON_JSON_H_

#include <string>

#include "base/json.h"

namespace dsarl::model {

// The text of json.dumps(value, ensure_ascii=False) with its default separators ", " and ": ":
// objects keep their member order; strings escape '"', '\\', \n \r \t \b \f and other control
// characters as \u00XX (lower-case hex) and keep every other character, non-ASCII included;
// integers are written exactly; other numbers as Python's repr(float) ("1.0", "1e-05", "1e+16");
// NaN and infinities as Python writes them by default ("NaN", "Infinity", "-Infinity"). Invalid
// UTF-8 in a string (which a Python str cannot hold) becomes U+FFFD. Never fails.
std::string PythonJsonDumps(const Json& value);

}  // namespace dsarl::model

#endif  // DSARL_MODEL_PYTHON_JSON_H_
