"""Sending one batch over a destination's transport; an exception means "not acknowledged".

* **webhook**: one HTTP POST per batch, JSON (or Splunk HEC's newline-separated events), with
  ``X-Auditledger-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`` when an
  HMAC key is set (the receiver refuses a stale ``t``: a replay window) and an
  ``Idempotency-Key`` naming the destination and the batch's range; any 2xx acknowledges.
* **syslog**: RFC 5424 messages over TCP with octet counting (RFC 6587), or over TLS (RFC 5425)
  when ``tls`` is set, one per event whose MSG is the event's record, preceded by one message
  holding the batch without its events.
* **nats**: JetStream publishes to ``<prefix>.<organization>``, one per event with
  ``Nats-Msg-Id`` = the event id (JetStream drops a duplicate within its window) and one for the
  batch header (``Nats-Msg-Id`` = destination and range); acknowledged when JetStream acks all.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import hashlib
import hmac
import json
import socket
import ssl
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import httpx2 as httpx

from auditledger import __version__
from auditledger.streaming.batch import Batch
from auditledger.streaming.model import Destination, Transport
from auditledger.streaming.tls import TlsConfigError, client_context

SIGNATURE_HEADER = "X-Auditledger-Signature"
TIMEOUT_SECONDS = 10.0
# How long a TLS syslog connection waits after the handshake for a refusal (see
# _check_not_refused); paid once per batch.
TLS_SETTLE_SECONDS = 0.5


class DeliveryError(Exception):
    """The receiver did not acknowledge the batch; the message says why (never a secret)."""


def _compact(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def header_of(batch: Batch) -> dict[str, Any]:
    """The batch without its events (what syslog and NATS send ahead of the events)."""
    header = {k: v for k, v in batch.body.items() if k != "events"}
    header["event_count"] = len(batch.records)
    return header


def sign(key: str, timestamp: int, body: bytes) -> str:
    """The signature header's value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(key.encode("utf-8"), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def verify_signature(
    key: str, header: str, body: bytes, *, now: float | None = None, window: int = 300
) -> bool:
    """Receiver side: whether ``header`` signs ``body`` and is at most ``window`` s old."""
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        timestamp = int(parts["t"])
    except (ValueError, KeyError):
        return False
    current = time.time() if now is None else now
    if abs(current - timestamp) > window:
        return False
    return hmac.compare_digest(sign(key, timestamp, body), header)


def webhook_body(destination: Destination, batch: Batch) -> tuple[bytes, str]:
    """The request body and its content type."""
    if destination.settings.get("format") == "splunk_hec":
        header = header_of(batch)
        lines = [
            _compact(
                {
                    "time": _epoch(record["event"]["timestamp"]),
                    "source": "auditledger",
                    "sourcetype": "auditledger:event",
                    "event": record,
                }
            )
            for record in batch.records
        ]
        lines.append(
            _compact({"source": "auditledger", "sourcetype": "auditledger:batch", "event": header})
        )
        return b"\n".join(lines), "application/json"
    return _compact(batch.body), "application/json"


def _epoch(timestamp: str) -> float:
    return datetime.fromisoformat(timestamp.replace("Z", "+00:00")).timestamp()


@functools.cache
def _http_client() -> httpx.Client:
    # One client for the process: a new one per batch loaded the system's CA store each time
    # (a tenth of delivery's CPU) and opened a new connection for every batch.
    return httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)


def send_webhook(destination: Destination, batch: Batch, now: Callable[[], float]) -> None:
    """POST the batch; a non-2xx answer or a network error is a failed delivery."""
    body, content_type = webhook_body(destination, batch)
    headers = {
        "Content-Type": content_type,
        "User-Agent": f"auditledger/{__version__}",
        "Idempotency-Key": f"{destination.id}:{batch.from_seq}-{batch.to_seq}",
    }
    key = destination.secrets.get("hmac_key")
    if key:
        headers[SIGNATURE_HEADER] = sign(key, int(now()), body)
    token = destination.secrets.get("token")
    if token:
        scheme = "Splunk" if destination.settings.get("format") == "splunk_hec" else "Bearer"
        headers["Authorization"] = f"{scheme} {token}"
    try:
        response = _http_client().post(
            str(destination.settings["url"]), content=body, headers=headers
        )
    except httpx.HTTPError as exc:
        raise DeliveryError(f"webhook: {type(exc).__name__}: {exc}") from None
    if not 200 <= response.status_code < 300:
        raise DeliveryError(f"webhook answered {response.status_code}")


def syslog_frames(destination: Destination, batch: Batch, hostname: str) -> list[bytes]:
    """The batch as octet-counted RFC 5424 frames (header first, then one per event)."""
    app = str(destination.settings.get("app_name") or "auditledger")[:48]
    org = str(batch.body["organization"])

    def frame(msgid: str, payload: dict[str, Any], timestamp: str) -> bytes:
        # PRI 110 = facility 13 (log audit) * 8 + severity 6 (informational).
        message = (
            f'<110>1 {timestamp} {hostname} {app} - {msgid} [auditledger@32473 org="{org}"] '
        ).encode() + _compact(payload)
        return str(len(message)).encode() + b" " + message

    stamp = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    frames = [frame("batch", header_of(batch), stamp)]
    frames.extend(frame("event", record, record["event"]["timestamp"]) for record in batch.records)
    return frames


def send_syslog(destination: Destination, batch: Batch) -> None:
    """Write the frames on one TCP (or TLS) connection; a connection error is a failed
    delivery."""
    host, port = str(destination.settings["host"]), int(destination.settings["port"])
    frames = syslog_frames(destination, batch, socket.gethostname()[:255] or "-")
    try:
        context = (
            client_context(destination.settings, destination.secrets)
            if destination.settings.get("tls")
            else None
        )
    except TlsConfigError as exc:
        raise DeliveryError(f"syslog: TLS: {exc.reason}") from None
    try:
        with socket.create_connection((host, port), timeout=TIMEOUT_SECONDS) as connection:
            if context is None:
                _write_and_close(connection, b"".join(frames))
            else:
                with context.wrap_socket(connection, server_hostname=host) as secured:
                    _check_not_refused(secured)
                    secured.sendall(b"".join(frames))
                    _close_tls(secured)
    except ssl.SSLCertVerificationError as exc:
        raise DeliveryError(f"syslog: TLS: {exc.verify_message}") from None
    except OSError as exc:
        raise DeliveryError(f"syslog: {type(exc).__name__}: {exc}") from None


def _check_not_refused(connection: ssl.SSLSocket) -> None:
    # A receiver may refuse the client after the handshake (rsyslog checks the client
    # certificate then, and TLS 1.3 lets the client finish first) by just closing. Frames sent
    # into that close could end in what looks like a clean close, so wait a moment for it
    # first: a receiver that keeps the connection open has accepted the client.
    connection.settimeout(TLS_SETTLE_SECONDS)
    try:
        data = connection.recv(1)
    except TimeoutError:
        data = None  # still open: accepted
    except (ssl.SSLError, ConnectionError) as exc:
        raise DeliveryError(f"syslog: TLS: the receiver refused the connection ({exc})") from None
    finally:
        connection.settimeout(TIMEOUT_SECONDS)
    if data == b"":
        raise DeliveryError("syslog: TLS: the receiver closed the connection after the handshake")


def _close_tls(connection: ssl.SSLSocket) -> None:
    # The TLS counterpart of the end-of-stream wait below: send close_notify (after every
    # frame) and wait for the receiver to close. rsyslog's GnuTLS driver closes the connection
    # without a close_notify of its own, which OpenSSL reports as an unexpected EOF: having
    # read ours, it has read every frame before it, so that is a clean close too.
    connection.settimeout(TIMEOUT_SECONDS)
    with contextlib.suppress(ssl.SSLEOFError):
        connection.unwrap()


def _write_and_close(connection: socket.socket, data: bytes) -> None:
    connection.sendall(data)
    # TCP syslog has no acknowledgement: a clean close after the write is the best sign the
    # receiver took it (documented in docs/streaming.md).
    connection.shutdown(socket.SHUT_WR)
    connection.settimeout(TIMEOUT_SECONDS)
    connection.recv(1)


def subject_for(destination: Destination, org_slug: str) -> str:
    """The NATS subject of an organization's events."""
    prefix = str(destination.settings.get("subject_prefix") or "auditledger")
    return f"{prefix}.{org_slug}"


async def _publish_nats(
    destination: Destination, batch: Batch, messages: Sequence[tuple[str, bytes]]
) -> None:
    import nats
    from nats.js.errors import Error as JetStreamError

    token = destination.secrets.get("token")
    try:
        client = await nats.connect(
            str(destination.settings["url"]),
            token=token or None,
            connect_timeout=TIMEOUT_SECONDS,
            allow_reconnect=False,
            max_reconnect_attempts=0,
        )
    except Exception as exc:  # nats-py raises plain OSErrors and its own errors alike
        raise DeliveryError(f"nats: cannot connect: {type(exc).__name__}") from None
    try:
        stream = client.jetstream(timeout=TIMEOUT_SECONDS)
        subject = subject_for(destination, str(batch.body["organization"]))
        for msg_id, payload in messages:
            await stream.publish(subject, payload, headers={"Nats-Msg-Id": msg_id})
    except (JetStreamError, TimeoutError, OSError) as exc:
        raise DeliveryError(f"nats: {type(exc).__name__}: {exc}") from None
    except Exception as exc:  # nats-py's NoRespondersError and friends are not JetStream errors
        raise DeliveryError(f"nats: {type(exc).__name__}") from None
    finally:
        await client.close()


def send_nats(destination: Destination, batch: Batch) -> None:
    """Publish the batch header and each event to JetStream, waiting for every ack."""
    messages = [(f"{destination.id}:{batch.from_seq}-{batch.to_seq}", _compact(header_of(batch)))]
    messages.extend((record["id"], _compact(record)) for record in batch.records)
    asyncio.run(_publish_nats(destination, batch, messages))


def send(destination: Destination, batch: Batch, now: Callable[[], float] = time.time) -> None:
    """Deliver ``batch`` over the destination's transport or raise :class:`DeliveryError`."""
    if destination.transport is Transport.WEBHOOK:
        send_webhook(destination, batch, now)
    elif destination.transport is Transport.SYSLOG:
        send_syslog(destination, batch)
    else:
        send_nats(destination, batch)
