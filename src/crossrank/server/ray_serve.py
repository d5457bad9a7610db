"""The same FastAPI app behind Ray Serve: `replicas` copies, each a Ray actor with its own model and batcher, on
as many nodes as the cluster has; same endpoints, same answers (a pair's score does not depend on its replica).

`crossrank serve --ray-replicas N` runs it; `application(...)` is the deployment for `serve.run` or a Serve config.
"""

from __future__ import annotations

import os
from typing import Any

from crossrank.errors import MissingExtra
from crossrank.models import display_name
from crossrank.server.config import ServerConfig
from crossrank.settings import ModelSettings

# Ray Serve kills an HTTP proxy that is not ready within 5 s and serve.start then fails; on a busy 2-core machine
# a proxy takes longer than that to start. A local cluster started here inherits this process's environment.
PROXY_READY_ENV = "RAY_SERVE_PROXY_READY_CHECK_TIMEOUT_S"
PROXY_READY_SECONDS = "60"


def application(settings: ModelSettings, config: ServerConfig, *, replicas: int, cpus: float) -> Any:
    """A Ray Serve application whose ingress deployment builds crossrank's app on every replica."""
    try:
        from ray import serve
    except ImportError as exc:
        raise MissingExtra("serve --ray-replicas", "ray", exc.name or "ray") from exc

    def build() -> Any:  # evaluated on each replica: the model loads there, not in the driver
        from crossrank.server.app import create_app

        return create_app(settings.load, config=config, model_name=display_name(settings.model))

    class Crossrank:
        """One replica: crossrank's FastAPI app, its model and its batcher."""

    ingress: Any = serve.ingress(build)(Crossrank)
    deployment: Any = serve.deployment(name="crossrank", num_replicas=replicas, ray_actor_options={"num_cpus": cpus})
    return deployment(ingress).bind()


def run(
    settings: ModelSettings,
    config: ServerConfig,
    *,
    replicas: int,
    cpus_per_replica: float,
    host: str,
    port: int,
    address: str | None = None,
    blocking: bool = True,
) -> None:
    """Start (or join, with `address`) a Ray cluster and serve the app on `host:port` until interrupted."""
    try:
        import ray
        from ray import serve
    except ImportError as exc:
        raise MissingExtra("serve --ray-replicas", "ray", exc.name or "ray") from exc
    if not ray.is_initialized():
        if address is None:  # a local cluster: give its HTTP proxy time to start (unless the user set it)
            os.environ.setdefault(PROXY_READY_ENV, PROXY_READY_SECONDS)
        ray.init(address=address, log_to_driver=False)
    serve.start(http_options={"host": host, "port": port})
    app = application(settings, config, replicas=replicas, cpus=cpus_per_replica)
    serve.run(app, name="crossrank", route_prefix="/", blocking=blocking)
