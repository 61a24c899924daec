"""The hub's ack: committed seq ranges of one epoch."""

import itertools
import uuid

import pytest
from hypothesis import given
from hypothesis import strategies as st

import wire
from tests.wire import samples
from tests.wire.samples import dump

EPOCH = uuid.UUID(samples.EPOCH)


def test_a_valid_ack_decodes() -> None:
    """Ranges come out as inclusive (first, last) pairs."""
    ack = wire.decode_ack(dump(samples.ack()))
    assert ack.epoch == EPOCH
    assert ack.ranges == ((1, 16), (18, 18))


def test_ack_membership_and_iteration() -> None:
    """An ack answers which seqs it covers, and lists them."""
    ack = wire.Ack(v=1, epoch=EPOCH, ranges=((1, 3), (7, 7), (10, 11)))
    assert [seq for seq in range(13) if seq in ack] == [1, 2, 3, 7, 10, 11]
    assert "3" not in ack
    assert list(ack.seqs()) == [1, 2, 3, 7, 10, 11]
    assert ack.count() == 6


def test_touching_ranges_are_allowed() -> None:
    """[1, 2] then [3, 4] do not overlap; they are merely not the fewest ranges."""
    payload = samples.ack()
    payload["ranges"] = [[1, 2], [3, 4]]
    assert wire.decode_ack(dump(payload)).ranges == ((1, 2), (3, 4))


@pytest.mark.parametrize(
    ("ranges", "message"),
    [
        ([[5, 6], [1, 2]], r"ranges\[1\].*precedes"),  # unsorted
        ([[1, 5], [5, 9]], r"ranges\[1\].*overlaps"),  # shares 5
        ([[1, 9], [3, 4]], r"ranges\[1\]"),  # contained
        ([[1, 2], [1, 2]], r"ranges\[1\]"),  # repeated
        ([[4, 2]], r"ranges\[0\].*backwards"),  # a > b
        ([[0, 2]], r"\$\.ranges\[0\]\[0\]"),  # zero
        ([[-3, 2]], r"\$\.ranges\[0\]\[0\]"),
        ([[1, 2**63]], r"\$\.ranges\[0\]\[1\]"),
        ([[1, 2, 3]], r"\$\.ranges\[0\]"),
        ([[1]], r"\$\.ranges\[0\]"),
        ([1, 2], r"\$\.ranges\[0\]"),
        ([], r"\$\.ranges"),
        ([["1", "2"]], r"\$\.ranges\[0\]\[0\]"),
    ],
)
def test_bad_ranges_are_refused(ranges: object, message: str) -> None:
    """Ranges must be sorted, non-overlapping pairs 1 ≤ a ≤ b, and at least one."""
    payload = samples.ack()
    payload["ranges"] = ranges
    with pytest.raises(wire.PayloadInvalid, match=message):
        wire.decode_ack(dump(payload))


def test_too_many_ranges_are_refused() -> None:
    """An ack holds at most MAX_RANGES ranges; the hub splits bigger ones."""
    payload = samples.ack()
    payload["ranges"] = [[n, n] for n in range(1, 2 * wire.MAX_RANGES + 2, 2)]
    with pytest.raises(wire.PayloadInvalid, match=r"\$\.ranges"):
        wire.decode_ack(dump(payload))


def test_the_largest_ack_fits_the_size_limit() -> None:
    """MAX_RANGES ranges of the largest seqs still encode within the ack limit."""
    top = wire.MAX_SEQ
    ranges = tuple((top - 2 * n - 1, top - 2 * n) for n in reversed(range(wire.MAX_RANGES)))
    ack = wire.Ack(v=1, epoch=EPOCH, ranges=ranges)
    assert wire.decode_ack(wire.encode(ack)) == ack


@pytest.mark.parametrize(
    ("seqs", "ranges"),
    [
        ([], ()),
        ([5], ((5, 5),)),
        ([1, 2, 3], ((1, 3),)),
        ([3, 1, 2, 2, 7, 9, 8, 20], ((1, 3), (7, 9), (20, 20))),
    ],
)
def test_ranges_from_seqs(seqs: list[int], ranges: tuple[wire.SeqRange, ...]) -> None:
    """Seqs in any order, with repeats, become the fewest covering ranges."""
    assert wire.ranges_from_seqs(seqs) == ranges


def test_ranges_from_seqs_refuses_seqs_below_one() -> None:
    """Seqs start at 1."""
    with pytest.raises(ValueError, match="below 1"):
        wire.ranges_from_seqs([0, 1])


@given(st.sets(st.integers(min_value=1, max_value=500), min_size=1))
def test_ranges_from_seqs_cover_exactly_in_order(seqs: set[int]) -> None:
    """Ranges are sorted, do not touch, and cover exactly the given seqs."""
    ranges = wire.ranges_from_seqs(seqs)
    for first, last in ranges:
        assert first <= last
    for (_, last), (first, _) in itertools.pairwise(ranges):
        assert last + 1 < first
    covered = {seq for first, last in ranges for seq in range(first, last + 1)}
    assert covered == seqs
    ack = wire.Ack(v=1, epoch=EPOCH, ranges=ranges)
    assert wire.decode_ack(wire.encode(ack)) == ack
    assert all(seq in ack for seq in seqs)
