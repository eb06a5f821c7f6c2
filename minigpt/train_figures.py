"""Pure builders for the Train and Generate pages: loss curves, attention snapshots, coloured generations,
candidate bars, trained-vs-untrained predictions, time estimates, and the pages' UI strings (en / 中文).
No Streamlit here; everything is tested in tests/test_train_figures.py.
"""
from __future__ import annotations

import html
from dataclasses import dataclass
from typing import Sequence

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from . import figures
from .explain import t

# -- UI strings ---------------------------------------------------------------------------------
TEXT: dict[str, dict[str, str]] = {
    "train_title": {"en": "Train live", "zh": "实时训练"},
    "generate_title": {"en": "Generate", "zh": "生成文本"},
    "preset": {"en": "Preset", "zh": "预设"},
    "preset_custom": {"en": "custom: the sidebar's hyperparameters", "zh": "自定义：使用侧边栏的超参数"},
    "custom_help": {"en": "The model's shape comes from the sidebar (Hyperparameters); the knobs below set the training.",
                    "zh": "模型结构来自侧边栏（超参数）；下面的选项设置训练过程。"},
    "settings": {"en": "Training settings", "zh": "训练设置"},
    "steps": {"en": "steps", "zh": "步数 steps"},
    "learning_rate": {"en": "learning rate", "zh": "学习率 learning rate"},
    "batch_size": {"en": "batch size", "zh": "批大小 batch size"},
    "eval_interval": {"en": "evaluate every … steps", "zh": "每隔多少步评估"},
    "warmup_steps": {"en": "warm-up steps", "zh": "预热步数 warm-up"},
    "lr_schedule": {"en": "learning-rate schedule", "zh": "学习率调度"},
    "schedule_constant": {"en": "constant", "zh": "恒定"},
    "schedule_cosine": {"en": "cosine decay", "zh": "余弦衰减"},
    "device": {"en": "device", "zh": "设备"},
    "parameters": {"en": "parameters", "zh": "参数量"},
    "tokens_per_step": {"en": "tokens per step", "zh": "每步词元数"},
    "expected_time": {"en": "expected time", "zh": "预计用时"},
    "expected_help": {"en": "A rough estimate from the model's size; the live pace replaces it once training runs.",
                      "zh": "根据模型大小粗略估算；开始训练后以实际速度为准。"},
    "corpus_line": {"en": "Corpus: {title} · {tokens:,} tokens · {rows:,} vocabulary rows ({vocab})",
                    "zh": "语料：{title} · {tokens:,} 个词元 · 词表 {rows:,} 行（{vocab}）"},
    "start": {"en": "Start training", "zh": "开始训练"},
    "restart": {"en": "Start a new run", "zh": "重新开始训练"},
    "pause": {"en": "Pause", "zh": "暂停"},
    "resume": {"en": "Resume", "zh": "继续"},
    "stop": {"en": "Stop", "zh": "停止"},
    "status": {"en": "Status", "zh": "状态"},
    "status_queued": {"en": "starting…", "zh": "正在启动…"},
    "status_running": {"en": "training", "zh": "训练中"},
    "status_paused": {"en": "paused", "zh": "已暂停"},
    "status_finished": {"en": "finished", "zh": "已完成"},
    "status_stopped": {"en": "stopped", "zh": "已停止"},
    "status_failed": {"en": "failed", "zh": "失败"},
    "progress_line": {"en": "Step {step:,} of {total:,} ({status})", "zh": "第 {step:,} / {total:,} 步（{status}）"},
    "tokens_per_s": {"en": "tokens / s", "zh": "词元 / 秒"},
    "time_left": {"en": "time left", "zh": "剩余时间"},
    "elapsed": {"en": "elapsed", "zh": "已用时间"},
    "val_loss": {"en": "validation loss", "zh": "验证集损失"},
    "x_step": {"en": "against step", "zh": "按步数"},
    "x_tokens": {"en": "against tokens seen", "zh": "按已见词元数"},
    "tokens_seen": {"en": "tokens seen", "zh": "已见词元数"},
    "loss_axis": {"en": "Loss curves", "zh": "损失曲线"},
    "sample_title": {"en": "What the model writes now", "zh": "模型现在写出的文字"},
    "sample_caption": {"en": "Step {step:,}, prompt “{prompt}”, sampled at temperature 1.",
                       "zh": "第 {step:,} 步，提示词“{prompt}”，温度 1 采样。"},
    "no_sample": {"en": "The first sample appears after {every} steps.", "zh": "第 {every} 步后出现第一段生成文字。"},
    "watch_attention": {"en": "Watch attention learn", "zh": "看注意力如何学会"},
    "watch_caption": {"en": "One head's attention weights on a fixed sentence, snapshotted as training goes. "
                            "Drag the slider to scrub through training; every snapshot uses the same 0–1 colour scale.",
                      "zh": "固定句子上某个头的注意力权重，随训练不断快照。拖动滑块回看训练过程；所有快照使用相同的 0–1 色阶。"},
    "snapshot": {"en": "snapshot (training step)", "zh": "快照（训练步数）"},
    "follow_newest": {"en": "follow the newest snapshot (switch off to scrub)", "zh": "跟随最新快照（关闭后可拖动回看）"},
    "block": {"en": "block", "zh": "块"},
    "head": {"en": "head", "zh": "头"},
    "trained_ready": {"en": "The trained model (step {step:,}) is now “Trained in this session” in the sidebar, "
                            "on every chapter.",
                      "zh": "训练好的模型（第 {step:,} 步）已作为侧边栏中的“本次会话训练的模型”，所有章节都可选用。"},
    "open_walkthrough": {"en": "Look at it in the walkthrough (Attention chapter)", "zh": "在讲解中查看（注意力一章）"},
    "download": {"en": "Download checkpoint (.safetensors)", "zh": "下载检查点（.safetensors）"},
    "upload_title": {"en": "Load a checkpoint", "zh": "加载检查点"},
    "upload_label": {"en": "A .safetensors file from this app, or the tutorial's model-ckpt.pt",
                     "zh": "本应用的 .safetensors 文件，或教程的 model-ckpt.pt"},
    "upload_ok": {"en": "Loaded: {desc}. It is now “Loaded checkpoint” in the sidebar.",
                  "zh": "已加载：{desc}。侧边栏中的“加载的检查点”现在就是它。"},
    "use_loaded": {"en": "Use the loaded model everywhere", "zh": "在所有页面使用加载的模型"},
    "busy_settings": {"en": "Training is running: stop it to change the settings.",
                      "zh": "正在训练：先停止，才能修改设置。"},
    "other_pages": {"en": "Training runs in the background: you can open the other chapters meanwhile and come back.",
                    "zh": "训练在后台进行：期间可以打开其他章节，随时回来查看。"},
    "diverged_tip": {"en": "Try a smaller learning rate, or warm-up steps.", "zh": "试试更小的学习率，或加入预热步数。"},
    "gen_prompt": {"en": "Prompt", "zh": "提示词"},
    "temperature": {"en": "temperature", "zh": "温度 temperature"},
    "top_k": {"en": "top-k (0 = off)", "zh": "top-k（0 = 不限制）"},
    "top_p": {"en": "top-p (1 = off)", "zh": "top-p（1 = 不限制）"},
    "max_new_tokens": {"en": "new tokens", "zh": "生成词元数"},
    "seed": {"en": "seed", "zh": "随机种子"},
    "gen_model": {"en": "Model: {label}. Choose another in the sidebar (train one on the Train page).",
                  "zh": "模型：{label}。可在侧边栏换模型（在“实时训练”页训练一个）。"},
    "legend": {"en": "Colour = probability the token was sampled with:", "zh": "颜色 = 该词元被采样时的概率："},
    "prompt_part": {"en": "prompt", "zh": "提示词"},
    "pick_position": {"en": "Generated position to inspect", "zh": "查看哪个生成位置"},
    "candidates_title": {"en": "Position {pos}: the candidates “{token}” was chosen from",
                         "zh": "第 {pos} 个位置：“{token}”是从这些候选中选出的"},
    "nothing_generated": {"en": "Set “new tokens” above 0 to generate.", "zh": "把“生成词元数”设为大于 0 才会生成。"},
    "cropped": {"en": "The model sees only its last {n} tokens (context length).",
                "zh": "模型只能看到最后 {n} 个词元（上下文长度）。"},
    "diff_title": {"en": "Trained vs untrained: next-token predictions on the same text",
                   "zh": "训练后与训练前：同一段文本上的下一个词预测"},
    "untrained_guess": {"en": "untrained: top guess", "zh": "训练前：首选"},
    "trained_guess": {"en": "trained: top guess", "zh": "训练后：首选"},
    "changed": {"en": "changed", "zh": "改变"},
    "p_true_title": {"en": "Probability of the actual next token", "zh": "真实下一个词的概率"},
    "untrained": {"en": "untrained", "zh": "训练前"},
    "trained": {"en": "trained", "zh": "训练后"},
    "position": {"en": "position", "zh": "位置"},
    "probability": {"en": "probability", "zh": "概率"},
}


def tr(key: str, lang: str = "en") -> str:
    """This module's strings first, then explain.t (shared vocabulary such as 'loss')."""
    entry = TEXT.get(key)
    if entry is not None:
        return entry.get(lang) or entry["en"]
    return t(key, lang)


# -- time ---------------------------------------------------------------------------------------
CPU_FLOPS = 15e9        # measured: lecture preset ≈ 16 GFLOP/s on one core of the 2-core dev machine
STEP_OVERHEAD_S = 0.003  # Python and optimizer bookkeeping per step


def step_flops(model_config, train_config, vocab_size: int) -> float:
    """Forward + backward FLOPs of one training step (6·params·tokens plus the attention matrices)."""
    from .config import parameter_count

    tokens = train_config.batch_size * model_config.context_length
    attention = 12 * model_config.num_blocks * train_config.batch_size * model_config.context_length ** 2 \
        * model_config.d_model
    return 6.0 * parameter_count(model_config, vocab_size) * tokens + attention


def estimated_seconds(model_config, train_config, vocab_size: int, flops_per_s: float = CPU_FLOPS) -> float:
    """Rough wall time of a whole run on a CPU: the steps plus the evaluations (forward only, ⅓ of a step)."""
    per_step = step_flops(model_config, train_config, vocab_size) / flops_per_s + STEP_OVERHEAD_S
    evaluations = train_config.steps // train_config.eval_interval + 1
    eval_steps = evaluations * 2 * train_config.eval_batches / 3
    return per_step * (train_config.steps + eval_steps)


def duration(seconds: float | None) -> str:
    """`"45 s"`, `"3 min 05 s"`, `"1 h 02 min"`; `"–"` when unknown."""
    if seconds is None or not np.isfinite(seconds):
        return "–"
    s = max(0, int(round(seconds)))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    return f"{s // 3600} h {(s % 3600) // 60:02d} min"


# -- loss curves --------------------------------------------------------------------------------
@dataclass(frozen=True)
class _Point:  # what figures.loss_curves reads: .step (the x value) and the losses
    step: float
    loss: float = 0.0
    train_loss: float = 0.0
    val_loss: float = 0.0


def loss_figure(loss_steps: Sequence[int], losses: Sequence[float], evals: Sequence = (), *,
                tokens_per_step: int | None = None, uniform_loss: float | None = None, lang: str = "en") -> go.Figure:
    """Batch loss, its moving average and the evaluated train/validation losses, against step
    or (tokens_per_step given) against tokens seen. evals: objects with .step, .train_loss, .val_loss."""
    if len(loss_steps) != len(losses):
        raise ValueError(f"{len(loss_steps)} steps but {len(losses)} losses.")
    scale = tokens_per_step or 1
    points = [_Point(step * scale, loss) for step, loss in zip(loss_steps, losses)]
    evaluated = [_Point(e.step * scale, train_loss=e.train_loss, val_loss=e.val_loss) for e in evals]
    fig = figures.loss_curves(points, evaluated, uniform_loss=uniform_loss, lang=lang)
    if tokens_per_step:
        fig.update_xaxes(title_text=html.escape(tr("tokens_seen", lang)))
    # The legend under the plot (above, it covers the title in a half-width column); the y axis fits the
    # curves rather than starting at 0, so a fall from 7.2 to 5 fills the height on a projector.
    fig.update_layout(uirevision="loss", legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0),
                      margin=dict(l=10, r=10, t=70, b=10), height=460)
    fig.update_yaxes(rangemode="normal")
    return fig


# -- attention snapshots -------------------------------------------------------------------------
def attention_snapshot(snapshot, labels: Sequence[str], *, block: int = 0, head: int = 0,
                       lang: str = "en") -> go.Figure:
    """One snapshot's attention weights (block, head) on a fixed 0–1 scale, so scrubbing compares like with like.
    snapshot: .step and .weights [blocks, heads, T, T] (trainer.AttentionSnapshot)."""
    weights = snapshot.weights
    blocks, heads = weights.shape[:2]
    if not 0 <= block < blocks or not 0 <= head < heads:
        raise ValueError(f"Block {block}, head {head} does not exist: the model has {blocks} blocks of {heads} heads.")
    z = np.asarray(weights[block, head], dtype=np.float32)  # the future's weights are exactly 0 (causal mask)
    names = figures.token_labels(labels)
    title = (f"{t('attention_over_training_title', lang)} · {tr('block', lang)} {block} · {tr('head', lang)} {head}"
             f" · {t('training step', lang)} {snapshot.step}")
    fig = figures.heatmap(z, x_labels=names, y_labels=names, title=title, x_title=t("key", lang),
                          y_title=t("query", lang), signed=False, zmin=0.0, zmax=1.0, lang=lang)
    fig.update_layout(uirevision="attention")
    return fig


# -- generation ---------------------------------------------------------------------------------
PROB_STOPS = ((0.0, "#fde0dd"), (0.1, "#fcc5c0"), (0.25, "#fee391"), (0.5, "#c7e9c0"), (0.75, "#74c476"),
              (1.0, "#31a354"))  # unlikely (pink) to certain (green); dark text stays readable on all


def prob_colour(p: float) -> str:
    """Background colour of a token chosen with probability p (the stop at or below p)."""
    colour = PROB_STOPS[0][1]
    for stop, c in PROB_STOPS:
        if p >= stop:
            colour = c
    return colour


def _chip(text: str, colour: str, tip: str, sub: str, *, bold: bool = False, outline: bool = False) -> str:
    border = "2px solid #111" if outline else "1px solid rgba(0,0,0,0.15)"
    weight = "font-weight:700;" if bold else ""
    return (f'<span title="{html.escape(tip, quote=True)}" style="display:inline-block;background:{colour};'
            f"color:#111;border:{border};border-radius:6px;padding:2px 6px;margin:2px 2px;text-align:center;"
            f"font-family:ui-monospace,Menlo,Consolas,'Noto Sans Mono CJK SC',monospace;white-space:pre;{weight}"
            f'font-size:1.05em;line-height:1.35;vertical-align:top">{html.escape(figures.visible_text(text))}'
            f'<span style="display:block;font-size:0.7em;color:#333;line-height:1.1">{html.escape(sub)}</span></span>')


def generation_html(prompt: str, steps: Sequence, *, selected: int | None = None, lang: str = "en") -> str:
    """The prompt (plain) followed by each generated token as a chip coloured by the probability it was
    sampled with (number 1, 2, ... and the % underneath); `selected` (0-based) gets a dark outline.
    steps: sampling.GenerationStep."""
    parts = [f'<span style="white-space:pre-wrap;color:#555;font-size:1.05em;padding:2px 4px">'
             f'{html.escape(prompt)}</span>']
    for i, s in enumerate(steps):
        pct = figures._percent(s.prob)
        parts.append(_chip(s.text, prob_colour(s.prob), f"{i + 1}: {s.text!r} p={pct}", f"{i + 1} · {pct}",
                           bold=i == selected, outline=i == selected))
    return '<div style="line-height:2.2">' + "".join(parts) + "</div>"


def probability_legend_html(lang: str = "en") -> str:
    stops = list(PROB_STOPS)
    cells = "".join(
        f'<span style="display:inline-block;background:{c};color:#111;padding:1px 8px;margin:0 2px;'
        f'border-radius:4px;border:1px solid rgba(0,0,0,0.15)">≥ {int(p * 100)}%</span>' for p, c in stops
    )
    return f'<div style="font-size:0.9em;margin:4px 0 8px 0">{html.escape(tr("legend", lang))} {cells}</div>'


def candidates_figure(step, position: int, *, lang: str = "en") -> go.Figure:
    """The candidates of one generation step (model vs sampling probability), the chosen one ticked."""
    title = tr("candidates_title", lang).format(pos=position + 1, token=figures.visible_text(step.text))
    return figures.candidate_bars(step.candidates, chosen_id=step.token_id, title=title, lang=lang)


def position_label(step, position: int) -> str:
    return f"{position + 1} · {figures.visible_text(step.text)} ({figures._percent(step.prob)})"


# -- trained vs untrained ------------------------------------------------------------------------
def prediction_diff(untrained_probs, trained_probs, untrained_vocab, trained_vocab, labels: Sequence[str], *,
                    lang: str = "en") -> pd.DataFrame:
    """Per position: each model's favourite next token with its probability, and whether it changed.

    *_probs: [positions, vocab rows] of the same text; the vocabularies may differ (a trained model
    brings its own), so tokens are compared by their text.
    """
    a, b = np.asarray(untrained_probs, dtype=np.float32), np.asarray(trained_probs, dtype=np.float32)
    if a.ndim != 2 or b.ndim != 2 or a.shape[0] != b.shape[0] or a.shape[0] != len(labels):
        raise ValueError(f"prediction_diff needs two [positions, vocab] arrays for {len(labels)} labels, "
                         f"got {a.shape} and {b.shape}.")
    rows_a, rows_b = a.argmax(axis=1), b.argmax(axis=1)
    text_a = [untrained_vocab.row_text(int(r)) for r in rows_a]
    text_b = [trained_vocab.row_text(int(r)) for r in rows_b]
    return pd.DataFrame({
        tr("position", lang): list(labels),
        tr("untrained_guess", lang): [f"{figures.visible_text(s)} ({figures._percent(float(p))})"
                                      for s, p in zip(text_a, a.max(axis=1))],
        tr("trained_guess", lang): [f"{figures.visible_text(s)} ({figures._percent(float(p))})"
                                    for s, p in zip(text_b, b.max(axis=1))],
        tr("changed", lang): [x != y for x, y in zip(text_a, text_b)],
    })


def true_token_probs(untrained_p_true: Sequence[float], trained_p_true: Sequence[float], labels: Sequence[str], *,
                     lang: str = "en") -> go.Figure:
    """Grouped bars: each model's probability for the token that really comes next, position by position."""
    a = np.asarray(untrained_p_true, dtype=np.float32).reshape(-1)
    b = np.asarray(trained_p_true, dtype=np.float32).reshape(-1)
    if not a.size == b.size == len(labels):
        raise ValueError(f"{a.size} and {b.size} probabilities for {len(labels)} labels.")
    names = [html.escape(x) for x in figures.token_labels(labels)]
    data = [go.Bar(_validate=figures.VALIDATE, x=names, y=a, name=html.escape(tr("untrained", lang)),
                   marker=dict(color="#9ecae1"),
                   hovertemplate="%{x}<br>%{y:.2%}<extra></extra>"),
            go.Bar(_validate=figures.VALIDATE, x=names, y=b, name=html.escape(tr("trained", lang)),
                   marker=dict(color="#d55e00"),
                   hovertemplate="%{x}<br>%{y:.2%}<extra></extra>")]
    layout = figures._layout(tr("p_true_title", lang), 420, barmode="group",
                             xaxis=figures._axis(tr("position", lang), names, angle=-60 if len(names) > 8 else None),
                             yaxis=dict(figures._axis_text(tr("probability", lang)), tickformat=".0%",
                                        range=[0, 1]))
    return go.Figure(_validate=figures.VALIDATE, data=data, layout=layout)


def default_prompt(text: str, words: int = 4) -> str:
    """The first few words of a corpus (its first characters for text without spaces, such as 中文)."""
    first = " ".join(text.split()[:words])
    if len(first) > 40 or " " not in first:
        first = "".join(text.split())[:8]
    return first or "The"


def target_probs(probs_2d, target_rows) -> np.ndarray:
    """probs_2d[i, target_rows[i]]: the probability each position gave the token that really came next."""
    p = np.asarray(probs_2d, dtype=np.float32)
    rows = np.asarray(target_rows, dtype=np.int64).reshape(-1)
    if p.ndim != 2 or rows.size != p.shape[0]:
        raise ValueError(f"target_probs needs [positions, vocab] and one target per position, got {p.shape}, {rows.size}.")
    return p[np.arange(rows.size), rows]
