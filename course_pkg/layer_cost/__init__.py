"""What a layer costs: operations that must wait for the previous step, and measured seconds.

- :mod:`.sru_vs_lstm`              operations per step of an SRU and an LSTM layer, serial and
  parallel, and their forward + backward time (chapter 16)
- :mod:`.recurrence_vs_attention`  forward + backward time of a recurrent layer against a
  self-attention block as the sequence grows, and the length where they cross (chapter 18)
"""
