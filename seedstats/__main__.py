"""``python -m seedstats`` is the ``seedstats`` command."""

from seedstats.cli import main

raise SystemExit(main())
