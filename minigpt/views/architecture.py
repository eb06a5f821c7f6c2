"""A map of the model, drawn from its config as SVG: the input and embedding, every block (attention with its
heads, the residual connections, LayerNorm where the config puts it, the feed-forward network), the final
LayerNorm where the model has one, and the output.

Every part is one lecture step of `minigpt.stages.lecture_steps` (the same list the Step page walks), drawn once,
with `data-stage="<name>"` so a click can open it; the order, the chapters and which tensors a residual adds
come from `minigpt.stages` (`inputs_of`), never from this file. Groups run left to right (input, block 0 ...,
output), each part under the one before it.
"""
from __future__ import annotations

from dataclasses import dataclass
from html import escape

from ..config import ModelConfig
from ..stages import block_of, inputs_of, lecture_steps, spec_of, stage_names, step_chapter, step_label
from ..text import t

# Parts drawn side by side in one row (the rest get a row each).
_SHARED_ROWS = (("embed.token", "embed.position"), ("attn.q", "attn.k", "attn.v"), ("attn.mask", "attn.masked"))
_CHAPTER_FILL = {"tokens": "#f2f2f2", "embedding": "#e3eefa", "attention": "#fdebd3", "block": "#e2f3e4",
                 "output": "#f1e4f3"}
_ADDS = ("embed.sum", "resid1", "resid2")


@dataclass(frozen=True)
class Geometry:
    width: int = 200      # one group's width
    gap: int = 34         # between groups
    pitch: int = 34       # one row
    box: int = 26         # a part's height
    font: int = 13
    title: int = 22       # room for a group or frame title
    inset: int = 24       # left of the parts: the residual lines run here


LARGE = Geometry()
SMALL = Geometry(width=150, gap=22, pitch=21, box=17, font=10, title=15, inset=16)


@dataclass(frozen=True)
class Part:
    step: str             # the lecture step (stage name, "tokens" or "topk")
    x: float
    y: float
    w: float
    h: float


def _key(step: str) -> str:
    return step if step in ("tokens", "topk") or block_of(step) is None else spec_of(step).key


def _group_of(step: str) -> str:
    block = block_of(step) if step not in ("tokens", "topk") else None
    if block is not None:
        return f"block{block}"
    return "input" if step in ("tokens",) or step.startswith("embed.") else "output"


def _rows(steps: list[str]) -> list[list[str]]:
    """Consecutive steps of one group, parts that share a row merged."""
    rows: list[list[str]] = []
    for step in steps:
        key = _key(step)
        shared = next((s for s in _SHARED_ROWS if key in s), None)
        if rows and shared and _key(rows[-1][0]) in shared and key != _key(rows[-1][0]):
            rows[-1].append(step)
        else:
            rows.append([step])
    return rows


def layout(config: ModelConfig, geometry: Geometry = LARGE) -> tuple[list[Part], list[tuple], float, float]:
    """Parts (one per lecture step), frames (x, y, w, h, kind, title args) and the picture's width and height."""
    g = geometry
    steps = lecture_steps(config.num_blocks, config.norm)
    groups: dict[str, list[str]] = {}
    for step in steps:
        groups.setdefault(_group_of(step), []).append(step)
    parts: list[Part] = []
    frames: list[tuple] = []
    outer: list[tuple] = []
    height = 0.0
    for gi, (group, members) in enumerate(groups.items()):
        x0 = gi * (g.width + g.gap)
        inner_x, inner_w = x0 + g.inset, g.width - g.inset - 6
        y = g.title + 4.0
        frame_tops: dict[str, float] = {}
        for row in _rows(members):
            key = _key(row[0])
            for frame in ("attn", "ffn"):
                if key.startswith(frame + ".") and frame not in frame_tops:
                    frame_tops[frame] = y
                    y += g.title
            w = (inner_w - 4 * (len(row) - 1)) / len(row)
            for i, step in enumerate(row):
                parts.append(Part(step, inner_x + i * (w + 4), y, w, g.box))
            y += g.pitch
            for frame, last in (("attn", "attn.out"), ("ffn", "ffn.out")):
                if key == last:
                    narrow = 8 if frame == "attn" else 0  # room for the heads' shadows
                    frames.append((inner_x - 4, frame_tops[frame] - 2, inner_w + 8 - narrow,
                                   y - frame_tops[frame] - 4, frame))
        outer.append((x0, 0, g.width, y + 4, group))
        height = max(height, y + 6)
    width = len(groups) * (g.width + g.gap) - g.gap
    return parts, outer + frames, width, height


def _frame_title(kind: str, config: ModelConfig, lang: str) -> str:
    if kind.startswith("block"):
        return t("map.block", lang, i=int(kind[5:]), norm=config.norm)
    if kind == "attn":
        return t("map.attention", lang, h=config.num_heads)
    return t(f"map.{kind}", lang)


def _residual_paths(config: ModelConfig, parts: dict[str, Part], g: Geometry) -> list[str]:
    """For each residual add, a line from what it adds back (its skip input, from stages.inputs_of) to the ⊕."""
    names = stage_names(config.num_blocks, config.norm)
    order = {n: i for i, n in enumerate(names)}
    paths = []
    for name in names:
        if spec_of(name).key not in ("resid1", "resid2"):
            continue
        target = parts[name]
        skip = min(inputs_of(name, names, config.norm), key=order.__getitem__)  # the earlier input is the skip
        x = target.x - g.inset / 2 - 1
        mid = target.y + target.h / 2
        source = parts[skip]
        if _group_of(skip) == _group_of(name):
            start = f"M{source.x:.1f},{source.y + source.h / 2:.1f} L{x:.1f},{source.y + source.h / 2:.1f}"
        else:  # the block's input, arriving from the group before at the block's first row
            first = min((p for p in parts.values() if _group_of(p.step) == _group_of(name)), key=lambda p: p.y)
            start = f"M{x - g.inset / 2 + 1:.1f},{first.y + first.h / 2:.1f} L{x:.1f},{first.y + first.h / 2:.1f}"
        paths.append(f"{start} L{x:.1f},{mid:.1f} L{target.x:.1f},{mid:.1f}")
    return paths


def _flow_lines(parts: list[Part]) -> list[str]:
    """The main path inside a group: a short line from each row to the next."""
    rows: dict[tuple[str, float], list[Part]] = {}
    for p in parts:
        rows.setdefault((_group_of(p.step), p.y), []).append(p)
    lines = []
    keys = list(rows)
    for (ga, ya), (gb, yb) in zip(keys, keys[1:]):
        if ga == gb:
            a, b = rows[(ga, ya)], rows[(gb, yb)]
            x = (a[0].x + a[-1].x + a[-1].w) / 2
            lines.append(f"M{x:.1f},{ya + a[0].h:.1f} L{x:.1f},{yb:.1f}")
    return lines


def architecture_svg(config: ModelConfig, *, lang: str = "en", current: str | None = None, small: bool = False,
                     highlight=()) -> str:
    """The map as an SVG string. current: the step highlighted (a stage name, "tokens" or "topk"); highlight:
    more steps drawn lighter (a chapter page: the stages it shows)."""
    g = SMALL if small else LARGE
    parts, frames, width, height = layout(config, g)
    legend_y = height + 6
    legend = []  # which colour is which chapter: (x, fill, name)
    if not small:
        x = 0.0
        for chapter, fill in _CHAPTER_FILL.items():
            name = t(f"projector.chapter_{chapter}", lang)
            legend.append((x, fill, name))
            x += g.box + 16 + sum(g.font * (1.0 if ord(ch) > 0x2E80 else 0.56) for ch in name)
        height += g.pitch
        width = max(width, x)
    by_step = {p.step: p for p in parts}
    if current is not None and current not in by_step:
        raise ValueError(f"{current!r} is not a step of this model")
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" class="minigpt-map" viewBox="-2 -2 {width + 4:.0f} '
           f'{height + 4:.0f}" width="{width + 4:.0f}" height="{height + 4:.0f}" font-size="{g.font}" '
           f'font-family="sans-serif" role="img" aria-label="{escape(t("map.aria", lang))}">',
           '<defs><marker id="arrow" viewBox="0 0 6 6" refX="5" refY="3" markerWidth="5" markerHeight="5" '
           'orient="auto"><path d="M0,0 L6,3 L0,6 z" fill="#666"/></marker></defs>']
    current_group = _group_of(current) if current else None
    unknown = set(highlight) - set(by_step)
    if unknown:
        raise ValueError(f"{sorted(unknown)} are not steps of this model")
    for x, y, w, h, kind in frames:
        is_group = kind in ("input", "output") or kind.startswith("block")
        stroke = "#222" if is_group and kind == current_group else "#999"
        dash = "" if is_group else ' stroke-dasharray="4 3"'
        if kind == "attn":  # the heads: shadows behind the attention frame
            for k in (2, 1):
                out.append(f'<rect x="{x + 3 * k:.1f}" y="{y - 3 * k:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
                           f'fill="#fff" stroke="#bbb"/>')
        out.append(f'<rect class="frame" x="{x:.1f}" y="{y:.1f}" width="{w:.1f}" height="{h:.1f}" rx="6" '
                   f'fill="#fff" fill-opacity="{0 if is_group else 1}" stroke="{stroke}"'
                   f'{dash}/>')
    # the stream between groups: from each group's last part to the next group's first row
    for a, b in zip(frames, frames[1:]):
        if not (a[4] in ("input", "output") or a[4].startswith("block")) or b[4] in ("attn", "ffn"):
            continue
        last = max((p for p in parts if _group_of(p.step) == a[4]), key=lambda p: (p.y, p.x))
        first = min((p for p in parts if _group_of(p.step) == b[4]), key=lambda p: (p.y, p.x))
        mid_x = a[0] + a[2] + g.gap / 2
        y0, y1 = last.y + last.h / 2, first.y + first.h / 2
        out.append(f'<path d="M{last.x + last.w:.1f},{y0:.1f} L{mid_x:.1f},{y0:.1f} L{mid_x:.1f},{y1:.1f} '
                   f'L{first.x:.1f},{y1:.1f}" stroke="#666" fill="none" marker-end="url(#arrow)"/>')
    for path in _flow_lines(parts):
        out.append(f'<path d="{path}" stroke="#666" fill="none" marker-end="url(#arrow)"/>')
    for path in _residual_paths(config, by_step, g):
        out.append(f'<path class="residual" d="{path}" stroke="#2b7a3b" stroke-width="1.6" fill="none" '
                   f'marker-end="url(#arrow)"/>')
    for x, y, w, h, kind in frames:  # titles over the lines, on a white halo
        out.append(f'<text x="{x + 6:.1f}" y="{y + g.title - 7:.1f}" font-weight="bold" fill="#333" stroke="#fff" '
                   f'stroke-width="4" paint-order="stroke">{escape(_frame_title(kind, config, lang))}</text>')
    for p in parts:
        chapter = step_chapter(p.step)
        here = p.step == current
        fill = "#ffd54f" if here else "#ffecb3" if p.step in highlight else _CHAPTER_FILL[chapter]
        stroke, width_ = ("#000", 2.5) if here else ("#b07d00", 1.6) if p.step in highlight else ("#777", 1)
        label = t(f"map.part.{_key(p.step)}", lang, d_ffn=config.d_ffn, d_model=config.d_model)
        bold = ' font-weight="bold"' if here else ""
        out.append(f'<g class="part{" current" if here else ""}" data-stage="{escape(p.step)}" tabindex="0" '
                   f'style="cursor:pointer"><title>{escape(step_label(p.step, lang))}</title>'
                   f'<rect x="{p.x:.1f}" y="{p.y:.1f}" width="{p.w:.1f}" height="{p.h:.1f}" '
                   f'rx="{8 if _key(p.step) in _ADDS else 3}" fill="{fill}" stroke="{stroke}" stroke-width="{width_}"/>'
                   f'<text x="{p.x + p.w / 2:.1f}" y="{p.y + p.h / 2 + g.font * 0.35:.1f}" text-anchor="middle" '
                   f'fill="#111"{bold}>{escape(label)}</text></g>')
    for x, fill, name in legend:
        out.append(f'<rect x="{x:.1f}" y="{legend_y:.1f}" width="{g.box:.0f}" height="{g.box * 0.7:.1f}" rx="3" '
                   f'fill="{fill}" stroke="#777"/><text x="{x + g.box + 5:.1f}" y="{legend_y + g.box * 0.55:.1f}" '
                   f'fill="#333">{escape(name)}</text>')
    out.append("</svg>")
    return "".join(out)
