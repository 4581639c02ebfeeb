"""The Mogrifier LSTM of Melis, Kocisky & Blunsom (2019), *Mogrifier LSTM*, eq. 1-2.

An LSTM mixes the input ``x`` and the previous state ``h`` only inside its gates, additively. The
Mogrifier lets them gate *each other* first, for ``r`` rounds, and then runs an ordinary LSTM
step on the results. Starting from x^{-1} = x and h^0 = h_prev, for i = 1..r::

    i odd:   x^i = 2 sigmoid(Q^i h^{i-1}) o x^{i-2}        Q^i (D, H): h rescales x
    i even:  h^i = 2 sigmoid(R^i x^{i-1}) o h^{i-2}        R^i (H, D): x rescales h

(``o`` the element-wise product; a variable keeps its value in the rounds that do not update it.)
Then ``h', c' = LSTM(x^up, (h^up, c_prev))`` with x^up, h^up the last values. The factor 2 makes
a gate of ``sigmoid(0) = 0.5`` an identity: with Q and R at zero, or with ``rounds=0``, the
Mogrifier LSTM *is* the plain LSTM. The paper uses r = 5 (3 rounds update x, 2 update h).

Low rank (``rank=k``): each Q^i = Q^i_left Q^i_right with Q^i_left (D, k) and Q^i_right (k, H)
(and R^i alike), k much smaller than D and H, which the paper uses to save parameters.

Parameters. The LSTM part has the names and shapes of `torch.nn.LSTMCell`: ``weight_ih`` (4H, D),
``weight_hh`` (4H, H), ``bias_ih``, ``bias_hh`` (4H,), gate blocks i, f, g, o, registered first
and drawn like torch's (U(-1/sqrt(H), 1/sqrt(H)) in the same order), so a Mogrifier built after
``torch.manual_seed(s)`` has the LSTM weights of an ``LSTMCell`` built after the same seed, and
with ``rounds=0`` ``cell.load_state_dict(torch_cell.state_dict())`` works and reproduces it. The
rounds' matrices are stacked: ``weight_q`` (ceil(r/2), D, H) and ``weight_r`` (floor(r/2), H, D),
or ``weight_q_left`` (., D, k), ``weight_q_right`` (., k, H), ``weight_r_left`` (., H, k),
``weight_r_right`` (., k, D) when low-rank; they have no bias (as in the paper) and are drawn
from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), the rule of ``torch.nn.Linear``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.nn.cells import lstm_step, require_bool, require_tensor_like
from course_pkg.validation import require_ndim, require_positive_int, require_shape

__all__ = ["mogrify", "MogrifierLSTMCell", "MogrifierLSTM"]


def mogrify(x: Tensor, h: Tensor, q_matrices: list[Tensor],
            r_matrices: list[Tensor]) -> tuple[Tensor, Tensor]:
    """The mogrifier rounds: alternately ``x <- 2 sigmoid(h Q^T) * x`` and
    ``h <- 2 sigmoid(x R^T) * h``, starting with x.

    ``x`` (B, D), ``h`` (B, H); ``q_matrices`` the Q^i for the odd rounds, each (D, H);
    ``r_matrices`` the R^i for the even rounds, each (H, D); the number of rounds is
    ``len(q_matrices) + len(r_matrices)`` (equal, or one more Q). Returns (x^up, h^up).
    """
    for round_index in range(len(q_matrices) + len(r_matrices)):
        if round_index % 2 == 0:                                     # rounds 1, 3, 5, ...
            x = 2 * torch.sigmoid(h @ q_matrices[round_index // 2].t()) * x     # (B, D)
        else:                                                        # rounds 2, 4, ...
            h = 2 * torch.sigmoid(x @ r_matrices[round_index // 2].t()) * h     # (B, H)
    return x, h


class MogrifierLSTMCell(nn.Module):
    """One Mogrifier LSTM step: `mogrify` for ``rounds`` rounds, then `lstm_step`.

    ``MogrifierLSTMCell(input_size, hidden_size, rounds=5, rank=None)``;
    ``forward(input, hx=None)``: input (B, D), ``hx = (h, c)`` each (B, H) or None (zeros);
    returns ``(h', c')``, each (B, H).
    """

    def __init__(self, input_size: int, hidden_size: int, rounds: int = 5,
                 rank: int | None = None) -> None:
        super().__init__()
        require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        if isinstance(rounds, bool) or not isinstance(rounds, int):
            raise TypeError(f"rounds: expected an int >= 0, got {type(rounds).__name__} "
                            f"{rounds!r}")
        if rounds < 0:
            raise ValueError(f"rounds: expected an int >= 0, got {rounds}")
        if rank is not None:
            require_positive_int("rank", rank)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.rounds, self.rank = rounds, rank
        D, H = input_size, hidden_size
        # the LSTM part first, laid out and registered as in torch.nn.LSTMCell
        self.weight_ih = nn.Parameter(torch.empty(4 * H, D))     # (4H, D) blocks i, f, g, o
        self.weight_hh = nn.Parameter(torch.empty(4 * H, H))     # (4H, H)
        self.bias_ih = nn.Parameter(torch.empty(4 * H))
        self.bias_hh = nn.Parameter(torch.empty(4 * H))
        num_q, num_r = (rounds + 1) // 2, rounds // 2            # odd rounds use Q, even use R
        # name -> (shape, fan_in); nothing is registered for zero matrices, so that with
        # rounds=0 the state dict is exactly an LSTMCell's
        shapes = {}
        if rank is None:
            shapes.update(weight_q=((num_q, D, H), H), weight_r=((num_r, H, D), D))
        else:
            shapes.update(weight_q_left=((num_q, D, rank), rank),
                          weight_q_right=((num_q, rank, H), H),
                          weight_r_left=((num_r, H, rank), rank),
                          weight_r_right=((num_r, rank, D), D))
        self._fan_in = {}
        for name, (shape, fan_in) in shapes.items():
            if shape[0] > 0:
                setattr(self, name, nn.Parameter(torch.empty(shape)))
                self._fan_in[name] = fan_in
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """LSTM part: U(-1/sqrt(H), 1/sqrt(H)) in torch's order; rounds: U(+-1/sqrt(fan_in))."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        with torch.no_grad():
            for parameter in (self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh):
                parameter.uniform_(-bound, bound)
            for name, fan_in in self._fan_in.items():
                getattr(self, name).uniform_(-1.0 / math.sqrt(fan_in), 1.0 / math.sqrt(fan_in))

    def extra_repr(self) -> str:
        text = f"{self.input_size}, {self.hidden_size}, rounds={self.rounds}"
        return text + (f", rank={self.rank}" if self.rank is not None else "")

    def round_matrices(self) -> tuple[list[Tensor], list[Tensor]]:
        """The full matrices ``[Q^1, Q^3, ...]`` (each (D, H)) and ``[R^2, R^4, ...]`` (each
        (H, D)); products of the two factors when low-rank."""
        def matrices(prefix: str) -> list[Tensor]:
            if self.rank is None:
                stacked = getattr(self, prefix, None)
            elif hasattr(self, prefix + "_left"):
                stacked = getattr(self, prefix + "_left") @ getattr(self, prefix + "_right")
            else:
                stacked = None
            return [] if stacked is None else list(stacked.unbind(0))
        return matrices("weight_q"), matrices("weight_r")

    def _check(self, input: Tensor, hx) -> tuple[Tensor, Tensor]:
        require_tensor_like("input", input, self.weight_ih)
        require_ndim("input", input, 2, "(batch, input_size)")
        require_shape("input", input, ("B", self.input_size), f"input_size = {self.input_size}")
        batch = input.shape[0]
        if hx is None:
            zeros = input.new_zeros(batch, self.hidden_size)
            return zeros, zeros
        if not isinstance(hx, (tuple, list)) or len(hx) != 2:
            raise TypeError(f"hx: expected a tuple (h, c) of two tensors, got {type(hx).__name__}")
        for name, state in zip(("hx[0]", "hx[1]"), hx):
            require_tensor_like(name, state, self.weight_ih)
            require_shape(name, state, (batch, self.hidden_size), "(batch, hidden_size)")
        return hx[0], hx[1]

    def step(self, x: Tensor, h: Tensor, c: Tensor,
             matrices: tuple[list[Tensor], list[Tensor]] | None = None) -> tuple[Tensor, Tensor]:
        """Mogrify then take the LSTM step, without argument checks (the loop of
        `MogrifierLSTM` calls it with the round matrices built once per sequence)."""
        q_matrices, r_matrices = self.round_matrices() if matrices is None else matrices
        x, h = mogrify(x, h, q_matrices, r_matrices)                     # (B, D), (B, H)
        x_proj = F.linear(x, self.weight_ih, self.bias_ih + self.bias_hh)  # (B, 4H)
        return lstm_step(x_proj, h, c, self.weight_hh)

    def forward(self, input: Tensor,
                hx: tuple[Tensor, Tensor] | None = None) -> tuple[Tensor, Tensor]:
        h, c = self._check(input, hx)
        return self.step(input, h, c)


class MogrifierLSTM(nn.Module):
    """One Mogrifier LSTM layer over a sequence, with the interface of a one-layer
    `torch.nn.LSTM`.

    ``MogrifierLSTM(input_size, hidden_size, rounds=5, rank=None, batch_first=False)``; the step
    is ``self.cell``, a `MogrifierLSTMCell`. ``forward(input, hx=None)``: input (T, B, D) ((B, T, D)
    with ``batch_first``), ``hx = (h_0, c_0)`` each (1, B, H) or None (zeros). Returns
    ``(output, (h_n, c_n))``: output (T, B, H) (same layout as the input), h_n, c_n (1, B, H).

    Unlike the LSTM, the input product cannot be done for all steps at once: x^up depends on
    h_{t-1}.
    """

    def __init__(self, input_size: int, hidden_size: int, rounds: int = 5,
                 rank: int | None = None, batch_first: bool = False) -> None:
        super().__init__()
        require_bool("batch_first", batch_first)
        self.cell = MogrifierLSTMCell(input_size, hidden_size, rounds, rank)
        self.input_size, self.hidden_size = input_size, hidden_size
        self.batch_first = batch_first

    def extra_repr(self) -> str:
        return f"batch_first={self.batch_first}"

    def forward(self, input: Tensor, hx: tuple[Tensor, Tensor] | None = None):
        cell = self.cell
        require_tensor_like("input", input, cell.weight_ih)
        layout = "(B, T, input_size) with batch_first" if self.batch_first else \
            "(T, B, input_size) (time-major input)"
        require_ndim("input", input, 3, layout)
        require_shape("input", input, ("B", "T", self.input_size) if self.batch_first
                      else ("T", "B", self.input_size), layout)
        x = input.transpose(0, 1) if self.batch_first else input            # (T, B, D)
        batch = x.shape[1]
        if hx is None:
            h = c = x.new_zeros(batch, self.hidden_size)                     # (B, H)
        else:
            if not isinstance(hx, (tuple, list)) or len(hx) != 2:
                raise TypeError(f"hx: expected a tuple (h_0, c_0) of two tensors, got "
                                f"{type(hx).__name__}")
            for name, state in zip(("hx[0]", "hx[1]"), hx):
                require_tensor_like(name, state, cell.weight_ih)
                require_shape(name, state, (1, batch, self.hidden_size),
                              "(1, batch, hidden_size): one layer")
            h, c = hx[0][0], hx[1][0]
        matrices = cell.round_matrices()                # low-rank products: once per sequence
        outputs = []
        for x_t in x.unbind(0):
            h, c = cell.step(x_t, h, c, matrices)
            outputs.append(h)
        output = torch.stack(outputs)                                        # (T, B, H)
        if self.batch_first:
            output = output.transpose(0, 1)
        return output, (h.unsqueeze(0), c.unsqueeze(0))
