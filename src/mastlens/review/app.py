"""The review web app (Starlette): queue, trace and agreement pages, saving with plain forms.

Store work runs in worker threads, each with its own SQLite connection (WAL: readers never wait for the
writer; a save is one ``BEGIN IMMEDIATE`` transaction, so two reviewers or two processes never mix writes).
"""

from __future__ import annotations

import importlib
import threading
from functools import lru_cache
from importlib import resources
from typing import Any
from urllib.parse import urlencode

from jinja2 import Environment, PackageLoader
from starlette.applications import Starlette
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import HTMLResponse, PlainTextResponse, RedirectResponse, Response
from starlette.routing import Route

from mastlens.report.drilldown import step_text
from mastlens.report.html import ci, num, pct
from mastlens.review.decisions import StaleTrace, save_review
from mastlens.review.pages import (
    BadRequest, QueueFilters, ReviewConfig, item_page, next_todo, parse_choices, queue_groups, queue_page, queue_trace,
)
from mastlens.review.security import MAX_BODY_BYTES, GuardMiddleware, Secret
from mastlens.store import Store
from mastlens.taxonomy import load_taxonomy

STATIC = {"review.js": "text/javascript; charset=utf-8", "review.css": "text/css; charset=utf-8",
          "icon.svg": "image/svg+xml"}
MAX_FIELDS = 200  # a save has three per mode and two more


@lru_cache(maxsize=1)
def environment() -> Environment:
    env = Environment(loader=PackageLoader("mastlens.review", "templates"), autoescape=True,
                      trim_blocks=True, lstrip_blocks=True)
    env.filters.update(num=num, pct=pct, ci=ci)
    return env


@lru_cache(maxsize=None)
def static_file(name: str) -> bytes:
    return resources.files("mastlens.review").joinpath(f"static/{name}").read_bytes()


class Stores:
    """One store connection per worker thread."""

    def __init__(self, path: str):
        self.path = path
        self._local = threading.local()
        self._all: list[Store] = []
        self._lock = threading.Lock()

    def get(self) -> Store:
        store = getattr(self._local, "store", None)
        if store is None:
            store = self._local.store = Store(self.path)
            with self._lock:
                self._all.append(store)
        return store

    def close(self) -> None:
        with self._lock:
            for store in self._all:
                store.close()
            self._all.clear()


def create_app(cfg: ReviewConfig, secret: Secret) -> Starlette:
    """The ASGI app for one review session; every route sits behind the token guard."""
    stores = Stores(cfg.db)
    mode_ids = load_taxonomy().ids
    groups: list[str] = []

    def render(request: Request, template: str, status: int = 200, **context: Any) -> HTMLResponse:
        html = environment().get_template(template).render(
            cfg=cfg, csrf=secret.csrf, path=request.url.path, mode_ids=mode_ids, **context)
        return HTMLResponse(html, status_code=status)

    def error(request: Request, status: int, title: str, message: str, **context: Any) -> HTMLResponse:
        return render(request, "error.html.j2", status=status, title=title, message=message, **context)

    def position_of(request: Request) -> int:
        try:
            return int(request.path_params["position"])
        except ValueError:
            raise HTTPException(404) from None

    async def queue(request: Request) -> Response:
        try:
            filters = QueueFilters.parse(request.query_params, mode_ids)
        except BadRequest as exc:
            return error(request, 400, "Bad request", str(exc))

        def work() -> dict[str, Any]:
            store = stores.get()
            if not groups:
                groups.extend(queue_groups(store, cfg.queue_id))
            return queue_page(store, cfg, filters)

        data = await run_in_threadpool(work)
        base = {k: v for k, v in (("group", filters.group), ("outcome", filters.outcome), ("mode", filters.mode),
                                  ("state", filters.state)) if v}
        return render(request, "queue.html.j2", title="Queue", groups=groups, query=lambda **kw: urlencode(
            {**base, **kw}), **data)

    async def item(request: Request) -> Response:
        position = position_of(request)
        data = await run_in_threadpool(lambda: item_page(stores.get(), cfg, position))
        if data is None:
            return error(request, 404, "Not in the queue", f"The queue has no item {position}.")
        if "missing" in data:
            return error(request, 404, "Trace gone", f"Trace {data['missing']!r} is no longer in the store.")
        return render(request, "item.html.j2", title=data["trace"].id, **data)

    async def save(request: Request) -> Response:
        position = position_of(request)
        form = await request.form(max_files=0, max_fields=MAX_FIELDS)  # beyond either: a 400
        if not secret.check_csrf(form.get("csrf")):
            return error(request, 403, "Forbidden", "The form's CSRF token is missing or wrong; reload the page.")
        loaded_hash = str(form.get("trace_hash") or "")
        if not loaded_hash:
            return error(request, 400, "Bad request", "The form has no trace_hash (the content it was opened on).")

        def work() -> tuple[str, Any]:
            store = stores.get()
            trace_id = queue_trace(store, cfg, position)
            if trace_id is None:
                return "missing", None
            row = store.conn.execute("SELECT n_steps FROM traces WHERE id = ?", (trace_id,)).fetchone()
            try:
                choices = parse_choices(form, mode_ids, row["n_steps"] if row else 0)
                save_review(store, human_set=cfg.human_set, judge_set=cfg.judge_set, trace_id=trace_id,
                            loaded_hash=loaded_hash, choices=choices, reviewer=cfg.reviewer)
            except BadRequest as exc:
                return "bad", str(exc)
            except StaleTrace as exc:
                return "stale", str(exc)
            return "saved", next_todo(store, cfg, position)

        outcome, detail = await run_in_threadpool(work)
        if outcome == "missing":
            return error(request, 404, "Not in the queue", f"The queue has no item {position}.")
        if outcome == "bad":
            return error(request, 400, "Bad request", detail)
        if outcome == "stale":
            return error(request, 409, "Not saved: the trace changed", detail, reload=f"/item/{position}")
        target = "/?done=1" if detail is None else f"/item/{detail}"
        return RedirectResponse(target, status_code=303)

    async def step(request: Request) -> Response:
        position = position_of(request)
        try:
            index = int(request.path_params["index"])
        except ValueError:
            raise HTTPException(404) from None

        def work() -> str | None:
            store = stores.get()
            trace_id = queue_trace(store, cfg, position)
            trace = store.get_trace(trace_id) if trace_id else None
            if trace is None or not 0 <= index < len(trace.steps):
                return None
            return step_text(trace.steps[index])

        text = await run_in_threadpool(work)
        if text is None:
            return error(request, 404, "No such step", f"Item {position} has no step {index}.")
        return PlainTextResponse(text)

    async def agreement(request: Request) -> Response:
        from mastlens.review.agreement import agreement_view

        view = await run_in_threadpool(lambda: agreement_view(stores.get(), cfg.human_set, cfg.judge_set))
        return render(request, "agreement.html.j2", title="Agreement", view=view)

    async def static(request: Request) -> Response:
        name = request.path_params["name"]
        if name not in STATIC:
            raise HTTPException(404)
        return Response(static_file(name), media_type=STATIC[name])

    async def http_error(request: Request, exc: Exception) -> Response:
        status = getattr(exc, "status_code", 500)
        detail = getattr(exc, "detail", "") or "Something went wrong."
        return error(request, status, f"{status}", str(detail))

    routes = [
        Route("/", queue), Route("/agreement", agreement),
        Route("/item/{position}", item), Route("/item/{position}", save, methods=["POST"]),
        Route("/item/{position}/step/{index}", step), Route("/static/{name}", static),
        Route("/favicon.ico", lambda request: Response(static_file("icon.svg"), media_type=STATIC["icon.svg"])),
    ]
    app = Starlette(routes=routes, exception_handlers={HTTPException: http_error}, max_body_size=MAX_BODY_BYTES)
    app.add_middleware(GuardMiddleware, secret=secret)
    app.state.stores = stores
    # The agreement page needs the analysis stack (numpy, pandas, scipy) and the judge's prevalence over its
    # whole set (a while for 100,000 traces): prepare both while the reviewer reads.
    def warm_up() -> None:
        module = importlib.import_module("mastlens.review.agreement")
        with Store(cfg.db) as store:
            module.judge_prevalence(store, cfg.judge_set)

    threading.Thread(target=warm_up, daemon=True).start()
    return app
