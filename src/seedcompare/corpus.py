"""Read the local corpus: per-method vectors and the papers table.

Two vector formats are read:

* ``npy``: ``<dir>/vectors.npy`` (float32, shape N x d, opened with memory mapping) and
  ``<dir>/ids.npy`` (int64 corpus ids, length N, in row order).
* ``jsalt``: a text dump, gzip or plain, one paper per line: ``corpusId rowIndex v1 ... vd``.
  A rowIndex listed in ``absent_row_indexes`` (always -1) means the paper is not in that
  embedding, whatever vector the line carries.

A paper is *missing* for a method when it is absent, or when its vector is all zeros or has a
NaN or infinite component. Missing papers keep their corpus id (they are in the corpus and
are counted), but never get a vector: no vector is ever substituted.
"""

from __future__ import annotations

import gzip
import logging
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


def read_npy_vectors(directory: str | Path):
    """Open ``vectors.npy`` (memory-mapped) and ``ids.npy`` from ``directory``.

    Returns
    -------
    ids : int64 array, shape (n,)
    vectors : float32 memmap, shape (n, d)

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
        vectors = np.load(vectors_path, mmap_mode="r")
    except (OSError, ValueError) as error:
        raise InputDataError(f"cannot read vectors in {directory}: {error}") from error
    if vectors.ndim != 2:
        raise InputDataError(f"{vectors_path}: expected a 2-d array, found shape {vectors.shape}")
    if vectors.dtype != np.float32:
        raise InputDataError(f"{vectors_path}: expected dtype float32, found {vectors.dtype}")
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


def load_method_vectors(spec: MethodSpec) -> MethodVectors:
    """Read one method's source and split usable vectors from missing papers."""
    if spec.format == "jsalt":
        ids, vectors, absent = read_jsalt_dump(spec.path, spec.absent_row_indexes)
    else:
        ids, vectors = read_npy_vectors(spec.path)
        absent = np.zeros(ids.shape[0], dtype=bool)

    reason = np.full(ids.shape[0], "", dtype=object)
    # Row-wise checks in blocks keep memory bounded for memory-mapped inputs.
    block = 65536
    for start in range(0, ids.shape[0], block):
        chunk = np.asarray(vectors[start : start + block])
        nonfinite = ~np.isfinite(chunk).all(axis=1)
        zero = ~nonfinite & ~chunk.any(axis=1)
        part = reason[start : start + block]
        part[zero] = MISSING_ZERO
        part[nonfinite] = MISSING_NONFINITE
    reason[absent] = MISSING_ABSENT

    usable = reason == ""
    missing = pd.DataFrame({"corpus_id": ids[~usable], "reason": reason[~usable].astype(str)})
    log.info(
        "method %s: %d papers, %d usable, %d missing (%s)",
        spec.name, ids.shape[0], int(usable.sum()), int((~usable).sum()),
        ", ".join(f"{k}={v}" for k, v in missing["reason"].value_counts().items()) or "none",
    )
    return MethodVectors(
        ids=ids[usable],
        vectors=np.asarray(vectors[usable], dtype=np.float32),
        missing=missing,
    )


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
