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
    """The keys a pydantic model or (pydantic-validated) dataclass accepts (a field's
    alias when it has one: ``from`` rather than ``from_``)."""
    if isinstance(model, type) and issubclass(model, BaseModel):
        return [info.alias or name for name, info in model.model_fields.items()]
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
            known = field_names(model_at(model, loc[:-1]))
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


def model_at(model: Any, path: tuple[Any, ...]) -> Any:
    """The nested model (or dataclass) that ``path`` points into, or None.

    Follows list indices, aliases, and the members of a union told apart by a tag (pydantic
    puts the tag in the location: ``steps.0.distill.template``)."""
    candidates = [model]
    for part in path:
        if isinstance(part, int):
            continue  # list index: same item type
        tagged = [c for c in candidates if _tag(c) == part]
        if tagged:
            candidates = tagged
            continue
        found = []
        for candidate in candidates:
            info = _field(candidate, str(part))
            if info is not None:
                found += _models_in(info.annotation)
        if not found:
            return None
        candidates = found
    return candidates[0]


def _field(model: Any, key: str) -> Any:
    fields = getattr(model, "model_fields", None) or {}
    return next((info for name, info in fields.items() if key in (name, info.alias)), None)


def _tag(model: Any) -> Any:
    """The default of a model's discriminator-like field (``step: Literal["distill"]``)."""
    fields = getattr(model, "model_fields", None) or {}
    for info in fields.values():
        if typing.get_origin(info.annotation) is typing.Literal and len(typing.get_args(info.annotation)) == 1:
            return typing.get_args(info.annotation)[0]
    return None


def _models_in(annotation: Any) -> list[Any]:
    """Every model-like type inside ``X | Y | None``, ``list[X]``, ``dict[str, X]``, ``Annotated``."""
    if isinstance(annotation, type) and (issubclass(annotation, BaseModel) or dataclasses.is_dataclass(annotation)):
        return [annotation]
    return [m for arg in typing.get_args(annotation) for m in _models_in(arg)]


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


__all__ = ["Config", "config_from_signature", "describe_errors", "field_names", "format_problems", "model_at",
           "validate_config"]
