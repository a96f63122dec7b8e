"""The FastAPI app of the adapter tests: every form of the dependencies, in two modes.

In "middleware" mode `JWKSMiddleware` verifies and the dependencies read its claims; in
"standalone" mode a `JWKSAuth` verifies tokens itself. Keys are static: no network.
No `from __future__ import annotations` here: routes are defined inside functions, and FastAPI
reads their annotations at run time, where names local to a function cannot be resolved.
"""

from typing import Annotated, Any, Final

from asgi_helpers import clock
from fastapi import APIRouter, Depends, FastAPI, Request, Security, WebSocket

from jwks_middleware import Claims, Issuer, JWKSMiddleware
from jwks_middleware.fastapi import (
    AuthClaims,
    JWKSAuth,
    OptionalAuthClaims,
    require_any_role,
    require_any_scope,
    require_claim,
    require_roles,
    require_scopes,
)

REALM: Final = "example"
MODES: Final = ("middleware", "standalone")


def add_routes(app: FastAPI, auth: JWKSAuth) -> None:
    """Every form of the dependencies; module-level ones and ones bound to `auth`."""

    @app.get("/me")
    async def me(claims: AuthClaims, request: Request) -> dict[str, Any]:
        return {
            "sub": claims.subject,
            "scopes": sorted(claims.scopes),
            "state_is_claims": request.state.claims is claims,
            "user": request.user.display_name,
        }

    @app.get("/maybe")
    async def maybe(claims: OptionalAuthClaims) -> dict[str, Any]:
        return {"sub": claims.subject if claims is not None else None}

    @app.get("/items", dependencies=[require_scopes("read:items")])
    async def items() -> list[str]:
        return ["a", "b"]

    @app.post("/items")
    async def add_item(claims: Claims = require_scopes("read:items", "write:items")) -> dict[str, Any]:
        return {"by": claims.subject}

    admin = APIRouter(prefix="/admin", dependencies=[require_scopes("admin")])

    @admin.get("/stats")
    async def stats(claims: Claims = require_scopes("read:items")) -> dict[str, Any]:
        return {"sub": claims.subject}

    app.include_router(admin)

    @app.get("/authenticated", dependencies=[require_scopes("authenticated")])
    async def authenticated(request: Request) -> list[str]:
        return list(request.auth.scopes)

    @app.get("/any", dependencies=[require_any_scope("a", "b")])
    async def any_scope() -> str:
        return "ok"

    @app.get("/roles", dependencies=[require_roles("editor", "viewer")])
    async def roles() -> str:
        return "ok"

    @app.get("/any-role", dependencies=[require_any_role("editor", "viewer")])
    async def any_role() -> str:
        return "ok"

    @app.get("/verified", dependencies=[require_claim("email_verified", True)])
    async def verified() -> str:
        return "ok"

    @app.get("/tenant", dependencies=[require_claim(("org", "id"), "acme", "globex")])
    async def tenant() -> str:
        return "ok"

    @app.get("/has-email", dependencies=[require_claim("email")])
    async def has_email() -> str:
        return "ok"

    async def profile(claims: AuthClaims) -> str | None:
        return claims.subject

    @app.get("/profile")
    async def read_profile(sub: Annotated[str | None, Security(profile, scopes=["profile"])]) -> Any:
        return {"sub": sub}

    @app.get("/bound", dependencies=[auth.require_scopes("read:items")])
    async def bound(claims: Annotated[Claims, Depends(auth.claims)]) -> dict[str, Any]:
        return {"sub": claims.subject}

    @app.get("/bound/optional")
    async def bound_optional(claims: Claims | None = Security(auth.optional_claims)) -> dict[str, Any]:
        return {"sub": claims.subject if claims is not None else None}

    @app.get(
        "/bound/guards",
        dependencies=[
            auth.require_any_scope("x", "read:items"),
            auth.require_roles("editor"),
            auth.require_any_role("nobody", "editor"),
            auth.require_claim("email_verified", True),
        ],
    )
    async def bound_guards() -> str:
        return "ok"

    @app.websocket("/ws")
    async def ws(websocket: WebSocket, claims: AuthClaims) -> None:
        await websocket.accept()
        await websocket.send_json({"sub": claims.subject})
        await websocket.close()

    @app.websocket("/ws/items", dependencies=[require_scopes("read:items")])
    async def ws_items(websocket: WebSocket) -> None:
        await websocket.accept()
        await websocket.send_json(["a", "b"])
        await websocket.close()


def make_app(mode: str, issuer: Issuer) -> tuple[FastAPI, JWKSAuth]:
    app = FastAPI()
    if mode == "middleware":
        # optional: anonymous requests reach the routes, whose dependencies decide.
        app.add_middleware(JWKSMiddleware, clock=clock, issuers=[issuer], realm=REALM, optional=True)
        auth = JWKSAuth()  # no verifier: claims come from the middleware
    else:
        auth = JWKSAuth(clock=clock, issuers=[issuer], realm=REALM)
    auth.install(app)
    add_routes(app, auth)
    return app, auth
