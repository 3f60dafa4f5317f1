"""The dbt manifest the definitions are built from: replaced whole, never written in place.

Every process that loads the definitions reads ``dbt_project/target/manifest.json``
(the CLI, the code server, each run): one of them rewriting it in place lets another
read half of it.
"""

from __future__ import annotations

import pytest

from ads_platform.assets.marts import prepare_manifest


def test_loading_the_definitions_under_dagster_dev_leaves_a_fresh_manifest_untouched(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    manifest = prepare_manifest()
    before = manifest.stat()
    monkeypatch.setenv("DAGSTER_IS_DEV_CLI", "1")  # what `dagster dev` sets for its servers
    assert prepare_manifest() == manifest
    after = manifest.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)
