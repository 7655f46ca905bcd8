"""Shared pytest fixtures for fastconv's tests."""
import numpy as np
import pytest

import fastconv


@pytest.fixture
def rng():
    return np.random.default_rng(12345)


@pytest.fixture(params=fastconv.available_isas())
def isa(request):
    """Run the test once per ISA level this machine can execute."""
    previous = fastconv.get_isa()
    fastconv.set_isa(request.param)
    try:
        yield request.param
    finally:
        fastconv.set_isa(previous)


@pytest.fixture
def torch():
    """PyTorch as an oracle; the test is skipped when it is not installed."""
    return pytest.importorskip("torch")
