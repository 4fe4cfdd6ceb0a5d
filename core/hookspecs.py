"""Every hook spec of xueshi (placeholder: being written)."""

import pluggy

hookspec = pluggy.HookspecMarker("xueshi")
hookimpl = pluggy.HookimplMarker("xueshi")
