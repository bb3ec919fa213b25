"""Topics as saved searches: the taxonomy file, retagging, and relevance on the seed papers.

The relevance judgments below come from reading the 93 seed abstracts: papers
that are about a subject must carry its tag, and papers that only use the word
in another sense ("pipeline" for a data pipeline, "experts" for expertise,
"students" for people) must not.
"""

import gzip
import itertools
import json
from pathlib import Path

import pytest

from app.db import connect, sqlite3
from app.settings import SEED_FILE, Settings
from app.tagging import Topic, explain, load_topics, retag, sync_topics

CORPUS = Settings().papers_corpus  # PAPERS_CORPUS
SEED_CHROME_PARAGRAPHS = 5
NOW = "2026-01-01 00:00:00"  # ISO text: the datetime adapter is deprecated

# Main themes of the arXiv corpus that no seed paper is about; test_corpus_themes_*
# shows each tags papers of a corpus sample.
CORPUS_THEMES = {"quantization", "safety-and-robustness", "federated-learning", "time-series",
                 "robotics-and-embodied-ai", "medical-ai",
                 "chain-of-thought-reasoning",  # seed papers mention chain of thought once, in passing
                 "hallucination", "reinforcement-learning"}  # and these a few times, as a motivation or a baseline


def seed_papers() -> list[tuple[str, str]]:
    """(title, abstract) pairs: paragraphs after the page chrome alternate title, abstract."""
    paragraphs = [p.strip() for p in SEED_FILE.read_text(encoding="utf-8").split("\n\n") if p.strip()]
    body = paragraphs[SEED_CHROME_PARAGRAPHS:]
    return list(zip(body[0::2], body[1::2]))


def insert_paper(conn, key, title, abstract, authors="", categories="", year=None) -> int:
    return conn.execute(
        """INSERT INTO papers(key, title, abstract, authors, categories, year, added_at, updated_at,
                              source, title_norm, content_hash)
           VALUES (?, ?, ?, ?, ?, ?, ?, ?, 'seed', ?, ?) RETURNING id""",
        (key, title, abstract, authors, categories, year, NOW, NOW, title.lower(), key)).fetchone()[0]


@pytest.fixture(scope="module")
def seed_template(make_database) -> Path | str:
    """A migrated database holding the 93 seed papers, synced and tagged; copied per test."""
    where = make_database("tagging")
    conn = connect(where)
    conn.execute("BEGIN")
    for i, (title, abstract) in enumerate(seed_papers()):
        insert_paper(conn, f"seed-{i}", title, abstract)
    sync_topics(conn)
    retag(conn)
    conn.execute("COMMIT")
    conn.close()
    return where


@pytest.fixture
def db(seed_template, copy_database):
    conn = connect(copy_database(seed_template))
    yield conn
    conn.close()


def tagged_titles(conn, slug: str) -> set[str]:
    return {r[0] for r in conn.execute(
        """SELECT p.title FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id
           JOIN papers p ON p.id = pt.paper_id WHERE t.slug = ?""", (slug,))}


def topic_links(conn) -> set[tuple[str, int]]:
    return {(r[0], r[1]) for r in conn.execute(
        """SELECT t.slug, pt.paper_id FROM paper_tags pt JOIN tags t ON t.id = pt.tag_id
           WHERE t.kind = 'topic'""")}


def paper_id(conn, title_start: str) -> int:
    (row,) = conn.execute("SELECT id FROM papers WHERE title LIKE ? || '%'", (title_start,)).fetchall()
    return row[0]


def judge(conn, slug, title_start) -> bool:
    return any(t.startswith(title_start) for t in tagged_titles(conn, slug))


# --- relevance judgments on the seed -----------------------------------------------

DISTILLATION = [
    "Distiller: A Systematic Study of Model Distillation Methods",
    "Unlock the Power: Competitive Distillation for Multi-Modal",
    "Distilling Step-by-Step!",
    "Distilling Efficient Language-Specific Models for Cross-Lingual Transfer",
    "MEND: Meta dEmonstratioN Distillation",
    "LLaVA-KD: A Framework of Distilling Multimodal Large Language Models",
    "Meta-DMoE: Adapting to Domain Shift by Meta-Distillation",  # MoE teachers distilled
]
NOT_DISTILLATION = [
    "POA: Pre-training Once for Models of All Sizes",   # self-distillation named twice, as one part
    "MMEvol: Empowering Multimodal Large Language Models",   # "distilling instruction data" loosely
    "Educating LLMs like Human Students",                     # students are people here
    "GigaSpeech 2",                                          # Noisy Student pseudo-labelling
    "TinyHelen's First Curriculum",
]
PIPELINE_PARALLELISM = [
    "GPipe: Efficient Training of Giant Neural Networks using Pipeline Parallelism",
    "Balancing Pipeline Parallelism with Vocabulary Parallelism",
    "Efficient Large-Scale Language Model Training on GPU Clusters Using Megatron-LM",
    "GNNPipe: Scaling Deep GNN Training with Pipelined Model Parallelism",
    "Holmes: Towards Distributed Training Across Clusters",       # pipeline parallel techniques
]
NOT_PIPELINE_PARALLELISM = [                 # "pipeline" as a data, training or ML pipeline
    "SongGen:", "RAG vs Fine-tuning: Pipelines", "Instruct-SkillMix: A Powerful Pipeline",
    "Calorie Aware Automatic Meal Kit", "TouchTTS:", "DSPy: Compiling Declarative",
    "GigaSpeech 2", "Distiller:", "Dealing with training and test segmentation mismatch",
    "WavCaps:", "CulturaX:", "Redco:",
    "FSMoE:",                                # pipelines communication with computation
    "Ladder-residual:",                      # tensor parallelism only
    "Superpipeline:",                        # layer offloading, despite the name
    # Distributed training: pipeline parallelism is one item of "tensor, pipeline and data
    # parallelism" (judged so on the corpus: one technique among several).
    "Optimizing Distributed Training on Frontier", "Using DeepSpeed and Megatron to Train",
]
MIXTURE_OF_EXPERTS = [
    "FSMoE: A Flexible and Scalable Training System for Sparse Mixture-of-Experts Models",
    "AquilaMoE: Efficient Training for MoE Models",
    "Demons in the Detail: On Implementing Load Balancing Loss",
    "Meta-DMoE: Adapting to Domain Shift by Meta-Distillation from Mixture-of-Experts",
    "Leveraging Open Knowledge for Advancing Task Expertise",    # builds an MoE of task experts
]
NOT_MIXTURE_OF_EXPERTS = [
    "Branch-Train-Merge:",                   # independent "expert" LMs, no routing
    "UnifiedMLLM:",                          # a task router to "expert models"
    "Educating LLMs like Human Students",    # domain expertise
    "Redco:",                                # users' expertise
    "MIO: A Foundation Model on Multimodal Tokens",   # a mixture of tokens
    "Ensemble-Instruct:",                    # a mixture of LMs
    "UL2: Unifying Language Learning Paradigms",      # Mixture-of-Denoisers
    "A Practitioner's Guide to Continual Multimodal Pretraining",   # data mixtures
    "Skill-it!",                             # mixtures of skills
]


@pytest.mark.parametrize("title", DISTILLATION)
def test_distillation_tags_papers_about_distillation(db, title):
    assert judge(db, "distillation", title)


@pytest.mark.parametrize("title", NOT_DISTILLATION)
def test_distillation_skips_other_senses(db, title):
    assert not judge(db, "distillation", title)


@pytest.mark.parametrize("title", PIPELINE_PARALLELISM)
def test_pipeline_parallelism_tags_papers_about_it(db, title):
    assert judge(db, "pipeline-parallelism", title)


@pytest.mark.parametrize("title", NOT_PIPELINE_PARALLELISM)
def test_pipeline_parallelism_skips_other_pipelines(db, title):
    assert not judge(db, "pipeline-parallelism", title)


@pytest.mark.parametrize("title", MIXTURE_OF_EXPERTS)
def test_mixture_of_experts_tags_papers_about_it(db, title):
    assert judge(db, "mixture-of-experts", title)


@pytest.mark.parametrize("title", NOT_MIXTURE_OF_EXPERTS)
def test_mixture_of_experts_skips_other_experts_and_mixtures(db, title):
    assert not judge(db, "mixture-of-experts", title)


def test_judgment_titles_name_seed_papers():
    titles = [t for t, _ in seed_papers()]
    for start in itertools.chain(DISTILLATION, NOT_DISTILLATION, PIPELINE_PARALLELISM,
                                 NOT_PIPELINE_PARALLELISM, MIXTURE_OF_EXPERTS,
                                 NOT_MIXTURE_OF_EXPERTS):
        assert sum(t.startswith(start) for t in titles) == 1, start


def test_rules_ignore_author_names(db):
    pid = insert_paper(db, "by-moe", "Query optimizers for databases", "Cardinality estimation.",
                       authors="Moe Kayali, Ada Lovelace")
    retag(db, [pid])
    assert "Query optimizers for databases" not in tagged_titles(db, "mixture-of-experts")


# --- the taxonomy file -------------------------------------------------------------

def test_seed_file_parses_into_93_papers():
    assert len(seed_papers()) == 93


def test_topics_file_has_the_required_topics():
    slugs = [t.slug for t in load_topics()]
    assert {"distillation", "pipeline-parallelism", "mixture-of-experts"} <= set(slugs)
    assert len(slugs) >= 24


def test_every_topic_tags_a_seed_paper_unless_it_is_a_corpus_theme(db):
    untagged = {t.slug for t in load_topics() if not tagged_titles(db, t.slug)}
    assert untagged == CORPUS_THEMES


@pytest.mark.corpus
def test_corpus_themes_tag_papers_of_a_corpus_sample(make_database):
    conn = connect(make_database("sample"))
    with gzip.open(CORPUS, "rt", encoding="utf-8") as lines:
        for line in itertools.islice(lines, 2000):
            r = json.loads(line)
            insert_paper(conn, r["id"], r["title"], r["abstract"] or "")
    sync_topics(conn)
    retag(conn)
    for slug in CORPUS_THEMES:
        assert len(tagged_titles(conn, slug)) >= 3, slug
    conn.close()


def write_topics(tmp_path, body: str) -> Path:
    path = tmp_path / "topics.toml"
    path.write_text(body, encoding="utf-8")
    return path


def test_load_topics_reads_every_field(tmp_path):
    path = write_topics(tmp_path, '[[topic]]\nslug = "x"\nname = "X"\ndescription = "d"\n'
                                  'query = """\n"a b" OR\n  c\n"""\n')
    assert load_topics(path) == [Topic("x", "X", "d", '"a b" OR c')]


@pytest.mark.parametrize("body, problem", [
    ('[[topic]]\nslug="a"\nname="A"\nquery="x"\n[[topic]]\nslug="a"\nname="B"\nquery="y"\n',
     "duplicate"),
    ('[[topic]]\nslug="a"\nname="A"\nquery="AND *"\n', "searches for nothing"),
    ('[[topic]]\nslug="Not A Slug"\nname="A"\nquery="x"\n', "slug"),
    ('[[topic]]\nslug="a"\nname="A"\nquery="' + "word " * 120 + '"\n', "longer than"),
])
def test_load_topics_rejects_invalid_topics(tmp_path, body, problem):
    with pytest.raises(ValueError, match=problem):
        load_topics(write_topics(tmp_path, body))


# --- sync and retag mechanics ------------------------------------------------------

def test_sync_topics_writes_the_rule_as_the_tag_rule(db):
    topic = next(t for t in load_topics() if t.slug == "distillation")
    row = db.execute("SELECT name, kind, rule FROM tags WHERE slug = 'distillation'").fetchone()
    assert tuple(row) == (topic.name, "topic", topic.query)


def test_sync_topics_removes_stale_topics_and_their_links(db):
    keep = [t for t in load_topics() if t.slug != "distillation"]
    sync_topics(db, keep)
    assert db.execute("SELECT count(*) FROM tags WHERE slug = 'distillation'").fetchone()[0] == 0
    assert not any(slug == "distillation" for slug, _ in topic_links(db))


def test_sync_topics_updates_a_changed_rule(db):
    sync_topics(db, [Topic("distillation", "Distillation", "", "title:gpipe")])
    retag(db)
    assert tagged_titles(db, "distillation") == {
        "GPipe: Efficient Training of Giant Neural Networks using Pipeline Parallelism"}


def test_sync_topics_leaves_category_tags_alone(db):
    db.execute("INSERT INTO tags(slug, name, kind) VALUES ('cs.LG', 'cs.LG', 'category')")
    sync_topics(db, [])
    assert [tuple(r) for r in db.execute("SELECT kind FROM tags")] == [("category",)]


def test_retag_is_idempotent(db):
    before = topic_links(db)
    first, second = retag(db), retag(db)
    assert first == second == len(before)
    assert topic_links(db) == before


def test_retag_returns_the_number_of_links_written(db):
    db.execute("DELETE FROM paper_tags")
    written = retag(db)
    assert written == len(topic_links(db)) > 0


def test_retag_of_some_papers_touches_only_those(db):
    changed = paper_id(db, "Calorie Aware Automatic Meal Kit")
    untouched = paper_id(db, "CulturaX:")
    for pid in (changed, untouched):
        db.execute("UPDATE papers SET abstract = abstract || ' We route tokens with a sparse "
                   "mixture of experts. Each MoE layer holds eight experts; the MoE router balances load.'"
                   " WHERE id = ?", (pid,))
    others = {link for link in topic_links(db) if link[1] not in (changed, untouched)}
    retag(db, [changed])
    links = topic_links(db)
    assert ("mixture-of-experts", changed) in links
    assert ("mixture-of-experts", untouched) not in links   # not asked for: left as it was
    assert {link for link in links if link[1] not in (changed, untouched)} == others


def test_retag_of_some_papers_drops_links_that_no_longer_match(db):
    gpipe = paper_id(db, "GPipe:")
    db.execute("UPDATE papers SET title = 'Untitled', abstract = 'Nothing to see.' WHERE id = ?",
               (gpipe,))
    retag(db, [gpipe])
    assert not any(pid == gpipe for _, pid in topic_links(db))


def test_retag_of_no_papers_writes_nothing(db):
    before = topic_links(db)
    assert retag(db, []) == 0
    assert topic_links(db) == before


def test_retag_leaves_category_links_alone(db):
    tag_id = db.execute("INSERT INTO tags(slug, name, kind) VALUES ('cs.LG', 'cs.LG', 'category') RETURNING id"
                        ).fetchone()[0]
    db.execute("INSERT INTO paper_tags(tag_id, paper_id) VALUES (?, 1)", (tag_id,))
    retag(db)
    retag(db, [1])
    assert db.execute("SELECT count(*) FROM paper_tags WHERE tag_id = ?", (tag_id,)).fetchone()[0] == 1


def test_retag_supports_rules_with_filters(db):
    gpipe = paper_id(db, "GPipe:")
    db.execute("UPDATE papers SET year = 2019 WHERE id = ?", (gpipe,))
    sync_topics(db, [Topic("old-parallelism", "Old", "", "parallelism year:..2020"),
                     Topic("year-2019", "2019", "", "year:2019")])
    retag(db)
    assert db.execute("SELECT count(*) FROM paper_tags").fetchone()[0] == 2
    assert retag(db, [gpipe, gpipe + 1]) == 2


def test_retag_leaves_the_transaction_to_the_caller(db):
    db.execute("BEGIN")
    db.execute("DELETE FROM paper_tags")
    retag(db)
    db.execute("ROLLBACK")
    assert topic_links(db)  # the delete was rolled back with the retag: nothing committed inside


def test_explain_names_the_rule_terms_a_paper_matches(db):
    terms = [t.lower() for t in explain(db, paper_id(db, "GPipe:"), "pipeline-parallelism")]
    assert "pipeline parallelism" in terms and "gpipe" in terms
    assert "pipeline bubble" not in terms


def test_explain_reports_synonyms_that_matched(db):
    terms = explain(db, paper_id(db, "AquilaMoE:"), "mixture-of-experts")
    assert {"mixture of experts", "moe"} <= {" ".join(t.lower().replace("-", " ").split()) for t in terms}


def test_explain_of_an_unknown_tag_is_empty(db):
    assert explain(db, 1, "no-such-topic") == []


@pytest.mark.sqlite_only  # the standard library's own connection type
def test_retag_works_on_a_plain_sqlite_connection(seed_template, copy_database):
    conn = sqlite3.connect(copy_database(seed_template))  # no row factory, implicit transactions
    try:
        gpipe = conn.execute("SELECT id FROM papers WHERE title LIKE 'GPipe:%'").fetchone()[0]
        assert retag(conn, [gpipe]) >= 2
        assert explain(conn, gpipe, "pipeline-parallelism")
    finally:
        conn.close()


def test_retag_judging_in_worker_processes_tags_as_judging_in_process(db, monkeypatch):
    from app import tagging

    retag(db)
    in_process = topic_links(db)
    monkeypatch.setattr(tagging, "PARALLEL_PAIRS", 1)  # the seed papers' few pairs, in workers
    monkeypatch.setattr(tagging, "WORKERS", 2)
    monkeypatch.setattr(tagging, "PAPERS_PER_TASK", 7)  # several tasks in flight, results in order
    retag(db)
    assert topic_links(db) == in_process
    assert len(in_process) > 50


def test_judges_started_ahead_tag_as_judging_in_process(db, monkeypatch):
    from app import tagging

    retag(db)
    in_process = topic_links(db)
    monkeypatch.setattr(tagging, "WORKERS", 2)
    with tagging.Judges.start(tagging.evidence_rules(db)) as judges:
        retag(db, judges=judges)
    assert topic_links(db) == in_process and len(in_process) > 50
