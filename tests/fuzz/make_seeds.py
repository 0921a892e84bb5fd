#!/usr/bin/env python3
"""Writes the generated seeds of the fuzz corpus (docs/fuzzing.md): small safetensors images,
config.json variants and chat_format inputs, which are binary or tedious to write by hand. The
hand-written seeds beside them are files in corpus/. Deterministic: rerunning rewrites the same
bytes. Usage: tests/fuzz/make_seeds.py (from anywhere)."""

import json
import os
import struct

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def write(target, name, data):
    path = os.path.join(CORPUS, target, name)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data if isinstance(data, bytes) else data.encode())


def safetensors(tensors, metadata=None, pad=True, trailing=b""):
    """tensors: [(name, dtype, shape, bytes)] laid out in order, as the writer does."""
    header, offset, data = {}, 0, b""
    if metadata is not None:
        header["__metadata__"] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": [offset, offset + len(raw)]}
        offset += len(raw)
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    if pad:
        text += b" " * ((8 - len(text) % 8) % 8)
    return struct.pack("<Q", len(text)) + text + data + trailing


def raw_header(text, data=b""):
    return struct.pack("<Q", len(text)) + text.encode() + data


def safetensors_seeds():
    f32 = struct.pack("<4f", 1.0, -2.5, 0.0, float("inf"))
    f16 = struct.pack("<3H", 0x3C00, 0x0001, 0x7E00)  # 1, the smallest subnormal, NaN
    bf16 = struct.pack("<2H", 0x3F80, 0xFF80)  # 1, -inf
    f64 = struct.pack("<d", 3.141592653589793)
    write("safetensors", "f32.safetensors", safetensors([("w", "F32", [2, 2], f32)]))
    write("safetensors", "mixed.safetensors", safetensors(
        [("model.embed_tokens.weight", "F32", [4], f32), ("h", "F16", [3], f16),
         ("b", "BF16", [1, 2], bf16), ("d", "F64", [], f64),
         ("ids", "I64", [1], struct.pack("<q", -1)),
         ("mask", "BOOL", [2], b"\x01\x00"), ("e", "F32", [0, 3], b"")],
        metadata={"format": "pt", "step": "140"}))
    write("safetensors", "empty.safetensors", safetensors([]))
    write("safetensors", "metadata_only.safetensors", safetensors([], metadata={"k": "v"}))
    write("safetensors", "all_dtypes.safetensors", safetensors(
        [(d, d, [1], b"\x00" * n) for d, n in [
            ("BOOL", 1), ("U8", 1), ("I8", 1), ("F8_E5M2", 1), ("F8_E4M3", 1), ("I16", 2),
            ("U16", 2), ("F16", 2), ("BF16", 2), ("I32", 4), ("U32", 4), ("F32", 4), ("F64", 8),
            ("I64", 8), ("U64", 8)]]))
    # Refused files: each names one check of the reader.
    write("safetensors", "huge_shape.safetensors", raw_header(
        '{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,0]}}'))
    write("safetensors", "zero_dim_overflow.safetensors", raw_header(
        '{"w":{"dtype":"U8","shape":[4611686018427387904,2,0],"data_offsets":[0,0]}}'))
    write("safetensors", "gap.safetensors", raw_header(
        '{"a":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"\x00\x00"))
    write("safetensors", "overlap.safetensors", raw_header(
        '{"a":{"dtype":"U8","shape":[2],"data_offsets":[0,2]},'
        '"b":{"dtype":"U8","shape":[1],"data_offsets":[1,2]}}', b"\x00\x00"))
    write("safetensors", "trailing.safetensors",
          safetensors([("w", "U8", [1], b"\x07")], trailing=b"junk"))
    write("safetensors", "bad_dtype.safetensors", raw_header(
        '{"w":{"dtype":"F128","shape":[1],"data_offsets":[0,16]}}', b"\x00" * 16))
    write("safetensors", "extra_field.safetensors", raw_header(
        '{"w":{"dtype":"U8","shape":[1],"data_offsets":[0,1],"x":1}}', b"\x00"))
    write("safetensors", "header_too_long.safetensors", struct.pack("<Q", 1 << 40) + b"{}")
    write("safetensors", "not_object.safetensors", raw_header("[1,2]"))
    write("safetensors", "short.safetensors", b"\x02\x00\x00")


def config_json_seeds():
    base = {
        "architectures": ["DeepseekV32ForCausalLM"], "model_type": "deepseek_v32",
        "vocab_size": 320, "hidden_size": 256, "intermediate_size": 512,
        "moe_intermediate_size": 256, "num_hidden_layers": 4, "num_attention_heads": 4,
        "num_key_value_heads": 4, "q_lora_rank": 128, "kv_lora_rank": 64, "qk_nope_head_dim": 32,
        "qk_rope_head_dim": 16, "v_head_dim": 32, "index_n_heads": 4, "index_head_dim": 32,
        "index_topk": 64, "n_routed_experts": None, "n_shared_experts": 1,
        "num_experts_per_tok": 2, "first_k_dense_replace": 4, "n_group": 1, "topk_group": 1,
        "routed_scaling_factor": 1, "norm_topk_prob": True, "max_position_embeddings": 1024,
        "initializer_range": 0.02, "rms_norm_eps": 1e-06, "rope_theta": 10000,
        "rope_scaling": None, "tie_word_embeddings": False, "dsarl_attention_mode": "sparse"}
    write("config_json", "tiny.json", json.dumps(base, indent=2))
    moe = dict(base, n_routed_experts=8, n_group=2, topk_group=1, first_k_dense_replace=1,
               dsarl_attention_mode="dense_warmup",
               rope_scaling={"type": "yarn", "factor": 4, "original_max_position_embeddings": 256,
                             "beta_fast": 32, "beta_slow": 1, "mscale": 1, "mscale_all_dim": 0.5})
    write("config_json", "moe_yarn.json", json.dumps(moe))
    write("config_json", "dense.json", json.dumps(dict(base, dsarl_attention_mode="dense")))
    missing = dict(base)
    del missing["hidden_size"]
    write("config_json", "missing_key.json", json.dumps(missing))
    write("config_json", "tied.json", json.dumps(dict(base, tie_word_embeddings=True)))
    write("config_json", "odd_rope.json", json.dumps(dict(base, qk_rope_head_dim=15)))
    write("config_json", "huge_layers.json", json.dumps(dict(base, num_hidden_layers=1000000)))
    write("config_json", "huge_float.json", json.dumps(base).replace('"rope_theta": 10000',
                                                                     '"rope_theta": 1e300'))
    write("config_json", "negative.json", json.dumps(dict(base, vocab_size=-1)))
    write("config_json", "string_value.json", json.dumps(dict(base, hidden_size="256")))
    write("config_json", "not_object.json", "[1, 2, 3]")


def chat_format_seeds():
    # Form 0: text with markup, tokenized as a trusted solution.
    write("chat_format", "text_answer.bin", b"\x00add</think>4<eos>")
    write("chat_format", "text_call.bin",
          b'\x00look up</think><function_calls><invoke name="get_weather"><parameter name="city">'
          b"Paris</parameter></invoke></function_calls><eos>")
    write("chat_format", "text_results.bin",
          b"\x00<function_results><result>sunny</result></function_results><think>")
    # Form 1: token ids, int16 little-endian.
    ids = [ord(c) for c in "hi"] + [262] + [ord(c) for c in "ok"] + [258]
    write("chat_format", "ids_answer.bin", b"\x01" + struct.pack("<%dh" % len(ids), *ids))
    odd = [256, 257, 273, 319, 320, -1, -32768, 32767, 0, 255, 258]
    write("chat_format", "ids_unused.bin", b"\x01" + struct.pack("<%dh" % len(odd), *odd))
    call = ([ord(c) for c in "r"] + [262, 263, 265] + [ord(c) for c in 'f">'] + [267] +
            [ord(c) for c in 'x">1'] + [268, 266, 264, 258])
    write("chat_format", "ids_call.bin", b"\x01" + struct.pack("<%dh" % len(call), *call))
    # Form 2: reasoning NUL content NUL @name NUL key NUL value ...
    write("chat_format", "message_plain.bin", b"\x02add\x004")
    write("chat_format", "message_calls.bin",
          b"\x02look up\x00\x00@get_weather\x00city\x00Paris\x00@noop\x00@add\x00a\x003\x00b\x00-4")
    write("chat_format", "message_bytes.bin", b"\x02caf\xc3\xa9 \xff\x00<b>\x00@f\x00v\x00 \n\t<")
    write("chat_format", "message_markup.bin",
          b"\x02a<eos>b\x00c</think>d\x00@f g\x00k\x00<|User|>")
    write("chat_format", "message_unnamed.bin", b"\x02r\x00c\x00@\x00k\x00v\x00k\x00w")


if __name__ == "__main__":
    safetensors_seeds()
    config_json_seeds()
    chat_format_seeds()
