"""Generate a believable, coherent history of an ML platform's audit events.

A team of eight, each with a role (platform lead, data scientists, ML and MLOps engineers, a
data engineer, a model-risk reviewer), works on four projects for ``days`` days. Each person
does what their role does: engineers run executions and pipelines, the data engineer imports
data, data scientists register model versions, the reviewer approves or rejects them. A
scheduler (the system) runs each project's nightly pipeline.

The story holds together, because it is generated from one evolving world rather than from
independent dice rolls: every resource is created once (models and datasets on the first day,
or on the day they are introduced), a rename always gives a genuinely new name and everything
after it uses that name, a model is archived at most once and nothing happens to it afterwards,
a model version belongs to its model and is approved or rejected once, a deleted execution,
task, pipeline, file or dataset is never seen again. Every catalog type occurs in the demo's
200 days. The output is what the platform would send: wire-format events, oldest first,
deterministic for a given seed. The benchmarks reuse the same world at any scale, in constant
time per event.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from auditledger.integrity.canonical import format_timestamp

T = TypeVar("T")


@dataclass
class Person:
    """A platform user who appears as an actor."""

    id: str
    name: str
    role: str
    ip_prefix: str | None  # None: works through the office VPN (a private address)
    teams: list[str]
    # A later name (a marriage, a correction), taken once during the history.
    later_name: str | None = None


def people() -> list[Person]:
    """The demo team, fresh (the generator changes names and teams as the story goes)."""
    return [
        Person("u-ada", "Ada Okafor", "platform lead", "193.166.3.", ["platform", "governance"]),
        Person("u-ben", "Ben Kowalski", "data scientist", "81.2.69.", ["fraud"]),
        Person("u-chen", "Chen Wei", "ML engineer", "202.12.27.", ["vision"]),
        Person("u-diego", "Diego Alvarez", "data engineer", "200.160.2.", ["demand"]),
        Person("u-emma", "Emma Schmidt", "data scientist", "194.25.2.", ["churn", "fraud"]),
        Person("u-farah", "Farah Haddad", "ML engineer", "41.203.18.", ["vision"]),
        Person(
            "u-grace",
            "Grace Kim",
            "model-risk reviewer",
            "4.2.2.",
            ["governance"],
            "Grace Kim-Park",
        ),
        Person("u-hiro", "Hiro Tanaka", "MLOps engineer", None, ["demand", "platform"]),
    ]


PEOPLE = people()
SYSTEM = {"type": "system", "id": "scheduler", "name": "Pipeline scheduler"}

# What each role spends its day on (relative weights of the activities below).
ROLE_WORK: dict[str, dict[str, int]] = {
    "platform lead": {"execution": 2, "workload": 2, "model": 4, "version": 2, "dataset": 1},
    "data scientist": {"execution": 6, "workload": 3, "model": 2, "version": 5, "datum": 3},
    "ML engineer": {"execution": 6, "workload": 4, "model": 1, "version": 3, "datum": 2},
    "data engineer": {"execution": 2, "workload": 2, "datum": 8, "dataset": 4},
    "model-risk reviewer": {"review": 6, "version": 2, "datum": 1},
    "MLOps engineer": {"execution": 3, "workload": 6, "version": 3, "datum": 1},
}

# (project id, name, models with the names they will later take, datasets with later names)
PROJECTS: list[tuple[str, str, list[tuple[str, list[str]]], list[tuple[str, list[str]]]]] = [
    (
        "prj-fraud",
        "fraud-detection",
        [("fraud-xgb", ["fraud-xgb-eu", "fraud-gbm-eu"])],
        [("card-transactions", ["card-transactions-eu"])],
    ),
    (
        "prj-churn",
        "churn-prediction",
        [("churn-model", ["churn-model-eu", "churn-retention"])],
        [("customer-events", ["customer-events-2026"])],
    ),
    (
        "prj-demand",
        "demand-forecasting",
        [("demand-lstm", ["demand-lstm-weekly"])],
        [("daily-sales", ["store-sales-daily"]), ("weather", ["weather-hourly"])],
    ),
    (
        "prj-vision",
        "visual-inspection",
        [("defect-detector", ["defect-detector-yolo"]), ("ocr-reader", ["label-ocr"])],
        [("line-camera", ["line-camera-frames"])],
    ),
]
# Models that join later (visible being created) and one that retires (archived once).
LATE_MODELS = [("prj-demand", "demand-tft", 0.55), ("prj-fraud", "fraud-graph-nn", 0.75)]
RETIRING_MODEL = ("prj-churn", "churn-logreg-baseline", 0.45)

STEPS = ["preprocess", "train-model", "evaluate", "batch-inference", "feature-engineering"]
ENVIRONMENTS = ["aws-eu-west-1-g5.xlarge", "aws-eu-west-1-c6i.2xlarge", "onprem-a100"]
TAGS = ["candidate", "production", "staging", "champion", "shadow"]
TEAMS = ["platform", "governance", "fraud", "vision", "demand", "churn", "research"]
DESCRIPTIONS = [
    "Gradient-boosted classifier; retrained nightly.",
    "Owner: governance. Approved for EU traffic only.",
    "Uses features v3; see the model card.",
    "Bias review passed (2026-Q3).",
]


class _Pool(list[T]):
    """Live resources of one kind: pick and remove in constant time (order does not matter)."""

    def pick(self, rng: random.Random) -> T | None:
        return self[rng.randrange(len(self))] if self else None

    def take(self, rng: random.Random) -> T | None:
        if not self:
            return None
        index = rng.randrange(len(self))
        self[index], self[-1] = self[-1], self[index]
        return self.pop()


@dataclass
class _Version:
    id: str
    number: int
    tags: list[str] = field(default_factory=list)
    decided: bool = False  # approved or rejected (once)


@dataclass
class _Model:
    id: str
    name: str
    project: tuple[str, str]
    later_names: list[str]
    description: str = ""
    versions: list[_Version] = field(default_factory=list)
    pipeline: _Named | None = None
    rename_at: float = 1.0  # the fraction of the history at which it takes its next name


@dataclass
class _Named:
    """An execution, task, pipeline, file or dataset: an id, its current name, what it is in."""

    id: str
    name: str
    project: tuple[str, str]
    renamed: bool = False
    later_names: list[str] = field(default_factory=list)
    versions: int = 0
    files: _Pool[_Named] = field(default_factory=_Pool)
    live_versions: _Pool[tuple[str, int]] = field(default_factory=_Pool)


@dataclass
class _World:
    rng: random.Random
    people: list[Person]
    models: _Pool[_Model]
    datasets: _Pool[_Named]
    pending_models: list[tuple[float, str, str]]  # (fraction of the history, project, name)
    running: _Pool[_Named] = field(default_factory=_Pool)  # executions still running
    finished: _Pool[_Named] = field(default_factory=_Pool)
    tasks: _Pool[_Named] = field(default_factory=_Pool)
    scratch: _Pool[_Named] = field(default_factory=_Pool)  # ad-hoc pipelines and datasets
    scratch_datasets: _Pool[_Named] = field(default_factory=_Pool)
    nightly: dict[str, _Named] = field(default_factory=dict)
    counter: int = 1000

    def next_id(self, prefix: str) -> str:
        self.counter += 1
        return f"{prefix}-{self.counter}"


def _project(project_id: str) -> tuple[str, str]:
    return next((p[0], p[1]) for p in PROJECTS if p[0] == project_id)


def _ip(rng: random.Random, person: Person) -> str:
    if person.ip_prefix is None:
        return f"10.20.{rng.randint(0, 3)}.{rng.randint(2, 250)}"
    return f"{person.ip_prefix}{rng.randint(1, 250)}"


def _actor(person: Person) -> dict[str, str]:
    return {"type": "user", "id": person.id, "name": person.name}


def _ref(thing: _Named | _Model) -> dict[str, str]:
    return {"id": thing.id, "name": thing.name}


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
    models: _Pool[_Model] = _Pool()
    datasets: _Pool[_Named] = _Pool()
    for project_id, project_name, model_names, dataset_names in PROJECTS:
        project = (project_id, project_name)
        for name, later in model_names:
            models.append(_Model(f"mdl-{name}", name, project, list(later)))
        for name, later in dataset_names:
            datasets.append(_Named(f"ds-{name}", name, project, later_names=list(later)))
    for index, model in enumerate(models):
        # Renames spread over the history, one model at a time (a story, not a dice roll).
        model.rename_at = 0.15 + 0.06 * index
    pending = [(at, project_id, name) for project_id, name, at in LATE_MODELS]
    world = _World(rng, people(), models, datasets, sorted(pending))
    for project_id, project_name, _, _ in PROJECTS:
        world.nightly[project_id] = _Named(
            f"pl-nightly-{project_id.removeprefix('prj-')}",
            f"nightly-retrain-{project_name}",
            (project_id, project_name),
        )
    for model in models:
        model.pipeline = _Named(
            f"pl-deploy-{model.id.removeprefix('mdl-')}",
            f"train-and-deploy-{model.name}",
            model.project,
        )
    return world


def _create_model(
    world: _World, when: datetime, project_id: str, name: str, later: list[str]
) -> dict[str, Any]:
    model = _Model(f"mdl-{name}", name, _project(project_id), later)
    model.pipeline = _Named(f"pl-deploy-{name}", f"train-and-deploy-{name}", model.project)
    world.models.append(model)
    lead = world.people[0]
    return _event(
        world,
        when,
        "model",
        "create",
        _ref(model),
        _actor(lead),
        _ip(world.rng, lead),
        model.project,
        {"model_name": name},
    )


def _story_events(world: _World, day: datetime, fraction: float) -> list[dict[str, Any]]:
    """The one-off moments of the story that fall on this day."""
    rng = world.rng
    out = []
    while world.pending_models and world.pending_models[0][0] <= fraction:
        _, project_id, name = world.pending_models.pop(0)
        out.append(_create_model(world, day + timedelta(hours=9, minutes=50), project_id, name, []))
    retiring = next((m for m in world.models if m.id == f"mdl-{RETIRING_MODEL[1]}"), None)
    if retiring is not None and fraction >= RETIRING_MODEL[2]:
        world.models.remove(retiring)
        lead = world.people[0]
        out.append(
            _event(
                world,
                day + timedelta(hours=9, minutes=45),
                "model",
                "archive",
                _ref(retiring),
                _actor(lead),
                _ip(rng, lead),
                retiring.project,
            )
        )
    for model in world.models:
        if model.later_names and fraction >= model.rename_at:
            model.rename_at += 0.4
            old, model.name = model.name, model.later_names.pop(0)
            owner = world.people[rng.randrange(len(world.people))]
            out.append(
                _event(
                    world,
                    day + timedelta(hours=9, minutes=40),
                    "model",
                    "rename",
                    {"id": model.id, "name": old},
                    _actor(owner),
                    _ip(rng, owner),
                    model.project,
                    {"old_name": old, "new_name": model.name},
                )
            )
    for person in world.people:
        if person.later_name and fraction >= 0.6:
            old, person.name, person.later_name = person.name, person.later_name, None
            out.append(
                _event(
                    world,
                    day + timedelta(hours=6, minutes=30),
                    "user",
                    "user_name_change",
                    {"id": person.id, "name": old},
                    _actor(world.people[0]),
                    _ip(rng, world.people[0]),
                    properties={"old_name": old, "new_name": person.name},
                )
            )
    return out


def _day_events(world: _World, day: datetime, scale: float = 1.0) -> list[dict[str, Any]]:
    rng = world.rng
    out: list[dict[str, Any]] = []
    workday = day.weekday() < 5
    # A larger organization (the benchmarks) is the same team's day several times over; a
    # smaller one does less of the same work, rather than losing random events, which would
    # leave stops of runs that never started.
    repeats = max(1, round(scale))
    scale = min(1.0, scale)
    present = [
        p for _ in range(repeats) for p in world.people if rng.random() < (0.8 if workday else 0.15)
    ]

    def at(hour_from: int = 7, hour_to: int = 19) -> datetime:
        return day + timedelta(seconds=rng.randint(hour_from * 3600, hour_to * 3600))

    # The scheduler's nightly pipelines: the same pipeline of each project, night after night.
    for pipeline in [p for _ in range(repeats) for p in world.nightly.values()]:
        if rng.random() < 0.7 * max(scale, 0.3):
            when = day + timedelta(hours=2, minutes=rng.randint(0, 50))
            subject = _ref(pipeline)
            out.append(
                _event(world, when, "pipeline", "run", subject, SYSTEM, None, pipeline.project)
            )
            if rng.random() < 0.05:
                stop = when + timedelta(minutes=30)
                out.append(
                    _event(world, stop, "pipeline", "stop", subject, SYSTEM, None, pipeline.project)
                )
    # Each person's working slots, then all of them in time order: an action that depends on
    # an earlier one (a stop after its run, a delete after its create) is generated after it
    # and also happens after it.
    slots: list[tuple[datetime, int, str, dict[str, str]]] = []
    for index, person in enumerate(present):
        ip = _ip(rng, person)
        actor = _actor(person)
        user_subject = {"id": person.id, "name": person.name}
        out.append(_event(world, at(7, 10), "user", "login", user_subject, actor, ip))
        work = ROLE_WORK[person.role]
        kinds, weights = list(work), list(work.values())
        for _ in range(_scaled(rng, rng.randint(3, 12), scale)):
            kind = rng.choices(kinds, weights)[0]
            slots.append((at(10, 17), index, kind, {"ip": ip}))
        if rng.random() < 0.6:
            out.append(_event(world, at(17, 20), "user", "logout", user_subject, actor, ip))
        if rng.random() < 0.01:
            old = list(person.teams)
            new = sorted(set(old) ^ {rng.choice(TEAMS)}) or [rng.choice(TEAMS)]
            person.teams = new
            lead = world.people[0]
            out.append(
                _event(
                    world,
                    at(10, 17),
                    "user",
                    "team_membership_change",
                    user_subject,
                    _actor(lead),
                    _ip(rng, lead),
                    properties={"old_teams": old, "new_teams": new},
                )
            )
    for when, index, kind, where in sorted(slots, key=lambda s: (s[0], s[1])):
        event = _ACTIVITIES[kind](world, when, _actor(present[index]), where["ip"])
        if event is not None:
            out.append(event)
    return out


def _scaled(rng: random.Random, count: int, scale: float) -> int:
    """``count * scale``, rounded up or down at random so the average is exact."""
    whole = count * scale
    return int(whole) + (1 if rng.random() < whole - int(whole) else 0)


def _execution(world: _World, when: datetime, actor: dict[str, str], ip: str) -> dict[str, Any]:
    rng = world.rng
    roll = rng.random()
    model = world.models.pick(rng)
    assert model is not None
    if roll < 0.15 and world.running:
        run = world.running.take(rng)
        assert run is not None
        world.finished.append(run)
        return _event(world, when, "execution", "stop", _ref(run), actor, ip, run.project)
    if roll < 0.2 and len(world.finished) > 20:
        gone = world.finished.take(rng)
        assert gone is not None
        return _event(world, when, "execution", "delete", _ref(gone), actor, ip, gone.project)
    if roll < 0.24 and world.finished:
        done = world.finished.pick(rng)
        assert done is not None
        if not done.renamed:
            old, done.name, done.renamed = done.name, f"{done.name} (baseline)", True
            props = {"old_name": old, "new_name": done.name}
            subject = {"id": done.id, "name": old}
            return _event(
                world, when, "execution", "rename", subject, actor, ip, done.project, props
            )
    eid = world.next_id("exec")
    step = rng.choice(STEPS)
    run = _Named(eid, f"#{world.counter} {step}", model.project)
    # Most runs finish on their own (no stop event); some are still running, to be stopped.
    (world.running if rng.random() < 0.2 else world.finished).append(run)
    if len(world.finished) > 400:
        world.finished.take(rng)  # long past: nobody looks at it again
    props = {
        "commit_id": f"{rng.getrandbits(40):010x}",
        "environment_id": rng.choice(ENVIRONMENTS),
        "step_name": step,
    }
    return _event(world, when, "execution", "run", _ref(run), actor, ip, model.project, props)


def _workload(world: _World, when: datetime, actor: dict[str, str], ip: str) -> dict[str, Any]:
    rng = world.rng
    roll = rng.random()
    model = world.models.pick(rng)
    assert model is not None
    assert model.pipeline is not None
    if roll < 0.3:
        tid = world.next_id("task")
        started = _Named(tid, f"sweep-{rng.choice(STEPS)}-{world.counter}", model.project)
        world.tasks.append(started)
        props = {"workload": rng.choice(["execution", "pipeline"])}
        return _event(world, when, "task", "run", _ref(started), actor, ip, model.project, props)
    if roll < 0.42 and world.tasks:
        task = world.tasks.pick(rng)
        assert task is not None
        type_ = rng.choices(["stop", "delete", "rename"], [5, 2, 1])[0]
        if type_ == "rename" and not task.renamed:
            old, task.name, task.renamed = task.name, f"{task.name}-final", True
            subject = {"id": task.id, "name": old}
            props = {"old_name": old, "new_name": task.name}
            return _event(world, when, "task", "rename", subject, actor, ip, task.project, props)
        if type_ == "delete":
            world.tasks.remove(task)
            return _event(world, when, "task", "delete", _ref(task), actor, ip, task.project)
        return _event(world, when, "task", "stop", _ref(task), actor, ip, task.project)
    if roll < 0.5:
        # An ad-hoc backfill pipeline: run once or twice, then deleted.
        if world.scratch and rng.random() < 0.5:
            old_pl = world.scratch.take(rng)
            assert old_pl is not None
            return _event(
                world, when, "pipeline", "delete", _ref(old_pl), actor, ip, old_pl.project
            )
        pid = world.next_id("pl")
        pipeline = _Named(pid, f"backfill-{model.name}-{world.counter}", model.project)
        world.scratch.append(pipeline)
        return _event(world, when, "pipeline", "run", _ref(pipeline), actor, ip, pipeline.project)
    pipeline = model.pipeline
    if roll < 0.52 and not pipeline.renamed:
        old, pipeline.name, pipeline.renamed = pipeline.name, f"{pipeline.name}-canary", True
        subject = {"id": pipeline.id, "name": old}
        props = {"old_name": old, "new_name": pipeline.name}
        return _event(world, when, "pipeline", "rename", subject, actor, ip, model.project, props)
    type_ = "stop" if roll < 0.6 else "run"
    return _event(world, when, "pipeline", type_, _ref(pipeline), actor, ip, model.project)


def _datum(world: _World, when: datetime, actor: dict[str, str], ip: str) -> dict[str, Any]:
    rng = world.rng
    dataset = world.datasets.pick(rng)
    assert dataset is not None
    roll = rng.random()
    if roll < 0.3 or not dataset.files:
        did = world.next_id("datum")
        new = _Named(did, f"{dataset.name}-part-{world.counter:05d}.parquet", dataset.project)
        dataset.files.append(new)
        return _event(world, when, "datum", "import", _ref(new), actor, ip, dataset.project)
    if roll < 0.36 and len(dataset.files) > 5:
        gone = dataset.files.take(rng)
        assert gone is not None
        return _event(world, when, "datum", "delete", _ref(gone), actor, ip, dataset.project)
    part = dataset.files.pick(rng)
    assert part is not None
    type_ = "download" if roll < 0.7 else "preview"
    return _event(world, when, "datum", type_, _ref(part), actor, ip, dataset.project)


def _dataset(world: _World, when: datetime, actor: dict[str, str], ip: str) -> dict[str, Any]:
    rng = world.rng
    roll = rng.random()
    dataset = world.datasets.pick(rng)
    assert dataset is not None
    if roll < 0.55:
        dataset.versions += 1
        vid = world.next_id("dsv")
        dataset.live_versions.append((vid, dataset.versions))
        subject = {"id": vid, "name": f"v{dataset.versions}", "parent": _ref(dataset)}
        return _event(world, when, "dataset_version", "create", subject, actor, ip, dataset.project)
    if roll < 0.7 and len(dataset.live_versions) > 3:
        archived = dataset.live_versions.take(rng)
        assert archived is not None
        subject = {"id": archived[0], "name": f"v{archived[1]}", "parent": _ref(dataset)}
        return _event(
            world, when, "dataset_version", "archive", subject, actor, ip, dataset.project
        )
    if roll < 0.72 and dataset.later_names:
        old, dataset.name = dataset.name, dataset.later_names.pop(0)
        subject = {"id": dataset.id, "name": old}
        props = {"old_name": old, "new_name": dataset.name}
        return _event(world, when, "dataset", "rename", subject, actor, ip, dataset.project, props)
    # A scratch dataset: created for an investigation, deleted when it is done.
    if world.scratch_datasets and rng.random() < 0.5:
        scratch = world.scratch_datasets.take(rng)
        assert scratch is not None
        return _event(world, when, "dataset", "delete", _ref(scratch), actor, ip, scratch.project)
    name = f"scratch-{dataset.name}-{world.counter}"
    scratch = _Named(world.next_id("ds"), name, dataset.project)
    world.scratch_datasets.append(scratch)
    return _event(
        world,
        when,
        "dataset",
        "create",
        _ref(scratch),
        actor,
        ip,
        scratch.project,
        {"dataset_name": name},
    )


def _model(world: _World, when: datetime, actor: dict[str, str], ip: str) -> dict[str, Any]:
    rng = world.rng
    model = world.models.pick(rng)
    assert model is not None
    new_desc = rng.choice([d for d in DESCRIPTIONS if d != model.description])
    props = {"old_description": model.description, "new_description": new_desc}
    model.description = new_desc
    return _event(
        world, when, "model", "description_change", _ref(model), actor, ip, model.project, props
    )


def _version_subject(model: _Model, version: _Version) -> dict[str, Any]:
    return {"id": version.id, "name": f"v{version.number}", "parent": _ref(model)}


def _version(world: _World, when: datetime, actor: dict[str, str], ip: str) -> dict[str, Any]:
    rng = world.rng
    model = world.models.pick(rng)
    assert model is not None
    if not model.versions or rng.random() < 0.15:
        number = len(model.versions) + 1
        version = _Version(f"{model.id}-v{number}", number)
        model.versions.append(version)
        subject = _version_subject(model, version)
        return _event(world, when, "model_version", "create", subject, actor, ip, model.project)
    # Mostly recent versions: people work on what was registered lately.
    version = model.versions[max(0, len(model.versions) - 1 - int(rng.expovariate(0.5)))]
    subject = _version_subject(model, version)
    if rng.random() < 0.45:
        new_tags = sorted(set(version.tags) ^ {rng.choice(TAGS)})
        props = {"old_tags": list(version.tags), "new_tags": new_tags}
        version.tags = new_tags
        return _event(
            world, when, "model_version", "tag_change", subject, actor, ip, model.project, props
        )
    return _event(world, when, "model_version", "download", subject, actor, ip, model.project)


def _review(world: _World, when: datetime, actor: dict[str, str], ip: str) -> dict[str, Any] | None:
    rng = world.rng
    model = world.models.pick(rng)
    assert model is not None
    undecided = [v for v in model.versions[-3:] if not v.decided]
    if not undecided:
        return _version(world, when, actor, ip)
    version = undecided[0]
    version.decided = True
    type_ = "approve" if rng.random() < 0.7 else "reject"
    subject = _version_subject(model, version)
    return _event(world, when, "model_version", type_, subject, actor, ip, model.project)


_ACTIVITIES: dict[str, Any] = {
    "execution": _execution,
    "workload": _workload,
    "datum": _datum,
    "dataset": _dataset,
    "model": _model,
    "version": _version,
    "review": _review,
}


def generate(
    start: datetime, days: int, *, seed: int = 20261125, per_day_scale: float = 1.0
) -> Iterator[list[dict[str, Any]]]:
    """Each day's events from ``start`` on, oldest first, as lists per day.

    ``per_day_scale`` multiplies the amount of activity (the benchmarks generate millions).
    """
    rng = random.Random(seed)
    world = _new_world(rng)
    for offset in range(days):
        day = start + timedelta(days=offset)
        events: list[dict[str, Any]] = []
        if offset == 0:
            events.extend(_first_day(world, day))
        # The story's moments come first: what they change holds for the rest of the day.
        events.extend(_story_events(world, day, offset / max(1, days)))
        events.extend(_day_events(world, day, per_day_scale))
        events.sort(key=lambda e: e["timestamp"])
        yield events


def _first_day(world: _World, day: datetime) -> list[dict[str, Any]]:
    # The first morning: the platform lead registers every model and dataset, so the history
    # starts coherently (each exists before anything happens to it).
    out = []
    lead = world.people[0]
    for minute, model in enumerate(list(world.models)):
        out.append(
            _event(
                world,
                day + timedelta(hours=9, minutes=minute),
                "model",
                "create",
                _ref(model),
                _actor(lead),
                _ip(world.rng, lead),
                model.project,
                {"model_name": model.name},
            )
        )
    for minute, dataset in enumerate(world.datasets):
        out.append(
            _event(
                world,
                day + timedelta(hours=9, minutes=30 + minute),
                "dataset",
                "create",
                _ref(dataset),
                _actor(lead),
                _ip(world.rng, lead),
                dataset.project,
                {"dataset_name": dataset.name},
            )
        )
    project_id, name, _ = RETIRING_MODEL
    out.append(_create_model(world, day + timedelta(hours=9, minutes=20), project_id, name, []))
    return out
