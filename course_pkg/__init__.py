"""course_pkg: the companion package of the open course on recurrent neural networks.

Every chapter of the book is backed by a reference implementation here. Sub-packages:

- ``course_pkg.numpy_rnn``    numpy RNN/LSTM/GRU with hand-written backward passes
- ``course_pkg.nn``           PyTorch modules written from tensor operations (recurrent cells and
  layers drop-in for ``torch.nn``, attention, ConvLSTM, Mogrifier, SRU, Transformer layers)
- ``course_pkg.models``       the small models the chapters train, one module each
- ``course_pkg.data``         the data sets and batch generators, all made offline
- ``course_pkg.tasks``        per task the chapters train on: its batches, loss, scores and table
  (the chapters assemble their experiments from these parts on the page)
- ``course_pkg.gradients``    BPTT checked against autograd, gradient flow, the error surface,
  clipping runs (chapters 3 and 4)
- ``course_pkg.layer_cost``   serial operations and measured time of recurrent and attention layers
- ``course_pkg.widgets``      the interactive widgets the chapters show
- ``course_pkg.grading``      the assignments' checks; ``grading.instructor``: the jailed runner

Modules:

- ``course_pkg.training``     ``train`` (one loop for every model), ``History``, ``evaluate``,
  ``evaluating``, ``BestWeights``, minibatch helpers
- ``course_pkg.clipping``     gradient clipping by global norm and element-wise
- ``course_pkg.batching``     padding, masks and packing of variable-length sequences
- ``course_pkg.sampling``     temperature and top-k sampling, generation loops, beam search
- ``course_pkg.timing``       models timed side by side, in shuffled turns
- ``course_pkg.gate_traces``  every gate value of an LSTM or GRU layer at every step
- ``course_pkg.validation``   the argument checks behind every error message
- ``course_pkg.lab_includes`` the code of a chapter's ``literalinclude`` shown in JupyterLab
- ``course_pkg.setup_notebook()``  the set-up call at the top of every chapter (threads, seeds,
  style)

Sub-modules are imported on demand, so ``import course_pkg`` stays cheap (no torch import).
"""

__version__ = "0.1.0"

from course_pkg.notebook_setup import setup_notebook  # noqa: E402  (imports neither torch nor numpy)

__all__ = ["setup_notebook", "__version__"]
