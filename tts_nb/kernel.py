"""Are we inside a Jupyter kernel? Decides between widgets/HTML and plain text.

Kept apart from the widget modules so that asking costs no ipywidgets import.
"""

from __future__ import annotations

import sys


def in_kernel() -> bool:
    """True inside a Jupyter kernel, where widgets and HTML render; False in terminals/tests."""
    if "ipykernel" not in sys.modules:
        return False
    from IPython import get_ipython

    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None
