"""course_pkg.text_tables: mean and spread over seeds, and the aligned text tables."""

import math

import pytest

from course_pkg.text_tables import format_mean_spread, mean_and_spread, seed_cells, text_table


def test_mean_and_spread_by_hand():
    # mean of 1, 2, 4 is 7/3; squared deviations 16/9 + 1/9 + 25/9 = 42/9, over n - 1 = 2: 7/3
    mean, spread = mean_and_spread([1.0, 2.0, 4.0])
    assert mean == pytest.approx(7 / 3)
    assert spread == pytest.approx(math.sqrt(7 / 3))


def test_one_value_has_no_spread():
    mean, spread = mean_and_spread([0.25])
    assert mean == 0.25 and math.isnan(spread)
    assert format_mean_spread([0.25], digits=2) == "0.25"


def test_format_mean_spread_writes_both():
    # mean 0.5, sample sd of (0.4, 0.6) = sqrt(0.02) = 0.1414
    assert format_mean_spread([0.4, 0.6], digits=3) == "0.500 +- 0.141"


def test_no_values_is_an_error():
    with pytest.raises(ValueError, match="values: expected at least one number"):
        mean_and_spread([])


def test_seed_cells_mark_missing_seeds():
    assert seed_cells({0: 0.5, 2: 0.25}, [0, 1, 2], digits=2) == ["0.50", "-", "0.25"]


def test_text_table_aligns_names_left_and_numbers_right():
    table = text_table(["model", "acc"], [["GRU", "0.9"], ["LSTM cell", "0.875"]], rule=True)
    assert table.split("\n") == [
        "model        acc",
        "----------------",  # 9 + 2 + 5 characters
        "GRU          0.9",
        "LSTM cell  0.875",
    ]


def test_text_table_rejects_a_short_row():
    with pytest.raises(ValueError, match=r"rows\[1\]: expected 2 cells .* got 1"):
        text_table(["model", "acc"], [["a", "1"], ["b"]])


def test_text_table_with_subheader_and_footer():
    table = text_table(["length", "GRU", ""], [["5", "0.9", "0.8"]], rule=True,
                       subheader=["", "tokens", "sequences"], footer=[["train", "10 steps", "1 s"]])
    # widths: 6 ("length"), 8 ("10 steps"), 9 ("sequences"); 6 + 2 + 8 + 2 + 9 = 27 dashes
    assert table.split("\n") == [
        "length       GRU",
        "          tokens  sequences",
        "-" * 27,
        "5            0.9        0.8",
        "-" * 27,
        "train   10 steps        1 s",
    ]
