"""Gradients of recurrent networks, computed and studied (chapters 3 and 4).

- :mod:`.elman_bptt`      backpropagation through time for an Elman network with a loss at every
  step, checked against autograd and finite differences; which input receives gradient from
  which loss term
- :mod:`.truncated_bptt`  truncated BPTT(k, k) in numpy
- :mod:`.flow`            how the gradient shrinks or grows with distance in time: products of
  Jacobians and measured gradient norms
- :mod:`.error_surface`   the one-unit network of Pascanu, Mikolov & Bengio (2013), its loss
  surface and the wall in it
- :mod:`.clipping_runs`   a training run whose gradients explode, with and without clipping
"""
