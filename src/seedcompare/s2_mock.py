"""A local stand-in for the Semantic Scholar API, for tests, benchmarks and manual runs.

The server binds to 127.0.0.1 only and serves a fixture corpus in the folder layout of
:func:`seedcompare.demo.generate_demo` (``papers.parquet``, ``specter/vectors.npy`` +
``ids.npy``, ``edges.parquet``). It implements the endpoints :mod:`seedcompare.s2` uses, with
the API's JSON shapes and limits:

* ``POST /graph/v1/paper/batch`` (at most 500 ids; ``null`` for an unknown id),
* ``GET /graph/v1/paper/{id}`` and ``/graph/v1/paper/{id}/references`` / ``/citations``
  (``offset``, ``limit`` at most 1000, ``next`` absent on the last page, offset + limit below
  10,000), built from ``edges.parquet``,
* ``GET /recommendations/v1/papers/forpaper/{id}`` (``limit`` at most 500, ``from`` ``all-cs``
  or ``recent``): the papers nearest to the seed by cosine of the fixture's Specter vectors.
  With ``recent`` only papers of the corpus's last two publication years are eligible.

Every paper accepts its 40-hex paper id, ``CorpusId:N``, ``DOI:10.5555/seedcompare.N`` and
``ARXIV:2101.NNNNN`` (its row number), and ``URL:`` forms of the last two. A zero vector in the
fixture is served as ``"embedding": null``.

Faults are switched on through :class:`MockFaults` (``server.faults``) and
:meth:`MockS2Server.queue_faults`. Every request is recorded in ``server.requests`` and counted
per endpoint in ``server.counts``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import random
import re
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

import numpy as np
import pandas as pd

from .ids import (
    KIND_ARXIV,
    KIND_CORPUS_ID,
    KIND_DOI,
    KIND_PAPER_ID,
    KIND_URL,
    InvalidPaperIdError,
    parse_paper_id,
)

log = logging.getLogger(__name__)

HOST = "127.0.0.1"
MAX_BATCH_IDS = 500
MAX_PAGE_SIZE = 1000
MAX_RECOMMENDATIONS = 500
MAX_OFFSET_PLUS_LIMIT = 9999
FAULT_NAMES = ("429", "500", "502", "503", "504", "timeout", "truncated")
# Model strings of the embedding field. "specter_v2" is what the API returns for
# embedding.specter_v2; NOTE: the string for specter_v1 is a placeholder, not checked against
# the real API.
EMBEDDING_MODEL_NAMES = {"specter_v1": "specter_v1", "specter_v2": "specter_v2"}
PAPER_FIELDS = ("paperId", "corpusId", "title", "year", "citationCount", "externalIds",
                "embedding", "embedding.specter_v1", "embedding.specter_v2")


@dataclass
class MockFaults:
    """Faults of a :class:`MockS2Server`, changeable while it runs.

    Attributes
    ----------
    latency_s : delay before every response (seconds).
    retry_after : the Retry-After header sent with a queued 429 (None sends no header).
    slow_s : how long a queued ``timeout`` fault delays its response (seconds); set it above the
        client's timeout.
    transient_fraction : probability that a request gets ``transient_status`` instead of its
        response, drawn from a generator seeded with ``random_seed``.
    fail_corpus_ids : papers whose per-paper endpoints (paper, references, citations,
        recommendations) always respond with status 500.
    null_entry_corpus_ids : papers returned as ``null`` in batch responses although known.
    null_embedding_corpus_ids : papers whose embedding is ``null``.
    required_api_key : when set, a request without this ``x-api-key`` gets 403.
    """

    latency_s: float = 0.0
    retry_after: str | None = "1"
    slow_s: float = 2.0
    transient_fraction: float = 0.0
    transient_status: int = 503
    random_seed: int = 0
    fail_corpus_ids: set[int] = field(default_factory=set)
    null_entry_corpus_ids: set[int] = field(default_factory=set)
    null_embedding_corpus_ids: set[int] = field(default_factory=set)
    required_api_key: str | None = None


@dataclass
class RecordedRequest:
    """One request as the mock received it; ``time`` is ``time.monotonic()`` on arrival."""

    time: float
    method: str
    endpoint: str
    path: str
    query: dict
    status: int = 0
    n_ids: int = 0
    had_api_key: bool = False
    fault: str | None = None


class MockCorpus:
    """The fixture papers, vectors, references, citations and id look-up tables."""

    def __init__(self, corpus_dir: str | Path):
        corpus_dir = Path(corpus_dir)
        self.corpus_ids = np.load(corpus_dir / "specter" / "ids.npy").astype(np.int64)
        self.vectors = np.load(corpus_dir / "specter" / "vectors.npy").astype(np.float32)
        self.row_of = {int(c): row for row, c in enumerate(self.corpus_ids)}
        n = len(self.corpus_ids)

        papers = pd.read_parquet(corpus_dir / "papers.parquet").set_index("corpus_id")
        papers = papers.reindex(self.corpus_ids)
        self.titles = [None if pd.isna(t) else str(t) for t in papers["title"]]
        self.years = [None if pd.isna(y) else int(y) for y in papers["year"]]
        self.citation_counts = [None if pd.isna(c) else int(c) for c in papers["citation_count"]]
        # S2 gives every paper a paperId; the fixture lacks some, so those get a derived one.
        self.paper_ids = [
            str(p) if isinstance(p, str) else
            hashlib.sha1(f"seedcompare-mock-{c}".encode()).hexdigest()
            for p, c in zip(papers["paper_id"].astype(object), self.corpus_ids)
        ]

        self.references: dict[int, list[int]] = {}
        self.citations: dict[int, list[int]] = {}
        edges = pd.read_parquet(corpus_dir / "edges.parquet")
        for citing, cited in zip(edges["citing"].to_numpy(), edges["cited"].to_numpy()):
            self.references.setdefault(int(citing), []).append(int(cited))
            self.citations.setdefault(int(cited), []).append(int(citing))

        self.lookup: dict[str, int] = {}
        for row, corpus_id in enumerate(self.corpus_ids):
            self.lookup[self.paper_ids[row]] = row
            self.lookup[f"CorpusId:{corpus_id}"] = row
            self.lookup[f"DOI:{self.doi(row)}".lower()] = row
            self.lookup[f"ARXIV:{self.arxiv_id(row)}"] = row
            self.lookup[f"URL:https://arxiv.org/abs/{self.arxiv_id(row)}"] = row
            self.lookup[f"URL:https://www.semanticscholar.org/paper/{self.paper_ids[row]}"] = row

        norms = np.linalg.norm(self.vectors, axis=1)
        self.has_vector = norms > 0
        self.unit = np.divide(self.vectors, norms[:, None], out=np.zeros_like(self.vectors),
                              where=norms[:, None] > 0)
        known_years = [y for y in self.years if y is not None]
        self.recent_from_year = (max(known_years) - 1) if known_years else 0
        log.info("mock corpus %s: %d papers, %d edges", corpus_dir, n, len(edges))

    def doi(self, row: int) -> str:
        return f"10.5555/seedcompare.{self.corpus_ids[row]}"

    def arxiv_id(self, row: int) -> str:
        return f"2101.{row:05d}"

    def find(self, text: str) -> int | None:
        """Return the row of a paper id in any form the mock serves, or None."""
        try:
            parsed = parse_paper_id(text)
        except InvalidPaperIdError:
            return None
        key = parsed.api_id
        if parsed.kind == KIND_DOI:
            key = key.lower()  # DOIs are case-insensitive
        elif parsed.kind not in (KIND_PAPER_ID, KIND_CORPUS_ID, KIND_ARXIV, KIND_URL):
            return None
        return self.lookup.get(key)

    def paper_json(self, row: int, fields: list[str], faults: MockFaults) -> dict:
        corpus_id = int(self.corpus_ids[row])
        paper: dict = {"paperId": self.paper_ids[row]}
        for name in fields:
            if name == "corpusId":
                paper["corpusId"] = corpus_id
            elif name == "title":
                paper["title"] = self.titles[row]
            elif name == "year":
                paper["year"] = self.years[row]
            elif name == "citationCount":
                paper["citationCount"] = self.citation_counts[row]
            elif name == "externalIds":
                paper["externalIds"] = {"DOI": self.doi(row), "ArXiv": self.arxiv_id(row),
                                        "CorpusId": corpus_id}
            elif name.startswith("embedding"):
                model = name.partition(".")[2] or "specter_v1"
                if not self.has_vector[row] or corpus_id in faults.null_embedding_corpus_ids:
                    paper["embedding"] = None
                else:
                    paper["embedding"] = {"model": EMBEDDING_MODEL_NAMES[model],
                                          "vector": [float(v) for v in self.vectors[row]]}
        return paper

    def recommend(self, row: int, limit: int, pool: str) -> list[int]:
        """Rows of the ``limit`` papers nearest to ``row`` by cosine, ties by smaller row."""
        if not self.has_vector[row]:
            return []
        scores = self.unit @ self.unit[row]
        eligible = self.has_vector.copy()
        eligible[row] = False
        if pool == "recent":
            eligible &= np.array([y is not None and y >= self.recent_from_year for y in self.years])
        candidates = np.flatnonzero(eligible)
        order = np.lexsort((candidates, -scores[candidates]))
        return candidates[order[:limit]].tolist()


class _ApiError(Exception):
    def __init__(self, status: int, message: str):
        super().__init__(message)
        self.status, self.message = status, message


_PAPER_PATH = re.compile(r"/graph/v1/paper/(?P<id>.+?)(?:/(?P<relation>references|citations))?")
_RECOMMEND_PATH = re.compile(r"/recommendations/v1/papers/forpaper/(?P<id>.+)")


def _endpoint_of(method: str, path: str) -> tuple[str, str | None]:
    """Return (endpoint name, paper id in the path or None)."""
    if method == "POST" and path == "/graph/v1/paper/batch":
        return "paper_batch", None
    match = _RECOMMEND_PATH.fullmatch(path)
    if method == "GET" and match:
        return "recommendations", unquote(match.group("id"))
    match = _PAPER_PATH.fullmatch(path)
    if method == "GET" and match:
        return match.group("relation") or "paper", unquote(match.group("id"))
    return "unknown", None


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle's algorithm on, the client's
    # delayed ACK then stalls every response by about 40 ms.
    disable_nagle_algorithm = True
    server: "_Server"

    def log_message(self, format, *args):  # route the default stderr lines to logging
        log.debug("mock %s: " + format, self.address_string(), *args)

    def do_GET(self):
        self._handle("GET")

    def do_POST(self):
        self._handle("POST")

    def _handle(self, method: str) -> None:
        mock = self.server.mock
        parsed = urlparse(self.path)
        query = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        endpoint, paper_ref = _endpoint_of(method, parsed.path)
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        faults = mock.faults
        record = RecordedRequest(
            time=time.monotonic(), method=method, endpoint=endpoint, path=parsed.path, query=query,
            had_api_key=self.headers.get("x-api-key") is not None)
        mock._record(record)

        try:
            if faults.latency_s > 0:
                time.sleep(faults.latency_s)
            if faults.required_api_key is not None and self.headers.get("x-api-key") != faults.required_api_key:
                raise _ApiError(403, "Forbidden")
            fault = mock._take_fault(endpoint)
            record.fault = fault
            if fault is not None and fault not in ("timeout", "truncated"):
                self._send_fault(record, int(fault))
                return
            if fault == "timeout":
                time.sleep(faults.slow_s)
            answer = self._route(endpoint, paper_ref, query, body, record)
            payload = json.dumps(answer).encode()
            if fault == "truncated":
                payload = payload[: max(1, len(payload) // 2)]
            self._send(record, 200, payload)
        except _ApiError as error:
            self._send(record, error.status, json.dumps({"error": error.message}).encode())
        except (BrokenPipeError, ConnectionResetError):
            # The client has timed out, so no one reads the response.
            log.debug("mock: client closed the connection during %s", parsed.path)

    def _send_fault(self, record: RecordedRequest, status: int) -> None:
        headers = {}
        if status == 429 and self.server.mock.faults.retry_after is not None:
            headers["Retry-After"] = self.server.mock.faults.retry_after
        message = "Too Many Requests" if status == 429 else "Internal Server Error"
        self._send(record, status, json.dumps({"message": message}).encode(), headers)

    def _send(self, record: RecordedRequest, status: int, payload: bytes, headers=None) -> None:
        record.status = status
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(payload)

    def _route(self, endpoint: str, paper_ref: str | None, query: dict, body: bytes,
               record: RecordedRequest):
        mock = self.server.mock
        corpus, faults = mock.corpus, mock.faults
        fields = [f for f in query.get("fields", "").split(",") if f]
        unknown = [f for f in fields if f not in PAPER_FIELDS]
        if unknown:
            raise _ApiError(400, f"Unrecognized or unsupported fields: {unknown}")

        if endpoint == "paper_batch":
            try:
                ids = json.loads(body)["ids"]
            except (ValueError, KeyError, TypeError):
                raise _ApiError(400, 'Body must be JSON {"ids": [...]}') from None
            record.n_ids = len(ids)
            if len(ids) > MAX_BATCH_IDS:
                raise _ApiError(400, f"Cannot process more than {MAX_BATCH_IDS} paper ids at once")
            answer = []
            for paper_id in ids:
                row = corpus.find(str(paper_id))
                if row is None or int(corpus.corpus_ids[row]) in faults.null_entry_corpus_ids:
                    answer.append(None)
                else:
                    answer.append(corpus.paper_json(row, fields, faults))
            return answer

        if endpoint == "unknown":
            raise _ApiError(404, "Not found")

        row = corpus.find(paper_ref)
        if row is None:
            raise _ApiError(404, f"Paper with id {paper_ref} not found")
        corpus_id = int(corpus.corpus_ids[row])
        if corpus_id in faults.fail_corpus_ids:
            raise _ApiError(500, "Internal Server Error")

        if endpoint == "paper":
            return corpus.paper_json(row, fields, faults)
        if endpoint == "recommendations":
            limit = _integer(query, "limit", 100)
            pool = query.get("from", "recent")
            if not 1 <= limit <= MAX_RECOMMENDATIONS:
                raise _ApiError(400, f"limit must be 1 to {MAX_RECOMMENDATIONS}")
            if pool not in ("recent", "all-cs"):
                raise _ApiError(400, "from must be 'recent' or 'all-cs'")
            rows = corpus.recommend(row, limit, pool)
            return {"recommendedPapers": [corpus.paper_json(r, fields, faults) for r in rows]}

        offset, limit = _integer(query, "offset", 0), _integer(query, "limit", 100)
        if not 1 <= limit <= MAX_PAGE_SIZE or offset < 0:
            raise _ApiError(400, f"limit must be 1 to {MAX_PAGE_SIZE} and offset at least 0")
        if offset + limit > MAX_OFFSET_PLUS_LIMIT:
            raise _ApiError(400, "offset + limit must be < 10000")
        related = (corpus.references if endpoint == "references" else corpus.citations).get(corpus_id, [])
        key = "citedPaper" if endpoint == "references" else "citingPaper"
        page = related[offset:offset + limit]
        answer = {"offset": offset,
                  "data": [{key: corpus.paper_json(corpus.row_of[c], fields, faults)} for c in page]}
        if offset + len(page) < len(related):
            answer["next"] = offset + len(page)
        return answer


def _integer(query: dict, name: str, default: int) -> int:
    try:
        return int(query.get(name, default))
    except ValueError:
        raise _ApiError(400, f"{name} must be an integer") from None


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False  # a handler still sleeping in a slow fault must not block stop()
    mock: "MockS2Server"


class MockS2Server:
    """The mock API on 127.0.0.1, serving ``corpus`` in a background thread.

    Use as a context manager (``with MockS2Server(dir) as server: ... server.url``) or call
    :meth:`start` and :meth:`stop`. ``port`` 0 picks a free port.
    """

    def __init__(self, corpus: MockCorpus | str | Path, port: int = 0,
                 faults: MockFaults | None = None):
        self.corpus = corpus if isinstance(corpus, MockCorpus) else MockCorpus(corpus)
        self.faults = faults or MockFaults()
        self.requests: list[RecordedRequest] = []
        self.counts: Counter = Counter()
        self._queue: deque[tuple[str | None, str]] = deque()
        self._lock = threading.Lock()
        self._random = random.Random(self.faults.random_seed)
        self._port = port
        self._httpd: _Server | None = None
        self._thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        """The base URL to use as ``s2.api_url``."""
        if self._httpd is None:
            raise RuntimeError("the mock server is not running")
        return f"http://{HOST}:{self._httpd.server_address[1]}"

    def start(self) -> "MockS2Server":
        self._httpd = _Server((HOST, self._port), _Handler)
        self._httpd.mock = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05},
                                        name="s2-mock", daemon=True)
        self._thread.start()
        log.info("S2 mock server started at %s", self.url)
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        url = self.url
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
        self._httpd = None
        log.info("S2 mock server at %s stopped after %d requests", url, len(self.requests))

    def __enter__(self) -> "MockS2Server":
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    def queue_faults(self, *names: str, endpoint: str | None = None) -> None:
        """Queue faults for the next requests (of ``endpoint`` only, when given), one each.

        Names: ``429`` (with Retry-After ``faults.retry_after``), ``500``, ``502``, ``503``,
        ``504``, ``timeout`` (responds after ``faults.slow_s``) and ``truncated`` (status 200
        with half of the JSON body and a matching Content-Length).
        """
        for name in names:
            if name not in FAULT_NAMES:
                raise ValueError(f"unknown fault {name!r}; known faults: {', '.join(FAULT_NAMES)}")
        with self._lock:
            self._queue.extend((endpoint, name) for name in names)

    def reset(self) -> None:
        """Forget recorded requests, counts and queued faults; reseed the transient faults."""
        with self._lock:
            self.requests.clear()
            self.counts.clear()
            self._queue.clear()
            self._random = random.Random(self.faults.random_seed)

    def _record(self, record: RecordedRequest) -> None:
        with self._lock:
            self.requests.append(record)
            self.counts[record.endpoint] += 1

    def _take_fault(self, endpoint: str) -> str | None:
        with self._lock:
            for index, (wanted, name) in enumerate(self._queue):
                if wanted is None or wanted == endpoint:
                    del self._queue[index]
                    return name
            if self.faults.transient_fraction > 0 and self._random.random() < self.faults.transient_fraction:
                return str(self.faults.transient_status)
        return None


def run_mock_server(corpus_dir: str | Path | None = None, port: int = 8765, latency_ms: float = 0.0,
                    transient_fraction: float = 0.0, n_papers: int = 3000) -> int:
    """Serve the mock API on 127.0.0.1 until interrupted (Ctrl-C); return the exit code.

    Without ``corpus_dir`` a synthetic demo corpus of ``n_papers`` papers is generated in a
    temporary folder first.
    """
    import tempfile

    from .demo import generate_demo

    with tempfile.TemporaryDirectory(prefix="s2-mock-") as scratch:
        if corpus_dir is None:
            corpus_dir = Path(scratch) / "corpus"
            generate_demo(corpus_dir, n_papers=n_papers)
        faults = MockFaults(latency_s=latency_ms / 1000.0, transient_fraction=transient_fraction)
        server = MockS2Server(corpus_dir, port=port, faults=faults).start()
        try:
            # Printed inside the try block: a Ctrl-C right after this line must still stop cleanly.
            print(f"S2 mock API serving {corpus_dir} at {server.url}; set s2.api_url to it. "
                  "Ctrl-C stops.", flush=True)
            while True:
                time.sleep(3600)
        except KeyboardInterrupt:
            pass
        finally:
            server.stop()
            print("endpoint counts: " + json.dumps(dict(server.counts)), flush=True)
    return 0
