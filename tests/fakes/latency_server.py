"""An OpenAI-compatible chat-completions server whose only cost is a fixed latency per call (asyncio).

``python -m tests.fakes.latency_server --latency 0.2`` serves chat completions (any POST path) on a free
127.0.0.1 port from one asyncio event loop: each request waits ``latency`` seconds with ``asyncio.sleep``
and gets an echo completion. It prints the base URL, then, when stdin closes, the number
of requests served and the most in flight at once, and exits.

Why not ``openai_server.OpenAIServer`` for throughput: it is a thread-per-connection ``ThreadingHTTPServer``;
with 64 keep-alive connections its threads queue on the GIL and add tens of milliseconds to every call,
so even the bare ``openai`` client tops out near 250 calls/s against it (measured) — it would measure the
fake, not the client. The scripted server stays the one for behaviour tests (faults, tool calls, counters).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import socket
import sys
from typing import Any

from tests.fakes.openai_server import Reply, _completion


class LatencyServer:
    """Minimal HTTP/1.1 keep-alive server on ``asyncio.start_server``: one read of the head and body, one
    write of the whole response (TCP_NODELAY), so the only cost per call is the latency."""

    def __init__(self, latency_s: float) -> None:
        self.latency_s = latency_s
        self.served = 0
        self.in_flight = 0
        self.peak = 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        sock = writer.get_extra_info("socket")
        if sock is not None:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = 0
                for line in head.split(b"\r\n")[1:]:
                    name, _, value = line.partition(b":")
                    if name.strip().lower() == b"content-length":
                        length = int(value.strip())
                body: dict[str, Any] = json.loads(await reader.readexactly(length)) if length else {}
                self.in_flight += 1
                self.peak = max(self.peak, self.in_flight)
                try:
                    await asyncio.sleep(self.latency_s)
                finally:
                    self.in_flight -= 1
                self.served += 1
                payload = json.dumps(_completion(body, Reply(text=f"echo {len(body.get('messages', []))}"),
                                                 self.served)).encode()
                writer.write(b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: "
                             + str(len(payload)).encode() + b"\r\n\r\n" + payload)
                await writer.drain()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def _serve(latency_s: float) -> None:
    srv = LatencyServer(latency_s)
    server = await asyncio.start_server(srv.handle, "127.0.0.1", 0, backlog=2048)
    port = server.sockets[0].getsockname()[1]
    sys.stdout.write(f"http://127.0.0.1:{port}/v1\n")
    sys.stdout.flush()
    await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)   # until stdin closes
    server.close()
    sys.stdout.write(json.dumps({"served": srv.served, "peak_in_flight": srv.peak}) + "\n")
    sys.stdout.flush()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--latency", type=float, default=0.2)
    args = ap.parse_args()
    asyncio.run(_serve(args.latency))


if __name__ == "__main__":
    main()
