"""The prediction service, a face: `fedpm serve` answers machine health over HTTP (FastAPI + uvicorn) from the model
version the chain finalized and the readings the chain anchored. `engine` (the service without HTTP: model follower,
health, alerts), `app` (routes, OpenAPI, errors), `metrics` (its Prometheus metrics), `server` (wiring and uvicorn).
"""
