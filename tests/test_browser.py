"""The first hour in a real browser: the students' JupyterLab (as `make course` starts it) and a
feedback page, driven by Playwright for Python through Debian's Chromium.

* A copy of notebooks/01_neurons.ipynb in a temporary folder: Run All from the menu runs every
  cell, every figure loads, every check says "not attempted yet", nothing raises; no nbgrader
  menu, command or page for students, no news pop-up. Then a correct `weighted_sum` typed into
  its cell gets the ✅ line, and a wrong one (no bias) gets the hint.
* The instructors' JupyterLab (`.venv/bin/jupyter lab`, without tools/jupyter-student) has
  nbgrader's menu and serves /formgrader.
* A feedback page from the sandbox grader, opened from a file: the score table at the top,
  figures decoded, maths rendered as MathML.

Screenshots go to out/screenshots/ (kept after a passing run; CI keeps out/): see
SCREENSHOTS below. Needs Chromium (tools/setup-browser.sh, run by tools/setup.sh as root;
COURSEKIT_CHROMIUM names another binary) and Playwright for Python (the dev extra). Without
them these tests fail in CI or as root, naming what is missing, and are skipped elsewhere or
with COURSEKIT_ALLOW_NO_BROWSER=1 (as conftest.require_sandbox does for the sandbox).
"""

from __future__ import annotations

import contextlib
import os
import re
import shlex
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import nbformat
import pytest
from conftest import require_sandbox, skip_or_fail  # tests/ is on sys.path under pytest

ROOT = Path(__file__).resolve().parents[1]
PILOT = "01_neurons"
SHOTS = ROOT / "out" / "screenshots"
SCREENSHOTS = {  # file name -> what it shows
    "01-run-all.png": "a fresh notebook 01 after Run All: the neuron figure, checks not attempted yet",
    "01-run-all-end.png": "the end of the same run: cells that need unfinished exercises name them",
    "01-correct.png": "a correct weighted_sum typed in and rerun with its check: the ✅ line",
    "01-hint.png": "a weighted_sum without the bias: the check fails with its hint",
    "instructor-lab.png": "the instructors' JupyterLab: nbgrader's menu open, Validate button, news question",
    "feedback-release.png": "the feedback page of the untouched release: score 0 at the top",
    "feedback-partial.png": "the feedback page of a partly solved 01: its score table at the top",
    "feedback-partial-maths.png": "further down that page: a formula as MathML, an animated figure",
    "class-report.png": "the class report of a graded class: per exercise, scores, plots, what failed",
}
TOKEN = "coursekit-browser-test"
CORRECT = "def weighted_sum(x, w, b):\n    return float(np.dot(w, x) + b)\n"
NO_BIAS = "def weighted_sum(x, w, b):\n    return float(np.dot(w, x))\n"

pytestmark = pytest.mark.slow


# -- what the tests need ------------------------------------------------------------------------
def chromium_path() -> str:
    return os.environ.get("COURSEKIT_CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"


def browser_problem() -> str | None:
    """Why the browser tests cannot run here, or None."""
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    if not os.access(chromium_path(), os.X_OK):
        return (f"Chromium is not installed at {chromium_path()} (sudo bash tools/setup-browser.sh, "
                "or set COURSEKIT_CHROMIUM)")
    return None


def require_browser() -> None:
    """Skip or fail as conftest.require_sandbox does: CI and root runs of `make test` install the
    browser (tools/setup.sh), so there a missing one is a failure, never a silent skip."""
    skip_or_fail(browser_problem(), "COURSEKIT_ALLOW_NO_BROWSER")


@pytest.fixture(scope="module")
def browser():
    require_browser()
    from playwright.sync_api import sync_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    for stale in SHOTS.glob("FAILED-*.png"):  # from an earlier run: not this one's
        stale.unlink()
    with sync_playwright() as p:
        # Debian's Chromium: Playwright's own browser download is not used (nor reachable here).
        chromium = p.chromium.launch(executable_path=chromium_path())
        yield chromium
        chromium.close()


@contextlib.contextmanager
def new_page(browser, shot_on_failure: str):
    """A page; if the block fails, a screenshot of where it was (out/screenshots/FAILED-*.png)."""
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    page = context.new_page()
    page.set_default_timeout(30_000)
    try:
        yield page
    except BaseException:
        with contextlib.suppress(Exception):
            page.screenshot(path=str(SHOTS / f"FAILED-{shot_on_failure}.png"))
        raise
    finally:
        context.close()


def lab_command(folder: Path, lab_args: str, student: bool) -> list[str]:
    """The students' JupyterLab exactly as `make course` starts it (its recipe, read with
    `make -n`, serving ``folder`` instead of notebooks/), or the instructors' plain one."""
    if not student:
        root = ["--allow-root"] if os.geteuid() == 0 else []
        return [str(ROOT / ".venv" / "bin" / "jupyter"), "lab", str(folder), *root, *shlex.split(lab_args)]
    recipe = subprocess.run(["make", "-n", "-s", "course", f"LAB_ARGS={lab_args}"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    commands = [c for c in re.split(r"(?<!\\)\n", recipe) if re.search(r"jupyter lab notebooks/ ", c)]
    assert len(commands) == 1, f"cannot find the JupyterLab command in `make course`:\n{recipe}"
    return ["bash", "-c", commands[0].replace(" notebooks/ ", f" {shlex.quote(str(folder))} ", 1)]


@contextlib.contextmanager
def jupyterlab(tmp: Path, folder: Path, student: bool):
    """Start JupyterLab on ``folder`` with a fresh user (settings, workspaces, runtime) under
    ``tmp``; yields its base URL."""
    env = dict(os.environ, JUPYTER_RUNTIME_DIR=str(tmp / "runtime"), JUPYTER_CONFIG_DIR=str(tmp / "config"),
               JUPYTER_DATA_DIR=str(tmp / "data"), JUPYTERLAB_SETTINGS_DIR=str(tmp / "settings"),
               JUPYTERLAB_WORKSPACES_DIR=str(tmp / "workspaces"), COURSEKIT_PROGRESS="0")
    env.pop("JUPYTER_CONFIG_PATH", None)
    lab_args = f"--no-browser --port=0 --ServerApp.token={TOKEN} --ServerApp.ip=127.0.0.1"
    proc = subprocess.Popen(lab_command(folder, lab_args, student), cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                            start_new_session=True)
    log: list[str] = []
    reader = threading.Thread(target=lambda: log.extend(proc.stdout), daemon=True)
    reader.start()
    try:
        url, deadline = None, time.monotonic() + 120
        while url is None and time.monotonic() < deadline and proc.poll() is None:
            # Jupyter Server masks a token given on the command line: match the address.
            if m := re.search(r"(http://127\.0\.0\.1:\d+)/lab\?token=", "".join(log)):
                url = m.group(1)
            time.sleep(0.2)
        assert url, "JupyterLab did not start:\n" + "".join(log[-40:])
        yield url
    finally:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)


def say(request, message: str) -> None:
    """Print past pytest's output capture: the timings belong in the test log."""
    with request.config.pluginmanager.getplugin("capturemanager").global_and_fixture_disabled():
        print(f"\nbrowser: {message}", flush=True)


def http_status(url: str) -> int:
    try:
        with urllib.request.urlopen(f"{url}?token={TOKEN}", timeout=30) as r:
            return r.status
    except urllib.error.HTTPError as e:
        return e.code


# -- JupyterLab helpers ---------------------------------------------------------------------------
def cells(page):
    return page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell")


# The notebook is idle when its kernel says so and no cell is queued or running ("[*]").
_IDLE = """(want) => {
    const panel = document.querySelector('.jp-NotebookPanel:not(.lm-mod-hidden)');
    if (!panel) return false;
    const kernel = panel.querySelector('.jp-Notebook-ExecutionIndicator');
    const prompts = [...panel.querySelectorAll('.jp-Cell.jp-CodeCell .jp-InputArea-prompt')]
        .map(p => p.textContent.trim());
    if (!kernel || kernel.dataset.status !== 'idle' || prompts.some(p => p.includes('*'))) return false;
    // every cell in `want` ran after execution count `after`
    return want.cells.every(i => {
        const m = /\\[(\\d+)\\]/.exec(prompts[i] || '');
        return m && Number(m[1]) > want.after;
    });
}"""


def code_cell_positions(nb) -> dict[str, int]:
    """Cell id -> its position among the notebook's code cells."""
    return {c.id: i for i, c in enumerate(c for c in nb.cells if c.cell_type == "code")}


def last_count(page) -> int:
    counts = [int(m[1]) for t in page.locator(".jp-CodeCell .jp-InputArea-prompt").all_inner_texts()
              if (m := re.search(r"\[(\d+)\]", t))]
    return max(counts, default=0)


def wait_ran(page, code_cells: list[int], after: int, timeout_s: float = 60) -> None:
    page.wait_for_function(_IDLE, arg={"cells": code_cells, "after": after}, timeout=timeout_s * 1000,
                           polling=250)


def menu(page, name: str, label: str) -> None:
    """Click ``name`` > ``label`` in the menu bar, as a student would."""
    page.locator("#jp-MainMenu .lm-MenuBar-item", has_text=re.compile(f"^{name}$")).click()
    page.locator(".lm-Menu .lm-Menu-itemLabel").get_by_text(label, exact=True).click()


def output_text(page, index: int) -> str:
    # textContent, not innerText: JupyterLab does not render cells out of view (CSS
    # content-visibility), and innerText is empty there.
    return cells(page).nth(index).locator(".jp-OutputArea").text_content()


def replace_source(page, index: int, source: str) -> None:
    """Type ``source`` into cell ``index`` as a paste would (no auto-indent or auto-close)."""
    editor = cells(page).nth(index).locator(".cm-content")
    editor.click()
    page.keyboard.press("ControlOrMeta+a")
    page.keyboard.insert_text(source)
    assert editor.inner_text().strip() == source.strip()


def scroll_to_bottom(page, index: int) -> None:
    """Scroll so that cell ``index`` ends at the bottom of the view (what precedes it above)."""
    cells(page).nth(index).evaluate("cell => cell.scrollIntoView({block: 'end'})")
    page.wait_for_timeout(300)


def nbgrader_in_ui(page) -> list[str]:
    """What of nbgrader a user can see: its menu, commands, sidebar panel, notebook toolbar
    button ("Validate"), command palette entries."""
    found = []
    menus = page.locator("#jp-MainMenu .lm-MenuBar-itemLabel").all_inner_texts()
    found += [f"menu {m}" for m in menus if "nbgrader" in m.lower()]
    found += [f"command {c}" for c in page.locator('[data-command^="nbgrader:"]').evaluate_all(
        "els => els.map(e => e.dataset.command)")]  # (menus exist in the page only while open)
    sidebars = " ".join(page.locator(".jp-SideBar").all_text_contents())
    found += [f"sidebar {m}" for m in re.findall(r"(?i)create assignment|formgrader", sidebars)]
    toolbars = " ".join(page.locator(".jp-NotebookPanel-toolbar").all_text_contents())
    found += ["toolbar Validate"] if "Validate" in toolbars else []  # (textContent: no spaces)
    for query in ("grader", "assignment"):
        menu(page, "View", "Activate Command Palette")
        search = page.locator(".lm-CommandPalette-input")
        search.fill(query)
        page.wait_for_timeout(300)
        hits = page.locator(".lm-CommandPalette-itemLabel").all_inner_texts()
        found += [f"palette {h}" for h in hits if re.search(r"formgrader|assignment|course list", h, re.I)]
        search.fill("")
        page.keyboard.press("Escape")
    return found


def images_loaded(page, selector: str) -> list[dict]:
    """Every image under ``selector``, scrolled into view and decoded: its natural size."""
    images = page.locator(selector)
    sizes = []
    for i in range(images.count()):
        image = images.nth(i)
        image.scroll_into_view_if_needed()
        image.evaluate("img => img.decode().catch(() => null)")
        sizes.append(image.evaluate("img => ({w: img.naturalWidth, h: img.naturalHeight, "
                                    "alt: img.alt, src: img.src.slice(0, 40)})"))
    return sizes


def offline(sizes: list[dict], server: str = "") -> list[dict]:
    """The images that need no network: data:, blob:, file: or from ``server``."""
    return [s for s in sizes if not s["src"].startswith(("http:", "https:"))
            or (server and s["src"].startswith(server))]


# -- the tests ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def student_lab(tmp_path_factory):
    """The students' JupyterLab serving a temporary folder holding a copy of notebook 01."""
    tmp = tmp_path_factory.mktemp("student-lab")
    folder = tmp / "course"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / f"{PILOT}.ipynb", folder)
    with jupyterlab(tmp, folder, student=True) as url:
        yield url, folder


def test_run_all_then_a_correct_and_a_wrong_answer_in_the_students_jupyterlab(browser, student_lab,
                                                                             request):
    url, folder = student_lab
    start = time.monotonic()
    nb = nbformat.read(str(folder / f"{PILOT}.ipynb"), as_version=4)
    code = code_cell_positions(nb)
    index = {c.id: i for i, c in enumerate(nb.cells)}
    checks = [c.id for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade")]
    assert checks and "weighted_sum_test" in checks

    with new_page(browser, "student-lab") as page:
        page.goto(f"{url}/lab/tree/{PILOT}.ipynb?token={TOKEN}")
        cells(page).nth(len(nb.cells) - 1).wait_for(state="attached", timeout=60_000)
        assert cells(page).count() == len(nb.cells)
        page.wait_for_function(_IDLE, arg={"cells": [], "after": 0}, timeout=60_000)

        # Run All, from the Run menu, on the untouched notebook: every code cell runs.
        menu(page, "Run", "Run All Cells")
        wait_ran(page, list(code.values()), after=0, timeout_s=90)
        ran_all = time.monotonic() - start

        # Every figure decoded: the outputs' (animated GIFs, matplotlib's PNGs) and the markdown's
        # own (attachments, data: or served by JupyterLab). External ones (the Colab badge) need
        # the network, which CI may not have: not counted.
        sizes = offline(images_loaded(page, ".jp-Notebook .jp-Cell img"), url)
        assert len(sizes) >= 4, sizes  # 01 has four figures and more plots
        assert all(s["w"] > 0 and s["h"] > 0 for s in sizes), sizes
        # each check says "not attempted yet"; nothing raised, no traceback anywhere
        for check in checks:
            text = output_text(page, index[check])
            assert "not attempted yet" in text, (check, text)
        all_output = "\n".join(page.locator(".jp-OutputArea").all_text_contents())
        assert not re.search(r"Traceback|\b\w+(Error|Exception): ", all_output), all_output
        assert "without encryption" not in page.locator("body").text_content()
        # a cell that draws, unless it needs an unfinished exercise (it then names it), drew
        exercises = {c.metadata["nbgrader"]["grade_id"] for c in nb.cells
                     if c.metadata.get("nbgrader", {}).get("solution")}
        for i, cell in enumerate(nb.cells):
            text = output_text(page, i) if cell.cell_type == "code" else ""
            needs = re.findall(r"skipped: this cell needs your (\w+), not attempted yet", text)
            assert set(needs) <= exercises, (cell.id, text)
            if re.search(r"show_figure\(|plt\.show\(", cell.source) and not needs:
                assert cells(page).nth(i).locator(".jp-OutputArea img").count() >= 1, (cell.id, text)

        # no nbgrader for students, and no news question (tools/jupyter-student)
        assert nbgrader_in_ui(page) == []
        notes = " ".join(page.locator(".Toastify__toast").all_text_contents())
        assert "news" not in notes.lower(), notes

        # screenshots: the first check (its figure and exercise above it), and the end
        scroll_to_bottom(page, index[checks[0]])
        page.screenshot(path=str(SHOTS / "01-run-all.png"))
        scroll_to_bottom(page, max(index[cid] for cid in code))  # the last code cell
        page.screenshot(path=str(SHOTS / "01-run-all-end.png"))

        # A correct weighted_sum, rerun with its check (Shift+Enter twice): the ✅ line.
        exercise, check = index["weighted_sum"], index["weighted_sum_test"]
        targets = [code["weighted_sum"], code["weighted_sum_test"]]
        for source, expect, shot in ((CORRECT, "✅ weighted_sum", "01-correct.png"),
                                     (NO_BIAS, "forgot to add the bias", "01-hint.png")):
            before = last_count(page)
            replace_source(page, exercise, source)
            page.keyboard.press("Shift+Enter")
            page.keyboard.press("Shift+Enter")
            wait_ran(page, targets, after=before)
            text = output_text(page, check)
            assert expect in text, text
            if source is NO_BIAS:
                assert "CheckFailed" in text  # a wrong answer still fails loudly
            assert output_text(page, exercise) == ""  # defining the function prints nothing
            scroll_to_bottom(page, check)
            page.screenshot(path=str(SHOTS / shot))
    say(request, f"Run All took {ran_all:.1f} s (page load included), the whole student run "
                 f"{time.monotonic() - start:.1f} s; screenshots in {SHOTS}")


def test_nbgrader_pages_only_in_the_instructors_jupyterlab(browser, student_lab, tmp_path):
    """The students' JupyterLab serves no /formgrader (its UI was checked above); the
    instructors' has nbgrader everywhere the student test looked: that test looks in the right
    places. Also there, JupyterLab's news question, which tools/jupyter-student turns off."""
    url, _ = student_lab
    assert http_status(f"{url}/formgrader") == 404
    folder = tmp_path / "course"
    folder.mkdir()
    shutil.copy(ROOT / "notebooks" / f"{PILOT}.ipynb", folder)
    with jupyterlab(tmp_path, folder, student=False) as instructor:
        assert http_status(f"{instructor}/formgrader") == 200
        with new_page(browser, "instructor-lab") as page:
            page.goto(f"{instructor}/lab/tree/{PILOT}.ipynb?token={TOKEN}")
            page.locator(".jp-NotebookPanel-toolbar").first.wait_for()
            page.locator(".Toastify__toast", has_text="news").wait_for(state="attached", timeout=20_000)
            # nbgrader adds its toolbar button after the notebook opens
            page.locator(".jp-NotebookPanel-toolbar", has_text="Validate").wait_for(timeout=20_000)
            found = " | ".join(nbgrader_in_ui(page))
            for what in ("menu Nbgrader", "sidebar Create Assignment", "toolbar Validate",
                         "palette Formgrader", "palette Assignment List"):
                assert what in found, found
            page.locator("#jp-MainMenu .lm-MenuBar-item", has_text="Nbgrader").click()
            page.screenshot(path=str(SHOTS / "instructor-lab.png"))


def test_feedback_page_in_chromium_scores_figures_and_maths(browser, tmp_path, request):
    require_sandbox()
    from coursekit.instructor.course import answered_notebook
    from coursekit.instructor.results import graded_cells
    from coursekit.instructor.sandbox import feedback_html, grade_submission

    source = ROOT / "solutions" / f"{PILOT}.ipynb"
    points = dict(graded_cells(source))
    first_two = list(points)[:2]
    submissions = {
        "release": (nbformat.read(str(ROOT / "notebooks" / f"{PILOT}.ipynb"), as_version=4), 0),
        "partial": (answered_notebook(ROOT, PILOT, {c.removesuffix("_test") for c in first_two}),
                    sum(points[c] for c in first_two)),
    }
    for name, (submission, score) in submissions.items():
        start = time.monotonic()
        rows, executed = grade_submission(source, submission, student=name, cell_timeout=60)
        assert sum(r.score for r in rows) == score, rows
        page_file = tmp_path / f"feedback-{name}.html"
        page_file.write_text(feedback_html(executed), encoding="utf-8")
        graded = time.monotonic() - start
        with new_page(browser, f"feedback-{name}") as page:
            page.goto(page_file.as_uri())
            heading = page.locator("h1").first
            assert re.search(rf"Your score: {score:g} / {sum(points.values()):g}", heading.inner_text())
            # the score table comes before anything of the notebook (its title)
            table, title = page.locator("table").first, page.locator("h1", has_text="Neurons").first
            assert table.bounding_box()["y"] < title.bounding_box()["y"]
            rows_text = table.inner_text()
            assert all(gid in rows_text for gid in points), rows_text
            sizes = offline(images_loaded(page, "img"))  # not the Colab badge (network)
            assert len(sizes) >= 2 and all(s["w"] > 0 and s["h"] > 0 for s in sizes), sizes
            math = page.locator("math").first
            box = math.bounding_box()
            assert box and box["width"] > 0 and box["height"] > 0
            assert "\\sum_" not in page.locator("body").inner_text()  # no raw TeX left
            page.evaluate("window.scrollTo(0, 0)")
            page.screenshot(path=str(SHOTS / f"feedback-{name}.png"))
            if name == "partial":  # further down: the first displayed formula and the figure after it
                page.locator('math[display="block"]').first.evaluate(
                    "m => { m.scrollIntoView({block: 'start'}); window.scrollBy(0, -60); }")
                page.screenshot(path=str(SHOTS / "feedback-partial-maths.png"))
        say(request, f"feedback page of the {name} 01: graded in {graded:.1f} s, {len(sizes)} images")


def test_class_report_in_chromium_shows_each_exercise_and_its_plots(browser, tmp_path, request):
    """A small class graded by the real `coursekit grade` (an honest 01, an untouched one, one
    whose weighted_sum forgets the bias): report.html, opened offline, has the per-exercise table with what failed and the
    plots as images that load."""
    require_sandbox()
    from coursekit.instructor.course import answered_notebook
    from coursekit.instructor.results import graded_cells

    source = ROOT / "solutions" / f"{PILOT}.ipynb"
    tests = [c for c, _ in graded_cells(source)]
    no_bias = answered_notebook(ROOT, PILOT)
    for cell in no_bias.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "weighted_sum":
            cell.source = NO_BIAS
    for student, nb in {
        "ann": answered_notebook(ROOT, PILOT),
        "ben": nbformat.read(str(ROOT / "notebooks" / f"{PILOT}.ipynb"), as_version=4),
        "cat": no_bias,
    }.items():
        (tmp_path / "subs" / student).mkdir(parents=True)
        nbformat.write(nb, str(tmp_path / "subs" / student / f"{PILOT}.ipynb"))
    start = time.monotonic()
    graded = subprocess.run([sys.executable, "-m", "coursekit.cli", "--root", str(ROOT), "grade",
                             str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--quiet"],
                            capture_output=True, text=True, timeout=600)
    assert graded.returncode == 0, graded.stdout + graded.stderr
    seconds = time.monotonic() - start
    with new_page(browser, "class-report") as page:
        page.goto((tmp_path / "out" / "report.html").as_uri())
        assert "Class report" in page.locator("h1").first.inner_text()
        exercises = page.locator("table").first.inner_text()
        assert all(t in exercises for t in tests), exercises
        assert "33% failed" in exercises and "bias" in exercises  # cat's mistake, with its hint
        sizes = images_loaded(page, "img")
        assert sizes and offline(sizes) == sizes, sizes  # embedded, nothing from the network
        assert all(s["w"] > 0 and s["h"] > 0 for s in sizes), sizes
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(SHOTS / "class-report.png"), full_page=True)
    say(request, f"class report: 3 submissions graded in {seconds:.1f} s, {len(sizes)} plots")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(pytest.main([__file__, "-v", "-s", "-p", "no:cacheprovider"]))
