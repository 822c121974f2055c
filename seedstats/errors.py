"""Exceptions for user mistakes: the CLI prints them as one line, never a traceback."""

from __future__ import annotations

__all__ = ["SeedstatsError", "DataError", "ParseError", "SeedstatsNote"]


class SeedstatsError(Exception):
    """Base class of the errors that a user can fix (bad input, bad options)."""


class DataError(SeedstatsError, ValueError):
    """A dataset or table does not have what was asked of it."""


class ParseError(DataError):
    """A malformed input file.

    Parameters
    ----------
    path : str
        The file.
    line : int or None
        1-based line number (or record number), when known.
    expected : str
        What was expected there, and what was found.
    """

    def __init__(self, path, line, expected: str):
        self.path, self.line, self.expected = str(path), line, expected
        where = f"{self.path}:{line}" if line is not None else self.path
        super().__init__(f"{where}: {expected}")


class SeedstatsNote(UserWarning):
    """Something seedstats set aside or repaired on its own (a leftover of an interrupted
    write cleaned up, a backup restored): issued with :func:`warnings.warn`, printed by the
    command line as one ``note:`` line."""
