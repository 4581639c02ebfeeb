"""course_pkg: the companion package of the open course on recurrent neural networks.

Every chapter of the book is backed by a reference implementation here:

- ``course_pkg.numpy_rnn``  numpy RNN/LSTM/GRU with hand-written backward passes
- ``course_pkg.nn``         PyTorch recurrent modules written from tensor operations
- ``course_pkg.batching``   padding, masks and packing of variable-length sequences
- ``course_pkg.widgets``    the interactive widgets the chapters show
- ``course_pkg.setup_notebook()``  the set-up call at the top of every chapter (threads, seeds, style)

Sub-modules are imported on demand, so ``import course_pkg`` stays cheap (no torch import).
"""

__version__ = "0.1.0"

from course_pkg.notebook_setup import setup_notebook  # noqa: E402  (imports neither torch nor numpy)

__all__ = ["setup_notebook", "__version__"]
