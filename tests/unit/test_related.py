"""Related papers by content: the paper's rarest shared terms, scored over every paper of
any date, boosted by shared topics and authors, each with its reason."""

import json

import pytest

from app import papers
from app.db import connect
from app.engine import get_engine
from app.related import related_papers

TARGET = {"id": "2602.00001", "title": "Decoder-based Sense Knowledge Distillation for Lexical Semantics",
          "abstract": "Word sense embeddings from lexical dictionaries are distilled into a decoder. Sense "
                      "inventories and gloss embeddings guide the student decoder.",
          "authors": ["Ada Lovelace", "Alan Turing"], "published": "2026-02-27", "categories": ["cs.CL"]}
OLD_TWIN = {"id": "1905.00001", "title": "Sense Embeddings from Lexical Dictionaries",
            "abstract": "We learn word sense embeddings from glosses of lexical dictionaries and sense inventories.",
            "authors": ["Grace Hopper"], "published": "2019-05-01", "categories": ["cs.CL"]}
SAME_AUTHOR = {"id": "2501.00002", "title": "Gloss Embeddings for Word Sense Disambiguation",
               "abstract": "Gloss embeddings from dictionaries disambiguate each word sense.",
               "authors": ["Alan Turing"], "published": "2025-01-10", "categories": ["cs.CL"]}
# The same week as the target, sharing only words every paper uses.
NEWER = [{"id": f"2602.001{i:02d}", "title": f"Sequential Recommendation with Transformers {i}",
          "abstract": "We study a decoder for recommendation. The word model improves results on benchmarks.",
          "authors": ["Someone Else"], "published": "2026-02-26", "categories": ["cs.IR"]} for i in range(12)]


def loaded(database, tmp_path, records):
    """A connection to a catalogue of these records."""
    from app.ingest import ingest
    source = tmp_path / "papers.jsonl"
    source.write_text("\n".join(json.dumps(r) for r in records) + "\n", encoding="utf-8")
    conn = connect(database)
    _, status = ingest(conn, [str(source)], fmt="jsonl", source="test", quiet=True)
    assert status == 0
    return conn


@pytest.fixture
def catalogue(database, tmp_path):
    conn = loaded(database, tmp_path, [TARGET, OLD_TWIN, SAME_AUTHOR, *NEWER])
    yield conn
    conn.close()


def key_to_id(conn, key):
    return conn.execute("SELECT id FROM papers WHERE key = ?", (key,)).fetchone()[0]


def test_similar_scores_every_paper_sharing_enough_terms_whatever_its_date(catalogue):
    terms = {"lexical": 3.0, "dictionaries": 2.0, "inventories": 1.0}
    found = get_engine().similar(catalogue, terms, 10)
    by_id = {paper: (score, words) for paper, score, words in found}
    assert by_id[key_to_id(catalogue, "1905.00001")] == (6.0, ("lexical", "dictionaries", "inventories"))
    assert key_to_id(catalogue, "2602.00100") not in by_id   # shares none of them


def test_similar_leaves_out_excluded_papers_and_those_sharing_too_few_terms(catalogue):
    target = key_to_id(catalogue, "2602.00001")
    found = get_engine().similar(catalogue, {"student": 1.0, "inventories": 1.0}, 10, exclude=[target])
    assert [paper for paper, _, _ in found] == []             # no other paper has both
    found = get_engine().similar(catalogue, {"student": 1.0, "inventories": 1.0}, 10, min_shared=1)
    assert target in {paper for paper, _, _ in found}


def test_related_papers_find_the_old_paper_on_the_same_problem_first(catalogue):
    related = related_papers(papers.paper_by_key("2602.00001"))
    keys = [r.hit.key for r in related]
    assert keys[:2] in (["1905.00001", "2501.00002"], ["2501.00002", "1905.00001"])
    assert not any(key.startswith("2602.001") for key in keys)  # common words are no relation


def test_a_shared_author_is_a_reason_and_a_boost(catalogue):
    related = {r.hit.key: r for r in related_papers(papers.paper_by_key("2602.00001"))}
    assert related["2501.00002"].authors == ["Alan Turing"]
    assert "also by Alan Turing" in related["2501.00002"].reason
    assert "shares" in related["1905.00001"].reason and "lexical" in related["1905.00001"].reason


# Two papers share the same two words with the target; one is about them, the other uses
# them once on the way to another subject (which a third paper shares, so its words count).
GAZE = {"id": "2603.00001", "title": "Gaze Stabilization in Egocentric Video",
        "abstract": "Gaze stabilization for egocentric video with fixational eye movements.",
        "authors": ["Ada Lovelace"], "published": "2026-03-01", "categories": ["cs.CV"]}
IN_PASSING = {"id": "2401.00001", "title": "Spectral Kernels for Rotor Diagnostics",
              "abstract": "Fixational gaze data enter a spectral kernel regression over bearings, turbines, "
                          "vibration spectra, gearbox faults and rotor diagnostics.",
              "authors": ["Grace Hopper"], "published": "2024-01-01", "categories": ["eess.SP"]}
ABOUT_IT = {"id": "2402.00001", "title": "Fixational Gaze Drift in Egocentric Recordings",
            "abstract": "Fixational gaze drift measured again: the small eye movements between saccades"
                        " that gaze stabilization must correct in egocentric recordings.",
            "authors": ["Edsger Dijkstra"],
            "published": "2024-02-01", "categories": ["cs.CV"]}
ROTORS = {"id": "2403.00001", "title": "Rotor Diagnostics with Spectral Kernels",
          "abstract": "Spectral kernel regression over bearings, turbines, vibration spectra and gearbox faults.",
          "authors": ["Barbara Liskov"], "published": "2024-03-01", "categories": ["eess.SP"]}


@pytest.fixture
def gaze_catalogue(database, tmp_path):
    conn = loaded(database, tmp_path, [GAZE, IN_PASSING, ABOUT_IT, ROTORS, *NEWER])
    yield conn
    conn.close()


def test_a_paper_about_the_shared_words_ranks_above_one_using_them_in_passing(gaze_catalogue):
    keys = [r.hit.key for r in related_papers(papers.paper_by_key("2603.00001"))]
    assert "2402.00001" in keys
    assert "2401.00001" not in keys[:keys.index("2402.00001")]   # below it, or not shown at all


# Papers that use two of the target's words on the way to subjects of their own.
PASSING = [{"id": f"2404.000{i:02d}", "title": f"{subject} with Spectral Kernels",
            "abstract": f"Fixational gaze data enter a {subject.lower()} pipeline over {detail}.",
            "authors": ["Barbara Liskov"], "published": "2024-04-01", "categories": ["stat.AP"]}
           for i, (subject, detail) in enumerate([
               ("Rotor Diagnostics", "bearings, turbines, vibration spectra and gearbox faults"),
               ("Crop Yield Forecasting", "soil moisture, rainfall, satellite imagery and fertiliser"),
               ("Credit Scoring", "loan defaults, repayment histories, ledgers and bank statements"),
               ("Protein Folding", "residue contacts, backbone torsions, side chains and solvents"),
               ("Traffic Routing", "intersections, congestion, signal timing and vehicle queues"),
               ("Seismic Inversion", "wavefields, reflectors, shot gathers and velocity models"),
               ("Music Transcription", "onsets, chords, pitch contours and drum hits"),
               ("Legal Retrieval", "statutes, precedents, court rulings and contracts")])]


def test_a_paper_with_few_true_neighbours_shows_those_not_six_that_merely_share_words(
        database, tmp_path):
    loaded(database, tmp_path, [GAZE, ABOUT_IT, *PASSING, *NEWER]).close()
    keys = [r.hit.key for r in related_papers(papers.paper_by_key("2603.00001"))]
    assert keys == ["2402.00001"]


def test_the_likeliest_two_are_shown_more_readily_than_the_others(database, tmp_path, monkeypatch):
    from app import related
    loaded(database, tmp_path, [GAZE, ABOUT_IT, *PASSING, *NEWER]).close()
    page = papers.paper_by_key("2603.00001")
    monkeypatch.setattr(related, "FIRST_LIKELIHOOD", 0.001)
    monkeypatch.setattr(related, "MIN_LIKELIHOOD", 0.001)
    every = [r.hit.key for r in related_papers(page)]
    assert len(every) >= 3
    monkeypatch.setattr(related, "MIN_LIKELIHOOD", 0.999)   # only the first two's floor is low
    assert [r.hit.key for r in related_papers(page)] == every[:2]
    monkeypatch.setattr(related, "FIRST_SHOWN", 1)
    assert [r.hit.key for r in related_papers(page)] == every[:1]


def test_words_that_recur_in_their_papers_weigh_more_than_words_of_prose():
    from app.related import _burstiness
    prose, subject = _burstiness(3000, 3050), _burstiness(3000, 6500)   # "indeed" against "gaze"
    assert prose < 0.2 < 1.0 < subject
    # A term seen in a handful of papers leans to the typical ratio, whatever its few counts say.
    assert 0.2 < _burstiness(3, 3) < _burstiness(3, 9) < 1.5   # alone they would say 0 (floor 0.1), log2(3)


def test_warm_reads_the_vocabulary_before_the_first_paper_page_asks(catalogue):
    from app import related
    from app.search.catalogue import catalogue as catalogue_of
    from app.settings import get_settings
    memo = catalogue_of(catalogue).vocabulary
    memo.clear()
    related.warm()
    lexical = get_engine().analyze("lexical")[0]          # as the index stems it
    assert memo.peek("terms")[lexical] == (2, 4)           # two papers, in title and abstract each


def test_similar_keeps_each_terms_papers_in_the_cache_it_is_given_and_answers_the_same(catalogue):
    from app.search.catalogue import Memo
    terms = {"lexical": 3.0, "dictionaries": 2.0, "inventories": 1.0, "student": 0.5}
    cache = Memo(1 << 20, getsizeof=lambda ids: ids.nbytes)
    plain = get_engine().similar(catalogue, terms, 10)
    assert get_engine().similar(catalogue, terms, 10, cache=cache) == plain
    kept = cache.peek("lexical")
    assert sorted(kept) == sorted(key_to_id(catalogue, k) for k in ("2602.00001", "1905.00001"))
    assert not kept.flags.writeable                           # shared by every request
    assert get_engine().similar(catalogue, terms, 10, cache=cache) == plain
    assert cache.peek("lexical") is kept                      # read once, not walked again


def test_a_paper_added_later_is_found_although_the_terms_were_walked_before(database, tmp_path, catalogue):
    target = papers.paper_by_key("2602.00001")
    assert "2602.00777" not in {r.hit.key for r in related_papers(target)}
    twin = {**OLD_TWIN, "id": "2602.00777", "title": "Lexical Sense Inventories from Dictionaries"}
    loaded(database, tmp_path, [twin]).close()                # a new state of the database
    assert "2602.00777" in {r.hit.key for r in related_papers(target)}


# A title's phrase is stronger evidence than its two words apart: these two candidates use
# the same words, one writing the phrase, the other not (and the lower id, first on a tie).
DISTIL = {"id": "2605.00001", "title": "Knowledge Distillation for Speech Recognition",
          "abstract": "Knowledge distillation trains compact students for speech recognition.",
          "authors": ["Ada Lovelace"], "published": "2026-05-01"}
WORDS_APART = {"id": "2405.00001", "title": "Compact Students for Speech",
               "abstract": "Distillation trains compact students for speech recognition with knowledge.",
               "authors": ["Grace Hopper"], "published": "2024-05-01"}
PHRASE = {"id": "2405.00002", "title": "Compact Students for Speech",
          "abstract": "Knowledge distillation trains compact students for speech recognition.",
          "authors": ["Barbara Liskov"], "published": "2024-05-02"}


# Enough other papers that the phrase's words are rare (a phrase of two words in a third of
# the catalogue would say nothing).
MANY_NEWER = [{**NEWER[0], "id": f"2602.002{i:02d}", "title": f"Sequential Recommendation {i}"} for i in range(40)]


def test_a_paper_writing_the_titles_phrase_ranks_above_one_with_its_words_apart(database, tmp_path):
    loaded(database, tmp_path, [DISTIL, WORDS_APART, PHRASE, *MANY_NEWER]).close()
    related = related_papers(papers.paper_by_key("2605.00001"))
    assert [r.hit.key for r in related][:2] == ["2405.00002", "2405.00001"]
    assert related[0].reason.startswith("shares knowledge distillation, speech recognition")  # the phrases first
    assert "distillation" in related[1].reason and "knowledge distillation" not in related[1].reason


# A paper sharing words of the abstract only, none of the title's subject, ranks below one on
# the title's subject, however many more words it shares: they are on the way to another subject.
EMBEDDING = {"id": "2606.00001", "title": "Pair Selection for Multimodal Embedding",
             "abstract": "Multimodal embedding models learn from pairs. A counterfactual shortcut analysis"
                         " of chat assistants finds visual laziness, hallucinated grounding and blind"
                         " confidence; it selects the pairs.",
             "authors": ["Ada Lovelace"], "published": "2026-06-01"}
SAME_SUBJECT = {"id": "2406.00001", "title": "Multimodal Embedding with Hard Negatives",
                "abstract": "Multimodal embedding models trained on pairs with hard negatives.",
                "authors": ["Grace Hopper"], "published": "2024-06-01"}
ABSTRACT_ONLY = {"id": "2406.00002", "title": "Visual Laziness",
                 "abstract": "A counterfactual shortcut analysis of chat assistants finds visual laziness,"
                             " hallucinated grounding and blind confidence.",
                 "authors": ["Barbara Liskov"], "published": "2024-06-02"}


def test_a_paper_on_the_titles_subject_ranks_above_one_sharing_more_words_of_the_abstract(database, tmp_path):
    loaded(database, tmp_path, [EMBEDDING, SAME_SUBJECT, ABSTRACT_ONLY, *NEWER]).close()
    keys = [r.hit.key for r in related_papers(papers.paper_by_key("2606.00001"))]
    assert keys[0] == "2406.00001"
