"""Real receivers on 127.0.0.1 for the streaming tests: an HTTP webhook and rsyslog (over TCP,
or TLS through Debian's ``rsyslog-gnutls`` driver)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Any

from tests.support.servers import free_port
from tests.support.tls import Pki
from tests.support.waiting import LOADED_MACHINE_SECONDS


class WebhookReceiver:
    """An HTTP server that keeps every POST (headers and body); ``failing`` answers 503."""

    def __init__(self) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.failing = False
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                if receiver.failing:
                    self.send_response(503)
                    self.end_headers()
                    return
                with receiver.lock:
                    receiver.requests.append((dict(self.headers.items()), body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: Any) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", free_port()), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/in"

    def batches(self) -> list[dict[str, Any]]:
        with self.lock:
            return [json.loads(body) for _, body in self.requests]

    def events(self) -> list[dict[str, Any]]:
        """Every event received, in arrival order (duplicates kept)."""
        return [record for batch in self.batches() for record in batch["events"]]

    def stream_lines(self) -> list[str]:
        """The received batches as a saved stream (one batch per line)."""
        with self.lock:
            return [body.decode() for _, body in self.requests]

    def __enter__(self) -> WebhookReceiver:
        self.thread.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.server.shutdown()
        self.server.server_close()


RSYSLOG = shutil.which("rsyslogd") or "/usr/sbin/rsyslogd"


class Rsyslog:
    """Debian's rsyslogd in the foreground with its own config: TCP in, one file out."""

    def __init__(
        self, workdir: Path, *, tls: Pki | None = None, require_client_cert: bool = False
    ) -> None:
        self.workdir = workdir
        self.port = free_port()
        self.output = workdir / "received.log"
        self.config = workdir / "rsyslog.conf"
        self.process: subprocess.Popen[bytes] | None = None
        self.tls = tls
        self.require_client_cert = require_client_cert

    def _tls_config(self) -> tuple[str, str]:
        """The global() parameters and the imtcp module parameters for TLS (GnuTLS driver)."""
        if self.tls is None:
            return "", ""
        driver = (
            'DefaultNetstreamDriver="gtls"'
            f' DefaultNetstreamDriverCAFile="{self.tls.ca.cert_file}"'
            f' DefaultNetstreamDriverCertFile="{self.tls.server.cert_file}"'
            f' DefaultNetstreamDriverKeyFile="{self.tls.server.key_file}"'
        )
        mode = "x509/certvalid" if self.require_client_cert else "anon"
        module = f' StreamDriver.Name="gtls" StreamDriver.Mode="1" StreamDriver.Authmode="{mode}"'
        return driver, module

    def __enter__(self) -> Rsyslog:
        driver, module = self._tls_config()
        self.config.write_text(
            f"""
global(workDirectory="{self.workdir}" {driver})
module(load="imtcp"{module})
template(name="raw" type="string" string="%rawmsg%\\n")
input(type="imtcp" port="{self.port}" address="127.0.0.1" ruleset="keep")
ruleset(name="keep") {{
  action(type="omfile" file="{self.output}" template="raw" flushOnTXEnd="on"
         asyncWriting="off" ioBufferSize="64k")
}}
"""
        )
        self.log = self.workdir / "rsyslogd.out"
        with self.log.open("wb") as out:
            self.process = subprocess.Popen(
                [RSYSLOG, "-n", "-f", str(self.config), "-i", str(self.workdir / "rsyslog.pid")],
                stdout=out,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + LOADED_MACHINE_SECONDS

        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"rsyslogd exited: {self.log.read_text()[-2000:]}")
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return self
            except OSError:
                time.sleep(0.1)
        raise RuntimeError("rsyslogd did not listen")

    def lines(self) -> list[str]:
        return self.output.read_text().splitlines() if self.output.exists() else []

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
