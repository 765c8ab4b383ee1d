"""``python -m workbench.testing``: run a judge server in the foreground (see :func:`main`)."""

from __future__ import annotations

from ._cli import main

if __name__ == "__main__":
    main()
