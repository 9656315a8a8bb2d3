"""Per-thread buffers reused from call to call for tensors that never leave a pipeline call.

Every training batch needs the same large temporaries (the float copy of a uint8 batch, the sampling grid).
Allocating them fresh each time costs more than the arithmetic on a CPU: glibc hands the freed memory back to
the kernel between batches, and touching it again page-faults (bench/augment.py measures this). Buffers are
per thread, so concurrent sessions never share one.
"""

from __future__ import annotations

import threading

import torch

_local = threading.local()


def buffer(name: str, shape: tuple[int, ...], dtype: torch.dtype, device: torch.device) -> torch.Tensor:
    """This thread's buffer called ``name``, of that shape, dtype and device (contents undefined)."""
    buffers = getattr(_local, "buffers", None)
    if buffers is None:
        buffers = _local.buffers = {}
    buf = buffers.get(name)
    if buf is None or buf.shape != shape or buf.dtype != dtype or buf.device != device:
        buf = buffers[name] = torch.empty(shape, dtype=dtype, device=device)
    return buf


def holds(name: str, t: torch.Tensor) -> bool:
    """Whether ``t`` is (a view starting at) this thread's buffer called ``name``."""
    buf = getattr(_local, "buffers", {}).get(name)
    return buf is not None and t.device == buf.device and t.data_ptr() == buf.data_ptr()
