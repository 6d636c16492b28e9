"""Self-checks for the chapters' exercises.

A check cell calls :func:`check` with a description and a zero-argument test. It prints
``✓ description`` when the test returns true, and otherwise raises :class:`ExerciseCheckFailed`
(an ``AssertionError``) whose message says what was expected and how to go on, never a bare
assertion. A stub that still raises ``NotImplementedError``, or a name the exercise should have defined,
is reported as "not done yet" (a ``NotImplementedError``).
Introduced in {ref}`ch-diffgrad`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

__all__ = ["check", "ExerciseCheckFailed", "ExerciseNotDone"]


class ExerciseCheckFailed(AssertionError):
    """A self-check did not pass; the message explains what was expected."""


class ExerciseNotDone(NotImplementedError):
    """The exercise's cell has not been completed (or not run) yet."""


def check(description: str, test: Callable[[], Any], hint: str = "") -> None:
    """Run one self-check: print ``✓ description`` or raise with a helpful message."""
    if not isinstance(description, str) or not description.strip():
        raise ValueError("description must be a non-empty string")
    if not callable(test):
        raise ValueError(
            "test must be a zero-argument callable, e.g. lambda: abs(x - 1) < 1e-6"
        )
    try:
        ok = bool(test())
    except NotImplementedError:
        print(
            f"… {description}: not done yet (the exercise still raises NotImplementedError)"
        )
        raise
    except NameError as err:
        raise ExerciseNotDone(
            f"… {description}: {err}. Complete and run the exercise cell above first."
        ) from None
    except (
        Exception
    ) as err:  # the learner's code raised: show what and where to look
        raise ExerciseCheckFailed(
            f"✗ {description}: your code raised {type(err).__name__}: {err}. {hint}".rstrip()
        ) from err
    if not ok:
        raise ExerciseCheckFailed(f"✗ {description}. {hint}".rstrip())
    print(f"✓ {description}")
