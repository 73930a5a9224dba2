"""How to install an extra, for the messages of commands and imports that need one.

``tessera-jwt`` is not published on PyPI yet: the extras install from a clone of the
repository (``pip install '.[server]'``). This is the one place to change the hints when a
release exists: ``pip install 'tessera-jwt[server]'`` then.
"""

from __future__ import annotations

__all__ = ["install_hint"]


def install_hint(*extras: str) -> str:
    """The command that installs ``extras`` (``"server"``, ``"fastapi"``...)."""
    wanted = ",".join(extras)
    return f"pip install '.[{wanted}]' in a clone of Tessera (tessera-jwt is not on PyPI yet)"
