"""The bundled model in the sidebar: its fixed architecture shown read-only, and the way to change it (a button
that copies it into the sidebar's controls and switches to fresh random weights, which can then be edited)."""
from __future__ import annotations

import streamlit as st

from minigpt import walkthrough
from minigpt.text import message, t

from . import controls as ctl
from . import workspace as wsp


def edit_architecture(lang: str) -> None:
    """Button callback: fresh random weights with the bundled model's architecture and seed, ready to change."""
    ckpt = wsp.bundled_checkpoint()
    if ckpt is not None:
        for name in walkthrough.ARCHITECTURE:
            st.session_state[ctl.KEY + name] = getattr(ckpt.config, name)
    ctl.set_model("fresh")
    st.toast(t("bundled.switched", lang), icon="🎲")


def sidebar_config(lang: str) -> None:
    """What the sidebar shows under Model when the bundled model is chosen."""
    ckpt, error = wsp._bundled()
    if ckpt is None:
        st.caption(t("bundled.missing_sidebar", lang, why=message(error, lang)))
        return
    c = ckpt.config
    with st.expander(t("sidebar.hyperparameters", lang), expanded=True):
        st.caption(t("bundled.fixed", lang))
        st.markdown(t("bundled.config", lang, ctx=c.context_length, d=c.d_model, heads=c.num_heads,
                      blocks=c.num_blocks, norm=t("sidebar.norm_" + c.norm, lang), rows=ckpt.vocab.size,
                      seed=c.seed, steps=ckpt.steps or 0))
        st.button(t("bundled.edit_arch", lang), key="bundled_edit_arch", on_click=edit_architecture, args=(lang,),
                  help=t("bundled.edit_arch_help", lang), width="stretch")
