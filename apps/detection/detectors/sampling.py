"""A random sample of turns for review (``random_sample``)."""

from __future__ import annotations

import hashlib
import uuid


def sampled(turn_id, percentage: float) -> bool:
    """Deterministic by turn id: the same turn is in or out of the sample on every run.

    ``runner.run_detectors`` inlines this test (same hash, same cut-off) in its per-turn loop."""
    if percentage <= 0:
        return False
    key = turn_id.bytes if isinstance(turn_id, uuid.UUID) else str(turn_id).encode()
    digest = hashlib.blake2b(key, digest_size=8).digest()
    return int.from_bytes(digest, "big") % 1_000_000 < percentage * 10_000
