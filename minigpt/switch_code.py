"""The code a stage shows, made true for the what-if switches (model.Switches): with the causal mask off the mask
line builds no mask, without the scale the scores are not divided by √d_k, a skipped LayerNorm is an identity, a
dropped residual is no addition, and an attention temperature divides the scores. Code only: no prose to translate.
"""
from __future__ import annotations


def switched_code(key: str, code: str, switches) -> str:
    """key: the stage's catalogue key (`attn.scores`); code: its code for the real model; switches: model.Switches
    or None (the real model)."""
    if switches is None:
        return code
    if key == "embed.sum" and not switches.position:
        return "x = token_embedding(rows)"
    if key == "attn.scores" and not switches.scale:
        return "scores = Q @ K.transpose(-2, -1)"
    if key == "attn.mask" and not switches.causal_mask:
        return "mask = torch.zeros(T, T).bool()"
    if key == "attn.weights" and float(switches.temperature) != 1.0:
        return f"weights = F.softmax(scores / {float(switches.temperature):g}, dim=-1)"
    if key in ("resid1", "resid2") and not switches.residual:
        return "x = attn_out" if key == "resid1" else "x = ffn_out"
    if key in ("norm1", "norm2", "final.norm") and not switches.layer_norm:
        target = code.split("=", 1)[0].strip()  # x (post-LN) or h (pre-LN)
        return f"{target} = nn.Identity()(x)"
    return code
