"""The app's Streamlit helpers: the session's controls and URL (`ui.controls`), the workspace every page reads
(`ui.workspace`), the sidebar (`ui.sidebar`), a page's shared opening (`ui.page`) and one stage on screen
(`ui.stage_view`). Pages under pages/ are thin scripts over these; no math happens here (that is minigpt/).

Importing this package first leaves Streamlit's legacy pages/ mode (see ui/legacy_pages.py) and bounds torch's
threads for the whole server, whichever page a visitor opens first.
"""
from minigpt import devices

from . import legacy_pages

legacy_pages.leave_legacy_pages_mode()
# Sessions run side by side, and a page's ops are too small to gain from a second thread (the hand-off costs more).
devices.bound_threads()
