"""``python -m wsone_async``: the ``wsone`` command."""

from wsone_async.cli import main

raise SystemExit(main())
