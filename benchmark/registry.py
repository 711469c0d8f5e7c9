"""Name -> class registries for strategies, benchmarks and models.

One mechanism for all three: built-in components are the modules of a
package (dropping a file in the folder adds one), third-party ones come
through an entry-point group and are imported lazily. A component that fails
to import is remembered with its error so that ``hippo-bench list`` can show
it, and nothing else breaks.
"""

from __future__ import annotations

import dataclasses
import difflib
import importlib
import importlib.metadata
import pkgutil
import traceback
from typing import Callable, ClassVar, Generic, Iterator, TypeVar

from hippo_bench.errors import UserError


class Component:
    """What every registered strategy, benchmark and model declares.

    ``Config`` is a dataclass whose fields are the component's parameters;
    they become CLI flags and YAML keys.
    """

    name: ClassVar[str] = ""
    description: ClassVar[str] = ""
    references: ClassVar[tuple[str, ...]] = ()

    @dataclasses.dataclass
    class Config:
        pass

    def __init__(self, config=None):
        self.config = config if config is not None else self.Config()


T = TypeVar("T", bound=type)


class Registry(Generic[T]):
    """A registry of component classes of one kind."""

    def __init__(self, kind: str, base: type, package: str, entry_point_group: str | None = None):
        self.kind = kind
        self.base = base
        self.package = package
        self.entry_point_group = entry_point_group
        self._classes: dict[str, type] = {}
        self._origin: dict[str, str] = {}
        self.broken: dict[str, str] = {}
        self._builtins_loaded = False
        self._plugins_loaded = False
        self._loading = False

    # -- registration -------------------------------------------------
    def register(self, name: str) -> Callable[[T], T]:
        """Class decorator: ``@register("naive")``."""
        if not isinstance(name, str) or not name or name != name.strip():
            raise TypeError(f"{self.kind} name must be a non-empty string, got {name!r}")

        def decorator(cls: T) -> T:
            self.add(name, cls)
            return cls

        return decorator

    def add(self, name: str, cls: type, origin: str | None = None) -> None:
        if not (isinstance(cls, type) and issubclass(cls, self.base)):
            raise TypeError(
                f"cannot register {cls!r} as {self.kind} {name!r}: "
                f"it must be a subclass of {self.base.__module__}.{self.base.__qualname__}"
            )
        if not dataclasses.is_dataclass(cls.Config):
            raise TypeError(f"{self.kind} {name!r}: its Config must be a dataclass")
        if name in self._classes and self._classes[name] is not cls:
            raise ValueError(
                f"duplicate {self.kind} name {name!r}: already registered by "
                f"{self._origin.get(name, self._classes[name].__module__)}"
            )
        cls.name = name
        self._classes[name] = cls
        self._origin[name] = origin or cls.__module__

    # -- loading ------------------------------------------------------
    def _load_builtins(self) -> None:
        if self._builtins_loaded or self._loading:
            return
        self._loading = True
        try:
            pkg = importlib.import_module(self.package)
            for mod in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
                if mod.name.startswith("_"):
                    continue
                modname = f"{self.package}.{mod.name}"
                try:
                    importlib.import_module(modname)
                except Exception as exc:  # a broken built-in must not hide the others
                    self.broken[modname] = _describe(exc)
            self._builtins_loaded = True
        finally:
            self._loading = False

    def _load_plugins(self) -> None:
        if self._plugins_loaded or self.entry_point_group is None:
            self._plugins_loaded = True
            return
        self._plugins_loaded = True
        for ep in _entry_points(self.entry_point_group):
            try:
                obj = ep.load()
                if not isinstance(obj, type):
                    raise TypeError(f"entry point must name a {self.base.__qualname__} subclass, "
                                    f"got {type(obj).__name__}")
                if obj not in self._classes.values():  # not already registered by its own decorator
                    self.add(ep.name, obj, origin=f"entry point {ep.value}")
            except BaseException as exc:  # noqa: BLE001 - a plugin may even call sys.exit
                if isinstance(exc, KeyboardInterrupt):
                    raise
                self.broken[ep.name] = f"plugin {ep.value}: {_describe(exc)}"

    def _ensure(self) -> None:
        self._load_builtins()
        self._load_plugins()

    # -- queries ------------------------------------------------------
    def names(self) -> list[str]:
        self._ensure()
        return sorted(self._classes)

    def items(self) -> Iterator[tuple[str, type]]:
        for name in self.names():
            yield name, self._classes[name]

    def get(self, name: str) -> type:
        self._ensure()
        if name in self._classes:
            return self._classes[name]
        if name in self.broken:
            raise UserError(f"{self.kind} {name!r} failed to load: {self.broken[name]}")
        close = difflib.get_close_matches(name, list(self._classes), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise UserError(
            f"unknown {self.kind} {name!r}{hint} (hippo-bench list shows them all)"
        )

    def __contains__(self, name: str) -> bool:
        self._ensure()
        return name in self._classes


def _entry_points(group: str):
    return list(importlib.metadata.entry_points(group=group))


def _describe(exc: BaseException) -> str:
    last = traceback.extract_tb(exc.__traceback__)[-1:] if exc.__traceback__ else []
    where = f" ({last[0].filename}:{last[0].lineno})" if last else ""
    return f"{type(exc).__name__}: {exc}{where}"
