"""Tests of the Semantic Scholar client (seedcompare.s2) against the local mock API.

Every request goes to a mock server bound to 127.0.0.1. An autouse fixture makes any other
connection or name look-up fail, so a test can never reach the public API.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import signal
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import requests

from seedcompare.config import ConfigError
from seedcompare.corpus import PAPER_COLUMNS, read_papers, read_prepared_vectors
from seedcompare.demo import generate_demo
from seedcompare.s2 import (
    DEFAULT_API_URL,
    S2Client,
    S2NotFoundError,
    S2RequestError,
    S2Settings,
    _parse_retry_after,
    fetch_candidates,
    fetch_papers,
    fetch_run,
    fetch_seed_candidates,
    resolve_seed_ids,
    write_run,
)
from seedcompare.s2_mock import MockCorpus, MockS2Server

KEY_ENV = "SEEDCOMPARE_TEST_S2_KEY"
SECRET = "sk-test-SECRET-7f3a9c41d2"


# -- fixtures ----------------------------------------------------------------------------


def _is_loopback(host) -> bool:
    if host in ("localhost", None):
        return True
    try:
        return ipaddress.ip_address(str(host).split("%")[0]).is_loopback
    except ValueError:
        return False


@pytest.fixture(autouse=True)
def loopback_only(monkeypatch):
    """Fail any connection or DNS look-up that is not for a loopback address."""
    real_getaddrinfo, real_connect = socket.getaddrinfo, socket.socket.connect

    def guarded_getaddrinfo(host, *args, **kwargs):
        if not _is_loopback(host):
            raise OSError(f"test network guard: look-up of {host!r} blocked")
        return real_getaddrinfo(host, *args, **kwargs)

    def guarded_connect(sock, address):
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _is_loopback(address[0]):
            raise OSError(f"test network guard: connection to {address!r} blocked")
        return real_connect(sock, address)

    monkeypatch.setattr(socket, "getaddrinfo", guarded_getaddrinfo)
    monkeypatch.setattr(socket.socket, "connect", guarded_connect)
    monkeypatch.delenv("S2_API_KEY", raising=False)
    monkeypatch.delenv(KEY_ENV, raising=False)


@pytest.fixture(scope="module")
def corpus_dir(tmp_path_factory) -> Path:
    directory = tmp_path_factory.mktemp("s2corpus")
    generate_demo(directory, n_papers=600, n_seeds=30, random_seed=3)
    return directory


@pytest.fixture(scope="module")
def mock_corpus(corpus_dir) -> MockCorpus:
    return MockCorpus(corpus_dir)


@pytest.fixture
def server(mock_corpus):
    with MockS2Server(mock_corpus) as running:
        yield running


def make_settings(server, tmp_path, **overrides) -> S2Settings:
    """Fast settings for tests: short timeouts and backoffs, a high rate limit."""
    values = dict(api_url=server.url, api_key_env=KEY_ENV, cache=str(tmp_path / "cache.sqlite"),
                  requests_per_second=500.0, timeout_s=2.0, max_retries=3, backoff_s=0.01,
                  backoff_max_s=0.05, max_retry_after_s=5.0)
    values.update(overrides)
    return S2Settings(**values)


def seeds_of(corpus: MockCorpus, count: int, min_references: int = 1) -> list[int]:
    """Corpus ids with a vector and at least ``min_references`` references, in corpus order."""
    chosen = []
    for row, corpus_id in enumerate(corpus.corpus_ids):
        if corpus.has_vector[row] and len(corpus.references.get(int(corpus_id), [])) >= min_references:
            chosen.append(int(corpus_id))
        if len(chosen) == count:
            break
    return chosen


def requests_to(server, endpoint: str):
    return [r for r in server.requests if r.endpoint == endpoint]


# -- settings ------------------------------------------------------------------------------


def test_settings_defaults():
    settings = S2Settings()
    assert settings.api_url == DEFAULT_API_URL
    assert settings.api_key_env == "S2_API_KEY"
    assert settings.effective_requests_per_second(has_api_key=True) == 1.0
    assert settings.effective_requests_per_second(has_api_key=False) == 0.3
    assert S2Settings(requests_per_second=4).effective_requests_per_second(False) == 4.0


def test_settings_from_config_section():
    settings = S2Settings.from_config({"k": 10, "s2": {"max_retries": 7, "embedding": "specter_v1"}})
    assert settings.max_retries == 7
    assert settings.embedding == "specter_v1"
    assert S2Settings.from_config({"timeout_s": 3}).timeout_s == 3
    assert S2Settings.from_config(None) == S2Settings()


def test_settings_reject_invalid_values():
    with pytest.raises(ConfigError) as caught:
        S2Settings.from_config({"s2": {"batch_size": 501, "recommendations_pool": "cs",
                                       "page_size": 0, "requests_per_second": 0}})
    message = str(caught.value)
    assert "'s2.batch_size': must be 1 to 500" in message
    assert "'s2.recommendations_pool': 'cs' is not allowed" in message
    assert "'s2.page_size': must be 1 to 1000" in message
    assert "'s2.requests_per_second': must be positive" in message


def test_settings_reject_unknown_key():
    with pytest.raises(ConfigError, match="unknown key.*max_retires"):
        S2Settings.from_config({"s2": {"max_retires": 2}})


def test_retry_after_parsing():
    assert _parse_retry_after("3") == 3.0
    assert _parse_retry_after("0.5") == 0.5
    assert _parse_retry_after(None) is None
    assert _parse_retry_after("soon") is None
    assert _parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # a past date waits 0 s


# -- seed resolution -----------------------------------------------------------------------


def test_resolve_accepts_every_form(server, tmp_path, mock_corpus):
    corpus = mock_corpus
    ids = [int(c) for c in corpus.corpus_ids[:6]]
    inputs = [
        ids[0],
        f"corpusid:{ids[1]}",
        corpus.paper_ids[2].upper(),
        f"doi:{corpus.doi(3).upper()}",
        f"ARXIV:{corpus.arxiv_id(4)}",
        f"URL:https://arxiv.org/abs/{corpus.arxiv_id(5)}",
        "CorpusId:1",
        "DOI:10.9999/unknown",
        "not an id",
        ids[0],
    ]
    with S2Client(make_settings(server, tmp_path)) as client:
        table = resolve_seed_ids(client, inputs, progress=False)

    assert table["input_id"].tolist() == [str(v) for v in inputs]
    assert table["status"].tolist() == ["ok"] * 6 + ["not_found", "not_found", "invalid_id", "ok"]
    assert table["corpus_id"].iloc[:6].tolist() == ids
    assert table["corpus_id"].iloc[9] == ids[0]
    assert table["paper_id"].iloc[2] == corpus.paper_ids[2]
    assert table["found"].tolist() == [True] * 6 + [False, False, False, True]
    assert table["reason"].iloc[6] == "not found by the S2 API"
    assert "invalid paper id 'not an id'" in table["reason"].iloc[8]
    assert pd.isna(table["s2_id"].iloc[8])
    assert str(table["corpus_id"].dtype) == "Int64"
    assert len(requests_to(server, "paper_batch")) == 1
    assert requests_to(server, "paper_batch")[0].n_ids == 8  # distinct valid ids only


def test_resolve_batches_at_most_500(server, tmp_path, mock_corpus):
    inputs = [int(c) for c in mock_corpus.corpus_ids] + [f"CorpusId:{n}" for n in range(1, 501)]
    with S2Client(make_settings(server, tmp_path)) as client:
        table = resolve_seed_ids(client, inputs, progress=False)

    batches = requests_to(server, "paper_batch")
    assert len(batches) == math.ceil(len(inputs) / 500)
    assert max(b.n_ids for b in batches) == 500
    assert sum(b.n_ids for b in batches) == len(inputs)
    assert int(table["found"].sum()) == len(mock_corpus.corpus_ids)


def test_batch_over_500_rejected_before_sending(server, tmp_path):
    with S2Client(make_settings(server, tmp_path)) as client:
        with pytest.raises(ValueError, match="501 ids, the API accepts at most 500"):
            client.paper_batch([f"CorpusId:{n}" for n in range(1, 502)], fields=["title"])
    assert server.requests == []


def test_resolve_batch_failure_marks_seeds(server, tmp_path, mock_corpus):
    server.queue_faults("500", "500", "500", "500", endpoint="paper_batch")
    with S2Client(make_settings(server, tmp_path)) as client:
        table = resolve_seed_ids(client, [int(mock_corpus.corpus_ids[0]), "bad"], progress=False)
    assert table["status"].tolist() == ["failed", "invalid_id"]
    assert "HTTP 500" in table["reason"].iloc[0]
    assert "after 4 attempt(s)" in table["reason"].iloc[0]


# -- candidates ----------------------------------------------------------------------------


def test_paging_stops_at_cap(server, tmp_path, mock_corpus):
    cited = max(mock_corpus.citations, key=lambda c: len(mock_corpus.citations[c]))
    truth = mock_corpus.citations[cited]
    assert len(truth) >= 15, "the fixture needs a paper with at least 15 citations"

    with S2Client(make_settings(server, tmp_path)) as client:
        capped = client.citations(f"CorpusId:{cited}", cap=12, page_size=5)
    pages = requests_to(server, "citations")
    assert [p["corpusId"] for p in capped] == truth[:12]
    assert [int(p.query["offset"]) for p in pages] == [0, 5, 10]
    assert [int(p.query["limit"]) for p in pages] == [5, 5, 2]


def test_paging_follows_next_to_end(server, tmp_path, mock_corpus):
    cited = max(mock_corpus.citations, key=lambda c: len(mock_corpus.citations[c]))
    truth = mock_corpus.citations[cited]
    with S2Client(make_settings(server, tmp_path)) as client:
        everything = client.citations(f"CorpusId:{cited}", cap=1000, page_size=4)
    assert [p["corpusId"] for p in everything] == truth
    assert len(requests_to(server, "citations")) == math.ceil(len(truth) / 4)


def test_candidate_provenance_flags(server, tmp_path, mock_corpus):
    corpus = mock_corpus
    settings = make_settings(server, tmp_path, recommendations_limit=50)
    with S2Client(settings) as client:
        for seed in seeds_of(corpus, 30, min_references=3):
            found = fetch_seed_candidates(client, seed)
            flags = {c: provenances for c, (_, provenances, _) in found.candidates.items()}
            if any(len(p) > 1 for p in flags.values()):
                break
        else:
            pytest.fail("no seed of the fixture has a candidate with two provenances")

    row = corpus.row_of[seed]
    recommended = [int(corpus.corpus_ids[r]) for r in corpus.recommend(row, 50, "all-cs")]
    references = set(corpus.references.get(seed, []))
    citations = set(corpus.citations.get(seed, []))
    assert {c for c, p in flags.items() if "recommended" in p} == set(recommended)
    assert {c for c, p in flags.items() if "reference" in p} == references
    assert {c for c, p in flags.items() if "citation" in p} == citations
    assert seed not in flags
    ranks = {c: rank for c, (_, _, rank) in found.candidates.items() if rank is not None}
    assert sorted(ranks, key=ranks.get) == recommended
    assert set(found.edges) == {(seed, c) for c in references} | {(c, seed) for c in citations}


def test_candidates_table_columns(server, tmp_path, mock_corpus):
    seeds = seeds_of(mock_corpus, 3)
    with S2Client(make_settings(server, tmp_path, recommendations_limit=20)) as client:
        result = fetch_candidates(client, seeds + [seeds[0]], progress=False)
    table = result.candidates
    assert table.dtypes.astype(str).to_dict() == {
        "seed": "int64", "corpus_id": "int64", "paper_id": "string", "recommended": "bool",
        "reference": "bool", "citation": "bool", "recommendation_rank": "Int64"}
    assert table["seed"].unique().tolist() == seeds
    assert not table.duplicated(["seed", "corpus_id"]).any()
    assert (table[["recommended", "reference", "citation"]].any(axis=1)).all()
    assert table.loc[~table["recommended"], "recommendation_rank"].isna().all()
    assert len(requests_to(server, "recommendations")) == 3  # the repeated seed is fetched once
    assert result.edges.dtypes.astype(str).to_dict() == {"citing": "int64", "cited": "int64"}
    assert result.failures.empty


def test_recent_pool_and_limit_sent(server, tmp_path, mock_corpus):
    seed = seeds_of(mock_corpus, 1)[0]
    settings = make_settings(server, tmp_path, recommendations_limit=7, recommendations_pool="recent",
                             max_references=0, max_citations=0)
    with S2Client(settings) as client:
        found = fetch_seed_candidates(client, seed)
    (call,) = requests_to(server, "recommendations")
    assert call.query["from"] == "recent"
    assert call.query["limit"] == "7"
    assert call.query["fields"] == "paperId,corpusId"
    assert len(found.candidates) <= 7
    assert requests_to(server, "references") == []
    assert requests_to(server, "citations") == []


# -- metadata and embeddings ---------------------------------------------------------------


def test_null_entries_and_embeddings_missing(server, tmp_path, mock_corpus):
    corpus = mock_corpus
    with_vector = [int(c) for c, ok in zip(corpus.corpus_ids, corpus.has_vector) if ok]
    zero_vector = int(corpus.corpus_ids[np.flatnonzero(~corpus.has_vector)[0]])
    null_entry, null_embedding, good = with_vector[:3]
    server.faults.null_entry_corpus_ids = {null_entry}
    server.faults.null_embedding_corpus_ids = {null_embedding}

    with S2Client(make_settings(server, tmp_path)) as client:
        result = fetch_papers(client, [null_entry, null_embedding, zero_vector, good, 1, good],
                              progress=False)

    assert result.ids.tolist() == [good]
    assert result.vectors.shape == (1, 768)
    assert result.vectors.dtype == np.float32
    np.testing.assert_allclose(result.vectors[0], corpus.vectors[corpus.row_of[good]], rtol=1e-6)
    detail = dict(zip(result.missing["corpus_id"], result.missing["detail"]))
    assert detail == {null_entry: "not_found", null_embedding: "no_embedding",
                      zero_vector: "no_embedding", 1: "not_found"}
    assert set(result.missing["reason"]) == {"absent"}
    assert result.papers["corpus_id"].tolist() == [null_embedding, zero_vector, good]
    assert result.papers.dtypes.astype(str).to_dict() == PAPER_COLUMNS
    assert result.model == "specter_v2"
    (call,) = requests_to(server, "paper_batch")
    assert call.query["fields"] == "paperId,corpusId,title,year,citationCount,embedding.specter_v2"


class _FakeBatchClient:
    """Stands in for S2Client in fetch_papers to return hand-made batch responses."""

    def __init__(self, answers: dict[int, dict | None]):
        self.answers = answers
        self.settings = S2Settings(api_url="http://127.0.0.1:9", cache=None)

    def paper_batch(self, ids, fields):
        return [self.answers[int(i.split(":")[1])] for i in ids]


def test_malformed_vectors_missing():
    def entry(vector):
        return {"paperId": "a" * 40, "embedding": {"model": "specter_v2", "vector": vector}}

    client = _FakeBatchClient({
        1: entry([1.0, 2.0, 3.0]),
        2: entry([1.0, 2.0]),
        3: entry([0.0, 0.0, 0.0]),
        4: entry([1.0, float("nan"), 0.0]),
        5: entry("not a vector"),
        6: {"paperId": "b" * 40},
        7: entry([]),
    })
    result = fetch_papers(client, range(1, 8), progress=False)
    assert result.ids.tolist() == [1]
    detail = dict(zip(result.missing["corpus_id"], result.missing["detail"]))
    assert detail == {2: "dimension_mismatch", 3: "zero_vector", 4: "nonfinite_vector",
                      5: "malformed_vector", 6: "no_embedding", 7: "malformed_vector"}
    reason = dict(zip(result.missing["corpus_id"], result.missing["reason"]))
    assert reason[3] == "zero_vector"
    assert reason[4] == "nonfinite_vector"
    assert reason[6] == "absent"


def test_failed_paper_batch_marks_missing(server, tmp_path, mock_corpus):
    server.queue_faults(*["503"] * 4, endpoint="paper_batch")
    ids = [int(c) for c in mock_corpus.corpus_ids[:3]]
    with S2Client(make_settings(server, tmp_path)) as client:
        result = fetch_papers(client, ids, progress=False)
    assert result.ids.size == 0
    assert result.missing["detail"].tolist() == ["request_failed"] * 3
    assert result.papers.empty


# -- retries, timeouts and faults ----------------------------------------------------------


def test_429_retry_after_honoured(server, tmp_path, mock_corpus, caplog):
    caplog.set_level(logging.WARNING, logger="seedcompare.s2")
    seed = seeds_of(mock_corpus, 1)[0]
    server.faults.retry_after = "1"
    server.queue_faults("429", "429", endpoint="recommendations")
    with S2Client(make_settings(server, tmp_path)) as client:
        papers = client.recommendations(f"CorpusId:{seed}", 10, "all-cs")
        assert client.stats.retries["recommendations"] == 2

    calls = requests_to(server, "recommendations")
    assert [c.status for c in calls] == [429, 429, 200]
    assert calls[1].time - calls[0].time >= 0.98
    assert calls[2].time - calls[1].time >= 0.98
    assert len(papers) == 10
    retry_lines = [r.getMessage() for r in caplog.records if "retry" in r.getMessage()]
    assert len(retry_lines) == 2
    assert f"S2 recommendations CorpusId:{seed}: HTTP 429" in retry_lines[0]
    assert "retry 1 of 3 in 1.0" in retry_lines[0]
    assert "retry 2 of 3 in 1.0" in retry_lines[1]


def test_retry_after_over_maximum_fails(server, tmp_path, mock_corpus):
    server.faults.retry_after = "900"
    server.queue_faults("429", endpoint="paper_batch")
    with S2Client(make_settings(server, tmp_path, max_retry_after_s=5)) as client:
        with pytest.raises(S2RequestError) as caught:
            client.paper_batch(["CorpusId:1"], fields=["title"])
    assert "Retry-After 900 s exceeds s2.max_retry_after_s = 5 s" in str(caught.value)
    assert caught.value.status == 429
    assert len(server.requests) == 1


def test_server_errors_retried(server, tmp_path, mock_corpus):
    corpus_id = int(mock_corpus.corpus_ids[0])
    server.queue_faults("500", "503", endpoint="paper_batch")
    with S2Client(make_settings(server, tmp_path)) as client:
        (entry,) = client.paper_batch([f"CorpusId:{corpus_id}"], fields=["corpusId"])
        assert client.stats.retries["paper_batch"] == 2
        assert client.stats.sent["paper_batch"] == 3
    assert entry["corpusId"] == corpus_id
    assert [r.status for r in server.requests] == [500, 503, 200]


def test_timeout_retried(server, tmp_path, mock_corpus, caplog):
    caplog.set_level(logging.WARNING, logger="seedcompare.s2")
    seed = seeds_of(mock_corpus, 1)[0]
    server.faults.slow_s = 1.5
    server.queue_faults("timeout", endpoint="references")
    with S2Client(make_settings(server, tmp_path, timeout_s=0.3)) as client:
        papers = client.references(f"CorpusId:{seed}", cap=100)
    assert [p["corpusId"] for p in papers] == mock_corpus.references[seed]
    assert len(requests_to(server, "references")) == 2
    assert "timed out after 0.3 s; retry 1 of 3" in caplog.text


def test_timeouts_exhausted_fail(server, tmp_path, mock_corpus):
    seed = seeds_of(mock_corpus, 1)[0]
    server.faults.slow_s = 1.0
    server.queue_faults("timeout", "timeout", endpoint="references")
    with S2Client(make_settings(server, tmp_path, timeout_s=0.2, max_retries=1)) as client:
        with pytest.raises(S2RequestError) as caught:
            client.references(f"CorpusId:{seed}", cap=10)
    assert "timed out after 0.2 s (after 2 attempt(s))" in str(caught.value)
    assert caught.value.endpoint == "references"


def test_truncated_json_retried_not_cached(server, tmp_path, mock_corpus):
    ids = [f"CorpusId:{c}" for c in mock_corpus.corpus_ids[:20]]
    server.queue_faults("truncated", endpoint="paper_batch")
    settings = make_settings(server, tmp_path)
    with S2Client(settings) as client:
        first = client.paper_batch(ids, fields=["title", "embedding.specter_v2"])
    assert [r.fault for r in server.requests] == ["truncated", None]

    server.reset()
    with S2Client(settings) as client:
        again = client.paper_batch(ids, fields=["title", "embedding.specter_v2"])
        assert client.stats.cached["paper_batch"] == 1
    assert server.requests == []
    assert again == first


def test_truncated_json_always_fails_clearly(server, tmp_path):
    server.queue_faults(*["truncated"] * 4, endpoint="paper_batch")
    with S2Client(make_settings(server, tmp_path)) as client:
        with pytest.raises(S2RequestError) as caught:
            client.paper_batch(["CorpusId:1"], fields=["title"])
    assert "invalid JSON in the response" in str(caught.value)
    assert caught.value.attempts == 4


def test_permanent_failure_marks_seed(server, tmp_path, mock_corpus, caplog):
    caplog.set_level(logging.ERROR, logger="seedcompare.s2")
    seeds = seeds_of(mock_corpus, 3)
    broken = seeds[1]
    server.faults.fail_corpus_ids = {broken}
    with S2Client(make_settings(server, tmp_path)) as client:
        run = fetch_run(client, seeds, progress=False)

    status = dict(zip(run.seeds["corpus_id"], run.seeds["status"]))
    assert status == {seeds[0]: "ok", broken: "failed", seeds[2]: "ok"}
    reason = run.seeds.loc[run.seeds["corpus_id"] == broken, "reason"].iloc[0]
    assert "S2 recommendations" in reason
    assert "HTTP 500" in reason
    assert "after 4 attempt(s)" in reason
    assert broken not in set(run.candidates.candidates["seed"])
    assert run.candidates.failures["seed"].tolist() == [broken]
    assert f"seed {broken}: candidates failed" in caplog.text
    # The seed's other endpoints are skipped once one of them has failed for good.
    paths = [r.path for r in server.requests if r.endpoint in ("references", "citations")]
    assert not any(str(broken) in p or mock_corpus.paper_ids[mock_corpus.row_of[broken]] in p
                   for p in paths)
    ok_seeds = {seeds[0], seeds[2]}
    edges = run.candidates.edges
    assert (edges["citing"].isin(ok_seeds) | edges["cited"].isin(ok_seeds)).all()


def test_unknown_seed_fails_without_retry(server, tmp_path):
    with S2Client(make_settings(server, tmp_path)) as client:
        with pytest.raises(S2NotFoundError):
            client.recommendations("CorpusId:1", 10, "all-cs")
        result = fetch_candidates(client, [1], progress=False)
    assert result.failures["reason"].str.contains("HTTP 404 not found").all()
    assert result.failures["reason"].str.contains(r"after 1 attempt\(s\)").all()
    assert len(server.requests) == 2


def test_transient_failures_give_same_result(server, tmp_path, mock_corpus):
    seeds = seeds_of(mock_corpus, 6)
    with S2Client(make_settings(server, tmp_path / "clean")) as client:
        clean = fetch_run(client, seeds, progress=False)

    server.reset()
    server.faults.transient_fraction = 0.25
    server.faults.random_seed = 11
    server.reset()
    with S2Client(make_settings(server, tmp_path / "faulty", max_retries=8)) as client:
        faulty = fetch_run(client, seeds, progress=False)
        retries = sum(client.stats.retries.values())

    assert retries > 0
    assert (faulty.seeds["status"] == "ok").all()
    pd.testing.assert_frame_equal(faulty.candidates.candidates, clean.candidates.candidates)
    pd.testing.assert_frame_equal(faulty.papers.papers, clean.papers.papers)
    np.testing.assert_array_equal(faulty.papers.ids, clean.papers.ids)


def test_rate_limit_held_during_429_storm(server, tmp_path, mock_corpus):
    server.faults.retry_after = "0"
    server.queue_faults(*["429"] * 6)
    rate = 10.0
    settings = make_settings(server, tmp_path, requests_per_second=rate, max_retries=8,
                             backoff_s=0.0, backoff_max_s=0.0)
    with S2Client(settings) as client:
        client.paper_batch([f"CorpusId:{mock_corpus.corpus_ids[0]}"], fields=["title"])
        client.paper_batch([f"CorpusId:{mock_corpus.corpus_ids[1]}"], fields=["title"])

    times = [r.time for r in server.requests]
    assert [r.status for r in server.requests] == [429] * 6 + [200, 200]
    gaps = np.diff(times)
    # Arrival times at the server jitter by a few milliseconds around the client's spacing.
    assert gaps.min() >= 1.0 / rate - 0.015, gaps


# -- cache, call counts, secrets and outputs -----------------------------------------------


def test_rerun_sends_no_request(server, tmp_path, mock_corpus):
    seeds = seeds_of(mock_corpus, 4)
    settings = make_settings(server, tmp_path)
    with S2Client(settings) as client:
        first = fetch_run(client, seeds, progress=False)
    sent_first = len(server.requests)

    server.reset()
    with S2Client(settings) as client:
        second = fetch_run(client, seeds, progress=False)
        assert client.stats.total_sent() == 0
        assert sum(client.stats.cached.values()) == sent_first
    assert server.requests == []
    pd.testing.assert_frame_equal(second.candidates.candidates, first.candidates.candidates)
    pd.testing.assert_frame_equal(second.papers.papers, first.papers.papers)
    np.testing.assert_array_equal(second.papers.vectors, first.papers.vectors)


def test_call_counts_bounded(server, tmp_path, mock_corpus):
    corpus = mock_corpus
    seeds = seeds_of(corpus, 8)
    page = 3
    with S2Client(make_settings(server, tmp_path, page_size=page)) as client:
        run = fetch_run(client, seeds, progress=False)

    counts = server.counts
    assert counts["recommendations"] == len(seeds)
    assert counts["references"] == sum(max(1, math.ceil(len(corpus.references.get(s, [])) / page))
                                       for s in seeds)
    assert counts["citations"] == sum(max(1, math.ceil(len(corpus.citations.get(s, [])) / page))
                                      for s in seeds)
    unique_papers = len(set(seeds) | set(run.candidates.candidates["corpus_id"]))
    assert counts["paper_batch"] == math.ceil(len(seeds) / 500) + math.ceil(unique_papers / 500)
    assert len(server.requests) == sum(counts.values())


def test_api_key_sent_never_stored(server, tmp_path, mock_corpus, monkeypatch, caplog, capsys):
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv(KEY_ENV, SECRET)
    server.faults.required_api_key = SECRET
    server.faults.retry_after = "0"
    seeds = seeds_of(mock_corpus, 3)
    server.faults.fail_corpus_ids = {seeds[2]}
    server.queue_faults("429", "503", "truncated")
    with S2Client(make_settings(server, tmp_path / "run")) as client:
        assert client.has_api_key
        assert SECRET not in repr(client)
        run = fetch_run(client, seeds, progress=False)
    write_run(run, tmp_path / "run" / "out")

    assert all(r.had_api_key for r in server.requests)
    assert all(r.status != 403 for r in server.requests)
    assert (run.seeds["status"] == "ok").sum() == 2
    assert SECRET not in caplog.text
    captured = capsys.readouterr()
    assert SECRET not in captured.out + captured.err
    files = [p for p in (tmp_path / "run").rglob("*") if p.is_file()]
    assert any(p.name.startswith("cache.sqlite") for p in files)
    for path in files:
        assert SECRET.encode() not in path.read_bytes(), path


def test_outputs_readable_by_pipeline(server, tmp_path, mock_corpus):
    seeds = seeds_of(mock_corpus, 3)
    with S2Client(make_settings(server, tmp_path)) as client:
        run = fetch_run(client, seeds + ["CorpusId:1"], progress=False)
    paths = write_run(run, tmp_path / "out")

    papers = read_papers(paths["papers.parquet"])
    assert papers.dtypes.astype(str).to_dict() == PAPER_COLUMNS
    assert set(seeds) <= set(papers["corpus_id"])
    vectors = read_prepared_vectors(paths["specter"])
    assert vectors.vectors.dtype == np.float32
    assert vectors.vectors.shape == (len(run.papers.ids), 768)
    assert vectors.ids.tolist() == run.papers.ids.tolist()
    assert list(vectors.missing.columns) == ["corpus_id", "reason"]
    assert not set(vectors.missing["corpus_id"]) & set(vectors.ids.tolist())
    detail = pd.read_parquet(paths["specter"] / "missing_detail.parquet")
    assert list(detail.columns) == ["corpus_id", "reason", "detail"]
    candidates = pd.read_parquet(paths["candidates.parquet"])
    assert candidates["seed"].unique().tolist() == seeds
    edges = pd.read_parquet(paths["edges.parquet"])
    assert list(edges.columns) == ["citing", "cited"]
    assert str(edges["citing"].dtype) == "int64"
    seed_table = pd.read_parquet(paths["seeds.parquet"])
    assert seed_table["status"].tolist() == ["ok", "ok", "ok", "not_found"]


# -- the mock itself -----------------------------------------------------------------------


def test_mock_enforces_api_limits(server, mock_corpus):
    corpus_id = int(mock_corpus.corpus_ids[0])
    base = server.url
    too_many = requests.post(f"{base}/graph/v1/paper/batch", params={"fields": "title"},
                             json={"ids": [f"CorpusId:{corpus_id}"] * 501}, timeout=5)
    assert too_many.status_code == 400
    assert "500 paper ids" in too_many.json()["error"]
    big_page = requests.get(f"{base}/graph/v1/paper/CorpusId:{corpus_id}/references",
                            params={"limit": 1001}, timeout=5)
    assert big_page.status_code == 400
    deep_page = requests.get(f"{base}/graph/v1/paper/CorpusId:{corpus_id}/citations",
                             params={"offset": 9500, "limit": 500}, timeout=5)
    assert deep_page.status_code == 400
    many_recommendations = requests.get(f"{base}/recommendations/v1/papers/forpaper/CorpusId:{corpus_id}",
                                        params={"limit": 501}, timeout=5)
    assert many_recommendations.status_code == 400
    unknown_field = requests.get(f"{base}/graph/v1/paper/CorpusId:{corpus_id}",
                                 params={"fields": "abstractt"}, timeout=5)
    assert unknown_field.status_code == 400
    unknown_paper = requests.get(f"{base}/graph/v1/paper/CorpusId:1", timeout=5)
    assert unknown_paper.status_code == 404


def test_mock_cli_serves_loopback(corpus_dir):
    process = subprocess.Popen(
        [sys.executable, "-m", "seedcompare.cli", "s2-mock", "--port", "0", "--corpus", str(corpus_dir)],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    try:
        first_line = process.stdout.readline()
        url = first_line.split(" at ")[1].split(";")[0]
        assert url.startswith("http://127.0.0.1:")
        answer = requests.get(f"{url}/graph/v1/paper/batch", timeout=5)
        assert answer.status_code == 404  # GET on the batch path: no such paper
        ok = requests.post(f"{url}/graph/v1/paper/batch", params={"fields": "corpusId"},
                           json={"ids": ["CorpusId:1"]}, timeout=5)
        assert ok.json() == [None]
    finally:
        process.send_signal(signal.SIGINT)
        output, _ = process.communicate(timeout=10)
    assert process.returncode == 0
    assert "endpoint counts" in output
