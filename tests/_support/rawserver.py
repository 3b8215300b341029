"""A raw asyncio HTTP/1.1 server on 127.0.0.1 whose answer to each request is a script.

It shares no code with the library, aiohttp's test server or the simulator: it reads the
request line, the headers and a ``Content-Length`` body itself, and each *action* writes
whatever bytes it likes, well-formed or not (cut bodies, unterminated chunked encoding, one
byte at a time, compressed bombs, 1xx interim answers, conflicting lengths, resets), so
the client is tested against a server not shaped around it.

Each operation (the last segment of the path) answers from its script, then from its
default action once the script is used up. The server counts what it received per
operation and can forward a request to an upstream (a reverse proxy that fails after
forwarding, as Envoy does).
"""

from __future__ import annotations

import asyncio
import gzip
import json
import socket
import struct
import zlib
from collections import Counter, defaultdict, deque
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp

REASONS = {
    100: "Continue",
    103: "Early Hints",
    200: "OK",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    429: "Too Many Requests",
    500: "Internal Server Error",
    502: "Bad Gateway",
    503: "Service Unavailable",
    504: "Gateway Timeout",
}


class Request:
    """One request as the server read it."""

    def __init__(self, method: str, path: str, headers: dict[str, str], body: bytes) -> None:
        self.method = method
        self.path = path
        self.headers = headers
        self.body = body

    @property
    def operation(self) -> str:
        return self.path.rstrip("/").rsplit("/", 1)[-1]


class Exchange:
    """What an action may use: the request, the socket's two ends, the server."""

    def __init__(
        self,
        request: Request,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
        server: RawServer,
    ) -> None:
        self.request = request
        self.reader = reader
        self.writer = writer
        self.server = server


#: An action answers one request; it returns whether the connection stays open.
Action = Callable[[Exchange], Awaitable[bool]]


def head(status: int, headers: dict[str, str] | None = None, *, length: int | None) -> bytes:
    lines = [f"HTTP/1.1 {status} {REASONS.get(status, 'Whatever')}"]
    all_headers = dict(headers or {})
    if length is not None:
        all_headers.setdefault("Content-Length", str(length))
    lines += [f"{name}: {value}" for name, value in all_headers.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")


def respond(status: int = 200, body: bytes = b"", headers: dict[str, str] | None = None) -> Action:
    """A well-formed answer with a ``Content-Length``; the connection is kept."""

    async def act(x: Exchange) -> bool:
        x.writer.write(head(status, headers, length=len(body)) + body)
        await x.writer.drain()
        return True

    return act


def answer_json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> Action:
    """A JSON answer."""
    return respond(
        status, json.dumps(data).encode(), {"Content-Type": "application/json", **(headers or {})}
    )


def raw(data: bytes, *, close: bool = True) -> Action:
    """Exactly these bytes, then (by default) close the connection."""

    async def act(x: Exchange) -> bool:
        x.writer.write(data)
        await x.writer.drain()
        return not close

    return act


def trickle(data: bytes) -> Action:
    """These bytes one at a time, each flushed and followed by a turn of the event loop."""

    async def act(x: Exchange) -> bool:
        for index in range(len(data)):
            x.writer.write(data[index : index + 1])
            await x.writer.drain()
            await asyncio.sleep(0)
        return True

    return act


def close() -> Action:
    """Read the request, then close the connection without a byte of answer (FIN)."""

    async def act(x: Exchange) -> bool:
        return False

    return act


def reset() -> Action:
    """Read the request, then reset the connection (RST: SO_LINGER 0 and abort)."""

    async def act(x: Exchange) -> bool:
        sock = x.writer.get_extra_info("socket")
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        x.writer.transport.abort()
        return False

    return act


def hang() -> Action:
    """Never answer (until the server stops)."""

    async def act(x: Exchange) -> bool:
        await x.server.stopping.wait()
        return False

    return act


def forward(then: Action | None = None) -> Action:
    """Forward the request to the upstream, then answer with ``then`` instead of its answer.

    With ``then=None`` the upstream's answer is passed on (status and body).
    """

    async def act(x: Exchange) -> bool:
        server = x.server
        assert server.upstream is not None and server.upstream_session is not None
        request = x.request
        async with server.upstream_session.post(
            server.upstream + request.path,
            data=request.body,
            headers={
                "Content-Type": "application/json",
                "Authorization": request.headers.get("authorization", ""),
            },
        ) as upstream:
            body = await upstream.read()
            status = upstream.status
        server.forwarded[request.operation] += 1
        if then is None:
            return await respond(status, body, {"Content-Type": "application/json"})(x)
        return await then(x)

    return act


def bomb(size: int, encoding: str = "gzip", *, chunked: bool = False) -> Action:
    """A valid JSON answer padded to ``size`` bytes, compressed: a few KiB on the wire."""
    padding = b" " * size
    document = b'{"responseCode": "000"' + padding + b"}"
    if encoding == "gzip":
        compressed = gzip.compress(document, compresslevel=9)
    else:
        compressed = zlib.compress(document, 9)
    headers = {"Content-Type": "application/json", "Content-Encoding": encoding}
    if not chunked:
        return respond(200, compressed, headers)
    headers["Transfer-Encoding"] = "chunked"
    framed = f"{len(compressed):x}\r\n".encode() + compressed + b"\r\n0\r\n\r\n"
    return raw(head(200, headers, length=None) + framed, close=False)


def compressed(data: Any, encoding: str) -> Action:
    """A JSON answer compressed as ``encoding`` (``gzip``, ``deflate`` or raw ``deflate``)."""
    document = json.dumps(data).encode()
    if encoding == "gzip":
        body = gzip.compress(document)
    elif encoding == "deflate":
        body = zlib.compress(document)
    else:  # raw deflate, without the zlib wrapper, as some servers send it
        squeezer = zlib.compressobj(wbits=-zlib.MAX_WBITS)
        body = squeezer.compress(document) + squeezer.flush()
        encoding = "deflate"
    return respond(200, body, {"Content-Type": "application/json", "Content-Encoding": encoding})


class RawServer:
    """The scripted server; use it as ``async with RawServer() as server``."""

    def __init__(self, upstream: str | None = None) -> None:
        self.scripts: dict[str, deque[Action]] = defaultdict(deque)
        self.defaults: dict[str, Action] = {}
        self.received: Counter[str] = Counter()
        self.forwarded: Counter[str] = Counter()
        self.requests: list[Request] = []
        self.connections = 0
        self.arrived: dict[str, asyncio.Event] = defaultdict(asyncio.Event)
        self.stopping = asyncio.Event()
        self.upstream = upstream.rstrip("/") if upstream else None
        self.upstream_session: aiohttp.ClientSession | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        self.url = ""

    def script(self, operation: str, *actions: Action) -> None:
        self.scripts[operation].extend(actions)

    def default(self, operation: str, action: Action) -> None:
        self.defaults[operation] = action

    async def __aenter__(self) -> RawServer:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        self.url = f"http://127.0.0.1:{port}"
        if self.upstream is not None:
            self.upstream_session = aiohttp.ClientSession()
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        # Hanging actions return, open connections are closed: every handler ends by
        # itself, none is cancelled.
        self.stopping.set()
        assert self._server is not None
        self._server.close()
        for writer in list(self._writers):
            writer.close()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.wait_closed()
        if self.upstream_session is not None:
            await self.upstream_session.close()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        self._writers.add(writer)
        self.connections += 1
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                self.requests.append(request)
                self.received[request.operation] += 1
                self.arrived[request.operation].set()
                script = self.scripts[request.operation]
                action = script.popleft() if script else self.defaults.get(request.operation)
                if action is None:
                    action = respond(404)
                keep = await action(Exchange(request, reader, writer, self))
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError):
            pass
        finally:
            self._tasks.discard(task)
            self._writers.discard(writer)
            writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> Request | None:
        try:
            head_bytes = await reader.readuntil(b"\r\n\r\n")
        except (asyncio.IncompleteReadError, ConnectionError):
            return None
        lines = head_bytes.decode("latin-1").split("\r\n")
        method, path, _ = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if line:
                name, _, value = line.partition(":")
                headers[name.strip().lower()] = value.strip()
        body = await reader.readexactly(int(headers.get("content-length", "0")))
        return Request(method, path, headers, body)
