"""Metric writers for a run directory: JSONL and CSV always, TensorBoard optional.

The host driver calls `MetricWriter.write` once per chunk with one record per run index (see
the "Run directory" contract in DESIGN.md). `metrics.jsonl` is the source of truth: one JSON
object per line, appended, flushed and fsynced on every call so a crash loses at most the line
being written. `metrics.csv` is a derived view of the same records for spreadsheets and pandas;
its header is the union of the keys seen so far, and it is rebuilt from `metrics.jsonl` whenever
a new key appears or a writer reopens an existing directory.

Non-finite floats are not valid JSON, so they are written as the strings ``"nan"``, ``"inf"``
and ``"-inf"``; `read_metrics` turns those strings back into floats. (A string metric whose value
is literally one of those three words therefore reads back as a float.)

Example:

    >>> import tempfile
    >>> workdir = tempfile.mkdtemp()
    >>> with MetricWriter(workdir) as writer:
    ...     writer.write([{"run": 0, "step": 10, "loss": 0.5},
    ...                   {"run": 1, "step": 10, "loss": float("nan")}])
    >>> [r["loss"] for r in read_metrics(workdir)]
    [0.5, nan]
    >>> truncate_metrics(workdir, 1)
    1
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import TracebackType
from typing import Any

import numpy as np

from jaxrl.atomic import write_text

METRICS_JSONL = "metrics.jsonl"
METRICS_CSV = "metrics.csv"
TENSORBOARD_DIR = "tb"

Scalar = bool | int | float | str | None

_NONFINITE_TO_STR = {math.inf: "inf", -math.inf: "-inf"}
_STR_TO_NONFINITE = {"nan": math.nan, "inf": math.inf, "-inf": -math.inf}


# --------------------------------------------------------------------------- value conversion


def _to_scalar(key: str, value: Any) -> Scalar:
    """A plain Python scalar for `value` (numpy and JAX scalars included); raises otherwise."""
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, np.generic):
        return _to_scalar(key, value.item())
    if hasattr(value, "__array__"):  # 0-d numpy / JAX arrays
        array = np.asarray(value)
        if array.ndim == 0:
            return _to_scalar(key, array.item())
        raise TypeError(
            f"metric {key!r} must be a scalar, got an array of shape {array.shape}; "
            "write one record per run index"
        )
    raise TypeError(f"metric {key!r} has unsupported type {type(value).__name__}")


def _clean_record(record: Mapping[str, Any]) -> dict[str, Scalar]:
    if not isinstance(record, Mapping):
        raise TypeError(f"a metric record must be a mapping, got {type(record).__name__}")
    clean = {}
    for key, value in record.items():
        if not isinstance(key, str):
            raise TypeError(f"metric keys must be strings, got {key!r}")
        clean[key] = _to_scalar(key, value)
    return clean


def _encode_value(value: Scalar) -> Scalar:
    if isinstance(value, float) and not math.isfinite(value):
        return "nan" if math.isnan(value) else _NONFINITE_TO_STR[value]
    return value


def _decode_value(value: Any) -> Any:
    if isinstance(value, str):
        return _STR_TO_NONFINITE.get(value, value)
    return value


def _json_line(record: Mapping[str, Scalar]) -> str:
    encoded = {key: _encode_value(value) for key, value in record.items()}
    return json.dumps(encoded, allow_nan=False) + "\n"


def _csv_cell(value: Scalar) -> str:
    if value is None:
        return ""
    if isinstance(value, float):
        return str(_encode_value(value)) if not math.isfinite(value) else repr(value)
    return str(value)


# --------------------------------------------------------------------------- file helpers


def _union_keys(records: Iterable[Mapping[str, Any]], keys: list[str] | None = None) -> list[str]:
    """Keys in first-seen order, extending `keys` (returned as a new list)."""
    out = list(keys or [])
    seen = set(out)
    for record in records:
        for key in record:
            if key not in seen:
                seen.add(key)
                out.append(key)
    return out


def _csv_text(records: Sequence[Mapping[str, Scalar]], keys: Sequence[str]) -> str:
    if not keys:
        return ""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(keys)
    for record in records:
        writer.writerow([_csv_cell(record.get(key)) for key in keys])
    return buffer.getvalue()


def _csv_rows(records: Sequence[Mapping[str, Scalar]], keys: Sequence[str]) -> str:
    """The CSV text of `records` without the header line."""
    if not keys:
        return ""
    text = _csv_text(records, keys)
    return text[text.index("\n") + 1 :]


def _append(path: Path, text: str) -> None:
    with open(path, "a", encoding="utf-8", newline="") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())


def _parse_line(line: str) -> dict[str, Any] | None:
    """The record on `line`, or None when it is not a complete JSON object."""
    try:
        record = json.loads(line)
    except json.JSONDecodeError:
        return None
    return record if isinstance(record, dict) else None


def _record_lines(path: Path) -> tuple[list[str], bool]:
    """The lines of `path` holding complete records, and whether the file needs repair.

    Every newline-terminated non-blank line must be a JSON object. The text after the last
    newline is the line that was being written when a process stopped: it is kept when it is
    a complete object and ignored otherwise. The file needs repair (before anything is appended
    to it) when it does not end with a newline.
    """
    if not path.exists():
        return [], False
    text = path.read_text(encoding="utf-8")
    *complete, tail = text.split("\n")
    lines = []
    for number, line in enumerate(complete, start=1):
        if not line.strip():
            continue
        if _parse_line(line) is None:
            raise ValueError(f"{path}:{number}: not a JSON object: {line[:80]!r}")
        lines.append(line)
    if tail.strip() and _parse_line(tail) is not None:
        lines.append(tail)
    return lines, tail != ""


def _decode_record(line: str) -> dict[str, Any]:
    return {key: _decode_value(value) for key, value in json.loads(line).items()}


# --------------------------------------------------------------------------- public API


def read_metrics(workdir: str | os.PathLike[str]) -> list[dict[str, Any]]:
    """Reads the records of `workdir/metrics.jsonl` back, in the order they were written.

    The strings ``"nan"``, ``"inf"`` and ``"-inf"`` become floats again. A truncated last line
    (a crash while writing) is ignored; any other malformed line raises.

    Args:
      workdir: the run directory.

    Returns:
      One dict per record; an empty list when the file does not exist.

    Raises:
      ValueError: a line other than the last one is not a JSON object.
    """
    lines, _ = _record_lines(Path(workdir) / METRICS_JSONL)
    return [_decode_record(line) for line in lines]


def truncate_metrics(workdir: str | os.PathLike[str], num_records: int) -> int:
    """Keeps only the first `num_records` records of `metrics.jsonl` and `metrics.csv`.

    Used when resuming from a checkpoint, so that the records written after it (by the run that
    stopped) are not duplicated. Both files are rewritten atomically (temporary file, fsync,
    `os.replace`); the kept JSONL lines are preserved byte for byte and the CSV is rebuilt from
    them. Call it before opening a `MetricWriter` on the directory.

    Args:
      workdir: the run directory.
      num_records: how many records to keep; more than the file holds keeps them all.

    Returns:
      The number of records kept.

    Raises:
      ValueError: `num_records` is negative, or the file has a malformed line.
    """
    if num_records < 0:
        raise ValueError(f"num_records must be non-negative, got {num_records}")
    workdir = Path(workdir)
    jsonl_path = workdir / METRICS_JSONL
    if not jsonl_path.exists():
        return 0
    lines, _ = _record_lines(jsonl_path)
    kept = lines[:num_records]
    write_text(jsonl_path, "".join(line + "\n" for line in kept))
    records = [_decode_record(line) for line in kept]
    write_text(workdir / METRICS_CSV, _csv_text(records, _union_keys(records)))
    return len(kept)


class MetricWriter:
    """Appends metric records to `metrics.jsonl` and `metrics.csv`, optionally TensorBoard.

    Each record is a flat mapping from metric name to a scalar (Python, numpy or 0-d JAX);
    typically one record per run index per chunk, with keys such as ``"run"``, ``"step"``,
    ``"env_steps"``, ``"grad_steps"`` and the losses and evaluation scores. Every `write` call
    flushes and fsyncs both files. Opening a writer on a directory that already holds metrics
    (resuming) appends to them: a truncated last JSONL line is first removed and the CSV is
    rebuilt from the JSONL so the two agree.

    With ``tensorboard=True`` each numeric value is also written as a scalar through
    tensorboardX, one event directory per run index (``tb/run_<i>``, or ``tb`` for records
    without a run key) so TensorBoard overlays the seeds. The global step is ``record["step"]``
    when present, else ``env_steps + grad_steps`` (missing terms count as 0), else the number
    of records written so far for that run index.

    In multi-host jobs only one process should own a writer.

    Args:
      workdir: the run directory; created if missing.
      tensorboard: also write TensorBoard event files (needs tensorboardX).
      run_key: the record key that holds the run index.

    Raises:
      ImportError: `tensorboard` is true and tensorboardX is not installed.
    """

    def __init__(
        self,
        workdir: str | os.PathLike[str],
        tensorboard: bool = False,
        run_key: str = "run",
    ) -> None:
        self.workdir = Path(workdir)
        self.workdir.mkdir(parents=True, exist_ok=True)
        self.jsonl_path = self.workdir / METRICS_JSONL
        self.csv_path = self.workdir / METRICS_CSV
        self.run_key = run_key
        self._closed = False
        self._keys: list[str] = []
        self._summary_writer_cls = _import_summary_writer() if tensorboard else None
        self._tb_writers: dict[Any, Any] = {}
        self._tb_counts: dict[Any, int] = {}
        self._resume()

    @property
    def keys(self) -> list[str]:
        """The CSV header: every key seen so far, in first-seen order."""
        return list(self._keys)

    def _resume(self) -> None:
        lines, needs_repair = _record_lines(self.jsonl_path)
        if needs_repair:
            # Appending after a partial or unterminated line would merge two records.
            write_text(self.jsonl_path, "".join(line + "\n" for line in lines))
        records = [_decode_record(line) for line in lines]
        self._keys = _union_keys(records)
        write_text(self.csv_path, _csv_text(records, self._keys))

    def write(self, records: Sequence[Mapping[str, Any]]) -> None:
        """Appends `records`, one JSONL line and one CSV row each, then flushes and fsyncs.

        Args:
          records: flat mappings from metric name to scalar.

        Raises:
          TypeError: a key is not a string or a value is not a scalar.
          ValueError: the writer is closed.
        """
        if self._closed:
            raise ValueError("write() on a closed MetricWriter")
        if isinstance(records, Mapping):
            raise TypeError("write() takes a list of records; wrap a single record in a list")
        clean = [_clean_record(record) for record in records]
        if not clean:
            return
        _append(self.jsonl_path, "".join(_json_line(record) for record in clean))
        keys = _union_keys(clean, self._keys)
        if keys != self._keys:
            self._keys = keys
            all_records = read_metrics(self.workdir)
            write_text(self.csv_path, _csv_text(all_records, self._keys))
        else:
            _append(self.csv_path, _csv_rows(clean, self._keys))
        if self._summary_writer_cls is not None:
            self._write_tensorboard(clean)

    def _write_tensorboard(self, records: Sequence[Mapping[str, Scalar]]) -> None:
        step_keys = {"step", "env_steps", "grad_steps", self.run_key}
        touched = set()
        for record in records:
            run = record.get(self.run_key)
            writer = self._tb_writers.get(run)
            if writer is None:
                logdir = self.workdir / TENSORBOARD_DIR
                if run is not None:
                    logdir = logdir / f"run_{run}"
                writer = self._summary_writer_cls(logdir=str(logdir))
                self._tb_writers[run] = writer
            count = self._tb_counts.get(run, 0)
            self._tb_counts[run] = count + 1
            step = _tensorboard_step(record, default=count)
            for key, value in record.items():
                if key in step_keys or isinstance(value, bool | str) or value is None:
                    continue
                writer.add_scalar(key, value, global_step=step)
            touched.add(run)
        for run in touched:
            self._tb_writers[run].flush()

    def close(self) -> None:
        """Closes the TensorBoard writers; further `write` calls raise. Idempotent."""
        if self._closed:
            return
        self._closed = True
        for writer in self._tb_writers.values():
            writer.close()
        self._tb_writers.clear()

    def __enter__(self) -> MetricWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


def _tensorboard_step(record: Mapping[str, Scalar], default: int) -> int:
    def usable(value: Any) -> bool:
        return (
            isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
        )

    if usable(record.get("step")):
        return int(record["step"])
    terms = [record.get(key) for key in ("env_steps", "grad_steps")]
    terms = [term for term in terms if usable(term)]
    return int(sum(terms)) if terms else default


def _import_summary_writer() -> Any:
    try:
        from tensorboardX import SummaryWriter
    except ImportError as e:
        raise ImportError(
            "MetricWriter(tensorboard=True) needs tensorboardX: "
            "pip install tensorboardX  (or pip install 'jaxrl[tensorboard]')"
        ) from e
    return SummaryWriter
