"""Small models the chapters train: baselines and networks built from the package's layers.

- :mod:`.bag_of_words`  an order-blind baseline (token counts -> perceptron), chapter 1
- :mod:`.elman`         the Elman network: `course_pkg.nn.RNN` plus ``y_t = W_hy h_t + b_y``,
  many-to-many or many-to-one, chapter 2
"""

from course_pkg.models.bag_of_words import BagOfWords, token_counts
from course_pkg.models.elman import ElmanNetwork

__all__ = ["BagOfWords", "token_counts", "ElmanNetwork"]
