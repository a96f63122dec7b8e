"""One API trusting several issuers at once: customers from one, staff from another.

Each `Issuer` has its own audience, algorithms and keys; a token is routed to its issuer by
its `iss` and checked against that issuer's keys only (a `kid` never resolves across
issuers), and a token of any other issuer is refused without a fetch. Routes decide by
`claims.issuer` which issuer they accept, on top of scopes.

    CUSTOMERS_ISSUER=https://customers.eu.auth0.com/ CUSTOMERS_AUDIENCE=https://api.example.com \
    STAFF_ISSUER=https://sso.example.com/realms/staff STAFF_AUDIENCE=orders-api \
        uvicorn examples.multi_issuer:app

Settings (environment), each with a local default:
    CUSTOMERS_ISSUER, CUSTOMERS_AUDIENCE   (http://127.0.0.1:9000, https://api.example.test)
    STAFF_ISSUER, STAFF_AUDIENCE           (http://127.0.0.1:9001, https://api.example.test)

Routes:
    GET /me             a valid token of either issuer
    GET /orders         scope orders:read, either issuer
    GET /admin/orders   a staff token with scope orders:admin
"""

from __future__ import annotations

import os

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from jwks_middleware import Claims, Issuer, JWKSMiddleware, requires_scopes

LOCAL_AUDIENCE = "https://api.example.test"


def customers_issuer() -> Issuer:
    return Issuer(
        os.environ.get("CUSTOMERS_ISSUER", "http://127.0.0.1:9000"),
        audience=os.environ.get("CUSTOMERS_AUDIENCE", LOCAL_AUDIENCE),
    )


def staff_issuer() -> Issuer:
    return Issuer(
        os.environ.get("STAFF_ISSUER", "http://127.0.0.1:9001"),
        audience=os.environ.get("STAFF_AUDIENCE", LOCAL_AUDIENCE),
        leeway=30,  # each issuer has its own policy
    )


def create_app(customers: Issuer | None = None, staff: Issuer | None = None) -> Starlette:
    """The API trusting both issuers; tests pass their own."""
    customers = customers or customers_issuer()
    staff = staff or staff_issuer()

    async def me(request: Request) -> JSONResponse:
        claims: Claims = request.state.claims
        kind = "staff" if claims.issuer == staff.issuer else "customer"
        return JSONResponse({"sub": claims.subject, "iss": claims.issuer, "kind": kind})

    @requires_scopes("orders:read")
    async def orders(request: Request) -> JSONResponse:
        claims: Claims = request.state.claims
        return JSONResponse({"orders": [], "for": claims.subject})

    @requires_scopes("orders:admin")
    async def all_orders(request: Request) -> JSONResponse:
        claims: Claims = request.state.claims
        if claims.issuer != staff.issuer:
            # A customer issuer could grant any scope name: only the staff issuer is trusted for it.
            challenge = 'Bearer error="insufficient_scope", error_description="Staff tokens only"'
            return JSONResponse(
                {"error": "insufficient_scope", "error_description": "Staff tokens only"},
                status_code=403,
                headers={"WWW-Authenticate": challenge},
            )
        return JSONResponse({"orders": [], "admin": claims.subject})

    return Starlette(
        routes=[Route("/me", me), Route("/orders", orders), Route("/admin/orders", all_orders)],
        middleware=[Middleware(JWKSMiddleware, issuers=[customers, staff])],
    )


app = create_app()
