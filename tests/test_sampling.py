"""course_pkg.sampling: statistical tests of the draws, and beam search against brute force."""

import itertools
import math

import pytest
import torch

from course_pkg.sampling import beam_search, generate, sample

LOGITS = torch.tensor([1.0, 0.5, 0.0, -0.5, -1.0, 2.0], dtype=torch.float64)  # V = 6
N_DRAWS = 60_000
P_THRESHOLD = 1e-6  # a correct sampler fails this about once in a million runs


def chi_square_p_value(counts, probs):
    """Pearson's chi-square goodness of fit: the statistic and its p-value (df = cells - 1).

    The p-value is the chi-square survival function, sf(x; k) = Q(k/2, x/2), with Q torch's
    regularised upper incomplete gamma function.
    """
    counts = torch.as_tensor(counts, dtype=torch.float64)
    expected = counts.sum() * torch.as_tensor(probs, dtype=torch.float64)
    assert expected.min() >= 5, "too few expected counts per cell for the chi-square test"
    statistic = ((counts - expected) ** 2 / expected).sum()
    degrees_of_freedom = counts.numel() - 1
    half_df = torch.tensor(degrees_of_freedom / 2.0, dtype=torch.float64)
    p_value = torch.special.gammaincc(half_df, statistic / 2)
    return statistic.item(), p_value.item()


def test_chi_square_survival_function_closed_forms():
    # For 2 and 4 degrees of freedom the chi-square survival function has a closed form.
    for x in (0.5, 3.0, 10.0, 40.0):
        half_x = torch.tensor(x / 2, dtype=torch.float64)
        sf_2 = torch.special.gammaincc(torch.tensor(1.0, dtype=torch.float64), half_x).item()
        sf_4 = torch.special.gammaincc(torch.tensor(2.0, dtype=torch.float64), half_x).item()
        assert sf_2 == pytest.approx(math.exp(-x / 2), rel=1e-10)
        assert sf_4 == pytest.approx(math.exp(-x / 2) * (1 + x / 2), rel=1e-10)


def draw_counts(logits, n_draws=N_DRAWS, seed=0, **kwargs):
    generator = torch.Generator().manual_seed(seed)
    ids = sample(logits.expand(n_draws, -1), generator=generator, **kwargs)  # (N,)
    assert ids.shape == (n_draws,) and ids.dtype == torch.int64
    return torch.bincount(ids, minlength=logits.shape[-1])


def test_temperature_one_follows_softmax():
    counts = draw_counts(LOGITS)
    _, p_value = chi_square_p_value(counts, torch.softmax(LOGITS, 0))
    assert p_value > P_THRESHOLD


def test_the_statistic_rejects_wrong_distributions():
    counts = draw_counts(LOGITS)
    # Our draws against a wrong expectation (the temperature forgotten in reverse) ...
    _, p_value = chi_square_p_value(counts, torch.softmax(LOGITS / 1.5, 0))
    assert p_value < P_THRESHOLD
    # ... and draws of a wrong sampler (softmax at temperature 1.2) against the right one.
    generator = torch.Generator().manual_seed(0)
    wrong_probs = torch.softmax(LOGITS / 1.2, 0)
    wrong = torch.multinomial(wrong_probs, N_DRAWS, replacement=True, generator=generator)
    _, p_value = chi_square_p_value(torch.bincount(wrong, minlength=6), torch.softmax(LOGITS, 0))
    assert p_value < P_THRESHOLD


@pytest.mark.parametrize("temperature", [0.5, 2.0])
def test_temperature_follows_scaled_softmax(temperature):
    counts = draw_counts(LOGITS, temperature=temperature, seed=1)
    _, p_value = chi_square_p_value(counts, torch.softmax(LOGITS / temperature, 0))
    assert p_value > P_THRESHOLD
    _, p_wrong = chi_square_p_value(counts, torch.softmax(LOGITS, 0))
    assert p_wrong < P_THRESHOLD


def test_top_k_follows_renormalised_softmax():
    counts = draw_counts(LOGITS, top_k=3, seed=2)
    kept = torch.topk(LOGITS, 3).indices  # tokens 5, 0, 1
    assert counts.sum() == counts[kept].sum()  # nothing outside the top 3 was drawn
    _, p_value = chi_square_p_value(counts[kept], torch.softmax(LOGITS[kept], 0))
    assert p_value > P_THRESHOLD


def test_top_k_one_is_greedy_and_top_k_v_changes_nothing():
    generator = torch.Generator().manual_seed(3)
    logits = torch.randn(50, 7, generator=generator)
    assert torch.equal(sample(logits, top_k=1, generator=generator), logits.argmax(1))
    a = sample(logits, top_k=7, generator=torch.Generator().manual_seed(4))
    b = sample(logits, generator=torch.Generator().manual_seed(4))
    assert torch.equal(a, b)


def test_temperature_zero_and_tiny_are_greedy():
    generator = torch.Generator().manual_seed(5)
    logits = torch.randn(40, 9, generator=generator)
    assert torch.equal(sample(logits, temperature=0.0), logits.argmax(1))
    assert torch.equal(sample(logits, temperature=0), logits.argmax(1))
    assert torch.equal(sample(logits, temperature=1e-30, generator=generator), logits.argmax(1))


def test_minus_inf_is_never_drawn_and_rows_are_independent():
    logits = torch.tensor([[0.0, -math.inf, 0.0], [-math.inf, -math.inf, 3.0]])
    ids = sample(logits.repeat(500, 1), generator=torch.Generator().manual_seed(6))  # (1000,)
    assert not (ids[0::2] == 1).any()
    assert (ids[1::2] == 2).all()


def test_generator_makes_draws_reproducible():
    logits = torch.randn(100, 5, generator=torch.Generator().manual_seed(7))
    a = sample(logits, generator=torch.Generator().manual_seed(11))
    b = sample(logits, generator=torch.Generator().manual_seed(11))
    c = sample(logits, generator=torch.Generator().manual_seed(12))
    assert torch.equal(a, b) and not torch.equal(a, c)


@pytest.mark.parametrize(
    "kwargs, name",
    [
        ({"temperature": -0.1}, "temperature"),
        ({"temperature": float("nan")}, "temperature"),
        ({"top_k": 0}, "top_k"),
        ({"top_k": 7}, "top_k"),
    ],
)
def test_sample_bad_arguments(kwargs, name):
    with pytest.raises(ValueError, match=name):
        sample(torch.zeros(2, 6), **kwargs)


def test_sample_bad_logits():
    with pytest.raises(ValueError, match=r"logits: expected a 2-D"):
        sample(torch.zeros(6))
    with pytest.raises(ValueError, match=r"logits: expected a 2-D"):
        sample(torch.zeros(1, 2, 6))
    with pytest.raises(TypeError, match="logits"):
        sample(torch.zeros(2, 6, dtype=torch.long))
    with pytest.raises(ValueError, match="logits"):
        sample(torch.tensor([[0.0, float("nan")]]))
    with pytest.raises(ValueError, match="logits"):
        sample(torch.full((1, 3), -math.inf))


# --- a tiny Markov "model" for generate and beam search --------------------------------------
# Token 3 is the start symbol. Greedy takes 0 first (0.45 > 0.40), but after 0 everything is
# flat, while after 1 the model is sure: 1,1,1 has probability 0.4*0.9*0.9 = 0.324, the greedy
# 0,0,0 only 0.45*0.36*0.36 = 0.058.
TRANSITIONS = torch.tensor(
    [
        [0.36, 0.34, 0.20, 0.10],  # after 0
        [0.05, 0.90, 0.03, 0.02],  # after 1
        [0.10, 0.10, 0.70, 0.10],  # after 2
        [0.45, 0.40, 0.10, 0.05],  # after 3 (the start)
    ],
    dtype=torch.float64,
)
START = 3


def markov_step(input_ids, state):
    """model_step of a first-order Markov chain; adds a per-row constant to test normalisation."""
    return torch.log(TRANSITIONS[input_ids]) + 5.0 + input_ids[:, None].double(), state


def brute_force(length, end_id=None):
    """All complete continuations of START up to ``length`` tokens with their log-probabilities."""
    results = {}
    for n in range(1, length + 1):
        for ids in itertools.product(range(4), repeat=n):
            if end_id is not None and end_id in ids[:-1]:
                continue  # nothing follows the end token
            if n < length and ids[-1] != end_id:
                continue  # an unfinished sequence shorter than the limit is not a hypothesis
            previous = (START,) + ids[:-1]
            results[ids] = sum(math.log(TRANSITIONS[a, b].item()) for a, b in zip(previous, ids))
    assert math.fsum(math.exp(v) for v in results.values()) == pytest.approx(1.0)
    return results


def test_greedy_is_not_optimal_but_beam_search_is():
    exact = brute_force(3)
    best_ids = max(exact, key=exact.get)
    assert best_ids == (1, 1, 1)
    greedy_ids, greedy_log_prob = beam_search(markov_step, [START], beam_width=1, max_length=3)[0]
    assert greedy_ids == [0, 0, 0]
    assert greedy_log_prob < exact[best_ids] - 1.0
    # generate at temperature 0 is the same greedy decoder
    assert generate(markov_step, [START], 3, temperature=0).tolist() == greedy_ids
    beam_ids, beam_log_prob = beam_search(markov_step, [START], beam_width=2, max_length=3)[0]
    assert tuple(beam_ids) == best_ids
    assert beam_log_prob == pytest.approx(math.log(0.4 * 0.9 * 0.9), rel=1e-12)


@pytest.mark.parametrize("end_id", [None, 2])
@pytest.mark.parametrize("length", [3, 4])
def test_exhaustive_beam_equals_brute_force(length, end_id):
    exact = brute_force(length, end_id)
    results = beam_search(markov_step, [START], 4**length, max_length=length, end_id=end_id)
    assert len(results) == len(exact)
    log_probs = [log_prob for _, log_prob in results]
    assert log_probs == sorted(log_probs, reverse=True)  # best first
    for ids, log_prob in results:
        assert log_prob == pytest.approx(exact[tuple(ids)], abs=1e-12)


def test_length_normalised_ranking_against_brute_force():
    # With end_id 0 the one-token answer [0] (p = 0.45) beats 1,1,1,1 (p = 0.29) on the summed
    # log-probability, but not per token (-0.80 against -0.31).
    exact = brute_force(4, end_id=0)
    width = 4**4
    results = beam_search(markov_step, [START], width, 4, end_id=0, length_normalise=True)
    per_token = [exact[tuple(ids)] / len(ids) for ids, _ in results]
    assert all(a >= b - 1e-12 for a, b in zip(per_token, per_token[1:]))  # ties up to rounding
    assert max(exact, key=lambda ids: exact[ids] / len(ids)) == (1, 1, 1, 1) == tuple(results[0][0])
    assert results[0][1] == pytest.approx(exact[(1, 1, 1, 1)])  # the plain sum is returned
    plain = beam_search(markov_step, [START], width, max_length=4, end_id=0)
    assert plain[0][0] == [0] == list(max(exact, key=exact.get))


def test_beam_search_stops_at_end_id():
    results = beam_search(markov_step, [START], beam_width=3, max_length=6, end_id=0)
    assert 1 <= len(results) <= 3
    for ids, _ in results:
        assert len(ids) <= 6 and 0 not in ids[:-1]
        assert ids[-1] == 0 or len(ids) == 6


def test_generate_first_token_and_pairs_follow_the_chain():
    # B = 20000 sequences at once, seed (1, B): the first token follows TRANSITIONS[START] and the
    # pair (y1, y2) follows TRANSITIONS[START, y1] * TRANSITIONS[y1, y2], which needs y1 fed back.
    batch = 20_000
    seed = torch.full((1, batch), START)
    ids = generate(markov_step, seed, max_length=2, generator=torch.Generator().manual_seed(8))
    assert ids.shape == (2, batch) and ids.dtype == torch.int64
    _, p_value = chi_square_p_value(torch.bincount(ids[0], minlength=4), TRANSITIONS[START])
    assert p_value > P_THRESHOLD
    pair_counts = torch.bincount(4 * ids[0] + ids[1], minlength=16)
    pair_probs = (TRANSITIONS[START][:, None] * TRANSITIONS).flatten()
    _, p_value = chi_square_p_value(pair_counts, pair_probs)
    assert p_value > P_THRESHOLD
    # had the seed been fed again instead of y1, y2 would follow TRANSITIONS[START]: rejected
    wrong_pairs = (TRANSITIONS[START][:, None] * TRANSITIONS[START][None, :]).flatten()
    assert chi_square_p_value(pair_counts, wrong_pairs)[1] < P_THRESHOLD


def counting_step(input_ids, state):
    """A model whose state counts the tokens it has read; it strongly predicts token count % 5."""
    count = 0 if state is None else state
    logits = torch.full((input_ids.shape[0], 5), -20.0)
    logits[:, (count + 1) % 5] = 20.0
    return logits, count + 1


def test_generate_threads_the_state_and_calls_the_model_once_per_token():
    calls = []

    def step(input_ids, state):
        calls.append(input_ids.clone())
        return counting_step(input_ids, state)

    ids = generate(step, [0, 0, 0], max_length=6, temperature=0)  # the seed has 3 tokens
    assert ids.tolist() == [3, 4, 0, 1, 2, 3]
    assert len(calls) == 3 + 6 - 1  # the last sample is not fed back
    assert [c.item() for c in calls[3:]] == [3, 4, 0, 1, 2]  # each sample is fed back


def test_generate_end_id_stops_and_pads():
    ids = generate(counting_step, [0], max_length=10, end_id=3, temperature=0)
    assert ids.tolist() == [1, 2, 3]
    # two sequences that end at different steps: seeds of different content, same length
    def step(input_ids, state):  # predicts input + 1 (mod 5)
        logits = torch.full((input_ids.shape[0], 5), -20.0)
        logits[torch.arange(input_ids.shape[0]), (input_ids + 1) % 5] = 20.0
        return logits, state

    ids = generate(step, torch.tensor([[0, 2]]), max_length=10, end_id=4, temperature=0)
    assert ids.tolist() == [[1, 3], [2, 4], [3, 4], [4, 4]]  # column 1 padded with end_id
    ids = generate(step, torch.tensor([[0, 2]]), max_length=2, end_id=4, temperature=0)
    assert ids.tolist() == [[1, 3], [2, 4]]  # max_length comes first


def test_generate_is_reproducible_with_a_generator():
    a = generate(markov_step, [START], 30, generator=torch.Generator().manual_seed(9))
    b = generate(markov_step, [START], 30, generator=torch.Generator().manual_seed(9))
    c = generate(markov_step, [START], 30, generator=torch.Generator().manual_seed(10))
    assert a.shape == (30,) and torch.equal(a, b) and not torch.equal(a, c)


def test_generate_and_beam_search_bad_arguments():
    with pytest.raises(ValueError, match="max_length"):
        generate(markov_step, [START], 0)
    with pytest.raises(ValueError, match="seed_ids"):
        generate(markov_step, [], 5)
    with pytest.raises(TypeError, match="seed_ids"):
        generate(markov_step, [0.5], 5)
    with pytest.raises(ValueError, match="seed_ids"):
        generate(markov_step, [-1], 5)
    with pytest.raises(ValueError, match="temperature"):
        generate(markov_step, [START], 5, temperature=-1.0)
    with pytest.raises(ValueError, match="top_k"):
        generate(markov_step, [START], 5, top_k=5)
    with pytest.raises(ValueError, match="end_id"):
        generate(markov_step, [START], 5, end_id=-1)
    with pytest.raises(ValueError, match="logits returned by model_step"):
        generate(lambda ids, state: (torch.zeros(4), state), [START], 5)
    with pytest.raises(ValueError, match="beam_width"):
        beam_search(markov_step, [START], beam_width=0, max_length=3)
    with pytest.raises(ValueError, match="max_length"):
        beam_search(markov_step, [START], beam_width=2, max_length=0)
    with pytest.raises(ValueError, match="seed_ids"):
        beam_search(markov_step, torch.full((1, 2), START), beam_width=2, max_length=3)
