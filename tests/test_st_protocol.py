"""The protocol client against a real server: it steps, keeps sessions apart and plays like a browser."""

from __future__ import annotations

import asyncio
import re

from st_protocol import Client


def step_count(client: Client) -> int:
    """The step number of the Playground's headline line ("Step 1,200 · ...")."""
    for text in client.texts():
        found = re.search(r"Step ([\d,]+) ·", text)
        if found:
            return int(found.group(1).replace(",", ""))
    raise AssertionError(f"no step count in the page's texts: {client.texts()}")


def test_two_presses_make_two_hundred_steps(app_url: str) -> None:
    async def run() -> int:
        async with Client(app_url) as student:
            assert step_count(student) == 0
            await student.press("Step 100")
            await student.press("Step 100")
            assert not student.exceptions
            return step_count(student)

    assert asyncio.run(run()) == 200


def test_two_students_keep_their_own_runs(app_url: str) -> None:
    async def run() -> tuple[int, int]:
        async with Client(app_url) as one, Client(app_url) as two:
            assert one.session_id != two.session_id
            await asyncio.gather(one.press("Step 100"), two.press("Step 1"))
            await asyncio.gather(one.press("Step 100"), two.press("Step 1"))
            return step_count(one), step_count(two)

    assert asyncio.run(run()) == (200, 2)


def test_play_receives_frames_and_pause_stops(app_url: str) -> None:
    async def run() -> tuple[int, int, int]:
        async with Client(app_url) as student:
            frames = await student.play(3.0)
            paused = step_count(student)
            await asyncio.sleep(0.5)
            await student.rerun()
            return frames, paused, step_count(student)

    frames, paused, later = asyncio.run(run())
    assert frames >= 1
    assert 0 < paused == later


def test_an_uploaded_csv_starts_a_run_on_it(app_url: str) -> None:
    rows = "".join(f"{i % 7 / 7:.3f},{i % 5 / 5:.3f},{i % 2}\n" for i in range(60))

    async def run() -> list[str]:
        async with Client(app_url) as student:
            await student.expand("Data details")
            await student.upload("Upload a CSV", "class.csv", ("x1,x2,label\n" + rows).encode())
            assert not student.exceptions
            return student.texts()

    assert any("class\\.csv, hidden 8" in text for text in asyncio.run(run()))
