"""The access-control matrix as data: every route with the outcome each kind of caller gets, and a
caller that speaks to the app as any principal (the test: reliability/test_access_matrix.py)."""

from __future__ import annotations

import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI
from fastapi.routing import iter_route_contexts
from fastapi.testclient import TestClient
from httpx2 import Response
from starlette.routing import Mount

from auditledger.web.auth import SESSION_COOKIE
from auditledger.web.pages.session import SIGN_IN_CSRF_COOKIE
from auditledger_client.core.event import Actor
from tests.support.helpers import sample_event
from tests.support.history import PASSWORD
from tests.support.pages import csrf_token, signed_in
from tests.support.world import MODEL_ID, PROJECT_ID, World


@dataclass(frozen=True)
class Redirect:
    """A 303 to a location starting with ``to``."""

    to: str


Outcome = int | Redirect | frozenset[int]

ANONYMOUS = ("none", "bad", "expired", "revoked")
WRITERS = ("ingest", "platform")
PEOPLE = ("member", "admin", "other_admin")
PRINCIPALS = (*ANONYMOUS, *WRITERS, *PEOPLE)
SIGN_IN = Redirect("/sign-in")
ACME_LOG = Redirect("/orgs/acme/audit-log")
ACME_DESTINATIONS = Redirect("/orgs/acme/destinations")


def everyone(outcome: Outcome) -> dict[str, Outcome]:
    """The same outcome for every caller (public routes)."""
    return dict.fromkeys(PRINCIPALS, outcome)


def api(*, writer: Outcome, member: Outcome, admin: Outcome) -> dict[str, Outcome]:
    """An API route: 401 without a working credential; another organization's admin gets 404."""
    return {
        **dict.fromkeys(ANONYMOUS, 401),
        **dict.fromkeys(WRITERS, writer),
        "member": member,
        "admin": admin,
        "other_admin": 404,
    }


def page(ok: Outcome = 200) -> dict[str, Outcome]:
    """A page of acme: sign in first (a bearer token does not sign anybody in)."""
    return {
        **dict.fromkeys((*ANONYMOUS, *WRITERS), SIGN_IN),
        "member": ok,
        "admin": ok,
        "other_admin": 404,
    }


def admin_page(ok: Outcome = 200) -> dict[str, Outcome]:
    """A page of acme for its administrators only: a member is refused (403)."""
    return {**page(ok), "member": 403}


READ = api(writer=403, member=200, admin=200)
ADMIN_ONLY = api(writer=403, member=403, admin=200)
WRITE = api(writer=201, member=403, admin=403)
# The log may or may not have grown since the last checkpoint: signed now (201) or that one (200).
SIGNED = frozenset({200, 201})


@dataclass(frozen=True)
class Row:
    """One route: how to call it validly, and what each caller gets."""

    method: str
    route: str  # the path as the application declares it
    expect: Mapping[str, Outcome]
    query: str = ""
    body: str | None = None  # see Caller.body
    api: bool = field(default=False)

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.route


def api_row(method: str, route: str, expect: Mapping[str, Outcome], **kw: Any) -> Row:
    return Row(method, route, expect, api=True, **kw)


ORG = "/api/v1/orgs/{org}"
ROWS = [
    # Public: no credential needed, and a bad one does not turn them into errors.
    Row("GET", "/api/openapi.json", everyone(200)),
    Row("GET", "/healthz", everyone(200)),
    Row("GET", "/readyz", everyone(200)),
    Row("GET", "/metrics", everyone(200)),
    Row("GET", "/api/v1/keys", everyone(200)),
    Row("GET", "/static/{path}", everyone(200)),
    # Ingest.
    api_row("POST", f"{ORG}/events", WRITE, body="event"),
    api_row("POST", f"{ORG}/events/batch", WRITE, body="batch"),
    # Query API.
    api_row("GET", f"{ORG}/events", READ),
    api_row("GET", f"{ORG}/events/{{event_id}}", READ),
    api_row("GET", f"{ORG}/filters", READ),
    api_row("GET", f"{ORG}/models", READ),
    api_row("GET", f"{ORG}/models/{{model_id}}", READ),
    api_row("GET", f"{ORG}/models/{{model_id}}/events", READ),
    api_row("GET", f"{ORG}/export.csv", READ),
    api_row("GET", f"{ORG}/export.jsonl", READ),
    api_row("GET", f"{ORG}/export.zip", ADMIN_ONLY),  # the evidence bundle holds sources
    # Retention: everyone in the organization reads it, administrators change it.
    api_row("GET", f"{ORG}/retention", READ),
    api_row("PUT", f"{ORG}/retention", ADMIN_ONLY, body="retention"),
    api_row("PUT", f"{ORG}/legal-hold", ADMIN_ONLY, body="legal_hold"),
    # Streaming destinations: administrators only, for reading too (settings name targets).
    api_row("GET", f"{ORG}/destinations", ADMIN_ONLY),
    api_row(
        "POST", f"{ORG}/destinations", api(writer=403, member=403, admin=201), body="destination"
    ),
    api_row("GET", f"{ORG}/destinations/{{destination}}", ADMIN_ONLY),
    api_row("PATCH", f"{ORG}/destinations/{{destination}}", ADMIN_ONLY, body="destination_change"),
    api_row("POST", f"{ORG}/destinations/{{destination}}/pause", ADMIN_ONLY),
    api_row("POST", f"{ORG}/destinations/{{destination}}/resume", ADMIN_ONLY),
    api_row("POST", f"{ORG}/destinations/{{destination}}/retry", ADMIN_ONLY),
    api_row(
        "DELETE", f"{ORG}/destinations/{{destination}}", api(writer=403, member=403, admin=204)
    ),
    # Checkpoints and proofs.
    api_row("GET", f"{ORG}/checkpoint", READ),
    api_row("GET", f"{ORG}/checkpoints", READ),
    api_row("POST", f"{ORG}/checkpoints", api(writer=403, member=403, admin=SIGNED)),
    api_row("GET", f"{ORG}/proofs/inclusion", READ, query="seq=0"),
    api_row("GET", f"{ORG}/proofs/consistency", READ, query="first=1"),
    # Signing in and out.
    Row(
        "GET",
        "/sign-in",
        {**dict.fromkeys((*ANONYMOUS, *WRITERS), 200), **dict.fromkeys(PEOPLE, Redirect("/"))},
    ),
    Row("POST", "/sign-in", everyone(Redirect("/")), body="sign_in"),
    Row("GET", "/sign-out", {**page(), "other_admin": 200}),
    Row("POST", "/sign-out", everyone(Redirect("/sign-in")), body="sign_out"),
    # Pages.
    Row("GET", "/", {**page(ACME_LOG), "other_admin": Redirect("/orgs/globex/audit-log")}),
    Row("GET", "/orgs/{org}", page(ACME_LOG)),
    Row("GET", "/orgs/{org}/audit-log", page()),
    Row("GET", "/orgs/{org}/projects", page()),
    Row("GET", "/orgs/{org}/projects/{project_id}", page()),
    Row("GET", "/orgs/{org}/models", page()),
    Row("GET", "/orgs/{org}/models/{model_id}", page()),
    Row("GET", "/orgs/{org}/verify", page()),
    Row("GET", "/orgs/{org}/events/{event_id}", page()),
    # Destination pages: administrators only; every form carries the session's CSRF token.
    Row("GET", "/orgs/{org}/destinations", admin_page()),
    Row("GET", "/orgs/{org}/destinations/new", admin_page()),
    Row("GET", "/orgs/{org}/destinations/{destination}", admin_page()),
    Row("POST", "/orgs/{org}/destinations", admin_page(ACME_DESTINATIONS), body="form_create"),
    Row(
        "POST",
        "/orgs/{org}/destinations/{destination}",
        admin_page(ACME_DESTINATIONS),
        body="form_change",
    ),
    Row(
        "POST",
        "/orgs/{org}/destinations/{destination}/{action}",
        admin_page(ACME_DESTINATIONS),
        body="form",
    ),
    Row(
        "POST",
        "/orgs/{org}/destinations/{destination}/delete",
        admin_page(ACME_DESTINATIONS),
        body="form_delete",
    ),
]

SECURITY_HEADERS = {
    "x-content-type-options": "nosniff",
    "x-frame-options": "DENY",
}


def app_routes(app: FastAPI) -> set[tuple[str, str]]:
    """(method, path) of every route the application serves; a mount serves ``{path}``."""
    found = set()
    for route in iter_route_contexts(app.routes):
        if isinstance(route.original_route, Mount):
            found.add(("GET", f"{route.path}/{{path}}"))
            continue
        for method in route.methods or ():
            if method != "HEAD":
                found.add((method, route.path))
    return found


@dataclass
class Session:
    """A signed-in browser session: its cookie and the CSRF token its forms carry."""

    cookie: str
    csrf: str


class Caller:
    """Sends a row's request as one principal and reports what came back."""

    def __init__(self, world: World, client: TestClient) -> None:
        self.world = world
        self.client = client
        self.sessions: dict[str, Session] = {}

    def session(self, principal: str) -> Session | None:
        """The principal's browser session (opened through the form on first use)."""
        dead = self.world.dead
        fixed = {"bad": "not-a-session", "expired": dead.expired_session}
        fixed["revoked"] = dead.ended_session
        if principal in fixed:
            return Session(fixed[principal], "")
        if principal not in PEOPLE:
            return None
        if principal not in self.sessions:
            tenant = self.world.globex if principal == "other_admin" else self.world.acme
            user = tenant.member if principal == "member" else tenant.admin
            self.client.cookies.clear()
            signed_in(self.client, user.username)
            cookie = self.client.cookies[SESSION_COOKIE]
            form = self.client.get("/sign-out")
            self.sessions[principal] = Session(cookie, csrf_token(form.text))
        return self.sessions[principal]

    def bearer(self, principal: str, row: Row) -> str | None:
        """The principal's token for ``row`` (dead ones of the kind the route wants)."""
        access, dead = self.world.acme.access, self.world.dead
        writes = row.expect.get("ingest") == 201
        tokens = {
            "bad": "al_read_aaaaaaaaaaaa_bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
            "expired": dead.expired_ingest if writes else dead.expired_read,
            "revoked": dead.revoked_ingest if writes else dead.revoked_read,
            "ingest": access.ingest,
            "platform": self.world.platform_token,
            "member": access.member,
            "admin": access.admin,
            "other_admin": self.world.globex.access.admin,
        }
        return tokens.get(principal)

    def destination(self, row: Row) -> str:
        """A destination of acme for ``row``: a fresh one to delete, else a standing one."""
        services = self.world.services
        org = self.world.acme.org
        deleting = row.method == "DELETE" or row.route.endswith("/delete")
        name = f"matrix-{uuid.uuid4().hex[:8]}" if deleting else "matrix-siem"
        found = services.destinations.repo.by_name(org.id, name)
        if found is None:
            found = services.destinations.create(
                org,
                name=name,
                transport="syslog",
                settings={"host": "192.0.32.10", "port": 514},  # public, never contacted
                actor=Actor("system", "matrix", "access matrix"),
            )
        return str(found.id)

    def url(self, row: Row, org: str = "acme") -> str:
        path = row.route.format(
            org=org,
            destination=self.destination(row) if "{destination}" in row.route else "",
            event_id=self.world.event_id,
            model_id=MODEL_ID,
            project_id=PROJECT_ID,
            path="app.css",
            action="pause",
        )
        return f"{path}?{row.query}" if row.query else path

    def body(self, row: Row, session: Session | None) -> dict[str, Any]:
        """Keyword arguments for a valid request body of ``row``."""
        if row.body == "event":
            return {"json": sample_event()}
        if row.body == "batch":
            return {"json": {"events": [sample_event(), sample_event()]}}
        if row.body == "retention":
            return {"json": {"days": None}}
        if row.body == "legal_hold":
            return {"json": {"hold": False}}
        if row.body == "destination":
            name = f"matrix-{uuid.uuid4().hex[:8]}"
            target = {"host": "192.0.32.10", "port": 514}
            return {"json": {"name": name, "transport": "syslog", "settings": target}}
        if row.body == "destination_change":
            return {"json": {"filters": {}}}
        if row.body is not None and row.body.startswith("form"):
            return {"data": self.page_form(row.body, session)}
        if row.body == "sign_in":
            self.client.cookies.set(SIGN_IN_CSRF_COOKIE, "double-submit")
            form = {"username": self.world.acme.member.username, "password": PASSWORD}
            return {"data": {**form, "csrf_token": "double-submit"}}
        if row.body == "sign_out":
            return {"data": {"csrf_token": session.csrf if session else "none"}}
        return {}

    @staticmethod
    def page_form(kind: str, session: Session | None) -> dict[str, str]:
        """A valid destination page form of ``kind``, with the session's CSRF token."""
        form = {"csrf_token": session.csrf if session else "none"}
        target = {"syslog.host": "192.0.32.10", "syslog.port": "514"}  # public, never contacted
        if kind == "form_create":
            name = f"matrix-{uuid.uuid4().hex[:8]}"
            return {**form, "name": name, "transport": "syslog", **target, "start": "now"}
        if kind == "form_change":
            return {**form, "name": "matrix-siem", **target}
        if kind == "form_delete":
            return {**form, "confirm": "on"}
        return form

    def send(self, row: Row, principal: str, *, via_session: bool, org: str = "acme") -> Response:
        """Call ``row`` as ``principal``, by session cookie or by bearer token."""
        self.client.cookies.clear()
        headers = {"accept": "text/html,application/xhtml+xml"}
        session = self.session(principal) if via_session else None
        if session is not None:
            self.client.cookies.set(SESSION_COOKIE, session.cookie)
            if row.method not in ("GET", "HEAD"):
                headers["x-csrf-token"] = session.csrf
        else:
            token = self.bearer(principal, row)
            if token is not None:
                headers["authorization"] = f"Bearer {token}"
        response = self.client.request(
            row.method, self.url(row, org), headers=headers, **self.body(row, session)
        )
        if row.body == "sign_out" and response.status_code == 303:
            self.sessions.pop(principal, None)  # that session is over
        return response


def ways_to_call(row: Row) -> Iterator[tuple[str, bool]]:
    """(principal, via session) pairs to try for ``row``."""
    for principal in PRINCIPALS:
        if not row.api:
            # Pages read the session; callers without one present their bearer token.
            yield principal, principal in (*PEOPLE, "bad", "expired", "revoked")
            continue
        yield principal, False
        if principal in (*PEOPLE, "bad", "expired", "revoked"):
            yield principal, True


def matches(outcome: Outcome, response: Response) -> bool:
    if isinstance(outcome, Redirect):
        location = response.headers.get("location", "")
        return response.status_code == 303 and location.startswith(outcome.to)
    if isinstance(outcome, frozenset):
        return response.status_code in outcome
    return response.status_code == outcome


def hygiene_problems(response: Response) -> list[str]:
    """Missing security headers, or cookies set without HttpOnly and SameSite."""
    problems = [
        f"{name}: {response.headers.get(name)!r}"
        for name, value in SECURITY_HEADERS.items()
        if response.headers.get(name) != value
    ]
    if "frame-ancestors 'none'" not in response.headers.get("content-security-policy", ""):
        problems.append("no CSP frame-ancestors")
    for cookie in response.headers.get_list("set-cookie"):
        attributes = cookie.lower()
        if "httponly" not in attributes or "samesite=lax" not in attributes:
            problems.append(f"cookie {cookie.split('=')[0]} lacks HttpOnly or SameSite")
    return problems


def same_as_missing(caller: Caller, row: Row, principal: str, via: bool, seen: Response) -> bool:
    """Whether another organization's answer is the one for an organization that is not."""
    missing = caller.send(row, principal, via_session=via, org="no-such-org")
    normalised = missing.text.replace("no-such-org", "acme")
    return missing.status_code == seen.status_code and normalised == seen.text
