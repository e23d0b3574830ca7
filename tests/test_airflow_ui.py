"""The Airflow UI as its users click it, in a real browser: Playwright driving Debian's Chromium
(no browser download) against one live ``airflow standalone``.

- REST: a trigger is checked only for a client Airflow would serve (no token: 401, a forged one:
  403, a viewer: 403, all Airflow's own answers that say nothing of the DAG's parameters); an
  authorised client gets the field-level refusal, and an oversized body is refused unread.
- The form: a refused trigger (the "unpause" box ticked on a paused DAG) starts no run; the
  default trigger runs, the run page shows the note (Markdown: a link, a list) and a Report tab
  with the headline metrics; the optional field empty and filled, from the form and from REST.
- Hostile values and column names pushed through whole runs: the report (with and without its
  Content-Security-Policy) and the run page run no script.

Screenshots go to the test's temporary directory, and to ``$TFPIPE_SCREENSHOTS`` when it is set
(``docs/screenshots`` holds the README's).
"""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import time
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

import pytest
from airflow_support import Standalone, airflow_env
from conftest import REPO

pytestmark = pytest.mark.slow

CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# Each payload, if it ever ran, would set the title to something with PWNED or open a dialog.
SCRIPT_COLUMN = '<script>document.title="PWNED-col"</script>'
ATTR_COLUMN = '"onerror="document.title=\'PWNED-attr\'" x="'
IMG_VALUE = "<img src=x onerror=\"document.title='PWNED-img'\">"
BREAKOUT_VALUE = '"><script>alert("PWNED-v")</script>'
SVG_VALUE = "<svg onload=alert(1)>"
HOSTILE_PIPELINE = """
import os
from tfpipe import Pipeline, RunParam, Step, serving_base
from tfpipe.pipelines.penguins.pipeline import USER_MODULE

HERE = os.path.dirname(os.path.abspath(__file__))
# Which processes ever run this file (the API server must not: it checks triggers from the card).
with open(os.path.join(HERE, "executed_by.txt"), "a") as _log:
    _log.write(open("/proc/self/cmdline", "rb").read().replace(b"\\0", b" ").decode() + "\\n")


def build(home):
    base = os.path.join(serving_base(home), "hostile")
    return Pipeline(
        name="hostile",
        description="penguins without a contract, sliced by island: any value gets through",
        run_params=(
            RunParam("data", "example_gen.input", {"type": "string"}, "the data", optional=True),
        ),
        steps=(
            Step("example_gen", "example_gen", params={
                "input": os.path.join(HERE, "hostile.csv"),
                "split_ratios": {"train": 0.8, "eval": 0.2}}),
            Step("example_validator", "example_validator",
                 params={"baseline_model_dir": base}, inputs={"examples": "example_gen"}),
            Step("transform", "transform", params={"module_file": USER_MODULE},
                 inputs={"examples": "example_gen"}, after=("example_validator",)),
            Step("trainer", "trainer", params={
                "module_file": USER_MODULE, "label": "label", "label_vocabulary": "species",
                "raw_label": "species", "train_steps": 100, "steps_per_epoch": 100},
                inputs={"transform": "transform"}),
            Step("evaluator", "evaluator", params={
                "label": "species", "slice_by": ["island", "remark"],
                "thresholds": {"accuracy": {"lower": 0.3}}, "baseline_model_dir": base},
                inputs={"examples": "example_gen", "model": "trainer"}),
            Step("pusher", "pusher",
                 params={"serving_base": serving_base(home), "model_name": "hostile"},
                 inputs={"model": "trainer", "evaluation": "evaluator"}),
        ),
    )
"""


def hostile_data(source: str, path: str, hostile_columns: bool) -> None:
    """The penguins rows with markup in the values (island, a ``remark`` column) and, given
    ``hostile_columns``, two more columns whose names are markup."""
    rows = list(csv.DictReader(open(source)))
    names = [*rows[0].keys(), "remark"] + ([SCRIPT_COLUMN, ATTR_COLUMN] if hostile_columns else [])
    with open(path, "w", newline="") as f:
        out = csv.writer(f)
        out.writerow(names)
        for i, row in enumerate(rows):
            island = IMG_VALUE if row["island"] == "Dream" else row["island"]
            values = [island if k == "island" else row[k] for k in rows[0]]
            values.append([BREAKOUT_VALUE, SVG_VALUE, "plain"][i % 3])
            if hostile_columns:
                values += [str(i * 0.5), [BREAKOUT_VALUE, "plain"][i % 2]]
            out.writerow(values)


@pytest.fixture(scope="module")
def server(tmp_path_factory, penguins_csv):
    tmp = tmp_path_factory.mktemp("ui")
    dags, support = tmp / "dags", tmp / "support"
    dags.mkdir()
    support.mkdir()
    shutil.copy(os.path.join(REPO, "dags", "penguins.py"), dags / "penguins.py")
    (support / "hostile_pipeline.py").write_text(HOSTILE_PIPELINE)
    hostile_data(penguins_csv, str(support / "hostile.csv"), hostile_columns=False)
    # A DAG whose tfpipe card this version cannot read: the check fails, so the trigger must not
    # pass unchecked.
    (dags / "unreadable_card.py").write_text(
        "from airflow.sdk import DAG\n"
        "from airflow.providers.standard.operators.empty import EmptyOperator\n"
        "with DAG('unreadable_card', schedule=None, default_args={'tfpipe': {'version': 99}}):\n"
        "    EmptyOperator(task_id='nothing')\n"
    )
    (dags / "hostile.py").write_text(
        "from tfpipe.airflow import build_dag\n"
        f"dag = build_dag({str(support / 'hostile_pipeline.py')!r}, dag_id='hostile', "
        "schedule=None)\n"
    )
    env = airflow_env(
        str(tmp),
        AIRFLOW__CORE__DAGS_FOLDER=str(dags),
        AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_USERS="admin:admin,viewer:viewer",
    )
    standalone = Standalone(env)
    try:
        standalone.wait_ready()
        for dag_id in ("penguins", "hostile", "unreadable_card"):
            deadline = time.monotonic() + 120
            while (
                standalone.request("GET", f"/api/v2/dags/{dag_id}", expect=(200, 404)).get("dag_id")
                is None
            ):
                assert time.monotonic() < deadline, f"{dag_id} never appeared"
                time.sleep(1)
        standalone.request("PATCH", "/api/v2/dags/hostile", {"is_paused": False})
        standalone.support = support  # type: ignore[attr-defined]
        yield standalone
    finally:
        standalone.stop()


def password(server: Standalone, user: str) -> str:
    path = os.path.join(server.airflow_home, "simple_auth_manager_passwords.json.generated")
    return json.load(open(path))[user]


def post(server: Standalone, path: str, body: bytes, **headers: str) -> tuple[int, str]:
    """A raw POST: the status and body Airflow (or tfpipe) answered."""
    req = urllib.request.Request(server.base + path, data=body, method="POST")
    req.add_header("Content-Type", "application/json")
    for name, value in headers.items():
        req.add_header(name.replace("_", "-"), value)
    try:
        with urllib.request.urlopen(req, timeout=60) as resp:
            return resp.status, resp.read().decode()
    except urllib.error.HTTPError as err:
        return err.code, err.read().decode()


def runs(server: Standalone, dag_id: str) -> list[dict[str, Any]]:
    return server.request("GET", f"/api/v2/dags/{dag_id}/dagRuns?order_by=-run_after")["dag_runs"]


def test_a_trigger_is_checked_only_for_clients_airflow_would_serve(server):
    before = len(runs(server, "penguins"))
    bad = json.dumps({"logical_date": None, "conf": {"dataa": "/etc/passwd"}}).encode()
    viewer = server.request(
        "POST",
        "/auth/token",
        {"username": "viewer", "password": password(server, "viewer")},
        auth=False,
    )["access_token"]
    for headers, status in (
        ({}, 401),  # no token
        ({"Authorization": "Bearer forged.jwt.token"}, 403),
        ({"Cookie": "_token=forged.jwt.token"}, 403),
        ({"Authorization": f"Bearer {viewer}"}, 403),  # authenticated, not allowed to trigger
    ):
        code, text = post(server, "/api/v2/dags/penguins/dagRuns", bad, **headers)
        assert code == status, (headers, code, text)
        # Airflow's own answer: nothing about the DAG's parameters or data roots.
        for secret in ("dataa", "known", "data roots", "train_steps", "tfpipe"):
            assert secret not in text, (headers, text)
    event = json.dumps({"asset_id": 1, "extra": {"data": "/etc/passwd"}}).encode()
    code, text = post(server, "/api/v2/assets/events", event)
    assert code == 401 and "data roots" not in text
    # The same request from the admin, by token or by the UI's cookie: the field-level refusal.
    for headers in (
        {"Authorization": f"Bearer {server.token}"},
        {"Cookie": f"_token={server.token}"},
    ):
        code, text = post(server, "/api/v2/dags/penguins/dagRuns", bad, **headers)
        assert code == 400 and "unknown key 'dataa' (did you mean 'data'?)" in text, text
    # A body over the bound is refused before it is read (and Airflow's answer is not ours for
    # a client it would not serve).
    huge = b'{"conf": {"data": "' + b"x" * (2 << 20) + b'"}}'
    code, text = post(
        server, "/api/v2/dags/penguins/dagRuns", huge, Authorization=f"Bearer {server.token}"
    )
    assert code == 413 and "at most 1048576 bytes" in text, (code, text[:300])
    code, text = post(server, "/api/v2/dags/penguins/dagRuns", huge)
    assert code != 413 and "tfpipe" not in text[:2000]
    assert len(runs(server, "penguins")) == before  # nothing was started
    # Checked from the card in the serialized DAG: the API server never ran the pipeline file.
    code, text = post(
        server,
        "/api/v2/dags/hostile/dagRuns",
        json.dumps({"conf": {"dataa": 1}}).encode(),
        Authorization=f"Bearer {server.token}",
    )
    assert code == 400 and "unknown key 'dataa'" in text, text
    # A check that fails refuses: nothing starts unchecked.
    code, text = post(
        server,
        "/api/v2/dags/unreadable_card/dagRuns",
        json.dumps({"logical_date": None, "conf": {}}).encode(),
        Authorization=f"Bearer {server.token}",
    )
    assert code == 503 and "nothing was started" in text, (code, text)
    assert runs(server, "unreadable_card") == []
    executed_by = (server.support / "executed_by.txt").read_text().splitlines()
    assert executed_by  # the DAG processor ran it
    assert not [line for line in executed_by if re.search(r"api[-_]server", line)], executed_by


def screenshot(page: Any, name: str, tmp_path: Any, **options: Any) -> None:
    page.screenshot(path=str(tmp_path / name), **options)
    target = os.environ.get("TFPIPE_SCREENSHOTS")
    if target:
        os.makedirs(target, exist_ok=True)
        shutil.copy(tmp_path / name, os.path.join(target, name))


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    assert chromium, "chromium is missing: `make system-deps` installs it"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=chromium, headless=True, args=CHROMIUM_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture(scope="module")
def login_state(browser, server, tmp_path_factory):
    """Logged in once through Airflow's login form: the browser holds its ``_token`` cookie."""
    context = browser.new_context()
    page = context.new_page()
    page.goto(server.base + "/")
    page.get_by_label("Username").fill("admin")
    page.get_by_label("Password").fill(password(server, "admin"))
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(server.base + "/")
    assert "_token" in {c["name"] for c in context.cookies()}
    state = str(tmp_path_factory.mktemp("browser") / "state.json")
    context.storage_state(path=state)
    context.close()
    return state


class Watched:
    """A page whose dialogs (alert, confirm) and CSP violations are recorded."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.dialogs: list[str] = []
        page.on("dialog", lambda d: (self.dialogs.append(d.message), d.dismiss()))
        page.add_init_script(
            "window.__violations = [];"
            "document.addEventListener('securitypolicyviolation',"
            " e => window.__violations.push(e.violatedDirective + ' ' + e.blockedURI));"
        )

    def ran_no_script(self) -> None:
        """Nothing the data carried ran: no dialog, no changed title, no injected element,
        nothing the policy had to block."""
        page = self.page
        assert self.dialogs == [], self.dialogs
        assert "PWNED" not in page.title(), page.title()
        injected = page.evaluate(
            "() => Array.from(document.querySelectorAll('*')).filter(e =>"
            " Array.from(e.attributes).some(a => a.name.startsWith('on'))"
            " || (e.tagName === 'IMG' && e.getAttribute('src') === 'x')).map(e => e.outerHTML)"
        )
        assert injected == [], injected
        assert page.evaluate("() => window.__violations") == []


@pytest.fixture
def page(browser, login_state):
    context = browser.new_context(
        storage_state=login_state, viewport={"width": 1280, "height": 900}
    )
    yield Watched(context.new_page())
    context.close()


def open_trigger_form(page: Any, server: Standalone, dag_id: str) -> Any:
    page.goto(f"{server.base}/dags/{dag_id}")
    page.get_by_role("button", name="Trigger").first.click()
    dialog = page.get_by_role("dialog")
    dialog.get_by_text("Run Parameters").wait_for()
    return dialog


def test_a_refused_trigger_from_the_form_starts_no_run(server, page, tmp_path):
    """The form sends "unpause" alongside the trigger: the DAG is unpaused, yet unpausing a DAG
    that never ran on its schedule starts nothing, so the refused trigger leaves no run."""
    server.request("PATCH", "/api/v2/dags/penguins", {"is_paused": True})
    before = len(runs(server, "penguins"))
    dialog = open_trigger_form(page.page, server, "penguins")
    unpause = dialog.get_by_text("Unpause penguins on trigger")
    assert unpause.is_visible()  # ticked by default
    dialog.locator("textarea").first.fill("/etc/passwd")
    dialog.get_by_role("button", name="Trigger").click()
    dialog.get_by_text("outside the data roots").wait_for()
    assert dialog.get_by_text("'data' '/etc/passwd' is outside the data roots").is_visible()
    page.page.get_by_text("Failed to Trigger Dag").first.wait_for()
    time.sleep(15)  # many scheduler loops (heartbeat 1 s)
    assert len(runs(server, "penguins")) == before
    dag = server.request("GET", "/api/v2/dags/penguins")
    assert dag["is_paused"] is False  # what the box did
    assert [t["name"] for t in dag["tags"]] == ["tfpipe"]  # only the user's tag


def wait_run(server: Standalone, dag_id: str, run_id: str) -> dict[str, Any]:
    run = server.wait_run(dag_id, run_id)
    deadline = time.monotonic() + 30
    while not run.get("note") and time.monotonic() < deadline:  # written as the run ends
        time.sleep(1)
        run = server.request("GET", f"/api/v2/dags/{dag_id}/dagRuns/{quote(run_id, safe='')}")
    return run


def test_the_default_trigger_runs_and_the_run_page_shows_its_note_and_report(
    server, page, tmp_path
):
    p = page.page
    dialog = open_trigger_form(p, server, "penguins")
    p.set_viewport_size({"width": 1280, "height": 1500})
    screenshot(p, "trigger_form.png", tmp_path)
    p.set_viewport_size({"width": 1280, "height": 900})
    dialog.get_by_role("button", name="Trigger").click()
    p.get_by_text("Dag Run Triggered").first.wait_for()
    assert p.get_by_text("Failed to Trigger Dag").count() == 0
    p.wait_for_url("**/dags/penguins/runs/**")
    run_id = runs(server, "penguins")[0]["dag_run_id"]
    assert run_id in p.url or quote(run_id, safe="") in p.url
    run = wait_run(server, "penguins", run_id)
    assert run["state"] == "success", server.task_instances("penguins", run_id)
    assert run["conf"]["data"] is None  # the empty optional field
    p.reload()
    note = p.get_by_text("open the run report")
    note.wait_for()
    assert p.get_by_text("tfpipe: succeeded").is_visible()
    # Airflow's note view renders the Markdown: a paragraph with the link, a list of results.
    p.get_by_role("button", name="Edit note").click()
    view = p.get_by_role("dialog")
    items = view.locator("li").all_inner_texts()
    assert any(i.startswith("evaluator: BLESSED accuracy=") for i in items), items
    assert any(i.startswith("pusher: pushed version ") for i in items), items
    link = view.get_by_role("link", name="open the run report")
    assert link.get_attribute("href") == (f"/tfpipe/reports/penguins/{quote(run_id, safe='')}")
    p.wait_for_timeout(800)  # the dialog's opening animation
    screenshot(p, "run_note.png", tmp_path)
    view.get_by_role("button", name="Close").click()
    # The report from the run page's Report tab (Airflow frames it), headline metrics first.
    p.get_by_role("link", name="Report", exact=True).click()
    frame = p.frame_locator("iframe")
    frame.locator("h1").wait_for()
    assert run_id in frame.locator("h1").inner_text()  # the real run id, not the directory name
    # The outcome first: the blessing with the metrics, the push.
    outcome = frame.locator("ul.outcome").inner_text()
    assert "evaluator: BLESSED accuracy=" in outcome and "pusher: pushed version" in outcome
    assert frame.get_by_text("BLESSED: every gate passed.").count() == 1
    # The Evaluation section's second table: metric, candidate, baseline.
    accuracy = frame.locator(
        "xpath=//h2[.='Evaluation']/following::table[2]//tr[td[1][.='accuracy']]/td[2]"
    ).inner_text()
    assert float(accuracy) >= 0.9  # the gate the default trigger sets
    p.wait_for_timeout(500)  # the frame's images
    screenshot(p, "report.png", tmp_path)
    # The note's link opens the page itself, served with a policy that allows no script.
    with p.context.expect_page() as opened:
        p.goto(f"{server.base}/dags/penguins/runs/{quote(run_id, safe='')}")
        p.get_by_text("open the run report").click()
    report = opened.value
    report.wait_for_load_state()
    assert report.locator("h1").inner_text().startswith("tfpipe run")
    response = report.request.get(report.url)
    assert "script-src" not in response.headers["content-security-policy"]
    assert response.headers["content-security-policy"].startswith("default-src 'none'")
    page.ran_no_script()


def test_the_optional_field_empty_and_filled_from_the_form_and_from_rest(
    server, page, tmp_path, penguins_csv
):
    """Every way of leaving ``data`` unset or setting it is accepted and used. The same bytes as
    the first run: every step is cached, and the note says so truthfully."""
    drop = tmp_path / "drop.csv"
    shutil.copy(penguins_csv, drop)
    p = page.page
    dialog = open_trigger_form(p, server, "penguins")
    dialog.locator("textarea").first.fill(str(drop))
    dialog.get_by_role("button", name="Trigger").click()
    p.get_by_text("Dag Run Triggered").first.wait_for()
    from_form = runs(server, "penguins")[0]["dag_run_id"]
    triggered = {from_form: str(drop)}
    for conf, expected in (({"data": None}, None), ({"data": [str(drop)]}, [str(drop)])):
        triggered[server.trigger("penguins", conf)] = expected
    for run_id, expected in triggered.items():
        run = wait_run(server, "penguins", run_id)
        assert run["state"] == "success", (run_id, server.task_instances("penguins", run_id))
        assert run["conf"].get("data") == expected
        # A cached push is reported as what it is: nothing new was pushed by this run.
        assert "already serving version" in run["note"] and "pushed version" not in run["note"]


def report_page_without_its_policy(server: Standalone, page: Watched, url_path: str) -> None:
    """The report's HTML loaded without its Content-Security-Policy (header or meta): whatever
    escaping missed would run here."""
    status, html = server.get_text(url_path)
    assert status == 200, html[:500]
    assert '<meta http-equiv="Content-Security-Policy"' in html
    stripped = "\n".join(
        line for line in html.splitlines() if "Content-Security-Policy" not in line
    )
    page.page.set_content(stripped)
    page.ran_no_script()


def test_markup_in_values_and_column_names_runs_no_script_anywhere(
    server, page, tmp_path, penguins_csv
):
    """Values with markup go through a whole run (island, a sliced ``remark`` column); column
    names with markup go as far as they get (today tf.Transform refuses them), into the data
    statistics and the run's error."""
    names = tmp_path / "names.csv"
    hostile_data(penguins_csv, str(names), hostile_columns=True)
    values_run = server.trigger("hostile", {})
    names_run = server.trigger("hostile", {"data": str(names)})
    values = wait_run(server, "hostile", values_run)
    assert values["state"] == "success", server.task_instances("hostile", values_run)
    wait_run(server, "hostile", names_run)  # tf.Transform refuses such names (Known limits)
    checks = {
        values_run: [IMG_VALUE, BREAKOUT_VALUE, SVG_VALUE],
        names_run: [SCRIPT_COLUMN, ATTR_COLUMN, BREAKOUT_VALUE],
    }
    p = page.page
    for run_id, shown in checks.items():
        path = f"/tfpipe/reports/hostile/{quote(run_id, safe='')}"
        p.goto(server.base + path)
        text = p.locator("body").inner_text()
        for markup in shown:  # the markup is there, as text
            assert markup in text, (run_id, markup)
        page.ran_no_script()
        report_page_without_its_policy(server, page, path)
        p.goto(f"{server.base}/dags/hostile/runs/{quote(run_id, safe='')}")
        p.get_by_text("open the run report").wait_for()
        p.get_by_role("link", name="Report", exact=True).click()
        p.frame_locator("iframe").locator("h1").wait_for()
        page.ran_no_script()
    assert IMG_VALUE in p.frame_locator("iframe").locator("body").inner_text()
