"""Fit the weights of related papers' evidence to the blind judgments, and check them.

    python -m bench.related_fit [--sets A,B,C,D,E] [--l2 1.0] [--folds 5]

For every judged paper of tests/relevance/related_judgments.toml, every candidate the
method weighs (`related.content_candidates`, with the links of `related.link_evidence`)
that the judges graded becomes one example: its evidence, and whether it was judged
related (1 or 2). A logistic regression (Newton's method, an L2 penalty on the weights,
not on the bias) gives the weights to copy into `app/related.py`. Cross-validated by
paper (a paper's candidates are never split between fitting and checking): the share
judged related of what each fold's weights would show, per set, at the likelihoods shown
(`FIRST_LIKELIHOOD` for the first `FIRST_SHOWN`, `MIN_LIKELIHOOD` past them) and others to compare.
The catalogue is bench/relevance.py's (PAPERS_CORPUS_DB, else one built from the corpus).
"""

import argparse
import os
import random
import re
import tomllib
from collections import defaultdict
from pathlib import Path

import numpy as np

JUDGMENTS = Path(__file__).resolve().parent.parent / "tests" / "relevance" / "related_judgments.toml"
NAMES = ("cosine", "titles", "phrases", "shared", "topics", "author", "category")


def judged_sets() -> tuple[dict[str, dict[str, int]], dict[str, str]]:
    """paper -> {candidate: grade}, and paper -> its set (the file's "--- set X ---" sections)."""
    text = JUDGMENTS.read_text(encoding="utf-8")
    sets, current = {}, None
    for line in text.splitlines():
        if found := re.match(r"# --- set (\w+) ---", line):
            current = found.group(1)
        elif found := re.match(r'\["(.+)"\]', line):
            sets[found.group(1)] = current
    grades = {paper: {str(k): int(v) for k, v in table.items()} for paper, table in tomllib.loads(text).items()}
    return grades, sets


def examples(grades: dict[str, dict[str, int]]) -> list[dict]:
    """Every candidate of the judged papers: paper, key, evidence, grade (None when not judged)."""
    from app import papers, related
    from app.db import reader

    conn = reader()
    out = []
    for key, graded in grades.items():
        page = papers.paper_by_key(key)
        _, candidates = related.content_candidates(page.hit, conn)
        by_id = {c.id: c for c in candidates}
        for hit in papers.hits(conn, [c.row for c in candidates]):
            links, _, _ = related.link_evidence(page, hit, related._categories(by_id[hit.id].row["categories"]))
            other = hit.arxiv_id or hit.key
            out.append({"paper": key, "key": other, "grade": graded.get(other),
                        "x": [{**by_id[hit.id].evidence, **links}[name] for name in NAMES]})
    return out


def fit(rows: list[dict], l2: float) -> np.ndarray:
    """Logistic regression weights (NAMES order, then the bias) by Newton's method."""
    X = np.array([row["x"] + [1.0] for row in rows])
    y = np.array([row["grade"] >= 1 for row in rows], dtype=float)
    penalty = l2 * np.r_[np.ones(len(NAMES)), 0.0]
    w = np.zeros(X.shape[1])
    for _ in range(50):
        p = 1 / (1 + np.exp(-X @ w))
        step = np.linalg.solve((X * (p * (1 - p))[:, None]).T @ X + np.diag(penalty), X.T @ (p - y) + penalty * w)
        w -= step
        if np.abs(step).max() < 1e-10:
            break
    return w


def shown_share(rows: list[dict], weights: np.ndarray, first: float, least: float, limit: int = 6) -> tuple[int, int, int, int]:
    """Of what these weights show (at most `limit` a paper; the first FIRST_SHOWN at least
    `first` likely, the others `least`): judged related, judged, not judged, papers showing none."""
    from app.related import FIRST_SHOWN, log_odds
    by_paper = defaultdict(list)
    for row in rows:
        by_paper[row["paper"]].append((float(np.dot(row["x"] + [1.0], weights)), row["grade"]))
    related = judged = unjudged = none = 0
    thresholds = [log_odds(first), log_odds(least)]
    for candidates in by_paper.values():
        ranked = sorted(candidates, reverse=True)[:limit]
        shown = [c for rank, c in enumerate(ranked) if c[0] >= thresholds[rank >= FIRST_SHOWN]]
        none += not shown
        for _, grade in shown:
            if grade is None:
                unjudged += 1
            else:
                judged += 1
                related += grade >= 1
    return related, judged, unjudged, none


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sets", default="", help="fit on these sets only (default: all)")
    parser.add_argument("--l2", type=float, default=1.0)
    parser.add_argument("--folds", type=int, default=5)
    parser.add_argument("--likelihoods", type=lambda text: [tuple(float(v) for v in pair.split("/"))
                                                            for pair in text.split(",")],
                        default=[(0.5, 0.5), (0.6, 0.6), (0.7, 0.7), (0.5, 0.7), (0.55, 0.7), (0.55, 0.75)],
                        help="least likelihoods shown, the first FIRST_SHOWN's/the others', to compare")
    args = parser.parse_args(argv)
    from bench.relevance import catalogue
    os.environ["DATABASE_URL"] = f"sqlite:///{catalogue()}"
    from app import related

    grades, sets = judged_sets()
    wanted = set(args.sets.split(",")) if args.sets else set(sets.values())
    grades = {paper: table for paper, table in grades.items() if sets[paper] in wanted}
    rows = examples(grades)
    judged = [row for row in rows if row["grade"] is not None]
    print(f"{len(grades)} papers, {len(rows)} candidates, {len(judged)} judged"
          f" ({sum(row['grade'] >= 1 for row in judged) / len(judged):.3f} related)")
    weights = fit(judged, args.l2)
    print("WEIGHTS = {" + ", ".join(f'"{name}": {w:.2f}' for name, w in zip(NAMES, weights)) + "}")
    print(f"BIAS = {weights[-1]:.2f}")
    print("current:", {name: related.WEIGHTS[name] for name in NAMES}, related.BIAS)

    papers_in = sorted(grades)
    random.Random("related-fit").shuffle(papers_in)
    fold = {paper: n % args.folds for n, paper in enumerate(papers_in)}
    fitted = [fit([row for row in judged if fold[row["paper"]] != k], args.l2) for k in range(args.folds)]
    print(f"cross-validated by paper ({args.folds} folds): judged related of what is shown, per set and"
          f" over all, shown per paper, papers showing none (now FIRST_LIKELIHOOD/MIN_LIKELIHOOD ="
          f" {related.FIRST_LIKELIHOOD}/{related.MIN_LIKELIHOOD}, FIRST_SHOWN = {related.FIRST_SHOWN})")
    for first, least in args.likelihoods:
        per_set = defaultdict(lambda: np.zeros(4, dtype=int))
        for k, w in enumerate(fitted):
            for name in sorted(wanted):
                held = [row for row in rows if fold[row["paper"]] == k and sets[row["paper"]] == name]
                per_set[name] += shown_share(held, w, first, least)
        rel, jud, unj, none = sum(per_set.values())
        print(f"  >= {first:.2f}/{least:.2f}: " + " ".join(f"{name} {r / max(j, 1):.3f}" for name, (r, j, _, _) in sorted(per_set.items()))
              + f" | all {rel / max(jud, 1):.3f} ({rel} of {jud}, {unj} not judged),"
              f" {(jud + unj) / len(grades):.2f} a paper, {none} show none")

if __name__ == "__main__":
    main()
