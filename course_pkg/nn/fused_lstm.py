"""One LSTM layer (one direction) as a single autograd node, with backpropagation through time
written by hand: the fast path of :class:`course_pkg.nn.LSTM` for float32 tensors on the CPU.

The step-by-step module of :mod:`course_pkg.nn.recurrent` lets autograd record every gate
operation of every step, about twenty graph nodes per step, and autograd then differentiates
them one by one, with the weight gradient of ``W_hh`` computed as T small products. Fused RNN
kernels (cuDNN's, oneDNN's) instead run the forward loop without a graph, keep the activations
they will need, and do the backward loop themselves; every product that does not have to wait
for the previous step is then a single large matrix product over all T*B rows. This module does
the same with tensor operations, and is checked against ``torch.nn.LSTM``'s autograd gradients
(``tests/test_nn_fused_lstm.py``).

Forward, blocks i, f, g, o of the pre-activation ``a_t`` (B, 4H); t = 0..T-1, or T-1..0 for the
reverse direction, where "the previous step" is then t+1::

    x_proj = X W_ih^T + b                     all steps at once: (T*B, D) -> (T*B, 4H)
    a_t    = x_proj_t + h_{t-1} W_hh^T        (B, 4H)
    i, f, o = sigmoid(a_i, a_f, a_o);  g = tanh(a_g)
    c_t = f * c_{t-1} + i * g
    h_t = o * tanh(c_t)                       the output at step t

Backward, with ``dout_t`` = dL/dh_t from the layer's output, ``dh_rec`` = da_{next} W_hh the
gradient through the next step's product, and ``dc_next`` = dL/dc_t carried back::

    dh  = dout_t + dh_rec
    dc  = dc_next + dh * o * (1 - tanh^2(c_t))
    d(i, f, g, o) = (dc * g, dc * c_{t-1}, dc * i, dh * tanh(c_t))
    da_t = d(i, f, g, o) * (i(1-i), f(1-f), 1-g^2, o(1-o))       through the nonlinearities
    dh_rec = da_t W_hh;   dc_next = dc * f                          to the previous step

and after the loop, with ``dA`` all da_t stacked as rows (T*B, 4H) and ``H_prev`` the matching
previous hidden states (T*B, H)::

    dW_hh = dA^T H_prev      dW_ih = dA^T X      db = sum of the rows of dA      dX = dA W_ih

Matrix products: on x86 CPUs, PyTorch's float32 ``matmul`` calls MKL, which on some processors
(AMD's among them) does not use AVX-512, while ``torch.nn.LSTM`` runs oneDNN's GEMM, about twice
as fast there. `matmul_nt` therefore uses oneDNN's linear operator when this PyTorch build has it
and the tensors are float32 on the CPU, and ``a @ b.T`` otherwise; the operator is private to
PyTorch, so its presence and its result are checked once, on first use, against ``a @ b.T``.
"""

from __future__ import annotations

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

__all__ = ["fused_lstm_layer", "matmul_nt", "onednn_matmul_available", "pack_right_factor"]

_onednn_checked: bool | None = None          # None: not tried yet


def _onednn_linear(a: Tensor, b: Tensor) -> Tensor:
    return torch.ops.mkldnn._linear_pointwise(a, b, None, "none", [], "")


def onednn_matmul_available() -> bool:
    """Whether oneDNN's linear operator and its weight packing exist in this PyTorch build and
    compute ``a @ b.T`` (tried once on a small float32 example, then remembered)."""
    global _onednn_checked
    if _onednn_checked is None:
        try:
            generator = torch.Generator().manual_seed(0)
            a = torch.randn(5, 7, generator=generator)
            b = torch.randn(3, 7, generator=generator)
            expected = a @ b.t()
            packed = torch.ops.mkldnn._reorder_linear_weight(b, 5)
            _onednn_checked = all(torch.allclose(result, expected, rtol=1e-5, atol=1e-6)
                                  for result in (_onednn_linear(a, b), _onednn_linear(a, packed)))
        except (AttributeError, RuntimeError, TypeError):
            _onednn_checked = False
    return _onednn_checked


def _use_onednn(*tensors: Tensor) -> bool:
    return (all(t.dtype == torch.float32 and t.device.type == "cpu" for t in tensors)
            and onednn_matmul_available())


def pack_right_factor(b: Tensor, rows: int) -> Tensor:
    """``b`` (N, K) prepared for many products ``matmul_nt(a, b)`` with ``a`` (rows, K): packed
    once into oneDNN's blocked layout where oneDNN is used, else ``b`` itself."""
    if _use_onednn(b):
        return torch.ops.mkldnn._reorder_linear_weight(b.contiguous(), rows)
    return b


def matmul_nt(a: Tensor, b: Tensor) -> Tensor:
    """``a @ b.T`` for a (M, K) and b (N, K) -> (M, N); oneDNN's GEMM for float32 CPU tensors
    where available (either argument may be a transposed view; ``b`` may come from
    `pack_right_factor`)."""
    if b.is_mkldnn or _use_onednn(a, b):
        return _onednn_linear(a, b)
    return a @ b.t()


class _FusedLSTMLayer(torch.autograd.Function):
    """Forward and backward of one LSTM layer and direction; see the module's docstring."""

    @staticmethod
    def forward(ctx, x, h0, c0, weight_ih, weight_hh, bias, reverse: bool):
        # x (T, B, D); h0, c0 (B, H); weight_ih (4H, D); weight_hh (4H, H); bias (4H,) or None
        T, B, D = x.shape
        H = h0.shape[1]
        rows = x.reshape(T * B, D)
        x_proj = matmul_nt(rows, weight_ih)                        # (T*B, 4H)
        if bias is not None:
            x_proj += bias
        gates = x_proj.view(T, B, 4 * H)     # (T, B, 4H); step t turns row block t into the
                                             # activated gates i, f, g, o, in place
        cells = x.new_empty(T, B, H)                # c_t
        tanh_cells = x.new_empty(T, B, H)           # tanh(c_t)
        out = x.new_empty(T, B, H)                  # h_t
        recurrent = pack_right_factor(weight_hh, B)                 # W_hh, for h W_hh^T
        h, c = h0, c0
        for t in (range(T - 1, -1, -1) if reverse else range(T)):
            a = gates[t]                                            # (B, 4H)
            a += matmul_nt(h, recurrent)                            # a_t = x_proj_t + h W_hh^T
            # i, f, o = sigmoid(a_i, a_f, a_o) and g = tanh(a_g) = 2 sigmoid(2 a_g) - 1, so that
            # one sigmoid covers all four blocks (torch's CPU tanh costs several sigmoids)
            a[:, 2 * H:3 * H] *= 2
            a.sigmoid_()
            a[:, 2 * H:3 * H].mul_(2).sub_(1)
            i, f, g, o = a.chunk(4, dim=1)
            c = torch.addcmul(f * c, i, g, out=cells[t])
            h = torch.mul(o, torch.tanh(c, out=tanh_cells[t]), out=out[t])
        ctx.reverse = reverse
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x, h0, c0, weight_ih, weight_hh, gates, cells, tanh_cells, out)
        last = 0 if reverse else T - 1
        return out, out[last].clone(), cells[last].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, d_out, d_h_n, d_c_n):
        x, h0, c0, weight_ih, weight_hh, gates, cells, tanh_cells, out = ctx.saved_tensors
        T, B, D = x.shape
        H = h0.shape[1]
        reverse = ctx.reverse
        backward_order = range(T) if reverse else range(T - 1, -1, -1)
        d_gates = torch.empty_like(gates)                           # (T, B, 4H): da_t
        recurrent_t = pack_right_factor(weight_hh.t(), B)           # W_hh^T, for da W_hh
        dh_rec, dc = d_h_n, d_c_n
        ones = torch.ones_like(h0)                                  # (B, H)
        # The loop works on (B, H) and (B, 4H) blocks that stay in the cache; computing the
        # slopes for all steps at once would stream (T, B, 4H) arrays through memory instead.
        for t in backward_order:
            a = gates[t]                                            # (B, 4H)
            i, f, g, o = a.chunk(4, dim=1)                          # each (B, H)
            tanh_c = tanh_cells[t]
            c_prev = c0 if t == backward_order[-1] else cells[t + 1 if reverse else t - 1]
            dh = d_out[t] + dh_rec                                  # (B, H)
            o_slope = torch.addcmul(o, o * tanh_c, tanh_c, value=-1)   # o (1 - tanh^2 c)
            dc = torch.addcmul(dc, dh, o_slope)                     # dL/dc_t
            d_activations = torch.cat([dc * g, dc * c_prev, dc * i, dh * tanh_c], dim=1)
            slopes = torch.addcmul(a, a, a, value=-1)               # s (1 - s): i, f, o
            torch.addcmul(ones, g, g, value=-1,                     # 1 - g^2: g
                          out=slopes[:, 2 * H:3 * H])
            da = torch.mul(d_activations, slopes, out=d_gates[t])   # (B, 4H)
            dh_rec = matmul_nt(da, recurrent_t)                     # (B, H) = da W_hh
            dc = dc * f
        d_rows = d_gates.view(T * B, 4 * H)                         # dA (T*B, 4H)
        need = ctx.needs_input_grad
        dx = (matmul_nt(d_rows, weight_ih.t()).view(T, B, D)        # dA W_ih
              if need[0] else None)
        d_weight_ih = d_weight_hh = None
        if need[3] or need[4]:
            # one product for both weights: [X, H_prev]^T dA = (dA^T [X, H_prev])^T (D + H, 4H),
            # with H_prev the state each step started from, in time order (T, B, H)
            h_prev = (torch.cat([out[1:], h0.unsqueeze(0)]) if reverse
                      else torch.cat([h0.unsqueeze(0), out[:-1]]))
            inputs_and_states_t = torch.cat([x.reshape(T * B, D).t(),
                                             h_prev.view(T * B, H).t()])   # (D + H, T*B)
            d_weights = matmul_nt(inputs_and_states_t, d_rows.t()).t()   # (4H, D + H)
            d_weight_ih, d_weight_hh = d_weights[:, :D], d_weights[:, D:]
        d_bias = d_rows.sum(0) if ctx.has_bias and need[5] else None
        return dx, dh_rec, dc, d_weight_ih, d_weight_hh, d_bias, None


def fused_lstm_layer(x: Tensor, h0: Tensor, c0: Tensor, weight_ih: Tensor, weight_hh: Tensor,
                     bias: Tensor | None, reverse: bool = False) -> tuple[Tensor, Tensor, Tensor]:
    """One LSTM layer and direction over a padded batch, as one autograd node.

    ``x`` (T, B, D), ``h0`` and ``c0`` (B, H), ``weight_ih`` (4H, D), ``weight_hh`` (4H, H),
    ``bias`` (4H,) the sum ``b_ih + b_hh`` or None; ``reverse`` runs from t = T-1 down to 0.
    Returns ``out`` (T, B, H) with h_t at row t, and the final ``h_n``, ``c_n`` (B, H): the
    states after the last step run (t = T-1, or t = 0 in reverse). Differentiable once.
    """
    return _FusedLSTMLayer.apply(x, h0, c0, weight_ih, weight_hh, bias, reverse)
