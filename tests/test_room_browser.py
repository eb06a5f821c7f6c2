"""A class room in real browsers (issue 15): a lecturer and two students on one server, then the same on two
`streamlit run` processes behind nginx (deploy/run_cluster.sh) with the lecturer on one backend and the students on
the other, so the room only works if the SQLite store is shared. The lecturer presses Next, both students follow;
one student explores and stops following; a question with both answering shows 2 answers; Reveal shows the model's
answer to both. Ports 8660-8669, rooms in a temporary MINIGPT_DATA_DIR."""
from __future__ import annotations

import contextlib
import os
import re
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from minigpt import questions, rooms
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS, ROOT, SHOTS, exceptions, wait_health, wait_ready

pytestmark = [pytest.mark.browser, pytest.mark.timeout(420)]

if not Path(CHROMIUM).exists():
    if os.environ.get("CI") == "true":
        raise RuntimeError(f"CI needs {CHROMIUM} for the browser tests.")
    pytest.skip(f"{CHROMIUM} is not installed", allow_module_level=True)
sync_api = pytest.importorskip("playwright.sync_api")
NGINX = "/usr/sbin/nginx"
SINGLE_PORT, NGINX_PORT, BACKEND_BASE = 8660, 8662, 8663
AFFINITY = "minigpt_affinity"


@contextlib.contextmanager
def _started(cmd: list[str], data_dir: Path, urls: list[str], log: Path):
    env = dict(os.environ, MINIGPT_TORCH_THREADS="1", MINIGPT_DATA_DIR=str(data_dir), PYTHON=sys.executable)
    with open(log, "w") as out:
        proc = subprocess.Popen(cmd, cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        try:
            for url in urls:
                wait_health(url, proc, 120)
            yield
        finally:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)


def _connects(port: int) -> int:
    text = urllib.request.urlopen(f"http://127.0.0.1:{port}/_stcore/metrics", timeout=5).read().decode()
    return int(re.search(r'session_events_total\{type="connect"\} (\d+)', text).group(1))


def _cookie_on(backend: int, avoid: set[str]) -> str:
    """An affinity cookie that nginx sends to this backend: probed with a bare websocket through nginx."""
    from websockets.sync.client import connect  # sync: Playwright's sync API already runs an event loop here

    def probe(value: str) -> bool:
        before = _connects(backend)
        with connect(f"ws://127.0.0.1:{NGINX_PORT}/_stcore/stream", subprotocols=["streamlit"],
                     additional_headers={"Cookie": f"{AFFINITY}={value}"}):
            time.sleep(0.3)
        return _connects(backend) > before

    for i in range(40):
        value = f"room-test-{i}"
        if value not in avoid and probe(value):
            return value
    raise RuntimeError(f"no cookie found for backend {backend}")


def _step_is(page, n: int, timeout: int = 20_000) -> None:
    """The Step page shows stage n: its heading (laptop) or the projector's "Stage n of N" line."""
    page.wait_for_function(
        f"() => [...document.querySelectorAll('h2')].some(h => h.innerText.startsWith('{n}. ')) || "
        f"[...document.querySelectorAll('.st-key-proj_position')].some(e => e.innerText.startsWith('Stage {n} of'))",
        timeout=timeout)


def _heading(page) -> str:
    return next((h for h in page.locator("h2").all_inner_texts() if re.match(r"\d+\. ", h)), "")


def _open(browser, url: str, *, cookie: str | None = None, viewport=(1600, 1000)):
    context = browser.new_context(viewport={"width": viewport[0], "height": viewport[1]})
    if cookie is not None:
        context.add_cookies([{"name": AFFINITY, "value": cookie, "url": url}])
    page = context.new_page()
    return page


def _explore(lecturer, a, b) -> None:
    """B explores: the next Next moves A only; the lecturer counts 2 connected, 1 following."""
    b.locator(".st-key-room_toggle_follow button").click()
    b.wait_for_function("() => document.body.innerText.includes('exploring on your own')", timeout=20_000)
    lecturer.locator(".st-key-step_next button").click()
    _step_is(a, 3)
    time.sleep(2.5)  # two of B's polls
    assert _heading(b).startswith("2. "), _heading(b)
    lecturer.wait_for_function("() => document.body.innerText.includes('2 connected · 1 following you')",
                               timeout=30_000)


def _class(browser, url: str, data_dir: Path, cookies: dict[str, str | None], tag: str) -> None:
    # The lecturer (projector view on the nginx run, where the sidebar is hidden) starts a room on the Step page.
    projector = tag == "nginx"
    lecturer = _open(browser, url, cookie=cookies["lecturer"], viewport=(1920, 1080) if projector else (1600, 1000))
    lecturer.goto(f"{url}/")  # the overview first: deep links on a fresh server are tests/test_url.py's subject
    wait_ready(lecturer)
    lecturer.goto(f"{url}/step" + ("?view=projector" if projector else ""))
    wait_ready(lecturer)
    if projector:
        lecturer.locator("[data-testid='stPopover'] button", has_text="Class room").click()
    else:
        lecturer.locator("[data-testid='stSidebar'] summary", has_text="Class room").click()
    lecturer.locator(".st-key-room_start button").click()
    lecturer.wait_for_selector(".st-key-room_lecturer", timeout=30_000)
    wait_ready(lecturer)
    code = re.search(r"room=([A-Z0-9]{6})", lecturer.locator(".st-key-room_lecturer").inner_text()).group(1)
    assert "secret" not in lecturer.url and code in lecturer.locator(".st-key-room_lecturer").inner_text()
    lecturer.screenshot(path=str(SHOTS / f"room_{tag}_lecturer_start.png"))

    # Student A joins by the link (in 中文), student B by typing the code.
    a = _open(browser, url, cookie=cookies["a"])
    a.goto(f"{url}/?room={code}&lang=zh")
    b = _open(browser, url, cookie=cookies["b"])
    b.goto(f"{url}/")
    wait_ready(b)
    b.locator("[data-testid='stSidebar'] summary", has_text="Class room").click()
    b.locator(".st-key-room_join_code input").fill(code.lower()[:3] + " " + code[3:])
    b.locator("[data-testid='stSidebar'] button", has_text="Join").click()
    for name, student in (("a", a), ("b", b)):
        try:
            _step_is(student, 1, 30_000)
        except Exception:
            student.screenshot(path=str(SHOTS / f"room_{tag}_failed_{name}.png"))
            raise
        assert "/step" in student.url
    # Next: both students show the new stage.
    lecturer.locator(".st-key-step_next button").click()
    _step_is(lecturer, 2)
    for student in (a, b):
        _step_is(student, 2)
        assert _heading(student).startswith("2. ")
    if tag == "single":  # B explores and stops following (once is enough: nothing in it is per-process)
        _explore(lecturer, a, b)

    # A question: both answer, the lecturer's histogram counts 2, Reveal shows the model's answer to both.
    lecturer.locator("[data-testid='stPopover'] button", has_text="Ask the class").click()
    lecturer.locator(".st-key-room_ask button").click()
    lecturer.wait_for_selector(".st-key-room_poll_lecturer", timeout=30_000)
    for student in (a, b):
        student.wait_for_selector(".st-key-room_poll_student [role='radiogroup']", timeout=20_000)
    a.locator(".st-key-room_poll_student [role='radiogroup'] label").nth(0).click()
    b.locator(".st-key-room_poll_student [role='radiogroup'] label").nth(1).click()
    for student, note in ((a, "答案已发送"), (b, "Answer sent")):
        student.wait_for_function(f"() => document.body.innerText.includes('{note}')", timeout=20_000)
    lecturer.locator(".st-key-room_poll_lecturer").get_by_text("The class's answers (2)").wait_for(timeout=20_000)
    lecturer.screenshot(path=str(SHOTS / f"room_{tag}_lecturer_poll.png"))
    b.screenshot(path=str(SHOTS / f"room_{tag}_student_poll.png"))
    lecturer.locator(".st-key-room_reveal_btn button").click()
    lecturer.locator(".st-key-room_poll_lecturer [data-testid='stAlertContentSuccess']").wait_for(timeout=20_000)

    poll = rooms.SQLiteRooms(data_dir / "rooms.sqlite3").view(code).poll
    question = questions.Question.from_dict(poll.question)
    assert poll.revealed
    for student, lang in ((a, "zh"), (b, "en")):
        box = student.locator(".st-key-room_poll_student [data-testid='stAlertContentSuccess']")
        box.wait_for(timeout=20_000)
        assert question.labels(lang)[question.answer] in box.inner_text()
        assert question.prompt(lang) in student.locator(".st-key-room_poll_student").inner_text()
    a.screenshot(path=str(SHOTS / f"room_{tag}_student_reveal_zh.png"))
    lecturer.screenshot(path=str(SHOTS / f"room_{tag}_lecturer_reveal.png"))
    for page in (lecturer, a, b):
        assert not exceptions(page), exceptions(page)
    if tag == "single":
        _close_and_study(lecturer, a)
    for page in (lecturer, a, b):
        page.context.close()


def _close_and_study(lecturer, a) -> None:
    """The lecturer closes the room: a student is told so; the Step page offers self-study, with a score."""
    lecturer.locator(".st-key-room_leave button").click()
    a.get_by_text("没有课堂").wait_for(timeout=20_000)  # "There is no room ...", in the student's language
    study = lecturer.locator("[data-testid='stExpander']", has_text="Test yourself")
    study.locator("summary").click()
    lecturer.locator(".st-key-study_new button").click()
    lecturer.locator(".st-key-study_answer [role='radiogroup'] label").first.wait_for(timeout=20_000)
    lecturer.locator(".st-key-study_answer [role='radiogroup'] label").first.click()
    lecturer.locator(".st-key-study_reveal button").click()
    # "Score: 0 of 0 right." is on screen before the reveal: wait for the revealed question to be counted.
    lecturer.get_by_text(re.compile(r"Score: [01] of 1 right")).wait_for(timeout=20_000)
    assert lecturer.locator("[data-testid='stAlertContentSuccess']", has_text="The model's answer").count() == 1
    assert not exceptions(lecturer) and not exceptions(a)


@pytest.fixture(scope="module")
def browser():
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_api.sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS + ["--headless"])
        yield launched
        launched.close()


def test_lecturer_and_two_students_on_one_server(browser, tmp_path):
    url = f"http://127.0.0.1:{SINGLE_PORT}"
    cmd = [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true", "--server.port",
           str(SINGLE_PORT), "--server.address", "127.0.0.1", "--server.fileWatcherType", "none",
           "--browser.gatherUsageStats", "false"]
    with _started(cmd, tmp_path, [url], tmp_path / "server.log"):
        _class(browser, url, tmp_path, {"lecturer": None, "a": None, "b": None}, "single")


@pytest.mark.skipif(not Path(NGINX).exists() and os.environ.get("CI") != "true", reason="nginx is not installed")
def test_lecturer_and_students_on_two_processes_behind_nginx(browser, tmp_path):
    url = f"http://127.0.0.1:{NGINX_PORT}"
    backends = [f"http://127.0.0.1:{BACKEND_BASE + i}" for i in range(2)]
    cmd = ["bash", str(ROOT / "deploy" / "run_cluster.sh"), "--processes", "2", "--listen", f"127.0.0.1:{NGINX_PORT}",
           "--base-port", str(BACKEND_BASE)]
    with _started(cmd, tmp_path, backends + [url], tmp_path / "cluster.log"):
        lecturer = _cookie_on(BACKEND_BASE, set())
        a = _cookie_on(BACKEND_BASE + 1, {lecturer})
        b = _cookie_on(BACKEND_BASE + 1, {lecturer, a})
        _class(browser, url, tmp_path, {"lecturer": lecturer, "a": a, "b": b}, "nginx")
