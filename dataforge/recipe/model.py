"""The recipe file: a pydantic model, and YAML loading whose errors name the file line.

A recipe is the whole loop in one YAML file. Stages present today: ``data`` (read any
supported format, run an op chain locally or on Ray, split train/test), ``synth``
(synthesis steps in order: augment, distill, best-of-K, judge filter; see
docs/synthesis.md) and ``eval`` (generate with a model and score with evalkit metrics).
Training stages join when the back-end issue lands; an
unknown top-level key is an error, never silently ignored.

.. code-block:: yaml

    name: medical_qa
    model: smollm2-135m-instruct
    data:
      inputs:
        - path: data/medical_sharegpt.jsonl
      ops:
        - normalize
        - {op: dedup.near, threshold: 0.7}
      split: {test_ratio: 0.2, seed: 0}
      executor: {kind: ray}      # optional; default local
    eval:
      data: test
      metrics: [bleu, distinct]
      generation: {max_new_tokens: 64}
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..errors import UnknownNameError, UserError
from ..synth.engines.base import GenerationParams
from ..synth.pipeline import SynthSection


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class InputSpec(_Strict):
    path: str = Field(description="input file (JSON, JSONL, Parquet, CSV, .gz), relative to the recipe")
    format: str | None = Field(None, description="input format; auto-detected when omitted")
    source: str | None = Field(None, description="value for the records' `source` column")


class SplitSpec(_Strict):
    test_ratio: float = Field(0.1, gt=0.0, lt=1.0, description="share of records held out for eval")
    seed: int = Field(0, description="seed of the split")
    stratify: str | None = Field("source", description="column to stratify by, or null")


class ExecutorSpec(_Strict):
    """Where the data stage's op chain runs; the output is the same either way."""

    kind: Literal["local", "ray"] = Field("local", description="local: one process; ray: Ray Data (the `ray` extra)")
    address: str | None = Field(
        None, description="ray: the cluster, `auto` (the one this machine joined) or host:port; default a local runtime"
    )
    num_cpus: int | None = Field(None, gt=0, description="ray: CPUs of the local runtime (default: all)")

    @model_validator(mode="after")
    def _ray_options_need_ray(self) -> "ExecutorSpec":
        if self.kind == "local" and (self.address is not None or self.num_cpus is not None):
            raise ValueError("address and num_cpus are options of kind: ray")
        return self


class DataStage(_Strict):
    inputs: list[InputSpec] = Field(min_length=1, description="files to read and concatenate")
    ops: list[str | dict[str, Any]] = Field(
        default_factory=list,
        description='op chain: "name", "name:k=v,...", or {op: name, param: value}',
    )
    split: SplitSpec | None = Field(None, description="hold out a test split for the eval stage")
    strict: bool = Field(False, description="fail on the first malformed input row")
    executor: ExecutorSpec = Field(
        default_factory=ExecutorSpec, description="where the op chain runs: {kind: local} or {kind: ray, address: ...}"
    )

    @field_validator("ops")
    @classmethod
    def _ops_have_names(cls, ops: list[str | dict[str, Any]]) -> list[str | dict[str, Any]]:
        for i, spec in enumerate(ops):
            if isinstance(spec, dict) and "op" not in spec:
                raise ValueError(f"ops[{i}] needs an `op:` key naming the operator")
        return ops


class EvalStage(_Strict):
    data: str = Field("test", description='"test" (the data stage\'s held-out split), "train", or a file path')
    model: str | None = Field(None, description="model to evaluate; defaults to the recipe's model")
    engine: str = Field("transformers", description="generation engine (`dataforge engines` lists them)")
    engine_options: dict[str, Any] = Field(
        default_factory=dict, description="options of the engine, e.g. {batch_size: 8} (checked at load)"
    )
    metrics: list[str] = Field(min_length=1, description="evalkit metric names")
    metric_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per metric, its parameters (docs/reference/metrics.md; checked at load)"
    )
    generation: GenerationParams = Field(
        default_factory=lambda: GenerationParams(max_new_tokens=128),
        description="sampling parameters, the same for every engine",
    )
    limit: int | None = Field(None, gt=0, description="evaluate only the first N records")
    cache: bool = Field(True, description="reuse cached generations (content-addressed)")
    cache_path: str | None = Field(
        None, description="generation cache file; default ~/.cache/posttrain/generations.sqlite"
    )


class Recipe(_Strict):
    name: str = Field(
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        description="run name: the folder under runs/ (letters, digits, _ . -; not starting with a dot)",
    )
    model: str = Field("smollm2-135m-instruct", description="alias, local path or hub id")
    description: str = Field("", description="free text, kept in the manifest")
    data: DataStage = Field(description="read, clean and split the data")
    synth: SynthSection | None = Field(
        None, description="grow the data with a model: augment, distill, best-of-K, judge filter (docs/synthesis.md)"
    )
    eval: EvalStage | None = Field(None, description="generate with a model and score it")


class RecipeError(UserError, ValueError):
    """A recipe that does not validate; the message names file, line and field."""


def load_recipe(path: str | Path) -> tuple[Recipe, Path]:
    """Parse and validate a recipe file; returns the recipe and its folder (for relative paths)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise RecipeError(f"{path}: cannot read recipe: {exc.strerror}") from exc
    try:
        raw = yaml.safe_load(text)
        root = yaml.compose(text)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        raise RecipeError(f"{where}: invalid YAML: {getattr(exc, 'problem', exc)}") from exc
    if not isinstance(raw, dict):
        raise RecipeError(f"{path}:1: a recipe is a mapping with at least `name` and `data`")
    duplicates = _duplicate_keys(root)
    if duplicates:  # YAML keeps the last one silently; a recipe must say one thing
        raise RecipeError("invalid recipe\n" + "\n".join(f"{path}:{line}" for line in duplicates))
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            loc = [p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-")]
            problems.append((loc, err["msg"]))
        raise RecipeError(_report(path, root, problems)) from exc
    problems = _semantic_problems(recipe, path.parent)
    if problems:
        raise RecipeError(_report(path, root, problems))
    return recipe, path.parent


def _report(path: Path, root: yaml.Node, problems: list[tuple[list[Any], str]]) -> str:
    lines = [
        f"{path}:{_line_of(root, loc)}: {'.'.join(str(p) for p in loc) or '<root>'}: {msg}"
        for loc, msg in problems
    ]
    return "invalid recipe\n" + "\n".join(lines)


def _semantic_problems(recipe: Recipe, folder: Path) -> list[tuple[list[Any], str]]:
    """What the schema cannot see: missing input files, ops that do not build, unknown
    metrics. Checked before anything runs, so a typo costs no half-finished run."""
    from ..ops.chain import build_ops

    problems: list[tuple[list[Any], str]] = []
    for i, spec in enumerate(recipe.data.inputs):
        if not (folder / spec.path).is_file():  # an absolute path ignores `folder`
            problems.append((["data", "inputs", i, "path"], f"no such file: {folder / spec.path}"))
    for j, op in enumerate(recipe.data.ops):
        try:
            build_ops([op])
        except UserError as exc:
            problems.append((["data", "ops", j], str(exc)))
    if recipe.synth is not None:
        problems += _synth_problems(recipe.synth, folder)
    if recipe.eval is not None:
        from evalkit.metrics import METRICS, check_metric_params

        from ..synth.engines import check_engine_options

        for k, name in enumerate(recipe.eval.metrics):
            if name not in METRICS:
                problems.append((["eval", "metrics", k], str(UnknownNameError("metric", name, METRICS.names()))))
        for name, params in recipe.eval.metric_params.items():
            try:
                check_metric_params(name, params)
            except UserError as exc:
                problems.append((["eval", "metric_params", name], str(exc)))
        try:
            check_engine_options(recipe.eval.engine, recipe.eval.engine_options)
        except UserError as exc:
            where = "engine" if isinstance(exc, UnknownNameError) else "engine_options"
            problems.append((["eval", where], str(exc)))
        if recipe.eval.data not in ("test", "train") and not (folder / recipe.eval.data).is_file():
            problems.append((["eval", "data"], f"no such file: {folder / recipe.eval.data}"))
    return problems


def _duplicate_keys(node: yaml.Node | None) -> list[str]:
    """``"12: duplicate key 'ops' (first at line 5)"`` for every key repeated in a mapping."""
    out: list[str] = []
    stack = [node] if node is not None else []
    while stack:
        current = stack.pop()
        if isinstance(current, yaml.MappingNode):
            first: dict[str, int] = {}
            for key, value in current.value:
                line = key.start_mark.line + 1
                name = str(key.value)
                if name in first:
                    out.append(f"{line}: duplicate key {name!r} (first at line {first[name]})")
                else:
                    first[name] = line
                stack.append(value)
        elif isinstance(current, yaml.SequenceNode):
            stack.extend(current.value)
    return sorted(out, key=lambda s: int(s.split(":", 1)[0]))


def _synth_problems(section: SynthSection, folder: Path) -> list[tuple[list[Any], str]]:
    """Engines, engine options, scorers and files of the ``synth:`` section."""
    from ..synth.engines import check_engine_options
    from ..synth.scorers import EngineSpec, check_scorers, split_spec
    from ..synth.steps import BestOfKConfig

    problems: list[tuple[list[Any], str]] = []

    def engine(spec: EngineSpec | None, where: list[Any]) -> None:
        if spec is None:
            return
        try:
            check_engine_options(spec.kind, spec.options, spec.model)
        except UnknownNameError as exc:
            problems.append(([*where, "kind"], str(exc)))
        except UserError as exc:
            problems.append(([*where, "options"], str(exc)))

    def file(path: str | None, where: list[Any]) -> None:
        if path is not None and not (folder / path).is_file():
            problems.append((where, f"no such file: {folder / path}"))

    if section.input not in ("train", "test"):
        file(section.input, ["synth", "input"])
    engine(section.engine, ["synth", "engine"])
    for i, step in enumerate(section.steps):
        where = ["synth", "steps", i]
        engine(step.engine, [*where, "engine"])
        file(getattr(step, "template", None), [*where, "template"])
        if isinstance(step, BestOfKConfig):
            try:
                check_scorers(step.scorers)
            except UserError as exc:
                problems.append(([*where, "scorers"], str(exc)))
                continue
            for name, spec in step.scorers.items():
                params = split_spec(name, spec)[1]
                if isinstance(params.get("engine"), dict):
                    engine(EngineSpec.model_validate(params["engine"]), [*where, "scorers", name, "engine"])
                file(params.get("template"), [*where, "scorers", name, "template"])
    return problems


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int:
    """1-based line of the deepest YAML node along ``loc`` (pydantic's error location)."""
    line = (node.start_mark.line + 1) if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next((v for k, v in node.value if k.value == key), None)
            if match is None:  # a missing required key: point at its parent mapping
                return line
            node = match
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
        else:
            break
        line = node.start_mark.line + 1
    return line
