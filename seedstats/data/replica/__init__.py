"""The calibrated synthetic replica of the 2,100-trial release (Dodge et al. 2020, Section 3).

- :mod:`~seedstats.data.replica.model`: the generative model and its calibrated parameters;
- :mod:`~seedstats.data.replica.cache`: the on-disk cache every command loads it from.

Writing it in the release's or the authors' raw-log layout is :func:`seedstats.data.export`.
"""

from seedstats.data.replica.cache import replica_path
from seedstats.data.replica.model import (
                                          CLASS_COUNTS,
                                          PARAMS,
                                          REPLICA_VERSION,
                                          ROOT_SEED,
                                          ReplicaParams,
                                          build_replica,
                                          confusion_metrics,
                                          simulate_task,
                                          trial_records,
)

__all__ = ["REPLICA_VERSION", "ROOT_SEED", "CLASS_COUNTS", "ReplicaParams", "PARAMS",
           "confusion_metrics", "simulate_task", "trial_records", "build_replica", "replica_path"]
