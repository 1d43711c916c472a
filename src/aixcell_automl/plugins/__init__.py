"""Plugin system (pluggy, namespace ``aixcell_automl``), in three layers:

* the API, what plugins and the core rely on (the lowest layer, beside ``core``):
  :mod:`.hookspecs` (the hooks), :mod:`.specs` (the records plugins return, and
  :class:`~.specs.SearchContext`, what a search strategy is given), :mod:`.kinds` (the table of
  kinds), :mod:`.manager` (the process-wide plugin manager) and :mod:`.registry` (name -> record);
* :mod:`.builtin`, the project's own plugins, registered through the same hooks;
* :mod:`.testing`, the conformance kit (``check_plugin``, ``plugin_manager_with``), which uses
  only the API (it swaps managers with :func:`.manager.set_plugin_manager`).
"""

import pluggy

hookimpl = pluggy.HookimplMarker("aixcell_automl")

__all__ = ["hookimpl"]
