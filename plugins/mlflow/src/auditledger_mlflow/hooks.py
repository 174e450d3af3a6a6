"""Where the plugin sees MLflow's requests: a Flask hook for the REST API (tracking, registry,
basic-auth) and an outer ASGI layer for the artifact routes, which are FastAPI routes that never
reach Flask."""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

from starlette.concurrency import run_in_threadpool

from auditledger_client import Actor, AuditClient, ClientError, CustomEvent, Ref
from auditledger_client.core.wire import MAX_ID_CHARS, MAX_NAME_CHARS

from .mapping import Planned, Route, Stores, route_for
from .settings import PluginSettings

log = logging.getLogger("auditledger_mlflow")
ANONYMOUS = Actor("anonymous", "anonymous")
_STATE = "_auditledger"
ARTIFACTS = ("/api/2.0/mlflow-artifacts/artifacts/", "/ajax-api/2.0/mlflow-artifacts/artifacts/")


class AuditHook:
    """Records the event of every successful mapped request; never fails a request because of
    the audit service, except for the fail-closed actions."""

    def __init__(self, client: AuditClient, settings: PluginSettings, stores: Stores) -> None:
        self.client = client
        self.settings = settings
        self.stores = stores

    def install(self, app: Any) -> None:
        """Add the hooks to MLflow's Flask app (after basic-auth's, so the user is known)."""
        app.before_request(self.before)
        app.after_request(self.after)

    # Flask ---------------------------------------------------------------------------------

    def before(self) -> Any:
        """Read the old values a mapped request will change; commit fail-closed events."""
        from flask import g, request

        route = route_for(request.method, request.path)
        if route is None:
            return None
        body = _body(request)
        refused = route.refuse(body) if route.refuse else None
        if refused:
            return _refusal(403, "PERMISSION_DENIED", refused)
        try:
            old = route.before(body, self.stores) if route.before else None
            if route.amend is not None and old is not None:
                route.amend(body, old)  # the JSON MLflow parses next: Flask caches the object
        except Exception:
            log.exception("auditledger: reading old values for %s failed", request.path)
            old = None
        committed: set[str] = set()
        setattr(g, _STATE, (route, body, old, committed))
        if route.predictable and self.settings.fail_closed:
            return self._fail_closed(route, body, old, committed)
        return None

    def _fail_closed(
        self, route: Route, body: dict[str, Any], old: Any, committed: set[str]
    ) -> Any:
        try:
            planned = route.after(body, {}, old, self.stores)
        except Exception:
            return None  # MLflow will refuse the request itself (its answer decides)
        for item in planned:
            if item.action not in self.settings.fail_closed:
                continue
            try:
                self.client.record(
                    item.event,
                    subject=item.subject,
                    actor=self._actor(),
                    project=item.project,
                    source=self._source(),
                    wait=True,
                )
            except ClientError as exc:
                log.error(
                    "auditledger: refused %s, the audit log did not commit it: %s", item.action, exc
                )
                return _refusal(
                    503,
                    "TEMPORARILY_UNAVAILABLE",
                    f"not done: the audit log could not record {item.action} ({exc})",
                )
            committed.add(item.action)
        return None

    def after(self, response: Any) -> Any:
        """Record the events of a successful mapped request (never of a failed one)."""
        from flask import g

        state = getattr(g, _STATE, None)
        if state is None or not 200 <= response.status_code < 300:
            return response
        route, body, old, committed = state
        try:
            answer = response.get_json(silent=True) or {}
            planned = route.after(body, answer, old, self.stores)
        except Exception:
            log.exception("auditledger: no event for %s %s", route.method, route.path)
            return response
        for item in planned:
            if item.action not in committed:
                self._record(item, self._actor(), self._source())
        return response

    def _actor(self) -> Actor:
        from flask import g

        user = getattr(g, "mlflow_authenticated_user", None)
        return Actor(str(user), str(user)) if user else ANONYMOUS

    def _source(self) -> str | None:
        from flask import request

        return request.remote_addr or None

    def _record(self, item: Planned, actor: Actor, source: str | None) -> None:
        try:
            self.client.record(
                item.event, subject=item.subject, actor=actor, project=item.project, source=source
            )
        except ClientError:
            # The spool refused it (full, or invalid): say so loudly; MLflow's change stands.
            log.exception("auditledger: could not record %s", item.action)

    # ASGI ----------------------------------------------------------------------------------

    def artifact_layer(self, app: ASGIApp) -> ASGIApp:
        """``app`` with artifact uploads and downloads (FastAPI routes) recorded."""

        async def layer(scope: Scope, receive: Receive, send: Send) -> None:
            path = scope.get("path", "") if scope["type"] == "http" else ""
            method = scope.get("method", "")
            if not path.startswith(ARTIFACTS) or method not in ("GET", "PUT"):
                await app(scope, receive, send)
                return
            status: list[int] = []

            async def watch(message: MutableMapping[str, Any]) -> None:
                if message["type"] == "http.response.start":
                    status.append(int(message["status"]))
                await send(message)

            await app(scope, receive, watch)
            if status and 200 <= status[0] < 300:
                await run_in_threadpool(self._artifact, scope, path, method)

        return layer

    def _artifact(self, scope: Scope, path: str, method: str) -> None:
        artifact = path.split("/artifacts/", 1)[1]
        state = scope.get("state") or {}
        user = state.get("username") if isinstance(state, dict) else None
        actor = Actor(str(user), str(user)) if user else ANONYMOUS
        client = scope.get("client")
        kind = "download" if method == "GET" else "import"
        event = CustomEvent("datum", kind)
        subject = artifact_ref(artifact)
        self._record(
            Planned(event, subject, self._artifact_project(artifact)),
            actor,
            str(client[0]) if client else None,
        )

    def _artifact_project(self, artifact: str) -> Ref | None:
        # Proxied artifacts live under "<experiment id>/..." (runs and logged models alike).
        head = artifact.split("/", 1)[0]
        name = self.stores.experiment_name(head) if head.isdigit() else None
        return Ref(head, name) if name is not None else None


Scope = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[MutableMapping[str, Any]]]
Send = Callable[[MutableMapping[str, Any]], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]


def artifact_ref(path: str) -> Ref:
    """An artifact file as a datum: its path is the name; the id is the path with ':' for '/'
    (resource ids never hold '/'), or a digest of it when that is longer than an id may be."""
    subject_id = path.replace("/", ":")
    if len(subject_id) > MAX_ID_CHARS:
        subject_id = "sha256:" + hashlib.sha256(path.encode()).hexdigest()
    return Ref(subject_id, path[:MAX_NAME_CHARS])


def _refusal(status: int, code: str, message: str) -> Any:
    """An MLflow-style error answer: the request is not performed."""
    from flask import jsonify

    response = jsonify(error_code=code, message=message)
    response.status_code = status
    return response


def _body(request: Any) -> dict[str, Any]:
    # The MLflow client sends JSON for every method but GET, whose arguments are the query.
    if request.method == "GET":
        return dict(request.args.to_dict())
    if request.mimetype == "application/x-www-form-urlencoded":  # basic-auth's sign-up page
        return dict(request.form.to_dict())
    data = request.get_json(silent=True)
    return data if isinstance(data, dict) else {}
