"""A `LocalIssuer`'s endpoints in memory: a Starlette app for ``httpx.ASGITransport``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anyio
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from ._endpoints import IssuerEndpoints, with_length

__all__ = ["starlette_app"]


def starlette_app(endpoints: IssuerEndpoints) -> Starlette:
    """The endpoints as a Starlette app; faults and counters apply (a delay is an ``anyio.sleep``)."""

    async def endpoint(request: Request) -> Response:
        method, path = request.method, request.url.path
        headers = {name.lower(): value for name, value in request.headers.items()}
        rule = endpoints.receive(method, path, request.url.query, headers)
        if rule is not None and rule.delay:
            await anyio.sleep(rule.delay)
        answer = rule.answer if rule is not None and rule.answer is not None else None
        if answer is None:
            answer = endpoints.answer(method, path, headers, await request.body())
        body = b"" if method == "HEAD" else answer.body
        interval = rule.trickle if rule is not None else 0.0
        response: Response
        if interval and body:

            async def trickled() -> AsyncIterator[bytes]:
                for index in range(len(body)):
                    if index:
                        await anyio.sleep(interval)
                    yield body[index : index + 1]

            response = StreamingResponse(trickled(), status_code=answer.status)
        else:
            response = Response(status_code=answer.status)
            response.body = body
        response.raw_headers = [
            (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in with_length(answer)
        ]
        return response

    methods = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
    return Starlette(routes=[Route("/{path:path}", endpoint, methods=methods)])
