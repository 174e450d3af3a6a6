"""The serving collector thresholds: set for ``serve``, and only for the block of a measurement."""

from __future__ import annotations

import gc

import pytest

from auditledger.ops.collector import SERVING_THRESHOLDS, serving_collector, tune_for_serving


@pytest.fixture(autouse=True)
def _keep_thresholds() -> object:
    previous = gc.get_threshold()
    yield
    gc.set_threshold(*previous)


def test_serving_collects_young_objects_less_often_than_the_default() -> None:
    gc.set_threshold(700, 10, 10)  # CPython's default
    tune_for_serving()
    assert gc.get_threshold() == SERVING_THRESHOLDS
    assert SERVING_THRESHOLDS[0] > 700


def test_a_measurement_block_restores_the_thresholds_it_found() -> None:
    gc.set_threshold(700, 10, 10)
    with serving_collector():
        assert gc.get_threshold() == SERVING_THRESHOLDS
    assert gc.get_threshold() == (700, 10, 10)
    with pytest.raises(RuntimeError), serving_collector():
        raise RuntimeError("the measurement failed")
    assert gc.get_threshold() == (700, 10, 10)
