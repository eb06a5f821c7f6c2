"""Generate: sample text from the sidebar's model, each token coloured by its probability, and for any
generated position the candidates it was chosen from (model probability vs sampling probability); then the
KV cache replaying that generation step by step (ui/kv_view.py)."""
import streamlit as st

from ui import kv_view, workspace as wsp
from minigpt import explain
from minigpt.analysis import default_prompt
from minigpt.text import message, t
from minigpt.sampling import InputError, generate
from minigpt.views import chips, output
from minigpt.views.export import plotly_config
from minigpt.views.labels import percent

ws = wsp.workspace()
lang = ws.lang


@st.cache_resource(max_entries=64, show_spinner=False)
def _generation(model_key: str, prompt: str, max_new_tokens: int, temperature: float, top_k: int, top_p: float,
                seed: int, _model, _vocab):
    # Keyed on the model and every setting: a rerun (or another student with the same inputs) reuses it.
    # With the KV cache: the same tokens and probabilities as without it (tests/test_kv_cache.py), less work.
    return generate(_model, _vocab, prompt, max_new_tokens=max_new_tokens, temperature=temperature, top_k=top_k,
                    top_p=top_p, seed=seed, num_candidates=8, use_cache=True)


st.title(t("train.generate_title", lang))
st.write(t("chapter.generate", lang))
wsp.show_notices(ws)
st.caption(t("train.gen_model", lang).format(label=ws.model_label))

if "gen_prompt" not in st.session_state:
    st.session_state["gen_prompt"] = default_prompt(ws.corpus.text)
st.text_area(t("train.gen_prompt", lang), key="gen_prompt", height=80, max_chars=2000)
cols = st.columns(5)
temperature = cols[0].slider(t("train.temperature", lang), 0.0, 2.0, 1.0, 0.05, key="gen_temperature")
top_k = cols[1].number_input(t("train.top_k", lang), 0, ws.vocab.size, 0, key="gen_top_k")
top_p = cols[2].slider(t("train.top_p", lang), 0.05, 1.0, 1.0, 0.05, key="gen_top_p")
length = cols[3].slider(t("train.max_new_tokens", lang), 0, 200, 40, key="gen_length")
seed = cols[4].number_input(t("train.seed", lang), 0, 2**31 - 1, 0, key="gen_seed")

prompt = st.session_state["gen_prompt"]
try:
    result = _generation(ws.model_key, prompt, int(length), float(temperature), int(top_k), float(top_p), int(seed),
                         ws.model, ws.vocab)
except InputError as exc:
    st.error(message(exc, lang), icon="⚠️")
    st.stop()

steps = result.steps
if not steps:
    st.info(t("train.nothing_generated", lang))
    st.stop()

context = ws.config.context_length
if len(result.prompt_ids) + len(steps) > context:
    st.caption(t("train.cropped", lang).format(n=context))
if explain.is_random(ws.model_kind) and temperature > 0:  # why any prompt gives (nearly) the same text
    st.info(t("fixes.random_same", lang, p=percent(steps[0].candidates[0].prob), u=percent(1 / ws.vocab.size),
              seed=int(seed)), icon="🎲")
texts = chips.generated_texts(result.prompt_ids, steps, ws.vocab.mode, lang)
# One picker per generation: a new prompt or setting gets a new widget, so its labels are the new tokens'.
pick_key = "gen_position_" + wsp.text_key(repr((result.prompt_ids, result.new_ids)))
positions = list(range(len(steps)))
if st.session_state.get(pick_key, 0) not in positions:
    st.session_state[pick_key] = 0
selected = st.session_state.get(pick_key, 0)
# Tabs (issue 13: a page fits in 2,500 px): the generated text and its candidates, then the KV cache replay.
tab_text, tab_cache = st.tabs([t("fixes.tab_generated", lang), t("kv.title", lang)])
with tab_text:
    st.markdown(chips.probability_legend_html(lang), unsafe_allow_html=True)
    with st.container(border=True):
        st.markdown(chips.generation_html(prompt, steps, selected=selected, lang=lang, texts=texts),
                    unsafe_allow_html=True)

    position = st.selectbox(t("train.pick_position", lang), positions, key=pick_key,
                            format_func=lambda i: f"{i + 1} · {texts[i]} ({percent(steps[i].prob)})")
    before = list(result.prompt_ids) + result.new_ids[:position]
    st.plotly_chart(output.candidates_figure(steps[position], position, lang=lang, context_ids=before,
                                             mode=ws.vocab.mode),
                    key="gen_candidates", config=plotly_config("minigpt-candidates"))

with tab_cache:
    kv_view.section(ws, result, lang)
