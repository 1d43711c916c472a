"""The plugin API's layers: SearchContext is part of the API (re-exported by search.run), the
manager swaps the process-wide manager through a public function, unknown names are user
errors that are still KeyErrors, and the conformance kit raises even without asserts."""

import pytest

from aixcell_automl.core.errors import UserError
from aixcell_automl.plugins import manager, registry, specs


def test_search_context_lives_in_the_api_and_search_run_reexports_it():
    from aixcell_automl.search import run

    assert run.SearchContext is specs.SearchContext
    assert specs.SearchContext.__module__ == "aixcell_automl.plugins.specs"


def test_set_plugin_manager_swaps_and_restores():
    current = manager.get_plugin_manager()
    fresh = manager.new_manager()
    assert manager.set_plugin_manager(fresh) is current
    try:
        assert manager.get_plugin_manager() is fresh
    finally:
        assert manager.set_plugin_manager(current) is fresh
    assert manager.get_plugin_manager() is current


def test_unknown_names_are_user_errors_and_key_errors():
    for call in (lambda: registry.get("metric", "f2"), lambda: registry.specs("gadget")):
        with pytest.raises(UserError) as err:
            call()
        assert isinstance(err.value, KeyError)
        assert not str(err.value).startswith(('"', "'"))  # the message as written


def test_conformance_failures_are_assertion_errors_not_asserts():
    from aixcell_automl.plugins.testing import ConformanceError, check_plugin

    assert issubclass(ConformanceError, AssertionError)
    with pytest.raises(ConformanceError, match="implements none of the aixcell_automl hooks"):
        check_plugin(object())


def test_search_space_errors_are_user_errors():
    from aixcell_automl.core.search_space import build_space

    with pytest.raises(UserError, match="has no values"):
        build_space({"patch_size": []}, with_plugins=False)
    with pytest.raises(UserError, match="not registered"):
        build_space({"backbone": ["resnet9000"]}, with_plugins=False)


def test_library_versions_sit_beside_hardware_and_stay_importable_from_the_store():
    from aixcell_automl.metabase import store
    from aixcell_automl.training import hardware

    assert store.library_versions is hardware.library_versions
    assert set(hardware.library_versions()) >= {"numpy", "python"}
