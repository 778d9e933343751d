"""A failing loop is restarted with back-off and readiness follows it; the caller never sees the error."""

import asyncio

from services.shared.supervision import Backoff, Dependency, Readiness, supervise, watch


async def test_a_loop_that_fails_is_restarted_and_readiness_flips_while_it_is_down() -> None:
    flips: list[bool] = []

    async def on_change(ready: bool) -> None:
        flips.append(ready)

    readiness = Readiness(on_change)
    stop = asyncio.Event()
    runs = 0

    async def flaky(stop: asyncio.Event) -> None:
        nonlocal runs
        runs += 1
        if runs <= 2:
            raise RuntimeError("poison")
        await stop.wait()

    task = asyncio.create_task(supervise("flaky", flaky, stop, readiness, Backoff(first_s=0.01, max_s=0.02)))
    for _ in range(200):
        if runs >= 3 and readiness.ready:
            break
        await asyncio.sleep(0.01)
    assert runs == 3 and readiness.ready and flips == [False, True, False, True]
    stop.set()
    await asyncio.wait_for(task, 1)


async def test_a_dependency_that_fails_or_hangs_is_down_until_it_answers() -> None:
    readiness = Readiness(lambda ready: asyncio.sleep(0))
    answers = iter([False, True])

    async def flapping() -> bool:
        return next(answers, True)

    async def hangs() -> bool:
        await asyncio.sleep(10)
        return True

    stop = asyncio.Event()
    task = asyncio.create_task(watch([Dependency("db", flapping), Dependency("ray", hangs)], stop, readiness, 0.05))
    await asyncio.sleep(0.02)
    assert set(readiness.down) == {"dependency:db"}
    await asyncio.sleep(0.12)
    assert "dependency:db" not in readiness.down and "dependency:ray" in readiness.down
    stop.set()
    await asyncio.wait_for(task, 1)


def test_backoff_doubles_to_a_cap_and_resets_after_a_healthy_run() -> None:
    b = Backoff(first_s=0.5, max_s=2.0, healthy_after_s=60)
    assert [b.next(0, 1), b.next(0.5, 1), b.next(1.0, 1), b.next(2.0, 1), b.next(2.0, 61)] == [0.5, 1.0, 2.0, 2.0, 0.5]
