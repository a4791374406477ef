"""Writers for results: TSV or Parquet tables, and the input VCF annotated with genomix INFO fields.

The format follows the output file's extension; `-` streams VCF to stdout.
"""

from __future__ import annotations

import glob
import io
import math
import os
import re
import socket
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pandas as pd
import pysam

from genomix.errors import NO_SPACE, GenomixError, Interrupted, write_error

TABLE_FORMATS = {".tsv": "tsv", ".txt": "tsv", ".parquet": "parquet"}
VCF_MODES = {".vcf": "w", ".vcf.gz": "wz", ".bcf": "wb"}


def output_format(path: str | os.PathLike) -> str:
    """`tsv`, `parquet`, `vcf`, `vcf.gz` or `bcf` from the file name (`-` is VCF on stdout)."""
    name = str(path)
    if name == "-":
        return "vcf"
    lower = name.lower()
    for suffix, kind in TABLE_FORMATS.items():
        if lower.endswith(suffix):
            return kind
    for suffix in VCF_MODES:
        if lower.endswith(suffix):
            return suffix.lstrip(".")
    raise GenomixError(
        f"cannot tell the output format of {name}: end it in .tsv, .parquet, .vcf, .vcf.gz or .bcf "
        "(or use - for stdout)"
    )


class TableWriter:
    """Appends DataFrame chunks to a TSV (missing values as NA) or Parquet file; `metadata` ({key: text},
    the run's provenance) goes into the Parquet file's key-value metadata."""

    def __init__(self, path: str | os.PathLike, format: str | None = None, metadata: dict | None = None):
        self.path = Path(path)
        self.format = format or output_format(path)
        self.metadata = {str(key): str(value) for key, value in (metadata or {}).items()}
        self._parquet = None
        self._wrote_header = False

    def write(self, frame: pd.DataFrame) -> None:
        if self.format == "tsv":
            frame.to_csv(
                self.path,
                sep="\t",
                index=False,
                na_rep="NA",
                mode="a" if self._wrote_header else "w",
                header=not self._wrote_header,
            )
            self._wrote_header = True
            return
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        if self._parquet is None:
            schema = table.schema.with_metadata((table.schema.metadata or {}) | self.metadata)
            self._parquet = pq.ParquetWriter(self.path, schema)
        self._parquet.write_table(table.cast(self._parquet.schema))

    def close(self, empty: pd.DataFrame | None = None) -> None:
        """Finish the file; `empty` gives the columns when nothing was written."""
        if self._parquet is None and not self._wrote_header and empty is not None:
            self.write(empty)
        if self._parquet is not None:
            self._parquet.close()


class AnnotatedVcfWriter:
    """Writes input records unchanged but for added INFO fields, with header lines recording provenance.

    `info`: `{tag: (number, type, description)}`; `meta`: `{key: value}` header lines (`##key=value`).
    VCF text (plain, bgzipped, stdout) is written line by line, so records stay exactly as
    they were; BCF goes through pysam, which adds `INFO/END` to symbolic alleles that lack it.
    """

    def __init__(
        self, path: str | os.PathLike, template: pysam.VariantHeader, info: dict, meta: dict, format: str | None = None
    ):
        self.header = template.copy()
        for key, value in meta.items():
            self.header.add_line(f"##{key}={value}")
        for tag, (number, kind, description) in info.items():
            if tag in self.header.info:
                self.header.info.remove_header(tag)
            self.header.info.add(tag, number, kind, description)
        self.format = format or output_format(path)
        self.path = str(path)
        if self.format == "bcf":
            if "END" not in self.header.info:
                self.header.info.add("END", 1, "Integer", "End position of the variant described in this record")
            self._bcf = pysam.VariantFile(self.path, "wb", header=self.header)
            self._text = None
        else:
            self._bcf = None
            if self.path == "-":
                self._text = sys.stdout
            elif self.format == "vcf.gz":
                self._text = io.TextIOWrapper(pysam.BGZFile(self.path, "wb"), encoding="utf-8")
            else:
                self._text = open(self.path, "w", encoding="utf-8")
            self._text.write(str(self.header))

    def write(self, record: pysam.VariantRecord, values: dict) -> None:
        """Write `record` with `values[tag]` set (a tuple, None entries written as `.`)."""
        record.translate(self.header if self._bcf is None else self._bcf.header)
        for tag, value in values.items():
            if value is not None and any(v is not None for v in value):
                if self.header.info[tag].type == "String":  # pysam writes a None string as nothing, not `.`
                    value = tuple("." if v is None else v for v in value)
                record.info[tag] = value
        if self._bcf is not None:
            self._bcf.write(record)
        else:
            self._text.write(str(record))

    def close(self) -> None:
        if self._bcf is not None:
            self._bcf.close()
        elif self._text is sys.stdout:
            self._text.flush()
        else:
            self._text.close()


def vcf_float(value: float) -> float | None:
    """A score as a VCF Float value: None (written `.`) for NaN."""
    return None if value is None or math.isnan(value) else float(value)


_HOST = re.sub(r"[^A-Za-z0-9._-]", "_", socket.gethostname()) or "host"


def partial_path(path: Path) -> Path:
    """Where `path` is written until it is complete: `.NAME.<host>-<pid>.partial` beside it, hidden,
    naming the process that writes it, and ending in `.partial` so that no tool takes it for a result."""
    return path.with_name(f".{path.name}.{_HOST}-{os.getpid()}.partial")


def _running(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def remove_stale_partials(path: Path) -> list[Path]:
    """Remove the partials of `path` left by processes of this host that no longer run (a run killed by
    SIGKILL or a power cut cannot remove its own); those of other hosts sharing the folder stay.
    Returns the removed files."""
    named = re.compile(rf"\.{re.escape(path.name)}\.(?P<host>.+)-(?P<pid>\d+)\.partial")
    removed = []
    for partial in path.parent.glob(f".{glob.escape(path.name)}.*.partial"):
        found = named.fullmatch(partial.name)
        if found and found["host"] == _HOST and not _running(int(found["pid"])):
            partial.unlink(missing_ok=True)
            removed.append(partial)
    return removed


def check_outputs(paths: list) -> None:
    """Refuse, before anything is written, an output named twice or one whose folder does not exist.
    `paths`: paths or names; None and `-` are stdout."""
    seen = set()
    for path in paths:
        stdout = path is None or str(path) == "-"
        key = "-" if stdout else os.path.realpath(path)
        if key in seen:
            raise GenomixError(f"{'standard output' if stdout else path} is named as an output twice; name each once")
        seen.add(key)
        if not stdout and not Path(path).parent.exists():
            raise GenomixError(f"output folder {Path(path).parent} does not exist; create it first")


def _file_mode() -> int:
    """The mode a new file gets here (0o644 under the usual umask 022)."""
    mask = os.umask(0o022)
    os.umask(mask)
    return 0o666 & ~mask


def _names(paths: list[Path | None]) -> str:
    return ", ".join("standard output" if path is None else str(path) for path in paths)


@contextmanager
def written_whole(paths: list[Path | None]) -> Iterator[list[Path | None]]:
    """Partial names to write `paths` under (None, for stdout, stays None): each replaces its path
    when the block ends without error, with the mode of a new file; all are removed when it fails or
    is interrupted, so an output file is complete or as it was before. An output named twice is
    refused, partials left by dead runs are removed, and each partial is created before the block runs,
    so that a folder one cannot write to fails before any work."""
    check_outputs(paths)
    partials = [None if path is None else partial_path(path) for path in paths]
    try:
        for path, partial in zip(paths, partials):
            if path is not None:
                remove_stale_partials(path)
                partial.open("wb").close()
        yield partials
        for partial in partials:
            if partial is not None:
                os.chmod(partial, _file_mode())
        for path, partial in zip(paths, partials):
            if path is not None:
                os.replace(partial, path)
    except BaseException as error:
        for partial in partials:
            if partial is not None:
                partial.unlink(missing_ok=True)
        if isinstance(error, Interrupted):
            error.left.append(f"{_names(paths)} left as they were, no partial file remains")
        if isinstance(error, OSError) and (error.errno in NO_SPACE or str(error.filename) in map(str, partials)):
            fixable = write_error(error, _names(paths))
            if fixable is not None:
                raise fixable from error
        raise
