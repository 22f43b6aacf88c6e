"""Build the nbgrader source of quiz 1 (how LoRA works, rank, alpha, target modules) and its self-check keys.

Writes `solutions/quiz1_lora/quiz1_lora.ipynb` and `src/lorajam/assets/checks/quiz1.json`.
Release to `quizzes/` with `lorajam release` (`scripts/notebooks/release_quizzes.py` releases only the quizzes).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _quiz import Question, build_quiz  # noqa: E402
from peft import LoraConfig  # noqa: E402

from lorajam.course import REPO_ROOT  # noqa: E402

QUIZ = "quiz1"
NAME = "quiz1_lora"
RELPATH = f"solutions/{NAME}/{NAME}.ipynb"

PARAMETERS = """\
QUICK = False  # nothing in a quiz is slow; kept for the course convention
MODEL = "auto"  # the quiz loads no model
SEED = 0
"""

LAYER = """\
# One decoder layer with the shapes of SmolLM2-135M (Llama-style). Shapes only: "meta" tensors, no download.
import torch
from transformers import LlamaConfig
from transformers.models.llama.modeling_llama import LlamaDecoderLayer

config = LlamaConfig(hidden_size=576, intermediate_size=1536, num_attention_heads=9, num_key_value_heads=3,
                     num_hidden_layers=30, vocab_size=49152)
with torch.device("meta"):
    layer = LlamaDecoderLayer(config, layer_idx=0)
print(layer)
"""

ATTENTION = ["q_proj", "k_proj", "v_proj", "o_proj"]

QUESTIONS = [
    Question(
        1,
        "What does LoRA train?",
        "You wrap a pretrained weight matrix $W$ (shape $d \\times k$) with LoRA. During fine-tuning, which "
        "parameters receive gradients and optimizer updates?",
        "choice",
        'q1 = "b"',
        choices={
            "a": "All weights of the model, only with a smaller learning rate.",
            "b": "Two small matrices $B$ ($d \\times r$) and $A$ ($r \\times k$); $W$ stays frozen and the update "
            "is $\\Delta W = BA$.",
            "c": "Only the bias vectors and the norm layers.",
            "d": "A new output layer on top of the frozen model.",
        },
        explanation=(
            "LoRA (Hu et al. 2021) freezes the pretrained W and learns a low-rank update ΔW = BA, with B of "
            "shape d × r and A of shape r × k and r much smaller than d and k. Only A and B get gradients and "
            "optimizer state; the layer computes Wx + (α/r)·BAx. Option a is full fine-tuning with another "
            "learning rate, c is BitFit-style bias tuning and d is a linear probe: none of them is LoRA."
        ),
        hint="Look at the update ΔW = BA from the deck: which matrices have requires_grad=True?",
        mistakes=[("a", "Updating every weight is full fine-tuning, the thing LoRA avoids.")],
    ),
    Question(
        2,
        "The first training step",
        "Right after you add LoRA adapters and before any training step, how does the wrapped model's output "
        "compare with the original model's output (same input, dropout off)?",
        "choice",
        'q2 = "a"',
        choices={
            "a": "Identical: $B$ starts at zero, so $BA = 0$.",
            "b": "Slightly different: $A$ and $B$ both start random.",
            "c": "Identical: $A$ and $B$ both start at zero.",
            "d": "Different: LoRA multiplies $W$ by $\\alpha / r$.",
        },
        explanation=(
            "Hu et al. 2021 initialise A randomly (Gaussian; peft uses Kaiming-uniform) and B with zeros, so "
            "ΔW = BA = 0 and fine-tuning starts exactly from the pretrained model. Both at zero (c) would never "
            "learn: the gradient of B is proportional to A and the gradient of A to B, so both gradients would "
            "stay zero. With A random, B gets a non-zero gradient at the first step and the update grows from "
            "there. The scale α/r multiplies BA, never W, so d is wrong too."
        ),
        hint="Think about what BA equals when one of the two factors is a zero matrix, and which one can be.",
        mistakes=[("c", "If A and B were both zero, their gradients would both be zero: nothing would learn.")],
    ),
    Question(
        3,
        "Parameters of one adapted matrix",
        "A `q_proj` weight of Llama-2-7B is a $4096 \\times 4096$ matrix. How many **trainable parameters** "
        "does a LoRA adapter with rank $r = 8$ add to this one matrix?",
        "int",
        'from lorajam import budget\n\nq3 = budget.lora_params_per_module(budget.preset("Llama-2-7B"), 8)["q_proj"]',
        key_code='budget.lora_params_per_module(budget.preset("Llama-2-7B"), 8)["q_proj"]',
        hand="4096 * 8 + 8 * 4096",
        unit="parameters",
        explanation=(
            "B is 4096 × 8 and A is 8 × 4096, so the adapter holds 4096·8 + 8·4096 = r·(d + k) = 8 · 8,192 = "
            "65,536 parameters, against 4096 · 4096 = 16,777,216 in W itself: 0.39 % of the matrix. The count "
            "grows linearly with r, while W's count is fixed: that is where LoRA's savings come from."
        ),
        hint="Count the entries of B (d × r) and of A (r × k) and add them.",
        mistakes=[
            (32768, "That is one of the two matrices. LoRA trains both B and A."),
            (16777216, "That is the size of W itself, which LoRA keeps frozen."),
            (64, "r × r is not a LoRA matrix: B is d × r and A is r × k."),
        ],
    ),
    Question(
        4,
        "Rank of the update",
        "With $B$ of shape $4096 \\times 8$ and $A$ of shape $8 \\times 4096$, what is the **largest possible "
        "rank** of $\\Delta W = BA$?",
        "choice",
        'q4 = "b"',
        choices={"a": "4096", "b": "8", "c": "16", "d": "65,536"},
        explanation=(
            "The rank of a product is at most the smallest inner dimension: every column of BA is a combination "
            "of the 8 columns of B, so rank(BA) ≤ r = 8, even though ΔW is a full 4096 × 4096 matrix. That is "
            "the low-rank hypothesis of Hu et al. 2021: the change a task needs lives in a small subspace. A "
            "larger r lets the update express more directions, at the cost of more parameters."
        ),
        hint="Every column of BA is a linear combination of the columns of B. How many columns does B have?",
    ),
    Question(
        5,
        "Rank and alpha together",
        "peft scales the update by $\\alpha / r$: the layer computes $Wx + \\frac{\\alpha}{r} BAx$. You change "
        "`r` from 8 to 16 and keep `lora_alpha = 16`. What happens to the scale $\\alpha / r$?",
        "choice",
        'q5 = "c"',
        choices={
            "a": "It doubles, from 1 to 2.",
            "b": "It stays at 2.",
            "c": "It halves, from 2 to 1.",
            "d": "Nothing: peft ignores `lora_alpha`.",
        },
        explanation=(
            "The scale is α/r: 16/8 = 2 before and 16/16 = 1 after, so it halves. With a fixed lora_alpha, "
            "raising r quietly weakens the update, which is why people often raise α together with r (for "
            "example α = 2r keeps the scale at 2). peft uses lora_alpha in every LoRA layer's scaling "
            "(α/√r instead with use_rslora=True)."
        ),
        hint="Compute α/r before and after: 16/8 and 16/16.",
    ),
    Question(
        6,
        "A stronger update at no cost",
        "You want LoRA's update to count **twice as much**, without adding a single trainable parameter. "
        "Which single change does that?",
        "choice",
        'q6 = "b"',
        choices={
            "a": "Double `r`.",
            "b": "Double `lora_alpha`.",
            "c": "Add `k_proj` to `target_modules`.",
            "d": "Halve the learning rate.",
        },
        explanation=(
            "The scale α/r multiplies BA; doubling lora_alpha doubles it while A and B keep their shapes, so "
            "the number of trainable parameters is unchanged. Doubling r adds parameters and, with α fixed, "
            "halves the scale. A new target module adds parameters, and halving the learning rate slows "
            "learning rather than strengthening the update."
        ),
        hint="Which knob changes only the factor α/r in front of BA, not the shapes of A and B?",
        mistakes=[("a", "Doubling r doubles the trainable parameters and, with α fixed, halves the scale α/r.")],
    ),
    Question(
        7,
        "Trainable parameters of a whole model",
        "The cell below prints one of the 30 decoder layers of SmolLM2-135M. You apply LoRA with `r = 8` to "
        "`q_proj` and `v_proj` of **all 30 layers**. How many trainable parameters does the adapter have? "
        "Read the `in_features`/`out_features` of each module from the printout.",
        "int",
        'from lorajam import budget\n\nq7 = budget.lora_params(budget.preset("SmolLM2-135M"), 8, ["q_proj", "v_proj"])',
        key_code='budget.lora_params(budget.preset("SmolLM2-135M"), 8, ["q_proj", "v_proj"])',
        hand="30 * (8 * (576 + 576) + 8 * (576 + 192))",
        unit="parameters",
        before=LAYER,
        explanation=(
            "Per layer, q_proj (576 → 576) gets 8·(576 + 576) = 9,216 and v_proj (576 → 192) gets "
            "8·(576 + 192) = 6,144 parameters, 15,360 in all; times 30 layers that is 460,800, about 0.34 % of "
            "the 134.5 M parameters of SmolLM2-135M. v_proj is narrower than q_proj because the model uses "
            "grouped-query attention: 3 key/value heads of 64 dimensions share 9 query heads. peft's "
            "print_trainable_parameters() reports the same 460,800 for this configuration."
        ),
        hint="r·(in + out) per adapted module, then sum over modules and layers; v_proj is not 576 → 576.",
        mistakes=[
            (552960, "Check v_proj's out_features in the printout: it is not 576 (grouped-query attention)."),
            (15360, "That is one layer; the adapter goes into all 30 layers."),
            (276480, "That counts only the A matrices; B (out × r) is trained too."),
        ],
    ),
    Question(
        8,
        "Pick the MLP modules",
        "From the printed layer, write the `target_modules` list that puts LoRA on **every linear layer of the "
        "MLP block** (and nothing else).",
        "modules",
        'q8 = ["gate_proj", "up_proj", "down_proj"]',
        explanation=(
            "The MLP of a Llama-style layer has three nn.Linear modules: gate_proj and up_proj (576 → 1536) and "
            "down_proj (1536 → 576). mlp is the container, not a linear layer, and act_fn is an activation "
            "without weights. peft matches target_modules against the end of each module's name, so "
            "['gate_proj', 'up_proj', 'down_proj'] adapts these three modules in all 30 layers."
        ),
        hint="Only modules printed as Linear(in_features=..., out_features=...) can be LoRA targets.",
        mistakes=[
            (["mlp"], "mlp is the container module; LoRA wraps the Linear layers inside it."),
            (["gate_proj", "up_proj", "down_proj", "act_fn"], "act_fn is an activation: it has no weights."),
            (["gate_proj", "up_proj"], "One Linear layer of the MLP is missing: look at the last one."),
        ],
        wrong=[["q_proj", "v_proj"], ["gate", "up", "down"]],
    ),
    Question(
        9,
        "Names copied from another model",
        "You copy `target_modules=[\"query\", \"value\"]` from a BERT tutorial and call `get_peft_model` on "
        "the Llama-style model printed above. What happens?",
        "choice",
        'q9 = "b"',
        choices={
            "a": "peft maps them to `q_proj` and `v_proj` for you.",
            "b": "peft raises a `ValueError`: the target modules are not found in the base model.",
            "c": "Training runs, but nothing is learned, silently.",
            "d": "LoRA is applied to every linear layer instead.",
        },
        explanation=(
            "Target-module names are matched against the model's own module names, and this model has no "
            "module called query or value. When no module matches, peft refuses with a ValueError that says "
            "the target modules were not found in the base model (the course's test suite checks this against "
            "the installed peft). Always print the model (or its linear-layer names) before choosing "
            "target_modules: BERT uses query/value, Llama-style models q_proj/v_proj, GPT-2 c_attn."
        ),
        hint="peft does not translate names between architectures. What can it do when no name matches?",
    ),
    Question(
        10,
        "Write a LoraConfig",
        "Write the `LoraConfig` for a causal language model with rank **16**, an update scale "
        "$\\alpha / r = 2$, on **all four attention projections** of the printed layer. Leave the other "
        "fields at their defaults (dropout and bias are not checked).",
        "lora_config",
        'q10 = LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "k_proj", "v_proj", "o_proj"],\n'
        '                 task_type="CAUSAL_LM")',
        points=2,
        explanation=(
            "r = 16 and α/r = 2 give lora_alpha = 32. The attention block prints four Linear layers: q_proj, "
            "k_proj, v_proj and o_proj. task_type='CAUSAL_LM' tells peft to wrap the model for next-token "
            "prediction (PeftModelForCausalLM). LoraConfig(r=16, lora_alpha=32, target_modules=['q_proj', "
            "'k_proj', 'v_proj', 'o_proj'], task_type='CAUSAL_LM') is the answer; the order of the names does "
            "not matter."
        ),
        hint="lora_alpha = 2 × r; the attention block has four Linear layers; the task is next-token prediction.",
        mistakes=[
            (
                LoraConfig(r=16, lora_alpha=16, target_modules=ATTENTION, task_type="CAUSAL_LM"),
                "With lora_alpha = 16 the scale α/r is 1, not 2.",
            ),
            (
                LoraConfig(r=16, lora_alpha=32, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM"),
                "q_proj and v_proj are two of the attention projections; the question asks for all four.",
            ),
            (
                LoraConfig(r=16, lora_alpha=32, target_modules=ATTENTION),
                "Set task_type='CAUSAL_LM' so peft wraps the model for next-token prediction.",
            ),
        ],
        wrong=[
            LoraConfig(r=32, lora_alpha=64, target_modules=ATTENTION, task_type="CAUSAL_LM"),
            LoraConfig(r=16, lora_alpha=32, target_modules="all-linear", task_type="CAUSAL_LM"),
        ],
        answer_help="# Your answer: q10 = LoraConfig(r=..., lora_alpha=..., target_modules=[...], task_type=...)",
    ),
    Question(
        11,
        "What the LoRA paper reports",
        "For GPT-3 175B, what did Hu et al. 2021 report for LoRA compared with full fine-tuning with Adam?",
        "choice",
        'q11 = "b"',
        choices={
            "a": "About 90 % fewer trainable parameters, and no change in GPU memory.",
            "b": "About 10,000 times fewer trainable parameters and about 3 times less GPU memory.",
            "c": "About 3 times fewer trainable parameters and 10,000 times less GPU memory.",
            "d": "The same trainable parameters, but faster inference.",
        },
        explanation=(
            "The LoRA paper (Hu et al. 2021) reduces the trainable parameters of GPT-3 175B by about 10,000 "
            "times and the GPU memory needed for training by about 3 times, with no extra inference latency. "
            "Memory falls much less than the parameter count because the frozen weights and the activations "
            "still have to sit on the GPU; what disappears is the gradients and the Adam state of W. '90 % "
            "fewer' understates the parameter saving by three orders of magnitude."
        ),
        hint="The parameter saving and the memory saving differ by orders of magnitude: which is larger?",
        mistakes=[("c", "Swapped: the frozen weights still need memory, so memory falls far less than parameters.")],
    ),
    Question(
        12,
        "After merging",
        "Training is done and you merge the adapter into the base weights: $W \\leftarrow W + "
        "\\frac{\\alpha}{r} BA$ (`merge_and_unload()`). What does the merged model cost at inference, "
        "compared with the base model?",
        "choice",
        'q12 = "a"',
        choices={
            "a": "The same: $W$ keeps its shape, so there is no extra latency.",
            "b": "Two extra matrix multiplications per adapted layer.",
            "c": "About twice the memory.",
            "d": "More compute in proportion to $r$.",
        },
        explanation=(
            "BA has the same d × k shape as W, so W + (α/r)·BA is just another matrix of the same size: the "
            "merged model has exactly the base model's architecture, memory and speed. Hu et al. 2021 list "
            "'no additional inference latency' as an advantage over adapter layers. Unmerged, the two extra "
            "small matmuls (b) do run on every forward pass; merging removes them."
        ),
        hint="What shape does BA have, compared with W?",
        mistakes=[("b", "That is the unmerged adapter; merging folds BA into W.")],
    ),
]


def build(path: Path = REPO_ROOT / RELPATH, keys_dir: Path | None = None) -> Path:
    return build_quiz(
        QUIZ,
        RELPATH,
        path,
        "Quiz 1 · How LoRA works",
        [
            "check that you can explain what LoRA trains and why it starts from the pretrained model",
            "count LoRA's trainable parameters from a model's shapes",
            "use rank r and alpha (the scale α/r) on purpose",
            "pick target modules from a printed model and write a LoraConfig",
        ],
        PARAMETERS,
        QUESTIONS,
        keys_dir,
    )


if __name__ == "__main__":
    print(build())
