"""A topic tag needs evidence that the paper is about the topic, not a mention.

Each case is a small made-up paper with the shape of a false positive or a false
negative seen on the real corpus, judged against the rules in app/topics.toml.
"""

import pytest

from app import topic_evidence
from app.tagging import load_topics

TOPICS = {t.slug: t for t in load_topics()}


def about(slug: str, title: str, abstract: str) -> bool:
    return bool(topic_evidence.judge(title, abstract, TOPICS[slug].evidence))


FILLER = "We evaluate on standard benchmarks. Results improve over strong baselines. Code is released."

# --- false positives ---------------------------------------------------------------

def test_a_phrase_does_not_run_across_a_colon():
    abstract = ("We build a two-stage pipeline: parallel token-level search then reranking. "
                "A second pipeline: parallel decoding of candidates. " + FILLER)
    assert not about("pipeline-parallelism", "Fast Search for Reasoning", abstract)


def test_a_phrase_does_not_run_across_a_comma_or_parenthesis():
    abstract = ("We study loop pipelining, parallelism across kernels and memory banks. "
                "Our compiler pipeline (parallel passes) is open. " + FILLER)
    assert not about("pipeline-parallelism", "A High-Level Synthesis Compiler", abstract)


def test_a_data_pipeline_is_not_pipeline_parallelism():
    abstract = ("We present a data pipeline for cleaning web text at scale, with pipeline stages for "
                "deduplication and filtering. " + FILLER)
    assert not about("pipeline-parallelism", "CleanWeb: A Data Pipeline for Pretraining Corpora", abstract)


def test_a_negated_distillation_does_not_count():
    abstract = ("We train compact models without expensive knowledge distillation. Unlike prior work, "
                "no distillation from a teacher model is needed, and we avoid distilling logits. " + FILLER)
    assert not about("distillation", "Compact Models from Scratch", abstract)


def test_distillation_free_does_not_count():
    abstract = "Our distillation-free recipe matches distilled models. It is distillation-free. " + FILLER
    assert not about("distillation", "A Simple Recipe", abstract)


def test_a_method_merely_named_distill_is_not_distillation():
    abstract = ("DistillKV evicts KV-cache entries by attention scores, cutting memory by half. "
                "DistillKV needs no training. " + FILLER)
    assert not about("distillation", "DistillKV: Attention-Guided KV-Cache Eviction", abstract)


def test_figurative_distilling_once_is_not_distillation():
    abstract = ("We interview 40 practitioners about annotation. Finally, we distill design "
                "implications for annotation tools. " + FILLER)
    assert not about("distillation", "How Practitioners Annotate Data", abstract)


def test_expertise_and_human_experts_are_not_mixture_of_experts():
    abstract = ("Clinical expertise is scarce. We ask human experts and domain experts to rate answers; "
                "expert annotators agree. " + FILLER)
    assert not about("mixture-of-experts", "Expert Evaluation of Medical Chatbots", abstract)


def test_moe_in_passing_is_not_about_mixture_of_experts():
    abstract = ("We propose a calibration method for reward models. Experiments cover dense and MoE "
                "models of several sizes. " + FILLER)
    assert not about("mixture-of-experts", "Calibrating Reward Models", abstract)


def test_a_person_called_moe_is_not_a_mixture():
    assert not about("mixture-of-experts", "Moe's Guide to Query Optimizers",
                     "We study join ordering. Moe Kayali helped. " + FILLER)


def test_random_network_distillation_is_an_exploration_bonus_not_distillation():
    abstract = ("We cluster clients by novelty measured with random network distillation. Random network "
                "distillation scores each client's data. Random Network Distillation needs no labels. " + FILLER)
    assert not about("distillation", "Novelty-Driven Clustering with Random Network Distillation", abstract)


def test_a_model_released_as_r1_distill_is_not_distillation():
    abstract = ("We study adaptive thinking in R1-style distilled models such as DeepSeek-R1-Distill-Qwen-7B. "
                "On R1-Distill-Llama-8B and DeepSeek-R1-Distill-Qwen-1.5B, a prompt change halves tokens. " + FILLER)
    assert not about("distillation", "Learning When to Think", abstract)


def test_a_product_of_experts_is_not_a_mixture_of_experts():
    abstract = ("A mixture-of-product-of-experts posterior fuses modalities. The product of experts "
                "combines the encoders' densities; the product-of-experts prior is learned. " + FILLER)
    assert not about("mixture-of-experts", "Multimodal Variational Autoencoders for Imaging", abstract)


def test_an_moe_model_named_once_in_the_opening_sentence_is_not_about_it():
    abstract = ("We release Falcon-X, a 30B Mixture-of-Experts language model for finance. We describe its "
                "data, tokenizer and evaluation on financial tasks. " + FILLER)
    assert not about("mixture-of-experts", "Falcon-X Technical Report", abstract)


def test_pipeline_parallelism_listed_once_among_parallelisms_is_not_about_it():
    abstract = ("Checkpoints of large models are slow to write. We present an asynchronous checkpointing "
                "library for transformers. It composes with data, tensor and pipeline parallelism. " + FILLER)
    assert not about("pipeline-parallelism", "Scalable Checkpointing for Transformers", abstract)


# --- false negatives ---------------------------------------------------------------

def test_pipeline_parallelism_named_in_the_contribution_sentence_is_enough():
    abstract = ("Training spans many clusters. Our proposed framework, utilizing pipeline parallel techniques, "
                "scales across clusters without fast interconnects. " + FILLER)
    assert about("pipeline-parallelism", "Training Across Heterogeneous Clusters", abstract)


def test_mixture_of_low_rank_experts_is_mixture_of_experts():
    assert about("mixture-of-experts", "Mixture of Low-Rank Experts for Multi-Task Adaptation", FILLER)


def test_a_name_ending_in_moe_is_mixture_of_experts():
    for title in ("DeepSeekMoE: Towards Expert Specialization", "SwitchMoE for Vision",
                  "Training HyperMoEs Efficiently"):
        assert about("mixture-of-experts", title, FILLER), title


def test_a_name_ending_in_moe_is_matched_case_sensitively():
    assert not about("mixture-of-experts", "Shoemoe: Footwear Recommendation", FILLER)


def test_mixture_of_experts_in_the_abstract_several_times_is_enough():
    abstract = ("Sparse mixture-of-experts layers route each token to two experts. Our router balances "
                "load across MoE layers. The resulting MoE matches dense quality at a third of the cost.")
    assert about("mixture-of-experts", "Balanced Routing for Sparse Models", abstract)


def test_a_pipelined_training_system_without_the_exact_phrase_is_pipeline_parallelism():
    abstract = ("We present a system for pipelined model parallelism across GPUs. It shrinks the "
                "pipeline bubble with an interleaved 1F1B schedule. " + FILLER)
    assert about("pipeline-parallelism", "FlowTrain: Fast Training of Giant Models", abstract)


def test_a_name_of_a_pipeline_system_counts_in_the_title():
    assert about("pipeline-parallelism", "Revisiting GPipe on Commodity Clusters", FILLER)


@pytest.mark.parametrize("method", ["consistency distillation", "distribution matching distillation",
                                    "variational score distillation", "progressive step distillation"])
def test_few_step_diffusion_distillation_without_distil_in_the_title(method):
    abstract = (f"Diffusion models need many sampling steps. We train a one-step generator with {method} "
                "from a pretrained text-to-image model. " + FILLER)
    assert about("distillation", "One-Step Text-to-Image Generation", abstract)


def test_knowledge_distillation_named_in_the_title_is_enough():
    assert about("distillation", "Knowledge Distillation for Tiny Speech Models", FILLER)


def test_distillation_repeated_in_the_abstract_is_enough():
    abstract = ("We distill a 70B teacher model into a 1B student model. Our distillation loss matches "
                "hidden states, and the distilled student keeps 95% of the accuracy.")
    assert about("distillation", "Small Models that Reason", abstract)


# --- the mechanism -----------------------------------------------------------------

def test_judge_returns_the_mentions_as_written():
    found = topic_evidence.judge("DeepSeekMoE at Scale", FILLER, TOPICS["mixture-of-experts"].evidence)
    assert found == ["DeepSeekMoE"]


def test_an_opening_sentence_mention_is_enough_when_the_rule_says_so():
    evidence = topic_evidence.parse({"terms": ["widget"], "abstract": 3, "lead": True})
    assert topic_evidence.judge("A Paper", "Widgets are useful. " + FILLER, evidence)
    assert not topic_evidence.judge("A Paper", "Results hold. A widget helps here. More. " + FILLER, evidence)


def test_a_title_mention_is_not_enough_when_the_rule_says_so():
    evidence = topic_evidence.parse({"terms": ["widget"], "title": False, "abstract": 2, "lead": False})
    assert not topic_evidence.judge("Widget", FILLER, evidence)


def test_an_exclusion_hides_the_mention_it_contains():
    evidence = topic_evidence.parse({"terms": ["pipeline"], "exclude": ["data pipeline"], "abstract": 1})
    assert not topic_evidence.judge("A Data Pipeline", "", evidence)
    assert topic_evidence.judge("A Pipeline", "", evidence)


@pytest.mark.parametrize("data, problem", [
    ({"terms": []}, "terms"), ({"terms": ["x"], "weight": 2}, "unknown"),
    ({"terms": ["x"], "abstract": -1}, "0 or more"), ({"terms": ["* x"]}, "lone"),
])
def test_parse_rejects_a_broken_rule(data, problem):
    with pytest.raises(ValueError, match=problem):
        topic_evidence.parse(data)


def test_the_rule_survives_a_round_trip_through_the_database_text():
    evidence = TOPICS["distillation"].evidence
    assert topic_evidence.from_json(evidence.to_json()) == evidence


def test_describe_says_when_a_paper_is_tagged():
    text = topic_evidence.describe(TOPICS["mixture-of-experts"].evidence)
    assert "title" in text and "3 times" in text and "“…MoE”" in text
