"""Atomic file replacement: a reader sees the old file or the new one, never half of one."""

from __future__ import annotations

import contextlib
import os
import pathlib
import secrets
from collections.abc import Iterator


def fsync_dir(directory: str | os.PathLike) -> None:
    """Makes a rename inside `directory` durable; best effort where a platform cannot."""
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


@contextlib.contextmanager
def atomic_target(path: str | os.PathLike) -> Iterator[pathlib.Path]:
    """Yields a fresh temporary path beside `path` (its directory made if missing); when the
    block succeeds, fsyncs the file, renames it onto `path` and fsyncs the directory; when it
    raises, removes the temporary file and re-raises.

    Example:
        >>> import tempfile
        >>> target = pathlib.Path(tempfile.mkdtemp()) / "out.txt"
        >>> with atomic_target(target) as tmp:
        ...     _ = tmp.write_text("done")
        >>> target.read_text()
        'done'
    """
    path = pathlib.Path(path).expanduser()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}.tmp")
    # os.open with 0o666 lets the umask decide the final permissions, as a plain open would.
    os.close(os.open(tmp, os.O_CREAT | os.O_EXCL | os.O_WRONLY, 0o666))
    try:
        yield tmp
        with open(tmp, "rb+") as f:
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    fsync_dir(path.parent)


def write_text(path: str | os.PathLike, text: str) -> None:
    """Replaces `path` with `text` (UTF-8, newlines as given) through `atomic_target`."""
    with atomic_target(path) as tmp, open(tmp, "w", encoding="utf-8", newline="") as f:
        f.write(text)
