"""Shared fixtures: the repository root and the shared data folder beside it."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
SHARED_DIR = REPO_ROOT.parent / "shared"


def shared_path(*parts: str) -> Path:
    """Return a path under the shared data folder, or skip (fail in CI) when it is absent.

    Set SEEDCOMPARE_REQUIRE_SHARED=1 to turn the skip into a failure, so that CI cannot pass
    without running the tests on real data.
    """
    path = SHARED_DIR.joinpath(*parts)
    if not path.exists():
        message = f"shared data not found at {path} (expected beside the repository)"
        if os.environ.get("SEEDCOMPARE_REQUIRE_SHARED") == "1":
            pytest.fail(message + "; SEEDCOMPARE_REQUIRE_SHARED=1 requires it")
        pytest.skip(message)
    return path


@pytest.fixture
def repo_root() -> Path:
    return REPO_ROOT
