"""Giving freed memory back to the operating system after a large read.

A cold read of a long history parses some hundred pages; once they are replayed, their objects
are freed, but glibc keeps the pages in the process (about 35 MiB after a 100,000-change read).
``malloc_trim`` returns them. Elsewhere (no glibc) this does nothing.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
from collections.abc import Callable

log = logging.getLogger(__name__)


def _load_trim() -> Callable[[int], int] | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError):
        return None
    return trim


_TRIM = _load_trim()


def release_free_memory() -> bool:
    """Return free heap memory to the OS; True when the C library offers it (glibc)."""
    if _TRIM is None:
        return False
    _TRIM(0)
    return True
