#!/usr/bin/env python3
"""Writes tests/data/dsv32/{conversations,expected}.json from DeepSeek-V3.2's published encoder.

model/chat_format_dsv32.cc reimplements the encoder's behaviour in C++; its test compares the C++
output byte for byte with what the encoder itself writes for the conversations below. The
encoder's file (encoding_dsv32.py; mlx-lm ships a copy as mlx_lm/chat_templates/deepseek_v32.py)
is passed as the first argument, or taken from `pip download --no-deps mlx-lm` when none is given:

  python3 scripts/make_dsv32_fixture.py [path/to/deepseek_v32.py] [output_dir]

Conversations are written in dsarl's own terms (model::Conversation: system text, ToolSpecs,
messages with raw-text tool-call arguments) and converted here to the encoder's input, the
OpenAI-style message list; that conversion is the mapping the C++ side implements.
"""

import glob
import importlib.util
import json
import os
import subprocess
import sys
import tempfile
import types
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_OUT = os.path.join(HERE, "..", "tests", "data", "dsv32")


def load_encoder(path):
    # The encoder imports get_json_schema only for tools given as Python functions; stub it so
    # that transformers need not be installed.
    for name in ("transformers", "transformers.utils"):
        sys.modules.setdefault(name, types.ModuleType(name))
    sys.modules["transformers.utils.chat_template_utils"] = types.SimpleNamespace(
        get_json_schema=None)
    spec = importlib.util.spec_from_file_location("encoding_dsv32", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def find_encoder():
    tmp = tempfile.mkdtemp(prefix="dsv32_")
    subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "-d", tmp, "mlx-lm"],
                   check=True)
    wheel = glob.glob(os.path.join(tmp, "mlx_lm-*.whl"))[0]
    member = "mlx_lm/chat_templates/deepseek_v32.py"
    with zipfile.ZipFile(wheel) as z:
        z.extract(member, tmp)
    return os.path.join(tmp, member)


# --- dsarl conversation -> the encoder's input -------------------------------------------------


def tool_schema(tool):
    """A ToolSpec as the JSON-schema object the C++ renders (same keys, same order)."""
    params = tool.get("parameters", [])
    properties = {}
    for p in params:
        prop = {"type": p.get("type") or "string"}
        if p.get("description"):
            prop["description"] = p["description"]
        properties[p["name"]] = prop
    return {
        "name": tool["name"],
        "description": tool.get("description", ""),
        "parameters": {
            "type": "object",
            "properties": properties,
            "required": [p["name"] for p in params if p.get("required")],
        },
    }


def is_string_param(tools, tool_name, key):
    for tool in tools:
        if tool["name"] != tool_name:
            continue
        for p in tool.get("parameters", []):
            if p["name"] == key:
                return (p.get("type") or "string") == "string"
    return True  # unknown tool or parameter: the raw text is a string


def arguments_json(tools, call):
    args = {}
    for key, raw in call["arguments"]:
        args[key] = raw if is_string_param(tools, call["name"], key) else json.loads(raw)
        if not isinstance(args[key], str):
            # The C++ writes the raw text; the encoder writes json.dumps of the parsed value. The
            # fixture keeps them equal (the difference is documented in chat_format_dsv32.h).
            assert json.dumps(args[key], ensure_ascii=False) == raw, (call, raw)
    return json.dumps(args, ensure_ascii=False)


def encoder_messages(conv):
    tools = conv.get("tools", [])
    out = []
    if conv.get("system") or tools:
        system = {"role": "system", "content": conv.get("system", "")}
        if tools:
            system["tools"] = [{"type": "function", "function": tool_schema(t)} for t in tools]
        out.append(system)
    for m in conv["messages"]:
        msg = {"role": m["role"], "content": m.get("content", "")}
        if m["role"] == "assistant":
            if m.get("reasoning"):
                msg["reasoning_content"] = m["reasoning"]
            if m.get("tool_calls"):
                msg["tool_calls"] = [{
                    "type": "function",
                    "function": {"name": c["name"], "arguments": arguments_json(tools, c)},
                } for c in m["tool_calls"]]
        out.append(msg)
    return out


def encode(enc, conv, messages):
    opts = conv.get("options", {})
    return enc.encode_messages(
        encoder_messages(dict(conv, messages=messages)),
        thinking_mode="thinking" if opts.get("thinking", True) else "chat",
        drop_thinking=opts.get("drop_thinking", True),
        add_default_bos_token=opts.get("add_bos", True))


# --- the conversations -------------------------------------------------------------------------


def user(text):
    return {"role": "user", "content": text}


def asst(reasoning, content, calls=()):
    m = {"role": "assistant", "reasoning": reasoning, "content": content}
    if calls:
        m["tool_calls"] = [{"name": n, "arguments": [list(kv) for kv in args]} for n, args in calls]
    return m


def tool(text):
    return {"role": "tool", "content": text}


def param(name, type_, description, required):
    return {"name": name, "type": type_, "description": description, "required": required}


WEATHER = {
    "name": "get_weather",
    "description": "Current weather for a city. Température en °C, 天气.",
    "parameters": [
        param("city", "string", "City name, e.g. Zürich or 北京", True),
        param("days", "integer", "How many days ahead (0 = today)", False),
    ],
}
CALC = {
    "name": "calculator",
    "description": "Evaluates an arithmetic expression.",
    "parameters": [
        param("expression", "string", "", True),
        param("precision", "number", "Rounding step, e.g. 0.01", False),
    ],
}
SEARCH = {
    "name": "search",
    "description": "Searches the web 🔎",
    "parameters": [
        param("query", "", "Free text; type left unset", True),
        param("limit", "integer", "Maximum results", False),
        param("sites", "array", "Restrict to these sites (JSON list)", False),
    ],
}
CLOCK = {"name": "now", "description": "", "parameters": []}
ESCAPES = {
    "name": "escapes",
    "description": "Quotes \" and backslash \\ and / slash\ttab\nnewline\r\x01\x1f\x7f"
                   "\u2028 sep \ufeff bom é 😀 \b\f",
    "parameters": [param("x", "string", "tab\there \"q\" \\n literal", True)],
}

CASES = [
    ("no_system_single_turn", {}, "", [], [user("2+2?"), asst("Add them.", "4")]),
    ("system_only", {}, "You are terse.", [], [user("Capital of France?"),
                                                asst("Easy.", "Paris.")]),
    ("system_with_tools", {}, "You help with weather.", [WEATHER, CALC, SEARCH], [
        user("Weather in Zürich in 2 days?"),
        asst("Call the tool.", "", [("get_weather", [("city", "Zürich"), ("days", "2")])]),
        tool('{"temp": 21, "sky": "clear"}'),
        asst("It is clear.", "Clear, 21 °C."),
    ]),
    ("multi_turn_dropped_reasoning", {}, "Be kind.", [], [
        user("Hi"), asst("Greet back.", "Hello!"),
        user("What is 3*7?"), asst("3*7=21", "21"),
        user("And 21/3?"), asst("21/3=7", "7"),
    ]),
    ("several_calls_one_turn", {}, "", [WEATHER, CALC], [
        user("Weather in Paris and Rome, and 12*12?"),
        asst("Three calls.", "Checking.", [
            ("get_weather", [("city", "Paris")]),
            ("get_weather", [("city", "Rome"), ("days", "0")]),
            ("calculator", [("expression", "12*12"), ("precision", "0.5")]),
        ]),
        tool("sunny"), tool("rain"), tool("144"),
        asst("All back.", "Paris sunny, Rome rain, 144."),
    ]),
    ("ends_with_tool_results", {}, "Tools allowed.", [CALC], [
        user("1+1?"),
        asst("Use the calculator.", "", [("calculator", [("expression", "1+1")])]),
        tool("2"),
    ]),
    ("ends_with_user", {}, "", [], [
        user("Name a color."), asst("Pick one.", "Blue."), user("Another?"),
    ]),
    ("no_reasoning_after_tool_result", {}, "", [SEARCH, CALC], [
        user("Find pi and double it."),
        asst("Search first.", "", [("search", [("query", "value of pi"), ("limit", "1")])]),
        tool("3.14159"),
        asst("", "", [("calculator", [("expression", "2*3.14159")])]),
        tool("6.28318"),
        asst("Done.", "6.28318"),
    ]),
    ("chat_mode", {"thinking": False}, "Chat mode.", [CALC], [
        user("5*5?"),
        asst("", "", [("calculator", [("expression", "5*5")])]),
        tool("25"),
        asst("", "25."),
        user("Thanks"), asst("", "You're welcome."),
    ]),
    ("chat_mode_ends_with_user", {"thinking": False}, "", [], [
        user("Hi"), asst("", "Hello."), user("Bye"),
    ]),
    ("chat_mode_ends_with_tool_results", {"thinking": False}, "", [CLOCK], [
        user("Time?"), asst("", "", [("now", [])]), tool("12:00"),
    ]),
    ("cjk_emoji", {}, "你是一个有帮助的助手。", [], [
        user("请用一句话介绍北京 🏯"),
        asst("考えています…🤔", "北京是中国的首都。🎉"),
        user("谢谢！😊"),
        asst("返事。", "不客气 👍"),
    ]),
    ("empty_content", {}, "", [CLOCK], [
        user(""),
        asst("Nothing asked; check the time.", "", [("now", [])]),
        tool(""),
        asst("Empty result.", ""),
    ]),
    ("tools_without_system", {}, "", [CLOCK, CALC], [
        user("What time is it?"),
        asst("Ask the clock.", "", [("now", [])]),
        tool("09:30"),
        asst("Got it.", "09:30"),
    ]),
    ("no_bos", {"add_bos": False}, "System.", [], [user("Hi"), asst("Say hi.", "Hi!")]),
    ("drop_thinking_false", {"drop_thinking": False}, "", [], [
        user("A?"), asst("Think A.", "A."), user("B?"), asst("Think B.", "B."),
    ]),
    ("tool_calls_in_earlier_exchange", {}, "", [WEATHER], [
        user("Weather in Oslo?"),
        asst("Look it up.", "One moment.", [("get_weather", [("city", "Oslo")])]),
        tool("snow"),
        asst("Snow.", "It snows."),
        user("And tomorrow in Bergen?"),
        asst("Again.", "", [("get_weather", [("city", "Bergen"), ("days", "1")])]),
        tool("rain"),
        asst("Rain.", "Rain in Bergen."),
    ]),
    ("json_escapes_in_tool_specs", {}, "Escapes.", [ESCAPES], [
        user("x"), asst("Call.", "", [("escapes", [("x", "a \"b\" \\c\n<d>")])]), tool("ok"),
    ]),
    ("markup_like_text", {}, "Don't write <｜end▁of▁sentence｜> yourself.", [SEARCH], [
        user("Is <｜end▁of▁sentence｜> or <｜DSML｜function_calls> special? </think>"),
        asst("They look like markup: <｜User｜>.", "Text: <｜DSML｜invoke name=\"x\">",
             [("search", [("query", "<｜end▁of▁sentence｜> token"),
                          ("sites", "[\"a.org\", \"b.org\"]")])]),
        tool("<｜Assistant｜> result with <｜end▁of▁sentence｜>"),
    ]),
    ("multiline_and_json_values", {}, "", [SEARCH, CALC], [
        user("Search two lines."),
        asst("Multi-line query.", "", [("search", [
            ("query", "line one\nline two\n"), ("limit", "10"),
            ("sites", "[\"x.com\", {\"y\": [1, 2.5, null, true]}]")])]),
        tool("r1\nr2"),
        asst("Two results.", "Found two.\n\nDone."),
    ]),
]


def generation_prefix(messages):
    """The messages up to the last user or tool message: a prompt the encoder ends with
    "<｜Assistant｜><think>" or "\\n\\n<think>" (or "</think>" in chat mode)."""
    n = len(messages)
    while n > 0 and messages[n - 1]["role"] == "assistant":
        n -= 1
    return n


def main():
    path = sys.argv[1] if len(sys.argv) > 1 else find_encoder()
    out_dir = sys.argv[2] if len(sys.argv) > 2 else DEFAULT_OUT
    enc = load_encoder(path)
    conversations, expected = [], []
    for name, options, system, tools, messages in CASES:
        conv = {"name": name, "options": options, "system": system, "tools": tools,
                "messages": messages}
        conversations.append(conv)
        n = generation_prefix(messages)
        expected.append({
            "name": name,
            "training": encode(enc, conv, messages),
            "generation_messages": n,
            "generation": encode(enc, conv, messages[:n]),
        })
    os.makedirs(out_dir, exist_ok=True)
    for file_name, value in (("conversations.json", conversations),
                             ("expected.json", expected)):
        with open(os.path.join(out_dir, file_name), "w", encoding="utf-8") as f:
            json.dump(value, f, ensure_ascii=False, indent=1)
            f.write("\n")
    print(f"wrote {len(CASES)} cases to {out_dir}")


if __name__ == "__main__":
    main()
