"""``enteronce serve``: a read-only HTTP API over the curated (gold) tables.

Every route but ``/health`` needs a bearer token (:mod:`api.tokens`); its division bounds every
row any route returns, its level and role choose the masking (:mod:`warehouse.masking`), and
every request lands in the access log (:mod:`api.access_log`). Routes are generated from the
tables present at start-up: their columns become typed filter parameters with the catalogue's
Chinese labels in the OpenAPI schema (``/docs``).
"""

from __future__ import annotations

import datetime as dt
import inspect
import json
import time
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, Literal, Optional
from urllib.parse import parse_qsl

import polars as pl
from fastapi import Depends, FastAPI, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from fastapi_offline import FastAPIOffline
from pydantic import BaseModel, Field, TypeAdapter, create_model

from api.access_log import AccessLog
from api.store import LOOKUPS, ChangesGone, Forbidden, NotVisible, QueryError, Store, aggregate, change_page, list_page, lookup, masked_columns, public
from api.tokens import PREFIX, Grant, TokenStore
from api.workbench import mount_workbench
from warehouse.masking import ROLES
from warehouse.registry import GOLD_BY_NAME, TableSpec
from warehouse.storage import Warehouse

CONTROL = {"sort", "order", "limit", "cursor", "format", "header", "grant", "request"}
MAX_LIMIT = 1000
LOGGED = ("/v1/", "/wb/")  # the API and the workbench's pages: both show rows
bearer = HTTPBearer(auto_error=False, description="enteronce tokens issue … 签发的令牌 (eo_<id>_<secret>)")


@dataclass(frozen=True)
class Settings:
    refresh_seconds: float = 5.0  # how often a table's version is checked
    auth_refresh_seconds: float = 1.0  # how soon a revocation takes effect
    flush_seconds: float = 2.0  # how often the access log is committed (one Delta commit each)


class Problem(BaseModel):
    detail: str = Field(description="原因")


class Me(BaseModel):
    token_id: str
    level: str
    code: str
    name: str
    role: str
    role_label: str
    masking: dict[str, str] = Field(description="字段或字段类型 → 脱敏规则")


class Aggregate(BaseModel):
    table: str
    version: int
    code: str
    name: str
    level: int
    labels: dict[str, str]
    total: dict[str, int]
    children: list[dict[str, Any]]


ERRORS = {400: {"model": Problem, "description": "参数错误"}, 401: {"model": Problem, "description": "令牌缺失、无效、过期或已吊销"},
          403: {"model": Problem, "description": "该字段对当前令牌脱敏，不能用于筛选或排序"},
          404: {"model": Problem, "description": "不存在或不在令牌辖区内"}}

_TYPES = {pl.String: str, pl.Boolean: bool, pl.Date: dt.date, pl.Float64: float, pl.Float32: float}


def _python_type(dtype: pl.DataType) -> Any:
    if dtype.is_integer():
        return int
    if isinstance(dtype, pl.Datetime):
        return str  # ISO 8601 text
    if isinstance(dtype, pl.List):
        return list[Optional[_python_type(dtype.inner)]]
    return _TYPES.get(dtype.base_type(), str)


def _filterable(schema: pl.Schema) -> dict[str, pl.DataType]:
    return {c: t for c, t in schema.items()
            if c not in CONTROL and not c.startswith("_") and (t in (pl.String, pl.Boolean, pl.Date) or t.is_integer())}


def _json_schema(dtype: pl.DataType) -> dict:
    """The JSON schema of a filterable column's values (pydantic's, for the Python type the rows use)."""
    return TypeAdapter(_python_type(dtype)).json_schema()


def filter_parameters(filters: dict[str, pl.DataType], spec: TableSpec) -> list[dict]:
    """The filters in the OpenAPI schema. They are read from the query string by :func:`read_filters`
    rather than declared one by one: 40 optional parameters validated by FastAPI on every request
    cost more than the read itself."""
    return [{"name": c, "in": "query", "required": False, "description": f"{spec.label_of(c) or c}（等于）", "schema": _json_schema(t)}
            for c, t in filters.items()]


def read_filters(request: Request, filters: dict[str, pl.DataType]) -> dict[str, object]:
    """Typed filter values from the query string (422 naming the parameter when one is not of its type)."""
    chosen: dict[str, object] = {}
    for name, raw in request.query_params.items():
        dtype = filters.get(name)
        if dtype is None:
            continue
        try:
            if dtype == pl.Boolean:
                if raw not in ("true", "false"):
                    raise ValueError("true or false")
                chosen[name] = raw == "true"
            elif dtype == pl.Date:
                chosen[name] = dt.date.fromisoformat(raw)
            elif dtype.is_integer():
                chosen[name] = int(raw)
            else:
                chosen[name] = raw
        except ValueError as err:
            raise HTTPException(422, f"{name}: '{raw}' is not a {_json_schema(dtype).get('format', _json_schema(dtype)['type'])} ({err})") from None
    return chosen


def row_model(spec: TableSpec, schema: pl.Schema) -> type[BaseModel]:
    fields = {c: (Optional[_python_type(t)], Field(None, title=spec.label_of(c) or c, description=spec.label_of(c) or c))
              for c, t in schema.items() if not c.startswith("_")}
    return create_model(f"{spec.name}_row", __doc__=f"{spec.label}：{spec.description}", **fields)


def _json(payload: dict, frames: dict[str, pl.DataFrame]) -> Response:
    """A JSON answer; row lists are written by polars (fast) and spliced in."""
    body = json.dumps(payload, ensure_ascii=False, default=str)
    parts = [f'"{name}":{frame.write_json() if frame.width else "[]"}' for name, frame in frames.items()]
    if parts:
        body = body[:-1] + ("," if payload else "") + ",".join(parts) + "}"
    return Response(content=body, media_type="application/json")


def _note(request: Request, frame: pl.DataFrame, keys: tuple[str, ...], rows: int | None = None) -> None:
    request.state.rows = frame.height if rows is None else rows
    if frame.height and all(k in frame.columns for k in keys):
        key = pl.concat_str([pl.col(k).cast(pl.String).fill_null("") for k in keys], separator="|") if len(keys) > 1 else pl.col(keys[0]).cast(pl.String)
        request.state.keys = frame.head(1000).select(key).to_series().to_list()


class AccessLogMiddleware:
    """Writes every /v1/ and workbench request to the access log: token, route, parameters, status, rows and
    their keys (a plain ASGI middleware: Starlette's BaseHTTPMiddleware costs more than our reads)."""

    def __init__(self, app, log: AccessLog):
        self.app, self.log = app, log

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not scope["path"].startswith(LOGGED) or scope["path"].startswith("/wb/static/"):
            await self.app(scope, receive, send)
            return
        started, status = time.perf_counter(), [500]

        async def sending(message):
            if message["type"] == "http.response.start":
                status[0] = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            state = scope.get("state") or {}
            grant: Grant | None = state.get("grant")
            client = scope.get("client")
            self.log.record({
                "token_id": grant.token_id if grant else state.get("token_id"),
                "level": grant.level if grant else None, "code": grant.code if grant else None, "role": grant.role if grant else None,
                "method": scope["method"], "route": getattr(scope.get("route"), "path", None), "path": scope["path"],
                "query": json.dumps(parse_qsl(scope.get("query_string", b"").decode("latin-1"), keep_blank_values=True), ensure_ascii=False),
                "status": status[0], "rows": state.get("rows", 0), "row_keys": state.get("keys", []),
                "ms": (time.perf_counter() - started) * 1000, "client": client[0] if client else None,
            })


def create_app(wh: Warehouse, settings: Settings | None = None) -> FastAPI:
    settings = settings or Settings()
    store = Store(wh, refresh_seconds=settings.refresh_seconds)
    tokens = TokenStore(wh, refresh_seconds=settings.auth_refresh_seconds)
    log = AccessLog(wh, flush_seconds=settings.flush_seconds)

    @asynccontextmanager
    async def lifespan(_: FastAPI):
        log.start()
        yield
        log.close()

    # FastAPIOffline: /docs and /redoc with Swagger UI and ReDoc served from the package, not a CDN
    # (government networks are often offline; FastAPI's own pages would load blank there)
    app = FastAPIOffline(title="EnterOnce 数据查询接口", version="1", lifespan=lifespan,
                  description="只读接口：按令牌的辖区（省/市/区县/街道/社区）限定行，按层级与角色脱敏，每次请求记入访问日志。")
    app.state.store, app.state.tokens, app.state.access_log = store, tokens, log

    app.add_middleware(AccessLogMiddleware, log=log)

    for error, status in ((Forbidden, 403), (QueryError, 400), (NotVisible, 404), (ChangesGone, 410)):
        app.add_exception_handler(error, lambda _r, exc, status=status: JSONResponse({"detail": str(exc) if status != 404 else "不存在或不在辖区内 (not found)"}, status_code=status))

    async def authenticate(request: Request, credentials: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Grant:
        raw = credentials.credentials if credentials else None
        if raw and raw.startswith(PREFIX + "_"):
            request.state.token_id = raw.split("_", 2)[1][:32]
        grant, why = tokens.check(raw)
        if grant is None:
            raise HTTPException(401, why, headers={"WWW-Authenticate": "Bearer"})
        request.state.grant = grant
        return grant

    @app.get("/health", include_in_schema=False)
    def health() -> dict:
        return {"status": "ok"}

    @app.get("/v1/me", response_model=Me, responses=ERRORS, summary="当前令牌：辖区、角色、脱敏规则")
    def me(grant: Grant = Depends(authenticate)) -> Me:
        return Me(token_id=grant.token_id, level=grant.level, code=grant.code, name=store.name_of(grant.code), role=grant.role,
                  role_label=ROLES[grant.role], masking=grant.policy)

    @app.get("/v1/tables", responses=ERRORS, summary="可查询的表及字段（中文名、是否对你脱敏）")
    def tables(grant: Grant = Depends(authenticate)) -> list[dict]:
        out = []
        for name in store.tables():
            snap = store.snapshot(name)
            masked = masked_columns(snap.columns, grant.policy)
            out.append({"table": name, "label": snap.spec.label, "description": snap.spec.description, "version": snap.version,
                        "keys": list(snap.spec.keys),
                        "columns": [{"name": c, "label": snap.spec.label_of(c), "masked": c in masked} for c in snap.columns]})
        return out

    for name in store.tables():
        schema = pl.scan_delta(wh.uri("gold", "curated", name), storage_options=dict(wh.storage_options) or None).collect_schema()
        _table_routes(app, store, authenticate, GOLD_BY_NAME[name], schema)
    for entity, spec in LOOKUPS.items():
        if spec.table in GOLD_BY_NAME:
            _lookup_route(app, store, authenticate, entity)
    mount_workbench(app, wh, store, tokens)  # the data officers' pages under /wb/, same tokens and scopes
    return app


async def _answer(store: Store, tables: tuple[str, ...], policy: dict[str, str], fn, *args):
    """``fn(*args)`` on the event loop when the snapshots it reads are warm (sub-millisecond work:
    a thread hop would cost more), in the thread pool when it may have to load a table."""
    if store.warm(tables, policy):
        return fn(*args)
    return await run_in_threadpool(fn, *args)


def _signature(extra: list[inspect.Parameter], authenticate) -> inspect.Signature:
    params = [inspect.Parameter("request", inspect.Parameter.KEYWORD_ONLY, annotation=Request),
              inspect.Parameter("grant", inspect.Parameter.KEYWORD_ONLY, annotation=Grant, default=Depends(authenticate))]
    return inspect.Signature(params + extra)


def _table_routes(app: FastAPI, store: Store, authenticate, spec: TableSpec, schema: pl.Schema) -> None:
    filters = _filterable(schema)
    model = row_model(spec, schema)
    sortable = tuple(filters)
    page_model = create_model(f"{spec.name}_page", rows=(list[model], ...), next_cursor=(Optional[str], None), version=(int, ...))

    documented = {"parameters": filter_parameters(filters, spec)}

    def page_of(request: Request, grant: Grant, sort: str | None, order: str, limit: int, cursor: str | None) -> Response:
        snap = store.snapshot(spec.name)
        page, cursor = list_page(snap, grant.code, grant.policy, read_filters(request, filters), sort, order == "desc", limit, cursor)
        _note(request, page, spec.keys)
        return _json({"version": snap.version, "next_cursor": cursor}, {"rows": page})

    async def rows(**kwargs):
        return await _answer(store, (spec.name,), kwargs["grant"].policy, page_of, kwargs["request"], kwargs["grant"], kwargs["sort"],
                             kwargs["order"], kwargs["limit"], kwargs["cursor"])

    rows.__signature__ = _signature([
        inspect.Parameter("sort", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[Literal[sortable]] if sortable else Optional[str],
                          default=Query(None, description="排序字段（默认：按区划与主键）")),
        inspect.Parameter("order", inspect.Parameter.KEYWORD_ONLY, annotation=Literal["asc", "desc"], default=Query("asc")),
        inspect.Parameter("limit", inspect.Parameter.KEYWORD_ONLY, annotation=int, default=Query(100, ge=1, le=MAX_LIMIT, description="每页行数")),
        inspect.Parameter("cursor", inspect.Parameter.KEYWORD_ONLY, annotation=Optional[str], default=Query(None, max_length=4096, description="上一页返回的 next_cursor")),
    ], authenticate)
    app.add_api_route(f"/v1/tables/{spec.name}", rows, methods=["GET"], openapi_extra=documented, summary=f"{spec.label}：列表（筛选、排序、游标分页）",
                      responses={200: {"model": page_model}, **ERRORS}, response_class=Response, tags=[spec.label])

    def export(**kwargs):
        request, grant = kwargs["request"], kwargs["grant"]
        snap = store.snapshot(spec.name)
        everything = max(snap.scope(grant.code, grant.policy).height, 1)
        page, _ = list_page(snap, grant.code, grant.policy, read_filters(request, filters), None, False, everything, None)
        _note(request, page, spec.keys)
        out = page
        if kwargs["header"] == "zh":
            out = out.rename({c: spec.label_of(c) or c for c in out.columns if spec.label_of(c) and spec.label_of(c) not in out.columns})
        if kwargs["format"] == "csv":
            out = out.with_columns(pl.col(c).list.join(";") for c, t in out.schema.items() if isinstance(t, pl.List))
            body, media, ext = "\ufeff" + out.write_csv(), "text/csv; charset=utf-8", "csv"  # BOM: Excel opens it as UTF-8
        else:
            body, media, ext = out.write_ndjson(), "application/x-ndjson", "jsonl"
        return Response(body, media_type=media, headers={"Content-Disposition": f'attachment; filename="{spec.name}_{grant.code}.{ext}"'})

    export.__signature__ = _signature([
        inspect.Parameter("format", inspect.Parameter.KEYWORD_ONLY, annotation=Literal["csv", "jsonl"], default=Query("csv")),
        inspect.Parameter("header", inspect.Parameter.KEYWORD_ONLY, annotation=Literal["en", "zh"], default=Query("zh", description="列名：中文或英文")),
    ], authenticate)
    app.add_api_route(f"/v1/tables/{spec.name}/export", export, methods=["GET"], openapi_extra=documented, summary=f"{spec.label}：导出（辖区内、已脱敏）",
                      responses={200: {"content": {"text/csv": {}, "application/x-ndjson": {}}}, **ERRORS}, response_class=Response, tags=[spec.label])

    change_model = create_model(f"{spec.name}_changes", since=(int, ...), until=(int, ...), next_cursor=(Optional[str], None), rows=(list[dict[str, Any]], ...))

    def changes(request: Request, since: int = Query(..., ge=-1, description="上次读到的版本（-1：从头）"),
                limit: int = Query(1000, ge=1, le=10000), cursor: Optional[str] = Query(None, max_length=4096),
                grant: Grant = Depends(authenticate)):
        page, until, cursor_next = change_page(store, spec.name, since, grant.code, grant.policy, limit, cursor)
        _note(request, page, spec.keys)
        return _json({"since": since, "until": until, "next_cursor": cursor_next}, {"rows": public(page, grant.policy) if page.height else pl.DataFrame()})

    app.add_api_route(f"/v1/tables/{spec.name}/changes", changes, methods=["GET"], summary=f"{spec.label}：变更（自某版本起，辖区内、已脱敏）",
                      responses={200: {"model": change_model}, 410: {"model": Problem, "description": "该版本之后的变更已按保留期清理"}, **ERRORS},
                      response_class=Response, tags=[spec.label])

    def aggregates(request: Request, code: Optional[str] = Query(None, max_length=12, description="区划代码（默认：令牌辖区）"),
                   grant: Grant = Depends(authenticate)) -> Aggregate:
        code = code or grant.code
        if not code.startswith(grant.code):
            raise NotVisible(code)
        answer = aggregate(store, store.snapshot(spec.name), code)
        request.state.rows = len(answer["children"])
        return Aggregate(**answer)

    app.add_api_route(f"/v1/aggregates/{spec.name}", aggregates, methods=["GET"], response_model=Aggregate,
                      summary=f"{spec.label}：下级区划的计数（层层下钻）", responses=ERRORS, tags=[spec.label])


def _lookup_route(app: FastAPI, store: Store, authenticate, entity: str) -> None:
    spec = LOOKUPS[entity]

    tables = (spec.table, *(r.table for r in spec.related))

    def answer(request: Request, value: str, grant: Grant) -> Response:
        row, related = lookup(store, entity, value, grant.code, grant.policy)
        _note(request, row, GOLD_BY_NAME[spec.table].keys, rows=row.height + sum(f.height for f in related.values()))
        one_row = json.loads(row.write_json())[0]  # one row: an object
        return _json({"entity": entity, "version": store.snapshot(spec.table).version, "row": one_row}, related)

    async def one(request: Request, value: str = Path(..., alias=spec.key, max_length=200, description=GOLD_BY_NAME[spec.table].label_of(spec.key)),
                  grant: Grant = Depends(authenticate)):
        return await _answer(store, tables, grant.policy, answer, request, value, grant)

    app.add_api_route(f"/v1/lookup/{entity}/{{{spec.key}}}", one, methods=["GET"], response_class=Response,
                      summary=f"{spec.label}：按编号查询（含关联：{'、'.join(r.name for r in spec.related)}）",
                      responses={200: {"content": {"application/json": {}}}, **ERRORS}, tags=["查询"])


__all__ = ["Settings", "create_app"]
