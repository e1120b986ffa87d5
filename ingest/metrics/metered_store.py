"""An evidence store that counts its failed operations by backend (for the dock's metrics).

The pipeline turns a store failure into a failed file with a reason; the count of such
failures per backend is what an operator alerts on (a full disk, a read-only file system, an
object whose bytes changed). Only failures of the store's own operations are counted, not
errors raised by the code that writes into a staging file.
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Callable, Iterator

from ingest.context import Context
from storage.blobs.localstore import Filed, LocalStore, Staging
from storage.errors import StorageError


class MeteredStore(LocalStore):
    """``LocalStore`` whose ``staging``, ``file`` and ``hash_object`` call ``on_error(backend)``
    before letting a ``StorageError`` or ``OSError`` go on."""

    def __init__(self, store: LocalStore, on_error: Callable[[str], None]) -> None:
        super().__init__(store.root)
        self._on_error = on_error

    @contextlib.contextmanager
    def staging(self, *, read_only: bool = False) -> Iterator[Staging]:
        with contextlib.ExitStack() as stack:
            try:
                staging = stack.enter_context(super().staging(read_only=read_only))
            except (StorageError, OSError):
                self._on_error(self.backend)
                raise
            yield staging

    def file(self, staging: Staging, sha256: str, size: int) -> Filed:
        try:
            return super().file(staging, sha256, size)
        except (StorageError, OSError):
            self._on_error(self.backend)
            raise

    def hash_object(self, sha256: str, *, drop_cache: bool = True) -> tuple[str, int]:
        try:
            return super().hash_object(sha256, drop_cache=drop_cache)
        except (StorageError, OSError):
            self._on_error(self.backend)
            raise


def metered(ctx: Context, on_error: Callable[[str], None]) -> Context:
    """The same context with its store counting failures."""
    if isinstance(ctx.store, MeteredStore):
        return ctx
    return dataclasses.replace(ctx, store=MeteredStore(ctx.store, on_error))
