"""Fetch seeds, candidate papers, metadata and Specter embeddings from the Semantic Scholar API.

Endpoints used (all relative to ``s2.api_url``):

* ``POST /graph/v1/paper/batch?fields=...`` with body ``{"ids": [...]}``: at most 500 ids per
  call. The response is a list of the same length and order as the ids, with ``null`` for an id
  the API does not know.
* ``GET /graph/v1/paper/{id}/references`` and ``/citations`` with ``offset``, ``limit`` (at
  most 1000) and ``fields``: ``{"offset": o, "next": o + n, "data": [{"citedPaper": {...}}]}``
  (``citingPaper`` for citations). ``next`` is absent on the last page, and offset + limit must
  stay below 10,000.
* ``GET /recommendations/v1/papers/forpaper/{id}?limit=&from=&fields=``: ``limit`` at most 500,
  ``from`` is ``all-cs`` (every computer-science paper) or ``recent`` (papers of the last 60
  days, all fields). The response is ``{"recommendedPapers": [...]}``.
* The field ``embedding.specter_v1`` or ``embedding.specter_v2`` of a paper is
  ``{"model": ..., "vector": [...]}`` or ``null``.

Every request goes through one :class:`S2Client`: one ``requests`` session with an on-disk
cache (requests-cache, SQLite), a client-side rate limit, timeouts and retries with exponential
backoff (tenacity). Missing data policy: an id the API does not know, a ``null`` entry and a
``null`` or malformed embedding make that paper *missing*, listed with a reason, and never fail
the run. A seed whose requests fail after every retry is marked ``failed`` with the reason and
the run goes on with the other seeds.
"""

from __future__ import annotations

import email.utils
import json
import logging
import os
import threading
import time
from collections import Counter
from dataclasses import dataclass, field, fields as dataclass_fields
from pathlib import Path
from typing import Any, Iterable, Mapping, Sequence

import numpy as np
import pandas as pd
import requests
import requests_cache
import tenacity
from requests.adapters import HTTPAdapter
from requests_cache.policy.settings import DEFAULT_IGNORED_PARAMS
from tqdm import tqdm

from .config import ConfigError
from .corpus import (
    MISSING_ABSENT,
    MISSING_NONFINITE,
    MISSING_ZERO,
    PAPER_COLUMNS,
    MethodVectors,
    write_method_vectors,
)
from .ids import InvalidPaperIdError, parse_paper_id

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.semanticscholar.org"
GRAPH_PATH = "/graph/v1"
RECOMMENDATIONS_PATH = "/recommendations/v1"
API_KEY_HEADER = "x-api-key"

# Limits of the S2 API as public clients of it state them (e.g. the semanticscholar Python
# package). NOTE: one older version of that package allows 1000 ids per batch call; 500 is the
# figure most clients use, and the smaller one is safe either way.
MAX_BATCH_IDS = 500
MAX_PAGE_SIZE = 1000
MAX_RECOMMENDATIONS = 500
MAX_PAGED_RESULTS = 9999  # offset + limit must stay below 10,000 on references and citations
RECOMMENDATION_POOLS = ("all-cs", "recent")
EMBEDDING_MODELS = ("specter_v1", "specter_v2")

# The S2 API release notes (allenai/s2-folks, January 2024) give these limits. With a key:
# 1 request per second for /paper/batch, /paper/search and /recommendations, 10 per second for
# other calls. Without a key: 5,000 requests per 5 minutes, shared by all unauthenticated users.
# One limit for every endpoint at the strictest keyed rate is safe. Other users often exhaust
# the shared pool, so the default without a key is 0.3 per second (about 100 per 5 minutes).
DEFAULT_RPS_WITH_KEY = 1.0
DEFAULT_RPS_WITHOUT_KEY = 0.3
RETRY_STATUS_CODES = frozenset({429, 500, 502, 503, 504})

# requests-cache redacts ignored parameters by exact, case-sensitive header name, and its
# default list spells the key header "X-API-Key". The client sends "x-api-key", so that exact
# spelling is added: the key is then neither part of the cache key nor stored.
CACHE_IGNORED_PARAMETERS = tuple(DEFAULT_IGNORED_PARAMS) + (API_KEY_HEADER,)

SEED_OK = "ok"
SEED_NOT_FOUND = "not_found"
SEED_INVALID_ID = "invalid_id"
SEED_FAILED = "failed"

PROVENANCES = ("recommended", "reference", "citation")
CANDIDATE_FIELDS = ("paperId", "corpusId")


class S2Error(Exception):
    """Base class of the errors raised by this module."""


class S2RequestError(S2Error):
    """A request that failed for good: a non-retryable status, or every retry failed.

    Attributes: ``endpoint`` (e.g. ``references``), ``target`` (what was requested, e.g. the
    paper id), ``status`` (HTTP status or None for network errors and invalid JSON),
    ``reason`` (short text) and ``attempts`` (requests sent, including retries).
    """

    def __init__(self, endpoint: str, target: str, reason: str, status: int | None = None,
                 attempts: int = 1):
        super().__init__(endpoint, target, reason)
        self.endpoint, self.target, self.reason = endpoint, target, reason
        self.status, self.attempts = status, attempts

    def __str__(self) -> str:
        return f"S2 {self.endpoint} {self.target}: {self.reason} (after {self.attempts} attempt(s))"


class S2NotFoundError(S2RequestError):
    """The API returned 404: the paper is unknown to it."""


class _RetryableError(Exception):
    """One failed attempt that may succeed when repeated (429, 5xx, timeout, bad body)."""

    def __init__(self, reason: str, status: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.status, self.retry_after = reason, status, retry_after


# --------------------------------------------------------------------------------------------
# Settings


@dataclass(frozen=True)
class S2Settings:
    """The ``s2`` section of the config; every field is a key of that section.

    ``requests_per_second`` None picks 1.0 with an API key and 0.3 without (see the module
    constants for the source). ``cache`` None disables the HTTP cache. ``cache_expire_days``
    None keeps cached responses forever. ``max_references`` / ``max_citations`` cap how many
    papers are fetched per seed (0 skips that source) and ``recommendations_limit`` 0 skips
    recommendations.
    """

    api_url: str = DEFAULT_API_URL
    api_key_env: str = "S2_API_KEY"
    requests_per_second: float | None = None
    cache: str | None = "results/s2/http_cache.sqlite"
    cache_expire_days: float | None = None
    timeout_s: float = 30.0
    max_retries: int = 5
    backoff_s: float = 1.0
    backoff_max_s: float = 60.0
    max_retry_after_s: float = 300.0
    batch_size: int = MAX_BATCH_IDS
    embedding: str = "specter_v2"
    recommendations_limit: int = 100
    recommendations_pool: str = "all-cs"
    max_references: int = 1000
    max_citations: int = 1000
    page_size: int = MAX_PAGE_SIZE

    def __post_init__(self):
        problems = []

        def check(ok: bool, key: str, message: str):
            if not ok:
                problems.append(f"config key 's2.{key}': {message}")

        check(isinstance(self.api_url, str) and self.api_url.startswith(("http://", "https://")), "api_url",
              f"{self.api_url!r} is not an http(s) URL")
        check(bool(self.api_key_env), "api_key_env", "must name an environment variable")
        check(self.requests_per_second is None or self.requests_per_second > 0,
              "requests_per_second", "must be positive (or null for the default)")
        check(self.cache_expire_days is None or self.cache_expire_days > 0, "cache_expire_days",
              "must be positive (or null to keep responses forever)")
        check(self.timeout_s > 0, "timeout_s", "must be positive")
        check(self.max_retries >= 0, "max_retries", "must be 0 or more")
        check(self.backoff_s >= 0, "backoff_s", "must be 0 or more")
        check(self.backoff_max_s >= self.backoff_s, "backoff_max_s", "must be at least s2.backoff_s")
        check(self.max_retry_after_s >= 0, "max_retry_after_s", "must be 0 or more")
        check(1 <= self.batch_size <= MAX_BATCH_IDS, "batch_size", f"must be 1 to {MAX_BATCH_IDS}")
        check(self.embedding in EMBEDDING_MODELS, "embedding",
              f"{self.embedding!r} is not allowed; allowed values: {', '.join(EMBEDDING_MODELS)}")
        check(0 <= self.recommendations_limit <= MAX_RECOMMENDATIONS, "recommendations_limit",
              f"must be 0 to {MAX_RECOMMENDATIONS}")
        check(self.recommendations_pool in RECOMMENDATION_POOLS, "recommendations_pool",
              f"{self.recommendations_pool!r} is not allowed; allowed values: "
              + ", ".join(RECOMMENDATION_POOLS))
        check(0 <= self.max_references <= MAX_PAGED_RESULTS, "max_references",
              f"must be 0 to {MAX_PAGED_RESULTS}")
        check(0 <= self.max_citations <= MAX_PAGED_RESULTS, "max_citations",
              f"must be 0 to {MAX_PAGED_RESULTS}")
        check(1 <= self.page_size <= MAX_PAGE_SIZE, "page_size", f"must be 1 to {MAX_PAGE_SIZE}")
        if problems:
            raise ConfigError("invalid configuration:\n  " + "\n  ".join(problems))

    @classmethod
    def from_config(cls, config: Mapping[str, Any] | None) -> "S2Settings":
        """Build settings from a whole config (its ``s2`` key) or from the ``s2`` mapping itself.

        Raises
        ------
        ConfigError
            For an unknown key or an invalid value, naming the key.
        """
        section = dict(config or {})
        if "s2" in section and isinstance(section["s2"], Mapping):
            section = dict(section["s2"])
        known = {f.name for f in dataclass_fields(cls)}
        unknown = sorted(set(section) - known)
        if unknown:
            raise ConfigError(
                f"config key 's2': unknown key(s) {', '.join(unknown)}; allowed keys: "
                + ", ".join(sorted(known)))
        return cls(**section)

    def effective_requests_per_second(self, has_api_key: bool) -> float:
        """Return the rate limit in requests per second that the client applies."""
        if self.requests_per_second is not None:
            return float(self.requests_per_second)
        return DEFAULT_RPS_WITH_KEY if has_api_key else DEFAULT_RPS_WITHOUT_KEY


# --------------------------------------------------------------------------------------------
# Transport: rate limit, cache, retries


class RateLimiter:
    """Space the starts of requests at least ``1 / rate`` seconds apart (thread-safe)."""

    def __init__(self, requests_per_second: float):
        self.interval_s = 1.0 / requests_per_second
        self._next_start = 0.0
        self._lock = threading.Lock()

    def wait(self) -> float:
        """Block until the next request may start; return the seconds waited."""
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next_start)
            self._next_start = start + self.interval_s
        delay = start - now
        if delay > 0:
            time.sleep(delay)
        return delay


class _RateLimitedAdapter(HTTPAdapter):
    """An HTTP adapter that waits for the rate limiter before each request it sends.

    The cached session calls the adapter only on a cache miss, so cached responses cost no wait.
    """

    def __init__(self, limiter: RateLimiter):
        super().__init__(max_retries=0)  # retries are done by S2Client, through the limiter
        self.limiter = limiter

    def send(self, request, *args, **kwargs):
        self.limiter.wait()
        return super().send(request, *args, **kwargs)


def _is_complete_json(response) -> bool:
    """Cache filter: store only responses whose body parses as JSON (a truncated body does not)."""
    if response.status_code != 200:
        return False
    try:
        json.loads(response.content)
    except ValueError:
        return False
    return True


def _parse_retry_after(value: str | None) -> float | None:
    """Seconds to wait from a Retry-After header: delta-seconds or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - time.time())


@dataclass
class RequestStats:
    """Requests per endpoint: ``sent`` over the network (retries included), ``cached`` served
    from the cache, and ``retries``."""

    sent: Counter = field(default_factory=Counter)
    cached: Counter = field(default_factory=Counter)
    retries: Counter = field(default_factory=Counter)

    def total_sent(self) -> int:
        return sum(self.sent.values())


class S2Client:
    """A Semantic Scholar API client over one ``requests`` session.

    Parameters
    ----------
    settings : S2Settings
    api_key : the API key; when None it is read from the environment variable named by
        ``settings.api_key_env``. It is sent as the ``x-api-key`` header, never logged and
        never stored in the cache.

    The client is meant for one thread. Use it as a context manager or call :meth:`close`.
    """

    def __init__(self, settings: S2Settings | None = None, api_key: str | None = None):
        self.settings = settings or S2Settings()
        key_source = "given"
        if api_key is None:
            api_key = os.environ.get(self.settings.api_key_env) or None
            key_source = f"from ${self.settings.api_key_env}"
        self.has_api_key = api_key is not None
        self.requests_per_second = self.settings.effective_requests_per_second(self.has_api_key)
        self.stats = RequestStats()
        self._base_url = self.settings.api_url.rstrip("/")
        # backoff_s * 2**(retry - 1) seconds, at most backoff_max_s, plus 0 to backoff_s of jitter.
        self._backoff = (tenacity.wait_exponential(multiplier=self.settings.backoff_s,
                                                   max=self.settings.backoff_max_s)
                         + tenacity.wait_random(0, self.settings.backoff_s))
        self._session = self._make_session()
        adapter = _RateLimitedAdapter(RateLimiter(self.requests_per_second))
        self._session.mount("http://", adapter)
        self._session.mount("https://", adapter)
        self._session.headers["User-Agent"] = "seedcompare (+requests)"
        if api_key is not None:
            self._session.headers[API_KEY_HEADER] = api_key
        log.info("S2 client: %s, API key %s, %.3g requests/s, cache %s, timeout %g s, "
                 "max %d retries", self._base_url,
                 key_source if self.has_api_key else f"not set (${self.settings.api_key_env} is empty)",
                 self.requests_per_second, self.settings.cache or "off", self.settings.timeout_s,
                 self.settings.max_retries)

    def _make_session(self) -> requests.Session:
        if self.settings.cache is None:
            return requests.Session()
        cache_path = Path(self.settings.cache)
        cache_path.parent.mkdir(parents=True, exist_ok=True)
        expire_after = (-1 if self.settings.cache_expire_days is None
                        else self.settings.cache_expire_days * 86400.0)
        return requests_cache.CachedSession(
            cache_name=str(cache_path),
            backend="sqlite",
            expire_after=expire_after,
            # POST is cached too: the batch body ({"ids": [...]}) is part of the cache key.
            allowable_methods=("GET", "POST"),
            allowable_codes=(200,),
            ignored_parameters=CACHE_IGNORED_PARAMETERS,
            match_headers=False,
            filter_fn=_is_complete_json,
            # S2 responses carry no useful cache headers, so the expiry above decides.
            cache_control=False,
        )

    def __repr__(self) -> str:  # never shows the key
        return (f"S2Client(api_url={self._base_url!r}, api_key={'set' if self.has_api_key else 'unset'}, "
                f"requests_per_second={self.requests_per_second})")

    def close(self) -> None:
        self._session.close()

    def __enter__(self) -> "S2Client":
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    # -- one request with retries --------------------------------------------------------

    def _attempt(self, endpoint: str, target: str, method: str, url: str, params, body):
        try:
            response = self._session.request(method, url, params=params, json=body,
                                             timeout=self.settings.timeout_s)
        except requests.Timeout:
            self.stats.sent[endpoint] += 1
            raise _RetryableError(f"timed out after {self.settings.timeout_s:g} s") from None
        except (requests.ConnectionError, requests.exceptions.ChunkedEncodingError) as error:
            self.stats.sent[endpoint] += 1
            raise _RetryableError(f"connection failed ({type(error).__name__})") from None

        if getattr(response, "from_cache", False):
            self.stats.cached[endpoint] += 1
        else:
            self.stats.sent[endpoint] += 1

        status = response.status_code
        if status == 200:
            try:
                return response.json()
            except ValueError:
                raise _RetryableError(
                    f"invalid JSON in the response ({len(response.content)} bytes)", status) from None
        if status in RETRY_STATUS_CODES:
            raise _RetryableError(f"HTTP {status} {response.reason or ''}".strip(), status,
                                  _parse_retry_after(response.headers.get("Retry-After")))
        detail = response.text[:200].strip()
        if status == 404:
            raise S2NotFoundError(endpoint, target, f"HTTP 404 not found: {detail}", status)
        raise S2RequestError(endpoint, target, f"HTTP {status} {response.reason or ''}: {detail}", status)

    def _wait_seconds(self, retry_state: tenacity.RetryCallState) -> float:
        """Exponential backoff with jitter, but never less than the server's Retry-After."""
        backoff = self._backoff(retry_state)
        retry_after = getattr(retry_state.outcome.exception(), "retry_after", None)
        return backoff if retry_after is None else max(retry_after, backoff)

    def _should_retry(self, error: BaseException) -> bool:
        if not isinstance(error, _RetryableError):
            return False
        return error.retry_after is None or error.retry_after <= self.settings.max_retry_after_s

    def request_json(self, endpoint: str, method: str, path: str, target: str,
                     params: Mapping[str, Any] | None = None, body: Any = None) -> Any:
        """Send one API request with retries and return the decoded JSON.

        ``endpoint`` names the call in logs and stats, ``path`` is relative to ``s2.api_url``
        and ``target`` names what was requested (a paper id, a batch size) for messages.

        Raises
        ------
        S2NotFoundError
            On HTTP 404, without retrying.
        S2RequestError
            On another non-retryable status, or when every attempt failed.
        """
        url = self._base_url + path

        def log_retry(retry_state: tenacity.RetryCallState) -> None:
            error = retry_state.outcome.exception()
            self.stats.retries[endpoint] += 1
            log.warning("S2 %s %s: %s; retry %d of %d in %.2f s", endpoint, target, error.reason,
                        retry_state.attempt_number, self.settings.max_retries,
                        retry_state.next_action.sleep)

        retrying = tenacity.Retrying(
            stop=tenacity.stop_after_attempt(self.settings.max_retries + 1),
            wait=self._wait_seconds,
            retry=tenacity.retry_if_exception(self._should_retry),
            before_sleep=log_retry,
            reraise=True,
        )
        try:
            return retrying(self._attempt, endpoint, target, method, url, params, body)
        except _RetryableError as error:
            reason = error.reason
            if error.retry_after is not None and error.retry_after > self.settings.max_retry_after_s:
                reason += (f"; Retry-After {error.retry_after:g} s exceeds "
                           f"s2.max_retry_after_s = {self.settings.max_retry_after_s:g} s")
            raise S2RequestError(endpoint, target, reason, error.status,
                                 retrying.statistics.get("attempt_number", 1)) from None
        except S2RequestError as error:
            error.attempts = retrying.statistics.get("attempt_number", 1)
            raise

    # -- endpoints ----------------------------------------------------------------------

    def paper_batch(self, ids: Sequence[str], fields: Iterable[str]) -> list[dict | None]:
        """POST /graph/v1/paper/batch for at most 500 ids; return one entry (or None) per id.

        Raises
        ------
        ValueError
            For more than 500 ids.
        S2RequestError
            When the call fails, or the response is not a list of ``len(ids)`` entries.
        """
        ids = list(ids)
        if len(ids) > MAX_BATCH_IDS:
            raise ValueError(f"paper_batch: {len(ids)} ids, the API accepts at most {MAX_BATCH_IDS}")
        target = f"batch of {len(ids)} ids"
        answer = self.request_json("paper_batch", "POST", f"{GRAPH_PATH}/paper/batch", target,
                                   params={"fields": ",".join(fields)}, body={"ids": ids})
        if not isinstance(answer, list) or len(answer) != len(ids):
            found = f"{len(answer)} entries" if isinstance(answer, list) else type(answer).__name__
            raise S2RequestError("paper_batch", target,
                                 f"expected a list of {len(ids)} entries, found {found}")
        return [entry if isinstance(entry, dict) else None for entry in answer]

    def recommendations(self, paper_id: str, limit: int, pool: str,
                        fields: Iterable[str] = CANDIDATE_FIELDS) -> list[dict]:
        """GET /recommendations/v1/papers/forpaper/{paper_id}; return ``recommendedPapers``."""
        answer = self.request_json(
            "recommendations", "GET", f"{RECOMMENDATIONS_PATH}/papers/forpaper/{paper_id}", paper_id,
            params={"limit": limit, "from": pool, "fields": ",".join(fields)})
        papers = answer.get("recommendedPapers") if isinstance(answer, dict) else None
        if not isinstance(papers, list):
            raise S2RequestError("recommendations", paper_id, "no 'recommendedPapers' list in the response")
        return [paper for paper in papers if isinstance(paper, dict)]

    def references(self, paper_id: str, cap: int, page_size: int = MAX_PAGE_SIZE,
                   fields: Iterable[str] = CANDIDATE_FIELDS) -> list[dict]:
        """Return up to ``cap`` papers cited by ``paper_id`` (``citedPaper`` objects)."""
        return self._paged("references", "citedPaper", paper_id, cap, page_size, fields)

    def citations(self, paper_id: str, cap: int, page_size: int = MAX_PAGE_SIZE,
                  fields: Iterable[str] = CANDIDATE_FIELDS) -> list[dict]:
        """Return up to ``cap`` papers citing ``paper_id`` (``citingPaper`` objects)."""
        return self._paged("citations", "citingPaper", paper_id, cap, page_size, fields)

    def _paged(self, endpoint: str, key: str, paper_id: str, cap: int, page_size: int,
               fields: Iterable[str]) -> list[dict]:
        """Follow ``offset``/``next`` until the last page, ``cap`` papers or offset 9,999."""
        fields = ",".join(fields)
        cap = min(cap, MAX_PAGED_RESULTS)
        papers: list[dict] = []
        offset = 0
        while len(papers) < cap:
            limit = min(page_size, cap - len(papers), MAX_PAGED_RESULTS - offset)
            if limit <= 0:
                break
            answer = self.request_json(
                endpoint, "GET", f"{GRAPH_PATH}/paper/{paper_id}/{endpoint}",
                f"{paper_id} offset {offset}",
                params={"offset": offset, "limit": limit, "fields": fields})
            data = answer.get("data") if isinstance(answer, dict) else None
            if not isinstance(data, list):
                raise S2RequestError(endpoint, f"{paper_id} offset {offset}", "no 'data' list in the response")
            for item in data[:limit]:
                paper = item.get(key) if isinstance(item, dict) else None
                if isinstance(paper, dict):
                    papers.append(paper)
            next_offset = answer.get("next")
            if not data or not isinstance(next_offset, int) or next_offset <= offset:
                break
            offset = next_offset
        return papers


# --------------------------------------------------------------------------------------------
# Seeds


def _chunks(items: Sequence, size: int):
    for start in range(0, len(items), size):
        yield items[start:start + size]


def _progress(iterable, total: int, description: str, unit: str, progress: bool):
    # disable=None shows the bar only on a terminal, so log files get no bar fragments.
    return tqdm(iterable, total=total, desc=description, unit=unit,
                disable=None if progress else True, leave=False)


def resolve_seed_ids(client: S2Client, seed_ids: Iterable, progress: bool = True) -> pd.DataFrame:
    """Resolve seed ids of any accepted form (see :mod:`seedcompare.ids`) with the batch endpoint.

    Returns
    -------
    DataFrame, one row per input id in input order, duplicates kept. Columns:

    * ``input_id`` (string): the id as given.
    * ``s2_id`` (string): the normalized id sent to the API, NA when invalid.
    * ``paper_id`` (string) and ``corpus_id`` (Int64): NA unless found.
    * ``found`` (bool).
    * ``status`` (string): ``ok``, ``not_found``, ``invalid_id`` or ``failed``.
    * ``reason`` (string): why the status is not ok, empty when ok.

    Distinct ids are sent in batches of ``s2.batch_size`` (at most 500). When a batch request
    fails, its seeds get status ``failed`` with the reason, and no error is raised.
    """
    rows = []
    for raw in seed_ids:
        row = {"input_id": str(raw), "s2_id": pd.NA, "paper_id": pd.NA, "corpus_id": pd.NA,
               "found": False, "status": SEED_INVALID_ID, "reason": ""}
        try:
            row["s2_id"] = parse_paper_id(raw).api_id
        except InvalidPaperIdError as error:
            row["reason"] = str(error).split("; accepted forms:")[0]
        rows.append(row)

    distinct = list(dict.fromkeys(row["s2_id"] for row in rows if row["s2_id"] is not pd.NA))
    log.info("resolving %d seed ids (%d distinct valid, %d invalid)", len(rows), len(distinct),
             sum(row["s2_id"] is pd.NA for row in rows))
    entries: dict[str, dict | None] = {}
    failures: dict[str, str] = {}
    batches = list(_chunks(distinct, client.settings.batch_size))
    for batch in _progress(batches, len(batches), "resolve seeds", "batch", progress):
        try:
            answer = client.paper_batch(batch, fields=("paperId", "corpusId"))
        except S2RequestError as error:
            log.error("resolving %d seed ids failed, first %s: %s", len(batch), batch[0], error)
            failures.update(dict.fromkeys(batch, str(error)))
            continue
        entries.update(zip(batch, answer))

    for row in rows:
        s2_id = row["s2_id"]
        if s2_id is pd.NA:
            continue
        if s2_id in failures:
            row["status"], row["reason"] = SEED_FAILED, failures[s2_id]
            continue
        entry = entries.get(s2_id)
        corpus_id = entry.get("corpusId") if entry else None
        if entry is None or not isinstance(corpus_id, int):
            row["status"] = SEED_NOT_FOUND
            row["reason"] = "not found by the S2 API" if entry is None else "the S2 response has no corpusId"
            continue
        row.update(paper_id=entry.get("paperId"), corpus_id=corpus_id, found=True,
                   status=SEED_OK, reason="")

    table = pd.DataFrame(rows, columns=["input_id", "s2_id", "paper_id", "corpus_id", "found",
                                        "status", "reason"])
    table = table.astype({"input_id": "string", "s2_id": "string", "paper_id": "string",
                          "corpus_id": "Int64", "found": "bool", "status": "string",
                          "reason": "string"})
    counts = table["status"].value_counts()
    log.info("resolved seed ids: %s", ", ".join(f"{k}={v}" for k, v in counts.items()))
    return table


# --------------------------------------------------------------------------------------------
# Candidates and edges


@dataclass
class SeedCandidates:
    """Candidates of one seed. ``candidates`` maps corpus id -> (paper id or None, set of
    provenances, 1-based recommendation rank or None); ``edges`` are (citing, cited) pairs."""

    seed: int
    candidates: dict[int, tuple[str | None, set[str], int | None]]
    edges: list[tuple[int, int]]
    skipped_without_corpus_id: int = 0


@dataclass
class CandidateResult:
    """Candidates of every seed.

    Attributes
    ----------
    candidates : DataFrame
        ``seed`` (int64), ``corpus_id`` (int64), ``paper_id`` (string, nullable),
        ``recommended``, ``reference``, ``citation`` (bool; a paper may have several),
        ``recommendation_rank`` (Int64, 1-based, NA unless recommended). The seed itself is
        never its own candidate.
    edges : DataFrame
        ``citing``, ``cited`` (int64): every reference and citation fetched, deduplicated.
    failures : DataFrame
        ``seed`` (int64), ``endpoint`` and ``reason`` (string) of each seed that failed; such a
        seed contributes no candidates and no edges.
    """

    candidates: pd.DataFrame
    edges: pd.DataFrame
    failures: pd.DataFrame


def _add_candidate(found: SeedCandidates, paper: dict, provenance: str, rank: int | None = None):
    corpus_id = paper.get("corpusId")
    if not isinstance(corpus_id, int) or isinstance(corpus_id, bool):
        # S2 lists references it could not match to a paper with null ids.
        found.skipped_without_corpus_id += 1
        return None
    if corpus_id == found.seed:
        return corpus_id
    paper_id, provenances, old_rank = found.candidates.get(corpus_id, (None, set(), None))
    provenances.add(provenance)
    found.candidates[corpus_id] = (paper_id or paper.get("paperId"), provenances,
                                   old_rank if old_rank is not None else rank)
    return corpus_id


def fetch_seed_candidates(client: S2Client, seed: int, paper_id: str | None = None) -> SeedCandidates:
    """Fetch the recommendations, references and citations of one seed.

    At most one recommendations call, plus ``ceil(n / s2.page_size)`` calls each for references
    and citations, where n is the number returned (capped by ``s2.max_references`` /
    ``s2.max_citations``).

    Raises
    ------
    S2RequestError
        The first call that failed for good; the seed's other calls are then not made.
    """
    settings = client.settings
    api_id = paper_id or f"CorpusId:{seed}"
    found = SeedCandidates(seed=seed, candidates={}, edges=[])

    if settings.recommendations_limit > 0:
        papers = client.recommendations(api_id, settings.recommendations_limit,
                                        settings.recommendations_pool)
        for rank, paper in enumerate(papers, start=1):
            _add_candidate(found, paper, "recommended", rank)
    if settings.max_references > 0:
        for paper in client.references(api_id, settings.max_references, settings.page_size):
            cited = _add_candidate(found, paper, "reference")
            if cited is not None and cited != seed:
                found.edges.append((seed, cited))
    if settings.max_citations > 0:
        for paper in client.citations(api_id, settings.max_citations, settings.page_size):
            citing = _add_candidate(found, paper, "citation")
            if citing is not None and citing != seed:
                found.edges.append((citing, seed))
    return found


def _empty_candidates() -> pd.DataFrame:
    return pd.DataFrame({
        "seed": pd.Series(dtype="int64"), "corpus_id": pd.Series(dtype="int64"),
        "paper_id": pd.Series(dtype="string"), "recommended": pd.Series(dtype="bool"),
        "reference": pd.Series(dtype="bool"), "citation": pd.Series(dtype="bool"),
        "recommendation_rank": pd.Series(dtype="Int64"),
    })


def fetch_candidates(client: S2Client, seeds, progress: bool = True) -> CandidateResult:
    """Fetch candidates and citation edges for every seed.

    Parameters
    ----------
    seeds : the table from :func:`resolve_seed_ids` (its found rows are used), or an iterable
        of corpus ids, or of ``(corpus_id, paper_id)`` pairs. Duplicate corpus ids are fetched
        once.

    A seed whose calls fail for good is listed in ``failures`` and logged; the others go on.
    """
    pairs = _seed_pairs(seeds)
    log.info("fetching candidates for %d seeds (recommendations %d from %s, references <= %d, "
             "citations <= %d)", len(pairs), client.settings.recommendations_limit,
             client.settings.recommendations_pool, client.settings.max_references,
             client.settings.max_citations)
    rows, edges, failures = [], [], []
    skipped = 0
    for seed, paper_id in _progress(pairs, len(pairs), "seed candidates", "seed", progress):
        try:
            found = fetch_seed_candidates(client, seed, paper_id)
        except S2RequestError as error:
            log.error("seed %d: candidates failed: %s", seed, error)
            failures.append({"seed": seed, "endpoint": error.endpoint, "reason": str(error)})
            continue
        skipped += found.skipped_without_corpus_id
        for corpus_id, (candidate_paper_id, provenances, rank) in found.candidates.items():
            rows.append({"seed": seed, "corpus_id": corpus_id, "paper_id": candidate_paper_id,
                         "recommended": "recommended" in provenances,
                         "reference": "reference" in provenances,
                         "citation": "citation" in provenances,
                         "recommendation_rank": rank})
        edges.extend(found.edges)

    candidates = (pd.DataFrame(rows).astype(_empty_candidates().dtypes.to_dict())
                  if rows else _empty_candidates())
    edge_table = pd.DataFrame(edges, columns=["citing", "cited"], dtype="int64")
    edge_table = edge_table.drop_duplicates().reset_index(drop=True)
    failure_table = pd.DataFrame(failures, columns=["seed", "endpoint", "reason"]).astype(
        {"seed": "int64", "endpoint": "string", "reason": "string"})
    log.info("candidates: %d seeds ok, %d failed, %d candidate rows, %d edges, %d listed papers "
             "without corpus id skipped", len(pairs) - len(failures), len(failures),
             len(candidates), len(edge_table), skipped)
    return CandidateResult(candidates=candidates, edges=edge_table, failures=failure_table)


def _seed_pairs(seeds) -> list[tuple[int, str | None]]:
    if isinstance(seeds, pd.DataFrame):
        frame = seeds[seeds["found"]] if "found" in seeds.columns else seeds
        paper_ids = frame["paper_id"] if "paper_id" in frame.columns else [None] * len(frame)
        raw = [(int(c), None if pd.isna(p) else str(p)) for c, p in zip(frame["corpus_id"], paper_ids)]
    else:
        raw = [(int(s[0]), s[1]) if isinstance(s, tuple) else (int(s), None) for s in seeds]
    seen, pairs = set(), []
    for corpus_id, paper_id in raw:
        if corpus_id not in seen:
            seen.add(corpus_id)
            pairs.append((corpus_id, paper_id))
    return pairs


# --------------------------------------------------------------------------------------------
# Metadata and embeddings


@dataclass
class PaperFetchResult:
    """Metadata and embeddings of the papers of a run.

    Attributes
    ----------
    papers : DataFrame with the columns and dtypes of ``corpus.PAPER_COLUMNS``, one row per
        paper the API returned (papers with a null entry have no row).
    ids : int64 array, shape (n,): corpus ids with a usable embedding, in request order.
    vectors : float32 array, shape (n, d): their embeddings, raw; shape (0, 0) when n is 0.
    missing : DataFrame ``corpus_id`` (int64), ``reason`` (``absent``, ``zero_vector``,
        ``nonfinite_vector``, as in the vectors stage) and ``detail`` (``not_found``,
        ``no_embedding``, ``malformed_vector``, ``dimension_mismatch``, ``request_failed``,
        ``zero_vector``, ``nonfinite_vector``).
    model : the embedding's ``model`` string from the responses (None when no vector came back).
    """

    papers: pd.DataFrame
    ids: np.ndarray
    vectors: np.ndarray
    missing: pd.DataFrame
    model: str | None = None


def _vector_of(entry: dict) -> tuple[np.ndarray | None, str, str | None]:
    """Return (vector or None, missing detail, model) of one batch entry."""
    value = entry.get("embedding")
    if not isinstance(value, dict) or value.get("vector") is None:
        return None, "no_embedding", None
    try:
        vector = np.asarray(value["vector"], dtype=np.float64)
    except (TypeError, ValueError):
        return None, "malformed_vector", value.get("model")
    if vector.ndim != 1 or vector.size == 0:
        return None, "malformed_vector", value.get("model")
    return vector, "", value.get("model")


def fetch_papers(client: S2Client, corpus_ids: Iterable[int], progress: bool = True) -> PaperFetchResult:
    """Fetch metadata and the configured embedding of every distinct corpus id.

    Sends ``ceil(n / s2.batch_size)`` batch calls with only the fields needed: paperId, corpusId,
    title, year, citationCount and ``embedding.<s2.embedding>``. A null entry, a null or
    malformed embedding, a vector of another length than the first one, and a batch whose
    request fails make those papers missing (listed in ``missing``), never an error.
    """
    ids = list(dict.fromkeys(int(c) for c in corpus_ids))
    embedding_field = f"embedding.{client.settings.embedding}"
    fields = ("paperId", "corpusId", "title", "year", "citationCount", embedding_field)
    log.info("fetching metadata and %s for %d papers", embedding_field, len(ids))

    paper_rows, vector_ids, vectors, missing = [], [], [], []
    model, dim = None, None
    batches = list(_chunks(ids, client.settings.batch_size))
    for batch in _progress(batches, len(batches), "papers", "batch", progress):
        try:
            answer = client.paper_batch([f"CorpusId:{c}" for c in batch], fields)
        except S2RequestError as error:
            log.error("paper batch of %d ids failed, first CorpusId:%d: %s", len(batch), batch[0], error)
            missing.extend((c, MISSING_ABSENT, "request_failed") for c in batch)
            continue
        for corpus_id, entry in zip(batch, answer):
            if entry is None:
                missing.append((corpus_id, MISSING_ABSENT, "not_found"))
                continue
            paper_rows.append({"corpus_id": corpus_id, "paper_id": entry.get("paperId"),
                               "title": entry.get("title"), "year": entry.get("year"),
                               "citation_count": entry.get("citationCount")})
            vector, detail, entry_model = _vector_of(entry)
            if vector is None:
                missing.append((corpus_id, MISSING_ABSENT, detail))
                continue
            if dim is None:
                dim, model = vector.size, entry_model
            if vector.size != dim:
                missing.append((corpus_id, MISSING_ABSENT, "dimension_mismatch"))
            elif not np.isfinite(vector).all():
                missing.append((corpus_id, MISSING_NONFINITE, MISSING_NONFINITE))
            elif not vector.any():
                missing.append((corpus_id, MISSING_ZERO, MISSING_ZERO))
            else:
                vector_ids.append(corpus_id)
                vectors.append(vector.astype(np.float32))

    papers = pd.DataFrame(paper_rows, columns=list(PAPER_COLUMNS))
    papers["corpus_id"] = papers["corpus_id"].astype("int64")
    for column in ("year", "citation_count"):
        papers[column] = pd.to_numeric(papers[column], errors="coerce").astype("Int64")
    for column in ("paper_id", "title"):
        papers[column] = papers[column].astype("string")
    missing_table = pd.DataFrame(missing, columns=["corpus_id", "reason", "detail"]).astype(
        {"corpus_id": "int64", "reason": "string", "detail": "string"})
    result = PaperFetchResult(
        papers=papers,
        ids=np.asarray(vector_ids, dtype=np.int64),
        vectors=np.vstack(vectors) if vectors else np.zeros((0, 0), dtype=np.float32),
        missing=missing_table,
        model=model,
    )
    log.info("papers: %d requested, %d with metadata, %d with a %d-d %s vector (model %s), "
             "%d missing (%s)", len(ids), len(papers), len(vector_ids), dim or 0,
             client.settings.embedding, model,
             len(missing_table), ", ".join(f"{k}={v}" for k, v in
                                           missing_table["detail"].value_counts().items()) or "none")
    return result


# --------------------------------------------------------------------------------------------
# A whole run and its outputs


@dataclass
class S2Run:
    """Everything fetched for one set of seeds.

    ``seeds`` is the :func:`resolve_seed_ids` table with ``status`` set to ``failed`` (and the
    reason) for seeds whose candidate calls failed. ``papers`` covers every found seed and
    every candidate.
    """

    seeds: pd.DataFrame
    candidates: CandidateResult
    papers: PaperFetchResult
    stats: RequestStats


def fetch_run(client: S2Client, seed_ids: Iterable, progress: bool = True) -> S2Run:
    """Resolve seeds, fetch their candidates, then metadata and embeddings of every paper."""
    started = time.monotonic()
    seed_ids = list(seed_ids)
    log.info("S2 fetch started for %d seed ids", len(seed_ids))
    seeds = resolve_seed_ids(client, seed_ids, progress)
    candidates = fetch_candidates(client, seeds, progress)

    failed = dict(zip(candidates.failures["seed"], candidates.failures["reason"]))
    if failed:
        hit = seeds["corpus_id"].isin(list(failed)).fillna(False).astype(bool)
        seeds.loc[hit, "status"] = SEED_FAILED
        seeds.loc[hit, "reason"] = [failed[int(c)] for c in seeds.loc[hit, "corpus_id"]]

    ok_seeds = [int(c) for c in seeds.loc[seeds["status"] == SEED_OK, "corpus_id"]]
    paper_ids = ok_seeds + [int(c) for c in candidates.candidates["corpus_id"]]
    papers = fetch_papers(client, paper_ids, progress)
    log.info("S2 fetch finished in %.1f s: %d requests sent (%d retries), %d served from the cache",
             time.monotonic() - started, client.stats.total_sent(),
             sum(client.stats.retries.values()), sum(client.stats.cached.values()))
    return S2Run(seeds=seeds, candidates=candidates, papers=papers, stats=client.stats)


def write_papers(papers: pd.DataFrame, path: str | Path) -> None:
    """Write the papers table (``corpus.PAPER_COLUMNS`` and dtypes) to Parquet."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    papers.astype(PAPER_COLUMNS)[list(PAPER_COLUMNS)].to_parquet(path, index=False)


def write_embeddings(result: PaperFetchResult, out_dir: str | Path) -> None:
    """Write embeddings in the pipeline's ``npy`` format.

    Files: ``vectors.npy`` (float32, N x d), ``ids.npy`` (int64, N), ``missing.parquet``
    (``corpus_id``, ``reason`` as in the vectors stage) and ``missing_detail.parquet`` (with the
    S2-specific ``detail``). Missing papers are absent from the arrays.
    """
    out_dir = Path(out_dir)
    write_method_vectors(
        MethodVectors(ids=result.ids, vectors=result.vectors.astype(np.float32, copy=False),
                      missing=result.missing[["corpus_id", "reason"]].astype({"reason": str})),
        out_dir)
    result.missing.to_parquet(out_dir / "missing_detail.parquet", index=False)


def write_candidates(candidates: pd.DataFrame, path: str | Path) -> None:
    """Write the candidates table (see :class:`CandidateResult`) to Parquet."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    candidates.to_parquet(path, index=False)


def write_edges(edges: pd.DataFrame, path: str | Path) -> None:
    """Write citation edges (``citing``, ``cited``, int64) to Parquet."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    edges.astype({"citing": "int64", "cited": "int64"})[["citing", "cited"]].to_parquet(path, index=False)


def write_run(run: S2Run, out_dir: str | Path, embedding_dir: str = "specter") -> dict[str, Path]:
    """Write every output of a run under ``out_dir`` and return the paths written.

    ``seeds.parquet`` (resolution and status), ``candidates.parquet``, ``edges.parquet``,
    ``papers.parquet`` and ``<embedding_dir>/`` (vectors.npy, ids.npy, missing.parquet,
    missing_detail.parquet).
    """
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = {name: out_dir / name for name in
             ("seeds.parquet", "candidates.parquet", "edges.parquet", "papers.parquet")}
    run.seeds.to_parquet(paths["seeds.parquet"], index=False)
    write_candidates(run.candidates.candidates, paths["candidates.parquet"])
    write_edges(run.candidates.edges, paths["edges.parquet"])
    write_papers(run.papers.papers, paths["papers.parquet"])
    paths[embedding_dir] = out_dir / embedding_dir
    write_embeddings(run.papers, paths[embedding_dir])
    log.info("S2 outputs written to %s", out_dir)
    return paths
