"""The experiments the chapters run and print, one module per chapter topic.

Each module trains small models with fixed seeds and returns plain records (dataclasses) that a
chapter prints as a table or plots. Import a module by its path, e.g.
``from course_pkg.experiments.bidirectional import train_tagger``.
"""
