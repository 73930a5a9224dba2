"""``python -m tessera.debugger``: the debugger page on a free local port."""

from tessera.debugger._cli import main

raise SystemExit(main())
