"""Shared pieces of the client tests: sample references, stub transports, the stored ids."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import httpx2 as httpx

from auditledger.services import Services
from auditledger_client import Actor, Ref
from tests.support.helpers import OrgAccess

ADA = Actor("u-ada", "Ada Okafor")
CHURN = Ref("mdl-churn", "churn-model")
PROJECT = Ref("prj-churn", "churn-prediction")


def stored_ids(services: Services, access: OrgAccess) -> list[uuid.UUID]:
    """The event ids of the organization's log, in sequence order."""
    org = access.org
    size = services.log.head(org.id).tree_size
    return [leaf.event_id for leaf in services.log.leaves(org.id, 0, size)]


class Stub(httpx.BaseTransport):
    """A transport that answers from a function, falling through to ``inner`` on None."""

    def __init__(
        self,
        answer: Callable[[httpx.Request], httpx.Response | None],
        inner: httpx.BaseTransport | None = None,
    ) -> None:
        self.answer = answer
        self.inner = inner
        self.requests: list[httpx.Request] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        request.read()
        self.requests.append(request)
        response = self.answer(request)
        if response is not None:
            return response
        assert self.inner is not None
        return self.inner.handle_request(request)


def unreachable(request: httpx.Request) -> httpx.Response:
    """The service is down: every connection is refused."""
    raise httpx.ConnectError("connection refused", request=request)
