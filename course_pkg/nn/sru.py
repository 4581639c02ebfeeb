"""The Simple Recurrent Unit (SRU) of Lei, Zhang, Wang, Dai & Artzi (2018), *Simple Recurrent Units
for Highly Parallelizable Recurrence*, eq. 3-7, and a single-head SRU++ (Lei 2021, *When Attention
Meets Fast Recurrence*).

An LSTM multiplies ``h_{t-1}`` by a matrix at every step, so its matrix products must wait for
each other. SRU takes ``h_{t-1}`` out of the gates: the state enters them only through
*element-wise* products with vectors ``v``. Every matrix product then depends on the input alone
and is done for all T steps at once, and what is left for the loop is cheap element-wise work::

    U = x W^T                     all steps in one product: (T*B, D) @ (D, 3H) -> x~, W_f x, W_r x
    f_t = sigmoid(W_f x_t + v_f o c_{t-1} + b_f)               forget gate
    c_t = f_t o c_{t-1} + (1 - f_t) o x~_t                     cell state, x~_t = W x_t
    r_t = sigmoid(W_r x_t + v_r o c_{t-1} + b_r)               reset (highway) gate
    h_t = r_t o c_t + (1 - r_t) o (alpha * x^_t)               highway output

(``o`` is the element-wise product.) The highway term carries the input itself,
``x^_t = x_t``, when D = H; when D != H it is a projection ``x^_t = W_p x_t``, a fourth block of
rows of W, so U is (T, B, 4H). ``alpha`` is the paper's scaling correction (section 3.2): with the
highway bias b_r initialised to ``highway_bias``, ``alpha = sqrt(1 + 2 exp(highway_bias))``
(sqrt(3) for the default 0) keeps the variance of h_t near that of x_t at initialisation. It
is a fixed number, the attribute ``highway_scale``, not learned. (The authors' code folds alpha
into the initial W_p when D != H; here the formula is the same in both cases.)

Only c needs a loop: r_t uses c_{t-1} and h_t uses c_t, so once all the cell states are known,
r and h are computed for all steps at once (`sru_recurrence`). The loop (`sru_cell_states`) is
two element-wise operations and a sigmoid per step. We measured two alternatives on a CPU
(T=256, B=32, H=128 and 256, forward + backward): ``torch.jit.script`` on the loop and a
hand-written backward pass (``torch.autograd.Function``) were no faster than this plain loop with
autograd, because the one big matrix product is then most of the time; ``torch.jit.script`` is
also deprecated in torch 2.13 (it warns). What did matter: stepping through ``unbind(0)`` rather
than indexing ``x[t]`` (the backward of T indexings writes T full-size gradients, about 3x
slower here), and taking r and h out of the loop.
``benchmarks/sru_speed.py`` compares SRU with the course's LSTM and with ``torch.nn.LSTM``.

Parameters of a layer (`SRULayer`): ``weight`` (3H or 4H, D), row blocks W, W_f, W_r (, W_p);
``v_f``, ``v_r``, ``b_f``, ``b_r`` (H,). Initialisation as the authors': W ~ U(-sqrt(3/D),
sqrt(3/D)) (variance 1/D) with the gate rows W_f, W_r scaled by sqrt(1/2);
v ~ U(-sqrt(3/2), sqrt(3/2)); b_f = 0, b_r = ``highway_bias``.

SRU++ (`SRUppLayer`, `SRUpp`) computes U with a small attention sub-layer instead of the single
product; see `SRUppLayer`.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from course_pkg.nn.cells import require_bool, require_tensor_like
from course_pkg.validation import require_ndim, require_positive_int, require_shape

__all__ = ["sru_cell_states", "sru_recurrence", "SRULayer", "SRU", "SRUppLayer", "SRUpp"]


# ----------------------------------------------------------------------------------------------
# the recurrence
# ----------------------------------------------------------------------------------------------
def sru_cell_states(x_tilde: Tensor, f_pre: Tensor, v_f: Tensor, c0: Tensor) -> Tensor:
    """The loop of SRU: ``f_t = sigmoid(f_pre_t + v_f * c_{t-1})``,
    ``c_t = f_t * c_{t-1} + (1 - f_t) * x~_t``.

    ``x_tilde`` and ``f_pre`` (T, B, H) (``f_pre = W_f x + b_f``), ``v_f`` (H,), ``c0`` (B, H).
    Returns every cell state c_1..c_T, (T, B, H).
    """
    c = c0
    states = []
    # unbind, not x_tilde[t]: unbind's backward is one stack; T indexings' are T full-size copies
    for x_tilde_t, f_pre_t in zip(x_tilde.unbind(0), f_pre.unbind(0)):
        forget = torch.sigmoid(torch.addcmul(f_pre_t, v_f, c))     # (B, H)
        c = torch.lerp(x_tilde_t, c, forget)                        # x~ + f (c - x~)
        states.append(c)
    return torch.stack(states)                                      # (T, B, H)


def sru_recurrence(projections: Tensor, highway: Tensor, v_f: Tensor, v_r: Tensor,
                   b_f: Tensor, b_r: Tensor, c0: Tensor) -> tuple[Tensor, Tensor]:
    """SRU eq. 3-7 from the projections ``U = [x~, W_f x, W_r x]`` of every step.

    ``projections`` (T, B, 3H), ``highway`` (T, B, H) the term ``alpha * x^_t``, ``v_f``,
    ``v_r``, ``b_f``, ``b_r`` (H,), ``c0`` (B, H). Returns ``(h, c)``, both (T, B, H).
    """
    x_tilde, f_part, r_part = projections.chunk(3, dim=-1)          # each (T, B, H)
    c = sru_cell_states(x_tilde, f_part + b_f, v_f, c0)             # the only loop
    c_prev = torch.cat([c0.unsqueeze(0), c[:-1]])                   # c_{t-1}, (T, B, H)
    reset = torch.sigmoid(torch.addcmul(r_part + b_r, v_r, c_prev))  # all steps at once
    h = torch.lerp(highway, c, reset)                               # r c + (1 - r) alpha x^
    return h, c


# ----------------------------------------------------------------------------------------------
# layers
# ----------------------------------------------------------------------------------------------
class _SRULayerBase(nn.Module):
    """The gate vectors, the highway scale and the recurrence; subclasses compute U."""

    def __init__(self, input_size: int, hidden_size: int, highway_bias: float = 0.0) -> None:
        super().__init__()
        require_positive_int("input_size", input_size)
        require_positive_int("hidden_size", hidden_size)
        if isinstance(highway_bias, bool) or not isinstance(highway_bias, (int, float)) \
                or not math.isfinite(highway_bias):
            raise TypeError(f"highway_bias: expected a finite number, got {highway_bias!r}")
        self.input_size, self.hidden_size = input_size, hidden_size
        self.highway_bias = float(highway_bias)
        # x~, W_f x, W_r x, and a projection of x for the highway when its size is not H
        self.num_blocks = 3 if input_size == hidden_size else 4
        self.v_f = nn.Parameter(torch.empty(hidden_size))
        self.v_r = nn.Parameter(torch.empty(hidden_size))
        self.b_f = nn.Parameter(torch.empty(hidden_size))
        self.b_r = nn.Parameter(torch.empty(hidden_size))
        self.highway_scale = math.sqrt(1 + 2 * math.exp(self.highway_bias))   # alpha, fixed

    def reset_parameters(self) -> None:
        with torch.no_grad():
            bound = math.sqrt(1.5)                                   # variance 1/2
            self.v_f.uniform_(-bound, bound)
            self.v_r.uniform_(-bound, bound)
            self.b_f.zero_()
            self.b_r.fill_(self.highway_bias)

    def projections(self, x: Tensor) -> Tensor:
        """U for every step: (T, B, D) -> (T, B, num_blocks * H)."""
        raise NotImplementedError

    def forward(self, x: Tensor, c0: Tensor) -> tuple[Tensor, Tensor]:
        """``x`` (T, B, D), ``c0`` (B, H) -> ``(h, c_T)``: h (T, B, H), c_T (B, H).
        (`SRU` and `SRUpp` check the arguments before calling their layers.)"""
        u = self.projections(x)                                       # (T, B, kH)
        H = self.hidden_size
        highway_input = x if self.num_blocks == 3 else u[..., 3 * H:]  # x^_t, (T, B, H)
        h, c = sru_recurrence(u[..., :3 * H], self.highway_scale * highway_input,
                              self.v_f, self.v_r, self.b_f, self.b_r, c0)
        return h, c[-1]


class SRULayer(_SRULayerBase):
    """One SRU layer: ``U = x W^T`` in one product, then `sru_recurrence`."""

    def __init__(self, input_size: int, hidden_size: int, highway_bias: float = 0.0) -> None:
        super().__init__(input_size, hidden_size, highway_bias)
        self.weight = nn.Parameter(torch.empty(self.num_blocks * hidden_size, input_size))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """W ~ U(+-sqrt(3/D)), gate rows times sqrt(1/2); v ~ U(+-sqrt(3/2)); b_f = 0,
        b_r = highway_bias."""
        super().reset_parameters()
        H = self.hidden_size
        with torch.no_grad():
            bound = math.sqrt(3.0 / self.input_size)
            self.weight.uniform_(-bound, bound)
            self.weight[H:3 * H].mul_(math.sqrt(0.5))               # rows of W_f and W_r

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, highway_bias={self.highway_bias}"

    def projections(self, x: Tensor) -> Tensor:
        return F.linear(x, self.weight)                               # (T, B, kH)


class SRUppLayer(_SRULayerBase):
    """One SRU++ layer (Lei 2021, section 3, simplified to one head): U comes from self-attention.

    With ``d' = attention_size`` (smaller than D, H; default ``max(1, H // 4)``)::

        q_t = W_q x_t                                   (d',)   the query, also the residual
        k_t = W_k q_t,   v_t = W_v q_t                  keys and values are computed from q
        a_t = sum_{s <= t} softmax_s(q_t . k_s / sqrt(d')) v_s     (s <= t only if causal)
        U_t = W_o LayerNorm(q_t + alpha_att * a_t)      (3H or 4H,)

    ``alpha_att`` is a learned scalar that starts at 0 (so the layer starts as an SRU whose
    product is factored through d' dimensions, and attention joins as training moves it). The
    paper uses several heads and places attention in only some layers; we keep one head in every
    layer. Then the SRU recurrence as in `SRULayer`. With ``causal=True`` (the default) step t
    attends only to steps s <= t, so the layer stays a left-to-right model like the SRU.
    Parameters: ``query`` (d', D), ``key_value`` (2d', d'), ``output`` (kH, d') (``nn.Linear``
    without bias), ``norm`` (``nn.LayerNorm(d')``), ``attention_scale`` (alpha_att, a 0-d tensor).
    """

    def __init__(self, input_size: int, hidden_size: int, attention_size: int | None = None,
                 causal: bool = True, highway_bias: float = 0.0) -> None:
        super().__init__(input_size, hidden_size, highway_bias)
        if attention_size is None:
            attention_size = max(1, hidden_size // 4)
        require_positive_int("attention_size", attention_size)
        require_bool("causal", causal)
        self.attention_size, self.causal = attention_size, causal
        self.query = nn.Linear(input_size, attention_size, bias=False)            # W_q
        self.key_value = nn.Linear(attention_size, 2 * attention_size, bias=False)  # W_k; W_v
        self.norm = nn.LayerNorm(attention_size)
        self.output = nn.Linear(attention_size, self.num_blocks * hidden_size, bias=False)
        self.attention_scale = nn.Parameter(torch.zeros(()))                     # alpha_att
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Gates as in `SRULayer`; the three matrices Xavier-uniform; LayerNorm to identity;
        alpha_att = 0."""
        super().reset_parameters()
        for linear in (self.query, self.key_value, self.output):
            nn.init.xavier_uniform_(linear.weight)
        self.norm.reset_parameters()
        with torch.no_grad():
            self.attention_scale.zero_()

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, attention_size={self.attention_size}, "
                f"causal={self.causal}, highway_bias={self.highway_bias}")

    def attention_weights(self, q: Tensor, k: Tensor) -> Tensor:
        """softmax over s of ``q_t . k_s / sqrt(d')``: (T, B, d') twice -> (B, T, T), row t
        the weights of step t (zero where s > t if causal)."""
        scores = torch.einsum("tbd,sbd->bts", q, k) / math.sqrt(self.attention_size)  # (B, T, T)
        if self.causal:
            steps = q.shape[0]
            future = torch.ones(steps, steps, dtype=torch.bool, device=q.device).triu(1)
            scores = scores.masked_fill(future, float("-inf"))
        return torch.softmax(scores, dim=-1)

    def projections(self, x: Tensor) -> Tensor:
        q = self.query(x)                                             # (T, B, d')
        k, v = self.key_value(q).chunk(2, dim=-1)                     # each (T, B, d')
        weights = self.attention_weights(q, k)                        # (B, T, T)
        attended = torch.einsum("bts,sbd->tbd", weights, v)           # (T, B, d')
        return self.output(self.norm(q + self.attention_scale * attended))   # (T, B, kH)


# ----------------------------------------------------------------------------------------------
# stacks
# ----------------------------------------------------------------------------------------------
class _SRUStack(nn.Module):
    """Layers applied one after the other; ``forward(x, c0=None) -> (output, c_n)``."""

    def __init__(self, layers: list[_SRULayerBase]) -> None:
        super().__init__()
        self.layers = nn.ModuleList(layers)
        self.input_size = layers[0].input_size
        self.hidden_size = layers[0].hidden_size
        self.num_layers = len(layers)

    def extra_repr(self) -> str:
        return f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}"

    def forward(self, x: Tensor, c0: Tensor | None = None) -> tuple[Tensor, Tensor]:
        """``x`` (T, B, input_size) time-major, ``c0`` (num_layers, B, H) or None (zeros).
        Returns ``(output, c_n)``: output (T, B, H) the last layer's h_t, c_n
        (num_layers, B, H) every layer's final cell state."""
        reference = self.layers[0].v_f
        require_tensor_like("x", x, reference)
        require_ndim("x", x, 3, "(T, B, input_size) time-major input")
        require_shape("x", x, ("T", "B", self.input_size),
                      f"(T, B, input_size) time-major input with input_size {self.input_size}")
        if x.shape[0] == 0 or x.shape[1] == 0:
            raise ValueError(f"x: expected at least one step of one sequence, got shape "
                             f"{tuple(x.shape)}")
        batch = x.shape[1]
        if c0 is None:
            c0 = x.new_zeros(self.num_layers, batch, self.hidden_size)
        else:
            require_tensor_like("c0", c0, reference)
            require_shape("c0", c0, (self.num_layers, batch, self.hidden_size),
                          "(num_layers, B, hidden_size)")
        finals = []
        layer_input = x                                               # (T, B, D), then (T, B, H)
        for k, layer in enumerate(self.layers):
            layer_input, c_last = layer(layer_input, c0[k])
            finals.append(c_last)
        return layer_input, torch.stack(finals)


class SRU(_SRUStack):
    """A stack of SRU layers (Lei et al. 2018); layer k+1 reads layer k's h.

    ``SRU(input_size, hidden_size, num_layers=1, highway_bias=0.0)``; the layers are
    ``self.layers[k]``, `SRULayer` s. ``forward(x, c0=None)``: x (T, B, D) time-major, c0
    (num_layers, B, H) or None (zeros). Returns ``(output, c_n)``: output (T, B, H) the last
    layer's h_t, c_n (num_layers, B, H) every layer's final cell state.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 highway_bias: float = 0.0) -> None:
        require_positive_int("num_layers", num_layers)
        super().__init__([SRULayer(input_size if k == 0 else hidden_size, hidden_size,
                                   highway_bias) for k in range(num_layers)])


class SRUpp(_SRUStack):
    """A stack of single-head SRU++ layers (`SRUppLayer`), with the interface of `SRU`.

    ``SRUpp(input_size, hidden_size, num_layers=1, attention_size=None, causal=True,
    highway_bias=0.0)``; ``forward(x, c0=None) -> (output, c_n)`` as `SRU.forward`.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 attention_size: int | None = None, causal: bool = True,
                 highway_bias: float = 0.0) -> None:
        require_positive_int("num_layers", num_layers)
        super().__init__([SRUppLayer(input_size if k == 0 else hidden_size, hidden_size,
                                     attention_size, causal, highway_bias)
                          for k in range(num_layers)])
