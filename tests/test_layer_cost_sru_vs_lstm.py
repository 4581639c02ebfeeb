"""course_pkg.layer_cost.sru_vs_lstm: FLOP counts against a count by hand from the equations,
timings (seconds and round-by-round ratios) well formed, bad arguments named."""

import pytest
import torch

from course_pkg.layer_cost.sru_vs_lstm import (
    TIMED_NAMES,
    sequential_flops,
    time_forward_backward,
)


def test_flops_by_hand():
    counts = sequential_flops(16, 16)
    # LSTM serial: W_hh (64 x 16) multiply-adds = 2 * 64 * 16; element-wise 9 * 16
    assert counts["lstm"]["serial"] == 2 * 64 * 16 + 9 * 16
    assert counts["sru"]["serial"] == 6 * 16
    # SRU with D = H: 3 blocks of 16 x 16 multiply-adds
    assert counts["sru"]["parallel"] == 2 * 3 * 16 * 16 + 9 * 16
    # D != H adds the highway projection block
    assert sequential_flops(8, 16)["sru"]["parallel"] == 2 * 4 * 16 * 8 + 9 * 16
    # the serial ratio grows linearly in H
    small, big = sequential_flops(32, 32), sequential_flops(256, 256)
    assert (big["lstm"]["serial"] / big["sru"]["serial"]
            > 7 * small["lstm"]["serial"] / small["sru"]["serial"])


def test_timing_is_positive_for_each_length_and_ratios_relative_to_the_sru():
    result = time_forward_backward(lengths=(4, 8), batch_size=2, hidden_size=4, repeats=2)
    assert sorted(result) == [4, 8]
    for timings in result.values():
        assert set(timings) == set(TIMED_NAMES)
        assert all(t > 0 for t in timings.values())
    ratios = time_forward_backward(lengths=(4,), batch_size=2, hidden_size=4, repeats=2,
                                   relative_to="course SRU")[4]
    assert ratios["course SRU"] == 1.0 and all(r > 0 for r in ratios.values())


def test_bad_arguments():
    with pytest.raises(ValueError, match="hidden_size"):
        sequential_flops(4, 0)
    with pytest.raises(ValueError, match="lengths"):
        time_forward_backward(lengths=())
    with pytest.raises(ValueError, match="relative_to: expected one of"):
        time_forward_backward(lengths=(4,), relative_to="SRU")
