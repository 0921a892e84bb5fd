#!/usr/bin/env python3
"""Reference outputs of Hugging Face `tokenizers` for dsarl's BpeTokenizer, for tests only.

It trains small byte-level BPE tokenizers on a corpus it generates (English, code, CJK, Japanese,
emoji with ZWJ sequences, numbers, runs of whitespace, chat markup), writes each tokenizer.json
and, for a list of test strings (some not valid UTF-8), what `tokenizers` gives: the pre-tokens,
the ids with and without added tokens recognized, and the decodes. bpe_tokenizer_test.cc loads
the same files and must agree.

Strings that are not valid UTF-8 are given to `tokenizers` as bytes.decode("utf-8", "replace"),
which is what BpeTokenizer does with them.

usage: bpe_reference.py OUTDIR            tokenizers + expected.json
       bpe_reference.py --corpus OUTDIR   also bench_corpus.txt (~1 MB), for bpe_bench
"""
import json
import os
import random
import sys

from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, processors, trainers
from tokenizers import pre_tokenizers as pt

DEEPSEEK_PATTERNS = [
    r"\p{N}{1,3}",
    r"[一-龥぀-ゟ゠-ヿ]+",
    r"[!\"#$%&'()*+,\-./:;<=>?@\[\\\]^_`{|}~][A-Za-z]+|[^\r\n\p{L}\p{P}\p{S}]?[\p{L}\p{M}]+|"
    r" ?[\p{P}\p{S}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+",
]
LLAMA3_PATTERN = (r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}|"
                  r" ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+")
SPECIALS = [
    "<｜begin▁of▁sentence｜>", "<｜end▁of▁sentence｜>", "<｜User｜>", "<｜Assistant｜>", "<think>",
    "</think>", "<bos>", "<eos>", "<pad>", "<|User|>", "<|Assistant|>", "<function_calls>",
    "</function_calls>", "<invoke name=\"", "</invoke>", "<parameter name=\"", "</parameter>",
    "<function_results>", "</function_results>", "<result>", "</result>",
]

WORDS = ("the of and to in is was for on that with as by it at from his an were are which this be "
         "or has had not but what all when we there can been one would will more if no out so up "
         "said about into than them its only other new some could time these two may first then "
         "don't you'll I'm we've they'd she's it'll HELLO World Tokenizer DeepSeek naïve café "
         "résumé Straße œuvre São Paulo Ελληνικά русский язык العربية हिन्दी ภาษาไทย").split()
CJK = "我爱自然语言处理今天天气很好中文分词模型训练数据大规模预训练强化学习"
KANA = "こんにちは世界ひらがなカタカナトークナイザーですますよろしくお願いします"
HANGUL = "안녕하세요 한국어 토크나이저"
EMOJI = ["👍", "👍🏽", "👨‍👩‍👧‍👦", "🏳️‍🌈", "❤️", "🧑‍💻", "😀", "🎉", "🇯🇵", "✨"]
CODE = [
    "def f(x):\n\treturn x ** 2  # square\n",
    "for (int i = 0; i < n; ++i) {\n    sum += a[i];\n}\n",
    "if x != None and y >= 3:\n        print(f\"{x}={y!r}\")\r\n",
    "SELECT id, name FROM users WHERE age > 30;\n",
    "const std::vector<int32_t>& ids = tok.Encode(\"hi\");\n",
    "<div class=\"a\">&nbsp;</div>\n",
    "https://example.com/path?q=1&r=2#frag",
]


def chat_line(rng):
    parts = [rng.choice(["<｜User｜>", "<|User|>"]), rng.choice(WORDS), " ", rng.choice(WORDS),
             rng.choice(["<｜Assistant｜>", "<|Assistant|>"]), "<think>", rng.choice(WORDS),
             "</think>", "<function_calls><invoke name=\"search\"><parameter name=\"q\">",
             rng.choice(WORDS), "</parameter></invoke></function_calls>", "<eos>"]
    return "".join(parts)


def corpus_line(rng):
    kind = rng.randrange(9)
    if kind == 0:
        return " ".join(rng.choice(WORDS) for _ in range(rng.randrange(3, 20))) + "."
    if kind == 1:
        return rng.choice(CODE)
    if kind == 2:
        return "".join(rng.choice(CJK) for _ in range(rng.randrange(4, 30))) + "。"
    if kind == 3:
        return "".join(rng.choice(KANA) for _ in range(rng.randrange(4, 30))) + "！" + HANGUL
    if kind == 4:
        return " ".join(rng.choice(EMOJI) + rng.choice(WORDS) for _ in range(rng.randrange(2, 8)))
    if kind == 5:
        nums = [str(rng.randrange(10 ** rng.randrange(1, 12))) for _ in range(rng.randrange(2, 8))]
        return " ".join(nums) + f" {rng.random():.5f} -{rng.randrange(99)} ١٢٣٤"
    if kind == 6:
        ws = rng.choice([" " * rng.randrange(2, 12), "\t" * rng.randrange(1, 4), "\r\n", "\n\n",
                         "   \n", " \t "])
        return rng.choice(WORDS) + ws + rng.choice(WORDS) + " " * rng.randrange(0, 4)
    if kind == 7:
        return chat_line(rng)
    return "".join(rng.choice(WORDS + EMOJI + list(CJK)) for _ in range(rng.randrange(2, 10)))


def make_corpus(seed, n_bytes):
    rng = random.Random(seed)
    lines, size = [], 0
    while size < n_bytes:
        line = corpus_line(rng)
        lines.append(line)
        size += len(line.encode()) + 1
    return lines


def train(pre_tokenizer, vocab_size, lines):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizer
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=vocab_size, initial_alphabet=pt.ByteLevel.alphabet(),
                                  special_tokens=SPECIALS, show_progress=False)
    tok.train_from_iterator(lines, trainer)
    return tok


def deepseek_pre_tokenizer():
    splits = [pt.Split(Regex(p), behavior="isolated", invert=False) for p in DEEPSEEK_PATTERNS]
    return pt.Sequence(splits + [pt.ByteLevel(add_prefix_space=False, use_regex=False)])


def variant(base, pre_tokenizer=None, edit=None):
    """A copy of `base` with another pre-tokenizer and/or an edit of its JSON, as (the tokenizer,
    the JSON text to save: `tokenizers` would write its own merge format back)."""
    j = json.loads(base.to_str())
    if pre_tokenizer is not None:
        j["pre_tokenizer"] = json.loads(pre_tokenizer.__getstate__())
    if edit is not None:
        edit(j)
    text = json.dumps(j, ensure_ascii=False)
    return Tokenizer.from_str(text), text


def legacy_merges(j):
    j["model"]["merges"] = [" ".join(m) for m in j["model"]["merges"]]


def ignore_merges(j):
    j["model"]["ignore_merges"] = True


def build_tokenizers(lines):
    """name -> (tokenizer, its tokenizer.json text)."""
    toks = {}
    ds = train(deepseek_pre_tokenizer(), 1500, lines)
    bos = SPECIALS[0]
    ds.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A", pair=f"{bos} $A $B", special_tokens=[(bos, ds.token_to_id(bos))])
    toks["deepseek"] = ds, ds.to_str()
    toks["deepseek_legacy_merges"] = variant(ds, edit=legacy_merges)
    gpt2 = train(pt.ByteLevel(add_prefix_space=True, use_regex=True), 1000, lines)
    gpt2.add_special_tokens([AddedToken("<mask>", lstrip=True, rstrip=True, special=True)])
    gpt2.add_tokens([AddedToken("hello world", special=False, normalized=True)])
    toks["gpt2"] = gpt2, gpt2.to_str()
    llama = pt.Sequence([pt.Split(Regex(LLAMA3_PATTERN), "isolated"),
                         pt.ByteLevel(add_prefix_space=False, use_regex=False)])
    toks["llama3_ignore_merges"] = variant(ds, llama, ignore_merges)
    bl = pt.ByteLevel(add_prefix_space=True, use_regex=False)
    for name, step in [("removed", pt.Split(Regex(r"\s+"), "removed")),
                       ("merged_prev", pt.Split(Regex(r"[,.!?]"), "merged_with_previous")),
                       ("merged_next", pt.Split(Regex(r"[-_(]"), "merged_with_next")),
                       ("contiguous", pt.Split(Regex(r"[aeiou]"), "contiguous")),
                       ("inverted", pt.Split(Regex(r"\p{L}+"), "isolated", invert=True)),
                       ("string", pt.Split("ab", "isolated")),
                       ("digits", pt.Digits(individual_digits=True)),
                       ("digit_runs", pt.Digits(individual_digits=False))]:
        toks["split_" + name] = variant(ds, pt.Sequence([step, bl]))
    return toks


def test_strings(rng):
    s = [
        "", "Hello, world!", "The quick brown fox jumps over the lazy dog.",
        "1234567890 3.14159 -42 1e10 ١٢٣ ٤٥ ⅷ ½", "我爱自然语言处理。今天天气很好！",
        "こんにちは、世界！カタカナとひらがな", "안녕하세요", "👍🏽 👨‍👩‍👧‍👦 🏳️‍🌈 ❤️ 🧑‍💻",
        "def f(x):\n\treturn x**2  # square\n", "a    b\t\t\tc\r\n\r\nd   \n  \n", "end   ",
        "   start", "   \n\t ", "don't you'll I'm we've THEY'LL", "U.S.A. e.g. 3:45pm",
        "https://example.com/path?q=1&r=2#frag", "∑∫√∞≠≤≥", "e\u0301 a\u0308 n\u0303",
        "a\u00a0b a\u0085b a\u200bb a\u3000b a\u180eb \ufeffx a\u2028b", "a" * 500, " " * 300,
        "1" * 100, "😀" * 50, "<｜User｜>hi<｜Assistant｜><think>ok</think>",
        "<｜begin▁of▁sentence｜><｜User｜>What is 2+2?<｜Assistant｜><think>\nEasy.\n</think>4"
        "<｜end▁of▁sentence｜>",
        "<bos><|User|>find cats<|Assistant|><function_calls><invoke name=\"search\">"
        "<parameter name=\"q\">cats</parameter></invoke></function_calls><eos>",
        "<function_results><result>{\"n\": 3}</result></function_results>",
        "<|Use", "<think", "<<think>>", "<eos><eos>", "  <eos>  x", "<think></think>",
        "x <mask>  y", " <mask>", "<mask>", "a<mask>b", "hello world and hello worlds",
        "hello  world", "Ġhello", "ab abab cab", "well-known (yes) foo_bar", "Hi! How? Fine, ok.",
        "aeiou queue", "tab\there", "\r\n\r\n", "\n", " ", "x\n\n\n   y",
    ]
    cases = [t.encode() for t in s]
    cases += [b"\xff\xfe abc \xc3\x28 \xe2\x82 \xf0\x9f\x98", b"\x80\x80x", b"\xc0\xaf",
              b"\xed\xa0\x80", b"ok\xf4\x90\x80\x80ok", b"<eos>\xff<think>", b"\xe4\xbd",
              b"  \xff  ", b"1\x802\x803"]
    pool = list(" \t\n\r  abcXYZ019.,!?'\"-_<>|/") + list(CJK[:8] + KANA[:8]) + EMOJI + \
        ["<eos>", "<think>", "<｜User｜>", "<mask>", "hello world", "\u0301", "\u00a0", "١"]
    for _ in range(150):
        t = "".join(rng.choice(pool) for _ in range(rng.randrange(1, 40))).encode()
        if rng.random() < 0.3:  # damage a few bytes
            b = bytearray(t)
            for _ in range(rng.randrange(1, 4)):
                b[rng.randrange(len(b))] = rng.randrange(256)
            t = bytes(b)
        cases.append(t)
    return cases


# One-character patterns whose sets must agree between Oniguruma (in `tokenizers`) and our PCRE2
# translation, over every code point up to CJK Extension H and the tag / variation-selector block.
CLASS_PATTERNS = [r"\s", r"\S", r"[\s]", r"[^\s\p{L}\p{N}]", r"[^\r\n\p{L}\p{P}\p{S}]", r"\p{L}",
                  r"\p{N}", r"\p{P}", r"\p{S}", r"\p{M}", r"[\p{L}\p{M}]", r"\d", r"\w", r"\W",
                  r"\h", r"\v", r"[一-龥぀-ゟ゠-ヿ]", r"(?i:k)"]
SWEEP = [(0, 0xD7FF), (0xE000, 0x323AF), (0xE0000, 0xE01EF)]


def class_ranges():
    """pattern -> [[first, last], ...] of the code points it matches, as Oniguruma sees them."""
    cps = [c for lo, hi in SWEEP for c in range(lo, hi + 1)]
    text = "".join(map(chr, cps))
    out = {}
    for pattern in CLASS_PATTERNS:
        unmatched = [False] * len(cps)
        split = pt.Split(Regex(pattern), "removed")
        for _, (b, e) in split.pre_tokenize_str(text):
            unmatched[b:e] = [True] * (e - b)
        ranges = []
        for i, c in enumerate(cps):
            if unmatched[i]:
                continue
            if ranges and ranges[-1][1] == c - 1:
                ranges[-1][1] = c
            else:
                ranges.append([c, c])
        out[pattern] = ranges
    return out


def adds_prefix_space(pre):
    """Whether a ByteLevel step adds a space (then Decode(Encode(s)) != s)."""
    if pre["type"] == "Sequence":
        return any(adds_prefix_space(p) for p in pre["pretokenizers"])
    return pre["type"] == "ByteLevel" and pre.get("add_prefix_space", True)


def expected_for(tok, cases):
    plain = Tokenizer.from_str(tok.to_str())
    plain.encode_special_tokens = True  # every added token stays text
    non_special = [t.content for t in tok.get_added_tokens_decoder().values() if not t.special]
    out = []
    for raw in cases:
        text = raw.decode("utf-8", "replace")
        ids = tok.encode(text, add_special_tokens=False).ids
        case = {
            "hex": raw.hex(),
            "sanitized_hex": text.encode().hex(),
            "pieces": [p for p, _ in tok.pre_tokenizer.pre_tokenize_str(text)],
            "with_specials": ids,
            "decode": tok.decode(ids, skip_special_tokens=False),
        }
        # encode_special_tokens still recognizes non-special added tokens: compare only where
        # none is written in the text.
        if not any(c in text for c in non_special):
            case["encode"] = plain.encode(text, add_special_tokens=False).ids
            case["decode_encode"] = tok.decode(case["encode"], skip_special_tokens=False)
        out.append(case)
    return out


def main():
    args = sys.argv[1:]
    want_corpus = "--corpus" in args
    args = [a for a in args if a != "--corpus"]
    if len(args) != 1:
        sys.exit(__doc__)
    out_dir = args[0]
    os.makedirs(out_dir, exist_ok=True)
    toks = build_tokenizers(make_corpus(seed=1, n_bytes=400_000))
    cases = test_strings(random.Random(2))
    expected = {}
    for name, (tok, text) in toks.items():
        path = os.path.join(out_dir, name + ".json")
        with open(path, "w") as f:
            f.write(text)
        added = tok.get_added_tokens_decoder()
        expected[name] = {
            "vocab_size": tok.get_vocab_size(with_added_tokens=True),
            "specials": {t.content: i for i, t in added.items() if t.special},
            "with_template": tok.encode("hi", add_special_tokens=True).ids,
            "round_trips": not adds_prefix_space(json.loads(text)["pre_tokenizer"]),
            "cases": expected_for(tok, cases),
        }
    with open(os.path.join(out_dir, "expected.json"), "w") as f:
        json.dump(expected, f, ensure_ascii=False)
    with open(os.path.join(out_dir, "classes.json"), "w") as f:
        json.dump({"sweep": SWEEP, "classes": class_ranges()}, f, ensure_ascii=False)
    if want_corpus:
        with open(os.path.join(out_dir, "bench_corpus.txt"), "w") as f:
            f.write("\n".join(make_corpus(seed=3, n_bytes=1_000_000)) + "\n")


if __name__ == "__main__":
    main()
