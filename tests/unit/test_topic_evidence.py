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


def test_a_title_naming_a_figurative_distillation_without_teacher_or_student_is_not_about_it():
    # "distilling statistics into a policy", "trust semantics distillation": the word, not the method
    abstract = ("Crowd simulation needs realistic agents. We condition a language-model policy on aggregate "
                "mobility statistics and calibrate it with observed flows. " + FILLER)
    assert not about("distillation", "Distilling Mobility Statistics into a Crowd Policy", abstract)
    assert about("distillation", "Distilling Large Teachers into Tiny Students",
                 "We compress a 7B teacher into a 100M student. " + FILLER)


def test_a_parallelism_listed_beside_its_siblings_does_not_count_in_the_abstract():
    abstract = ("We train a weather model on 10,000 GPUs. Our method composes window parallelism with "
                "sequence and pipeline parallelism. We compare data parallelism, intra-operator parallelism and "
                "inter-operator/pipeline parallelism on many nodes. " + FILLER)
    assert not about("pipeline-parallelism", "Scaling a Weather Transformer", abstract)
    assert not topic_evidence.listed("a pipeline-parallel design", (2, 17), ("data", "tensor"))
    assert topic_evidence.listed("data and pipeline parallelism", (9, 29), ("data", "tensor"))
    assert topic_evidence.listed("pipeline, tensor parallelism", (0, 8), ("data", "tensor"))


def test_pipelined_modules_of_an_application_are_not_pipeline_parallelism():
    # a pipeline-parallel *design* of software modules: no model split over devices anywhere
    abstract = ("Real-time dubbing chains translation, speech synthesis and lip synchronization. Our "
                "pipeline-parallel design runs the modules concurrently through message queues, and pipeline "
                "parallelism cuts end-to-end latency threefold. " + FILLER)
    assert not about("pipeline-parallelism", "Asynchronous Pipeline Parallelism for Real-Time Dubbing", abstract)


def test_pre_training_outside_language_models_is_not_language_model_pre_training():
    abstract = ("Actor-critic methods learn slowly on robots. We pre-train the critic on offline rollouts; "
                "pretraining halves the samples needed, and pre-training on simulated terrain transfers to "
                "hardware. " + FILLER)
    assert not about("pretraining", "Pretraining in Actor-Critic Learning for Robot Control", abstract)
    assert about("pretraining", "Data Mixtures for Pretraining Small Language Models",
                 "We pretrain 1B language models on 100B tokens. Pretraining data from the web is mixed by "
                 "domain; the pretraining loss falls faster. " + FILLER)


def test_agents_of_reinforcement_learning_are_not_llm_agents():
    abstract = ("Agents in cooperative games must coordinate. Each agent learns options from the relative "
                "dynamics of other agents; agents then share them. " + FILLER)
    assert not about("tool-use-and-agents", "Joint Options from Inter-Agent Dynamics", abstract)
    abstract = ("Language models can act. Our LLM agent plans, calls tools and reads the answers; the agent "
                "recovers from failed tool calls. " + FILLER)
    assert about("tool-use-and-agents", "Reliable Tool Calling", abstract)


def test_evaluating_instruction_tuned_models_is_not_instruction_tuning():
    abstract = ("We ask whether language models read meaning graphs. We evaluate instruction-tuned versions "
                "of three open models and instruction-tuned LLMs from two vendors. " + FILLER)
    assert not about("instruction-tuning", "Can LLMs Read Meaning Graphs?", abstract)


def test_lora_radio_and_lora_as_a_setting_are_not_parameter_efficient_fine_tuning():
    assert not about("parameter-efficient-fine-tuning", "Ranging with LoRa 2.4 GHz Radios Outdoors", FILLER)
    abstract = ("We study optimizers for full fine-tuning. As a side note, LoRA behaves alike. " + FILLER)
    assert not about("parameter-efficient-fine-tuning", "Full Fine-Tuning Forgets Less", abstract)


def test_vector_quantized_tokens_are_not_low_bit_quantization():
    abstract = ("Speech tokenizers use vector quantization. Our residual quantization codebook scales to "
                "large vocabularies; finite scalar quantization is compared. " + FILLER)
    assert not about("quantization", "Scaling Speech Tokenizers", abstract)


def test_consistency_distillation_named_once_beside_a_consistency_model_is_not_distillation():
    abstract = ("Consistency models sample in one step. Unlike consistency distillation, our guidance is "
                "learned post hoc from the joint flow distribution. " + FILLER)
    assert not about("distillation", "Post-Hoc Guidance for Consistency Models", abstract)


def test_a_technical_report_naming_on_policy_distillation_once_is_not_about_it():
    abstract = ("We release MT-2, a translation model for 30 languages. Training combines supervised "
                "fine-tuning, reinforcement learning and on-policy distillation from a larger teacher. "
                "MT-2 leads open models on WMT. " + FILLER)
    assert not about("distillation", "MT-2 Technical Report", abstract)


def test_data_pruning_is_not_model_pruning():
    abstract = ("Training on all data is wasteful. We score samples by attribution and prune the training "
                "data; data pruning keeps accuracy at half the cost. " + FILLER)
    assert not about("pruning-and-sparsity", "Data Pruning by Attribution", abstract)


def test_code_switching_and_codes_of_law_are_not_code_generation():
    abstract = "Bilingual speakers mix languages. We study code-switching in human-machine dialogs. " + FILLER
    assert not about("code-generation", "Strategies of Code-Switching in Dialogs", abstract)
    assert not about("code-generation", "Reasoning over Power Grid Codes",
                     "Grid codes regulate power plants. Compliance with the grid code is checked. " + FILLER)


def test_teaching_mathematics_is_not_mathematical_reasoning_of_models():
    abstract = ("Grading is slow. We test language models as teaching assistants for mathematics exam "
                "grading in two universities. " + FILLER)
    assert not about("mathematical-reasoning", "LLMs for Mathematics Exam Grading", abstract)
    assert not about("mathematical-reasoning", "Distributed Arithmetic for Neural Networks on FPGAs", FILLER)


def test_a_low_bit_rate_codec_is_not_low_bit_quantization():
    abstract = ("Video compression at ultra-low bit rate loses detail. We sample keyframes actively and "
                "decode with a diffusion model at a low bit-rate. " + FILLER)
    assert not about("quantization", "Active Sampling for Ultra-Low-Bit-Rate Video Compression", abstract)


def test_a_broad_word_in_the_title_needs_the_abstract_to_come_back_to_it():
    assert not about("meta-learning", "Meta-Learning Filtration for Interpretable Networks",
                     "We prune graph features by a learned filter. " + FILLER)
    assert about("meta-learning", "Meta-Learning for Few-Shot Adaptation",
                 "We meta-learn an initialization across tasks. Meta-learning adapts in one step, and the "
                 "meta-learned prior transfers. " + FILLER)


def test_a_title_needs_support_in_the_abstract_when_the_rule_says_so():
    evidence = topic_evidence.parse({"terms": ["widget"], "title_support": 1, "abstract": 3})
    assert not topic_evidence.judge("Widgets", FILLER, evidence)
    assert topic_evidence.judge("Widgets", "A widget helps. " + FILLER, evidence)
    assert "and the abstract once too" in topic_evidence.describe(evidence)


def test_a_topic_mentioned_once_in_the_contribution_sentence_is_not_enough_for_a_broad_topic():
    abstract = ("Context compression loses detail. We introduce paraphrasing pretraining before instruction "
                "tuning of the compressor. " + FILLER)
    assert not about("instruction-tuning", "Hybrid Context Compression", abstract)



def test_codes_of_other_fields_are_not_program_code():
    abstract = ("Channel coding protects bits on noisy links. Our deep feedback codes adapt the block length; "
                "the learned code beats LDPC codes at short lengths with a transformer encoder. " + FILLER)
    assert not about("code-generation", "Deep Variable-Length Feedback Codes", abstract)
    abstract = ("Hospitals bill with diagnosis codes. We predict ICD-10 codes from discharge notes; the "
                "code hierarchy helps rare codes. " + FILLER)
    assert not about("code-generation", "Merging Diagnosis Codes for Cost Models", abstract)


def test_code_read_by_students_is_not_code_written_by_models():
    abstract = ("Novice programmers ignore visual scaffolds. In a study with 19 undergraduates, students "
                "spent half their time on the code view; code anchors their attention, and the code and "
                "memory views were synchronized. " + FILLER)
    assert not about("code-generation", "Code as Anchor: Learner Experiences with Visualizations", abstract)


def test_code_documented_graded_or_attributed_is_not_code_written():
    abstract = ("Documentation lags behind code. Our agents read a repository and write docstrings for each "
                "function with an LLM; the code documentation is checked by a verifier. " + FILLER)
    assert not about("code-generation", "DocAgent: Automated Code Documentation Generation", abstract)
    abstract = ("Grading programs by hand is slow. We ask an LLM to grade student code in CS1 and compare "
                "its code grades with teaching assistants. " + FILLER)
    assert not about("code-generation", "Generative AI for CS1 Code Grading", abstract)

def test_a_code_completion_model_is_code_generation_without_saying_llm():
    abstract = ("We present open-weight code completion models for IDEs, pre-trained on 4T tokens of code. "
                "Context packing across files improves suggestions. " + FILLER)
    assert about("code-generation", "Contextual Code Completion in the IDE", abstract)


def test_sentence_embeddings_used_as_features_are_not_about_embeddings():
    abstract = ("Which screenplays win awards? We encode each scene and predict nominations with a "
                "gradient-boosted classifier. " + FILLER)
    assert not about("text-embeddings", "Predicting Award-Winning Screenplays with Sentence Embeddings",
                     abstract)


def test_the_text_embeddings_of_an_image_generator_are_not_text_retrieval():
    abstract = ("Unsafe prompts yield unsafe images. We steer the text embedding of the prompt at sampling "
                "time; the text embeddings move away from unsafe concepts while the text embedding of safe "
                "words is kept, with no training of the diffusion model. " + FILLER)
    assert not about("text-embeddings", "Safe Text Embedding Guidance for Text-to-Image Diffusion", abstract)


def test_reranking_in_a_recommender_is_not_text_reranking():
    abstract = ("Recommenders rank items per user. Our reranker uses a preference memory; reranking "
                "improves clicks, and the reranker runs online. " + FILLER)
    assert not about("text-embeddings", "Preference Memory for Personalized Product Recommendation Reranking",
                     abstract)


def test_test_time_scaling_of_a_sampler_is_not_chain_of_thought():
    abstract = ("We scale inference compute for video generation by searching over noise seeds with a "
                "verifier. Test-time scaling improves quality. " + FILLER)
    assert not about("chain-of-thought-reasoning", "Test-Time Scaling for Video Generation", abstract)


def test_reasoning_models_in_the_title_need_the_abstract_to_speak_of_reasoning():
    abstract = ("Social determinants of health are rarely coded. We prompt models to predict ICD-9 codes "
                "from clinical notes and compare them with classifiers. " + FILLER)
    assert not about("chain-of-thought-reasoning", "Predicting Social Determinants with Reasoning Models",
                     abstract)
    abstract = ("Reasoning models think at length before answering. We study when their long chains of "
                "thought help reasoning models on puzzles, and when they overthink. " + FILLER)
    assert about("chain-of-thought-reasoning", "When Do Reasoning Models Overthink?", abstract)


def test_sound_in_a_title_about_faces_or_dance_is_not_audio_research():
    abstract = ("Talking heads should follow the voice. We condition a video diffusion model on audio "
                "features and audio tokens; the audio sets the lip motion, the audio stream is encoded by "
                "a pretrained encoder. " + FILLER)
    assert not about("audio-and-music", "Audio-Conditioned Talking Face Generation", abstract)
    assert not about("audio-and-music", "MUSIC: Muscle-Driven Dexterous Hand Control",
                     "We learn muscle-level control of a simulated hand. " + FILLER)


def test_a_tokenizers_quantization_is_not_a_low_bit_model():
    abstract = ("Generative recommenders need item IDs. Hierarchical quantization maps items to semantic "
                "IDs; the quantization is learned jointly and quantized codes are decoded. " + FILLER)
    assert not about("quantization", "Multi-Faceted Hierarchical Quantization for Generative Recommendation",
                     abstract)


def test_datasets_a_method_is_run_on_are_not_about_building_data():
    abstract = ("Small datasets overfit. We inject noise into features during training and evaluate on "
                "three datasets. " + FILLER)
    assert not about("datasets-and-data-curation", "Noise Injection for Limited Size Datasets", abstract)
    assert not about("datasets-and-data-curation", "Stable Representations across Imbalanced Datasets",
                     "We prove a bound for contrastive learning. " + FILLER)
    abstract = "We collect and annotate 10,000 dialogues and release the dataset. " + FILLER
    assert about("datasets-and-data-curation", "DialogBank: A New Dataset of Annotated Dialogues", abstract)


def test_gnns_named_twice_as_the_baseline_family_are_not_the_subject():
    abstract = ("Traffic prediction needs spatial context. Graph neural networks are the usual choice, but "
                "GNNs are slow; we propose a deformable convolution instead. " + FILLER)
    assert not about("graph-neural-networks", "Deformable Convolution for Traffic Prediction", abstract)
    abstract = ("Estimation in generalized linear models is hard. We analyse approximate message passing and "
                "its message passing algorithm's fixed points. " + FILLER)
    assert not about("graph-neural-networks", "Spectral Initialization for Linear Models", abstract)


def test_a_title_naming_another_field_puts_the_paper_there():
    evidence = topic_evidence.parse({"terms": ["widget"], "elsewhere": ["garden*"], "abstract": 1})
    assert not topic_evidence.judge("Widgets for Gardening", "A widget. A widget. " + FILLER, evidence)
    assert topic_evidence.judge("Widgets", "A widget in the garden. " + FILLER, evidence)
    assert "title names another field: “garden…”" in topic_evidence.describe(evidence)

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


@pytest.mark.parametrize("method", ["distribution matching distillation", "variational score distillation",
                                    "progressive distillation"])
def test_few_step_diffusion_distillation_without_distil_in_the_title(method):
    abstract = (f"Diffusion models need many sampling steps. We train a one-step generator with {method} "
                "from a pretrained text-to-image model. " + FILLER)
    assert about("distillation", "One-Step Text-to-Image Generation", abstract)


def test_step_distillation_as_the_method_counts_and_as_prior_work_does_not():
    method = ("Diffusion models need many sampling steps. We train a one-step generator by progressive step "
              "distillation from a pretrained text-to-image model; the distilled generator keeps its quality, "
              "distillation takes one GPU-day, and we release the distilled weights. " + FILLER)
    assert about("distillation", "One-Step Text-to-Image Generation", method)
    prior = ("Diffusion models need many sampling steps. Previous efforts on fewer-step distillation retrain "
             "compact models at great cost. We instead add two lightweight adapters, one per denoising phase. "
             + FILLER)
    assert not about("distillation", "Fast Diffusion with Phase Adapters", prior)


def test_knowledge_distillation_named_in_the_title_is_enough():
    assert about("distillation", "Knowledge Distillation for Tiny Speech Models", FILLER)


def test_distillation_repeated_in_the_abstract_is_enough():
    abstract = ("We distill a 70B teacher model into a 1B student model. Our distillation loss matches "
                "hidden states, and the distilled student keeps 95% of the accuracy.")
    assert about("distillation", "Small Models that Reason", abstract)


def test_the_sentence_continuing_the_contribution_counts_as_the_contribution():
    abstract = ("Training needs fast interconnects. In this paper, we propose LowComm, a decentralized "
                "training framework for clusters. It combines pipeline parallelism with delayed optimizer "
                "updates. " + FILLER)
    assert about("pipeline-parallelism", "LowComm: Training on Slow Networks", abstract)


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


def test_a_context_word_must_be_present_when_the_rule_names_a_field():
    evidence = topic_evidence.parse({"terms": ["widget"], "context": ["factory"], "abstract": 1})
    assert not topic_evidence.judge("Widgets", "Widgets at home. " + FILLER, evidence)
    assert topic_evidence.judge("Widgets", "Widgets in the factory. " + FILLER, evidence)
    assert "also mentions one of “factory”" in topic_evidence.describe(evidence)


def test_siblings_are_described_on_the_tag_page():
    text = topic_evidence.describe(TOPICS["pipeline-parallelism"].evidence)
    assert "listed beside" in text and "“tensor”" in text


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
