"""The bench's generated registry feeds (P3): the re-import's feed differs from the
first only in the phone of every hundredth row, and the tenth-size feeds are the first
rows of the full ones; the patrons P1's growth figures sign in are active ones of the
feed, with their defaults."""

from __future__ import annotations

from pathlib import Path

from bench.feed import first_rows, write_feeds
from bench.growth import picked_patrons


def test_the_changed_feed_moves_only_the_phone_of_every_hundredth_row(tmp_path: Path) -> None:
    feed, changed = write_feeds(tmp_path, 1000, changed_every=100)
    plain_lines = feed.read_text(encoding="utf-8").splitlines()
    changed_lines = changed.read_text(encoding="utf-8").splitlines()
    assert len(plain_lines) == len(changed_lines) == 1001
    assert plain_lines[0] == changed_lines[0]
    differing = [
        number
        for number, (a, b) in enumerate(zip(plain_lines, changed_lines, strict=True))
        if a != b
    ]
    assert differing == list(range(100, 1001, 100))
    for number in differing:
        a, b = plain_lines[number].split(","), changed_lines[number].split(",")
        assert [i for i, (x, y) in enumerate(zip(a, b, strict=True)) if x != y] == [4]
        assert b[4].replace(" ", "") == f"6{number:07d}"


def test_a_tenth_of_the_feed_is_its_first_rows_as_written_for_that_size(tmp_path: Path) -> None:
    full, _ = write_feeds(tmp_path, 1000, changed_every=100)
    tenth = first_rows(full, 100, tmp_path / "tenth.csv")
    (tmp_path / "small").mkdir()
    written, _ = write_feeds(tmp_path / "small", 100, changed_every=100)
    assert tenth.read_bytes() == written.read_bytes()


def test_the_patrons_signed_in_on_record_are_active_with_their_phone_default(
    tmp_path: Path,
) -> None:
    _, changed = write_feeds(tmp_path, 1000, changed_every=100)
    rows = {
        fields[0]: fields
        for fields in (line.split(",") for line in changed.read_text().splitlines()[1:])
    }
    picked = picked_patrons(changed, 1000, 300)
    assert len(picked) == len({barcode for barcode, _ in picked}) == 300
    assert picked != sorted(picked)  # in no particular order
    for barcode, default in picked:
        assert rows[barcode][8] == "active"  # pending patrons sign in to nothing
        assert default == rows[barcode][4].replace(" ", "")[-4:]
    assert picked_patrons(changed, 1000, 300) == picked  # the same every run
