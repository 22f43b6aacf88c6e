"""Build the nbgrader source of quiz 2 (concerns with fine-tuning) and its self-check keys.

Covers compute cost, overfitting, catastrophic forgetting, choosing r and α, and precision on a T4.
Writes `solutions/quiz2_concerns/quiz2_concerns.ipynb` and `src/lorajam/assets/checks/quiz2.json`.
Release to `quizzes/` with `lorajam release` (`scripts/notebooks/release_quizzes.py` releases only the quizzes).
"""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _quiz import Question, build_quiz  # noqa: E402
from peft import LoraConfig  # noqa: E402

from lorajam import budget  # noqa: E402
from lorajam.course import REPO_ROOT  # noqa: E402

QUIZ = "quiz2"
NAME = "quiz2_concerns"
RELPATH = f"solutions/{NAME}/{NAME}.ipynb"

PARAMETERS = """\
QUICK = False  # nothing in a quiz is slow; kept for the course convention
MODEL = "auto"  # the quiz loads no model
SEED = 0
"""

LLAMA = budget.preset("Llama-2-7B")
LLAMA_SHAPES = (
    "Llama-2-7B has 6,738,415,616 parameters in 32 decoder layers. Each layer has four attention projections "
    "`q_proj`, `k_proj`, `v_proj`, `o_proj` of shape $4096 \\times 4096$, and an MLP with `gate_proj`, "
    "`up_proj` ($4096 \\to 11008$) and `down_proj` ($11008 \\to 4096$). Units: 1 GB = $10^9$ bytes, "
    "1 MB = $10^6$ bytes."
)
EMBED_GB = budget.embedding_params(LLAMA) * 2 / 1e9  # embeddings + untied head in fp16, for the explanation
QV = ["q_proj", "v_proj"]

QUESTIONS = [
    Question(
        1,
        "Memory of full fine-tuning",
        f"{LLAMA_SHAPES}\n\nYou fine-tune **all** parameters of Llama-2-7B with AdamW in fp32: every parameter "
        "has an fp32 weight (4 bytes), an fp32 gradient (4 bytes) and AdamW's two fp32 moment estimates "
        "(8 bytes). Ignoring activations, how many **GB** does that take?",
        "sig",
        "from lorajam import budget\n\n"
        'est = budget.memory("Llama-2-7B", "full", precision="fp32", optimizer="adamw")\n'
        "q1 = (est.weights + est.gradients + est.optimizer) / 1e9",
        key_code='sum(budget.memory("Llama-2-7B", "full", precision="fp32").parts()[k] '
        'for k in ("weights", "gradients", "optimizer")) / 1e9',
        hand="6_738_415_616 * (4 + 4 + 8) / 1e9",
        unit="GB",
        explanation=(
            "Each parameter costs 4 + 4 + 8 = 16 bytes, so 6,738,415,616 × 16 = 107,814,649,856 bytes ≈ 108 GB "
            "before a single activation is stored: more than an 80 GB A100 holds. Mixed precision does not "
            "help much: fp16 weights and gradients (2 + 2 bytes) plus the fp32 master copy (4) and AdamW's "
            "moments (8) are again 16 bytes per parameter. That is the compute-cost concern of the deck: full "
            "fine-tuning of a 7B model needs several GPUs or memory tricks."
        ),
        hint="Bytes per parameter (weight + gradient + two moments) times the number of parameters, then / 1e9.",
        mistakes=[
            (26.95, "That is the fp32 weights alone; training also stores a gradient and two AdamW moments."),
            (53.91, "You counted weights and gradients; AdamW adds two more fp32 numbers per parameter."),
            (13.48, "That is the fp16 weights alone, the size of the model for inference."),
        ],
    ),
    Question(
        2,
        "Where LoRA saves memory",
        "LoRA fine-tuning of the same model needs far less GPU memory than full fine-tuning. Where does most "
        "of the saving come from?",
        "choice",
        'q2 = "b"',
        choices={
            "a": "The frozen base weights no longer need to be on the GPU.",
            "b": "Gradients and optimizer state exist only for the small $A$ and $B$ matrices; the frozen weights "
            "still sit on the GPU.",
            "c": "Activations no longer need to be stored for the backward pass.",
            "d": "LoRA trains in 4-bit precision.",
        },
        explanation=(
            "Without gradients and AdamW moments for W, the 12 bytes per parameter that full fine-tuning spends "
            "on them (see Q1) shrink to the adapter's few million parameters. The frozen weights must still be "
            "on the GPU for the forward pass, and the activations still have to be kept to back-propagate "
            "through the whole network to A and B. That is why the LoRA paper reports about 3 times less GPU "
            "memory for GPT-3 175B while the trainable parameters fall about 10,000 times (Hu et al. 2021). "
            "4-bit base weights are QLoRA, not LoRA."
        ),
        hint="Which of weights, gradients, optimizer state and activations belong only to trainable parameters?",
        mistakes=[("a", "The forward pass multiplies by W at every step, so W must stay in memory.")],
    ),
    Question(
        3,
        "Size of an adapter",
        f"{LLAMA_SHAPES}\n\nYou train LoRA with `r = 16` on **all seven** linear layers (`q_proj`, `k_proj`, "
        "`v_proj`, `o_proj`, `gate_proj`, `up_proj`, `down_proj`) of all 32 layers and store the adapter in "
        "**fp16** (2 bytes per parameter). How many **MB** is the adapter?",
        "sig",
        "from lorajam import budget\n\n"
        'q3 = budget.lora_params(budget.preset("Llama-2-7B"), 16, budget.ALL_MODULES) * 2 / 1e6',
        key_code='budget.lora_params(budget.preset("Llama-2-7B"), 16, budget.ALL_MODULES) * 2 / 1e6',
        hand="32 * 16 * (4 * (4096 + 4096) + 3 * (4096 + 11008)) * 2 / 1e6",
        unit="MB",
        explanation=(
            "Per layer: each attention projection gets 16·(4096 + 4096) = 131,072 parameters (× 4 = 524,288) "
            "and each MLP projection 16·(4096 + 11008) = 241,664 (× 3 = 724,992), 1,249,280 in all; × 32 layers "
            "= 39,976,960 parameters, × 2 bytes = 79,953,920 bytes ≈ 80.0 MB, against 13.5 GB for the fp16 base "
            "model. This is why one base model can serve many tasks: each task is a small file. peft keeps "
            "adapter weights in fp32 by default, so the saved file is about twice as large unless you cast it."
        ),
        hint="r·(in + out) for each of the 7 modules, summed, times 32 layers, times 2 bytes, / 1e6.",
        mistakes=[
            (159.9, "That is 4 bytes per parameter (fp32); the question stores the adapter in fp16."),
            (39.98, "That is the number of parameters in millions; multiply by 2 bytes each."),
        ],
    ),
    Question(
        4,
        "How QLoRA fits a 65B model",
        "QLoRA (Dettmers et al. 2023) fine-tuned a 65B-parameter model on a single 48 GB GPU. How?",
        "choice",
        'q4 = "a"',
        choices={
            "a": "The frozen base weights are stored in 4-bit NormalFloat (NF4); LoRA adapters are trained in 16-bit "
            "and gradients flow through the quantised weights into them.",
            "b": "Only the last layer of the model is trained.",
            "c": "Everything, adapters included, is trained in 4-bit.",
            "d": "All weights stay in CPU memory and are streamed to the GPU layer by layer.",
        },
        explanation=(
            "QLoRA quantises the frozen base model to 4-bit NF4 (with double quantisation of the quantisation "
            "constants and paged optimizers for memory spikes), dequantises each weight on the fly to 16-bit for "
            "the matrix multiplications, and trains ordinary 16-bit LoRA adapters by back-propagating through "
            "the frozen 4-bit weights. 65B parameters at about half a byte each are roughly 33 GB, which leaves "
            "room on a 48 GB GPU for adapters, optimizer state and activations (Dettmers et al. 2023)."
        ),
        hint="Which part of the model is quantised, and which part is trained?",
        mistakes=[("c", "The adapters are trained in 16-bit; only the frozen base weights are 4-bit.")],
    ),
    Question(
        5,
        "4-bit base weights",
        f"{LLAMA_SHAPES}\n\nQLoRA stores the linear layers of the 32 decoder layers in 4-bit, i.e. **0.5 bytes "
        "per parameter**. Ignoring quantisation constants and everything outside those linear layers, how many "
        "**GB** do they take?",
        "sig",
        "from lorajam import budget\n\n"
        'llama = budget.preset("Llama-2-7B")\n'
        "q5 = llama.n_layers * budget.block_linear_params(llama) * 0.5 / 1e9",
        key_code='budget.preset("Llama-2-7B").n_layers * budget.block_linear_params(budget.preset("Llama-2-7B")) '
        "* 0.5 / 1e9",
        hand="32 * (4 * 4096 * 4096 + 3 * 4096 * 11008) * 0.5 / 1e9",
        unit="GB",
        explanation=(
            "One layer holds 4 · 4096 · 4096 + 3 · 4096 · 11008 = 202,375,168 linear weights; × 32 = "
            "6,476,005,376, and at 0.5 bytes each that is 3,238,002,688 bytes ≈ 3.24 GB, against 12.95 GB in "
            "fp16. The real footprint is a little larger: NF4 keeps one scale per block of 64 weights (about "
            "0.127 bit per parameter with double quantisation), and the embeddings and output head stay in "
            f"16-bit, another {EMBED_GB:.2f} GB for Llama-2-7B (Dettmers et al. 2023)."
        ),
        hint="Count the linear weights of one layer from the shapes, times 32 layers, times 0.5 bytes, / 1e9.",
        mistakes=[
            (12.95, "That is 2 bytes per parameter (fp16); 4-bit is half a byte."),
            (3.37, "That counts all 6.74 B parameters; the question asks only for the decoder's linear layers."),
        ],
    ),
    Question(
        6,
        "Overfitting",
        "You fine-tune on 300 examples for 5 epochs. The training loss keeps falling, but the validation loss "
        "is lowest after epoch 2 and rises after that. What is the best first response?",
        "choice",
        'q6 = "b"',
        choices={
            "a": "Train for more epochs until the validation loss comes back down.",
            "b": "Keep the checkpoint with the lowest validation loss (early stopping) and train for fewer "
            "epochs; more data or a smaller r also help.",
            "c": "Raise the learning rate so the model leaves the bad region faster.",
            "d": "Raise r to 256 so the model can fit the data better.",
        },
        explanation=(
            "Falling training loss with rising validation loss is the signature of overfitting: the model "
            "memorises the 300 training examples instead of learning what generalises. Stop where the "
            "validation loss was lowest (load_best_model_at_end in the Trainer, or simply fewer epochs), and "
            "reduce capacity or add data. A larger r or learning rate makes memorising easier, and more epochs "
            "make it worse, not better."
        ),
        hint="Which curve tells you how the model does on data it has not seen?",
        mistakes=[("d", "A larger r gives the model more capacity to memorise: the gap would grow.")],
    ),
    Question(
        7,
        "LoRA and forgetting",
        "Biderman et al. 2024 (*LoRA Learns Less and Forgets Less*) compared LoRA with full fine-tuning on code "
        "and math. What did they find?",
        "choice",
        'q7 = "a"',
        choices={
            "a": "LoRA learned the new domain less well than full fine-tuning, and forgot less of the base "
            "model's other abilities.",
            "b": "LoRA learned more and forgot more than full fine-tuning.",
            "c": "LoRA removes catastrophic forgetting entirely.",
            "d": "No difference between the two.",
        },
        explanation=(
            "The title says it: LoRA learns less and forgets less (Biderman et al. 2024). On code and math, "
            "full fine-tuning reached higher target-domain scores, while LoRA better kept the base model's "
            "performance on tasks outside the target domain. Forgetting is reduced, not removed: a LoRA run "
            "can still lose general abilities, so measure it."
        ),
        hint="The paper's title answers it.",
        mistakes=[("c", "Less forgetting is not none: LoRA runs can still forget, so measure it.")],
    ),
    Question(
        8,
        "Noticing forgetting",
        "How can you notice catastrophic forgetting in your own fine-tuning run?",
        "choice",
        'q8 = "b"',
        choices={
            "a": "From the training loss alone.",
            "b": "Evaluate the model on general prompts or tasks that are *not* in the fine-tuning data, "
            "before and after fine-tuning, and compare.",
            "c": "From the size of the adapter file.",
            "d": "It cannot be measured.",
        },
        explanation=(
            "Forgetting is about abilities the fine-tuning data does not exercise, so the training loss (and a "
            "validation set drawn from the same data) cannot show it. Keep a fixed set of general questions or "
            "a benchmark from outside the new task, score the base model once, and score every fine-tuned "
            "checkpoint on it: a drop is forgetting. Notebook 03 of the course measures retention this way."
        ),
        hint="Forgetting concerns what the model knew before; where would you have to look to see it go?",
    ),
    Question(
        9,
        "Choosing r",
        "You have a few hundred examples that teach the model a response style. What is a sensible first "
        "choice of rank?",
        "choice",
        'q9 = "a"',
        choices={
            "a": "A small r such as 8 or 16; raise it only if the model underfits.",
            "b": "r = 1024, to be safe.",
            "c": "Full fine-tuning: it is always better than LoRA.",
            "d": "The largest r that fits in memory, because a larger r always gives better results.",
        },
        explanation=(
            "A style change on a few hundred examples needs little capacity, and a small r trains fast, stores "
            "a small adapter and leaves less room to memorise the examples. Start with r = 8 or 16 and look at "
            "the validation loss: raise r (or add target modules) if the model underfits. A larger r is not "
            "always better (it overfits small data sets sooner), and full fine-tuning costs far more memory and, "
            "in Biderman et al. 2024, forgot more of the base model's abilities."
        ),
        hint="Match the capacity to the size of the data and of the change you want.",
        mistakes=[("d", "A larger r adds capacity to memorise: on a few hundred examples it overfits sooner.")],
    ),
    Question(
        10,
        "Keep the scale when you change r",
        "A run with `r = 8` and `lora_alpha = 16` worked well. You now try `r = 32` and want the **same scale** "
        "$\\alpha / r$. Which `lora_alpha` do you set?",
        "int",
        "from lorajam import budget\n\nq10 = budget.scaling(8, 16) * 32",
        key_code="budget.scaling(8, 16) * 32",
        hand="16 / 8 * 32",
        unit="lora_alpha",
        explanation=(
            "The scale was 16 / 8 = 2, so at r = 32 you need α = 2 · 32 = 64. Keeping α = 16 would drop the "
            "scale to 16 / 32 = 0.5, four times weaker, and you would be changing two things at once (capacity "
            "and update strength). Scaling α with r keeps experiments with different ranks comparable; rsLoRA "
            "(use_rslora=True) instead scales by α/√r."
        ),
        hint="First compute the old scale α/r, then solve α / 32 = that scale.",
        mistakes=[
            (16, "Keeping α = 16 gives 16/32 = 0.5, a quarter of the old scale."),
            (128, "128 / 32 = 4: twice the old scale."),
        ],
    ),
    Question(
        11,
        "Precision on a T4",
        "On a Colab T4 GPU (compute capability 7.5), `torch.cuda.is_bf16_supported()` may print `True`. Which "
        "`TrainingArguments` precision setting should you use there?",
        "choice",
        'q11 = "b"',
        choices={
            "a": "`bf16=True`, since torch says bf16 is supported.",
            "b": "`fp16=True, bf16=False`: the T4 has no native bf16.",
            "c": "Neither: a T4 cannot train at all.",
            "d": "`fp16=True, bf16=True`, to get the best of both.",
        },
        explanation=(
            "Native bf16 arrives with compute capability 8.0 (Ampere and newer: A100, RTX 30xx, L4, H100); "
            "the T4 is Turing, compute capability 7.5. torch can emulate bf16 there, which is why the check may "
            "say True, but it is slow, so on a T4 train in fp16 with loss scaling (fp16=True; the Trainer adds "
            "the gradient scaler). lorajam.runtime picks fp16 on a T4 for you. The Trainer rejects fp16 and "
            "bf16 together, and fp32 training works on a T4 too, only slower and with twice the memory."
        ),
        hint="Look up the compute capability that native bf16 needs, and compare it with the T4's 7.5.",
        mistakes=[("a", "is_bf16_supported() can count emulation: the T4 (7.5) has no native bf16 units.")],
    ),
    Question(
        12,
        "A smaller adapter after overfitting",
        "A run with `r = 64`, `lora_alpha = 128` on all seven linear layers overfit your 300 examples. Write the "
        "`LoraConfig` for the next try: a causal LM, `r = 8`, the **same scale** $\\alpha / r$ as before, on "
        "`q_proj` and `v_proj` only (dropout and bias are not checked).",
        "lora_config",
        'q12 = LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "v_proj"], task_type="CAUSAL_LM")',
        points=2,
        explanation=(
            "The old scale is 128 / 64 = 2, so r = 8 needs lora_alpha = 16: LoraConfig(r=8, lora_alpha=16, "
            "target_modules=['q_proj', 'v_proj'], task_type='CAUSAL_LM'). With an 8 times smaller rank on two "
            "modules instead of seven, the adapter has a small fraction of the old parameters and much less room "
            "to memorise 300 examples, while the update keeps the strength that worked. Keeping "
            "lora_alpha = 128 at r = 8 would make the scale 16, eight times stronger: a different experiment."
        ),
        hint="Old scale = 128 / 64. Keep it at r = 8. Task: next-token prediction.",
        mistakes=[
            (
                LoraConfig(r=8, lora_alpha=128, target_modules=QV, task_type="CAUSAL_LM"),
                "You kept lora_alpha = 128: at r = 8 the scale α/r becomes 16, eight times the old one.",
            ),
            (
                LoraConfig(r=8, lora_alpha=16, target_modules=QV),
                "Set task_type='CAUSAL_LM' so peft wraps the model for next-token prediction.",
            ),
        ],
        wrong=[LoraConfig(r=8, lora_alpha=16, target_modules=["q_proj", "k_proj", "v_proj"], task_type="CAUSAL_LM")],
        answer_help="# Your answer: q12 = LoraConfig(r=..., lora_alpha=..., target_modules=[...], task_type=...)",
    ),
    Question(
        13,
        "Compute per training step",
        "LoRA cuts the trainable parameters by orders of magnitude. Does each training step get cheaper in "
        "compute by the same factor?",
        "choice",
        'q13 = "b"',
        choices={
            "a": "Yes: a step costs compute in proportion to the trainable parameters.",
            "b": "No: every step still runs the forward pass and back-propagates activations through the whole "
            "frozen model; the saving is mainly memory, with a moderate speed-up.",
            "c": "No: LoRA steps always cost more than full fine-tuning steps.",
            "d": "Yes: the frozen layers are skipped in the backward pass.",
        },
        explanation=(
            "The forward pass multiplies by every frozen W, and the backward pass must still carry gradients "
            "with respect to the activations through every layer to reach the adapters in the early layers. "
            "What LoRA drops is the gradient with respect to W itself and the optimizer update of W, so a step "
            "gets somewhat cheaper, not thousands of times cheaper: Hu et al. 2021 report about 25 % faster "
            "training for GPT-3 175B, next to 10,000 times fewer trainable parameters."
        ),
        hint="To reach an adapter in layer 1, which layers must the backward pass go through?",
        mistakes=[("d", "Adapters sit in every layer, so the backward pass must go through all of them.")],
    ),
]


def build(path: Path = REPO_ROOT / RELPATH, keys_dir: Path | None = None) -> Path:
    return build_quiz(
        QUIZ,
        RELPATH,
        path,
        "Quiz 2 · Concerns with fine-tuning",
        [
            "estimate the memory of full fine-tuning, LoRA and QLoRA from a model's shapes",
            "recognise overfitting and catastrophic forgetting, and what to do about them",
            "choose r and α on purpose, and keep α/r fixed when you change r",
            "pick the right precision on a Colab T4",
        ],
        PARAMETERS,
        QUESTIONS,
        keys_dir,
    )


if __name__ == "__main__":
    print(build())
