"""Show the tested library source of an object inside a chapter.

``sl.show(sl.optim.DiffGrad)`` renders the class's source, with its file and line numbers, as a
highlighted code block, so that the reader sees the exact code the unit tests cover rather than
a copy that could drift. Introduced in {ref}`ch-diffgrad`.
"""

from __future__ import annotations

import inspect
import textwrap
from pathlib import Path
from typing import Any

__all__ = ["show", "Source"]


class Source:
    """The source of a library object, rendered as Markdown in notebooks and as text elsewhere."""

    def __init__(self, obj: Any) -> None:
        target = inspect.unwrap(obj)
        if isinstance(target, property):
            target = target.fget
        if not (
            inspect.isclass(target)
            or inspect.isfunction(target)
            or inspect.ismethod(target)
            or inspect.ismodule(target)
        ):
            raise ValueError(
                f"show() expects a class, function, method or module, got an instance of {type(obj).__name__}"
            )
        try:
            lines, start = inspect.getsourcelines(target)
            path = inspect.getsourcefile(target)
        except (OSError, TypeError) as err:
            raise ValueError(
                f"no Python source is available for {obj!r}: {err}"
            ) from None
        self.name = getattr(
            target, "__qualname__", getattr(target, "__name__", repr(target))
        )
        self.module = getattr(target, "__module__", None) or getattr(
            target, "__name__", ""
        )
        self.code = (
            textwrap.dedent("".join(lines)).rstrip() + "\n"
        )  # methods lose the class indent
        self.first_line = max(start, 1)
        self.last_line = self.first_line + len(lines) - 1
        self.path = _display_path(path)

    def _location(self) -> str:
        return f"{self.path}, lines {self.first_line}–{self.last_line}"

    def _repr_markdown_(self) -> str:
        fence = "````" if "```" in self.code else "```"
        return f"**`{self.name}`** · `{self._location()}`\n\n{fence}python\n{self.code}{fence}\n"

    def __repr__(self) -> str:
        return f"# {self.name} — {self._location()}\n{self.code}"


def _display_path(path: str | None) -> str:
    """Path relative to the installed package root (``stochlearn/optim/diffgrad.py``)."""
    if not path:
        return "<unknown>"
    parts = Path(path).parts
    if "stochlearn" in parts:
        i = len(parts) - 1 - parts[::-1].index("stochlearn")
        return "/".join(parts[i:])
    return Path(path).name


def show(obj: Any) -> Source:
    """Return a displayable view of ``obj``'s source (a class, function, method or module).

    In a notebook the last expression of a cell is displayed, so ``sl.show(sl.optim.DiffGrad)``
    renders the code; outside one, ``print(sl.show(...))`` prints it.
    """
    return Source(obj)
