"""pool.scope() and pool.map(): results, nesting, ExceptionGroups."""

from __future__ import annotations

import threading
import time

import pytest

import lanepool

pool = lanepool.Pool(workers=4)


def test_spawn_args_kwargs_and_results():
    with pool.scope() as s:
        a = s.spawn(lambda x, y=0: x + y, 1, y=2)
        b = s.spawn(pow, 2, 10)
        c = s.spawn(dict, k=1)
    assert (a.result(), b.result(), c.result()) == (3, 1024, {"k": 1})
    assert a.done() and a.exception() is None


def test_scope_waits_for_every_task_including_nested():
    done = []
    lock = threading.Lock()

    def leaf(i):
        time.sleep(0.02)
        with lock:
            done.append(i)

    def parent(s, i):
        time.sleep(0.01)
        for j in range(3):
            s.spawn(leaf, (i, j))

    with pool.scope() as s:
        for i in range(4):
            s.spawn(parent, s, i)
    assert sorted(done) == [(i, j) for i in range(4) for j in range(3)]


def test_tasks_run_concurrently_up_to_workers():
    lock = threading.Lock()
    state = {"now": 0, "peak": 0}

    def task():
        with lock:
            state["now"] += 1
            state["peak"] = max(state["peak"], state["now"])
        time.sleep(0.05)
        with lock:
            state["now"] -= 1

    t0 = time.monotonic()
    with pool.scope() as s:
        for _ in range(8):
            s.spawn(task)
    elapsed = time.monotonic() - t0
    assert state["peak"] <= pool.workers
    assert state["peak"] >= 2
    assert elapsed < 0.35


def test_scope_exception_group_after_all_tasks_finished():
    finished = []

    def slow():
        time.sleep(0.1)
        finished.append("slow")

    def bad(i):
        raise ValueError(i)

    with pytest.raises(lanepool.ExceptionGroup) as info:
        with pool.scope() as s:
            s.spawn(slow)
            t1 = s.spawn(bad, 1)
            s.spawn(bad, 2)
    assert finished == ["slow"]
    group = info.value
    assert isinstance(group, Exception)
    assert sorted(e.args[0] for e in group.exceptions) == [1, 2]
    with pytest.raises(ValueError):
        t1.result()
    assert isinstance(t1.exception(), ValueError)


def test_scope_base_exception_group():
    with pytest.raises(lanepool.BaseExceptionGroup) as info:
        with pool.scope() as s:
            s.spawn(lambda: (_ for _ in ()).throw(KeyboardInterrupt()))
            s.spawn(lambda: 1 / 0)
    group = info.value
    assert not isinstance(group, Exception)
    assert {type(e) for e in group.exceptions} == {KeyboardInterrupt, ZeroDivisionError}


def test_exception_group_is_the_builtin_on_311():
    import sys

    if sys.version_info >= (3, 11):
        assert lanepool.ExceptionGroup is ExceptionGroup  # noqa: F821
        assert lanepool.BaseExceptionGroup is BaseExceptionGroup  # noqa: F821


def test_body_exception_waits_for_tasks_and_propagates():
    finished = []
    with pytest.raises(RuntimeError, match="body"):
        with pool.scope() as s:
            s.spawn(lambda: (time.sleep(0.05), finished.append(1)))
            raise RuntimeError("body")
    assert finished == [1]


def test_spawn_after_exit_is_an_error():
    with pool.scope() as s:
        pass
    with pytest.raises(RuntimeError):
        s.spawn(print)


def test_empty_scope():
    with pool.scope():
        pass


def test_map_in_order():
    items = list(range(200))
    assert pool.map(lambda x: x * x, items) == [x * x for x in items]
    assert pool.map(str, iter(range(5))) == ["0", "1", "2", "3", "4"]
    assert pool.map(str, []) == []


def test_map_exception_group_after_all_calls():
    calls = []
    lock = threading.Lock()

    def f(x):
        time.sleep(0.005)
        with lock:
            calls.append(x)
        if x % 3 == 0:
            raise ValueError(x)
        return x

    with pytest.raises(lanepool.ExceptionGroup) as info:
        pool.map(f, range(10))
    assert sorted(calls) == list(range(10))
    assert sorted(e.args[0] for e in info.value.exceptions) == [0, 3, 6, 9]


def test_map_inside_handler_and_nested_scope_in_handler():
    event = {
        "Records": [
            {"messageId": f"m{i}", "eventSource": "aws:sqs", "attributes": {"MessageGroupId": f"g{i % 2}"}}
            for i in range(6)
        ]
    }
    out = {}
    lock = threading.Lock()

    def handler(record):
        squares = pool.map(lambda x: x * x, range(5))
        with pool.scope() as s:
            # a task that spawns a nested task into the same scope
            t = s.spawn(lambda: s.spawn(lambda: sum(squares)))
            inner = s.spawn(lambda: "nested")
        with lock:
            out[record["messageId"]] = (t.result().result(), inner.result())

    assert pool.process(event, handler) == {"batchItemFailures": []}
    assert out == {f"m{i}": (30, "nested") for i in range(6)}


def fail_if(fail, i):
    if fail:
        raise ValueError(i)
    return i


def test_handler_spawning_failing_scope_tasks_fails_its_record():
    event = {"Records": [{"messageId": f"m{i}", "eventSource": "aws:sqs"} for i in range(3)]}

    def handler(record):
        with pool.scope() as s:
            for i in range(2):
                s.spawn(fail_if, record["messageId"] == "m1", i)

    report = pool.run_batch(event, handler)
    [failure] = report.failures
    assert failure.item_identifier == "m1"
    assert isinstance(failure.exception, lanepool.ExceptionGroup)
    assert len(failure.exception.exceptions) == 2


def test_nested_scopes_waited_inside_tasks_never_deadlock():
    # Every worker blocks in a nested scope's exit: those scopes' tasks must still run.
    small = lanepool.Pool(workers=2)
    result = {}

    def inner(i, j):
        time.sleep(0.005)
        return i * 10 + j

    def outer(i):
        time.sleep(0.01)  # let every outer task start before any nested one
        with small.scope() as s:
            tasks = [s.spawn(inner, i, j) for j in range(3)]
        return [t.result() for t in tasks]

    def main():
        with small.scope() as s:
            tasks = [s.spawn(outer, i) for i in range(6)]
        result["value"] = [t.result() for t in tasks]

    thread = threading.Thread(target=main, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "deadlock"
    assert result["value"] == [[i * 10 + j for j in range(3)] for i in range(6)]


def test_task_result_waits_inside_the_block():
    with pool.scope() as s:
        t = s.spawn(lambda: (time.sleep(0.05), 42)[1])
        assert t.result() == 42
        assert t.done()


class _Marker:
    """An object in a cycle whose collection a weak reference shows."""


@pytest.mark.parametrize("outcome", ["returns", "raises"])
def test_a_task_in_a_reference_cycle_is_collected(outcome):
    """A task's result (or exception) that refers back to the task forms a cycle; the garbage
    collector must see through the task to free it."""
    import gc
    import weakref

    def make():
        box: list = []
        marker = _Marker()

        def work():
            if outcome == "raises":
                raise ValueError(box, marker)
            return box, marker

        try:
            with lanepool.Pool(workers=2).scope() as s:
                task = s.spawn(work)
        except ExceptionGroup:
            pass
        box.append(task)
        assert task.done()
        return weakref.ref(marker)

    ref = make()
    gc.collect()
    assert ref() is None
