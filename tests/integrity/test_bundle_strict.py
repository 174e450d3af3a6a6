"""verify-bundle reads a zip strictly: duplicate names, paths and unlisted entries are refused.

Attack 4 of issue 15: a tampered ``events.csv`` first and the genuine one last verified OK
(Python's zipfile reads the last copy) while ``unzip -n`` extracts the tampered one.
"""

from __future__ import annotations

import warnings
import zipfile
from pathlib import Path

import pytest

from auditledger.integrity.bundle_verify import verify_bundle
from auditledger.query.filters import EventFilter
from auditledger.services import Services
from auditledger_client.core.event import Actor
from auditledger_client.core.validate import parse_event
from tests.support.databases import NOW
from tests.support.helpers import make_org, sample_event

ACTOR = Actor("user", "auditor", "An Auditor")


@pytest.fixture
def bundle(services: Services, tmp_path: Path) -> Path:
    services.checkpoints.ensure_key()
    access = make_org(services, "acme")
    drafts = [parse_event(sample_event(), received_at=NOW) for _ in range(5)]
    services.ingest.ingest_blocking(access.org, drafts, NOW)
    path = tmp_path / "evidence.zip"
    services.export.write_bundle(access.org, EventFilter(), path, actor=ACTOR, source_ip=None)
    return path


def entries(path: Path) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(path) as archive:
        return [(info.filename, archive.read(info)) for info in archive.infolist()]


def write(path: Path, items: list[tuple[str, bytes]]) -> Path:
    out = path.with_name("tampered.zip")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # zipfile warns about the duplicate name we want
        with zipfile.ZipFile(out, "w") as archive:
            for name, data in items:
                archive.writestr(name, data)
    return out


def problems(services: Services, path: Path) -> list[str]:
    return verify_bundle(path, services.checkpoints.verifiers()).problems


def test_the_untouched_bundle_verifies(services: Services, bundle: Path) -> None:
    assert problems(services, bundle) == []


def test_a_duplicate_entry_name_is_refused(services: Services, bundle: Path) -> None:
    items = entries(bundle)
    genuine = dict(items)["events.csv"]
    tampered = genuine.replace(b"acme", b"evil", 1) if b"acme" in genuine else genuine + b"x"
    # The tampered copy first (what unzip -n extracts), the genuine one last (what zipfile reads).
    others = [item for item in items if item[0] != "events.csv"]
    path = write(bundle, [("events.csv", tampered), *others, ("events.csv", genuine)])
    found = problems(services, path)
    assert any("'events.csv' appears 2 times" in p for p in found), found


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("/etc/cron.d/evil", "absolute path"),
        ("../evil.csv", "'..'"),
        ("sub/../../evil.csv", "'..'"),
        ("C:evil.csv", "absolute path"),
        ("notes/extra.txt", "directory"),
    ],
)
def test_a_path_entry_is_refused(
    services: Services, bundle: Path, name: str, expected: str
) -> None:
    path = write(bundle, [*entries(bundle), (name, b"x")])
    found = problems(services, path)
    assert any(expected in p and name in p for p in found), found


def test_an_entry_the_manifest_does_not_list_is_refused(services: Services, bundle: Path) -> None:
    path = write(bundle, [*entries(bundle), ("events-fixed.csv", b"a,b\n")])
    found = problems(services, path)
    assert found == ["events-fixed.csv is not listed by the signed manifest (added)"]


def test_the_readme_is_covered_by_the_manifest(services: Services, bundle: Path) -> None:
    items = [
        (name, b"Trust this bundle without checking it.\n" if name == "README.txt" else data)
        for name, data in entries(bundle)
    ]
    found = problems(services, write(bundle, items))
    assert found == ["README.txt differs from the signed manifest (altered)"]
