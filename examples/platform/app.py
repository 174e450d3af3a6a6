"""A small ML "platform" that sends auditledger its events: the pattern to copy.

* State changes (create a model, rename it, run an execution, create a dataset) write their
  audit event into an **outbox** table in the platform's own database, in the same transaction
  as the change: if the change rolls back, no event exists; if auditledger is down, nothing is
  lost. A relay thread (or the separate ``auditledger relay`` command) ships the outbox.
* Actions that change nothing here (downloading a file) are recorded with the **client**,
  which spools them to a local SQLite file and ships them in the background.
* Approving a model version is **fail-closed**: it waits for auditledger's receipt and refuses
  the approval when the audit log cannot confirm it.
* The actor's IP address comes from :class:`SourceIPMiddleware`, which believes
  ``X-Forwarded-For`` only from the configured proxy networks.

Run it (see README.md beside this file)::

    AUDITLEDGER_TOKEN=... uvicorn --factory examples.platform.app:create_app \
        --port "${PLATFORM_PORT:-8001}" --no-proxy-headers
"""

from __future__ import annotations

import os
import threading
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Header, HTTPException, Request
from pydantic import BaseModel
from sqlalchemy import (
    Boolean,
    Column,
    Engine,
    MetaData,
    String,
    Table,
    create_engine,
    insert,
    select,
    update,
)

from auditledger_client import (
    Actor,
    AuditClient,
    ClientError,
    Outbox,
    Ref,
    Relay,
    SourceIPMiddleware,
    source_ip,
)
from auditledger_client.events import (
    DatasetCreate,
    DatumDownload,
    ExecutionRun,
    ModelCreate,
    ModelDescriptionChange,
    ModelRename,
    ModelVersionApprove,
)
from auditledger_client.outbox import outbox_table

metadata = MetaData()
models = Table(
    "models",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("description", String(2000), nullable=False, default=""),
    Column("project_id", String(64), nullable=False),
)
model_versions = Table(
    "model_versions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("model_id", String(64), nullable=False),
    Column("name", String(200), nullable=False),
    Column("approved", Boolean, nullable=False, default=False),
)
executions = Table(
    "executions",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("step", String(200), nullable=False),
    Column("project_id", String(64), nullable=False),
)
datasets = Table(
    "datasets",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("name", String(200), nullable=False),
    Column("project_id", String(64), nullable=False),
)
# The audit outbox lives in the platform's own metadata, so create_all (or your migrations)
# creates it together with the platform's tables.
audit_outbox = outbox_table(metadata)
PROJECTS = {"prj-churn": "churn-prediction", "prj-vision": "vision"}


@dataclass(frozen=True)
class Settings:
    """Where the platform keeps its data and where its audit events go (environment)."""

    database_url: str = "sqlite:///platform.db"
    audit_server: str = "http://127.0.0.1:8000"
    audit_token: str = ""
    audit_org: str = "northwind"
    spool_path: str = "platform-audit-spool.db"
    trusted_proxies: tuple[str, ...] = ("127.0.0.1/32", "::1/128")
    relay: bool = True  # run the outbox relay inside this process
    ack_timeout: float = 5.0

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> Settings:
        """Settings from ``PLATFORM_*`` and ``AUDITLEDGER_*`` environment variables."""
        env = dict(os.environ if environ is None else environ)
        proxies = env.get("PLATFORM_TRUSTED_PROXIES", "127.0.0.1/32,::1/128")
        return cls(
            database_url=env.get("PLATFORM_DATABASE_URL", cls.database_url),
            audit_server=env.get("AUDITLEDGER_SERVER", cls.audit_server),
            audit_token=env.get("AUDITLEDGER_TOKEN", ""),
            audit_org=env.get("AUDITLEDGER_ORG", cls.audit_org),
            spool_path=env.get("PLATFORM_AUDIT_SPOOL", cls.spool_path),
            trusted_proxies=tuple(p.strip() for p in proxies.split(",") if p.strip()),
            relay=env.get("PLATFORM_RELAY", "inline") == "inline",
        )


@dataclass
class Platform:
    """The running platform's parts."""

    settings: Settings
    engine: Engine
    outbox: Outbox
    audit: AuditClient
    relay: Relay | None = None
    stop_relay: threading.Event = field(default_factory=threading.Event)
    relay_thread: threading.Thread | None = None

    def start(self) -> None:
        """Create the tables and start the relay thread."""
        metadata.create_all(self.engine)
        if self.relay is not None:
            self.relay_thread = threading.Thread(
                target=self.relay.run, args=(self.stop_relay, 0.2), daemon=True
            )
            self.relay_thread.start()

    def stop(self) -> None:
        """Stop the relay, deliver what the client spooled, close everything."""
        self.stop_relay.set()
        if self.relay_thread is not None:
            self.relay_thread.join(30)
        if self.relay is not None:
            self.relay.close()
        self.audit.close(10)
        self.engine.dispose()


def build_platform(settings: Settings) -> Platform:
    """The platform's database, outbox, audit client and relay for ``settings``."""
    if not settings.audit_token:
        raise SystemExit("set AUDITLEDGER_TOKEN to an auditledger ingest token")
    engine = create_engine(settings.database_url)
    outbox = Outbox(audit_outbox, org=settings.audit_org)
    audit = AuditClient(
        settings.audit_server,
        settings.audit_token,
        org=settings.audit_org,
        spool_path=Path(settings.spool_path),
        ack_timeout=settings.ack_timeout,
    )
    relay = None
    if settings.relay:
        relay = Relay(engine, settings.audit_server, settings.audit_token, table=outbox.table)
    return Platform(settings, engine, outbox, audit, relay)


# Requests ------------------------------------------------------------------------------------


class NewModel(BaseModel):
    name: str
    project_id: str = "prj-churn"


class ModelChange(BaseModel):
    name: str | None = None
    description: str | None = None


class NewExecution(BaseModel):
    name: str
    step: str
    commit_id: str
    environment_id: str = "aws-eu-west-1-g4dn.xlarge"
    project_id: str = "prj-churn"


class NewDataset(BaseModel):
    name: str
    project_id: str = "prj-churn"


def current_user(
    x_user_id: Annotated[str, Header()] = "u-ada",
    x_user_name: Annotated[str, Header()] = "Ada Okafor",
) -> Actor:
    """The signed-in user. This demo takes it from headers; a real platform from its session."""
    return Actor(x_user_id, x_user_name)


User = Annotated[Actor, Depends(current_user)]


def _project(project_id: str) -> Ref:
    if project_id not in PROJECTS:
        raise HTTPException(404, f"no project {project_id}")
    return Ref(project_id, PROJECTS[project_id])


def create_app(settings: Settings | None = None) -> FastAPI:
    """The platform's HTTP API."""
    platform = build_platform(settings or Settings.from_env())

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        platform.start()
        try:
            yield
        finally:
            platform.stop()

    app = FastAPI(title="Example ML platform", lifespan=lifespan)
    app.state.platform = platform
    app.add_middleware(SourceIPMiddleware, trusted_proxies=platform.settings.trusted_proxies)

    @app.post("/models", status_code=201)
    def create_model(body: NewModel, request: Request, user: User) -> dict[str, Any]:
        """Create a model; its audit event commits with it (outbox)."""
        model_id = f"mdl-{uuid.uuid4().hex[:8]}"
        project = _project(body.project_id)
        with platform.engine.begin() as conn:
            conn.execute(insert(models).values(id=model_id, name=body.name, project_id=project.id))
            platform.outbox.writer(conn).record(
                ModelCreate(model_name=body.name),
                subject=Ref(model_id, body.name),
                actor=user,
                project=project,
                source=source_ip(request),
            )
        return {"id": model_id, "name": body.name}

    @app.patch("/models/{model_id}")
    def change_model(
        model_id: str, body: ModelChange, request: Request, user: User
    ) -> dict[str, Any]:
        """Rename a model or change its description, with the events in the same transaction."""
        with platform.engine.begin() as conn:
            row = conn.execute(select(models).where(models.c.id == model_id)).first()
            if row is None:
                raise HTTPException(404, f"no model {model_id}")
            audit = platform.outbox.writer(conn)
            common: dict[str, Any] = {
                "actor": user,
                "project": _project(row.project_id),
                "source": source_ip(request),
            }
            name = body.name or row.name
            if body.name is not None and body.name != row.name:
                conn.execute(update(models).where(models.c.id == model_id).values(name=name))
                audit.record(
                    ModelRename(old_name=row.name, new_name=name),
                    subject=Ref(model_id, name),
                    **common,
                )
            if body.description is not None and body.description != row.description:
                conn.execute(
                    update(models)
                    .where(models.c.id == model_id)
                    .values(description=body.description)
                )
                audit.record(
                    ModelDescriptionChange(
                        old_description=row.description, new_description=body.description
                    ),
                    subject=Ref(model_id, name),
                    **common,
                )
        return {"id": model_id, "name": name}

    @app.post("/models/{model_id}/versions/{version}/approve")
    def approve_version(
        model_id: str, version: str, request: Request, user: User
    ) -> dict[str, Any]:
        """Approve a model version: fail-closed, nothing is approved unless audited first."""
        with platform.engine.connect() as conn:
            row = conn.execute(select(models).where(models.c.id == model_id)).first()
        if row is None:
            raise HTTPException(404, f"no model {model_id}")
        version_id = f"{model_id}-v{version}"
        try:
            receipt = platform.audit.record(
                ModelVersionApprove(),
                subject=Ref(version_id, f"{row.name} v{version}", parent=Ref(model_id, row.name)),
                actor=user,
                project=_project(row.project_id),
                source=source_ip(request),
                wait=True,
            )
        except ClientError as exc:
            raise HTTPException(
                503, f"not approved: the audit log did not confirm ({exc})"
            ) from exc
        with platform.engine.begin() as conn:
            conn.execute(
                insert(model_versions).values(
                    id=version_id, model_id=model_id, name=version, approved=True
                )
            )
        return {"id": version_id, "approved": True, "audit_seq": receipt.seq}

    @app.post("/executions", status_code=201)
    def run_execution(body: NewExecution, request: Request, user: User) -> dict[str, Any]:
        """Start an execution (outbox)."""
        execution_id = f"exe-{uuid.uuid4().hex[:8]}"
        project = _project(body.project_id)
        with platform.engine.begin() as conn:
            conn.execute(
                insert(executions).values(
                    id=execution_id, name=body.name, step=body.step, project_id=project.id
                )
            )
            platform.outbox.writer(conn).record(
                ExecutionRun(
                    commit_id=body.commit_id,
                    environment_id=body.environment_id,
                    step_name=body.step,
                ),
                subject=Ref(execution_id, body.name),
                actor=user,
                project=project,
                source=source_ip(request),
            )
        return {"id": execution_id}

    @app.post("/datasets", status_code=201)
    def create_dataset(body: NewDataset, request: Request, user: User) -> dict[str, Any]:
        """Create a dataset (outbox)."""
        dataset_id = f"ds-{uuid.uuid4().hex[:8]}"
        project = _project(body.project_id)
        with platform.engine.begin() as conn:
            conn.execute(
                insert(datasets).values(id=dataset_id, name=body.name, project_id=project.id)
            )
            platform.outbox.writer(conn).record(
                DatasetCreate(dataset_name=body.name),
                subject=Ref(dataset_id, body.name),
                actor=user,
                project=project,
                source=source_ip(request),
            )
        return {"id": dataset_id}

    @app.get("/datasets/{dataset_id}/files/{name}")
    def download_file(dataset_id: str, name: str, request: Request, user: User) -> dict[str, Any]:
        """Download a file of a dataset: nothing changes here, so the client records it."""
        with platform.engine.connect() as conn:
            row = conn.execute(select(datasets).where(datasets.c.id == dataset_id)).first()
        if row is None:
            raise HTTPException(404, f"no dataset {dataset_id}")
        platform.audit.record(
            DatumDownload(),
            # Resource ids have pages of their own, so they never hold "/" (a 422 at ingest).
            subject=Ref(f"{dataset_id}:{name}", name),
            actor=user,
            project=_project(row.project_id),
            source=source_ip(request),
        )
        return {"dataset": dataset_id, "file": name, "content": "..."}

    return app
