"""Field masks: compile, apply, check; repeated message paths apply per element."""

from __future__ import annotations

from g2g_sdk import fieldmask as fm
from g2g_sdk._gen.g2g.immigration.v1 import watchlist_pb2 as wl
from hypothesis import given
from hypothesis import strategies as st

MASK = ["hits.entry_id", "hits.score", "hits.entry.full_name", "threshold"]


def response() -> wl.ScreenResponse:
    return wl.ScreenResponse(threshold=0.8, listed_entries=10, hits=[
        wl.Hit(entry_id="a", score=0.9, matched_fields=["name"],
               entry=wl.WatchlistEntry(full_name="A B", case_reference="K-1")),
        wl.Hit(entry_id="b", score=0.85, entry=wl.WatchlistEntry(national_id="3171")),
    ])


def test_violations_list_every_path_outside() -> None:
    assert fm.violations(response(), fm.MaskTree.compile(MASK)) == [
        "hits.matched_fields", "hits.entry.case_reference", "hits.entry.national_id",
        "listed_entries"]


def test_apply_then_nothing_outside() -> None:
    msg = response()
    mask = fm.MaskTree.compile(MASK)
    fm.apply(msg, mask)
    assert fm.violations(msg, mask) == []
    assert msg == wl.ScreenResponse(threshold=0.8, hits=[
        wl.Hit(entry_id="a", score=0.9, entry=wl.WatchlistEntry(full_name="A B")),
        wl.Hit(entry_id="b", score=0.85, entry=wl.WatchlistEntry())])


def test_whole_subtree_and_full_mask() -> None:
    msg = response()
    assert fm.violations(msg, fm.MaskTree.compile(fm.top_level_paths(msg.DESCRIPTOR))) == []
    assert fm.violations(msg, fm.MaskTree.compile(["hits", "hits.entry.full_name"])) == [
        "threshold", "listed_entries"]


def test_unknown_paths() -> None:
    assert fm.unknown_paths(wl.ScreenResponse.DESCRIPTOR,
                            ["hits.entry.full_name", "hits.entry.x", "threshold.y", "nope"]) == [
        "hits.entry.x", "threshold.y", "nope"]


@given(st.lists(st.sampled_from(["hits", "hits.entry_id", "hits.score", "hits.entry",
                                 "hits.entry.full_name", "hits.entry.aliases", "threshold",
                                 "listed_entries", "hits.matched_fields"]), max_size=5))
def test_apply_is_idempotent_and_sound(paths: list[str]) -> None:
    mask = fm.MaskTree.compile(paths)
    msg = response()
    fm.apply(msg, mask)
    assert fm.violations(msg, mask) == []
    again = wl.ScreenResponse()
    again.CopyFrom(msg)
    fm.apply(again, mask)
    assert again == msg
