"""The ranking itself: words, stems, BM25F field weights and relevance feedback (no database)."""

from __future__ import annotations

import sys
import threading

import snowballstemmer

from capcourse.suggest.ranking import Candidate, Feedback, Index, Settings, stem_word, stem_words, terms


def test_terms_fold_case_and_accents_drop_stop_words_and_stem() -> None:
    assert terms("The Supervisors’ supervision of Café practice") == ["supervisor", "supervis", "cafe", "practic"]
    assert terms("Supervising", stem=False) == ["supervising"]


def test_threads_stemming_at_once_each_get_their_own_words_stems() -> None:
    # A gthread worker's threads share one stemmer, which keeps the word it works on in its
    # own attributes: without taking turns, a thread is handed another's stem.
    suffixes = ("ing", "ed", "ation", "ness", "ly", "ers", "ities", "ful")
    lists = [[f"{stem}{n}x{suffix}" for n in range(400) for suffix in suffixes] for stem in ("supervis", "lead")]
    expected = [[snowballstemmer.stemmer("english").stemWord(w) for w in words] for words in lists]
    got: list[list[str]] = [[], []]
    start = threading.Barrier(2)

    def work(which: int) -> None:
        start.wait()
        got[which] = [stem_word(w) for w in lists[which]]

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        stem_word.cache_clear()
        threads = [threading.Thread(target=work, args=(which,)) for which in (0, 1)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert got == expected


def test_stemming_lets_word_forms_meet() -> None:
    index = Index([Candidate("a", {"statement": "Supervise practitioners"}), Candidate("b", {"statement": "Budgets"})])
    assert [r.id for r in index.rank("supervision of a practitioner")] == ["a"]
    plain = Index(index.candidates, Settings(stem=False))
    assert plain.rank("supervision of a practitioner") == []


def test_rarer_shared_words_outrank_common_ones() -> None:
    index = Index(
        [
            Candidate("common", {"statement": "practice practice children"}),
            Candidate("rare", {"statement": "practice safeguarding"}),
            Candidate("other", {"statement": "practice families"}),
        ]
    )
    assert index.rank("safeguarding practice")[0].id == "rare"


def test_field_weights_count() -> None:
    candidates = [
        Candidate("named", {"statement": "Leads a team well", "name": "Supervision"}),
        Candidate("context", {"statement": "Leads a team well", "context": "Supervision"}),
    ]
    ranked = Index(candidates).rank("supervision")
    assert [r.id for r in ranked] == ["named", "context"]
    assert ranked[0].score == 1.0 and ranked[1].score < 0.5
    # Without a weight a field is not indexed at all.
    only_statement = Index(candidates, Settings(field_weights={"statement": 1.0}))
    assert only_statement.rank("supervision") == []


def test_confirmations_raise_and_rejections_lower_candidates_for_similar_text() -> None:
    candidates = [
        Candidate("reflect", {"statement": "Reflective practice"}),
        Candidate("data", {"statement": "Data practice"}),
    ]
    index = Index(candidates)
    query = "Practice workshop on learning from case reviews"
    assert {r.score for r in index.rank(query)} == {1.0}  # a tie on "practice"
    confirmed = [Feedback("data", "Workshop: learning from serious case reviews", True, subject="m1")]
    ranked = index.rank(query, feedback=confirmed, subject="m2")
    assert [r.id for r in ranked] == ["data", "reflect"] and ranked[0].boosted
    rejected = [Feedback("reflect", "Workshop: learning from serious case reviews", False, subject="m1")]
    ranked = index.rank(query, feedback=rejected, subject="m2")
    assert [r.id for r in ranked] == ["data", "reflect"] and ranked[1].lowered
    # Switched off, decisions change nothing.
    assert Index(candidates, Settings(feedback=False)).rank(query, feedback=confirmed, subject="m2")[0].score == 1.0


def test_a_candidate_rejected_for_this_subject_is_not_offered_again() -> None:
    index = Index([Candidate("a", {"statement": "Reflective practice"}), Candidate("b", {"statement": "Practice"})])
    ranked = index.rank("reflective practice", feedback=[Feedback("a", "x", False, subject="m")], subject="m")
    assert [r.id for r in ranked] == ["b"]
    assert [r.id for r in index.rank("reflective practice", exclude=["b"])] == ["a"]


def test_matched_words_are_shown_as_the_item_writes_them() -> None:
    ranked = Index([Candidate("a", {"statement": "Supervising reflective practitioners"})]).rank("supervision")
    assert stem_words("Supervising reflective practitioners", ranked[0].matched) == ["supervising"]
