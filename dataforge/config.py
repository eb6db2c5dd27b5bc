"""Typed configs: one pydantic base for everything a user configures, one way to fail.

Ops, metrics, engines, verifiers, trainer stages and recipe sections all describe their
parameters as a :class:`Config` subclass (TRL's habit: the documented config *is* the
interface and the reference docs are generated from it). Unknown keys are errors, so a
typo never passes silently; :func:`validate_config` turns pydantic's report into one
readable line that names what was being configured and suggests the nearest key.
"""

from __future__ import annotations

import dataclasses
import inspect
import typing
import warnings
from typing import Any, Callable, Mapping, TypeVar

from pydantic import BaseModel, ConfigDict, ValidationError, create_model

from .errors import ConfigError, did_you_mean

C = TypeVar("C", bound=BaseModel)


class Config(BaseModel):
    """Base of every user-facing config: unknown keys are errors."""

    model_config = ConfigDict(extra="forbid")


def field_names(model: Any) -> list[str]:
    """The keys a pydantic model or (pydantic-validated) dataclass accepts."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return list(model.model_fields)
    if dataclasses.is_dataclass(model):
        return [f.name for f in dataclasses.fields(model)]
    return []


_UNKNOWN_KEY = ("extra_forbidden", "unexpected_keyword_argument")


def describe_errors(model: Any, exc: ValidationError) -> list[tuple[tuple[Any, ...], str]]:
    """(location, message) per problem, with "did you mean" for a misspelt key.

    Suggestions are drawn from the keys valid at the bad key's level.
    """
    problems = []
    for err in exc.errors():
        loc = tuple(p for p in err["loc"] if not (isinstance(p, str) and p.startswith("function-")))
        if err["type"] in _UNKNOWN_KEY and loc:
            key = str(loc[-1])
            known = field_names(_model_at(model, loc[:-1]))
            hint = did_you_mean(key, known)
            msg = f"unknown parameter {key!r}{hint}"
            if not hint and known:
                msg += f"; parameters: {', '.join(known)}"
            loc = loc[:-1]  # the message names the key
        elif err["type"] == "missing":
            msg = "required parameter missing"
        else:
            msg = err["msg"]
            if "input" in err and err["type"] not in ("missing",):
                shown = repr(err["input"])
                msg += f" (got {shown if len(shown) <= 60 else shown[:57] + '...'})"
        problems.append((loc, msg))
    return problems


def _model_at(model: Any, path: tuple[Any, ...]) -> Any:
    """The nested model (or dataclass) that ``path`` points into, or None."""
    for part in path:
        if isinstance(part, int):
            continue  # list index: same item type
        fields = getattr(model, "model_fields", None)
        if fields is None or part not in fields:
            return None
        model = _unwrap(fields[part].annotation)
    return model


def _unwrap(annotation: Any) -> Any:
    """The first model-like type inside ``X | None``, ``list[X]``, ``dict[str, X]``."""
    if isinstance(annotation, type) and (issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation)):
        return annotation
    for arg in typing.get_args(annotation):
        found = _unwrap(arg)
        if found is not None:
            return found
    return None


def format_problems(what: str, problems: list[tuple[tuple[Any, ...], str]]) -> str:
    return "; ".join(
        f"{what}: {'.'.join(map(str, loc))}: {msg}" if loc else f"{what}: {msg}" for loc, msg in problems
    )


def validate_config(model: type[C], params: Mapping[str, Any] | C | None, what: str) -> C:
    """``model(**params)``, or a :class:`ConfigError` such as
    ``op 'dedup.near': unknown parameter 'treshold' (did you mean 'threshold'?)``."""
    if isinstance(params, model):
        return params
    try:
        return model.model_validate(dict(params or {}))
    except ValidationError as exc:
        raise ConfigError(format_problems(what, describe_errors(model, exc))) from exc


def config_from_signature(fn: Callable[..., Any], name: str, skip: int = 1) -> type[Config]:
    """A :class:`Config` built from a function's keyword parameters (annotation, default).

    Metrics are plain functions ``fn(inputs, *, n=2, lang="auto")``; their config model is
    derived here so ``metric_params`` are checked at load time like an op's parameters.
    The first ``skip`` positional parameters (the inputs) are not configuration.
    """
    fields: dict[str, Any] = {}
    params = list(inspect.signature(fn).parameters.values())[skip:]
    hints = _hints(fn)
    for p in params:
        if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
            continue
        annotation = hints.get(p.name, Any)
        default = ... if p.default is p.empty else p.default
        fields[p.name] = (annotation, default)
    with warnings.catch_warnings():  # a parameter named like a BaseModel attribute ("schema")
        warnings.filterwarnings("ignore", message="Field name .* shadows an attribute")
        return create_model(f"{name.title().replace('_', '').replace('.', '')}Config", __base__=Config, **fields)


def _hints(fn: Callable[..., Any]) -> dict[str, Any]:
    try:
        return typing.get_type_hints(fn)
    except (NameError, TypeError):  # an annotation that cannot be resolved: accept any value
        return {}


__all__ = ["Config", "config_from_signature", "describe_errors", "format_problems", "validate_config"]
