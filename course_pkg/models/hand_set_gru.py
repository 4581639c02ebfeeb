"""Tiny GRUs whose weights are set by hand, to watch the update and reset gates work (chapter 6).

Both are `course_pkg.nn.GRU` layers with one hidden unit; every weight not named below is 0.
PyTorch's GRU (gate blocks r, z, n)::

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

**A memory cell** (:func:`memory_gru`), one input. A pulse ``x = 1`` is to be stored, then the
input is 0. ``W_iz = -write_strength`` drives the update gate to 0 for the pulse (take the
candidate: write), the bias ``b_iz = update_bias`` decides the gate the rest of the time, and
``W_in = 3`` writes ``tanh(3) ~ 0.995``. With ``W_hn = 0`` the candidate is 0 after the pulse, so
``h_t = z h_{t-1}``: the stored value shrinks by the factor ``z = sigmoid(update_bias)`` per step
and halves after ``ln(1/2) / ln(z)`` steps (:func:`memory_half_life`).

**Sentiment with a turn** (:func:`turn_aware_gru`), three inputs per word, ``[positive, negative,
turn]`` (:func:`encode_words`). The state is the opinion so far:

- neutral words: ``b_iz = 4``, z ~ 0.98, the opinion is kept;
- sentiment words: ``W_iz = -3.6`` (z ~ 0.6) and ``n = tanh(+-1.5 + h)``: the word is added to
  the opinion, which it pulls towards its own sign;
- the turn word "but": ``W_ir = -8`` closes the reset gate (r ~ 0.02), so the candidate no longer
  sees the old opinion (n ~ 0), and ``W_iz = -8`` drives the update gate to z ~ 0.02 (take the
  candidate): the old opinion is replaced by a neutral one, and what follows "but" decides the
  sentence.

``respect_turn=False`` zeroes the turn weights: "but" is then a neutral word, and the earlier
opinion still weighs on the result.
"""

from __future__ import annotations

import math

import torch

from course_pkg.nn import GRU
from course_pkg.validation import require_in_range

__all__ = ["memory_gru", "memory_half_life", "POSITIVE_WORDS", "NEGATIVE_WORDS", "TURN_WORDS",
           "encode_words", "turn_aware_gru"]

POSITIVE_WORDS = frozenset({"amazing", "great", "good", "wonderful", "brilliant", "fun"})
NEGATIVE_WORDS = frozenset({"terrible", "awful", "dull", "boring", "bad", "slow"})
TURN_WORDS = frozenset({"but", "however", "yet"})


def _set_gru_weights(gru, weight_ih, bias_ih, weight_hh):
    """Copy the given values into the GRU's parameters; ``bias_hh`` is zero."""
    with torch.no_grad():
        gru.weight_ih_l0.copy_(torch.tensor(weight_ih))    # (3, D), rows r, z, n
        gru.bias_ih_l0.copy_(torch.tensor(bias_ih))        # (3,)
        gru.weight_hh_l0.copy_(torch.tensor(weight_hh))    # (3, 1)
        gru.bias_hh_l0.zero_()
    return gru


def memory_gru(update_bias: float, write_strength: float = 20.0):
    """A one-unit GRU that stores a pulse and then keeps it with gate ``z = sigmoid(update_bias)``.

    Feed it ``x`` (T, B, 1) with ``x_0 = 1`` and 0 afterwards: the state after the pulse (step 0)
    is ``h_0 ~ 0.995`` and ``h_t = sigmoid(update_bias) * h_{t-1}`` for t >= 1 (see the module
    docstring).
    """
    require_in_range("update_bias", update_bias, -20.0, 20.0)
    require_in_range("write_strength", write_strength, 0.0, 100.0)
    gru = GRU(1, 1)
    return _set_gru_weights(gru,
                            weight_ih=[[0.0], [-write_strength], [3.0]],  # r, z, n
                            bias_ih=[0.0, update_bias, 0.0],
                            weight_hh=[[0.0], [0.0], [0.0]])


def memory_half_life(update_bias: float) -> float:
    """Steps after which :func:`memory_gru` holds half of what it stored: ``ln(1/2) / ln(z)``."""
    require_in_range("update_bias", update_bias, -20.0, 20.0)
    z = 1.0 / (1.0 + math.exp(-update_bias))
    return math.log(0.5) / math.log(z)


def encode_words(sentence: str) -> torch.Tensor:
    """The words of ``sentence`` as inputs ``[positive, negative, turn]``: (T, 1, 3) float32."""
    if not isinstance(sentence, str):
        raise TypeError(f"sentence: expected a str, got {type(sentence).__name__}")
    words = sentence.lower().replace(",", " ").replace(".", " ").split()
    if not words:
        raise ValueError(f"sentence: expected at least one word, got {sentence!r}")
    rows = [[float(w in POSITIVE_WORDS), float(w in NEGATIVE_WORDS), float(w in TURN_WORDS)]
            for w in words]
    return torch.tensor(rows).unsqueeze(1)                          # (T, 1, 3)


def turn_aware_gru(respect_turn: bool = True):
    """The one-unit sentiment GRU of the module docstring; ``respect_turn=False`` zeroes the
    weights of the turn input, so "but" becomes an ordinary neutral word."""
    if not isinstance(respect_turn, bool):
        raise TypeError(f"respect_turn: expected a bool, got {type(respect_turn).__name__}")
    turn = 1.0 if respect_turn else 0.0
    gru = GRU(3, 1)
    #                     positive  negative  turn
    return _set_gru_weights(gru,
                            weight_ih=[[0.0, 0.0, -8.0 * turn],    # r: "but" closes it
                                       [-3.6, -3.6, -8.0 * turn],  # z: words open it
                                       [1.5, -1.5, 0.0]],          # n: the word's sign
                            bias_ih=[4.0, 4.0, 0.0],               # r ~ 0.98, z ~ 0.98
                            weight_hh=[[0.0], [0.0], [1.0]])       # n sees r * h
