"""The test statistics (Moodle's quiz statistics report) as pure functions over marks, checked
against figures computed by hand, and again through the statistics module another way."""

import math
import statistics

import pytest

from quiz.stats import (
    MarkRow,
    first_tests_only,
    lesson_test_stats_compute,
    question_test_stats_compute,
    random_guess_score,
)


def marks_of(matrix: dict[str, str], *, first_attempt: int = 1) -> list[MarkRow]:
    """One test per row: character p of the string is the mark at position p + 1, and the
    question at position p + 1 is version 10 + p. Learners and attempts are numbered from 1."""
    return [
        MarkRow(learner, first_attempt + learner - 1, position, 9 + position, float(mark))
        for learner, row in enumerate(matrix.values(), start=1)
        for position, mark in enumerate(row, start=1)
    ]


# Four learners, three questions (1 right, 0 wrong), by hand:
#
#              q1 q2 q3 | total  percent
#   A           1  1  1 |   3    100
#   B           1  1  0 |   2     66.67
#   C           0  1  1 |   2     66.67
#   D           0  0  0 |   0      0
#
# Mean 7/4 = 1.75 marks = 58.33%; median (2 + 2) / 2 = 2 = 66.67%.
# Deviations of the totals: 1.25, .25, .25, -1.75; sum of squares 4.75; sample variance
# 4.75 / 3 = 1.5833; SD 1.2583 marks = 41.94% of 3.
# Skewness: m2 = 4.75 / 4 = 1.1875, m3 = (1.953125 + .015625 + .015625 - 5.359375) / 4
# = -.84375; k2 = 1.5833, k3 = 16 m3 / (3 * 2) = -2.25; skewness = -2.25 / 1.5833^1.5 = -1.1293.
# Kurtosis: m4 = (2.4414 + .0039 + .0039 + 9.3789) / 4 = 2.9570; k4 = 16 (5 m4 - 9 m2^2) / 6
# = 16 (14.7852 - 12.6914) / 6 = 5.5833; kurtosis = 5.5833 / 1.5833^2 = 2.2271.
# KR-20: item variances (sample) q1 [1,1,0,0] 1/3, q2 [1,1,1,0] 1/4, q3 [1,0,1,0] 1/3, sum
# 11/12; alpha = 3/2 * (1 - (11/12) / (19/12)) = 3/2 * 8/19 = 12/19 = 0.6316.
# Error ratio 100 sqrt(1 - 12/19) = 100 sqrt(7/19) = 60.70%; SE 41.94 * 0.6070 = 25.46%.
MATRIX = {"A": "111", "B": "110", "C": "011", "D": "000"}


def test_the_test_figures_match_the_hand_computation():
    result = lesson_test_stats_compute(marks=marks_of(MATRIX))

    assert (result.tests, result.questions) == (4, 3)
    assert (result.mean, result.median, result.sd) == (58.33, 66.67, 41.94)
    assert (result.skewness, result.kurtosis) == (-1.1293, 2.2271)
    assert (result.alpha, result.alpha_note) == (0.6316, "")
    assert (result.error_ratio, result.standard_error) == (60.7, 25.46)


def test_alpha_is_kr20_computed_the_textbook_way():
    """KR-20 = k/(k-1) (1 - sum p q / population variance of the totals): the same number."""
    p = [statistics.fmean(int(row[i]) for row in MATRIX.values()) for i in range(3)]
    totals = [sum(map(int, row)) for row in MATRIX.values()]
    kr20 = 3 / 2 * (1 - sum(pi * (1 - pi) for pi in p) / statistics.pvariance(totals))
    assert lesson_test_stats_compute(marks=marks_of(MATRIX)).alpha == round(kr20, 4) == 0.6316


# By hand, q3 (version 12): x = [1, 0, 1, 0] (A-D), the rest of each test r = [2, 2, 1, 0].
# Facility 2/4 = 50%; SD sqrt(1/3) = 57.74%. Means .5 and 1.25; deviations x .5, -.5, .5, -.5,
# r .75, .75, -.25, -1.25; cov = (.375 - .375 - .125 + .625) / 3 = 1/6; var x 1/3, var r
# 2.75/3; index = 100 (1/6) / sqrt(1/3 * 2.75/3) = 30.15. Sorted, x [0, 0, 1, 1] and r
# [0, 1, 2, 2] give the largest covariance, (.625 + .125 + .375 + .375) / 3 = .5; efficiency
# 100 (1/6) / .5 = 33.33. q2 (version 11): x = [1, 1, 1, 0], r = [2, 1, 1, 0] rise together.
# Four tests of 2 questions drawn from a bank of 3 (versions 10, 11, 12), by hand:
#   T1: 10 right, 11 right (2); T2: 10 wrong, 12 right (1); T3: 11 wrong, 12 wrong (0);
#   T4: 10 right, 12 right (2).
# Question variances (p q) over the tests that asked them: 10 [1, 0, 1] 2/9, 11 [1, 0] 1/4,
# 12 [1, 0, 1] 2/9. Mean over the tests of the sum of their questions' variances:
# (3 * 2/9 + 2 * 1/4 + 3 * 2/9) / 4 = 11/24. Totals [2, 1, 0, 2]: variance 2.75 / 4 = 11/16.
# alpha = 2/1 * (1 - (11/24) / (11/16)) = 2 * 1/3 = 0.6667.
DRAWN = [(1, 10, 1), (1, 11, 1), (2, 10, 0), (2, 12, 1), (3, 11, 0), (3, 12, 0), (4, 10, 1),
         (4, 12, 1)]  # fmt: skip


def test_alpha_of_tests_that_drew_different_questions():
    marks = [MarkRow(test, test, 1 + index % 2, version, float(mark))
             for index, (test, version, mark) in enumerate(DRAWN)]  # fmt: skip
    result = lesson_test_stats_compute(marks=marks)
    assert (result.tests, result.questions, result.alpha) == (4, 2, 0.6667)


def test_the_question_figures_match_the_hand_computation():
    results = question_test_stats_compute(marks=marks_of(MATRIX))

    q3 = results[12]
    assert (q3.tests, q3.facility, q3.sd) == (4, 50.0, 57.74)
    assert (q3.discrimination_index, q3.discriminative_efficiency) == (30.15, 33.33)
    q2 = results[11]
    assert (q2.facility, q2.sd, q2.discriminative_efficiency) == (75.0, 50.0, 100.0)
    x, r = [1, 1, 1, 0], [2, 1, 1, 0]
    assert q2.discrimination_index == round(100 * statistics.correlation(x, r), 2) == 81.65


def test_a_question_everyone_got_right_cannot_discriminate():
    results = question_test_stats_compute(marks=marks_of({"A": "11", "B": "10", "C": "10"}))
    assert (results[10].facility, results[10].sd) == (100.0, 0.0)
    assert results[10].discrimination_index is None
    assert results[10].discriminative_efficiency is None


def test_partial_credit_counts_as_its_fraction():
    marks = [MarkRow(1, 1, 1, 10, 0.5), MarkRow(1, 1, 2, 11, 1.0),
             MarkRow(2, 2, 1, 10, 1.0), MarkRow(2, 2, 2, 11, 1.0)]  # fmt: skip
    assert question_test_stats_compute(marks=marks)[10].facility == 75.0
    assert lesson_test_stats_compute(marks=marks).mean == 87.5


def test_no_test_one_test_and_two_tests():
    empty = lesson_test_stats_compute(marks=[])
    assert (empty.tests, empty.mean, empty.median, empty.sd, empty.alpha) == (
        0,
        None,
        None,
        None,
        None,
    )
    assert empty.alpha_note == "needs at least 3 tests"
    assert question_test_stats_compute(marks=[]) == {}

    one = lesson_test_stats_compute(marks=marks_of({"A": "110"}))
    assert (one.tests, one.mean, one.median) == (1, 66.67, 66.67)
    assert (one.sd, one.skewness, one.alpha, one.standard_error) == (None, None, None, None)
    alone = question_test_stats_compute(marks=marks_of({"A": "110"}))[10]
    assert (alone.tests, alone.facility, alone.sd, alone.discrimination_index) == (
        1,
        100.0,
        None,
        None,
    )

    two = lesson_test_stats_compute(marks=marks_of({"A": "110", "B": "100"}))
    assert (two.sd, two.skewness) == (round(100 / 3 * math.sqrt(0.5), 2), None)
    assert (two.alpha, two.alpha_note) == (None, "needs at least 3 tests")


def test_equal_scores_leave_alpha_undefined_and_say_why():
    result = lesson_test_stats_compute(marks=marks_of({"A": "10", "B": "01", "C": "10"}))
    assert (result.mean, result.sd, result.skewness, result.kurtosis) == (50.0, 0.0, None, None)
    assert (result.alpha, result.error_ratio, result.standard_error) == (None, None, None)
    assert result.alpha_note == "every test has the same score (SD 0)"


def test_tests_of_different_lengths_have_no_alpha():
    marks = marks_of({"A": "11", "B": "10"}) + marks_of({"C": "100"}, first_attempt=3)
    result = lesson_test_stats_compute(marks=marks)
    assert (result.tests, result.questions, result.alpha) == (3, None, None)
    assert result.alpha_note == "the tests have different numbers of questions"
    assert result.mean == round((100 + 50 + 100 / 3) / 3, 2)


def test_first_tests_only_keeps_each_learners_earliest_attempt():
    marks = [MarkRow(1, 7, 1, 10, 0.0), MarkRow(2, 5, 1, 10, 1.0), MarkRow(1, 3, 1, 10, 1.0),
             MarkRow(1, 3, 2, 11, 1.0)]  # fmt: skip
    assert first_tests_only(marks=marks) == [marks[1], marks[2], marks[3]]


@pytest.mark.parametrize(
    ("kind", "right", "expected"),
    [("single", [True, False, False, False], 25.0), ("single", [True, False, False], 33.33),
     ("multiple", [True, True, False, False], None), ("single", [], None)],
)  # fmt: skip
def test_random_guess_score_is_moodles(kind, right, expected):
    options = [{"key": chr(97 + i), "correct": correct} for i, correct in enumerate(right)]
    assert random_guess_score(kind=kind, options=options) == expected
