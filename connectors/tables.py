"""Tabular files for backfills: read a manifest of videos, write the Parquet report.

Manifests are Parquet, CSV or JSON Lines (by extension), local or in object storage (`s3://`).
"""

from __future__ import annotations

import csv
import io
import os
from collections.abc import Iterator
from typing import Any

import pyarrow as pa
import pyarrow.json as pa_json
import pyarrow.parquet as pq

from connectors.storage import open_store

FORMATS = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".jsonl": "jsonl",
           ".ndjson": "jsonl", ".json": "jsonl"}  # fmt: skip


def table_format(path: str) -> str:
    """ "parquet", "csv" or "jsonl" from the file name; ValueError for anything else."""
    extension = os.path.splitext(path.split("?", 1)[0])[1].lower()
    if extension not in FORMATS:
        raise ValueError(
            f"{path}: unknown manifest format {extension or '(none)'}; use .parquet, .csv or .jsonl"
        )
    return FORMATS[extension]


def _read_bytes(path: str) -> bytes:
    if "://" in path and not path.startswith("file://"):
        folder, _, name = path.rpartition("/")
        return open_store(folder).get_bytes(name)
    local = path[len("file://") :] if path.startswith("file://") else path
    with open(local, "rb") as f:
        return f.read()


def read_rows(path: str) -> Iterator[dict[str, Any]]:
    """Every row of a manifest as a dict of its columns (all values as read, or None)."""
    data = _read_bytes(path)
    kind = table_format(path)
    if kind == "parquet":
        table = pq.read_table(io.BytesIO(data))
    elif kind == "csv":
        # the csv module keeps every value as text: ids like "007" stay as written
        text = data.decode("utf-8-sig")
        for row in csv.DictReader(io.StringIO(text, newline="")):
            yield {k.strip(): (v if v != "" else None) for k, v in row.items() if k is not None}
        return
    else:
        table = pa_json.read_json(io.BytesIO(data))
    yield from table.to_pylist()


def write_table(path: str, table: pa.Table) -> str:
    """Write `table` as Parquet to a local path or a storage URL; returns where it went."""
    buffer = io.BytesIO()
    pq.write_table(table, buffer)
    if "://" in path and not path.startswith("file://"):
        folder, _, name = path.rpartition("/")
        return open_store(folder).put_bytes(
            name, buffer.getvalue(), "application/vnd.apache.parquet"
        )
    local = path[len("file://") :] if path.startswith("file://") else path
    directory = os.path.dirname(os.path.abspath(local))
    os.makedirs(directory, exist_ok=True)
    partial = f"{local}.partial"
    with open(partial, "wb") as f:
        f.write(buffer.getvalue())
    os.replace(partial, local)  # readers never see half a report
    return os.path.abspath(local)
