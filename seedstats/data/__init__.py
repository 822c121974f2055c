"""The data layer: every source converges on three normalized tables (README: "The normalized dataset").

The core (no module of it imports a format, the replica or :mod:`~seedstats.data.ingest`):

- :mod:`~seedstats.data.schema`: columns, dtypes, the paper's task metadata;
- :mod:`~seedstats.data.records`: per-trial records and :func:`build_tables`;
- :mod:`~seedstats.data.dataset`: :class:`Dataset` and its views (score grids, eval matrices);
- :mod:`~seedstats.data.store`: Parquet read/write and the atomic writers;
- :mod:`~seedstats.data.info`: what a dataset holds, per task.

Around it: :mod:`~seedstats.data.formats` (one module per source format),
:mod:`~seedstats.data.replica` (the synthetic replica), :mod:`~seedstats.data.ingest` (the one
module that names every format), :mod:`~seedstats.data.digitized` (the real ``dodge2020``
scores) and :mod:`~seedstats.data.embedded` (:func:`load`, by path or name).
"""

from seedstats.data.dataset import Dataset, eval_matrix, score_column, score_grid
from seedstats.data.embedded import EMBEDDED, load
from seedstats.data.formats.base import IngestOptions, ReadResult
from seedstats.data.info import summarize
from seedstats.data.ingest import (
    EXPORT_FORMATS,
    FORMATS,
    IngestReport,
    detect_format,
    export,
    ingest,
    merge,
)
from seedstats.data.records import Curve, TrialRecord, build_tables
from seedstats.data.schema import SCORES, TASKS, TaskInfo, task_info, trial_id

__all__ = [
    "load", "ingest", "merge", "export", "Dataset", "TASKS", "EMBEDDED",
    "FORMATS", "EXPORT_FORMATS", "IngestOptions", "IngestReport", "ReadResult", "detect_format",
    "Curve", "TrialRecord", "build_tables", "SCORES", "score_column", "score_grid",
    "eval_matrix", "summarize",
    "TaskInfo", "task_info", "trial_id",
]
