"""The garbage collector's thresholds for a serving process.

After start a server holds some 150,000 objects the cyclic collector tracks (modules, classes,
SQLAlchemy's and FastAPI's structures), and a full collection walks every one of them: 40 to
90 ms on a shared two-core machine. With CPython's default threshold (a young collection every
700 net allocations) one view of the Audit Log page, some 14,000 objects alive until its
response is written, pushed enough of them into the old generation to start a full collection
every six or seven views: the page's 95th percentile was that collection, not the page. A
young collection every 20,000 allocations lets most of a view's objects be freed by reference
counting before any collection looks at them, so full collections become rare; cycles are
still collected, a little later.
"""

from __future__ import annotations

import gc
from collections.abc import Iterator
from contextlib import contextmanager

# (young, middle, old): allocations before a young collection, young collections before a
# middle one, middle collections before a full one (CPython also waits until a full
# collection would examine a quarter more objects than the last one).
SERVING_THRESHOLDS = (20_000, 20, 20)


def tune_for_serving() -> None:
    """Set this process's collector thresholds for serving requests (``auditledger serve``)."""
    gc.set_threshold(*SERVING_THRESHOLDS)


@contextmanager
def serving_collector() -> Iterator[None]:
    """The serving thresholds for the block, the previous ones restored after it (for an
    in-process measurement of the server, which should collect like ``serve`` does)."""
    previous = gc.get_threshold()
    tune_for_serving()
    try:
        yield
    finally:
        gc.set_threshold(*previous)
