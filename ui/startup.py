"""Server start (issue 13, fast start): `streamlit run app.py` finds `app = st.App(...)` in app.py and serves it as an
ASGI app; its lifespan starts importing torch and the app's modules in a thread while the browser loads Streamlit's
page, so the first session's first run does not wait ~2 s for `import torch`."""
from __future__ import annotations

import contextlib
import threading


def _warm() -> None:
    import torch  # noqa: F401  the long part (~2 s on 2 cores)

    import plotly.graph_objects  # noqa: F401
    import pandas  # noqa: F401
    import minigpt.views.linked  # noqa: F401
    from minigpt import tokenizer

    tokenizer.cl100k()  # noqa  the tokenizer file, read once


@contextlib.asynccontextmanager
async def lifespan(app):
    threading.Thread(target=_warm, name="minigpt-warm-up", daemon=True).start()
    yield
