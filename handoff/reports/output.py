"""Files written whole or not at all: a report or export goes to a temporary file beside its target and is
renamed over it only once complete, so an error or an interrupted run never leaves half a file."""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import IO


@contextlib.contextmanager
def atomic_output(path: Path) -> Iterator[IO[bytes]]:
    """Opened before any work is done, so an unwritable place fails first; the rename is atomic on one
    file system. The file is the owner's alone (mode 0600, mkstemp's): exports carry personal data."""
    if path.is_dir():
        raise IsADirectoryError(21, "Is a directory", str(path))
    descriptor, temporary = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(descriptor, "wb") as stream:
            yield stream
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(temporary)
        raise
