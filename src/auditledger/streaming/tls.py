"""TLS for syslog destinations: the client context built from a destination's settings.

The trusted CAs (``tls_ca``) and the optional client certificate (``tls_client_cert``) are PEM
text in the destination's settings; the client key is a secret (``tls_client_key``). Python's
``ssl`` loads a certificate chain only from files, so the pair is written to a private
temporary directory for the instant of loading and removed at once.
"""

from __future__ import annotations

import os
import ssl
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any


class TlsConfigError(Exception):
    """A TLS setting that cannot be used; ``field`` names it, ``reason`` says why."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"{field}: {reason}")
        self.field = field
        self.reason = reason


def client_context(settings: Mapping[str, Any], secrets: Mapping[str, Any]) -> ssl.SSLContext:
    """A client context: TLS 1.2 or later, the server's certificate and name verified against
    ``tls_ca`` (or the system's CAs) unless ``tls_verify`` is false, and the client
    certificate when one is set."""
    context = ssl.create_default_context(ssl.Purpose.SERVER_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    ca = settings.get("tls_ca")
    if ca:
        try:
            context.load_verify_locations(cadata=str(ca))
        except (ssl.SSLError, ValueError):
            raise TlsConfigError("settings.tls_ca", "is not PEM certificates") from None
    if settings.get("tls_verify") is False:
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    cert, key = settings.get("tls_client_cert"), secrets.get("tls_client_key")
    if cert and key:
        _load_client_pair(context, str(cert), str(key))
    return context


def _load_client_pair(context: ssl.SSLContext, cert: str, key: str) -> None:
    with tempfile.TemporaryDirectory(prefix="auditledger-tls-") as folder:
        cert_path, key_path = Path(folder, "cert.pem"), Path(folder, "key.pem")
        for path, text in ((cert_path, cert), (key_path, key)):
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w", encoding="utf-8") as handle:
                handle.write(text)
        try:
            context.load_cert_chain(cert_path, key_path)
        except (ssl.SSLError, ValueError):
            raise TlsConfigError(
                "settings.tls_client_cert",
                "the client certificate and key (PEM) do not load or do not match",
            ) from None
