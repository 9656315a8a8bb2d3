"""Giving memory that a large computation freed back to the system.

glibc's malloc keeps freed memory in its arenas for reuse and returns little of it on its own: after the
server's first Train page had generated the built-in dataset (about 150 MB of scratch tensors, freed at once), the
Streamlit process kept some 140 MB it no longer used, for as long as it ran. ``malloc_trim`` hands it back.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable


@functools.cache
def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's ``malloc_trim``; None where the C library has none (macOS, musl, Windows)."""
    try:
        return ctypes.CDLL(ctypes.util.find_library("c")).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None


def can_give_back() -> bool:
    """Whether this platform's allocator can be asked to return freed memory."""
    return _malloc_trim() is not None


def give_back() -> bool:
    """Return the free memory at the top and inside of the allocator's heaps to the system (a few milliseconds);
    True when some was returned. Call it after a one-off computation whose scratch memory is freed, not per
    request."""
    trim = _malloc_trim()
    return bool(trim(0)) if trim is not None else False
