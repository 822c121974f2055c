"""The paper's figures (and ours), built from a dataset by name.

:mod:`seedstats.figures.registry` holds ``FIGURES`` (name -> figure with ``.paper_ref``,
``.title``, ``.caption`` and ``.build(ds) -> matplotlib.figure.Figure``) and
:func:`~seedstats.figures.registry.make_all`, which the ``seedstats figures`` command, the
tests and the README regeneration use. Builders live in :mod:`~seedstats.figures.paper`
(Figures 1-9 of Dodge et al. 2020) and :mod:`~seedstats.figures.ours` (beyond the paper);
they ask :mod:`seedstats.stats` and :mod:`seedstats.earlystop` for the numbers and draw them
with :mod:`seedstats.plots`. Importing this package imports nothing heavy.
"""

__all__: list[str] = []
