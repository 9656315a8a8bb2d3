"""Scratch buffers: the library's one mechanism for reusing memory from call to call.

Every training batch needs the same large temporaries (the float copy of a uint8 batch, the sampling grid, a
noise field, colour planes). Allocating them fresh each time costs more than the arithmetic on a CPU: glibc hands
the freed memory back to the kernel between batches, and touching it again page-faults (bench/augment.py measures
this). ``buffer`` hands out this thread's buffer of a given name instead, so concurrent sessions never share one.

The rule that keeps it safe: a scratch buffer is the temporary of the call that asked for it, overwritten by the
next call that asks for the same name, so it never reaches a caller who did not ask for reuse. Functions that can
write into one say so (``reuse=True``) and their callers consume the result at once. The one buffer that lives
across several steps is the pipeline's float copy of a uint8 batch, which its steps overwrite in place: the
pipeline keeps hold of that tensor and copies a result that is still it before returning (see
``Pipeline.apply``).
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
