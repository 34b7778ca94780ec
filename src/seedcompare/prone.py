"""ProNE: node embeddings of a citation graph (Zhang et al., IJCAI 2019).

Source: Jie Zhang, Yuxiao Dong, Yan Wang, Jie Tang and Ming Ding, "ProNE: Fast and Scalable
Network Representation Learning", Proceedings of IJCAI 2019, and its reference implementation
(THUDM/ProNE, ``proNE.py``). Where the two differ, this module follows the reference
implementation, so that its embeddings can be compared with other ports of it such as
nodevectors.ProNE. The differences are stated below.

Graph
-----
The citation edges (citing, cited) are read as an undirected simple graph G = (V, E): each
edge is symmetrized, self-loops and duplicate edges are dropped, and V is the set of nodes
with at least one remaining edge, in ascending id order. A node with no edge (or only a
self-loop) has no row in the embedding; no vector is ever substituted for it. Ids may be any
int64 value. A is the n x n symmetric 0/1 adjacency matrix of G, n = |V|, d_i = sum_j A_ij >= 1.

Stage 1, sparse matrix factorization (``pre_factorization`` and ``get_embedding_rand`` of the
reference)
    p_ij = A_ij / d_i is the one-step transition probability. The negative-sampling
    distribution is

        P_j = (sum_i p_ij) ** alpha / sum_k (sum_i p_ik) ** alpha,   alpha = ``exponent`` = 0.75

    and the proximity matrix is the sparse log-ratio

        M_ij = ln p_ij - ln P_j   where A_ij = 1,   M_ij = 0 elsewhere

    (the ratio of negative to positive samples, lambda in the paper, is 1). A rank-``dim``
    truncated SVD M ~ U S V^T is computed by randomized subspace iteration with ``n_iter``
    power iterations and ``oversamples`` extra columns, the method and defaults of
    scikit-learn's ``randomized_svd`` that the reference calls. The stage-1 embedding is
    R = U S^(1/2), each row scaled to unit L2 norm.

Stage 2, spectral propagation (``chebyshev_gaussian`` and ``get_embedding_dense`` of the
reference)
    With self-loops added, A' = I + A and D' = diag(d_i + 1); L = I - D'^-1 A' is the
    random-walk normalized Laplacian, eigenvalues in [0, 2). The paper names the Gaussian
    band-pass filter g(lambda) = exp(-theta/2 [(lambda - mu)^2 - 1]). The reference evaluates

        X = (L - mu I)^2 / 2 - I,  eigenvalues in [-1, 1] for 0 <= mu <= 1
        exp(-theta X) = I_0(theta) + 2 sum_{k>=1} (-1)^k I_k(theta) T_k(X)

    (Jacobi-Anger expansion, I_k the modified Bessel functions of the first kind, T_k the
    Chebyshev polynomials, T_{k+1}(X) = 2 X T_k(X) - T_{k-1}(X)), truncated to the terms
    k < ``order``; exp(-theta X) = exp(theta/2) g(L). The propagated matrix is

        R_p = A' (R - exp(-theta X) R)

    where the paper writes D^-1 A (I - g(L)) R. The reference's A' (unnormalized, with
    self-loops) and its exp(theta/2) scale are kept. Finally R_p = U S V^T (thin SVD) and the
    embedding is E = U S^(1/2) with each row scaled to unit L2 norm. With ``order`` = 1 the
    propagation is skipped and E = R, as in the reference.

    NOTE: the two formulas attributed to the paper above were written without its text at
    hand. The computation itself is checked against a dense transcription of ``proNE.py``.

Units and policies
------------------
Embeddings are dimensionless unit vectors, meant to be compared by cosine. Their signs and
rotation are arbitrary (any SVD basis), so only similarities are comparable between runs with
different seeds or parameters. The result is deterministic for a given ``random_seed`` on a
given machine and library build, because the Gaussian test matrix is the only randomness and
the thread count does not change the sparse products. A row whose propagated vector is exactly
zero, which needs a degenerate graph, stays zero and is logged, and the pipeline then treats
that paper as missing. Inputs are integers, so no NaN can arise. Rows of a Parquet edge table
with a null id are dropped and counted in the log.
"""

from __future__ import annotations

import logging
import os
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import scipy.linalg
import scipy.linalg.blas
import scipy.sparse as sp
import scipy.special

from .corpus import InputDataError

log = logging.getLogger(__name__)

PARQUET_MAGIC = b"PAR1"


# --------------------------------------------------------------------------- input


def _first_bad_text_line(path: Path) -> str:
    """Describe the first line of an edge list that is not two integers (error path only)."""
    with open(path, "rt", encoding="utf-8", errors="replace") as handle:
        for line_number, line in enumerate(handle, start=1):
            fields = line.split("#", 1)[0].split()
            if not fields:
                continue
            if len(fields) < 2:
                return f"{path}:{line_number}: expected 'u v', found {line.strip()!r}"
            try:
                int(fields[0]), int(fields[1])
            except ValueError:
                return f"{path}:{line_number}: node ids must be integers, found {line.strip()!r}"
            if not all(-2**63 <= int(f) < 2**63 for f in fields[:2]):
                return f"{path}:{line_number}: node id outside the int64 range: {line.strip()!r}"
    return f"{path}: unreadable edge list"


def _read_text_edges(path: Path) -> tuple[np.ndarray, np.ndarray]:
    try:
        # sep=r"\s+" runs pandas' C parser in whitespace mode, so any run of spaces and tabs
        # separates fields.
        frame = pd.read_csv(path, sep=r"\s+", comment="#", header=None, usecols=[0, 1],
                            dtype=np.int64, engine="c")
    except pd.errors.EmptyDataError:
        return np.empty(0, np.int64), np.empty(0, np.int64)
    except (ValueError, OverflowError, pd.errors.ParserError) as error:
        raise InputDataError(_first_bad_text_line(path)) from error
    return frame[0].to_numpy(np.int64), frame[1].to_numpy(np.int64)


def _read_parquet_edges(path: Path) -> tuple[np.ndarray, np.ndarray]:
    import pyarrow.parquet as pq

    try:
        table = pq.read_table(path, columns=["citing", "cited"])
    except Exception as error:  # pyarrow raises several types for missing columns or bad files
        raise InputDataError(
            f"cannot read edge table {path} (columns citing, cited): {error}") from error
    for name in ("citing", "cited"):
        kind = table.schema.field(name).type
        if not (str(kind).startswith("int") or str(kind).startswith("uint")):
            raise InputDataError(f"edge table {path}: column {name} must be integer, found {kind}")
    total = table.num_rows
    table = table.drop_null()
    if table.num_rows < total:
        log.warning("edge table %s: dropped %d of %d rows with a null citing or cited id",
                    path, total - table.num_rows, total)
    citing = table.column("citing").to_numpy().astype(np.int64, copy=False)
    cited = table.column("cited").to_numpy().astype(np.int64, copy=False)
    return citing, cited


def read_edges(path: str | Path) -> tuple[np.ndarray, np.ndarray]:
    """Read a citation edge list.

    Parameters
    ----------
    path : path to a Parquet file or a text file. A Parquet file needs integer columns
        ``citing`` and ``cited``. Other columns are ignored, and rows with a null id are dropped
        with a warning. A text file has one edge ``u v`` per line, whitespace or tab separated.
        There ``#`` starts a comment and blank lines are skipped. The format is recognised by
        the Parquet magic bytes, not by the file name.

    Returns
    -------
    citing, cited : int64 arrays, shape (m,), as in the file (direction, duplicates and
        self-loops are kept; :func:`prone_embedding` drops them).

    Raises
    ------
    InputDataError
        When the file cannot be read, lacks a column, or a text line is not two integers
        (the message names the file and line).
    """
    path = Path(path)
    try:
        with open(path, "rb") as handle:
            magic = handle.read(4)
    except OSError as error:
        raise InputDataError(f"cannot read edge list {path}: {error}") from error
    if magic == PARQUET_MAGIC:
        return _read_parquet_edges(path)
    return _read_text_edges(path)


# --------------------------------------------------------------------------- graph


def build_adjacency(citing, cited) -> tuple[np.ndarray, sp.csr_array, dict]:
    """Build the undirected simple graph of a list of (directed) edges.

    Parameters
    ----------
    citing, cited : integer arrays, shape (m,), any int64 values.

    Returns
    -------
    ids : int64 array, shape (n,)
        Sorted ids of the nodes with at least one edge that is not a self-loop. Row i of the
        adjacency (and of the embedding) is node ids[i].
    adjacency : csr_array, shape (n, n), float32
        Symmetric 0/1 matrix with an empty diagonal and sorted column indices.
    counts : dict
        ``edges_in`` (rows read), ``self_loops``, ``duplicates`` (repeats of an undirected edge,
        including u v after v u), ``edges`` (undirected edges kept), ``nodes``.
    """
    citing = np.asarray(citing)
    cited = np.asarray(cited)
    if citing.shape != cited.shape or citing.ndim != 1:
        raise ValueError(f"citing and cited must be 1-d arrays of one length, "
                         f"found shapes {citing.shape} and {cited.shape}")
    citing = citing.astype(np.int64, copy=False)
    cited = cited.astype(np.int64, copy=False)
    edges_in = int(citing.size)
    loop = citing == cited
    self_loops = int(loop.sum())
    if self_loops:
        citing, cited = citing[~loop], cited[~loop]
    # Hash-based factorization sorts only the distinct ids, and rows follow id order.
    codes, ids = pd.factorize(np.concatenate([citing, cited]), sort=True)
    ids = np.asarray(ids, dtype=np.int64)
    n, m = int(ids.size), int(citing.size)
    index_dtype = np.int32 if max(n, 2 * m) < 2**31 else np.int64
    codes = codes.astype(index_dtype, copy=False)
    rows = np.concatenate([codes[:m], codes[m:]])
    cols = np.concatenate([codes[m:], codes[:m]])
    del codes
    adjacency = sp.csr_array((np.ones(rows.size, dtype=np.float32), (rows, cols)), shape=(n, n))
    del rows, cols
    # Summing repeats of (u, v) and (v, u) leaves one entry per undirected edge and direction,
    # with sorted column indices.
    adjacency.sum_duplicates()
    adjacency.data[:] = 1.0
    edges = adjacency.nnz // 2
    duplicates = m - edges
    counts = {"edges_in": edges_in, "self_loops": self_loops, "duplicates": duplicates,
              "edges": int(edges), "nodes": n}
    return ids, adjacency, counts


def _permute_symmetric(matrix: sp.csr_array, order: np.ndarray) -> sp.csr_array:
    """Return P A P^T, where P moves row order[i] to row i. Column indices come out sorted."""
    n = matrix.shape[0]
    position = np.empty(n, dtype=matrix.indices.dtype)
    position[order] = np.arange(n, dtype=matrix.indices.dtype)
    counts = np.diff(matrix.indptr)
    rows = np.repeat(position, counts)
    permuted = sp.csr_array((matrix.data, (rows, position[matrix.indices])), shape=matrix.shape)
    permuted.sum_duplicates()  # there are no duplicates, but this sorts the column indices
    return permuted


# --------------------------------------------------------------------------- linear algebra


class _RowBlockOperator:
    """A CSR matrix applied to dense blocks with its row blocks in parallel threads.

    SciPy's sparse kernels release the GIL, so row blocks of one product run on several
    cores. Each output row is computed exactly as in a single-threaded product, so results do
    not depend on the thread count.
    """

    def __init__(self, matrix: sp.csr_array, executor: ThreadPoolExecutor | None, blocks: int):
        self.shape = matrix.shape
        self.executor = executor
        indptr = matrix.indptr
        # Split at row boundaries so that blocks hold about equal numbers of non-zeros.
        targets = np.linspace(0, matrix.nnz, blocks + 1)[1:-1]
        cuts = np.unique(np.concatenate([[0], np.searchsorted(indptr, targets), [self.shape[0]]]))
        self.blocks = []
        for start, stop in zip(cuts[:-1], cuts[1:]):
            first, last = indptr[start], indptr[stop]
            arrays = (matrix.data[first:last], matrix.indices[first:last],
                      indptr[start:stop + 1] - first)
            block = sp.csr_array(arrays, shape=(int(stop - start), self.shape[1]), copy=False)
            block.has_sorted_indices = True
            self.blocks.append((int(start), int(stop), block))

    def __matmul__(self, dense: np.ndarray) -> np.ndarray:
        return self.matmul(dense)

    def matmul(self, dense: np.ndarray, out: np.ndarray | None = None) -> np.ndarray:
        """Return matrix @ dense, written into ``out`` (n x k, C order) when given."""
        if out is None:
            out = np.empty((self.shape[0], dense.shape[1]),
                           dtype=np.result_type(dense.dtype, np.float32))

        def run(item):
            start, stop, block = item
            out[start:stop] = block @ dense

        if self.executor is None or len(self.blocks) == 1:
            for item in self.blocks:
                run(item)
        else:
            for future in [self.executor.submit(run, item) for item in self.blocks]:
                future.result()
        return out


def _normalize_rows(matrix: np.ndarray) -> np.ndarray:
    """Scale each row to unit L2 norm in place; an all-zero row stays zero."""
    norms = np.sqrt(np.einsum("ij,ij->i", matrix, matrix, dtype=np.float64))
    zero = norms == 0
    norms[zero] = 1.0
    matrix /= norms[:, None].astype(matrix.dtype)
    return matrix


# Dense products go through SciPy's BLAS, the library behind its LAPACK calls: numpy ships a
# second OpenBLAS with its own thread pool, and alternating between the two pools leaves the
# idle one spinning on the cores the other needs.


def _matmul(tall: np.ndarray, small: np.ndarray) -> np.ndarray:
    """tall @ small for a C-ordered float32 n x k matrix and a k x m matrix; float32, C order."""
    small = np.asarray(small, dtype=np.float32)
    # (tall @ small)^T = small^T tall^T, both Fortran-ordered views: no copies.
    return scipy.linalg.blas.sgemm(1.0, small.T, tall.T).T


def _axpy(alpha: float, x: np.ndarray, y: np.ndarray) -> None:
    """Add alpha * x to y in place (BLAS saxpy: one pass over memory, no temporary)."""
    result = scipy.linalg.blas.saxpy(x.reshape(-1), y.reshape(-1), a=alpha)
    if not np.shares_memory(result, y):  # f2py copies a y that is not contiguous float32
        raise TypeError("_axpy needs a C-contiguous float32 y")


def _gram(matrix: np.ndarray, precise: bool = True, block_rows: int = 32768) -> np.ndarray:
    """Compute matrix^T matrix (float64 result) for a C-ordered float32 n x k matrix.

    With ``precise`` the products are summed in float64 over row blocks, which bounds the extra
    memory. Products of float32 values are exact in float64, so the result resolves singular
    values down to about 1e-8 of the largest. Otherwise a single float32 ssyrk runs, at half
    the cost, with relative errors near 1e-6.
    """
    k = matrix.shape[1]
    if not precise:
        # ssyrk fills the upper triangle of (matrix^T)(matrix^T)^T; matrix.T is a Fortran view.
        upper = scipy.linalg.blas.ssyrk(1.0, matrix.T, trans=0, lower=0).astype(np.float64)
    else:
        upper = np.zeros((k, k), dtype=np.float64, order="F")
        for start in range(0, matrix.shape[0], block_rows):
            chunk = matrix[start:start + block_rows].astype(np.float64)
            upper = scipy.linalg.blas.dsyrk(1.0, chunk.T, beta=1.0, c=upper, trans=0, lower=0,
                                            overwrite_c=1)
    return np.triu(upper) + np.triu(upper, 1).T


def _top_eigenpairs(gram: np.ndarray, count: int) -> tuple[np.ndarray, np.ndarray]:
    """Return the ``count`` largest singular values sqrt(lambda) and eigenvectors of a Gram matrix.

    Singular values come in descending order, with negative rounding residues clipped to 0,
    and the matching eigenvectors are the columns of the second array.
    """
    eigenvalues, eigenvectors = scipy.linalg.eigh(gram, check_finite=False)
    order = np.argsort(eigenvalues)[::-1][:count]
    return np.sqrt(np.clip(eigenvalues[order], 0.0, None)), eigenvectors[:, order]


def _cholesky_qr(matrix: np.ndarray, passes: int, precise: bool = True) -> np.ndarray | None:
    """Orthonormalize the columns of Y by Cholesky QR, Q = Y R^-1 with R^T R = Y^T Y.

    Each pass leaves an orthogonality error of about eps * cond(Y)^2, so two passes
    (CholeskyQR2) give an orthonormal basis and one pass gives a well-conditioned one. Returns
    None when Y^T Y has an eigenvalue ratio below 1e-8 (1e-6 with ``precise`` False), that is a
    condition number above 1e4 (1e3) or rank deficiency, where a pass is not accurate enough.
    On graphs tried so far the condition number stays below 10.
    """
    basis = matrix
    smallest_ratio = 1e-8 if precise else 1e-6
    for _ in range(passes):
        gram = _gram(basis, precise=precise)
        eigenvalues = scipy.linalg.eigvalsh(gram, check_finite=False)
        if not eigenvalues[0] > eigenvalues[-1] * smallest_ratio:
            return None
        upper = scipy.linalg.cholesky(gram, lower=False, check_finite=False)
        inverse = scipy.linalg.solve_triangular(upper, np.eye(upper.shape[0]), check_finite=False)
        basis = _matmul(basis, inverse)
    return basis


def _orthonormal_basis(matrix: np.ndarray) -> np.ndarray:
    """Compute an orthonormal basis of the column space of a tall float32 matrix.

    CholeskyQR2 needs only matrix products. A thin Householder QR takes over when the matrix
    is ill-conditioned.
    """
    basis = _cholesky_qr(matrix, passes=2)
    if basis is None:
        basis, _ = scipy.linalg.qr(matrix, mode="economic", check_finite=False)
        basis = np.ascontiguousarray(basis)
    return basis


def _well_conditioned_basis(matrix: np.ndarray) -> np.ndarray:
    """Compute a well-conditioned basis of the column space, for the power iterations.

    One Cholesky QR pass is used while it is accurate. Otherwise the basis is P L of the
    pivoted LU factorization, the normalizer of scikit-learn's randomized_svd, which the
    reference implementation calls. Either keeps the iterations from collapsing onto the
    leading singular vector.
    """
    basis = _cholesky_qr(matrix, passes=1, precise=False)
    if basis is None:
        basis, _ = scipy.linalg.lu(matrix, permute_l=True, check_finite=False)
        basis = np.ascontiguousarray(basis)
    return basis


def _randomized_svd(operator, operator_t, dim: int, n_iter: int, oversamples: int,
                    rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Compute the leading ``dim`` left singular vectors and values of a square sparse matrix M.

    ``operator`` computes M @ X and ``operator_t`` computes M^T @ X. Randomized subspace
    iteration forms Y = M (M^T M)^q G for a Gaussian n x (dim + oversamples) matrix G and
    re-normalizes after every product. With Q an orthonormal basis of Y, M ~ Q B for
    B = Q^T M. The left singular vectors of B are the eigenvectors Z of B B^T = C^T C with
    C = M^T Q, so the left singular vectors of M are Q Z. The n-row matrices are float32, the
    small ones float64.
    """
    n = operator.shape[0]
    width = min(dim + oversamples, n)
    sketch = rng.standard_normal((n, width), dtype=np.float32)
    basis = operator @ sketch
    del sketch
    for _ in range(n_iter):
        basis = operator @ _well_conditioned_basis(operator_t @ _well_conditioned_basis(basis))
    basis = _orthonormal_basis(basis)
    sigma, z = _top_eigenpairs(_gram(operator_t @ basis), dim)
    return _matmul(basis, z), sigma


# --------------------------------------------------------------------------- the two stages


def sparse_factorization(adjacency: sp.csr_array, dim: int = 128, exponent: float = 0.75,
                         n_iter: int = 5, oversamples: int = 10, random_seed: int = 0,
                         threads: int | None = None) -> np.ndarray:
    """Factorize the log-ratio proximity matrix (stage 1): unit-norm rows of U S^(1/2).

    Parameters
    ----------
    adjacency : csr_array, shape (n, n)
        Symmetric 0/1 matrix without diagonal, every row with a non-zero, sorted indices (as
        returned by :func:`build_adjacency`).
    dim : embedding dimension, 1 <= dim <= n.
    exponent : alpha of the negative-sampling distribution P_j (see the module docstring).
    n_iter, oversamples : power iterations and extra sketch columns of the randomized SVD.
    random_seed : seed of the Gaussian test matrix.
    threads : worker threads for the sparse products (default: the usable CPUs).

    Returns
    -------
    float32 array, shape (n, dim), rows of unit L2 norm.
    """
    n = adjacency.shape[0]
    _check_dimension(dim, n)
    degree = np.diff(adjacency.indptr).astype(np.float64)
    row = np.repeat(np.arange(n), np.diff(adjacency.indptr))
    col = adjacency.indices
    # sum_i p_ij = sum_i A_ij / d_i = (A @ (1/d))_j, as A is symmetric.
    column_mass = adjacency @ (1.0 / degree)
    negative = column_mass ** exponent
    negative /= negative.sum()
    log_degree, log_negative = np.log(degree), np.log(negative)
    # M_ij = ln(1/d_i) - ln P_j on the edges; M^T has the same (symmetric) pattern.
    data = (-log_degree[row] - log_negative[col]).astype(np.float32)
    data_t = (-log_degree[col] - log_negative[row]).astype(np.float32)
    del row, column_mass, negative
    proximity = sp.csr_array((data, col, adjacency.indptr), shape=(n, n), copy=False)
    proximity_t = sp.csr_array((data_t, col, adjacency.indptr), shape=(n, n), copy=False)
    with _executor(threads) as (executor, blocks):
        vectors, sigma = _randomized_svd(
            _RowBlockOperator(proximity, executor, blocks),
            _RowBlockOperator(proximity_t, executor, blocks),
            dim, n_iter, oversamples, np.random.default_rng(random_seed))
    vectors *= np.sqrt(sigma).astype(np.float32)
    return _normalize_rows(vectors)


def spectral_propagation(adjacency: sp.csr_array, features: np.ndarray, order: int = 10,
                         mu: float = 0.2, theta: float = 0.5,
                         threads: int | None = None) -> np.ndarray:
    """Propagate ``features`` through the Chebyshev band-pass filter, then SVD them (stage 2).

    Parameters
    ----------
    adjacency : csr_array, shape (n, n), as for :func:`sparse_factorization`.
    features : array, shape (n, d), the stage-1 embedding.
    order : number of Chebyshev terms (k = 0 .. order-1); 1 returns ``features`` unchanged.
    mu : centre of the band-pass filter on the Laplacian spectrum [0, 2); 0 <= mu <= 1 keeps
        the expansion inside the Chebyshev interval.
    theta : width (Bessel argument) of the filter.
    threads : worker threads for the sparse products (default: the usable CPUs).

    Returns
    -------
    float32 array, shape (n, d), rows of unit L2 norm (an all-zero row stays zero).
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, found {order}")
    if order == 1:
        return np.array(features, dtype=np.float32)
    n = adjacency.shape[0]
    a = np.ascontiguousarray(features, dtype=np.float32)
    degree_hat = np.diff(adjacency.indptr).astype(np.float64) + 1.0
    # A' = I + A and the shifted Laplacian M = L - mu I = (1 - mu) I - D'^-1 A' (here M is not
    # the stage-1 proximity matrix) share the pattern of A plus the diagonal.
    # Built with the adjacency's index dtype: int64 indices would double the index memory
    # of both operators below.
    index_dtype = adjacency.indices.dtype
    identity = sp.csr_array((np.ones(n, dtype=np.float32), np.arange(n, dtype=index_dtype),
                             np.arange(n + 1, dtype=index_dtype)), shape=(n, n))
    with_loops = (adjacency + identity).tocsr()
    with_loops.sort_indices()
    row = np.repeat(np.arange(n), np.diff(with_loops.indptr))
    diagonal = row == with_loops.indices
    shifted = -1.0 / degree_hat[row]
    shifted[diagonal] += 1.0 - mu
    shifted_laplacian = sp.csr_array(
        (shifted.astype(np.float32), with_loops.indices, with_loops.indptr), shape=(n, n))
    del row, diagonal, shifted
    coefficients = scipy.special.iv(np.arange(order), theta)
    with _executor(threads) as (executor, blocks):
        m_op = _RowBlockOperator(shifted_laplacian, executor, blocks)
        loops_op = _RowBlockOperator(with_loops, executor, blocks)
        # T_0(X) a = a and T_1(X) a = X a, with X = M^2 / 2 - I. conv accumulates the series.
        scratch = m_op @ a
        current = m_op @ scratch
        current *= np.float32(0.5)
        _axpy(-1.0, a, current)
        conv = a * np.float32(coefficients[0])
        _axpy(-2.0 * coefficients[1], current, conv)
        previous, spare = a, None
        for k in range(2, order):
            # T_k(X) a = 2 X T_{k-1}(X) a - T_{k-2}(X) a = M^2 T_{k-1} a - 2 T_{k-1} a - T_{k-2} a.
            # The buffer of T_{k-3} a is reused for T_k a, and ``a`` itself is never overwritten.
            following = spare if spare is not None else np.empty_like(a)
            m_op.matmul(current, out=scratch)
            m_op.matmul(scratch, out=following)
            _axpy(-2.0, current, following)
            _axpy(-1.0, previous, following)
            sign = 1.0 if k % 2 == 0 else -1.0
            _axpy(sign * 2.0 * coefficients[k], following, conv)
            spare = previous if previous is not a else None
            previous, current = current, following
        del previous, current, spare
        np.subtract(a, conv, out=conv)
        propagated = loops_op.matmul(conv, out=scratch)
        del conv
    return _dense_svd_embedding(propagated)


def _dense_svd_embedding(matrix: np.ndarray) -> np.ndarray:
    """Unit-norm rows of U S^(1/2) for the thin SVD U S V^T of a tall dense matrix.

    V and S come from the eigendecomposition of the Gram matrix V S^2 V^T, and
    U S^(1/2) = matrix V S^(-1/2), so no second n x d matrix is factorized. Components whose
    singular value is below 1e-6 of the largest are float32 rounding noise and are set to zero
    (their weight S^(1/2) in the reference is negligible too).
    """
    sigma, v = _top_eigenpairs(_gram(matrix), matrix.shape[1])
    keep = sigma > sigma[0] * 1e-6 if sigma.size and sigma[0] > 0 else np.zeros(sigma.shape, bool)
    scale = np.zeros_like(sigma)
    scale[keep] = sigma[keep] ** -0.5
    vectors = _matmul(matrix, v * scale)
    zero_rows = int((~vectors.any(axis=1)).sum())
    if zero_rows:
        log.warning("%d nodes have an all-zero propagated vector; they will be read as missing",
                    zero_rows)
    return _normalize_rows(vectors)


class _executor:
    """Context manager yielding (thread pool or None, number of row blocks)."""

    def __init__(self, threads: int | None):
        if threads is None:
            if hasattr(os, "sched_getaffinity"):
                threads = len(os.sched_getaffinity(0))
            else:
                threads = os.cpu_count() or 1
        self.threads = max(1, int(threads))
        self.pool = None

    def __enter__(self):
        if self.threads > 1:
            self.pool = ThreadPoolExecutor(self.threads, thread_name_prefix="prone")
        # A few blocks per thread even out rows whose neighbours are cached less well.
        return self.pool, 4 * self.threads if self.threads > 1 else 1

    def __exit__(self, *exc):
        if self.pool is not None:
            self.pool.shutdown()
        return False


def _check_dimension(dim: int, n: int) -> None:
    if dim < 1:
        raise ValueError(f"dim must be >= 1, found {dim}")
    if dim > n:
        raise InputDataError(f"dim={dim} exceeds the number of nodes with edges ({n}); "
                         f"choose dim <= {n}")


# --------------------------------------------------------------------------- public API


def prone_embedding(edges, dim: int = 128, order: int = 10, mu: float = 0.2, theta: float = 0.5,
                    exponent: float = 0.75, n_iter: int = 5, oversamples: int = 10,
                    random_seed: int = 0, threads: int | None = None
                    ) -> tuple[np.ndarray, np.ndarray]:
    """ProNE embedding of the graph of a citation edge list (math in the module docstring).

    Parameters
    ----------
    edges : pair (citing, cited) of integer arrays of one length m. Direction, self-loops and
        duplicates are allowed, because the graph is symmetrized and loops and repeats dropped.
    dim : embedding dimension d (default 128; the JSALT "proposed" embedding used 280).
        Must not exceed the number of nodes with edges.
    order : Chebyshev expansion order of spectral propagation (terms k < order; 1 skips it).
    mu : band-pass centre on the normalized Laplacian spectrum (default 0.2).
    theta : band-pass width, the Bessel argument (default 0.5).
    exponent : exponent of the negative-sampling distribution (default 0.75).
    n_iter : power iterations of the randomized SVD (default 5, as the reference).
    oversamples : extra columns of the randomized SVD sketch (default 10, as the reference).
    random_seed : seed of the randomized SVD; equal seeds give equal results.
    threads : worker threads for sparse products (default: usable CPUs); results do not
        depend on it.

    Returns
    -------
    ids : int64 array, shape (n,), sorted ids of the nodes with at least one edge.
    vectors : float32 array, shape (n, dim), unit L2-norm rows; row i embeds ids[i].

    Raises
    ------
    InputDataError
        When no edge remains after dropping self-loops, or ``dim`` exceeds the number of nodes.
    ValueError
        For a dimension below 1, an order below 1 or arrays of different shapes.
    """
    if order < 1:
        raise ValueError(f"order must be >= 1, found {order}")
    if dim < 1:
        raise ValueError(f"dim must be >= 1, found {dim}")
    citing, cited = edges
    started = time.perf_counter()
    ids, adjacency, counts = build_adjacency(citing, cited)
    log.info("ProNE: %d edges read, %d self-loops and %d duplicates dropped, "
             "%d undirected edges over %d nodes", counts["edges_in"], counts["self_loops"],
             counts["duplicates"], counts["edges"], counts["nodes"])
    if counts["edges"] == 0:
        raise InputDataError("the edge list has no edge between two distinct nodes")
    _check_dimension(dim, ids.size)
    log.info("ProNE: start, dim=%d order=%d mu=%g theta=%g exponent=%g n_iter=%d "
             "oversamples=%d seed=%d", dim, order, mu, theta, exponent, n_iter, oversamples,
             random_seed)
    # Work in descending-degree order: the rows of the dense factor that sparse products read
    # most often (those of hubs) then share cache lines and pages. Rows return to id order below.
    by_degree = np.argsort(-np.diff(adjacency.indptr), kind="stable")
    adjacency = _permute_symmetric(adjacency, by_degree)
    built = time.perf_counter()
    log.info("ProNE: graph built in %.2f s", built - started)
    features = sparse_factorization(adjacency, dim=dim, exponent=exponent, n_iter=n_iter,
                                    oversamples=oversamples, random_seed=random_seed,
                                    threads=threads)
    factorized = time.perf_counter()
    log.info("ProNE: sparse factorization done in %.2f s", factorized - built)
    permuted = spectral_propagation(adjacency, features, order=order, mu=mu, theta=theta,
                                    threads=threads)
    del adjacency, features
    vectors = np.empty_like(permuted)
    vectors[by_degree] = permuted
    del permuted
    log.info("ProNE: spectral propagation done in %.2f s. %d x %d embedding in %.2f s total",
             time.perf_counter() - factorized, vectors.shape[0], vectors.shape[1],
             time.perf_counter() - started)
    return ids, vectors


def write_prone_embedding(edges_path: str | Path, out_dir: str | Path, dim: int = 128,
                          order: int = 10, mu: float = 0.2, theta: float = 0.5,
                          exponent: float = 0.75, n_iter: int = 5, oversamples: int = 10,
                          random_seed: int = 0, threads: int | None = None) -> Path:
    """Read an edge list, embed it with ProNE and write the local ``npy`` vector format.

    Writes ``out_dir/vectors.npy`` (float32, n x dim) and ``out_dir/ids.npy`` (int64, n), the
    format read by :func:`seedcompare.corpus.read_npy_vectors`. Each file is written under a
    temporary name and renamed, so a reader never sees half a file. Parameters are those of
    :func:`read_edges` and :func:`prone_embedding`; returns ``out_dir``.
    """
    edges_path, out_dir = Path(edges_path), Path(out_dir)
    log.info("ProNE: reading edges from %s", edges_path)
    citing, cited = read_edges(edges_path)
    ids, vectors = prone_embedding((citing, cited), dim=dim, order=order, mu=mu, theta=theta,
                                   exponent=exponent, n_iter=n_iter, oversamples=oversamples,
                                   random_seed=random_seed, threads=threads)
    out_dir.mkdir(parents=True, exist_ok=True)
    for name, array in (("vectors.npy", vectors), ("ids.npy", ids)):
        partial = out_dir / f".{name}.partial"
        with open(partial, "wb") as handle:
            np.save(handle, array)
        os.replace(partial, out_dir / name)
    log.info("ProNE: wrote %d vectors of dimension %d to %s", vectors.shape[0], vectors.shape[1],
             out_dir)
    return out_dir
