"""The project's one exception type for errors the user can fix (bad dataset, bad parameter,
missing file). The command line and ``kedro run`` print its message in one short block and exit
with status 1, without a traceback (see :mod:`.kedro_hooks`); every other exception keeps its
traceback."""

from __future__ import annotations


class UserError(ValueError):
    """An input the user can fix; the message says what is wrong and where."""


def find_user_error(exc: BaseException | None) -> UserError | None:
    """The :class:`UserError` that ``exc`` is, or was raised ``from`` (Kedro wraps dataset
    load errors in its own ``DatasetError``), else None."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        if isinstance(exc, UserError):
            return exc
        seen.add(id(exc))
        exc = exc.__cause__
    return None
