"""Connecting to Ray: a local runtime, or a cluster named by address, refused in one line.

``address=None`` starts a local runtime (``num_cpus`` of this machine) for the run and
stops it afterwards; ``"auto"`` joins the cluster this machine belongs to (``ray start``
ran here); ``"host:port"`` names a cluster's head node. A process that already called
``ray.init`` keeps its runtime. Before Ray is asked to connect to ``host:port``, the port
is tried with a 5-second timeout: Ray itself retries an unreachable address for minutes.
"""

from __future__ import annotations

import socket
from contextlib import contextmanager
from typing import Any, Iterator

from ..errors import UserError

RAY_EXTRA = "pip install 'posttrain[ray]'"
_CONNECT_TIMEOUT = 5.0


class RayUnavailableError(UserError, RuntimeError):
    """Ray is not installed, or the cluster named cannot be reached."""


def import_ray() -> Any:
    """The ``ray`` module, or a one-line refusal naming the extra that installs it."""
    try:
        import ray
        import ray.data  # noqa: F401 - Ray Data comes with ray[data], not plain ray
    except ImportError as exc:
        raise RayUnavailableError(
            f"the ray executor needs Ray Data, which is not installed ({exc}): {RAY_EXTRA}"
        ) from None
    return ray


def _check_reachable(address: str) -> None:
    """Refuse at once when nothing listens at ``host:port`` (Ray would retry for minutes)."""
    target = address.removeprefix("ray://")
    host, sep, port = target.rpartition(":")
    if not sep or not port.isdigit():
        raise RayUnavailableError(f"Ray address {address!r} is not host:port, ray://host:port or 'auto'")
    try:
        with socket.create_connection((host.strip("[]"), int(port)), timeout=_CONNECT_TIMEOUT):
            pass
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        raise RayUnavailableError(
            f"cannot reach a Ray cluster at {address} ({reason}): start one there with "
            "`ray start --head`, check the address, or leave out --ray-address to run on a local runtime"
        ) from None


@contextmanager
def ray_runtime(address: str | None = None, num_cpus: int | None = None) -> Iterator[Any]:
    """The ``ray`` module, connected for the duration of the block."""
    ray = import_ray()
    if address not in (None, "auto", "local"):
        _check_reachable(address)
    if ray.is_initialized():
        yield ray
        return
    options: dict[str, Any] = {"include_dashboard": False, "logging_level": "WARNING", "log_to_driver": False}
    if address in (None, "local"):
        options["num_cpus"] = num_cpus
    else:
        options["address"] = address
    try:
        ray.init(**options)
    except (ConnectionError, ValueError) as exc:
        where = "this machine's cluster (auto)" if address == "auto" else address
        raise RayUnavailableError(f"cannot connect to Ray at {where}: {str(exc).splitlines()[0]}") from None
    try:
        yield ray
    finally:
        ray.shutdown()


__all__ = ["RAY_EXTRA", "RayUnavailableError", "import_ray", "ray_runtime"]
