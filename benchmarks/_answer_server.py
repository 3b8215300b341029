"""A minimal aiohttp server answering every POST with the vendor's createPerson answer.

Run by the benchmarks in a separate process; prints its URL on one line, then serves.
"""

from __future__ import annotations

import asyncio
import signal
import sys

from aiohttp import web

ANSWER = (
    b'{"responseCode":"000","infos":"Request successfully processed","NewIdentifierResponse":null}'
)


async def answer(request: web.Request) -> web.Response:
    await request.read()
    return web.Response(body=ANSWER, content_type="application/json")


async def serve(app: web.Application, note: str = "") -> None:
    """Serve ``app`` on a free loopback port: print its URL (and ``note``) on one line, then
    serve until SIGINT or SIGTERM."""
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0, backlog=1024)
    await site.start()
    port = runner.addresses[0][1]
    sys.stdout.write(f"http://127.0.0.1:{port}{note}\n")
    sys.stdout.flush()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    await runner.cleanup()


async def main() -> None:
    app = web.Application()
    app.router.add_post("/{tail:.*}", answer)
    await serve(app)


if __name__ == "__main__":
    asyncio.run(main())
