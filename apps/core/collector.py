"""Pausing Python's cyclic garbage collector around a bounded burst of acyclic allocations."""

from __future__ import annotations

import contextlib
import gc


@contextlib.contextmanager
def collector_paused():
    """Pause the cyclic garbage collector while one bounded unit of work runs.

    For work that allocates tens of thousands of dicts and lists that stay alive until it ends
    (an OTLP export decoded, mapped and written; a detector pass over decoded turns): with
    Django's ~100k long-lived objects, the collections those allocations trigger cost as much
    CPU as the work itself. The callers create no reference cycles and bound what they allocate;
    reference counting still frees everything when the work ends. Nested or already-paused use
    leaves the collector as it found it.
    """
    if not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
