"""What the Streamlit server asks of glibc's malloc, so that its memory grows with what it holds, not with its
threads.

1. Fewer arenas. Streamlit runs each script run in a thread of its own, and glibc gives threads their own heaps
   (arenas, up to 8 per core): with 30 browsers watching runs, each arena grew to several MB of mostly free memory,
   about 3 MB a viewer (docs/robustness.md). The sessions' threads hold the GIL for most of their work, so two
   arenas serve them without waiting on each other's locks.
2. Giving back what one-off work freed. malloc keeps freed memory for reuse and returns little of it on its own:
   after the server's first Train page had generated the built-in dataset (about 150 MB of scratch tensors, freed
   at once), the process kept some 140 MB it no longer used, for as long as it ran. ``malloc_trim`` hands it back.

Both do nothing where the C library is not glibc (macOS, musl, Windows).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import functools
from collections.abc import Callable

ARENAS = 2
_M_ARENA_MAX = -8  # mallopt's parameter number (malloc.h)


@functools.cache
def _glibc(name: str) -> Callable[..., int] | None:
    """One of glibc's malloc calls; None where the C library has none."""
    try:
        return getattr(ctypes.CDLL(ctypes.util.find_library("c")), name)
    except (OSError, AttributeError, TypeError):
        return None


def can_give_back() -> bool:
    """Whether this platform's allocator can be asked to return freed memory."""
    return _glibc("malloc_trim") is not None


def share_arenas(count: int = ARENAS) -> bool:
    """Let threads started from now on share at most ``count`` malloc arenas (cheap; idempotent); True when the
    allocator took the setting."""
    mallopt = _glibc("mallopt")
    return bool(mallopt(_M_ARENA_MAX, count)) if mallopt is not None else False


def give_back() -> bool:
    """Return the free memory at the top and inside of the allocator's heaps to the system (a few milliseconds);
    True when some was returned. Call it after a one-off computation whose scratch memory is freed, not per
    request."""
    trim = _glibc("malloc_trim")
    return bool(trim(0)) if trim is not None else False
