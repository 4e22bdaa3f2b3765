"""No ignored input: a query parameter a route does not read, or a GET body, is a 422.

Starlette hands every route the whole query string, and FastAPI reads only the parameters a
route declares, so ``POST /generate/person?count=3`` used to answer 5 records as if ``count``
had never been sent. This dependency runs before every route (``create_app`` installs it) and
refuses, naming what the route does read: a query parameter the route does not declare, one
sent twice (only one of the values could be used), and a body sent with GET.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from fastapi import Request
from fastapi.routing import APIRoute
from pydantic import BaseModel

from esdh_agent.api.errors import ApiError

__all__ = ["declared_query", "reject_unread_input"]


def declared_query(route: APIRoute) -> frozenset[str]:
    """The query parameter names ``route`` reads (its dependencies' included).

    Computed per request (a handful of fields): routes are not hashable, so not cached."""
    names: set[str] = set()
    pending: list[Any] = [route.dependant]
    while pending:
        dependant = pending.pop()
        pending.extend(dependant.dependencies)
        for field in dependant.query_params:
            model = field.field_info.annotation
            if isinstance(model, type) and issubclass(model, BaseModel):
                names.update(f.alias or n for n, f in model.model_fields.items())
            else:
                names.add(field.alias)
    return frozenset(names)


async def reject_unread_input(request: Request) -> None:
    """Refuse query parameters the route does not read, repeated ones, and GET bodies."""
    route = request.scope.get("route")
    if not isinstance(route, APIRoute):
        return
    where = f"{request.method} {route.path}"
    sent = Counter(name for name, _ in request.query_params.multi_items())
    allowed = declared_query(route)
    unknown = sorted(name for name in sent if name not in allowed)
    if unknown:
        shown = ", ".join(repr(name[:40]) for name in unknown[:5])
        if allowed:
            reads = f"it reads {', '.join(sorted(allowed))}"
        elif request.method == "POST":
            reads = "a POST reads its parameters from the JSON body"
            if _has_get_twin(request, route):
                reads += f", or use GET {route.path}?..."
        else:
            reads = "it takes no query parameters"
        raise ApiError(422, "invalid_request", f"{where}: unknown query parameter {shown}; {reads}")
    repeated = sorted(name for name, n in sent.items() if n > 1)
    if repeated:
        raise ApiError(
            422,
            "invalid_request",
            f"{where}: query parameter {repeated[0][:40]!r} is given more than once; send it once",
        )
    if request.method in ("GET", "HEAD") and await request.body():
        raise ApiError(
            422,
            "invalid_request",
            f"{where} reads no request body: send its parameters in the query string",
        )


def _has_get_twin(request: Request, route: APIRoute) -> bool:
    """Does a GET operation share this POST route's path (as /generate/* do)?"""
    return "get" in request.app.openapi().get("paths", {}).get(route.path, {})
