"""The recipe file: a pydantic model, and YAML loading whose errors name the file line.

A recipe is the whole loop in one YAML file: ``data`` (or several named ``datasets``:
read, clean locally or on Ray, split), ``synth`` (grow the data with a model), ``train``
(ordered trainer stages, each starting from the previous one), ``eval`` (the trained
model against a baseline on several eval sets, a judge, lm-eval tasks) and the report. An unknown key is
an error naming the nearest valid key, never silently ignored.

.. code-block:: yaml

    name: medical_qa
    model: smollm2-135m-instruct
    data:
      inputs: [{path: data/medical_qa.jsonl}]
      ops: [normalize, dedup.exact, {op: dedup.near, threshold: 0.7}]
      split: {test_ratio: 0.2, seed: 0}
      executor: {kind: ray}      # optional; default local
    train:
      - stage: sft
        args: {max_steps: 20, learning_rate: 2.0e-4}
    eval:
      sets:
        - {name: test, data: test}
        - {name: general, data: data/general_eval.jsonl, role: general}
      metrics: [ppl, bleu, distinct]

Strings may use ``${VAR}`` (or ``${VAR:-default}``) to read the environment;
``load_recipe(path, sets=["train.0.args.max_steps=5"])`` applies overrides (``dataforge
run --set``) before validation, and an error in an override names the override.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any, Literal, Sequence

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from ..config import field_names, model_at
from ..errors import UnknownNameError, UserError, did_you_mean
from ..synth.engines.base import GenerationParams
from ..synth.pipeline import SynthSection
from ..synth.scorers import EngineSpec

_NAME = r"^[A-Za-z0-9_][A-Za-z0-9_-]*$"
#: what a stage may start from besides an earlier stage: the recipe's model
BASE = "base"
#: ``eval.baseline`` value that turns the comparison off
NO_BASELINE = "none"


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
    """Read the inputs, run the op chain, split train/test. Its outputs are referred to as
    `train` and `test` (a single `data:` section: also `data.train`), or `<name>.train` and
    `<name>.test` for a dataset of `datasets:`; a dataset without `split` is also `<name>`."""

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


class ReplaySpec(_Strict):
    """Older data mixed into a training stage (continual training), with
    `dataforge.compose.mix`: every new record is kept and replay records are added until
    they are `weight` of the mix (sampled with replacement when there are too few)."""

    data: str = Field(description="a dataset of this run (`train`, `<name>.train`, `synth.train`), a file, "
                                  "or an earlier run folder (its cleaned training split)")
    weight: float = Field(0.2, gt=0.0, lt=1.0, description="share of replay records in the mixed training set")
    seed: int = Field(0, description="seed of the sampling and shuffling")


class TrainStage(_Strict):
    """One trainer stage (`docs/training.md`); its output folder is `train.<name>/`."""

    model_config = ConfigDict(extra="forbid", serialize_by_alias=True)

    stage: str = Field(description="sft, dpo, kto, orpo, rm, grpo, rloo or ppo (`dataforge train backends`)")
    name: str | None = Field(None, pattern=_NAME, description="stage name (default: the stage kind); folder train.<name>")
    backend: str = Field("trl", description="trainer back end (`dataforge train backends`)")
    from_: str | None = Field(
        None, alias="from",
        description="`base` (the recipe's model) or an earlier stage's name; default: the previous stage",
    )
    data: list[str] | None = Field(
        None, description="training data: datasets of this run (`train`, `<name>.train`, `synth.train`, `synth.dpo`, "
                          "`synth.kto`) or files; default: sft/grpo/rloo/ppo `synth.train` when synth runs, else "
                          "`train`; dpo/orpo/rm `synth.dpo`, kto `synth.kto` when best_of_k runs")
    replay: ReplaySpec | None = Field(None, description="older data mixed in against forgetting")
    merge: bool | None = Field(
        None, description="also save the adapter merged into its base (merged/); default: when the stage is evaluated"
    )
    args: dict[str, Any] = Field(
        default_factory=dict, description="the stage config (`dataforge train config STAGE`; docs/reference/stages.md)"
    )

    @field_validator("data", mode="before")
    @classmethod
    def _one_or_many(cls, value: Any) -> Any:
        return [value] if isinstance(value, str) else value

    @property
    def label(self) -> str:
        return self.name or self.stage


class EvalSet(_Strict):
    """One eval set: every evaluated model answers it and is scored on it."""

    name: str = Field(pattern=_NAME, description="set name (folder eval.<model>.<name>, report section)")
    data: str = Field("test", description="a dataset of this run (`test`, `<name>.test`) or a file")
    role: Literal["domain", "general"] = Field(
        "domain", description="domain: what training targets; general: what it must not forget (a significant "
                              "drop is flagged as forgetting)")
    metrics: list[str] | None = Field(None, description="metrics of this set (default: eval.metrics)")
    metric_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per metric, parameters that override eval.metric_params"
    )
    limit: int | None = Field(None, gt=0, description="only the first N records (default: eval.limit)")


class JudgeSpec(_Strict):
    """A pairwise LLM judge: each candidate's answer against the baseline's, asked in both
    orders (position swap); a winner counts only when both orders agree."""

    engine: EngineSpec = Field(default_factory=EngineSpec, description="judge engine (kind, model, options)")
    sets: list[str] | None = Field(None, description="eval sets to judge (default: the domain sets)")
    rubric: str | None = Field(None, description="what the judge weighs (default: helpfulness, relevance, accuracy...)")
    template: str | None = Field(None, description="pairwise prompt template file (default: the shipped one)")
    max_new_tokens: int = Field(256, gt=0, description="longest judge reply")
    retries: int = Field(1, ge=0, description="asks again when a reply has no verdict")


class LmEvalSpec(_Strict):
    """lm-evaluation-harness tasks run on every evaluated model (`evalkit harness`)."""

    tasks: list[str] = Field(min_length=1, description="lm-eval task names")
    include_path: list[str] = Field(default_factory=list, description="folders of custom task YAMLs, relative to the recipe")
    limit: float | None = Field(None, gt=0, description="items per task (a fraction when < 1)")
    num_fewshot: int | None = Field(None, ge=0, description="few-shot examples (default: the task's)")
    apply_chat_template: bool = Field(False, description="render prompts with the model's chat template")
    role: Literal["domain", "general"] = Field("general", description="as eval sets: general tasks measure forgetting")


class BootstrapSpec(_Strict):
    n_boot: int = Field(1000, ge=10, description="paired-bootstrap resamples")
    confidence: float = Field(0.95, gt=0.5, lt=1.0, description="confidence level of the intervals")
    seed: int = Field(0, description="seed of the resampling")
    top_k: int = Field(5, ge=0, description="examples that got worse, shown per metric")


class EvalStage(_Strict):
    """Evaluate the trained model(s) and a baseline on every eval set; compare them."""

    models: list[str] | None = Field(
        None, description="what to evaluate: train stage names or `base`; default: the last train stage (`base` "
                          "when the recipe trains nothing)")
    baseline: str | None = Field(
        None, description="what they are compared with: `base`, a train stage name, an earlier run folder, a "
                          "model, or `none`; default: `base` when the recipe trains, else none (scores only)")
    sets: list[EvalSet] = Field(
        default_factory=lambda: [EvalSet(name="test")], min_length=1, description="eval sets, each scored for every model"
    )
    metrics: list[str] = Field(min_length=1, description="evalkit metric names (`evalkit metrics`)")
    metric_params: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description="per metric, its parameters (docs/reference/metrics.md; checked at load)"
    )
    engine: str = Field("transformers", description="generation engine (`dataforge engines`)")
    engine_options: dict[str, Any] = Field(
        default_factory=dict, description="options of the engine, e.g. {batch_size: 8} (checked at load)"
    )
    generation: GenerationParams = Field(
        default_factory=lambda: GenerationParams(max_new_tokens=128),
        description="sampling parameters, the same for every engine",
    )
    limit: int | None = Field(None, gt=0, description="evaluate only the first N records of each set")
    judge: JudgeSpec | None = Field(None, description="pairwise judge win-rate against the baseline")
    lm_eval: LmEvalSpec | None = Field(None, description="lm-eval tasks on every evaluated model")
    bootstrap: BootstrapSpec = Field(default_factory=BootstrapSpec, description="confidence intervals")
    cache: bool = Field(True, description="reuse cached generations (content-addressed)")
    cache_path: str | None = Field(
        None, description="generation cache file; default ~/.cache/posttrain/generations.sqlite"
    )


class Recipe(_Strict):
    name: str = Field(
        pattern=r"^[A-Za-z0-9_][A-Za-z0-9_.-]*$",
        description="run name: the folder under runs/ (letters, digits, _ . -; not starting with a dot)",
    )
    model: str = Field("smollm2-135m-instruct", description="alias, local path or hub id: the base model")
    description: str = Field("", description="free text, kept in the manifest")
    data: DataStage | None = Field(None, description="read, clean and split the data (or use `datasets`)")
    datasets: dict[str, DataStage] | None = Field(
        None, description="several named datasets, each read, cleaned and split like `data` (folder data.<name>)"
    )
    synth: SynthSection | None = Field(
        None, description="grow the data with a model: augment, distill, best-of-K, judge filter (docs/synthesis.md)"
    )
    train: list[TrainStage] = Field(default_factory=list, description="trainer stages, in order")
    eval: EvalStage | None = Field(None, description="evaluate and compare; the report follows")

    @model_validator(mode="after")
    def _one_data_section(self) -> "Recipe":
        if (self.data is None) == (self.datasets is None):
            raise ValueError("give either `data` (one dataset) or `datasets` (several, by name)")
        for name in self.datasets or {}:
            if not re.match(_NAME, name) or name in ("data", "synth"):
                raise ValueError(f"dataset name {name!r}: use letters, digits, _ and -, not `data` or `synth`")
        return self

    # -- what the stages refer to --------------------------------------------------

    def dataset_sections(self) -> dict[str, DataStage]:
        """Dataset name -> its section (`data` for a single `data:` section)."""
        return {"data": self.data} if self.data is not None else dict(self.datasets or {})

    def data_refs(self) -> dict[str, tuple[str, str]]:
        """Every dataset name a stage may read -> (stage folder, artifact)."""
        refs: dict[str, tuple[str, str]] = {}
        for name, section in self.dataset_sections().items():
            folder = "data" if self.data is not None else f"data.{name}"
            splits = ("train", "test") if section.split is not None else ("train",)
            for split in splits:
                refs[f"{name}.{split}"] = (folder, split)
                if self.data is not None:
                    refs[split] = (folder, split)
            if section.split is None:  # an unsplit dataset is also named by itself
                refs[name] = (folder, "train")
        if self.synth is not None:
            refs["synth.train"] = ("synth", "train")
            if any(step.step == "best_of_k" for step in self.synth.steps):
                refs["synth.dpo"] = ("synth", "dpo")
                refs["synth.kto"] = ("synth", "kto")
        return refs

    def train_data(self, spec: TrainStage) -> list[str]:
        """The datasets a train stage reads (its `data`, else the default for its kind)."""
        if spec.data:
            return list(spec.data)
        refs = self.data_refs()
        first = next(iter(self.dataset_sections()))
        plain = "train" if "train" in refs else f"{first}.train"
        preferred = {"dpo": "synth.dpo", "orpo": "synth.dpo", "rm": "synth.dpo", "kto": "synth.kto"}.get(
            spec.stage, "synth.train")
        return [preferred if preferred in refs else plain]

    def stage_from(self, index: int) -> str:
        """What train stage ``index`` starts from: `base` or an earlier stage's name."""
        spec = self.train[index]
        if spec.from_ is not None:
            return spec.from_
        return self.train[index - 1].label if index > 0 else BASE

    def eval_models(self) -> list[str]:
        if self.eval is not None and self.eval.models:
            return list(self.eval.models)
        return [self.train[-1].label] if self.train else [BASE]

    def eval_baseline(self) -> str | None:
        if self.eval is not None and self.eval.baseline is not None:
            return None if self.eval.baseline == NO_BASELINE else self.eval.baseline
        return BASE if self.train else None


class RecipeError(UserError, ValueError):
    """A recipe that does not validate; the message names file, line and field."""


# -- loading ---------------------------------------------------------------------------


def load_recipe(path: str | Path, sets: Sequence[str] = ()) -> tuple[Recipe, Path]:
    """Parse, override (``sets``: ``KEY=VALUE`` with dotted keys and list indices),
    interpolate ``${VAR}`` and validate a recipe file; returns the recipe and its folder
    (relative paths are resolved against it). Every problem names the file line, or the
    override that caused it."""
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
    where = _Locator(path, root)
    for item in sets:
        where.overrides.append(apply_override(raw, item))
    raw = _interpolate(raw, [], where)
    try:
        recipe = Recipe.model_validate(raw)
    except ValidationError as exc:
        raise RecipeError(where.report(_schema_problems(exc))) from exc
    problems = _semantic_problems(recipe, path.parent)
    if problems:
        raise RecipeError(where.report(problems))
    return recipe, path.parent


class _Locator:
    """Turns a problem's location into ``file:line`` (or the ``--set`` that made it)."""

    def __init__(self, path: Path, root: yaml.Node) -> None:
        self.path, self.root = path, root
        self.overrides: list[tuple[list[Any], str]] = []

    def where(self, loc: Sequence[Any]) -> str:
        for keys, item in self.overrides:
            if loc and (list(loc[:len(keys)]) == keys or list(keys[:len(loc)]) == list(loc)):
                return f"--set {item}"
        return f"{self.path}:{_line_of(self.root, list(loc))}"

    def report(self, problems: list[tuple[list[Any], str]]) -> str:
        lines = [f"{self.where(loc)}: {'.'.join(str(p) for p in loc) or '<root>'}: {msg}" for loc, msg in problems]
        return "invalid recipe\n" + "\n".join(lines)


def _schema_problems(exc: ValidationError) -> list[tuple[list[Any], str]]:
    """pydantic's errors as (location, message); a misspelt key names the nearest valid one."""
    problems = []
    for err in exc.errors():
        loc = [p for p in err["loc"] if not isinstance(p, str) or not p.startswith("function-")]
        msg = err["msg"]
        if err["type"] == "extra_forbidden" and loc:
            known = field_names(model_at(Recipe, tuple(loc[:-1])))
            hint = did_you_mean(str(loc[-1]), known)
            msg = f"unknown key{hint or '; valid keys: ' + ', '.join(known)}" if known else msg
        problems.append((loc, msg))
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
def apply_override(raw: dict[str, Any], item: str) -> tuple[list[Any], str]:
    """Set ``KEY=VALUE`` in the raw recipe (``train.0.args.max_steps=5``; the value is
    YAML). Returns the key path, so later errors about it name the override."""
    key, eq, value_text = item.partition("=")
    if not eq or not key.strip():
        raise RecipeError(f"--set {item}: expected KEY=VALUE, e.g. train.0.args.max_steps=5")
    try:
        value = yaml.safe_load(value_text)
    except yaml.YAMLError as exc:
        raise RecipeError(f"--set {item}: the value is not valid YAML ({getattr(exc, 'problem', exc)})") from None
    parts: list[Any] = [int(p) if p.isdigit() else p for p in key.strip().split(".")]
    node: Any = raw
    for depth, part in enumerate(parts[:-1]):
        here = ".".join(map(str, parts[:depth + 1]))
        if isinstance(node, list):
            if not isinstance(part, int) or part >= len(node):
                raise RecipeError(f"--set {item}: {here}: the list has {len(node)} item(s); index them from 0")
            node = node[part]
        elif isinstance(node, dict):
            if node.get(part) is None:
                node[part] = {}
            node = node[part]
        else:
            raise RecipeError(f"--set {item}: {here} is a value, not a section")
    last = parts[-1]
    if isinstance(node, list):
        if not isinstance(last, int) or last >= len(node):
            raise RecipeError(f"--set {item}: the list has {len(node)} item(s); index them from 0")
        node[last] = value
    elif isinstance(node, dict):
        node[last] = value
    else:
        raise RecipeError(f"--set {item}: {'.'.join(map(str, parts[:-1]))} is a value, not a section")
    return parts, item


_VAR = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _interpolate(value: Any, loc: list[Any], where: _Locator) -> Any:
    """``${VAR}`` / ``${VAR:-default}`` in every string, from the environment."""
    if isinstance(value, dict):
        return {k: _interpolate(v, [*loc, k], where) for k, v in value.items()}
    if isinstance(value, list):
        return [_interpolate(v, [*loc, i], where) for i, v in enumerate(value)]
    if not isinstance(value, str) or "${" not in value:
        return value

    def substitute(match: re.Match[str]) -> str:
        name, default = match.group(1), match.group(2)
        found = os.environ.get(name)
        if found is None and default is None:
            raise RecipeError(where.report([(loc, f"environment variable {name} is not set "
                                                  f"(export it, or write ${{{name}:-default}})")]))
        return found if found is not None else default  # type: ignore[return-value]

    return _VAR.sub(substitute, value)


# -- checks the schema cannot make ------------------------------------------------------


def _semantic_problems(recipe: Recipe, folder: Path) -> list[tuple[list[Any], str]]:
    """What the schema cannot see: missing files, ops that do not build, unknown metrics,
    stages in an order that cannot work. Checked before anything runs, so a typo costs no
    half-finished run."""
    problems: list[tuple[list[Any], str]] = []
    for name, section in recipe.dataset_sections().items():
        problems += _data_problems(section, ["data"] if recipe.data is not None else ["datasets", name], folder)
    if recipe.synth is not None:
        problems += _synth_problems(recipe, folder)
    problems += _train_problems(recipe, folder)
    if recipe.eval is not None:
        problems += _eval_problems(recipe, folder)
    return problems


def _data_problems(section: DataStage, where: list[Any], folder: Path) -> list[tuple[list[Any], str]]:
    from ..ops.chain import build_ops

    problems: list[tuple[list[Any], str]] = []
    for i, spec in enumerate(section.inputs):
        if not (folder / spec.path).is_file():  # an absolute path ignores `folder`
            problems.append(([*where, "inputs", i, "path"], f"no such file: {folder / spec.path}"))
    for j, op in enumerate(section.ops):
        try:
            build_ops([op])
        except UserError as exc:
            problems.append(([*where, "ops", j], str(exc)))
    return problems


def _dataset_problem(recipe: Recipe, ref: str, folder: Path, *, runs_ok: bool = False) -> str | None:
    """Why ``ref`` is neither a dataset of this run nor an existing file (None when fine)."""
    refs = recipe.data_refs()
    if ref in refs or (folder / ref).is_file() or (runs_ok and (folder / ref).is_dir()):
        return None
    hint = did_you_mean(ref, refs)
    if ref.endswith(".test") or ref == "test":
        hint += " (add `split:` to the dataset to hold out a test split)"
    if ref.startswith("synth."):
        hint += " (synth.dpo and synth.kto need a best_of_k step)"
    return f"{ref!r} is not a dataset of this run ({', '.join(refs)}) nor a file{hint}"


def _synth_problems(recipe: Recipe, folder: Path) -> list[tuple[list[Any], str]]:
    """Engines, engine options, scorers and files of the ``synth:`` section."""
    from ..synth.scorers import check_scorers, split_spec
    from ..synth.steps import BestOfKConfig

    section = recipe.synth
    assert section is not None
    problems: list[tuple[list[Any], str]] = []

    def file(path: str | None, where: list[Any]) -> None:
        if path is not None and not (folder / path).is_file():
            problems.append((where, f"no such file: {folder / path}"))

    problem = _dataset_problem(recipe, section.input, folder)
    if section.input.startswith("synth."):
        problem = "synth reads a dataset or a file, not its own output"
    if problem:
        problems.append((["synth", "input"], problem))
    problems += _engine_problems(section.engine, ["synth", "engine"])
    for i, step in enumerate(section.steps):
        where = ["synth", "steps", i]
        if step.engine is not None:
            problems += _engine_problems(step.engine, [*where, "engine"])
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
                    problems += _engine_problems(EngineSpec.model_validate(params["engine"]),
                                                 [*where, "scorers", name, "engine"])
                file(params.get("template"), [*where, "scorers", name, "template"])
    return problems


def _engine_problems(spec: EngineSpec, where: list[Any]) -> list[tuple[list[Any], str]]:
    from ..synth.engines import check_engine_options

    try:
        check_engine_options(spec.kind, spec.options, spec.model)
    except UnknownNameError as exc:
        return [([*where, "kind"], str(exc))]
    except UserError as exc:
        return [([*where, "options"], str(exc))]
    return []


def _train_problems(recipe: Recipe, folder: Path) -> list[tuple[list[Any], str]]:
    """Stage kinds, back ends, arguments (the stage config, with its nearest-key hints),
    `from` (an earlier stage only), data and replay."""
    from backends import BACKENDS, STAGES
    from backends.config import OnlineStage, config_class
    from ..config import describe_errors

    problems: list[tuple[list[Any], str]] = []
    seen: list[str] = []
    for i, spec in enumerate(recipe.train):
        where: list[Any] = ["train", i]
        if spec.stage not in STAGES:
            problems.append(([*where, "stage"], str(UnknownNameError("stage", spec.stage, STAGES))))
            continue
        if spec.label in seen or spec.label == BASE:
            problems.append(([*where, "name"], f"stage name {spec.label!r} is taken; give each stage its own `name`"))
        if spec.backend not in BACKENDS:
            problems.append(([*where, "backend"], str(UnknownNameError("backend", spec.backend, BACKENDS.names()))))
        start = recipe.stage_from(i)
        if start != BASE and start not in seen:
            later = any(s.label == start for s in recipe.train[i:])
            problems.append(([*where, "from"], f"{start!r} is {'a later stage' if later else 'not a stage'}: a stage "
                             f"starts from `base` or an earlier stage ({', '.join([BASE, *seen])})"))
        seen.append(spec.label)
        cls = config_class(spec.stage)
        try:
            config = cls.model_validate(spec.args)
        except ValidationError as exc:
            problems += [([*where, "args", *loc], msg) for loc, msg in describe_errors(cls, exc)]
        else:
            if isinstance(config, OnlineStage):
                try:
                    config.rewards.check_verifiers()
                except UserError as exc:
                    problems.append(([*where, "args", "rewards"], str(exc)))
        for j, ref in enumerate(recipe.train_data(spec)):
            problem = _dataset_problem(recipe, ref, folder)
            if problem:
                problems.append(([*where, "data", j] if spec.data else [*where, "stage"], problem))
        if spec.replay is not None:
            problem = _dataset_problem(recipe, spec.replay.data, folder, runs_ok=True)
            if problem:
                problems.append(([*where, "replay", "data"], problem + " or run folder"))
    return problems


def _eval_problems(recipe: Recipe, folder: Path) -> list[tuple[list[Any], str]]:
    from evalkit.metrics import METRICS, check_metric_params

    from ..synth.engines import check_engine_options

    spec = recipe.eval
    assert spec is not None
    problems: list[tuple[list[Any], str]] = []
    stages = [s.label for s in recipe.train]

    def metrics(names: list[str], where: list[Any]) -> None:
        for k, name in enumerate(names):
            if name not in METRICS:
                problems.append(([*where, k], str(UnknownNameError("metric", name, METRICS.names()))))

    def params(table: dict[str, dict[str, Any]], where: list[Any]) -> None:
        for name, values in table.items():
            try:
                check_metric_params(name, values)
            except UserError as exc:
                problems.append(([*where, name], str(exc)))

    metrics(spec.metrics, ["eval", "metrics"])
    params(spec.metric_params, ["eval", "metric_params"])
    try:
        check_engine_options(spec.engine, spec.engine_options)
    except UserError as exc:
        problems.append((["eval", "engine" if isinstance(exc, UnknownNameError) else "engine_options"], str(exc)))
    names = [s.name for s in spec.sets]
    for i, item in enumerate(spec.sets):
        where = ["eval", "sets", i]
        if names.index(item.name) != i:
            problems.append(([*where, "name"], f"eval set name {item.name!r} is taken"))
        metrics(item.metrics or [], [*where, "metrics"])
        params(item.metric_params, [*where, "metric_params"])
        problem = _dataset_problem(recipe, item.data, folder)
        if problem:
            problems.append(([*where, "data"], problem))
    for k, model in enumerate(spec.models or []):
        if model != BASE and model not in stages:
            problems.append((["eval", "models", k], f"{model!r} is not `base` nor a train stage"
                             f"{did_you_mean(model, [BASE, *stages])} ({', '.join([BASE, *stages])})"))
    if recipe.eval_baseline() in recipe.eval_models():
        problems.append((["eval", "models"], f"{recipe.eval_baseline()!r} is also the baseline: compare it with "
                         "something else (eval.baseline), or set `baseline: none` to only score it"))
    baseline = recipe.eval_baseline()
    if baseline is not None and baseline != BASE and baseline not in stages and not (folder / baseline).exists():
        from ..models import ModelNotAvailable, resolve

        try:
            resolve(baseline)  # a hub id passes; a missing path does not
        except ModelNotAvailable:
            problems.append((["eval", "baseline"], f"no such run folder or model: {folder / baseline} (give `base`, "
                             f"a train stage ({', '.join(stages) or 'none'}), a run folder or a model)"))
    if spec.judge is not None:
        problems += _engine_problems(spec.judge.engine, ["eval", "judge", "engine"])
        for k, name in enumerate(spec.judge.sets or []):
            if name not in names:
                problems.append((["eval", "judge", "sets", k], f"no eval set {name!r}{did_you_mean(name, names)}"))
        if spec.judge.template and not (folder / spec.judge.template).is_file():
            problems.append((["eval", "judge", "template"], f"no such file: {folder / spec.judge.template}"))
        if recipe.eval_baseline() is None:
            problems.append((["eval", "judge"], "the judge compares with a baseline: set eval.baseline"))
    if spec.lm_eval is not None:
        for k, include in enumerate(spec.lm_eval.include_path):
            if not (folder / include).is_dir():
                problems.append((["eval", "lm_eval", "include_path", k], f"no such folder: {folder / include}"))
    return problems


def _line_of(node: yaml.Node | None, loc: list[Any]) -> int:
    """1-based line of the deepest YAML node along ``loc`` (pydantic's error location): a
    mapping entry's key line, a list item's first line."""
    line = (node.start_mark.line + 1) if node is not None else 1
    for key in loc:
        if isinstance(node, yaml.MappingNode):
            match = next(((k, v) for k, v in node.value if k.value == key), None)
            if match is None:  # a missing required key, or a union tag: stay at the parent
                continue
            line, node = match[0].start_mark.line + 1, match[1]
        elif isinstance(node, yaml.SequenceNode) and isinstance(key, int) and key < len(node.value):
            node = node.value[key]
            line = node.start_mark.line + 1
    return line


__all__ = ["BASE", "NO_BASELINE", "DataStage", "EvalSet", "EvalStage", "JudgeSpec", "LmEvalSpec", "Recipe", "RecipeError",
           "ReplaySpec", "TrainStage", "apply_override", "load_recipe"]
