"""The bare-HTTP limit: the server's stack (Starlette on uvicorn, or on Granian) answering the
write requests 201 after reading their body, without decoding, validating or storing anything.

    python bench/bare_app.py --port 8099          # uvicorn, run as `salesmachine serve` runs it
    granian --interface asgi --factory bare_app:create   # (from bench/)

Whatever the real server does above this is the cost of our own code and of the store.
"""

from __future__ import annotations

import argparse

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

SINGLE = b'{"status":"success"}'
BATCH = b'{"status":"success","accepted":100}'


async def single(request: Request) -> Response:
    await request.body()
    return Response(SINGLE, status_code=201, media_type="application/json")


async def batch(request: Request) -> Response:
    await request.body()
    return Response(BATCH, status_code=201, media_type="application/json")


async def healthz(_request: Request) -> Response:
    return Response(b'{"status":"ok"}', media_type="application/json")


def create() -> Starlette:
    return Starlette(routes=[
        Route("/healthz", healthz, methods=["GET"]),
        Route("/v1/track/event", single, methods=["POST"]),
        Route("/v1/batch", batch, methods=["POST"]),
    ])


def main() -> None:
    import uvicorn

    parser = argparse.ArgumentParser()
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8099)
    args = parser.parse_args()
    # The options of `salesmachine serve` (cli.py), but for the log level.
    uvicorn.run(create(), host=args.host, port=args.port, access_log=False, http="auto", log_level="warning",
                timeout_graceful_shutdown=30)


if __name__ == "__main__":
    main()
