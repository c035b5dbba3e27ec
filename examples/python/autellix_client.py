#!/usr/bin/env python3
"""An autellix program client in Python, built from docs/protocol.md alone: Debian's python3 and
python3-msgpack, and the small NATS client in nats_mini.py (no PyPI).

It opens a session, runs a planning call on the main thread, forks parallel threads from it
(each call names its parent, so it extends the plan's context), streams every call's tokens,
then closes the session. The last line of output is a JSON summary.

    /usr/bin/python3 examples/python/autellix_client.py --nats nats://127.0.0.1:4222 [--threads 2]
"""
import argparse
import json
import sys
import time
import uuid
from typing import Dict, List, Optional

import msgpack

from nats_mini import Connection, JetStreamPublisher, NatsError, new_inbox


def pack(msg: dict) -> bytes:
    # One map with str keys and "v": 1; optional fields are left out (never None).
    return msgpack.packb({**msg, "v": 1}, use_bin_type=True)


def unpack(data: bytes) -> dict:
    m = msgpack.unpackb(data, raw=False)
    if not isinstance(m, dict) or not isinstance(m.get("type"), str):
        raise ValueError("not an autellix message")
    return m


class ProtocolError(Exception):
    def __init__(self, m: dict):
        super().__init__(f"{m.get('code')}: {m.get('message')}")
        self.code = m.get("code")


class Call:
    """One submitted call: its chunks (deduplicated by index) and its result, or its error."""

    def __init__(self, call_id: str, thread_id: str):
        self.call_id = call_id
        self.thread_id = thread_id
        self.chunks: Dict[int, str] = {}
        self.result: Optional[dict] = None
        self.error: Optional[ProtocolError] = None

    @property
    def settled(self) -> bool:
        return self.result is not None or self.error is not None


class Program:
    """A session and its calls over one inbox subject; replies are matched by type, session and call."""

    def __init__(self, nc: Connection, prefix: str):
        self.nc = nc
        self.prefix = prefix
        self.inbox = new_inbox()
        self.js = JetStreamPublisher(nc, self.inbox)
        self.session_id = "py-" + uuid.uuid4().hex[:12]
        self.calls: Dict[str, Call] = {}
        self.session_reply: Optional[dict] = None
        nc.subscribe(self.inbox + ".r", self._on_reply)  # before publishing anything
        nc.flush()

    @property
    def reply_to(self) -> str:
        return self.inbox + ".r"

    def _on_reply(self, msg) -> None:
        try:
            m = unpack(msg[2])
        except Exception:
            return  # undecodable: dropped
        if m.get("sessionId") != self.session_id:
            return
        call = self.calls.get(m.get("callId", ""))
        kind = m["type"]
        if call is not None and not call.settled:
            if kind == "token.chunk":
                call.chunks.setdefault(m["index"], m["text"])
            elif kind == "call.result":
                call.result = m
            elif kind == "error":
                call.error = ProtocolError(m)
        elif kind in ("session.opened", "session.closed") or (kind == "error" and "callId" not in m):
            self.session_reply = m

    def _session_request(self, msg: dict, msg_id: Optional[str], want: str) -> dict:
        self.session_reply = None
        self.js.publish(f"{self.prefix}.intake.session", pack(msg), msg_id)
        self.nc.run_until(lambda: self.session_reply is not None, 10.0)
        m = self.session_reply
        if m["type"] == "error":
            raise ProtocolError(m)
        if m["type"] != want:
            raise RuntimeError(f"expected {want}, got {m['type']}")
        return m

    def open(self) -> dict:
        return self._session_request(
            {"type": "session.open", "sessionId": self.session_id, "replyTo": self.reply_to},
            f"open:{self.session_id}", "session.opened")

    def submit(self, call_id: str, thread_id: str, prompt: str, max_tokens: int, parents: List[str]) -> Call:
        call = Call(call_id, thread_id)
        self.calls[call_id] = call
        submit = {
            "type": "call.submit", "sessionId": self.session_id, "callId": call_id, "threadId": thread_id,
            "parents": parents, "promptTokens": max(1, len(prompt) // 4), "maxTokens": max_tokens,
            "prompt": prompt, "replyTo": self.reply_to, "stream": True,
        }
        ack = self.js.publish(f"{self.prefix}.intake.call", pack(submit), f"{self.session_id}/{call_id}")
        if ack.get("duplicate"):
            raise RuntimeError(f"call {call_id} was already submitted")
        return call

    def wait(self, calls: List[Call], timeout: float = 120.0) -> None:
        self.nc.run_until(lambda: all(c.settled for c in calls), timeout)
        for c in calls:
            if c.error is not None:
                raise c.error

    def close(self) -> dict:
        return self._session_request(
            {"type": "session.close", "sessionId": self.session_id, "replyTo": self.reply_to},
            None, "session.closed")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--nats", default="nats://127.0.0.1:4222")
    ap.add_argument("--prefix", default="autellix")
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--max-tokens", type=int, default=24)
    args = ap.parse_args()

    t0 = time.monotonic()
    try:
        nc = Connection(args.nats)
        p = Program(nc, args.prefix)
        opened = p.open()
        print(f"session {p.session_id} open (idle TTL {opened['idleTtlMs']} ms)", file=sys.stderr)
        plan = p.submit("plan", "main", "Plan the trip: list the cities to visit.", args.max_tokens, [])
        p.wait([plan])
        forks = [p.submit(f"leg{i}", f"t{i}", f"Book leg {i} of the plan.", args.max_tokens, ["plan"])
                 for i in range(args.threads)]
        p.wait(forks)
        closed = p.close()
        nc.close()
    except (NatsError, ProtocolError, RuntimeError, OSError) as e:
        print(f"autellix python client: {e}", file=sys.stderr)
        return 1
    calls = [plan] + forks
    for c in calls:
        text = "".join(c.chunks[i] for i in sorted(c.chunks))
        if text != c.result["text"]:
            print(f"autellix python client: {c.call_id}: streamed text differs from the result", file=sys.stderr)
            return 1
    summary = {
        "sessionId": p.session_id,
        "calls": [{"callId": c.call_id, "threadId": c.thread_id, "engineId": c.result["engineId"],
                   "chunks": len(c.chunks), "completionTokens": c.result["usage"]["completionTokens"]} for c in calls],
        "callsCompleted": closed["callsCompleted"],
        "seconds": round(time.monotonic() - t0, 3),
    }
    print(json.dumps(summary))
    return 0


if __name__ == "__main__":
    sys.exit(main())
