"""What the HDF5 and Minari readers share: recognising a file's format, and h5py's errors."""

from __future__ import annotations

import pathlib

_HDF5_SIGNATURE = b"\x89HDF\r\n\x1a\n"


def read_signature(path: pathlib.Path, offset: int, size: int) -> bytes:
    with open(path, "rb") as f:
        f.seek(offset)
        return f.read(size)


def has_hdf5_signature(path: pathlib.Path) -> bool:
    """Whether `path` starts with the HDF5 superblock signature (or has it after a user block)."""
    # The superblock sits at 0 or, after a user block, at 512, 1024, 2048, ... bytes.
    file_size = path.stat().st_size
    offset = 0
    while offset + len(_HDF5_SIGNATURE) <= file_size:
        if read_signature(path, offset, len(_HDF5_SIGNATURE)) == _HDF5_SIGNATURE:
            return True
        offset = 512 if offset == 0 else offset * 2
    return False


#: What h5py raises for a truncated or corrupt file.
HDF5Error = (OSError, RuntimeError, KeyError, ValueError, TypeError)
