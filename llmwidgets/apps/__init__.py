"""Chapter 6's applications, built from the pieces of chapters 2-5.

This layer may import :mod:`llmwidgets.core`, :mod:`~llmwidgets.nn`,
:mod:`~llmwidgets.text` and :mod:`~llmwidgets.training`; only the facade and the checks
import it. One job per module:

* :mod:`~llmwidgets.apps.examples` - supervised examples with the prompt side masked,
  padded, and their batcher for the Trainer;
* :mod:`~llmwidgets.apps.prompting` - the one generation loop of the applications (a
  stop token, an optional mask, no silent cropping of a long prompt);
* :mod:`~llmwidgets.apps.features` - a GPT's final hidden states and their pooling;
* :mod:`~llmwidgets.apps.constrained` - Song ci to a tune's form by constrained decoding;
* :mod:`~llmwidgets.apps.records` - synthetic match records, reference reports, fact
  checking and ROUGE; :mod:`~llmwidgets.apps.qa` - questions about them (RAG);
* :mod:`~llmwidgets.apps.search_data`, :mod:`~llmwidgets.apps.retrieval`,
  :mod:`~llmwidgets.apps.metrics` - search over the Analects: BM25, dense, hybrid;
  recall@k, MRR, hit rate@k, NDCG@k;
* :mod:`~llmwidgets.apps.recommend` - next-item recommendation on synthetic sessions;
* :mod:`~llmwidgets.apps.classify`, :mod:`~llmwidgets.apps.chat`,
  :mod:`~llmwidgets.apps.lora` - adapting chapter 3's pretrained model: a classification
  head, instruction tuning with a chat template, and LoRA.
"""

from llmwidgets.apps.chat import (
    ChatTokenizer,
    chat_example,
    chat_prompt,
    chat_reply,
    extend_vocab,
    make_dialogues,
)
from llmwidgets.apps.classify import (
    GPTClassifier,
    SpeakerData,
    classification_tensors,
    confusion_matrix,
    predict_classes,
    speaker_lines,
)
from llmwidgets.apps.constrained import (
    CiPattern,
    first_poem,
    form_kept,
    generate_constrained,
    lines_kept,
    text_form,
    tune_pattern,
    tune_patterns,
)
from llmwidgets.apps.examples import (
    IGNORE,
    RowBatcher,
    masked_example,
    pad_examples,
    prompt_answer_example,
)
from llmwidgets.apps.features import embed_texts, hidden_states, pool
from llmwidgets.apps.lora import (
    LoRALinear,
    add_lora,
    merge_lora,
    trainable_parameters,
    unmerge_lora,
)
from llmwidgets.apps.metrics import hit_rate_at_k, mrr, ndcg_at_k, recall_at_k
from llmwidgets.apps.prompting import complete, sample_tokens
from llmwidgets.apps.qa import Question, exact_match, make_questions, qa_example, qa_prompt
from llmwidgets.apps.recommend import (
    SessionConfig,
    SessionGenerator,
    next_item_scores,
    oracle_scores,
    popularity_scores,
    session_examples,
    top_items,
)
from llmwidgets.apps.records import (
    FactCheck,
    Match,
    fact_accuracy,
    fact_check,
    make_matches,
    parse_record,
    record_text,
    rouge,
    write_report,
)
from llmwidgets.apps.retrieval import (
    BM25Index,
    DenseIndex,
    HybridIndex,
    analyze,
    reciprocal_rank_fusion,
)
from llmwidgets.apps.search_data import LUNYU_QUERIES, lunyu_passages, relevant_passages

__all__ = [
    "BM25Index", "ChatTokenizer", "CiPattern", "DenseIndex", "RowBatcher", "FactCheck",
    "GPTClassifier", "HybridIndex", "IGNORE", "LUNYU_QUERIES", "LoRALinear", "Match",
    "Question", "SessionConfig", "SessionGenerator", "SpeakerData", "add_lora", "analyze",
    "chat_example", "chat_prompt", "chat_reply", "classification_tensors", "complete",
    "confusion_matrix", "embed_texts", "exact_match", "extend_vocab", "fact_accuracy", "fact_check",
    "first_poem", "form_kept", "generate_constrained", "hidden_states", "hit_rate_at_k",
    "lines_kept", "lunyu_passages", "make_dialogues", "make_matches", "make_questions",
    "masked_example", "merge_lora", "mrr", "ndcg_at_k", "next_item_scores", "oracle_scores",
    "pad_examples", "parse_record", "pool", "popularity_scores", "predict_classes",
    "prompt_answer_example", "qa_example", "qa_prompt", "recall_at_k",
    "reciprocal_rank_fusion", "record_text", "relevant_passages", "rouge", "sample_tokens",
    "session_examples", "speaker_lines", "text_form", "top_items", "trainable_parameters",
    "tune_pattern", "tune_patterns", "unmerge_lora", "write_report",
]  # fmt: skip
