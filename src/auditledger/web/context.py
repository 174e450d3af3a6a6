"""Access to the process's services from a request."""

from __future__ import annotations

from typing import cast

from fastapi import Request

from auditledger.services import Services


def services(request: Request) -> Services:
    """The :class:`Services` the app was built with."""
    return cast(Services, request.app.state.services)
