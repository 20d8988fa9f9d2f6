"""`import lanepool` stays cheap at a cold start: it loads no module that only types need (they
come on first use), and those names still work as before."""

from __future__ import annotations

import subprocess
import sys

import pytest

import lanepool

# Modules `import lanepool` used to load for type names only (most of its import time), and
# the asyncio driver's (loaded with the first `async def` handler).
HEAVY = ("typing", "collections.abc", "re", "asyncio", "lanepool._options", "lanepool._aio")


@pytest.mark.skipif(
    sys.version_info < (3, 11), reason="3.10's ExceptionGroup backport (exceptiongroup) imports typing"
)
def test_import_lanepool_loads_no_module_only_types_need():
    code = (
        "import sys; before = set(sys.modules); import lanepool; "
        f"print(sorted(m for m in {HEAVY!r} if m in sys.modules and m not in before))"
    )
    # Only what `import lanepool` itself loads counts (a sitecustomize may load others first).
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]", out.stdout + out.stderr


def test_the_type_names_are_there_on_first_use():
    from lanepool import LambdaContext, _options

    assert lanepool.BatchOptions is _options.BatchOptions
    assert lanepool.ItemIdentifier is _options.ItemIdentifier
    assert lanepool.KafkaItemIdentifier is _options.KafkaItemIdentifier
    assert LambdaContext is _options.LambdaContext
    assert "Mapping" in repr(lanepool.Event)
    assert "Awaitable" in repr(lanepool.Handler)
    assert {"BatchOptions", "LambdaContext", "Event", "Handler", "Pool"} <= set(dir(lanepool))
    assert set(lanepool.__all__) <= set(dir(lanepool))


def test_an_unknown_name_is_an_attribute_error():
    assert not hasattr(lanepool, "NoSuchName")
    try:
        from lanepool import NoSuchName  # type: ignore[attr-defined]  # noqa: F401
    except ImportError as exc:
        assert "NoSuchName" in str(exc)
    else:  # pragma: no cover
        raise AssertionError("imported a name lanepool does not have")
