"""pluggy's markers of the project ``xueshi``: ``hookspec`` for the core's specs, ``hookimpl`` for
implementations (plugins take it from ``core``)."""

from __future__ import annotations

import pluggy

hookspec = pluggy.HookspecMarker("xueshi")
hookimpl = pluggy.HookimplMarker("xueshi")
