"""One registry mechanism for every pluggable kind: ops, formats, metrics, engines,
verifiers and trainer back ends.

Each kind owns one :class:`Registry` instance, defined beside its base class
(``dataforge.ops.base.OPS``, ``dataforge.formats.base.FORMATS``,
``dataforge.synth.engines.ENGINES``, ``dataforge.verifiers.VERIFIERS``,
``evalkit.metrics.METRICS``, ``backends.BACKENDS``). They all work the same way:

* **register** with a decorator: ``@OPS.register`` on a class that sets ``name`` (or
  ``kind``), or ``@METRICS.register("bleu")`` with an explicit name;
* **built-ins are found by package**: the first lookup imports every module of the
  kind's packages (``packages``), so no hand-kept import list exists anywhere; heavy
  modules (torch, vLLM) are named in ``lazy`` and imported only when their name is asked
  for, so listing engines does not load torch;
* **third parties by entry point**: a distribution declares, e.g.,
  ``[project.entry-points."posttrain.ops"] my_op = "my_pkg.ops:MyOp"``; the object is
  registered under the entry point's name (a module entry point just gets imported, its
  decorators do the rest);
* **list** with ``names()`` / ``items()`` (``dataforge ops``, ``dataforge engines``,
  ``dataforge verifiers``, ``evalkit metrics``, ``dataforge train backends``);
* **fail** on an unknown name with :class:`~dataforge.errors.UnknownNameError`, which
  suggests the nearest names.
"""

from __future__ import annotations

import importlib
import pkgutil
from importlib.metadata import entry_points
from types import ModuleType
from typing import Any, Callable, Generic, Iterator, Mapping, Sequence, TypeVar, overload

from .errors import UnknownNameError

T = TypeVar("T")


def _default_name(obj: Any) -> str:
    for attr in ("name", "kind"):
        value = getattr(obj, attr, None)
        if isinstance(value, str) and value:
            return value
    raise ValueError(f"{obj!r} has no `name`; register it with an explicit name")


class Registry(Generic[T]):
    """Named objects of one kind, filled by decorators, packages and entry points."""

    def __init__(
        self,
        kind: str,
        *,
        group: str,
        packages: Sequence[str] = (),
        lazy: Mapping[str, str] | None = None,
        name_of: Callable[[Any], str] = _default_name,
    ) -> None:
        self.kind = kind
        self.group = group
        self.packages = tuple(packages)
        self.lazy = dict(lazy or {})
        self._name_of = name_of
        self._items: dict[str, T] = {}
        self._origin: dict[str, str] = {}
        self._loaded = False
        self._builtins_loaded = False
        self._loading = False

    # -- registering ----------------------------------------------------------------

    @overload
    def register(self, obj: T) -> T: ...
    @overload
    def register(self, obj: str) -> Callable[[T], T]: ...

    def register(self, obj: Any = None, *, name: str | None = None) -> Any:
        """Decorator: ``@REG.register``, ``@REG.register("name")`` or ``REG.register(obj, name=...)``."""
        if isinstance(obj, str):
            return lambda target: self.add(obj, target)
        if obj is None:
            return lambda target: self.add(name or self._name_of(target), target)
        return self.add(name or self._name_of(obj), obj)

    def add(self, name: str, obj: T) -> T:
        existing = self._items.get(name)
        if existing is not None and existing is not obj and _qualname(existing) != _qualname(obj):
            raise ValueError(
                f"{self.kind} {name!r} is already registered by {_qualname(existing)}; "
                f"{_qualname(obj)} needs another name"
            )
        self._items[name] = obj
        self._origin.setdefault(name, getattr(obj, "__module__", "") or "")
        return obj

    # -- looking up -----------------------------------------------------------------

    def get(self, name: str) -> T:
        if name not in self._items and name in self.lazy:
            importlib.import_module(self.lazy[name])
        if name not in self._items and not self._loading:
            self._load_builtins()
        if name not in self._items:
            self.load()
        try:
            return self._items[name]
        except KeyError:
            raise UnknownNameError(self.kind, name, self.names()) from None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self.names()

    def names(self) -> list[str]:
        """Every registered name, lazy built-ins included (without importing them)."""
        self.load()
        return sorted(set(self._items) | set(self.lazy))

    def items(self) -> dict[str, T]:
        """Every registered object by name (imports lazy built-ins)."""
        for name in self.lazy:
            if name not in self._items:
                importlib.import_module(self.lazy[name])
        self.load()
        return dict(sorted(self._items.items()))

    def builtin_items(self) -> dict[str, T]:
        """The objects registered by the built-in packages, without the entry-point scan
        (lazy built-ins are left out: they are heavy by definition)."""
        self._load_builtins()
        return {name: obj for name, obj in sorted(self._items.items())
                if any(_within(self._origin.get(name, ""), p) for p in self.packages)}

    def __iter__(self) -> Iterator[str]:
        return iter(self.names())

    def origin(self, name: str) -> str:
        """The module that registered ``name`` (for listings: built-in or plug-in)."""
        self.get(name)
        return self._origin.get(name, "")

    # -- discovery ------------------------------------------------------------------

    def _load_builtins(self) -> None:
        """Import the built-in packages (cheap: already imported modules are a dict lookup).

        :meth:`get` tries these before the entry points because scanning every installed
        distribution's metadata costs ~30 ms of each command's start-up, and a plug-in can
        never take a built-in's name anyway (the scan skips names already registered).
        """
        if self._builtins_loaded:
            return
        for package in self.packages:
            _import_tree(importlib.import_module(package))
        self._builtins_loaded = True

    def load(self) -> None:
        """Import the built-in packages and the entry points, once."""
        if self._loaded or self._loading:
            return
        self._loading = True
        try:
            self._load_builtins()
            for ep in entry_points(group=self.group):
                if ep.name in self._items:
                    continue
                obj = ep.load()
                if not isinstance(obj, ModuleType):
                    self.add(ep.name, obj)
            self._loaded = True
        finally:
            self._loading = False


def _import_tree(package: ModuleType) -> None:
    """Import every module under ``package`` (their decorators register them)."""
    path = getattr(package, "__path__", None)
    if path is None:
        return
    for info in pkgutil.walk_packages(path, prefix=package.__name__ + "."):
        leaf = info.name.rsplit(".", 1)[-1]
        if not leaf.startswith("_"):
            importlib.import_module(info.name)


def _within(module: str, package: str) -> bool:
    return module == package or module.startswith(package + ".")


def _qualname(obj: Any) -> str:
    return f"{getattr(obj, '__module__', '?')}.{getattr(obj, '__qualname__', type(obj).__qualname__)}"


__all__ = ["Registry"]
