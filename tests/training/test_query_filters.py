"""The filters on generated queries."""

from __future__ import annotations

from tests.training.test_generate import WINGS


def test_the_filters_drop_what_would_teach_nothing_or_teach_wrong() -> None:
    from crossrank.training.query_filters import filter_queries

    generated = [
        (0, "how do shock waves move on a swept wing at transonic speed"),  # kept
        (0, "how do shock waves move on a swept wing at transonic speed"),  # duplicate
        (0, "wing"),  # malformed: too short
        (1, "how does bread rise bread rise"),  # malformed: a loop
        (1, "when does a flat plate boundary layer become turbulent"),  # the prompt's own example
        (1, "Sourdough bread rises because wild yeasts ferment the flour"),  # copies the document's sentence
        (2, "how do glaciers carve valleys"),  # inconsistent: about document 3, not 2
        (3, "what do glaciers leave behind when the ice melts"),  # kept
    ]
    result = filter_queries(WINGS, generated, consistency_k=1)
    assert result.kept == [generated[0], generated[7]]
    assert result.dropped == {
        "malformed": 2,
        "copies an example": 1,
        "duplicate": 1,
        "copies the document": 1,
        "inconsistent": 1,
    }
    assert result.examples["inconsistent"] == ["how do glaciers carve valleys"]
    unchecked = filter_queries(WINGS, generated, consistency_k=0)  # --consistency-depth 0: no BM25 check
    assert unchecked.kept == [generated[0], generated[6], generated[7]] and unchecked.dropped["inconsistent"] == 0


def test_teachers_agree_keeps_the_groups_whose_own_document_the_teachers_rank_first() -> None:
    from crossrank.training.data import Group
    from crossrank.training.query_filters import teachers_agree

    first = Group("wing lift", "a", ("b", "c"), "generated", (2.0, 1.0, -1.0))
    second = Group("how to make it", "d", ("e", "f"), "generated", (0.5, 0.9, 0.1))  # a negative scores higher
    tied = Group("boundary layer", "g", ("h", "i"), "generated", (1.0, 1.0, 0.0))  # a tie is no agreement
    unscored = Group("heat transfer", "j", ("k",), "generated")
    assert teachers_agree([first, second, tied, unscored]) == [first]
