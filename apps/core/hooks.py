"""A small hook registry: how a lower floor calls into a higher one without importing it.

The higher app registers its implementation at ``ready()`` (``hooks.register("audit.record",
audit_record)``); the lower app calls ``hooks.call("audit.record", …)``. A hook that nobody
registered raises instead of silently doing nothing: an audit row or a pipeline step that would
be dropped is a bug to surface, not to hide. For work that may run later, enqueue a Celery task
by name instead (``apps.core.tasks``).
"""

from __future__ import annotations

from typing import Callable


class HookNotRegistered(LookupError):
    pass


_hooks: dict[str, Callable] = {}


def register(name: str, implementation: Callable) -> None:
    """Register ``implementation`` for ``name``; registering the same one again is a no-op."""
    current = _hooks.get(name)
    if current is not None and current != implementation:
        raise ValueError(f"hook {name!r} is already registered to {current.__module__}.{current.__qualname__}")
    _hooks[name] = implementation


def call(name: str, /, *args, **kwargs):
    try:
        implementation = _hooks[name]
    except KeyError:
        raise HookNotRegistered(f"no app registered the hook {name!r} (is its app in INSTALLED_APPS?)") from None
    return implementation(*args, **kwargs)
