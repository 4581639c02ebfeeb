"""The class of students shared by the pipeline, Dask, PostgreSQL and hub tests.

Their submissions to the course's first three assignments (``rnn_bptt``, ``gated_cells``,
``char_lm``), as ``course_builder.make_submission`` options: the reference solution, the
untouched release, typical mistakes, integrity attacks and faults; with the score each must
earn and the messages its feedback must show. tests/test_grading_pipeline_rnn_gated_lm.py grades
them all; tests/test_grading_pipeline_dask.py and tests/test_grading_pipeline_postgres.py grade
some of the rnn_bptt ones; tests/test_hub.py types two of them into a browser.
"""

from __future__ import annotations

from course_builder import append, replace

A1, A2, A3 = "rnn_bptt", "gated_cells", "char_lm"

LOOP_IGNORING_SIGINT = """
import signal
def numerical_gradient(f, array, df=None, h=1e-6):
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    while True:
        try:
            pass
        except BaseException:
            pass
"""

SUBMISSIONS = {
    # ---- assignment 1: the vanilla RNN ----------------------------------------------------
    (A1, "solution"): dict(),
    (A1, "untouched"): dict(solutions=False),
    (A1, "missing_bias"): dict(edits={"rnn_step_forward": replace(
        "+ h_prev @ weight_hh.T + bias_hh", "+ h_prev @ weight_hh.T")}),
    (A1, "off_by_one"): dict(edits={"rnn_forward": replace(
        "        h, step_cache = rnn_step_forward(x[t], h, weight_ih, weight_hh, bias_ih, bias_hh)\n"
        "        out[t] = h",
        "        out[t] = h\n"
        "        h, step_cache = rnn_step_forward(x[t], h, weight_ih, weight_hh, bias_ih, bias_hh)")}),
    (A1, "wrong_axis"): dict(edits={"rnn_step_backward": replace(
        "dbias = delta.sum(axis=0)", "dbias = delta.sum(axis=1)")}),
    (A1, "dout_only"): dict(edits={"rnn_backward": replace(
        "rnn_step_backward(dout[t] + dh_next,", "rnn_step_backward(dout[t],")}),
    (A1, "one_sided"): dict(edits={"numerical_gradient": replace(
        "gradient[k] = (up - down) / (2 * h)", "gradient[k] = (up - loss()) / h")}),
    (A1, "delegation"): dict(edits={"numerical_gradient": lambda source: (
        "import importlib\n"
        "def numerical_gradient(f, array, df=None, h=1e-6):\n"
        "    module = importlib.import_module('course_pkg.numpy_' + 'rnn')\n"
        "    return getattr(module, 'numerical_' + 'gradient')(f, array, df, h)\n")}),
    (A1, "tampering"): dict(
        solutions=False, edits={"numerical_gradient": lambda source: source},
        prepend=("import course_pkg.grading.report as report\n"
                 "report.Report.score = lambda self: self.points\n"
                 "get_ipython().ast_node_interactivity = 'none'\n"),
        test_edits={"test_rnn_step_forward": "print('all tests passed')"},
        delete=("test_rnn_step_backward",)),
    (A1, "faults"): dict(edits={
        "numerical_gradient": lambda source: LOOP_IGNORING_SIGINT,
        "rnn_backward": append("import os\n"
                               "def rnn_backward(dout, dh_n, cache):\n    os._exit(3)\n"),
    }),
    (A1, "top_level"): dict(edits={
        "rnn_forward": append("import os\nos._exit(0)"),
        "numerical_gradient": append("import signal\nsignal.signal(signal.SIGINT, "
                                     "signal.SIG_IGN)\nwhile True:\n    pass"),
    }),
    (A1, "not_json"): dict(raw='{"cells": [{"cell_type": "code",, ]'),
    # issue 13's "bob": rnn_backward never returns (and ignores SIGINT); the not-graded
    # self-check cell below the tests calls it, and must skip that call while grading
    (A1, "self_check_hang"): dict(edits={"rnn_backward": append(
        LOOP_IGNORING_SIGINT.replace("numerical_gradient(f, array, df=None, h=1e-6)",
                                     "rnn_backward(dout, dh_n, cache)"))}),
    # ---- assignment 2: LSTM and GRU cells -------------------------------------------------
    (A2, "solution"): dict(),
    (A2, "untouched"): dict(solutions=False),
    (A2, "gate_mistakes"): dict(edits={
        "lstm_step_forward": replace(
            "g = np.tanh(a[:, 2 * H:3 * H])\n    o = sigmoid(a[:, 3 * H:])",
            "o = sigmoid(a[:, 2 * H:3 * H])\n    g = np.tanh(a[:, 3 * H:])"),
        "gru_step_forward": replace("h_t = (1.0 - z) * n + z * h_prev",
                                    "h_t = z * n + (1.0 - z) * h_prev"),
    }),
    (A2, "torch_cell"): dict(edits={"lstm_step_forward": replace(
        "    c_t = f * c_prev + i * g\n    squashed = np.tanh(c_t)\n    h_t = o * squashed\n",
        "    import torch\n"
        "    cell = torch.nn.LSTMCell(x_t.shape[1], H).to(torch.from_numpy(x_t).dtype)\n"
        "    with torch.no_grad():\n"
        "        cell.weight_ih.copy_(torch.from_numpy(weight_ih))\n"
        "        cell.weight_hh.copy_(torch.from_numpy(weight_hh))\n"
        "        cell.bias_ih.copy_(torch.from_numpy(bias_ih))\n"
        "        cell.bias_hh.copy_(torch.from_numpy(bias_hh))\n"
        "        h, c = cell(torch.from_numpy(x_t), (torch.from_numpy(h_prev),"
        " torch.from_numpy(c_prev)))\n"
        "    h_t, c_t = h.numpy(), c.numpy()\n"
        "    squashed = np.tanh(c_t)\n")}),
    (A2, "faults"): dict(edits={
        "lstm_step_forward": replace("    return h_t, c_t, cache",
                                     "    print('x' * 3_000_000)\n    return h_t, c_t, cache"),
        "lstm_step_backward": replace("    x_t, h_prev, c_prev,",
                                      "    hog = np.ones((1 << 38,))\n    x_t, h_prev, c_prev,"),
        "gru_step_backward": replace("    x_t, h_prev, weight_ih,",
                                     "    import sys\n    sys.exit(2)\n    x_t, h_prev, weight_ih,"),
    }),
    (A2, "numpy_patched"): dict(
        solutions=False, edits={"gru_step_forward": lambda source: source},
        prepend="import numpy\nnumpy.allclose = lambda *args, **kwargs: True\n"),
    # ---- assignment 3: a character language model ----------------------------------------
    (A3, "solution"): dict(),
    (A3, "untouched"): dict(solutions=False),
    (A3, "mistakes"): dict(edits={
        "clip_grad_norm": lambda source: (
            "def clip_grad_norm(parameters, max_norm):\n"
            "    total = 0.0\n"
            "    for p in parameters:\n"
            "        if p.grad is None:\n"
            "            continue\n"
            "        norm = float(p.grad.norm())\n"
            "        total += norm * norm\n"
            "        p.grad.mul_(min(1.0, max_norm / (norm + 1e-6)))\n"
            "    return math.sqrt(total)\n"),
        "sample_next": replace("scaled = logits / temperature", "scaled = logits * temperature"),
        "perplexity": replace("return math.exp(-float(picked.mean()))",
                              "return 2 ** (-float(picked.mean()))"),
    }),
    (A3, "torch_clip"): dict(edits={
        "clip_grad_norm": lambda source: (
            "def clip_grad_norm(parameters, max_norm):\n"
            "    return torch.nn.utils.clip_grad_norm_(parameters, max_norm)\n"),
    }),
}

EXPECTED_SCORES = {
    (A1, "solution"): 12.0, (A1, "untouched"): 0.0,
    # rnn_step_forward keeps only its "returns" checks (0.75 of 2); rnn_step_backward, right
    # on the student's cache layout filled with the reference forward's values, keeps 3 of 3
    (A1, "missing_bias"): 12 - 2 + 0.75,
    (A1, "off_by_one"): 12 - 2 + 1.05,      # rnn_forward: h_n and the structure right, out wrong
    (A1, "wrong_axis"): 12 - 3 + 2.17,      # rnn_step_backward: dbias_ih, dbias_hh wrong shape
    (A1, "one_sided"): 12 - 2 + 1.0,        # numerical_gradient: gradient wrong in every case
    (A1, "dout_only"): 12 - 3 + 0.43,       # rnn_backward: the classic rnn_step_backward(dout[t])
    (A1, "delegation"): 10.0, (A1, "tampering"): 2.0,
    (A1, "faults"): 12 - 2 - 3,  # numerical_gradient hangs, rnn_backward calls os._exit
    (A1, "top_level"): 12.0,
    (A1, "self_check_hang"): 12 - 3,  # rnn_backward hangs: its part only
    (A1, "not_json"): 0.0,
    (A2, "solution"): 14.0, (A2, "untouched"): 0.0,
    # lstm_step_forward keeps its "returns" checks (0.69 of 3); lstm_step_backward is right on
    # its cache layout filled with the reference's gates (4 of 4); gru_step_forward keeps 0.86
    # of 3, and gru_step_backward is right (the GRU's cache holds the right gates)
    (A2, "gate_mistakes"): 14 - 3 + 0.69 - 3 + 0.86,
    # numpy_patched: patching numpy.allclose in the jail changes nothing the judge computes, so
    # its one answer (gru_step_forward, correct) earns its 3 points and the patch nothing
    (A2, "torch_cell"): 11.0, (A2, "faults"): 6.0, (A2, "numpy_patched"): 3.0,
    (A3, "solution"): 11.0, (A3, "untouched"): 0.0,
    # clip_grad_norm 1.94 of 3 (right only below the threshold), sample_next 2.33 of 3 (right
    # at temperature 1 and greedy), perplexity 0.67 of 2 ("returns" only); train_step, which
    # calls the student's clip_grad_norm, is right once a correct one stands in: 3 of 3
    (A3, "mistakes"): 11 - 3 + 1.94 - 3 + 2.33 - 2 + 0.67,
    # clip_grad_norm delegates to torch, and train_step through it: both 0
    (A3, "torch_clip"): 11 - 3 - 3,
}

FEEDBACK_MESSAGES = {
    (A1, "missing_bias"): ["h_t equals the reference computed without bias_hh"],
    (A1, "off_by_one"): ["out[t] holds h_{t-1} (off by one in time)"],
    (A1, "wrong_axis"): ["dbias_ih: expected shape (6,) = (H,), got (3,) = (B,)"],
    (A1, "one_sided"): ["one-sided difference"],
    (A1, "dout_only"): ["both the gradient handed back by step t+1 and dh_n are dropped"],
    # the reference is not in the jail: importing it there is reported as delegation
    (A1, "delegation"): ["course_pkg.numpy_rnn (a reference implementation; hidden during "
                         "grading)", "no points for this part"],
    (A1, "faults"): ["did not return within 5 s", "exited with status 3"],
    (A1, "top_level"): ["KernelDied", "CellTimeout"],
    (A1, "self_check_hang"): ["rnn_backward: 0 / 3 points", "did not return within 5 s"],
    (A2, "gate_mistakes"): ["reads the gate blocks in the order i, f, o, g",
                            "z near 1 keeps the old state",
                            "the mistake is in your lstm_step_forward (graded in its own part)"],
    (A2, "torch_cell"): ["torch.nn.LSTMCell"],
    (A2, "faults"): ["ran out of memory", "called sys.exit(2)", "printed 3,000,001 characters"],
    (A3, "mistakes"): ["each tensor is clipped to max_norm on its own",
                       "softmax(logits * temperature)", "2 ** cross-entropy",
                       "right once correct stand-ins replace your clip_grad_norm"],
    (A3, "torch_clip"): ["torch.nn.utils.clip_grad.clip_grad_norm_ (through clip_grad_norm)"],
}
