"""The source formats seedstats reads (and writes): one module per format.

Every reader implements the protocol of :mod:`seedstats.data.formats.base`;
:mod:`seedstats.data.ingest` is the one module that names them all.
"""
