"""The prediction service's HTTP face (FastAPI): routes, request and response models (the OpenAPI description at
/openapi.json, docs at /docs), and error answers. Every error is JSON `{"error", "hint"}`: 404 for an unknown machine
id, 422 for a malformed request, 503 while no verified model can answer; an unexpected failure is logged and answered
500 without a trace.

    GET  /health                     the service: model version served, stale or not, the local choice
    GET  /machines                   the fleet, most urgent first (stop, plan, lowest RUL; then no prediction)
    GET  /machines/{machine}/health  one machine: predicted RUL, model version, input window, anchored batches, alert
    POST /predict                    ad-hoc windows of raw feature values
    GET  /metrics                    Prometheus exposition
"""

from __future__ import annotations

import logging
import time
from typing import Any

import numpy as np
from fastapi import FastAPI, Path, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from fedpm.prognostics.alerts import severity
from fedpm.sensors.feed import BatchRef
from fedpm.service.engine import BadInput, HealthService, NoModel
from ground.errors import FedpmError

log = logging.getLogger("fedpm.service")

MACHINE_ID = r"^[A-Za-z0-9][A-Za-z0-9._:-]{0,31}$"  # a readable bytes32 id (ground.ids): at most 32 bytes
MAX_WINDOWS = 4096


class ModelInfo(BaseModel):
    task: int
    round: int
    model_hash: str
    cid: str
    finalized_at: int
    trainers: list[str]
    training_loss: float | None


class ServiceHealth(BaseModel):
    status: str = Field(description="ok | stale (serving the last verified version) | no-model")
    task: int
    model: ModelInfo | None
    stale_reason: str | None
    since: float
    choice: dict[str, Any]


class Window(BaseModel):
    from_ms: int
    to_ms: int
    cycles: int
    verified_cycles: int


class MachineHealth(BaseModel):
    machine: str
    machine_class: str
    prediction: bool
    rul: float | None = Field(description="predicted remaining useful life, cycles")
    reason: str | None = Field(description="why there is no prediction: no-data, too-few, unverified, gap, wrong-class, unknown-class, no-model")
    detail: str | None
    model: ModelInfo | None
    stale: str | None
    window: Window | None
    batches: list[BatchRef]  # the anchored batches the window came from
    alert: dict[str, Any] | None
    advice: dict[str, Any] | None = None
    at: float


class Fleet(BaseModel):
    model: ModelInfo | None
    machines: list[MachineHealth]


class PredictRequest(BaseModel):
    features: list[str] = Field(min_length=1, max_length=64, description="column names of the values in each cycle, e.g. s2, s3, …")
    windows: list[list[list[float]]] = Field(min_length=1, max_length=MAX_WINDOWS, description="windows x cycles x features, raw values")


class PredictResponse(BaseModel):
    model: ModelInfo
    rul: list[float]


class ErrorBody(BaseModel):
    error: str
    hint: str | None = None


ERRORS = {404: {"model": ErrorBody}, 422: {"model": ErrorBody}, 503: {"model": ErrorBody}}


def urgency(h: dict[str, Any]) -> tuple:
    """Sort key of the fleet overview: open alert level (stop first), then predicted RUL, then no prediction."""
    level = (h.get("alert") or {}).get("level")
    return (-severity(level), 0 if h["prediction"] else 1, h["rul"] if h["rul"] is not None else float("inf"), h["machine"])


def create_app(service: HealthService) -> FastAPI:
    app = FastAPI(title="fedpm prediction service", version="1",
                  description="Remaining useful life per machine from verified sensor data, predicted by the federated model version the "
                              "consortium finalized on chain, with alerts and their provenance.")
    metrics = service.metrics

    @app.middleware("http")
    async def count(request: Request, call_next: Any) -> Any:
        started = time.perf_counter()
        response = await call_next(request)
        route = request.scope.get("route")
        name = getattr(route, "path", "unmatched")
        metrics.requests.labels(name, str(response.status_code)).inc()
        if name in ("/machines/{machine}/health", "/predict"):
            metrics.prediction_seconds.labels(name).observe(time.perf_counter() - started)
        return response

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        first = exc.errors()[0] if exc.errors() else {}
        where = ".".join(str(p) for p in first.get("loc", ()) if p != "body")
        return JSONResponse({"error": f"malformed request: {where or 'body'}: {first.get('msg', 'invalid')}", "hint": "see /openapi.json"}, status_code=422)

    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse({"error": str(exc.detail), "hint": "see /openapi.json for the routes"}, status_code=exc.status_code)

    @app.exception_handler(FedpmError)
    async def fedpm_error(request: Request, exc: FedpmError) -> JSONResponse:
        status = 422 if isinstance(exc, BadInput) else 404 if isinstance(exc, UnknownMachine) else 503
        return JSONResponse({"error": exc.message, "hint": exc.hint}, status_code=status)

    @app.exception_handler(Exception)
    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("request %s failed", request.url.path)
        return JSONResponse({"error": "the service hit an unexpected error", "hint": "see the service's log"}, status_code=500)

    @app.get("/health", response_model=ServiceHealth, summary="The service and the model version it serves")
    def health() -> dict[str, Any]:
        return service.status()

    @app.get("/machines", response_model=Fleet, summary="Every machine's health, most urgent first")
    def machines() -> dict[str, Any]:
        rows = service.fleet_health()
        return {"model": service.served.model_json(), "machines": sorted(rows, key=urgency)}

    @app.get("/machines/{machine}/health", response_model=MachineHealth, responses=ERRORS, summary="One machine's predicted remaining useful life")
    def machine_health(machine: str = Path(pattern=MACHINE_ID, description="machine id, e.g. factory-1-m1")) -> dict[str, Any]:
        if machine not in service.machines():
            raise UnknownMachine(f"no machine {machine!r} in the gateway store or the fleet file", hint="GET /machines lists them")
        return service.health(machine)

    @app.post("/predict", response_model=PredictResponse, responses=ERRORS, summary="Predict the RUL of ad-hoc windows of raw values")
    def predict(body: PredictRequest) -> dict[str, Any]:
        lengths = {len(c) for w in body.windows for c in w}
        cycles = {len(w) for w in body.windows}
        if len(lengths) > 1 or len(cycles) > 1 or lengths != {len(body.features)}:
            raise BadInput(f"every cycle must hold {len(body.features)} value(s), one per named feature, and every window as many cycles",
                           hint="send windows x cycles x features")
        served, ruls = service.predict(body.features, np.asarray(body.windows, np.float64))
        return {"model": served.model_json(), "rul": [round(float(r), 2) for r in ruls]}

    @app.get("/metrics", summary="Prometheus metrics", response_class=Response)
    def prometheus() -> Response:
        body, ctype = metrics.metrics.exposition()
        return Response(body, media_type=ctype)

    return app


class UnknownMachine(FedpmError):
    """No such machine (HTTP 404)."""


__all__ = ["create_app", "urgency", "NoModel", "UnknownMachine"]
