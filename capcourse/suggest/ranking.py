"""Ranking framework items against a text: BM25F over stemmed words, plus what people decided.

Plain Python, no Flask and no database: the services build :class:`Candidate`
records from the database, ``bench/suggest.py`` from the shipped frameworks, and
both rank with the same code.

* **Words.** Text is case-folded, split into words, stripped of English stop
  words and stemmed with the Snowball English stemmer (``snowballstemmer``), so
  "supervise", "supervision" and "supervising" meet.
* **BM25F.** A candidate has fields (its statement, its short name, its
  ancestors' text, text people linked to it …), each with a weight and its own
  length normalisation; term frequencies are combined across fields before
  BM25's saturation (Robertson, Zaragoza and Taylor, "Simple BM25 extension to
  multiple weighted fields", 2004). Libraries such as ``rank-bm25`` or ``bm25s``
  rank single-field documents only, and the corpora here are a few hundred
  items, so the formula is written out here.
* **Decisions.** A confirmation or a rejection records the text it was made
  for. A later query whose text closely resembles a confirmation's raises that
  item; one that resembles a rejection's lowers it (Rocchio-style relevance
  feedback: cosine similarity of TF-IDF vectors under the same idf). An item
  rejected for this very subject is not offered again.

The weights below were set from what the fields mean before anything was
measured, and ``bench/suggest.py`` measures them (and each ablation) on labelled
sets the weights were never fitted to.
"""

from __future__ import annotations

import math
import re
import threading
import unicodedata
from collections import Counter
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import lru_cache

import snowballstemmer

#: BM25 saturation and length normalisation: the usual defaults (Robertson & Zaragoza, 2009).
K1 = 1.2
B = 0.75

#: Field weights of a candidate. A short name says what the item is about in few words;
#: an ancestor's text sets the context but is shared by all its siblings; text that
#: people confirmed for an item is evidence about it but not its own wording.
FIELD_WEIGHTS: Mapping[str, float] = {
    "statement": 1.0,
    "name": 2.0,
    "context": 0.3,
    "linked": 0.5,
}

#: How much resemblance to earlier confirmations raises, and to rejections lowers, a
#: candidate's score (the BM25F score is first scaled so the best candidate has 1): a
#: decision for the very same text counts as much as the best text match.
CONFIRMED_WEIGHT = 1.0
REJECTED_WEIGHT = 1.0
#: A confirmation raises a candidate only for text that resembles its own by more than this
#: (TF-IDF cosine), by the part above it: texts of one domain share many words, and a
#: confirmation for merely related text misled more than it taught (docs/suggestions.md).
RESEMBLES = 0.5

#: English function words that carry no topic (a short list: the texts are formal prose).
STOP_WORDS = frozenset(
    """
    a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each either et etc few for
    from further had has have having he her here hers herself him himself his how i if in into is it
    its itself just may me might more most must my myself no nor not of off on once only or other
    our ours ourselves out over own same shall she should so some such than that the their theirs
    them themselves then there these they this those through to too under until up upon us very was
    we were what when where which while who whom why will with within without would you your yours
    yourself yourselves
    """.split()  # noqa: SIM905  (a word list reads better as prose)
)

_WORD = re.compile(r"[a-z0-9]+")


_STEMMER = snowballstemmer.stemmer("english")
# One stemmer keeps its word in its own attributes while it works, so two threads of a
# gthread worker must take turns; the cache makes the turn rare (a few thousand distinct
# words across every framework, where each page's index stems them all again).
_STEMMER_LOCK = threading.Lock()


@lru_cache(maxsize=1 << 16)
def stem_word(word: str) -> str:
    """The English Snowball stem of one lower-case word."""
    with _STEMMER_LOCK:
        return str(_STEMMER.stemWord(word))


def words(text: str) -> list[str]:
    """The text's words, folded to lower-case ASCII, stop words kept (for showing matches)."""
    folded = unicodedata.normalize("NFKD", text.casefold()).encode("ascii", "ignore").decode()
    return _WORD.findall(folded)


def terms(text: str, *, stem: bool = True) -> list[str]:
    """The index terms of ``text``: its words less stop words, stemmed unless ``stem`` is false."""
    kept = [w for w in words(text) if w not in STOP_WORDS and len(w) > 1]
    return [stem_word(w) for w in kept] if stem else kept


@dataclass(frozen=True)
class Candidate:
    """Something that can be suggested: an item with the text of each of its fields."""

    id: Hashable
    fields: Mapping[str, str]


@dataclass(frozen=True)
class Feedback:
    """A person's decision about a candidate for a subject, with the subject's text at the time."""

    candidate_id: Hashable
    text: str
    confirmed: bool
    subject: Hashable | None = None


@dataclass(frozen=True)
class Ranked:
    """One suggestion: the candidate, its score, and the query's words it matched."""

    id: Hashable
    score: float
    matched: tuple[str, ...]
    boosted: bool = False
    lowered: bool = False


@dataclass
class Settings:
    """What to use: the measured variants of ``bench/suggest.py`` switch these."""

    stem: bool = True
    field_weights: Mapping[str, float] = field(default_factory=lambda: dict(FIELD_WEIGHTS))
    feedback: bool = True


class Index:
    """A BM25F index over candidates, answering queries with ranked candidates."""

    def __init__(self, candidates: Sequence[Candidate], settings: Settings | None = None) -> None:
        self.settings = settings or Settings()
        self.candidates = list(candidates)
        weights = self.settings.field_weights
        self._fields: list[dict[str, Counter[str]]] = []
        totals: Counter[str] = Counter()
        for candidate in self.candidates:
            per_field = {
                name: Counter(terms(text, stem=self.settings.stem))
                for name, text in candidate.fields.items()
                if text and weights.get(name, 0) > 0
            }
            self._fields.append(per_field)
            for name, counts in per_field.items():
                totals[name] += sum(counts.values())
        count = max(len(self.candidates), 1)
        self._average = {name: max(total / count, 1.0) for name, total in totals.items()}
        document_frequency: Counter[str] = Counter()
        for per_field in self._fields:
            document_frequency.update({t for counts in per_field.values() for t in counts})
        self._idf = {t: math.log(1 + (count - df + 0.5) / (df + 0.5)) for t, df in document_frequency.items()}
        self._default_idf = math.log(1 + (count + 0.5) / 0.5)

    def idf(self, term: str) -> float:
        return self._idf.get(term, self._default_idf)

    def _bm25f(
        self, query: Counter[str], per_field: Mapping[str, Counter[str]], average: Mapping[str, float]
    ) -> tuple[float, set[str]]:
        weights = self.settings.field_weights
        score = 0.0
        matched: set[str] = set()
        for term, query_count in query.items():
            pseudo = 0.0
            for name, counts in per_field.items():
                tf = counts.get(term, 0)
                if tf:
                    length = sum(counts.values())
                    pseudo += weights.get(name, 0) * tf / (1 - B + B * length / average[name])
            if pseudo:
                matched.add(term)
                score += query_count * self.idf(term) * pseudo * (K1 + 1) / (K1 + pseudo)
        return score, matched

    def vector(self, text: str) -> dict[str, float]:
        """A unit TF-IDF vector of ``text`` under this index's idf."""
        counts = Counter(terms(text, stem=self.settings.stem))
        vector = {t: (1 + math.log(c)) * self.idf(t) for t, c in counts.items()}
        norm = math.sqrt(sum(v * v for v in vector.values())) or 1.0
        return {t: v / norm for t, v in vector.items()}

    def rank(
        self,
        query: str | Sequence[tuple[str, float]],
        *,
        feedback: Iterable[Feedback] = (),
        subject: Hashable | None = None,
        exclude: Iterable[Hashable] = (),
        limit: int | None = None,
    ) -> list[Ranked]:
        """Candidates best first for ``query`` (a text, or texts with weights such as a title twice).

        :param feedback: earlier decisions. A confirmation raises its candidate for a
            query that resembles its text closely; a rejection lowers its candidate by
            the query's resemblance to the rejected text; a candidate rejected for
            ``subject`` itself is not offered.
        :param exclude: candidates never to offer (the item itself, items already mapped).
        """
        parts = [(query, 1.0)] if isinstance(query, str) else list(query)
        weighted: Counter[str] = Counter()
        for text, weight in parts:
            for term in terms(text, stem=self.settings.stem):
                weighted[term] += weight  # type: ignore[assignment]
        skip = set(exclude)
        decisions = list(feedback) if self.settings.feedback else []
        skip.update(
            d.candidate_id for d in decisions if subject is not None and d.subject == subject and not d.confirmed
        )
        others = [d for d in decisions if subject is None or d.subject != subject]
        raw: list[tuple[Candidate, float, set[str]]] = []
        for candidate, per_field in zip(self.candidates, self._fields, strict=True):
            if candidate.id in skip:
                continue
            score, matched = self._bm25f(weighted, per_field, self._average)
            raw.append((candidate, score, matched))
        top = max((score for _, score, _ in raw), default=0.0) or 1.0
        adjust = self._resemblance(" ".join(text for text, _ in parts), others)
        results = []
        for candidate, score, matched in raw:
            up, down = adjust.get(candidate.id, (0.0, 0.0))
            up = max(0.0, up - RESEMBLES) / (1 - RESEMBLES)
            final = score / top + CONFIRMED_WEIGHT * up - REJECTED_WEIGHT * down
            if score <= 0 and up <= 0:
                continue
            results.append(Ranked(candidate.id, round(final, 4), tuple(sorted(matched)), up > 0, down > 0.05))
        results.sort(key=lambda r: -r.score)
        return results[:limit] if limit is not None else results

    def _resemblance(self, text: str, decisions: Sequence[Feedback]) -> dict[Hashable, tuple[float, float]]:
        """Per candidate: the best resemblance (TF-IDF cosine) of ``text`` to its confirmations, and to its rejections."""
        if not decisions:
            return {}
        query = self.vector(text)
        adjust: dict[Hashable, tuple[float, float]] = {}
        for decision in decisions:
            other = self.vector(decision.text)
            similarity = sum(v * other.get(t, 0.0) for t, v in query.items())
            up, down = adjust.get(decision.candidate_id, (0.0, 0.0))
            if decision.confirmed:
                up = max(up, similarity)
            else:
                down = max(down, similarity)
            adjust[decision.candidate_id] = (up, down)
        return adjust


def stem_words(text: str, stems: Iterable[str]) -> list[str]:
    """The words of ``text`` whose stems are in ``stems``, in order, once each (to show why a match)."""
    wanted = set(stems)
    shown: dict[str, None] = {}
    for word in words(text):
        if word not in STOP_WORDS and stem_word(word) in wanted:
            shown.setdefault(word, None)
    return list(shown)
