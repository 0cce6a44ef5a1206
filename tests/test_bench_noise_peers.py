"""The peers benchmark's metric helper (bench/noise_peers.py; the peers themselves run in their own environment)."""

import importlib.util
from pathlib import Path

import numpy as np
import pytest

_spec = importlib.util.spec_from_file_location("noise_peers", Path(__file__).parents[1] / "bench" / "noise_peers.py")
noise_peers = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(noise_peers)


def test_detection_counts_flipped_in_top_k_and_flags():
    # 3 flipped of 8; the top 3 by score hold rows 0, 5, 2, of which 0 and 2 are flipped.
    scores = np.array([9.0, 1.0, 7.0, 2.0, 3.0, 8.0, 0.0, 6.5])
    flipped = np.array([True, False, True, False, False, False, False, True])
    flags = np.array([True, False, False, False, False, True, False, True])
    out = noise_peers.detection(scores, flipped, flags)
    assert out["found_at_k"] == pytest.approx(2 / 3)
    # AUROC by pairs: flipped scores 9, 7, 6.5 against clean 1, 2, 3, 8, 0 -> 5 + 4 + 4 wins of 15.
    assert out["auroc"] == pytest.approx(13 / 15)
    assert (out["flagged"], out["recall"], out["precision"]) == (3, pytest.approx(2 / 3), pytest.approx(2 / 3))


def test_detection_without_flags_and_settings_are_known():
    out = noise_peers.detection([0.1, 0.2, 0.9], [False, False, True])
    assert out == {"auroc": 1.0, "found_at_k": 1.0}
    assert set(noise_peers.LABELS) >= {"mislabel", "cg", *(f"mislabel-arccos-{m}" for m in noise_peers.DETECTOR_MODES),
                                       *noise_peers.PEERS, *noise_peers.OWN_PEERS}
