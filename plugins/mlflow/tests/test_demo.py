"""``make demo-mlflow`` end to end (bounded in time): its servers come up, its session with the
real MLflow client runs, it prints where to look and with which credentials, and the model's
Audit Log tab (the page a person signs in to see, and its API) shows what the session did."""

from __future__ import annotations

import http.cookiejar
import json
import os
import re
import subprocess
import sys
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

import pytest
from auditledger_mlflow.demo import AUDITOR, MODEL
from auditledger_mlflow.testing import Audit

pytestmark = pytest.mark.timeout(1200)
# A bound, not a speed expectation: the demo takes about two minutes on an idle machine, and
# an MLflow start alone took five on a shared one.
DEMO_SECONDS = 900


def api(audit: Audit, path: str) -> Any:
    request = urllib.request.Request(
        f"{audit.url}{path}", headers={"Authorization": f"Bearer {audit.read}"}
    )
    with urllib.request.urlopen(request, timeout=10) as answer:
        return json.load(answer)


def signed_in(audit: Audit, password: str) -> urllib.request.OpenerDirector:
    """A browser-like opener signed in to auditledger's pages as the demo's auditor."""
    opener = urllib.request.build_opener(
        urllib.request.HTTPCookieProcessor(http.cookiejar.CookieJar())
    )
    with opener.open(f"{audit.url}/sign-in", timeout=10) as page:
        form = page.read().decode()
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)
    assert csrf, form[:500]
    body = urllib.parse.urlencode(
        {"username": AUDITOR, "password": password, "csrf_token": csrf.group(1), "next": "/"}
    ).encode()
    with opener.open(f"{audit.url}/sign-in", data=body, timeout=10) as answer:
        assert answer.status == 200
    return opener


def test_the_demo_runs_and_the_models_tab_shows_what_it_did(tmp_path: Path) -> None:
    demo = subprocess.Popen(
        [sys.executable, "-m", "auditledger_mlflow.demo", "--exit"],
        env={**os.environ, "DEMO_DIR": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        out, err = demo.communicate(timeout=DEMO_SECONDS)
    except subprocess.TimeoutExpired:
        demo.terminate()  # the demo stops its servers on SIGTERM
        out, err = demo.communicate(timeout=120)
        pytest.fail(f"the demo took over {DEMO_SECONDS} s: {out[-2000:]} {err[-2000:]}")
    assert demo.returncode == 0, err[-3000:]
    tab_url = re.search(rf"/orgs/mlflow/models/([0-9a-f-]{{36}})  \({MODEL}\)", out)
    token = re.search(r"Bearer (\S+?)\)", out)
    password = re.search(rf"\({AUDITOR} / (\S+)\)", out)
    assert tab_url, out
    assert token, out
    assert password, out
    model = tab_url.group(1)

    # The demo stopped its servers; its audit log stays in DEMO_DIR: serve it again and look.
    audit = Audit(tmp_path / "audit", read=token.group(1))
    audit.start()
    try:
        view = api(audit, f"/api/v1/orgs/mlflow/models/{model}/events")
        seen = [(f"{e['category']}.{e['type']}", e["subject"]["id"]) for e in view["events"]]
        seen.reverse()  # the tab is newest first; the session's order is oldest first
        # Its whole history, from before its rename too: one model, two names.
        assert seen == [
            ("model.create", model),
            ("model_version.create", f"{model}:1"),
            ("model_version.create", f"{model}:2"),
            ("model.rename", model),
            ("model.description_change", model),
            ("model_version.tag_change", f"{model}:1"),
            ("model_version.stage_change", f"{model}:1"),
            ("model_version.approve", f"{model}:1"),
            ("model_version.alias_change", f"{model}:1"),
            ("model_version.reject", f"{model}:2"),
            ("model_version.download", f"{model}:1"),
        ]
        assert all(e["actor"]["id"] == "ada" for e in view["events"])
        experiment = view["events"][0]["project"]  # the download: the version's experiment
        assert experiment["name"] == "churn-prediction"  # its name when the change happened
        summary = api(audit, f"/api/v1/orgs/mlflow/models/{model}")
        assert (summary["name"], summary["earlier_names"]) == (MODEL, ["churn-model"])
        models = api(audit, "/api/v1/orgs/mlflow/models")["models"]
        assert [m["name"] for m in models] == [MODEL]
        everything = {(e["category"], e["type"]) for e in audit.events()}
        for expected in [
            ("experiment", "create"),
            ("experiment", "rename"),
            ("execution", "run"),
            ("execution", "rename"),
            ("execution", "stop"),
            ("dataset_version", "create"),
            ("datum", "import"),
            ("datum", "download"),
            ("user", "create"),
        ]:
            assert expected in everything

        # The page a person opens: the tab lists the same events.
        with signed_in(audit, password.group(1)).open(
            f"{audit.url}/orgs/mlflow/models/{model}", timeout=10
        ) as page:
            html = page.read().decode()
        assert page.status == 200
        for label in ("Create", "Rename", "Approve", "Reject", "Alias change", "Download"):
            assert label in html, label
        assert MODEL in html
        assert '<span class="earlier-name">churn-model</span>' in html
    finally:
        audit.stop()
