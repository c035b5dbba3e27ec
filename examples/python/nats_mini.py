"""A small NATS client over the text protocol (https://docs.nats.io/reference/reference-protocols/nats-protocol):
CONNECT with headers, SUB, PUB/HPUB, MSG/HMSG, PING/PONG. Standard library only; one thread.

Enough for an autellix program: publish into JetStream (a publish with a reply subject, whose
answer is the PubAck), and read replies on an inbox. No TLS, no reconnection, no clustering.
"""
import json
import os
import socket
import time
import uuid
from typing import Callable, Dict, List, Optional, Tuple


class NatsError(Exception):
    """The server answered -ERR, closed the connection, or a wait timed out."""


Message = Tuple[str, Dict[str, str], bytes]  # subject, headers, payload


class Connection:
    def __init__(self, url: str, name: str = "autellix-python", timeout: float = 10.0):
        host, port = url.removeprefix("nats://").rsplit(":", 1)
        self.sock = socket.create_connection((host, int(port)), timeout=timeout)
        self.buf = b""
        self.sid = 0
        self.handlers: Dict[str, Callable[[Message], None]] = {}
        info = self._line()
        if not info.startswith(b"INFO "):
            raise NatsError(f"expected INFO, got {info[:80]!r}")
        self.info = json.loads(info[5:])
        if not self.info.get("headers", False):
            raise NatsError("the server does not support headers (NATS 2.2+ needed)")
        connect = {"verbose": False, "pedantic": False, "headers": True, "no_responders": True,
                   "protocol": 1, "lang": "python-mini", "version": "0.1", "name": name}
        self._send(b"CONNECT " + json.dumps(connect).encode() + b"\r\nPING\r\n")
        self._wait_pong(timeout)

    # -- sending --
    def _send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def subscribe(self, subject: str, handler: Callable[[Message], None]) -> int:
        self.sid += 1
        self.handlers[str(self.sid)] = handler
        self._send(f"SUB {subject} {self.sid}\r\n".encode())
        return self.sid

    def publish(self, subject: str, payload: bytes, reply: Optional[str] = None,
                headers: Optional[Dict[str, str]] = None) -> None:
        r = f" {reply}" if reply else ""
        if headers:
            hdr = "NATS/1.0\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers.items()) + "\r\n"
            h = hdr.encode()
            self._send(f"HPUB {subject}{r} {len(h)} {len(h) + len(payload)}\r\n".encode() + h + payload + b"\r\n")
        else:
            self._send(f"PUB {subject}{r} {len(payload)}\r\n".encode() + payload + b"\r\n")

    def flush(self, timeout: float = 10.0) -> None:
        self._send(b"PING\r\n")
        self._wait_pong(timeout)

    # -- receiving --
    def _line(self) -> bytes:
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise NatsError("connection closed by the server")
            self.buf += chunk
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def _exact(self, n: int) -> bytes:
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise NatsError("connection closed by the server")
            self.buf += chunk
        data, self.buf = self.buf[:n], self.buf[n + 2:]
        return data

    def _wait_pong(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while True:
            if self._one(deadline) == "PONG":
                return

    def _one(self, deadline: float) -> str:
        """Reads and handles one protocol line; returns its verb."""
        self.sock.settimeout(max(0.001, deadline - time.monotonic()))
        try:
            line = self._line()
        except socket.timeout as e:
            raise NatsError("timed out waiting for the server") from e
        verb = line.split(b" ", 1)[0].upper().decode()
        if verb == "PING":
            self._send(b"PONG\r\n")
        elif verb == "-ERR":
            raise NatsError(line.decode())
        elif verb == "MSG":
            parts = line.decode().split(" ")
            subject, sid = parts[1], parts[2]
            payload = self._exact(int(parts[-1]))
            self._dispatch(sid, (subject, {}, payload))
        elif verb == "HMSG":
            parts = line.decode().split(" ")
            subject, sid = parts[1], parts[2]
            hlen, total = int(parts[-2]), int(parts[-1])
            data = self._exact(total)
            self._dispatch(sid, (subject, parse_headers(data[:hlen]), data[hlen:]))
        return verb

    def _dispatch(self, sid: str, msg: Message) -> None:
        handler = self.handlers.get(sid)
        if handler is not None:
            handler(msg)

    def run_until(self, done: Callable[[], bool], timeout: float) -> None:
        """Handles incoming messages until `done()` holds; NatsError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not done():
            if time.monotonic() >= deadline:
                raise NatsError(f"not done within {timeout} s")
            try:
                self._one(deadline)
            except NatsError:
                if done():
                    return
                raise

    def close(self) -> None:
        try:
            self.flush(2.0)
        finally:
            self.sock.close()


def parse_headers(block: bytes) -> Dict[str, str]:
    lines = block.decode().split("\r\n")
    out: Dict[str, str] = {}
    status = lines[0].split(" ", 2)  # NATS/1.0 [code [description]]
    if len(status) > 1:
        out["Status"] = status[1]
    for line in lines[1:]:
        if ": " in line:
            k, v = line.split(": ", 1)
            out[k] = v
    return out


def new_inbox() -> str:
    return "_INBOX." + uuid.uuid4().hex


class JetStreamPublisher:
    """JetStream publish: a core publish with a reply subject; the stream answers a PubAck (JSON)."""

    def __init__(self, nc: Connection, inbox_prefix: str):
        self.nc = nc
        self.prefix = inbox_prefix + ".ack"
        self.acks: Dict[str, dict] = {}
        self.n = 0
        nc.subscribe(self.prefix + ".*", self._on_ack)

    def _on_ack(self, msg: Message) -> None:
        subject, headers, payload = msg
        if headers.get("Status") == "503":
            self.acks[subject] = {"error": {"description": "no responders: is the scheduler's stream there?"}}
        else:
            self.acks[subject] = json.loads(payload or b"{}")

    def publish(self, subject: str, payload: bytes, msg_id: Optional[str] = None, timeout: float = 10.0) -> dict:
        """Stores `payload`; returns the PubAck (`duplicate` true when the msg id was seen). Raises NatsError."""
        self.n += 1
        reply = f"{self.prefix}.{self.n}"
        self.nc.publish(subject, payload, reply=reply, headers={"Nats-Msg-Id": msg_id} if msg_id else None)
        self.nc.run_until(lambda: reply in self.acks, timeout)
        ack = self.acks.pop(reply)
        if "error" in ack:
            raise NatsError(f"JetStream refused {subject}: {ack['error'].get('description', ack['error'])}")
        return ack


def env_url() -> str:
    return os.environ.get("NATS_URL", "nats://127.0.0.1:4222")


__all__: List[str] = ["Connection", "JetStreamPublisher", "NatsError", "new_inbox", "env_url"]
