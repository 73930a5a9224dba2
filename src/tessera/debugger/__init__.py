"""The token debugger: jwt.io's job on your own machine, with verification, lint and a timeline.

``create_app()`` is a Starlette app (the ``server`` extra); ``tessera debugger`` runs it on a
free local port, and the authorization server mounts it at ``/debugger``. Importing this
package stays cheap: Starlette loads only when ``create_app`` is first used.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from tessera._install import install_hint

if TYPE_CHECKING:
    from tessera.debugger._app import create_app

__all__ = ["create_app"]


def __getattr__(name: str) -> Any:
    if name == "create_app":
        try:
            from tessera.debugger._app import create_app
        except ModuleNotFoundError as exc:  # pragma: no cover - depends on installed extras
            raise ImportError(
                f"the debugger needs the server extra: {install_hint('server')} ({exc})"
            ) from exc
        return create_app
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
