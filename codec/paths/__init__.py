"""The coding paths, by name: the one a file's header names decodes it.

The seam they plug into is :class:`codec.paths.base.CodingPath`; the default path is
:class:`codec.paths.filterbank.FilterbankPath`.
"""

from __future__ import annotations

from bitstream import FormatError
from codec.paths.base import CodingPath, EncodeOptions, OnFitStep
from codec.paths.filterbank import FilterbankPath

DEFAULT_PATH = "filterbank"
_PATHS: dict[str, CodingPath] = {DEFAULT_PATH: FilterbankPath()}
LEARNED = "learned"  # imported when first named: it needs torch


def register_path(path: CodingPath) -> None:
    """Make ``path`` codable by name and decodable from the files it writes."""
    _PATHS[path.name] = path


def path_named(name: str) -> CodingPath:
    """The registered coding path of that name (a :class:`FormatError` if none is)."""
    if name == LEARNED and name not in _PATHS:
        from codec.paths.learned import LearnedPath

        register_path(LearnedPath())
    if name not in _PATHS:
        known = ", ".join(sorted({*_PATHS, LEARNED}))
        raise FormatError(f"no coding path is named {name!r} (known: {known})")
    return _PATHS[name]


__all__ = ["CodingPath", "EncodeOptions", "FilterbankPath", "OnFitStep", "path_named",
           "register_path"]  # fmt: skip
