#!/usr/bin/env python3
"""Independent PyTorch reference of dsarl's DSA transformer (SPEC §1, §2), for tests only.

It reads a dsarl checkpoint (model.safetensors + config.json, Hugging Face DeepSeek-V3.2 names),
a batch description and dsarl's own results, recomputes log-probs and every parameter gradient in
float64 with autograd, and compares. MLA is written here in its standard (non-absorbed) form,
k_h = [W_uk,h c_kv ; k_rope], v_h = W_uv,h c_kv, so the check also covers dsarl's MQA absorption.

Discrete choices (the indexer's top-k, MoE routing) are compared first, by a rule that holds for
any summation order: dsarl's float32 choice may differ from the float64 one only among candidates
whose float64 score lies within TIE_TOL of the cut. The continuous comparison then replays dsarl's
choices, so a legitimate near-tie flip does not turn into a log-prob mismatch.

usage: dsa_reference.py DIR      (DIR holds model.safetensors, config.json, batch.json,
                                   ours.safetensors); exits 1 on any mismatch.
"""
import json
import math
import struct
import sys

import numpy as np
import torch

torch.set_default_dtype(torch.float64)
DT = {"F32": np.float32, "F64": np.float64, "I32": np.int32, "I64": np.int64}
# float32 scores of O(1) carry errors of ~1e-6; a choice within this of the cut may go either way.
TIE_TOL = 1e-4


def load_safetensors(path):
    """A minimal, independent safetensors reader (8-byte length, JSON header, raw data)."""
    with open(path, "rb") as f:
        blob = f.read()
    (n,) = struct.unpack("<Q", blob[:8])
    header = json.loads(blob[8:8 + n])
    base = 8 + n
    out = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        a, b = info["data_offsets"]
        arr = np.frombuffer(blob[base + a:base + b], dtype=DT[info["dtype"]]).reshape(info["shape"])
        out[name] = torch.from_numpy(arr.astype(np.float64 if arr.dtype.kind == "f" else np.int64))
    return out


def rms_norm(x, w, eps):
    return x * torch.rsqrt((x * x).mean(-1, keepdim=True) + eps) * w


def rope_freqs(cfg, dim, npos):
    theta = cfg["rope_theta"]
    freqs = 1.0 / (theta ** (torch.arange(0, dim, 2, dtype=torch.float64) / dim))
    amp = 1.0
    rs = cfg.get("rope_scaling")
    if rs and rs.get("factor", 1.0) > 1.0:
        f, orig = rs["factor"], rs["original_max_position_embeddings"]
        bf, bs = rs.get("beta_fast", 32), rs.get("beta_slow", 1)

        def corr(r):
            return dim * math.log(orig / (r * 2 * math.pi)) / (2 * math.log(theta))

        low, high = max(math.floor(corr(bf)), 0), min(math.ceil(corr(bs)), dim - 1)
        if low == high:
            high += 0.001
        ramp = ((torch.arange(dim // 2, dtype=torch.float64) - low) / (high - low)).clamp(0, 1)
        smooth = 1 - ramp
        freqs = freqs / f * (1 - smooth) + freqs * smooth

        def ms(m):
            return 0.1 * m * math.log(f) + 1.0

        amp = ms(rs.get("mscale", 1)) / ms(rs.get("mscale_all_dim", 1))
    ang = torch.arange(npos, dtype=torch.float64)[:, None] * freqs[None, :]
    # dsarl stores cos/sin tables in fp32; round the same way so angles agree to the last bit.
    return (torch.cos(ang) * amp).float().double(), (torch.sin(ang) * amp).float().double()


def rope_interleaved(x, cos, sin):  # x [..., T, d], pairs (2i, 2i+1)
    a, b = x[..., 0::2], x[..., 1::2]
    out = torch.stack([a * cos - b * sin, a * sin + b * cos], dim=-1)
    return out.flatten(-2)


def rope_half(x, cos, sin, rope):  # rotate-half on the first `rope` dims
    h = rope // 2
    a, b, rest = x[..., :h], x[..., h:rope], x[..., rope:]
    return torch.cat([a * cos - b * sin, a * sin + b * cos, rest], dim=-1)


def topk_recent(scores, k):
    """Top-k indices of a 1-D tensor, ties broken toward the larger index."""
    n = scores.shape[0]
    flipped = torch.flip(scores, [0])
    order = torch.sort(flipped, descending=True, stable=True).indices[:k]
    return torch.sort(n - 1 - order).values


def near_cut(scores, chosen, other, k):
    """'' when the chosen set (ours) may replace `other` (float64): every index in only one of them
    has a score within TIE_TOL (relative to the row's scale) of the k-th largest score."""
    diff = set(chosen) ^ set(other)
    if not diff:
        return ""
    kth = torch.sort(scores, descending=True).values[k - 1].item()
    scale = max(1.0, scores.abs().max().item())
    for i in sorted(diff):
        gap = abs(scores[i].item() - kth)
        if gap > TIE_TOL * scale:
            return f"index {i} (score {scores[i].item():.9g}) is {gap:.3g} from the cut {kth:.9g}"
    return ""


def mlp(x, W, prefix):
    g = x @ W[prefix + "gate_proj.weight"].T
    u = x @ W[prefix + "up_proj.weight"].T
    return (torch.nn.functional.silu(g) * u) @ W[prefix + "down_proj.weight"].T


def route(scores, bias, cfg):
    E, G = cfg["n_routed_experts"], cfg["n_group"]
    per = E // G
    choice = scores + bias
    grp = choice.view(G, per).sort(descending=True).values[:, : min(2, per)].sum(-1)
    keep = torch.sort(grp, descending=True, stable=True).indices[: cfg["topk_group"]]
    allowed = torch.zeros(E, dtype=torch.bool)
    for g in keep.tolist():
        allowed[g * per:(g + 1) * per] = True
    masked = torch.where(allowed, choice, torch.full_like(choice, -math.inf))
    return torch.sort(masked, descending=True, stable=True).indices[: cfg["num_experts_per_tok"]]


def routing_near_tie(scores, bias, cfg, ours, ref):
    """'' when our experts may replace the float64 routing `ref`: each expert in only one of the two
    sets is within TIE_TOL of the expert cut, or its group is within TIE_TOL of the group cut."""
    E, G = cfg["n_routed_experts"], cfg["n_group"]
    per = E // G
    choice = scores + bias
    grp = choice.view(G, per).sort(descending=True).values[:, : min(2, per)].sum(-1)
    group_cut = torch.sort(grp, descending=True).values[cfg["topk_group"] - 1].item()
    expert_cut = min(choice[e].item() for e in ref)
    for e in sorted(set(ours) ^ set(ref)):
        if abs(grp[e // per].item() - group_cut) <= TIE_TOL:
            continue
        if abs(choice[e].item() - expert_cut) <= TIE_TOL:
            continue
        return f"expert {e} (score {choice[e].item():.9g}) is not near a cut ({expert_cut:.9g})"
    return ""


def forward(W, cfg, batch, ours, failures):
    tokens = torch.tensor(batch["tokens"])
    starts = batch["seq_start"]
    mode = batch["mode"]
    sparse = mode == "sparse"
    idx_loss = batch["indexer_loss"] or mode == "dense_warmup"
    detach = batch["detach_indexer"]
    H, dc, nope, rope, vh = (cfg["num_attention_heads"], cfg["kv_lora_rank"],
                             cfg["qk_nope_head_dim"], cfg["qk_rope_head_dim"], cfg["v_head_dim"])
    HI, dI, topk = cfg["index_n_heads"], cfg["index_head_dim"], cfg["index_topk"]
    eps = cfg["rms_norm_eps"]
    scale = (nope + rope) ** -0.5
    rs = cfg.get("rope_scaling")
    if rs and rs.get("factor", 1.0) > 1.0:
        m = 0.1 * rs.get("mscale_all_dim", 1) * math.log(rs["factor"]) + 1.0
        scale *= m * m
    K = cfg["num_experts_per_tok"]
    n_moe = max(0, cfg["num_hidden_layers"] - cfg["first_k_dense_replace"]) if cfg["n_routed_experts"] else 0
    forced = batch.get("forced_experts") or []
    our_experts = ours["experts"].long().tolist() if "experts" in ours else []
    x = W["model.embed_tokens.weight"][tokens]
    T = tokens.shape[0]
    kl_total = torch.zeros(())
    selected = []
    moe_i = 0
    for l in range(cfg["num_hidden_layers"]):
        p = f"model.layers.{l}."
        a = p + "self_attn."
        xn = rms_norm(x, W[p + "input_layernorm.weight"], eps)
        cq = rms_norm(xn @ W[a + "q_a_proj.weight"].T, W[a + "q_a_layernorm.weight"], eps)
        q = (cq @ W[a + "q_b_proj.weight"].T).view(T, H, nope + rope)
        kva = xn @ W[a + "kv_a_proj_with_mqa.weight"].T
        ckv = rms_norm(kva[:, :dc], W[a + "kv_a_layernorm.weight"], eps)
        kvb = W[a + "kv_b_proj.weight"].view(H, nope + vh, dc)
        k_nope = torch.einsum("hnc,tc->thn", kvb[:, :nope], ckv)
        v = torch.einsum("hvc,tc->thv", kvb[:, nope:], ckv)
        # Indexer.
        xi, cqi = (xn.detach(), cq.detach()) if detach else (xn, cq)
        qi = (cqi @ W[a + "indexer.wq_b.weight"].T).view(T, HI, dI)
        ki = torch.nn.functional.layer_norm(xi @ W[a + "indexer.wk.weight"].T, (dI,),
                                            W[a + "indexer.k_norm.weight"],
                                            W[a + "indexer.k_norm.bias"], 1e-6)
        wi = (xi @ W[a + "indexer.weights_proj.weight"].T) * HI ** -0.5
        outs = []
        layer_sel = []
        for s in range(len(starts) - 1):
            b0, b1 = starts[s], starts[s + 1]
            n = b1 - b0
            cos, sin = rope_freqs(cfg, rope, n)
            qr = rope_interleaved(q[b0:b1, :, nope:].transpose(0, 1), cos, sin)  # [H, n, rope]
            kr = rope_interleaved(kva[b0:b1, dc:], cos, sin)                      # [n, rope]
            qn = q[b0:b1, :, :nope].transpose(0, 1)                                # [H, n, nope]
            kn = k_nope[b0:b1].transpose(0, 1)                                     # [H, n, nope]
            scores = (qn @ kn.transpose(1, 2) + qr @ kr.T) * scale                 # [H, n, n]
            causal = torch.tril(torch.ones(n, n, dtype=torch.bool))
            q_i = rope_half(qi[b0:b1], cos[:, None, :], sin[:, None, :], rope)     # [n, HI, dI]
            k_i = rope_half(ki[b0:b1], cos, sin, rope)                              # [n, dI]
            I = torch.einsum("tj,tjs->ts", wi[b0:b1],
                             torch.relu(torch.einsum("tjd,sd->tjs", q_i, k_i))) * dI ** -0.5
            allow = causal.clone()
            if sparse:
                allow = torch.zeros(n, n, dtype=torch.bool)
                got = ours.get(f"indices.{l}")
                got = got.reshape(T, -1).long().tolist() if got is not None else None
                for t in range(n):
                    k = min(topk, t + 1)
                    sel = [int(i) for i in topk_recent(I[t, :t + 1].detach(), k)]
                    if got is not None:  # dsarl's choice, if it is a legitimate one
                        mine = [i for i in got[b0 + t] if i >= 0]
                        why = "" if len(mine) == k else f"{len(mine)} keys, expected {k}"
                        why = why or near_cut(I[t, :t + 1].detach(), mine, sel, k)
                        if why:
                            failures.append(f"layer {l} row {b0 + t}: top-k selection: {why}")
                        else:
                            sel = mine
                    allow[t, sel] = True
                    layer_sel.append(sel)
            P = torch.softmax(scores.masked_fill(~allow, -math.inf), dim=-1)        # [H, n, n]
            outs.append(torch.einsum("hts,shv->thv", P, v[b0:b1]).reshape(n, H * vh))
            if idx_loss:
                target = P.detach().sum(0)
                target = target / target.sum(-1, keepdim=True)
                logq = torch.log_softmax(I.masked_fill(~allow, -math.inf), dim=-1)
                term = torch.where(target > 0, target * (torch.log(target) - logq),
                                   torch.zeros_like(target))
                kl_total = kl_total + term.sum()
        selected.append(layer_sel)
        x = x + torch.cat(outs) @ W[a + "o_proj.weight"].T
        xn2 = rms_norm(x, W[p + "post_attention_layernorm.weight"], eps)
        if cfg["n_routed_experts"] and l >= cfg["first_k_dense_replace"]:
            scores = torch.sigmoid(xn2 @ W[p + "mlp.gate.weight"].T)
            bias = W[p + "mlp.gate.e_score_correction_bias"]
            y = mlp(xn2, W, p + "mlp.shared_experts.") if cfg["n_shared_experts"] else 0 * xn2
            rows = []
            for t in range(T):
                if forced:
                    ex = torch.tensor(forced[(t * n_moe + moe_i) * K:(t * n_moe + moe_i + 1) * K])
                else:
                    ex = route(scores[t].detach(), bias, cfg)
                    if our_experts:  # dsarl's routing, if it is a legitimate one
                        mine = our_experts[(t * n_moe + moe_i) * K:(t * n_moe + moe_i + 1) * K]
                        why = routing_near_tie(scores[t].detach(), bias, cfg, mine, ex.tolist())
                        if why:
                            failures.append(f"layer {l} row {t}: routing: {why}")
                        else:
                            ex = torch.tensor(mine)
                raw = scores[t, ex]
                wts = raw / (raw.sum() + 1e-20) if cfg["norm_topk_prob"] else raw
                wts = wts * cfg["routed_scaling_factor"]
                yt = sum(wts[k] * mlp(xn2[t:t + 1], W, f"{p}mlp.experts.{int(e)}.")[0]
                         for k, e in enumerate(ex.tolist()))
                rows.append(yt)
            y = y + torch.stack(rows)
            moe_i += 1
        else:
            y = mlp(xn2, W, p + "mlp.")
        x = x + y
    xf = rms_norm(x, W["model.norm.weight"], eps)
    logits = xf @ W["lm_head.weight"].T
    targets = batch["targets"]
    kept = batch.get("kept") or []
    logp = []
    for t in range(T):
        if targets[t] < 0:
            logp.append(torch.zeros(()))
            continue
        z = logits[t]
        if kept and kept[t]:
            z = z[torch.tensor(kept[t])]
            logp.append(z[kept[t].index(targets[t])] - torch.logsumexp(z, 0))
        else:
            logp.append(z[targets[t]] - torch.logsumexp(z, 0))
    return torch.stack(logp), kl_total, selected


def main():
    d = sys.argv[1]
    cfg = json.load(open(f"{d}/config.json"))
    batch = json.load(open(f"{d}/batch.json"))
    ours = load_safetensors(f"{d}/ours.safetensors")
    W = {k: v.clone().requires_grad_(True) for k, v in load_safetensors(f"{d}/model.safetensors").items()}
    failures = []
    logp, kl, selected = forward(W, cfg, batch, ours, failures)
    loss = (torch.tensor(batch["dlogp"]) * logp).sum() + batch["indexer_loss_scale"] * kl
    loss.backward()
    worst = 0.0

    def check(name, ref, got, tol):
        nonlocal worst
        denom = max(ref.norm().item(), 1e-12)
        err = (ref - got).norm().item() / denom
        worst = max(worst, err)
        if err > tol and (ref - got).abs().max().item() > 1e-7:
            failures.append(f"{name}: relative error {err:.3e}")

    check("logp", logp.detach(), ours["logp"].reshape(-1), 1e-4)
    n_grads = 0
    for name, w in W.items():
        if name.endswith("e_score_correction_bias"):
            continue
        ref = w.grad if w.grad is not None else torch.zeros_like(w)
        check("grad " + name, ref, ours["grad." + name].reshape(ref.shape), 1e-4)
        n_grads += 1
    print(f"reference: {n_grads} gradients and {logp.shape[0]} log-probs compared; "
          f"worst relative error {worst:.2e}")
    for f in failures:
        print("MISMATCH", f)
    sys.exit(1 if failures else 0)


if __name__ == "__main__":
    main()
