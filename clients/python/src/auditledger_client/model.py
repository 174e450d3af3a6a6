"""The values a platform passes to and gets back from the client."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from auditledger_client.core.errors import Problem


@dataclass(frozen=True)
class Ref:
    """A resource by id, with its name *at the time of the event* (names are snapshots).

    A version names what it is a version of: ``Ref("mv-7", "7", parent=Ref("mdl-1", "churn"))``.
    """

    id: str
    name: str | None = None
    parent: Ref | None = None

    def wire(self) -> dict[str, Any]:
        """The JSON form."""
        result: dict[str, Any] = {"id": self.id}
        if self.name is not None:
            result["name"] = self.name
        if self.parent is not None:
            result["parent"] = self.parent.wire()
        return result


@dataclass(frozen=True)
class Actor:
    """Who performed the action: a person (``user``) or an automated process (``system``)."""

    id: str
    name: str
    type: Literal["user", "system"] = "user"

    def wire(self) -> dict[str, str]:
        """The JSON form."""
        return {"type": self.type, "id": self.id, "name": self.name}


@dataclass(frozen=True)
class Receipt:
    """What the client knows about a recorded event.

    ``status`` is ``queued`` when the event is in the spool and not yet acknowledged (``seq``
    and ``hash`` are then None), ``created`` or ``duplicate`` once the service committed it.
    """

    id: uuid.UUID
    organization: str
    status: Literal["queued", "created", "duplicate"]
    seq: int | None = None
    hash: str | None = None

    @property
    def acknowledged(self) -> bool:
        """Whether the service has committed the event."""
        return self.status != "queued"


@dataclass(frozen=True)
class DeadLetter:
    """An event the service refused for good, kept with the service's explanation."""

    event_id: uuid.UUID
    organization: str
    event: dict[str, Any]
    status: int
    code: str
    message: str
    problems: list[Problem] = field(default_factory=list)
    failed_at: datetime | None = None
