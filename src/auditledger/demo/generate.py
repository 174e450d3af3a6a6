"""Generate a believable history of an ML platform's audit events.

A fictional organization works on four projects for ``days`` days: people log in and out from
their usual countries (one through the office VPN), run executions, pipelines and sweeps,
import and download data, create, rename and describe models, tag and approve versions, and
change teams. A scheduler (the system) runs nightly pipelines. Every catalog type occurs. The
output is what the platform would send: wire-format events, oldest first, deterministic for a
given seed. The benchmarks reuse the same distributions.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from auditledger.core.canonical import format_timestamp


@dataclass
class Person:
    """A platform user who appears as an actor."""

    id: str
    name: str
    ip_prefix: str | None  # None: works through the office VPN (a private address)
    teams: list[str]


PEOPLE = [
    Person("u-ada", "Ada Okafor", "193.166.3.", ["platform", "governance"]),
    Person("u-ben", "Ben Kowalski", "81.2.69.", ["fraud"]),
    Person("u-chen", "Chen Wei", "202.12.27.", ["vision"]),
    Person("u-diego", "Diego Alvarez", "200.160.2.", ["demand"]),
    Person("u-emma", "Emma Schmidt", "194.25.2.", ["churn", "fraud"]),
    Person("u-farah", "Farah Haddad", "41.203.18.", ["vision"]),
    Person("u-grace", "Grace Kim", "4.2.2.", ["churn"]),
    Person("u-hiro", "Hiro Tanaka", None, ["demand", "platform"]),
]
SYSTEM = {"type": "system", "id": "scheduler", "name": "Pipeline scheduler"}

PROJECTS = [
    ("prj-fraud", "fraud-detection", ["fraud-xgb"], ["card-transactions"]),
    ("prj-churn", "churn-prediction", ["churn-model"], ["customer-events"]),
    ("prj-demand", "demand-forecasting", ["demand-lstm"], ["daily-sales", "weather"]),
    ("prj-vision", "visual-inspection", ["defect-detector", "ocr-reader"], ["line-camera"]),
]
STEPS = ["preprocess", "train-model", "evaluate", "batch-inference", "feature-engineering"]
ENVIRONMENTS = ["aws-eu-west-1-g5.xlarge", "aws-eu-west-1-c6i.2xlarge", "onprem-a100"]
TAGS = ["candidate", "production", "staging", "champion", "deprecated", "shadow"]
TEAMS = ["platform", "governance", "fraud", "vision", "demand", "churn", "research"]


@dataclass
class _Model:
    id: str
    name: str
    project: tuple[str, str]
    description: str = ""
    versions: list[tuple[str, str, list[str]]] = field(default_factory=list)


@dataclass
class _World:
    rng: random.Random
    models: list[_Model]
    datasets: list[tuple[str, str, tuple[str, str]]]
    names: dict[str, str] = field(default_factory=dict)  # resource id -> current name
    executions: list[str] = field(default_factory=list)  # ids, to pick one in constant time
    counter: int = 1000

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"


def _ip(rng: random.Random, person: Person) -> str:
    if person.ip_prefix is None:
        return f"10.20.{rng.randint(0, 3)}.{rng.randint(2, 250)}"
    return f"{person.ip_prefix}{rng.randint(1, 250)}"


def _actor(person: Person) -> dict[str, str]:
    return {"type": "user", "id": person.id, "name": person.name}


def _event(
    world: _World,
    at: datetime,
    category: str,
    type_: str,
    subject: dict[str, Any],
    actor: dict[str, str],
    ip: str | None,
    project: tuple[str, str] | None = None,
    properties: dict[str, Any] | None = None,
) -> dict[str, Any]:
    event: dict[str, Any] = {
        "id": str(uuid.UUID(int=world.rng.getrandbits(128), version=4)),
        "timestamp": format_timestamp(at),
        "category": category,
        "type": type_,
        "subject": subject,
        "actor": actor,
        "properties": properties or {},
    }
    if project:
        event["project"] = {"id": project[0], "name": project[1]}
    if ip:
        event["source"] = {"ip": ip}
    return event


def _new_world(rng: random.Random) -> _World:
    models = []
    datasets = []
    for project_id, project_name, model_names, dataset_names in PROJECTS:
        for name in model_names:
            models.append(_Model(f"mdl-{name}", name, (project_id, project_name)))
        for name in dataset_names:
            datasets.append((f"ds-{name}", name, (project_id, project_name)))
    return _World(rng, models, datasets)


def _day_events(
    world: _World, day: datetime, person_state: dict[str, list[str]]
) -> list[dict[str, Any]]:
    rng = world.rng
    out: list[dict[str, Any]] = []
    workday = day.weekday() < 5
    present = [p for p in PEOPLE if rng.random() < (0.8 if workday else 0.15)]

    def at(hour_from: int = 7, hour_to: int = 19) -> datetime:
        return day + timedelta(seconds=rng.randint(hour_from * 3600, hour_to * 3600))

    # The scheduler's nightly pipelines.
    for project_id, project_name, _, _ in PROJECTS:
        if rng.random() < 0.7:
            pid = world.next_id("pl")
            name = f"nightly-retrain-{project_name}"
            subject = {"id": pid, "name": name}
            project = (project_id, project_name)
            when = day + timedelta(hours=2, minutes=rng.randint(0, 50))
            out.append(_event(world, when, "pipeline", "run", subject, SYSTEM, None, project))
            if rng.random() < 0.05:
                out.append(
                    _event(
                        world,
                        when + timedelta(minutes=30),
                        "pipeline",
                        "stop",
                        subject,
                        SYSTEM,
                        None,
                        project,
                    )
                )
    for person in present:
        ip = _ip(rng, person)
        actor = _actor(person)
        user_subject = {"id": person.id, "name": person.name}
        login = at(7, 11)
        out.append(_event(world, login, "user", "login", user_subject, actor, ip))
        for _ in range(rng.randint(3, 12)):
            out.append(_activity(world, at(8, 18), actor, ip))
        if rng.random() < 0.6:
            out.append(_event(world, at(17, 20), "user", "logout", user_subject, actor, ip))
        if rng.random() < 0.01:
            old = list(person_state[person.id])
            new = sorted(set(old) ^ {rng.choice(TEAMS)}) or [rng.choice(TEAMS)]
            person_state[person.id] = new
            out.append(
                _event(
                    world,
                    at(),
                    "user",
                    "team_membership_change",
                    user_subject,
                    _actor(PEOPLE[0]),
                    _ip(rng, PEOPLE[0]),
                    properties={"old_teams": old, "new_teams": new},
                )
            )
        if rng.random() < 0.002:
            new_name = person.name + " (contractor)" if "(" not in person.name else person.name
            out.append(
                _event(
                    world,
                    at(),
                    "user",
                    "user_name_change",
                    user_subject,
                    actor,
                    ip,
                    properties={"old_name": person.name, "new_name": new_name},
                )
            )
    return out


def _activity(world: _World, when: datetime, actor: dict[str, str], ip: str) -> dict[str, Any]:
    rng = world.rng
    roll = rng.random()
    model = rng.choice(world.models)
    project = model.project
    if roll < 0.32:
        eid = world.next_id("exec")
        step = rng.choice(STEPS)
        name = f"#{world.counter} {step}"
        world.names[eid] = name
        world.executions.append(eid)
        return _event(
            world,
            when,
            "execution",
            "run",
            {"id": eid, "name": name},
            actor,
            ip,
            project,
            {
                "commit_id": f"{rng.getrandbits(40):010x}",
                "environment_id": rng.choice(ENVIRONMENTS),
                "step_name": step,
            },
        )
    if roll < 0.40:
        eid = rng.choice(world.executions or ["exec-1"])
        name = world.names.get(eid, eid)
        type_ = rng.choices(["stop", "delete", "rename"], [6, 2, 1])[0]
        props: dict[str, Any] = {}
        if type_ == "rename":
            props = {"old_name": name, "new_name": name + " (rerun)"}
            world.names[eid] = props["new_name"]
        return _event(
            world, when, "execution", type_, {"id": eid, "name": name}, actor, ip, project, props
        )
    if roll < 0.46:
        tid = world.next_id("task")
        name = f"sweep-{rng.choice(STEPS)}-{world.counter}"
        world.names[tid] = name
        type_ = rng.choices(["run", "stop", "delete", "rename"], [6, 2, 1, 1])[0]
        props = {"workload": rng.choice(["execution", "pipeline"])} if type_ == "run" else {}
        if type_ == "rename":
            props = {"old_name": name, "new_name": name + "-final"}
        return _event(
            world, when, "task", type_, {"id": tid, "name": name}, actor, ip, project, props
        )
    if roll < 0.52:
        pid = world.next_id("pl")
        name = f"train-and-deploy-{model.name}"
        type_ = rng.choices(["run", "stop", "delete", "rename"], [6, 2, 1, 1])[0]
        props = {"old_name": name, "new_name": name + "-v2"} if type_ == "rename" else {}
        return _event(
            world, when, "pipeline", type_, {"id": pid, "name": name}, actor, ip, project, props
        )
    if roll < 0.66:
        dataset = rng.choice(world.datasets)
        did = world.next_id("datum")
        name = f"{dataset[1]}-part-{rng.randint(1, 400):04d}.parquet"
        type_ = rng.choices(["import", "download", "preview", "delete"], [3, 5, 4, 1])[0]
        return _event(world, when, "datum", type_, {"id": did, "name": name}, actor, ip, dataset[2])
    if roll < 0.72:
        dataset = rng.choice(world.datasets)
        ds_id, ds_name, ds_project = dataset
        if rng.random() < 0.7:
            vid = world.next_id("dsv")
            subject = {
                "id": vid,
                "name": f"{ds_name}:{world.counter}",
                "parent": {"id": ds_id, "name": ds_name},
            }
            type_ = rng.choices(["create", "archive"], [4, 1])[0]
            return _event(world, when, "dataset_version", type_, subject, actor, ip, ds_project)
        type_ = rng.choices(["create", "rename", "delete"], [3, 1, 1])[0]
        nid = world.next_id("ds") if type_ == "create" else ds_id
        name = f"{ds_name}-{world.counter}" if type_ == "create" else ds_name
        props = {"dataset_name": name} if type_ == "create" else {}
        if type_ == "rename":
            props = {"old_name": ds_name, "new_name": ds_name + "-v2"}
        return _event(
            world, when, "dataset", type_, {"id": nid, "name": name}, actor, ip, ds_project, props
        )
    if roll < 0.80:
        type_ = rng.choices(["create", "archive", "rename", "description_change"], [1, 1, 2, 4])[0]
        subject = {"id": model.id, "name": model.name}
        props = {}
        if type_ == "create":
            props = {"model_name": model.name}
        elif type_ == "rename":
            new = model.name.split("~")[0] + f"~{rng.randint(2, 9)}"
            props = {"old_name": model.name, "new_name": new}
            model.name = new
        elif type_ == "description_change":
            new_desc = rng.choice(
                [
                    "Gradient-boosted classifier; retrained nightly.",
                    "Owner: governance. Approved for EU traffic only.",
                    "Uses features v3; see the model card.",
                    "Bias review passed (2026-Q3).",
                    "",
                ]
            )
            props = {"old_description": model.description, "new_description": new_desc}
            model.description = new_desc
        return _event(world, when, "model", type_, subject, actor, ip, model.project, props)
    # Model versions: the most governance-relevant events.
    if not model.versions or rng.random() < 0.15:
        number = len(model.versions) + 1
        vid = f"{model.id}-v{number}"
        model.versions.append((vid, f"{model.name} v{number}", []))
        subject = {
            "id": vid,
            "name": f"{model.name} v{number}",
            "parent": {"id": model.id, "name": model.name},
        }
        return _event(world, when, "model_version", "create", subject, actor, ip, model.project)
    index = rng.randrange(len(model.versions))
    vid, vname, tags = model.versions[index]
    subject = {"id": vid, "name": vname, "parent": {"id": model.id, "name": model.name}}
    type_ = rng.choices(["approve", "reject", "tag_change", "download"], [2, 1, 3, 4])[0]
    props = {}
    if type_ == "tag_change":
        new_tags = sorted(set(tags) ^ {rng.choice(TAGS)})
        props = {"old_tags": list(tags), "new_tags": new_tags}
        model.versions[index] = (vid, vname, new_tags)
    return _event(world, when, "model_version", type_, subject, actor, ip, model.project, props)


def generate(
    start: datetime, days: int, *, seed: int = 20261125, per_day_scale: float = 1.0
) -> Iterator[list[dict[str, Any]]]:
    """Each day's events from ``start`` on, oldest first, as lists per day.

    ``per_day_scale`` multiplies the amount of activity (the benchmarks generate millions).
    """
    rng = random.Random(seed)
    world = _new_world(rng)
    person_state = {p.id: list(p.teams) for p in PEOPLE}
    for offset in range(days):
        day = start + timedelta(days=offset)
        events: list[dict[str, Any]] = []
        repeats = max(1, round(per_day_scale))
        for _ in range(repeats):
            events.extend(_day_events(world, day, person_state))
        if per_day_scale < 1:
            # A smaller organization: the same kinds of activity, less of it.
            events = [e for e in events if rng.random() < per_day_scale]
        if offset == 0:
            events.extend(_first_day(world, day))
        events.sort(key=lambda e: e["timestamp"])
        yield events


def _first_day(world: _World, day: datetime) -> list[dict[str, Any]]:
    # Make sure the first day creates each model and dataset, so the history starts coherently.
    out = []
    admin = PEOPLE[0]
    for model in world.models:
        out.append(
            _event(
                world,
                day + timedelta(hours=9),
                "model",
                "create",
                {"id": model.id, "name": model.name},
                _actor(admin),
                _ip(world.rng, admin),
                model.project,
                {"model_name": model.name},
            )
        )
    for ds_id, ds_name, project in world.datasets:
        out.append(
            _event(
                world,
                day + timedelta(hours=9, minutes=5),
                "dataset",
                "create",
                {"id": ds_id, "name": ds_name},
                _actor(admin),
                _ip(world.rng, admin),
                project,
                {"dataset_name": ds_name},
            )
        )
    return out
