"""Tests of paper id parsing and normalization (seedcompare.ids)."""

from __future__ import annotations

import numpy as np
import pytest

from seedcompare.ids import (
    KIND_ACL,
    KIND_ARXIV,
    KIND_CORPUS_ID,
    KIND_DOI,
    KIND_MAG,
    KIND_PAPER_ID,
    KIND_PMCID,
    KIND_PMID,
    KIND_URL,
    InvalidPaperIdError,
    normalize_paper_id,
    parse_paper_id,
    parse_paper_ids,
)

HEX = "649def34f8be52c8b66281af98ae884c09aef38b"


@pytest.mark.parametrize(("raw", "kind", "api_id"), [
    (HEX, KIND_PAPER_ID, HEX),
    (HEX.upper(), KIND_PAPER_ID, HEX),
    (f"  {HEX}\n", KIND_PAPER_ID, HEX),
    ("CorpusId:215416146", KIND_CORPUS_ID, "CorpusId:215416146"),
    ("corpusid:215416146", KIND_CORPUS_ID, "CorpusId:215416146"),
    ("CORPUSID:0215416146", KIND_CORPUS_ID, "CorpusId:215416146"),
    ("CorpusID: 42", KIND_CORPUS_ID, "CorpusId:42"),
    ("215416146", KIND_CORPUS_ID, "CorpusId:215416146"),
    (215416146, KIND_CORPUS_ID, "CorpusId:215416146"),
    (np.int64(7), KIND_CORPUS_ID, "CorpusId:7"),
    ("DOI:10.18653/v1/N18-3011", KIND_DOI, "DOI:10.18653/v1/N18-3011"),
    ("doi:10.18653/v1/N18-3011", KIND_DOI, "DOI:10.18653/v1/N18-3011"),
    ("10.1093/mind/lix.236.433", KIND_DOI, "DOI:10.1093/mind/lix.236.433"),
    ("ARXIV:2106.15928", KIND_ARXIV, "ARXIV:2106.15928"),
    ("arXiv:2106.15928v1", KIND_ARXIV, "ARXIV:2106.15928v1"),
    ("ARXIV:1501.0001", KIND_ARXIV, "ARXIV:1501.0001"),
    ("ARXIV:hep-th/9901001", KIND_ARXIV, "ARXIV:hep-th/9901001"),
    ("ARXIV:math.GT/0309136", KIND_ARXIV, "ARXIV:math.GT/0309136"),
    ("ACL:W12-3903", KIND_ACL, "ACL:W12-3903"),
    ("acl:2020.acl-main.1", KIND_ACL, "ACL:2020.acl-main.1"),
    ("PMID:19872477", KIND_PMID, "PMID:19872477"),
    ("pmid:19872477", KIND_PMID, "PMID:19872477"),
    ("PMCID:2323736", KIND_PMCID, "PMCID:2323736"),
    ("PMCID:PMC2323736", KIND_PMCID, "PMCID:2323736"),
    ("MAG:112218234", KIND_MAG, "MAG:112218234"),
    ("URL:https://arxiv.org/abs/2106.15928v1", KIND_URL, "URL:https://arxiv.org/abs/2106.15928v1"),
    ("url:http://www.semanticscholar.org/paper/" + HEX, KIND_URL,
     "URL:http://www.semanticscholar.org/paper/" + HEX),
])
def test_valid_id_normalized(raw, kind, api_id):
    parsed = parse_paper_id(raw)
    assert parsed.kind == kind
    assert parsed.api_id == api_id
    assert normalize_paper_id(raw) == api_id
    assert str(parsed) == api_id


def test_corpus_id_as_integer():
    assert parse_paper_id("CorpusId:12").corpus_id == 12
    assert parse_paper_id(12).corpus_id == 12
    assert parse_paper_id(HEX).corpus_id is None


def test_raw_input_kept():
    assert parse_paper_id(" corpusid:5 ").raw == " corpusid:5 "
    assert parse_paper_id(5).raw == "5"


@pytest.mark.parametrize(("raw", "reason"), [
    ("", "the id is empty"),
    ("   ", "the id is empty"),
    ("abc xyz", "not a 40-hex paper id"),
    (HEX[:-1], "40 hex digits, found 39"),
    (HEX + "0", "40 hex digits, found 41"),
    ("CorpusId:", "nothing follows the prefix"),
    ("CorpusId:abc", "a corpus id must be a positive integer"),
    ("CorpusId:-5", "a corpus id must be a positive integer"),
    ("CorpusId:0", "a corpus id must be at least 1"),
    ("0", "a corpus id must be at least 1"),
    (0, "a corpus id must be at least 1"),
    (-3, "a corpus id must be a positive integer"),
    ("DOI:abc", "a DOI must look like"),
    ("DOI:10.1/x", "a DOI must look like"),
    ("ARXIV:foo bar", "an arXiv id must look like"),
    ("ARXIV:21.06", "an arXiv id must look like"),
    ("ACL:has space", "an ACL Anthology id must look like"),
    ("PMID:12a", "a PMID must be a positive integer"),
    ("PMCID:PMC", "a PMCID must be a positive integer"),
    ("MAG:x", "a MAG must be a positive integer"),
    ("URL:ftp://arxiv.org/x", "a URL id must be an http(s) URL"),
    ("URL:arxiv.org/abs/1", "a URL id must be an http(s) URL"),
    ("FOO:1", "unknown prefix 'FOO'"),
    (None, "expected a string or an integer, found NoneType"),
    (1.5, "expected a string or an integer, found float"),
    (True, "expected a string or an integer, found bool"),
])
def test_invalid_id_rejected(raw, reason):
    with pytest.raises(InvalidPaperIdError) as caught:
        parse_paper_id(raw)
    message = str(caught.value)
    assert reason in message
    assert repr(raw) in message
    assert "accepted forms" in message


def test_parse_ids_lists_every_invalid():
    with pytest.raises(InvalidPaperIdError) as caught:
        parse_paper_ids([1, "bad one", "CorpusId:2", "DOI:", HEX])
    message = str(caught.value)
    assert message.startswith("2 invalid paper id(s)")
    assert "position 1: invalid paper id 'bad one'" in message
    assert "position 3: invalid paper id 'DOI:'" in message
    assert "position 0" not in message


def test_parse_ids_keeps_order_and_duplicates():
    parsed = parse_paper_ids(["CorpusId:3", 3, HEX])
    assert [p.api_id for p in parsed] == ["CorpusId:3", "CorpusId:3", HEX]


def test_parse_ids_truncates_long_listing():
    with pytest.raises(InvalidPaperIdError) as caught:
        parse_paper_ids(["x"] * 30, max_listed=5)
    message = str(caught.value)
    assert message.startswith("30 invalid paper id(s)")
    assert "and 25 more" in message
    assert "position 5:" not in message
