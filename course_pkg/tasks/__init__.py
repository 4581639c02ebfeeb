"""The tasks the chapters train models on, one module per task: how its batches are drawn, its
loss, how a model's answers are scored, and the table a chapter prints.

The chapters assemble each experiment on the page from these parts, `course_pkg.models`,
`course_pkg.data` and `course_pkg.training.train`. A few modules also keep a thin recipe
(``train_*``, ``run_*``, ``compare_*``, ``fit_adding``) that repeats a chapter's experiment in one
call: the exercises call them to re-run it with other settings, the tests to check it; each
chapter's own experiment is written out on the page.

- :mod:`.adding`               the adding problem: loss, steps to a target, the final-MSE table,
  validation curves, marker gradients (chapters 5, 6, 16, 18)
- :mod:`.bat_tagging`          the "bat" sense-tagging task: batches, loss, accuracy, tables
  (chapter 7)
- :mod:`.char_lm`              character language modelling: nats and bits, the carried-state
  loss, the unigram baseline (chapters 8 and 15)
- :mod:`.char_lm_comparison`   an LSTM and a Mogrifier LSTM at equal size: matched width,
  validation bits, the gap against the seed spread (chapter 15)
- :mod:`.babi_qa`              bAbI-style questions: minibatches, losses and errors of the memory
  network and the story reader, hop attention, supporting-fact rates (chapter 12)
- :mod:`.ntm_copy`             the copy task of the neural Turing machine: batches, loss, bit
  errors (chapter 13)
- :mod:`.sorting`              sorting with a pointer network: batches, loss, accuracy per
  length, the mistakes it makes (chapter 11)
- :mod:`.reversal`             digit reversal with an encoder-decoder: batches, loss, greedy
  accuracy by length (chapter 10)
- :mod:`.transformer_reversal` the same reversal with a Transformer, and time against length
  (chapter 19)
- :mod:`.next_frame`           next-frame prediction on moving shapes: loss, predicted frames,
  MSE against copy-last-frame (chapter 14)
- :mod:`.cnn_front_ends`       a convolution in front of a recurrent network: tagging unseen
  names, remembering digit pictures, captioning a number (chapter 17)
- :mod:`.sunspots`             forecasting the sunspot numbers: baselines, one-step and
  recursive forecasts, errors by horizon (chapter 9)
"""
