"""Chapter 8's experiments: each trend and challenge of LLMs measured at small scale.

A layer of its own: it imports core, nn, text, training and seq2seq; only the facade and
the checks import it. scipy (the power-law fit) and scikit-learn (the digits) are imported
only by the functions that need them.

* :mod:`~llmwidgets.analysis.compute` - FLOPs: the 6·N·D rule, an exact count, a measurement;
* :mod:`~llmwidgets.analysis.memory` - memory of training and inference, estimated and
  measured on the CPU; "will it fit on my GPU";
* :mod:`~llmwidgets.analysis.scaling` - a sweep of GPT sizes, the power-law fit, the
  compute-optimal frontier;
* :mod:`~llmwidgets.analysis.quantize` - int8 dynamic quantisation: size, loss, speed;
* :mod:`~llmwidgets.analysis.distributed` - data-parallel training (DDP) with torchrun;
* :mod:`~llmwidgets.analysis.digits` - images as tokens: the digits, a ViT classifier;
* :mod:`~llmwidgets.analysis.memorization` - canaries, exposure, verbatim regurgitation;
* :mod:`~llmwidgets.analysis.interpret` - logit lens, induction heads, head ablation;
* :mod:`~llmwidgets.analysis.calibration` - reliability diagrams and the calibration error.
"""

from llmwidgets.analysis.calibration import (
    Reliability,
    expected_calibration_error,
    reliability,
    translation_confidence,
)
from llmwidgets.analysis.compute import (
    count_flops,
    forward_flops,
    non_embedding_params,
    six_nd,
    training_flops,
)
from llmwidgets.analysis.digits import (
    DigitsData,
    ImageBatcher,
    accuracy,
    digits_data,
    train_classifier,
)
from llmwidgets.analysis.distributed import ShardedBatcher, init_distributed, train_gpt
from llmwidgets.analysis.interpret import (
    ablate_heads,
    compare_heads,
    head_ablation_effects,
    head_attention,
    induction_scores,
    logit_lens,
    position_losses,
    repeated_tokens,
    residual_stream,
)
from llmwidgets.analysis.memorization import (
    exposure,
    insert_canaries,
    make_canaries,
    sequence_log_probs,
    verbatim_rate,
)
from llmwidgets.analysis.memory import (
    BYTES_PER_VALUE,
    MemoryEstimate,
    activation_count,
    fits_in_memory,
    inference_memory,
    measure_peak_memory,
    training_memory,
    training_step_peak,
)
from llmwidgets.analysis.quantize import (
    compare_quantized,
    forward_seconds,
    model_size,
    quantize_int8,
)
from llmwidgets.analysis.scaling import (
    PowerLaw,
    ScalingRun,
    compute_frontier,
    fit_power_law,
    run_points,
    run_sweep,
    sweep_configs,
    train_for_tokens,
)

__all__ = [
    "BYTES_PER_VALUE",
    "DigitsData",
    "ImageBatcher",
    "MemoryEstimate",
    "PowerLaw",
    "Reliability",
    "ScalingRun",
    "ShardedBatcher",
    "ablate_heads",
    "accuracy",
    "activation_count",
    "compare_heads",
    "compare_quantized",
    "compute_frontier",
    "count_flops",
    "digits_data",
    "expected_calibration_error",
    "exposure",
    "fits_in_memory",
    "fit_power_law",
    "forward_flops",
    "forward_seconds",
    "head_ablation_effects",
    "head_attention",
    "induction_scores",
    "inference_memory",
    "init_distributed",
    "insert_canaries",
    "logit_lens",
    "make_canaries",
    "measure_peak_memory",
    "model_size",
    "non_embedding_params",
    "position_losses",
    "quantize_int8",
    "reliability",
    "repeated_tokens",
    "residual_stream",
    "run_points",
    "run_sweep",
    "sequence_log_probs",
    "six_nd",
    "sweep_configs",
    "train_classifier",
    "train_for_tokens",
    "train_gpt",
    "training_flops",
    "training_memory",
    "training_step_peak",
    "translation_confidence",
    "verbatim_rate",
]
