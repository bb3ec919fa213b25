"""Benchmark data: the real corpus, a prefix of it, or the corpus grown by a synthetic generator.

The generator keeps the corpus statistics by sampling, never by inventing text:
titles are two real titles spliced at a word boundary, abstracts are real
sentences drawn uniformly (so every term keeps its document frequency), with
the number of sentences, the number of authors, the category sets and the
dates each drawn from a real paper. Author names are drawn from all author
occurrences, so prolific authors stay prolific. Ids are new arXiv-style ids in
a range no real paper uses (9101.00001 onwards), titles are kept unique (the
catalogue merges papers whose normalized titles agree).
"""

import gzip
import io
import random
import re
import statistics
from collections.abc import Iterator
from pathlib import Path

try:
    import orjson
except ImportError:  # the peers virtualenv reads data with the standard library
    import json

    class orjson:  # noqa: N801 - stands in for the module
        loads = staticmethod(json.loads)

        @staticmethod
        def dumps(obj, option=None) -> bytes:
            return json.dumps(obj, indent=2 if option else None).encode()

        OPT_INDENT_2 = 1

from bench.common import CORPUS, WORK_DIR, log, size_label

SEED = 20251129
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z(])")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


class CorpusMissing(RuntimeError):
    pass


def read_jsonl(path: Path, limit: int | None = None) -> Iterator[dict]:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        for i, line in enumerate(io.BufferedReader(stream, 1 << 20)):
            if limit is not None and i >= limit:
                return
            if line.strip():
                yield orjson.loads(line)


def count_lines(path: Path) -> int:
    opener = gzip.open if path.suffix == ".gz" else open
    with opener(path, "rb") as stream:
        return sum(1 for line in stream if line.strip())


def source_records() -> tuple[list[dict], str]:
    """The real corpus, or (for smoke runs where it is absent) the bundled seed papers."""
    if CORPUS.exists():
        return list(read_jsonl(CORPUS)), f"real corpus {CORPUS.name}"
    log(f"corpus not found at {CORPUS}: using the bundled seed papers as the sample source")
    from app.ingest.parsers import parse  # only the fallback needs the app
    from app.settings import SEED_FILE

    records = []
    with open(SEED_FILE, "rb") as stream:
        for i, (_, rec) in enumerate(parse(stream, "seed")):
            if isinstance(rec, Exception):
                continue
            records.append({"id": f"9001.{i + 1:05d}", "title": rec.title, "abstract": rec.abstract,
                            "authors": ["Seed Author"], "published": "2025-01-01", "categories": ["cs.LG"],
                            "url": None, "source": "seed"})
    return records, f"seed papers {SEED_FILE.name} (corpus absent)"


def dataset(n: int, *, corpus_size: int | None = None) -> tuple[Path, dict]:
    """A JSON Lines file of n papers (cached under bench/work/data) and how it was made."""
    data_dir = WORK_DIR / "data"
    data_dir.mkdir(parents=True, exist_ok=True)
    real_n = corpus_size if corpus_size is not None else (count_lines(CORPUS) if CORPUS.exists() else 0)
    if CORPUS.exists() and real_n and real_n * 0.99 <= n <= real_n:
        return CORPUS, {"papers": real_n, "real": real_n, "synthetic": 0, "file": str(CORPUS)}
    path = data_dir / f"papers-{size_label(n)}-{n}.jsonl.gz"
    meta_path = path.with_suffix(".meta.json")
    if path.exists() and meta_path.exists():
        return path, orjson.loads(meta_path.read_bytes())
    if CORPUS.exists() and n < real_n:
        records, origin = list(read_jsonl(CORPUS, limit=n)), f"first {n:,} papers of {CORPUS.name}"
    else:
        records, origin = source_records()
    real = records[:n]
    log(f"writing {n:,} papers to {path.name} ({len(real):,} real, {n - len(real):,} synthetic)")
    tmp = path.with_suffix(".tmp")
    with gzip.open(tmp, "wb", compresslevel=1) as out:
        for rec in real:
            out.write(orjson.dumps(rec) + b"\n")
        if n > len(real):
            for rec in Synthesizer(records).papers(n - len(real)):
                out.write(orjson.dumps(rec) + b"\n")
    tmp.rename(path)
    meta = {"papers": n, "real": len(real), "synthetic": n - len(real), "source": origin, "file": str(path),
            "statistics": compare_statistics(records, path)}
    meta_path.write_bytes(orjson.dumps(meta, option=orjson.OPT_INDENT_2))
    return path, meta


def _norm(title: str) -> str:
    return _NON_ALNUM.sub(" ", title.casefold()).strip()


class Synthesizer:
    def __init__(self, records: list[dict], seed: int = SEED):
        self.rng = random.Random(seed)
        self.records = records
        self.titles = [r["title"].split() for r in records]
        self.sentences: list[str] = []
        self.sentence_counts: list[int] = []
        for r in records:
            parts = _SENTENCE_END.split(r["abstract"])
            self.sentences.extend(parts)
            self.sentence_counts.append(len(parts))
        self.author_counts = [len(r.get("authors") or []) for r in records]
        self.author_names = [a for r in records for a in (r.get("authors") or [])] or ["Anonymous"]
        self.seen_titles = {_norm(r["title"]) for r in records}

    def title(self) -> str:
        rng = self.rng
        for _ in range(50):
            a, b = rng.choice(self.titles), rng.choice(self.titles)
            cut_a = rng.randint(1, max(1, len(a) - 1))
            cut_b = rng.randint(min(1, len(b) - 1), max(1, len(b) - 1))
            words = a[:cut_a] + b[cut_b:]
            text = " ".join(words)
            key = _norm(text)
            if key and key not in self.seen_titles:
                self.seen_titles.add(key)
                return text
        raise RuntimeError("could not make a unique title in 50 draws")

    def papers(self, count: int) -> Iterator[dict]:
        rng = self.rng
        for i in range(count):
            month, serial = divmod(i, 99_999)
            year, mon = divmod(month, 12)
            arxiv_id = f"{91 + year:02d}{mon + 1:02d}.{serial + 1:05d}" if year < 9 else f"9{i:08d}"
            template = rng.choice(self.records)
            sentences = rng.choices(self.sentences, k=rng.choice(self.sentence_counts))
            yield {
                "id": arxiv_id,
                "title": self.title(),
                "abstract": " ".join(sentences),
                "authors": rng.choices(self.author_names, k=rng.choice(self.author_counts)),
                "published": template.get("published"),
                "categories": template.get("categories") or [],
                "url": f"https://arxiv.org/abs/{arxiv_id}",
                "source": "synthetic",
            }


def _stats(records: list[dict]) -> dict:
    vocab: set[str] = set()
    for r in records:
        vocab.update(re.findall(r"[a-z]{3,}", r["abstract"].lower()))
    return {
        "papers": len(records),
        "title_words_mean": round(statistics.fmean(len(r["title"].split()) for r in records), 2),
        "abstract_words_mean": round(statistics.fmean(len(r["abstract"].split()) for r in records), 1),
        "abstract_words_median": statistics.median(len(r["abstract"].split()) for r in records),
        "authors_mean": round(statistics.fmean(len(r.get("authors") or []) for r in records), 2),
        "categories_mean": round(statistics.fmean(len(r.get("categories") or []) for r in records), 2),
        "distinct_abstract_terms": len(vocab),
    }


def compare_statistics(real: list[dict], path: Path, sample: int = 20_000) -> dict:
    """Real vs synthetic on equal-sized samples: the generator must not drift."""
    synthetic: list[dict] = []
    for r in read_jsonl(path):  # synthetic papers are i.i.d.: the first ones are a fair sample
        if r.get("source") == "synthetic":
            synthetic.append(r)
            if len(synthetic) >= sample:
                break
    if not synthetic:
        return {}
    k = min(sample, len(real), len(synthetic))
    rng = random.Random(SEED)
    return {"real": _stats(rng.sample(real, k)), "synthetic": _stats(rng.sample(synthetic, k))}
