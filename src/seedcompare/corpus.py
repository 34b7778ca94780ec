"""Read the local corpus: per-method vectors and the papers table.

Two vector formats are read:

* ``npy``: ``<dir>/vectors.npy`` (float32 or float16, shape N x d, memory-mapped) and
  ``<dir>/ids.npy`` (int64 corpus ids, length N, in row order).
* ``jsalt``: a text dump, gzip or plain, one paper per line: ``corpusId rowIndex v1 ... vd``.
  A rowIndex listed in ``absent_row_indexes`` (always -1) means the paper is not in that
  embedding, whatever vector the line carries.
* ``jsalt_dir``: a JSALT embedding folder read through memory maps (see
  :func:`read_jsalt_embedding_dir`).

A paper is *missing* for a method when it is absent, or when its vector is all zeros or has a
NaN or infinite component. Missing papers keep their corpus id (they are in the corpus and
are counted), but never get a vector: no vector is ever substituted.
"""

from __future__ import annotations

import gzip
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from .config import MethodSpec

log = logging.getLogger(__name__)

MISSING_ABSENT = "absent"
MISSING_ZERO = "zero_vector"
MISSING_NONFINITE = "nonfinite_vector"

PAPER_COLUMNS = {
    "corpus_id": "int64",
    "paper_id": "string",
    "title": "string",
    "year": "Int64",
    "citation_count": "Int64",
}


class InputDataError(ValueError):
    """An input file is unreadable or malformed; the message names the file (and line)."""


@dataclass
class MethodVectors:
    """Usable vectors of one method plus the ids it declares but cannot use.

    Attributes
    ----------
    ids : int64 array, shape (n,)
        Corpus ids of the usable rows, unique.
    vectors : float32 array, shape (n, d)
        Raw (not normalized) vectors, finite and non-zero.
    missing : DataFrame
        ``corpus_id`` (int64) and ``reason`` (absent / zero_vector / nonfinite_vector) of the
        papers listed by the source that have no usable vector.
    """

    ids: np.ndarray
    vectors: np.ndarray
    missing: pd.DataFrame


def _open_text(path: Path):
    with open(path, "rb") as handle:
        is_gzip = handle.read(2) == b"\x1f\x8b"
    if is_gzip:
        return gzip.open(path, "rt", encoding="utf-8")
    return open(path, "rt", encoding="utf-8")


def _parse_dump_line(path: Path, line_number: int, fields: list[str]):
    if len(fields) < 3:
        raise InputDataError(
            f"{path}:{line_number}: malformed line, expected "
            f"'corpusId rowIndex v1 ... vd', found {len(fields)} field(s)"
        )
    try:
        return int(fields[0]), int(fields[1]), np.array(fields[2:], dtype=np.float32)
    except ValueError as error:
        raise InputDataError(f"{path}:{line_number}: malformed line: {error}") from error


def read_jsalt_dump(path: str | Path, absent_row_indexes=(-1,)):
    """Parse a JSALT vector dump.

    Parameters
    ----------
    path : path to the dump, gzip-compressed or plain text.
    absent_row_indexes : rowIndex values that mean "not in this embedding".

    Returns
    -------
    ids : int64 array, shape (n,)
    vectors : float32 array, shape (n, d); rows of absent papers are left as parsed.
    absent : bool array, shape (n,)

    Raises
    ------
    InputDataError
        Naming the file and line number for a malformed line, a duplicate corpus id or a
        line whose vector length differs from the first line's.
    """
    path = Path(path)
    absent_set = set(absent_row_indexes) | {-1}
    ids, rows, absent = [], [], []
    first_line_of_id: dict[int, int] = {}
    dim = None
    try:
        with _open_text(path) as handle:
            for line_number, line in enumerate(handle, start=1):
                fields = line.split()
                if not fields:
                    continue
                corpus_id, row_index, vector = _parse_dump_line(path, line_number, fields)
                if dim is None:
                    dim = vector.size
                elif vector.size != dim:
                    raise InputDataError(
                        f"{path}:{line_number}: dimension mismatch, {vector.size} values "
                        f"but the first line has {dim}"
                    )
                if corpus_id in first_line_of_id:
                    raise InputDataError(
                        f"{path}:{line_number}: duplicate corpus id {corpus_id} "
                        f"(first seen on line {first_line_of_id[corpus_id]})"
                    )
                first_line_of_id[corpus_id] = line_number
                ids.append(corpus_id)
                rows.append(vector)
                absent.append(row_index in absent_set)
    except (OSError, EOFError, UnicodeDecodeError) as error:
        # gzip raises EOFError for a truncated file and BadGzipFile (an OSError) for a corrupt one.
        raise InputDataError(
            f"cannot read vector dump {path} (after {len(ids)} vectors): {error}") from error
    if dim is None:
        raise InputDataError(f"{path}: vector dump contains no vectors")
    return (
        np.asarray(ids, dtype=np.int64),
        np.vstack(rows).astype(np.float32, copy=False),
        np.asarray(absent, dtype=bool),
    )


class NpyRowReader:
    """Rows of a 2-d ``.npy`` file, read on demand with ``os.pread``.

    A slice, or an index array, is read run by run (one ``pread`` per run of consecutive rows)
    into a new array. Scanning a large file block by block therefore keeps the process's
    resident memory at one block. A memory map would keep every page it touched mapped, and
    the kernel maps neighbouring cached pages on each fault, so even scattered row reads would
    grow the resident size towards the file size. Indexing returns an ndarray.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        with open(self.path, "rb") as handle:
            version = np.lib.format.read_magic(handle)
            if version == (1, 0):
                shape, fortran_order, dtype = np.lib.format.read_array_header_1_0(handle)
            else:
                shape, fortran_order, dtype = np.lib.format.read_array_header_2_0(handle)
            self.offset = handle.tell()
        if fortran_order or len(shape) != 2:
            raise InputDataError(f"{self.path}: expected a C-ordered 2-d array, found shape {shape}")
        self.shape = tuple(shape)
        self.dtype = np.dtype(dtype)
        self.ndim = 2
        self._row_bytes = self.shape[1] * self.dtype.itemsize

    def __len__(self) -> int:
        return self.shape[0]

    def _read_range(self, start: int, stop: int) -> np.ndarray:
        count = max(0, stop - start)
        with open(self.path, "rb") as handle:
            data = os.pread(handle.fileno(), count * self._row_bytes, self.offset + start * self._row_bytes)
        return np.frombuffer(data, dtype=self.dtype).reshape(count, self.shape[1])

    def _read_rows(self, rows: np.ndarray) -> np.ndarray:
        """Read the rows ``rows`` (1-d, any order, repeats allowed) in that order."""
        rows = np.where(rows < 0, rows + self.shape[0], rows)
        if rows.size and (rows.min() < 0 or rows.max() >= self.shape[0]):
            raise IndexError(f"row index out of range for {self.path} with {self.shape[0]} rows")
        order = np.argsort(rows, kind="stable")
        ordered = rows[order]
        result = np.empty((rows.size, self.shape[1]), dtype=self.dtype)
        run_starts = np.flatnonzero(np.diff(ordered) != 1) + 1
        for run in np.split(np.arange(ordered.size), run_starts):
            if run.size:
                result[order[run]] = self._read_range(int(ordered[run[0]]), int(ordered[run[-1]]) + 1)
        return result

    def __getitem__(self, index):
        if isinstance(index, slice):
            start, stop, step = index.indices(self.shape[0])
            if step == 1:
                return self._read_range(start, stop)
            return self._read_rows(np.arange(start, stop, step))
        if isinstance(index, (int, np.integer)):
            return self._read_rows(np.array([index]))[0]
        index = np.asarray(index)
        if index.dtype == bool:
            index = np.flatnonzero(index)
        if index.ndim != 1 or not np.issubdtype(index.dtype, np.integer):
            raise TypeError(f"{self.path}: rows are read by slice, integer, or 1-d integer or boolean array")
        return self._read_rows(index.astype(np.int64))


def read_npy_vectors(directory: str | Path):
    """Open ``vectors.npy`` (memory-mapped) and ``ids.npy`` from ``directory``.

    Returns
    -------
    ids : int64 array, shape (n,)
    vectors : NpyRowReader of float32 or float16 rows, shape (n, d)

    Raises
    ------
    InputDataError
        When a file is missing or unreadable, has the wrong dtype or shape, the two lengths
        differ, or an id repeats.
    """
    directory = Path(directory)
    ids_path, vectors_path = directory / "ids.npy", directory / "vectors.npy"
    try:
        ids = np.load(ids_path)
        vectors = NpyRowReader(vectors_path)
    except (OSError, ValueError) as error:
        raise InputDataError(f"cannot read vectors in {directory}: {error}") from error
    if vectors.ndim != 2:
        raise InputDataError(f"{vectors_path}: expected a 2-d array, found shape {vectors.shape}")
    if vectors.dtype not in (np.float32, np.float16):
        raise InputDataError(f"{vectors_path}: expected dtype float32 or float16, found {vectors.dtype}")
    if ids.ndim != 1 or not np.issubdtype(ids.dtype, np.integer):
        raise InputDataError(f"{ids_path}: expected a 1-d integer array, found {ids.dtype} {ids.shape}")
    if ids.shape[0] != vectors.shape[0]:
        raise InputDataError(
            f"dimension mismatch: {ids_path} has {ids.shape[0]} ids but "
            f"{vectors_path} has {vectors.shape[0]} rows"
        )
    ids = ids.astype(np.int64, copy=False)
    unique, counts = np.unique(ids, return_counts=True)
    if (counts > 1).any():
        raise InputDataError(f"{ids_path}: duplicate corpus ids, e.g. {unique[counts > 1][:5].tolist()}")
    return ids, vectors


def read_jsalt_embedding_dir(directory: str | Path):
    """Open a JSALT embedding folder through memory maps.

    The folder holds ``embedding.f`` (float32, N x K, row-major, no header), ``record_size`` (a
    text file whose first integer is K), ``map.old_to_new.i`` (int32, indexed by corpus id,
    giving the row) and ``map.new_to_old.i`` (int32, row -> corpus id). A corpus id beyond the
    map, or mapped to 0 or -1, is absent from the embedding, so only mapped ids are listed.

    Returns
    -------
    ids : int64 array, shape (n,): corpus ids with a row, ascending.
    vectors : float32 memmap, shape (N, K): the whole embedding.
    rows : int64 array, shape (n,): the row of each id.

    Raises
    ------
    InputDataError
        When a file is missing, the sizes disagree, or a mapped row is outside the embedding.
    """
    directory = Path(directory)
    paths = {name: directory / name for name in
             ("embedding.f", "record_size", "map.old_to_new.i", "map.new_to_old.i")}
    for path in paths.values():
        if not path.is_file():
            raise InputDataError(f"JSALT embedding folder {directory}: missing file {path.name}")
    try:
        dim = int(paths["record_size"].read_text().split()[0])
    except (ValueError, IndexError) as error:
        raise InputDataError(f"{paths['record_size']}: expected an integer record size") from error
    size = paths["embedding.f"].stat().st_size
    if dim <= 0 or size % (4 * dim):
        raise InputDataError(
            f"dimension mismatch: {paths['embedding.f']} has {size} bytes, not a multiple of "
            f"4 x {dim} (record size from {paths['record_size']})")
    n_rows = size // (4 * dim)
    vectors = np.memmap(paths["embedding.f"], dtype=np.float32, mode="r", shape=(n_rows, dim))
    old_to_new = np.memmap(paths["map.old_to_new.i"], dtype=np.int32, mode="r")
    ids_parts, rows_parts = [], []
    block = 1 << 22
    for start in range(0, old_to_new.size, block):
        chunk = np.asarray(old_to_new[start:start + block])
        mapped = np.flatnonzero(chunk > 0)
        ids_parts.append(mapped.astype(np.int64) + start)
        rows_parts.append(chunk[mapped].astype(np.int64))
    ids = np.concatenate(ids_parts) if ids_parts else np.empty(0, dtype=np.int64)
    rows = np.concatenate(rows_parts) if rows_parts else np.empty(0, dtype=np.int64)
    if rows.size and rows.max() >= n_rows:
        bad = ids[rows >= n_rows][:5].tolist()
        raise InputDataError(
            f"{paths['map.old_to_new.i']}: corpus ids {bad} map to rows beyond the {n_rows} rows "
            f"of {paths['embedding.f']}")
    return ids, vectors, rows


def open_vector_source(spec: MethodSpec):
    """Open one method's vector source without loading the vectors.

    Returns
    -------
    ids : int64 array, shape (n,): every corpus id the source lists.
    vectors : array or memmap, shape (N, d).
    rows : int64 array, shape (n,): the row of ``vectors`` of each id.
    absent : bool array, shape (n,): ids the source marks as not in the embedding.
    """
    if spec.format == "jsalt":
        ids, vectors, absent = read_jsalt_dump(spec.path, spec.absent_row_indexes)
        rows = np.arange(ids.size, dtype=np.int64)
    elif spec.format == "jsalt_dir":
        ids, vectors, rows = read_jsalt_embedding_dir(spec.path)
        absent = np.zeros(ids.size, dtype=bool)
    else:
        ids, vectors = read_npy_vectors(spec.path)
        rows = np.arange(ids.size, dtype=np.int64)
        absent = np.zeros(ids.size, dtype=bool)
    return ids, vectors, rows, absent


def _missing_reasons(vectors, rows: np.ndarray, absent: np.ndarray, block_rows: int) -> np.ndarray:
    """Return per id "" (usable), or why its vector is missing; reads ``block_rows`` at a time."""
    reason = np.full(rows.size, "", dtype=object)
    for start in range(0, rows.size, block_rows):
        chunk = np.asarray(vectors[rows[start:start + block_rows]])
        nonfinite = ~np.isfinite(chunk).all(axis=1)
        zero = ~nonfinite & ~chunk.any(axis=1)
        part = reason[start:start + block_rows]
        part[zero] = MISSING_ZERO
        part[nonfinite] = MISSING_NONFINITE
    reason[absent] = MISSING_ABSENT
    return reason


def _log_missing(name: str, n_listed: int, missing: pd.DataFrame) -> None:
    counts = ", ".join(f"{k}={v}" for k, v in missing["reason"].value_counts().items()) or "none"
    log.info("method %s: %d papers, %d usable, %d missing (%s)",
             name, n_listed, n_listed - len(missing), len(missing), counts)


def load_method_vectors(spec: MethodSpec, block_rows: int = 65536) -> MethodVectors:
    """Read one method's source into memory and split usable vectors from missing papers."""
    ids, vectors, rows, absent = open_vector_source(spec)
    reason = _missing_reasons(vectors, rows, absent, block_rows)
    usable = reason == ""
    missing = pd.DataFrame({"corpus_id": ids[~usable], "reason": reason[~usable].astype(str)})
    _log_missing(spec.name, ids.size, missing)
    return MethodVectors(ids=ids[usable], vectors=np.asarray(vectors[rows[usable]], dtype=np.float32),
                         missing=missing)


def prepare_method_vectors(spec: MethodSpec, out_dir: str | Path, dtype: str = "float32",
                           block_rows: int = 65536) -> None:
    """Stream one method's usable vectors into ``out_dir`` in the prepared format.

    Writes ``vectors.npy`` (``dtype``, usable rows only), ``ids.npy`` (int64) and
    ``missing.parquet`` (corpus_id, reason). Memory is bounded by ``block_rows`` rows, so a
    memory-mapped source of any size can be prepared.
    """
    ids, vectors, rows, absent = open_vector_source(spec)
    reason = _missing_reasons(vectors, rows, absent, block_rows)
    usable = np.flatnonzero(reason == "")
    missing = pd.DataFrame({"corpus_id": ids[reason != ""], "reason": reason[reason != ""].astype(str)})
    _log_missing(spec.name, ids.size, missing)

    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    output = np.lib.format.open_memmap(out_dir / "vectors.npy", mode="w+", dtype=np.dtype(dtype),
                                       shape=(usable.size, vectors.shape[1]))
    for start in range(0, usable.size, block_rows):
        chosen = usable[start:start + block_rows]
        output[start:start + chosen.size] = np.asarray(vectors[rows[chosen]], dtype=np.float32)
    output.flush()
    del output
    np.save(out_dir / "ids.npy", ids[usable])
    missing.to_parquet(out_dir / "missing.parquet", index=False)


def write_method_vectors(method: MethodVectors, out_dir: str | Path) -> None:
    """Write usable vectors as ``vectors.npy`` + ``ids.npy`` and the rest as ``missing.parquet``."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    np.save(out_dir / "vectors.npy", method.vectors)
    np.save(out_dir / "ids.npy", method.ids)
    method.missing.to_parquet(out_dir / "missing.parquet", index=False)


def read_prepared_vectors(directory: str | Path) -> MethodVectors:
    """Read what :func:`write_method_vectors` wrote (vectors memory-mapped)."""
    ids, vectors = read_npy_vectors(directory)
    missing = pd.read_parquet(Path(directory) / "missing.parquet")
    return MethodVectors(ids=ids, vectors=vectors, missing=missing)


def _normalize_papers(frame: pd.DataFrame, path: Path) -> pd.DataFrame:
    if "corpus_id" not in frame.columns:
        raise InputDataError(f"papers table {path}: no 'corpus_id' column (found {list(frame.columns)})")
    frame = frame.copy()
    for column, dtype in PAPER_COLUMNS.items():
        if column not in frame.columns:
            frame[column] = pd.Series(pd.NA, index=frame.index, dtype=dtype)
    try:
        frame["corpus_id"] = pd.to_numeric(frame["corpus_id"], errors="raise").astype("int64")
        for column in ("year", "citation_count"):
            frame[column] = pd.to_numeric(frame[column], errors="coerce").astype("Int64")
    except (ValueError, TypeError) as error:
        raise InputDataError(f"papers table {path}: invalid corpus_id value: {error}") from error
    for column in ("paper_id", "title"):
        frame[column] = frame[column].astype("string")
    duplicated = frame["corpus_id"].duplicated()
    if duplicated.any():
        log.warning("papers table %s: %d duplicate corpus ids, keeping the first row of each",
                    path, int(duplicated.sum()))
        frame = frame[~duplicated]
    return frame[list(PAPER_COLUMNS)].reset_index(drop=True)


def read_papers(path: str | Path, format: str = "parquet", header_row: bool = True) -> pd.DataFrame:
    """Read the papers table.

    Returns a DataFrame with columns corpus_id (int64, unique), paper_id (string, nullable;
    the 40-hex Semantic Scholar id), title (string, nullable), year (Int64, nullable) and
    citation_count (Int64, nullable). A TSV without a header row has the columns corpus_id,
    title.

    Raises
    ------
    InputDataError
        When the file cannot be read or has no corpus_id column.
    """
    path = Path(path)
    try:
        if format == "parquet":
            frame = pd.read_parquet(path)
        else:
            frame = pd.read_csv(
                path,
                sep="\t",
                header=0 if header_row else None,
                names=None if header_row else ["corpus_id", "title"],
                dtype=str,
                quoting=3,  # csv.QUOTE_NONE: titles contain quotes that are not field quoting
                keep_default_na=False,
                na_values=[""],
            )
    except Exception as error:  # pyarrow and pandas raise many types for unreadable files
        raise InputDataError(f"cannot read papers table {path}: {error}") from error
    return _normalize_papers(frame, path)


def empty_papers() -> pd.DataFrame:
    """Return a papers table with no rows (every paper is then shown as NA:<corpusId>)."""
    return pd.DataFrame({c: pd.Series(dtype=t) for c, t in PAPER_COLUMNS.items()})
