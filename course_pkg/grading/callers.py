"""How a graded part calls the student's functions: the only grading code that runs in the jail.

A :class:`~course_pkg.grading.part.FunctionSpec` names one of the callers below
(``caller = "positional"``) and its options (``caller_options``). The caller gets the student's
functions (in the order the part was given them), the case's inputs (numpy arrays built by the
judge) and the case's parameters, makes the call under ``integrity.armed()``, and returns what
came back; the judge compares that with the reference.

This module must never hold a right answer: no reference implementation, no stand-in, no
expected value. It is the half of grading that is shipped into the jail
(:mod:`~course_pkg.grading.instructor.jail`), where a student's code can read it. In the
student's own kernel (their JupyterLab) the same callers run in the forked child of
:mod:`~course_pkg.grading.sandbox`.
"""

from __future__ import annotations

import copy
from typing import Any, Callable, Sequence

import numpy as np

from course_pkg.grading import integrity

Functions = Sequence[Callable[..., Any]]


def _torch():
    import torch  # imported on use: the numpy assignments never pay for it

    return torch


def positional(functions: Functions, inputs: dict[str, Any], params: dict[str, Any], *,
               names: Sequence[str]) -> Any:
    """``graded(*inputs[names])``: the last function, with the named inputs in order."""
    with integrity.armed():
        return functions[-1](*(inputs[n] for n in names))


def forward_then_backward(functions: Functions, inputs: dict[str, Any], params: dict[str, Any],
                          *, forward_names: Sequence[str], returns: Sequence[str],
                          backward_names: Sequence[str]) -> dict[str, Any]:
    """The student's forward on the case, then their backward on its cache.

    ``returns`` names what the forward returns (the cache is the one named ``"cache"``);
    ``backward_names`` are the backward's arguments, ``"cache"`` among them. The forward's
    outputs (the first also as ``"forward"``) and its cache come back too, so the judge can say
    when the forward is what is wrong. When the judge sends a cache itself (``inputs["cache"]``: the student's layout
    holding the reference forward's values, see :mod:`~course_pkg.grading.reference_cache`),
    the forward is not run and the backward gets that cache.
    """
    forward, backward = functions
    if "cache" in inputs:
        outputs, cache = {}, inputs["cache"]
    else:
        result = forward(*(inputs[n] for n in forward_names))
        if not isinstance(result, (tuple, list)) or len(result) != len(returns):
            raise TypeError(f"your forward does not return ({', '.join(returns)}) yet: "
                            "fix it first")
        outputs = dict(zip(returns, result))
        cache = outputs.pop("cache")
    try:  # as the forward built it, before the backward can change it
        kept = copy.deepcopy(cache)
    except Exception:  # noqa: BLE001 (a cache that cannot be copied is simply not sent back)
        kept = None
    with integrity.armed():
        gradients = backward(*(cache if n == "cache" else inputs[n] for n in backward_names))
    return {"gradients": gradients, "forward": outputs.get(returns[0]), "outputs": outputs,
            "cache": kept}


# Test functions of the gradient check (with large curvature, so that a one-sided difference
# falls outside the tolerance while a centred one stays far inside it).
_MATRIX = np.array([[0.5, -0.7, 0.2], [0.3, 0.4, -0.6], [-0.4, 0.1, 0.7], [0.3, -0.2, 0.5]])


def vector_test_function(w: np.ndarray) -> np.ndarray:
    """f(w) = exp(3 M w)[:4] + w_0^3, a vector of 4 values."""
    return np.exp(3 * (_MATRIX @ w.reshape(3, -1))).ravel()[:4] + w.ravel()[0] ** 3


def scalar_test_function(w: np.ndarray) -> float:
    """f(w) = sum(exp(3 w)) + w_0 sum(w^3), a number."""
    return float(np.sum(np.exp(3 * w)) + np.sum(w ** 3) * w.ravel()[0])


def gradient_test_function(params: dict[str, Any]) -> Callable[[np.ndarray], Any]:
    return vector_test_function if params["upstream"] else scalar_test_function


def numerical_gradient(functions: Functions, inputs: dict[str, Any], params: dict[str, Any]
                       ) -> dict[str, Any]:
    """``numerical_gradient(f, array, df)``, and whether ``array`` was put back afterwards."""
    array = inputs["array"]
    before = array.copy()
    with integrity.armed():
        gradient = functions[-1](gradient_test_function(params), array, inputs.get("df"))
    restored = bool(array.shape == before.shape and (array == before).all())
    return {"gradient": gradient, "restored": restored}


def torch_positional(functions: Functions, inputs: dict[str, Any], params: dict[str, Any], *,
                     names: Sequence[str], constants: Sequence[str] = (),
                     gru_cell: bool = False) -> Any:
    """The last function, with the named inputs as torch tensors (``constants`` as they are).

    ``gru_cell``: the input ``cell`` is the case's seeded float64 ``torch.nn.GRUCell``
    (:func:`decoder_cell`), built here because a module is not data.
    """
    torch = _torch()
    if gru_cell:
        inputs = dict(inputs, cell=decoder_cell(params))
    args = [inputs[n] if n in constants else torch.from_numpy(inputs[n]) for n in names]
    with integrity.armed():
        return functions[-1](*args)


def decoder_cell(params: dict[str, Any]):
    """The seeded float64 GRUCell of a decoder-step case (the judge builds the same one)."""
    torch = _torch()
    torch.manual_seed(params["seed"])
    return torch.nn.GRUCell(params["E"] + params["H"], params["H"]).double()


def gradient_parameters(grads: Sequence[np.ndarray | None], dtype: Any) -> list:
    """Leaf tensors of the grads' shapes whose ``.grad`` holds them (None stays None)."""
    torch = _torch()
    parameters = []
    for grad in grads:
        shape = grad.shape if grad is not None else (3,)
        p = torch.zeros(shape, dtype=dtype, requires_grad=True)
        p.grad = None if grad is None else torch.tensor(grad, dtype=dtype)
        parameters.append(p)
    return parameters


def torch_dtype(params: dict[str, Any]):
    return getattr(_torch(), params.get("dtype", "float64"))


def clip_grad_norm(functions: Functions, inputs: dict[str, Any], params: dict[str, Any]
                   ) -> dict[str, Any]:
    """``clip_grad_norm(parameters, max_norm)``; the clipped ``.grad`` of each comes back."""
    parameters = gradient_parameters(inputs["grads"], torch_dtype(params))
    with integrity.armed():
        total = functions[-1](parameters, inputs["max_norm"])
    return {"total_norm": total, "gradients": [p.grad for p in parameters]}


def sample_next(functions: Functions, inputs: dict[str, Any], params: dict[str, Any]) -> Any:
    """``sample_next(logits, temperature, top_k, generator)`` with a seeded generator."""
    torch = _torch()
    torch.manual_seed(params["seed"])
    generator = torch.Generator().manual_seed(params["seed"])
    temperature = 0.0 if params["greedy"] else params["temperature"]
    with integrity.armed():
        return functions[-1](torch.from_numpy(inputs["logits"]), temperature, params["top_k"],
                             generator)


def char_lm_model_and_optimizer(params: dict[str, Any]):
    """A small seeded CharLM, its SGD optimizer, and stale gradients left in every .grad."""
    torch = _torch()
    from course_pkg.models.char_lm import CharLM

    torch.manual_seed(params["seed"])
    model = CharLM(params["V"], embedding_dim=4, hidden_size=6)
    for p in model.parameters():
        p.grad = torch.full_like(p, 0.5)  # a train_step must clear these first
    optimizer = torch.optim.SGD(model.parameters(), lr=params["lr"])
    return model, optimizer


def flat_parameters(model) -> np.ndarray:
    return np.concatenate([p.detach().double().numpy().ravel() for p in model.parameters()])


def train_step(functions: Functions, inputs: dict[str, Any], params: dict[str, Any]
               ) -> dict[str, Any]:
    """``train_step(model, inputs, targets, optimizer, max_norm)`` on a fresh seeded model;
    the model's parameters after the step come back."""
    torch = _torch()
    model, optimizer = char_lm_model_and_optimizer(params)
    ids, targets = torch.from_numpy(inputs["inputs"]), torch.from_numpy(inputs["targets"])
    with integrity.armed():
        result = functions[-1](model, ids, targets, optimizer, params["max_norm"])
    return {"result": result, "parameters": flat_parameters(model)}


def warm_up() -> None:
    """Run torch's lazy first-use work (``torch._dynamo``, imported by the first optimizer
    step; oneDNN's float32 kernels) once, before the calls are forked: otherwise every forked
    call pays for it again, seconds on a busy machine, against a 5 s limit. Nothing the
    student wrote runs here; without torch loaded it does nothing."""
    import sys

    if "torch" not in sys.modules:
        return
    torch = _torch()
    import torch._dynamo  # noqa: F401

    weight = torch.zeros(3, 2, requires_grad=True)
    loss = (torch.ones(4, 2) @ weight.T).tanh().sum()
    loss.backward()
    torch.optim.SGD([weight], lr=0.1).step()
    with torch.no_grad():
        torch.nn.LSTMCell(2, 3)(torch.zeros(1, 2))
        torch.nn.GRUCell(2, 3).double()(torch.zeros(1, 2, dtype=torch.float64))


CALLERS: dict[str, Callable[..., Any]] = {
    "positional": positional,
    "forward_then_backward": forward_then_backward,
    "numerical_gradient": numerical_gradient,
    "torch_positional": torch_positional,
    "clip_grad_norm": clip_grad_norm,
    "sample_next": sample_next,
    "train_step": train_step,
}


def call(name: str, functions: Functions, inputs: dict[str, Any], params: dict[str, Any],
         options: dict[str, Any]) -> Any:
    """Run the caller ``name`` (a key of :data:`CALLERS`) with its ``options``."""
    if name not in CALLERS:
        raise ValueError(f"caller: expected one of {sorted(CALLERS)}, got {name!r}")
    return CALLERS[name](functions, inputs, params, **options)
