"""Data sets: strict atomic import, seeded fallback, and swapping new data into a serving index."""

from __future__ import annotations

import asyncio
import stat
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from g2g_sdk._gen.g2g.interpol.v1 import interpol_pb2 as pb
from structlog.testing import capture_logs

from agency_adapters.common import records as r
from agency_adapters.common.datasets import (
    Fixed,
    LiveData,
    Records,
    choose_dataset,
    generate_files,
    import_file,
)
from agency_adapters.interpol import service, synthetic
from agency_adapters.interpol.records import NOTICES, SLTD, SltdRecord

DATA = service.DATA


def _sltd(number: str) -> SltdRecord:
    return SltdRecord(number=number, issuing_country="IDN", document_type="PASSPORT",
                      status="STOLEN", date_reported="2024-02-01", reporting_country="IDN")


def _write_sltd(path: Path, *numbers: str) -> Path:
    r.write(SLTD, [_sltd(n) for n in numbers], path)
    return path


def test_import_validates_every_row_then_replaces_the_file_atomically(tmp_path: Path) -> None:
    source = tmp_path / "in"
    generate_files(DATA, source, size=30, seed=1, fmt="csv")
    target_dir = tmp_path / "data" / "interpol"
    done = import_file(DATA, target_dir, source / "notices.csv")
    assert (done.dataset, done.path, done.count) == ("notices", target_dir / "notices.jsonl", 30)
    assert stat.S_IMODE(done.path.stat().st_mode) == 0o600  # personal data
    assert r.load(NOTICES, done.path) == r.load(NOTICES, source / "notices.csv")
    generate_files(DATA, source, size=20, seed=2, dataset="sltd", fmt="jsonl")
    (target_dir / "sltd.csv").write_text("kept as CSV", encoding="utf-8")
    sltd = import_file(DATA, target_dir, source / "sltd.jsonl")
    assert sltd.path == target_dir / "sltd.csv"  # an existing file keeps its format
    assert r.load(SLTD, sltd.path) == r.load(SLTD, source / "sltd.jsonl")
    before = done.path.read_bytes()

    lines = (source / "notices.csv").read_text(encoding="utf-8").splitlines()
    cells = lines[3].split(",")
    cells[0] = "2020-1"  # notice_id of the third record, not YYYY/N
    bad = tmp_path / "bad-notices.csv"
    bad.write_text("\n".join([*lines[:3], ",".join(cells), *lines[4:]]) + "\n",
                   encoding="utf-8")
    with pytest.raises(r.RecordError) as info:
        import_file(DATA, target_dir, bad, dataset="notices")
    assert (info.value.path, info.value.line, info.value.field) == (str(bad), 4, "notice_id")
    assert done.path.read_bytes() == before  # the previous data stays
    assert sorted(p.name for p in target_dir.iterdir()) == ["notices.jsonl", "sltd.csv"]


def test_the_data_set_comes_from_the_flag_the_file_name_or_the_only_one(tmp_path: Path) -> None:
    from agency_adapters.immigration.service import DATA as WATCHLIST_DATA

    assert choose_dataset(DATA, Path("x/sltd.csv"), None).name == "sltd"
    assert choose_dataset(DATA, Path("export.csv"), "notices").name == "notices"
    assert choose_dataset(WATCHLIST_DATA, Path("cekal-2025.jsonl"), None).name == "watchlist"
    with pytest.raises(r.RecordError, match="name one of notices, sltd"):
        choose_dataset(DATA, Path("export.csv"), None)
    with pytest.raises(r.RecordError, match="'permits' is not one of notices, sltd"):
        choose_dataset(DATA, Path("export.csv"), "permits")
    with pytest.raises(r.RecordError, match="extension must be"):
        import_file(DATA, tmp_path, tmp_path / "sltd.txt")


def test_a_named_format_overrides_the_extension(tmp_path: Path) -> None:
    source = _write_sltd(tmp_path / "sltd.csv", "A1234567")
    renamed = source.rename(tmp_path / "sltd.export")
    done = import_file(DATA, tmp_path / "data", renamed, dataset="sltd", fmt="csv")
    assert done.count == 1


def test_generated_files_are_deterministic_and_in_the_import_format(tmp_path: Path) -> None:
    first = generate_files(DATA, tmp_path / "a", size=25, seed=7)
    generate_files(DATA, tmp_path / "b", size=25, seed=7)
    assert [(d.dataset, d.count) for d in first] == [("notices", 25), ("sltd", 50)]
    for done in first:
        assert done.path.read_bytes() == (tmp_path / "b" / done.path.name).read_bytes()
    index, _ = DATA.load(tmp_path / "a")
    assert index.notices == synthetic.generate(25, 7).notices


async def test_live_data_swaps_changed_files_in_and_keeps_serving_on_a_broken_file(
        tmp_path: Path) -> None:
    directory = tmp_path / "interpol"
    _write_sltd(directory.parent / "v1.csv", "A1234567")
    import_file(DATA, directory, directory.parent / "v1.csv", dataset="sltd")
    live = LiveData("interpol", DATA, directory)
    assert [s.number for s in live.current.sltd] == ["A1234567"]
    assert live.current.notices == service.seeded_data().notices  # no notices file: seeded
    assert not await live.refresh()  # nothing changed
    _write_sltd(directory.parent / "v2.csv", "B7654321", "C1111111")
    import_file(DATA, directory, directory.parent / "v2.csv", dataset="sltd")
    assert await live.refresh()
    assert (live.generation, len(live.current.sltd)) == (1, 2)

    serving = live.current
    (directory / "sltd.jsonl").write_text('{"number": "lower"}\n', encoding="utf-8")
    with capture_logs() as logs:
        assert not await live.refresh()
    assert live.current is serving
    (failed,) = [e for e in logs if e["event"] == "data_reload_failed"]
    assert (failed["file"], failed["line"], failed["field"]) == (
        str(directory / "sltd.jsonl"), 1, "issuing_country")
    assert "lower" not in str(failed)  # a document number is never logged


async def test_a_removed_file_keeps_the_real_data_instead_of_falling_back_to_seeded(
        tmp_path: Path) -> None:
    directory = tmp_path / "interpol"
    _write_sltd(tmp_path / "v1.csv", "A1234567")
    import_file(DATA, directory, tmp_path / "v1.csv", dataset="sltd")
    live = LiveData("interpol", DATA, directory)
    serving = live.current
    (directory / "sltd.jsonl").unlink()
    with capture_logs() as logs:
        assert not await live.refresh()
        assert not await live.refresh()  # reported once, not at every poll
    assert live.current is serving
    (failed,) = [e for e in logs if e["event"] == "data_reload_failed"]
    assert (failed["field"], failed["reason"]) == (
        "sltd", "data file removed; seeded data never replaces real data "
                "(restore the file, or restart the adapter to serve seeded)")
    _write_sltd(tmp_path / "v2.csv", "B7654321")
    import_file(DATA, directory, tmp_path / "v2.csv", dataset="sltd")
    assert await live.refresh()  # a restored file is swapped in as usual
    assert [x.number for x in live.current.sltd] == ["B7654321"]


async def test_a_batch_answered_during_a_swap_sees_one_data_set(tmp_path: Path) -> None:
    directory = tmp_path / "interpol"
    generate_files(DATA, directory, size=300, seed=3)  # large enough to take a moment
    _write_sltd(directory / "sltd.jsonl", "A1234567")
    live = LiveData("interpol", DATA, directory)
    batch = service.handlers(live)[service.CHECK_BATCH]
    request = pb.DocumentBatchRequest(documents=[
        pb.DocumentCheckRequest(number=n, issuing_country="IDN")
        for n in ("A1234567", "B7654321")])

    async def listed() -> tuple[bool, ...]:
        answer = await batch(request, None)  # type: ignore[arg-type]
        assert isinstance(answer, pb.DocumentBatchResponse)
        return tuple(x.listed for x in answer.results)

    _write_sltd(tmp_path / "v2.csv", "B7654321")
    import_file(DATA, directory, tmp_path / "v2.csv", dataset="sltd")
    swap = asyncio.create_task(live.refresh())
    seen = [await listed()]
    while not swap.done():
        await asyncio.sleep(0)  # yield so the swap task can progress; not a wait
        seen.append(await listed())
    assert await swap
    seen.append(await listed())
    assert set(seen) <= {(True, False), (False, True)}
    assert (seen[0], seen[-1]) == ((True, False), (False, True))


async def test_watch_notices_an_import_without_a_signal(tmp_path: Path) -> None:
    directory = tmp_path / "interpol"
    live = LiveData("interpol", DATA, directory)  # the directory does not exist yet
    stop = asyncio.Event()
    watcher = asyncio.create_task(live.watch(stop, interval=0.01))
    _write_sltd(tmp_path / "sltd.csv", "A1234567")
    import_file(DATA, directory, tmp_path / "sltd.csv")
    await asyncio.wait_for(live.wait_for_generation(1), timeout=10)
    stop.set()
    await watcher
    assert [s.number for s in live.current.sltd] == ["A1234567"]


def test_fixed_data_never_changes() -> None:
    index = object()
    assert Fixed(index).current is index


async def test_a_failing_reload_keeps_the_data_and_the_watcher_alive(tmp_path: Path) -> None:
    # An index builder that fails on one data set stands for any error that is no
    # bad row (a read error, a bug): before, it killed the watch task for good.
    def index(records: Records) -> Any:
        if any(s.number == "FAIL00000" for s in records["sltd"]):
            raise RuntimeError("FAIL00000 broke the index")  # a message quoting a record
        return DATA.index(records)

    data = replace(DATA, index=index, _seeded_index=[])
    directory = tmp_path / "interpol"
    live = LiveData("interpol", data, directory)
    serving = live.current
    stop = asyncio.Event()
    watcher = asyncio.create_task(live.watch(stop, interval=0.01))
    with capture_logs() as logs:
        import_file(DATA, directory, _write_sltd(tmp_path / "sltd.csv", "FAIL00000"))
        assert await live.refresh(force=True) is False
        import_file(DATA, directory, _write_sltd(tmp_path / "sltd.csv", "A1234567"))
        await asyncio.wait_for(live.wait_for_generation(1), timeout=10)
    stop.set()
    await watcher
    assert serving is not live.current
    assert [s.number for s in live.current.sltd] == ["A1234567"]
    failed = [e for e in logs if e["event"] == "data_reload_failed"]
    assert [(e["file"], e["line"], e["error_type"], e["action"]) for e in failed][:1] == [
        (str(directory), 0, "RuntimeError", "kept the data already serving")]
    assert failed[0]["reason"].startswith("unexpected RuntimeError at test_datasets.py:")
    assert "FAIL00000" not in str(failed)
