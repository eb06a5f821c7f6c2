"""The Train page's figures: the loss curves (batch loss, its moving average, evaluated train and validation
losses) and one head's attention snapshot on a fixed scale; and the Train and Generate pages' UI strings
(en / 中文), looked up with `tr`.
"""
from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import plotly.graph_objects as go

from ..analysis import ema
from ..explain import t
from . import style
from .heatmaps import heatmap
from .labels import escape, token_labels

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


# -- loss curves --------------------------------------------------------------------------------
MAX_CURVE_POINTS = 4000  # more points than pixels only slow the browser down


def loss_curves(loss_steps: Sequence[int], losses: Sequence[float], evals: Sequence = (), *,
                tokens_per_step: int | None = None, uniform_loss: float | None = None, smoothing: float = 0.9,
                lang: str = "en") -> go.Figure:
    """Batch loss per step (faint), its moving average and the evaluated train / validation losses, against step
    or (tokens_per_step given) against tokens seen. evals: objects with .step, .train_loss, .val_loss
    (trainer.EvalReport). A reference line marks ln(V), the loss of a uniform guess."""
    if len(loss_steps) != len(losses):
        raise ValueError(f"{len(loss_steps)} steps but {len(losses)} losses.")
    scale = tokens_per_step or 1
    steps = np.array([step * scale for step in loss_steps], dtype=np.float32)
    losses = np.array(losses, dtype=np.float32)
    smoothed = ema(losses, smoothing)
    every = max(1, math.ceil(steps.size / MAX_CURVE_POINTS))  # the last step is always drawn
    keep = np.unique(np.append(np.arange(0, steps.size, every), steps.size - 1)) if steps.size else []
    data = []
    if steps.size:
        data.append(go.Scatter(_validate=style.VALIDATE, x=steps[keep], y=losses[keep], mode="lines",
                               line=dict(color="#9ecae1", width=1),
                               name=escape(t("batch loss", lang)),
                               hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
        data.append(go.Scatter(_validate=style.VALIDATE, x=steps[keep], y=smoothed[keep], mode="lines",
                               line=dict(color="#0072b2", width=3),
                               name=escape(t("smoothed", lang)), hovertemplate="%{x}: %{y:.4f}<extra></extra>"))
    if evals:
        e_steps = np.array([e.step * scale for e in evals], dtype=np.float32)
        for field, key, colour, dash in (("train_loss", "train loss", "#009e73", "solid"),
                                         ("val_loss", "validation loss", "#d55e00", "dash")):
            data.append(go.Scatter(_validate=style.VALIDATE,
                x=e_steps, y=np.array([getattr(e, field) for e in evals], dtype=np.float32),
                mode="lines+markers", line=dict(color=colour, width=3, dash=dash), marker=dict(size=8),
                name=escape(t(key, lang)), hovertemplate="%{x}: %{y:.4f}<extra>" + escape(t(key, lang)) + "</extra>",
            ))
    x_title = tr("tokens_seen", lang) if tokens_per_step else t("training step", lang)
    # The legend under the plot (above, it covers the title in a half-width column); the y axis fits the
    # curves rather than starting at 0, so a fall from 7.2 to 5 fills the height on a projector.
    layout = style.layout(
        t("loss_curves_title", lang), 460,
        xaxis=dict(style.axis_text(x_title), rangemode="tozero"),
        yaxis=dict(style.axis_text(t("loss", lang)), rangemode="normal"),
        legend=dict(orientation="h", yanchor="top", y=-0.22, xanchor="left", x=0, font=dict(size=style.FONT_SIZE)),
        uirevision="loss",
    )
    fig = go.Figure(_validate=style.VALIDATE, data=data, layout=layout)
    if uniform_loss is not None:
        style.add_uniform_line(fig, uniform_loss, dash="dot", lang=lang)
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
    names = token_labels(labels)
    title = (f"{t('attention_over_training_title', lang)} · {tr('block', lang)} {block} · {tr('head', lang)} {head}"
             f" · {t('training step', lang)} {snapshot.step}")
    fig = heatmap(z, x_labels=names, y_labels=names, title=title, x_title=t("key", lang),
                  y_title=t("query", lang), signed=False, zmin=0.0, zmax=1.0, lang=lang)
    fig.update_layout(uirevision="attention")
    return fig
