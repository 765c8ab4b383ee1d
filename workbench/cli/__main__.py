"""``python -m workbench.cli``: the ``workbench`` command."""

from . import main

raise SystemExit(main())
