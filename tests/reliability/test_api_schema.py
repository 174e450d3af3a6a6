"""Schemathesis against the service's own OpenAPI document: every operation, generated valid
and invalid input, as an administrator, as the platform's ingest credential and with no
credential. No response may be a 5xx, and every response must match what the document says:
a documented status, the documented media type, a body matching the documented schema; and
input the document rules out must be refused.

The organization in the path is fixed to ``acme`` so the generated input reaches the code
behind the access check (a random organization would be a 404 every time); the access matrix
covers other organizations. The run is bounded and derandomized, so CI sees the same cases.

Each operation runs as its own Hypothesis test inside one pytest test per caller (the
schemathesis pytest plugin's lazy loader does not run under this pytest), and every failing
operation is reported, not only the first.
"""

from __future__ import annotations

import traceback
from collections import Counter
from typing import Any

import pytest
import schemathesis
import schemathesis.checks
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.config import SchemathesisConfig
from schemathesis.generation.case import Case
from schemathesis.generation.modes import GenerationMode

from auditledger.services import Services
from auditledger.web.app import create_app
from auditledger_client.core.clock import FrozenClock
from tests.support.world import MODEL_ID, World, build_world

pytestmark = [pytest.mark.slow, pytest.mark.parametrize("engine_kind", ["sqlite"], indirect=True)]

MAX_EXAMPLES = 25
# Where the caller's credential is refused at the access check (no credential at all, a member
# on an administrator's operation, the ingest credential on a read), every request stops there,
# so the generated input decides almost nothing (401/403, or 400/422 for a body that is not
# JSON); ten cases per operation and mode still call the operation both ways and check each
# answer against the document, for 40% of the cost (generating the cases, not calling the app,
# is most of this test's time).
REFUSED_EXAMPLES = 10


def examples(refused: bool) -> settings:
    """The Hypothesis settings of one operation's run: bounded and derandomized."""
    return settings(
        max_examples=REFUSED_EXAMPLES if refused else MAX_EXAMPLES,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )


def refused_at_the_door(operation: Any, fixed: dict[str, str], headers: dict[str, str]) -> bool:
    """Whether the caller is refused before its input is read: a request carrying nothing but
    the path (the fixed values, a made-up one for the rest) is answered 401 or 403."""
    if not headers:
        return True
    path = {p.name: fixed.get(p.name, "probe") for p in operation.path_parameters}
    response = operation.Case(path_parameters=path).call(headers=headers)
    return response.status_code in (401, 403)


def nothing_to_break(operation: Any, fixed: dict[str, str]) -> bool:
    """Whether negative mode has nothing to make invalid: no query, header, cookie or body, and
    in the path only the fixed values and strings without constraints. Hypothesis would try a
    thousand cases (a second of generating) before saying so, for each caller."""
    if any(True for _ in [*operation.query, *operation.headers, *operation.cookies]):
        return False
    if any(True for _ in operation.body):
        return False
    return all(
        parameter.name in fixed
        or (
            parameter.definition["schema"].get("type") == "string"
            and set(parameter.definition["schema"]) <= {"type", "title", "description"}
        )
        for parameter in operation.path_parameters
    )


# No 5xx; the documented statuses, media types, headers and bodies; invalid input refused.
CHECKS = [
    schemathesis.checks.not_a_server_error,
    schemathesis.checks.status_code_conformance,
    schemathesis.checks.content_type_conformance,
    schemathesis.checks.response_headers_conformance,
    schemathesis.checks.response_schema_conformance,
]
NEGATIVE_CHECKS = [*CHECKS, schemathesis.checks.negative_data_rejection]
# With a working credential, also: the same request without it, or with a wrong one, fails.
AUTHENTICATED_CHECKS = [schemathesis.checks.ignored_auth]


@pytest.fixture
def world(services: Services, clock: FrozenClock) -> World:
    return build_world(services, clock)


def run_operation(
    operation: Any,
    mode: GenerationMode,
    fixed: dict[str, str],
    headers: dict[str, str],
    statuses: Counter[int],
    bounds: settings,
) -> None:
    """Every generated case of ``operation`` in ``mode``, called and validated."""
    checks = NEGATIVE_CHECKS if mode is GenerationMode.NEGATIVE else CHECKS
    if headers:
        checks = [*checks, *AUTHENTICATED_CHECKS]
    names = {parameter.name for parameter in operation.path_parameters}
    path = {name: value for name, value in fixed.items() if name in names}

    @bounds
    @given(case=operation.as_strategy(mode, path_parameters=path))
    def run(case: Case) -> None:
        response = case.call_and_validate(headers=headers, checks=checks)
        statuses[response.status_code] += 1

    run()


@pytest.mark.parametrize("caller", ["admin", "member", "ingest", "anonymous"])
def test_the_api_keeps_its_documented_promises(world: World, caller: str) -> None:
    access = world.acme.access
    tokens = {"admin": access.admin, "member": access.member, "ingest": access.ingest}
    headers = {"Authorization": f"Bearer {tokens[caller]}"} if caller in tokens else {}
    app = create_app(world.services, manage_services=False)
    # The credential is the caller's, sent as is: generating (and in negative mode, breaking)
    # the documented bearer header would test the harness, not the API.
    config = SchemathesisConfig.from_dict({"generation": {"with-security-parameters": False}})
    schema = schemathesis.openapi.from_asgi("/api/openapi.json", app, config=config)
    # Real ids, so generated queries reach stored events and models rather than 404 at once.
    fixed = {"org": "acme", "event_id": world.event_id, "model_id": MODEL_ID}
    failures: list[str] = []
    statuses: Counter[int] = Counter()
    operations = [result.ok() for result in schema.get_all_operations()]
    for operation in operations:
        bounds = examples(refused_at_the_door(operation, fixed, headers))
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            if mode is GenerationMode.NEGATIVE and nothing_to_break(operation, fixed):
                continue
            try:
                run_operation(operation, mode, fixed, headers, statuses, bounds)
            except Unsatisfiable:
                # Nothing in this operation can be made invalid (no parameters, or only
                # free-form strings besides the fixed organization).
                assert mode is GenerationMode.NEGATIVE, operation.label
            except (Exception, BaseExceptionGroup) as exc:
                text = "".join(traceback.format_exception_only(exc))
                failures.append(f"{operation.label} ({mode.value}):\n{text}")
    # The figures for docs/reliability.md (pytest -s shows them).
    print(f"{caller}: {len(operations)} operations, {statuses.total()} calls")
    print(f"{caller}: statuses {sorted(statuses.items())}")
    assert failures == [], "\n\n".join(failures)
    if caller == "ingest":
        # The document describes each catalog type (a union on category/type), so generated
        # events are accepted: before, 0 of 3,053 ingest calls were.
        assert statuses[201] > 0, sorted(statuses.items())
    if caller in ("admin", "member"):
        assert statuses[200] > 0, sorted(statuses.items())
