"""Parse and normalize paper ids in the forms the Semantic Scholar (S2) API accepts.

Accepted forms (prefixes are case-insensitive; surrounding whitespace is ignored), each with
the normalized form sent to the API:

* S2 paper id: 40 hex digits -> lowercase hex.
* Corpus id: ``CorpusId:N`` or a bare integer N (N >= 1) -> ``CorpusId:N``.
* DOI: ``DOI:10.x/y`` or a bare ``10.x/y`` -> ``DOI:10.x/y``.
* arXiv: ``ARXIV:2106.15928`` or ``ARXIV:hep-th/9901001`` (optional ``vN``) -> ``ARXIV:...``.
* ACL Anthology: ``ACL:W12-3903`` or ``ACL:2020.acl-main.1`` -> ``ACL:...``.
* PubMed: ``PMID:N`` -> ``PMID:N``.
* PubMed Central: ``PMCID:N`` or ``PMCID:PMCN`` -> ``PMCID:N`` (digits only).
* Microsoft Academic Graph: ``MAG:N`` -> ``MAG:N``.
* URL: ``URL:https://...`` -> ``URL:https://...``.

These are the id forms of ``/graph/v1/paper/{paper_id}`` and the paper batch endpoint, as the
docstrings of the ``semanticscholar`` Python client quote the S2 Graph API reference. That
reference also names the sites whose URLs the API recognizes: semanticscholar.org, arxiv.org,
aclweb.org, acm.org and biorxiv.org. A URL from another site is accepted here and left to the
API, which may find no paper for it.
"""

from __future__ import annotations

import numbers
import re
from dataclasses import dataclass
from typing import Iterable
from urllib.parse import urlparse

KIND_PAPER_ID = "paper_id"
KIND_CORPUS_ID = "corpus_id"
KIND_DOI = "doi"
KIND_ARXIV = "arxiv"
KIND_ACL = "acl"
KIND_PMID = "pmid"
KIND_PMCID = "pmcid"
KIND_MAG = "mag"
KIND_URL = "url"

# Prefix (lowercase, without the colon) -> kind and the spelling sent to the API.
_PREFIXES = {
    "corpusid": (KIND_CORPUS_ID, "CorpusId"),
    "doi": (KIND_DOI, "DOI"),
    "arxiv": (KIND_ARXIV, "ARXIV"),
    "acl": (KIND_ACL, "ACL"),
    "pmid": (KIND_PMID, "PMID"),
    "pmcid": (KIND_PMCID, "PMCID"),
    "mag": (KIND_MAG, "MAG"),
    "url": (KIND_URL, "URL"),
}
_API_PREFIX = {kind: spelling for kind, spelling in _PREFIXES.values()}

_HEX_40 = re.compile(r"[0-9a-fA-F]{40}")
_DIGITS = re.compile(r"[0-9]+")
_PREFIXED = re.compile(r"([A-Za-z]+):(.*)", re.DOTALL)
# A DOI is "10." + registrant code + "/" + suffix (ISO 26324); the suffix may contain any
# printable character except whitespace.
_DOI = re.compile(r"10\.[0-9]{4,9}(\.[0-9]+)*/\S+")
# arXiv identifiers: new style YYMM.NNNN or YYMM.NNNNN (since 2007), old style archive/YYMMNNN,
# either with an optional version suffix vN.
_ARXIV_NEW = re.compile(r"[0-9]{4}\.[0-9]{4,5}(v[0-9]+)?")
_ARXIV_OLD = re.compile(r"[a-z][a-z\-]*(\.[A-Z]{2})?/[0-9]{7}(v[0-9]+)?")
# ACL Anthology ids: old style P19-1001, W12-3903; new style 2020.acl-main.1.
_ACL = re.compile(r"[A-Za-z0-9][A-Za-z0-9.\-]*")

ACCEPTED_FORMS = (
    "a 40-hex S2 paper id, CorpusId:N, a bare integer corpus id, DOI:10.x/y, ARXIV:id, "
    "ACL:id, PMID:N, PMCID:N, MAG:N or URL:http(s)://..."
)


class InvalidPaperIdError(ValueError):
    """A paper id that is in none of the accepted forms; the message names the value and why."""


@dataclass(frozen=True)
class PaperId:
    """One parsed paper id.

    Attributes
    ----------
    kind : one of the ``KIND_*`` constants.
    value : the normalized value without prefix (hex, digits, DOI, arXiv id, ...).
    raw : the input as given, converted to ``str``.
    """

    kind: str
    value: str
    raw: str

    @property
    def api_id(self) -> str:
        """The id in the form the S2 API accepts, e.g. ``CorpusId:123`` or the 40-hex id."""
        if self.kind == KIND_PAPER_ID:
            return self.value
        return f"{_API_PREFIX[self.kind]}:{self.value}"

    @property
    def corpus_id(self) -> int | None:
        """The corpus id as an integer for ``corpus_id`` ids, else None."""
        return int(self.value) if self.kind == KIND_CORPUS_ID else None

    def __str__(self) -> str:
        return self.api_id


def _invalid(raw, reason: str) -> InvalidPaperIdError:
    return InvalidPaperIdError(f"invalid paper id {raw!r}: {reason}; accepted forms: {ACCEPTED_FORMS}")


def _parse_positive_integer(raw, text: str, what: str) -> str:
    if not _DIGITS.fullmatch(text):
        raise _invalid(raw, f"{what} must be a positive integer")
    number = int(text)
    if number < 1:
        raise _invalid(raw, f"{what} must be at least 1")
    return str(number)  # drops leading zeros, so "007" and "7" are the same id


def _parse_prefixed(raw, kind: str, value: str) -> str:
    """Validate and normalize the part after the prefix; return the normalized value."""
    value = value.strip()
    if not value:
        raise _invalid(raw, "nothing follows the prefix")
    if kind == KIND_CORPUS_ID:
        return _parse_positive_integer(raw, value, "a corpus id")
    if kind in (KIND_PMID, KIND_MAG):
        return _parse_positive_integer(raw, value, f"a {kind.upper()}")
    if kind == KIND_PMCID:
        # PubMed Central writes "PMC2323736"; the S2 examples use the digits alone.
        digits = value[3:] if value[:3].upper() == "PMC" else value
        return _parse_positive_integer(raw, digits, "a PMCID")
    if kind == KIND_DOI:
        if not _DOI.fullmatch(value):
            raise _invalid(raw, "a DOI must look like 10.<registrant>/<suffix>")
        return value
    if kind == KIND_ARXIV:
        if not (_ARXIV_NEW.fullmatch(value) or _ARXIV_OLD.fullmatch(value)):
            raise _invalid(raw, "an arXiv id must look like 2106.15928 or hep-th/9901001 (optional vN)")
        return value
    if kind == KIND_ACL:
        if not _ACL.fullmatch(value):
            raise _invalid(raw, "an ACL Anthology id must look like W12-3903 or 2020.acl-main.1")
        return value
    # KIND_URL
    parsed = urlparse(value)
    if parsed.scheme not in ("http", "https") or not parsed.netloc or any(c.isspace() for c in value):
        raise _invalid(raw, "a URL id must be an http(s) URL without spaces")
    return value


def parse_paper_id(value) -> PaperId:
    """Parse one paper id given as a string or an integer.

    An integer (Python or NumPy, not bool) or a string of digits is a corpus id. A string of 40
    hex digits is an S2 paper id. Anything else needs one of the prefixes in the module
    docstring, or must be a bare DOI starting with ``10.``.

    Raises
    ------
    InvalidPaperIdError
        When the value is empty, of another type, has an unknown prefix or a malformed value.
    """
    if isinstance(value, bool) or value is None:
        raise _invalid(value, f"expected a string or an integer, found {type(value).__name__}")
    if isinstance(value, numbers.Integral):
        text = str(int(value))
        return PaperId(KIND_CORPUS_ID, _parse_positive_integer(value, text, "a corpus id"), text)
    if not isinstance(value, str):
        raise _invalid(value, f"expected a string or an integer, found {type(value).__name__}")

    raw = value
    text = value.strip()
    if not text:
        raise _invalid(raw, "the id is empty")
    if _HEX_40.fullmatch(text):
        return PaperId(KIND_PAPER_ID, text.lower(), raw)
    if _DIGITS.fullmatch(text):
        return PaperId(KIND_CORPUS_ID, _parse_positive_integer(raw, text, "a corpus id"), raw)
    if _DOI.fullmatch(text):
        return PaperId(KIND_DOI, text, raw)

    match = _PREFIXED.fullmatch(text)
    if match is None:
        if all(c in "0123456789abcdefABCDEF" for c in text):
            raise _invalid(raw, f"an S2 paper id has 40 hex digits, found {len(text)}")
        raise _invalid(raw, "not a 40-hex paper id, an integer corpus id or a prefixed id")
    prefix = match.group(1).lower()
    if prefix not in _PREFIXES:
        known = ", ".join(f"{spelling}:" for _, spelling in _PREFIXES.values())
        raise _invalid(raw, f"unknown prefix {match.group(1)!r} (known prefixes: {known})")
    kind = _PREFIXES[prefix][0]
    return PaperId(kind, _parse_prefixed(raw, kind, match.group(2)), raw)


def normalize_paper_id(value) -> str:
    """Return ``value`` in the form the S2 API accepts (see :func:`parse_paper_id`)."""
    return parse_paper_id(value).api_id


def parse_paper_ids(values: Iterable, max_listed: int = 20) -> list[PaperId]:
    """Parse every id of ``values`` in order, keeping duplicates.

    Raises
    ------
    InvalidPaperIdError
        Listing every invalid id (the first ``max_listed``) with its 0-based position and
        reason, so one run shows all the problems of a seed list.
    """
    parsed, problems = [], []
    for position, value in enumerate(values):
        try:
            parsed.append(parse_paper_id(value))
        except InvalidPaperIdError as error:
            reason = str(error).split("; accepted forms:")[0]
            problems.append(f"position {position}: {reason}")
    if problems:
        shown = problems[:max_listed]
        more = len(problems) - len(shown)
        listing = "\n  ".join(shown) + (f"\n  and {more} more" if more > 0 else "")
        raise InvalidPaperIdError(
            f"{len(problems)} invalid paper id(s):\n  {listing}\naccepted forms: {ACCEPTED_FORMS}")
    return parsed
