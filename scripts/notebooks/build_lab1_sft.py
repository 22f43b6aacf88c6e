"""Build solutions/lab1_sft/lab1_sft.ipynb (nbgrader source) and release labs/lab1_sft.ipynb (student version).

Lab 1: supervised fine-tuning with LoRA. Seven graded exercises (names and signatures are a contract: the tests
in tests/test_lab1.py and the hidden tests in the notebook call them). Each exercise has a visible test cell and a
hidden test cell; the hidden tests sit between `### BEGIN HIDDEN TESTS` / `### END HIDDEN TESTS` and are removed
from the student version by nbgrader.

Usage: `python scripts/notebooks/build_lab1_sft.py [--no-release]`.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import nbformat

from lorajam.course import REPO_ROOT, code, header_cells, md, write_notebook

ASSIGNMENT = "lab1_sft"
RELPATH = f"solutions/{ASSIGNMENT}/{ASSIGNMENT}.ipynb"
RELEASE_RELPATH = f"labs/{ASSIGNMENT}.ipynb"

# grade_id -> points of every graded test cell (the tests check the notebook against this table).
POINTS: dict[str, int] = {
    "ex1_lora_param_count_visible": 1,
    "ex1_lora_param_count_hidden": 1,
    "ex2_format_example_visible": 1,
    "ex2_format_example_hidden": 1,
    "ex3_tokenize_with_labels_visible": 2,
    "ex3_tokenize_with_labels_hidden": 2,
    "ex4_find_linear_module_names_visible": 1,
    "ex4_find_linear_module_names_hidden": 1,
    "ex5_make_lora_config_visible": 1,
    "ex5_make_lora_config_hidden": 1,
    "ex6_count_trainable_parameters_visible": 1,
    "ex6_count_trainable_parameters_hidden": 1,
    "ex7_training_outcome_visible": 3,
    "ex7_training_outcome_hidden": 1,
}


def _nbgrader(grade_id: str, *, grade: bool, solution: bool, locked: bool, points: int | None = None) -> dict:
    meta = {"grade": grade, "grade_id": grade_id, "locked": locked, "schema_version": 3, "solution": solution,
            "task": False}
    if grade:
        meta["points"] = points
    return {"nbgrader": meta}


def answer(source: str, grade_id: str) -> nbformat.NotebookNode:
    """An autograded-answer cell: the student writes the code between the solution markers."""
    return code(source, **_nbgrader(grade_id, grade=False, solution=True, locked=False))


def tests(source: str, grade_id: str) -> nbformat.NotebookNode:
    """A locked autograder-test cell worth `POINTS[grade_id]`."""
    return code(source, **_nbgrader(grade_id, grade=True, solution=False, locked=True, points=POINTS[grade_id]))


def readonly(source: str, grade_id: str) -> nbformat.NotebookNode:
    """A locked code cell: restored from the source version when the notebook is graded."""
    return code(source, **_nbgrader(grade_id, grade=False, solution=False, locked=True))


def hidden(note: str, body: str) -> str:
    """Source of a hidden-test cell: a comment students see, the tests only the grader runs."""
    return f"# Hidden tests run when your notebook is graded: {note}\n### BEGIN HIDDEN TESTS\n{body.strip()}\n" \
           "### END HIDDEN TESTS"


PARAMETERS = """\
QUICK = False  # True in CI: the adapter goes to a temporary folder (the graded training run is the same)
MODEL = "auto"  # "auto": SmolLM2-135M on a Colab GPU, jam-tiny on CPU, offline and when graded
SEED = 0
LORA_R = 8  # rank of the update BA
LORA_ALPHA = 16  # scale alpha / r = 2
TARGET_MODULES = ["q_proj", "v_proj"]  # where LoRA goes (exercise 4 lists the choices)
MAX_LENGTH = 64  # tokens per example: prompt + response + eos, then padding
MAX_STEPS = None  # None: sized for your runtime (see "Train"); try more or fewer
LEARNING_RATE = None  # None: 3e-3 for jam-tiny, 1e-3 for a Hub model
"""

BANNER = """\
if runtime.autograding():
    MODEL = "auto"  # the grader always runs offline on CPU with jam-tiny, whatever MODEL says
rt = runtime.setup(MODEL, seed=SEED)"""

INTRO = """\
## How this lab works

You will fine-tune a language model to answer short questions in a fixed format, with LoRA (Hu et al. 2021,
[arXiv:2106.09685](https://arxiv.org/abs/2106.09685)): the pretrained weights stay frozen and a small low-rank
update is trained next to them.

There are **7 graded exercises**. Write your code where it says `YOUR CODE HERE` (delete the
`raise NotImplementedError()` line), then run the test cell under it: a silent cell means the visible tests pass,
an `AssertionError` tells you what is wrong. When your notebook is graded, *hidden tests* check edge cases too,
and the whole notebook runs again offline on CPU with `jam-tiny`, so make sure it runs top to bottom.

Expect about 1–2 minutes on a laptop CPU (`jam-tiny`) and about 5 minutes on a Colab T4 (SmolLM2-135M).
"""

IMPORTS = """\
import os

os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")  # no fork warnings from the tokenizer

import tempfile
import time
import warnings
from collections import Counter
from pathlib import Path

import matplotlib.pyplot as plt
import torch
import transformers
from datasets import load_dataset
from peft import LoraConfig, PeftModel, get_peft_model
from torch import nn
from transformers import Trainer, TrainingArguments

from lorajam.data import instruction_data_files, instruction_examples, probe_facts
from lorajam.train import (
    CHAT_TEMPLATE,
    IGNORE_INDEX,
    PROMPT_TEMPLATE,
    exact_match,
    format_prompt,
    generate_answers,
)

transformers.logging.set_verbosity_error()  # keep the notebook readable: errors still show
warnings.filterwarnings("ignore", category=FutureWarning)  # deprecation notices inside the libraries
if (QUICK or runtime.autograding()) and rt.device == "cpu":
    torch.set_num_threads(1)  # CI and graders share their CPU cores: with one thread torch never waits for a busy one
print(f"torch {torch.__version__}, transformers {transformers.__version__}, {torch.get_num_threads()} CPU thread(s)")"""

HELPERS = """\
# Helpers for the test cells (read-only). Results are turned into plain Python values before they are compared,
# so a check compares real numbers and strings; noisy library output (progress bars, warnings) is kept out of
# the test cells, so a test fails only for a real reason.
import contextlib
import enum
import io
import numbers
import warnings

from lorajam.train import format_example as reference_format_example


def as_int(value, what="the result"):
    assert isinstance(value, numbers.Integral) and not isinstance(value, bool), \\
        f"{what} must be an int, got {type(value).__name__}: {value!r}"
    return int(value)


def as_str(value, what="the result"):
    if isinstance(value, enum.Enum):
        value = value.value
    assert isinstance(value, str), f"{what} must be a str, got {type(value).__name__}: {value!r}"
    return str.__str__(value)


def as_list(value, what="the result"):
    assert isinstance(value, (list, tuple)), \\
        f"{what} must be a plain list, got {type(value).__name__} (a tensor? use .tolist())"
    return list(value)


def as_int_list(value, what="the result"):
    return [as_int(v, f"every item of {what}") for v in as_list(value, what)]


@contextlib.contextmanager
def quiet():
    \"\"\"Run code without warnings or stderr output (both would fail a graded cell).\"\"\"
    with warnings.catch_warnings(), contextlib.redirect_stderr(io.StringIO()):
        warnings.simplefilter("ignore")
        yield


@contextlib.contextmanager
def graded_alone(**reference):
    \"\"\"Swap in reference versions of earlier exercises, so each exercise is graded on its own.\"\"\"
    namespace = globals()
    saved = {name: namespace.get(name) for name in reference}
    namespace.update(reference)
    try:
        yield
    finally:
        namespace.update(saved)


def first_difference(got, expected):
    for i, (g, e) in enumerate(zip(got, expected, strict=False)):
        if g != e:
            return f"position {i}: expected {e}, got {g}"
    return f"lengths differ: expected {len(expected)}, got {len(got)}"
"""

# ---------------------------------------------------------------- exercise 1
EX1_MD = r"""
## Exercise 1 — how many parameters does LoRA train?

LoRA leaves a weight matrix $W$ (shape `d_out x d_in`) frozen and learns an update $\Delta W = BA$ with
$A$: `r x d_in` and $B$: `d_out x r`. The layer computes $Wx + \frac{\alpha}{r} BAx$.

Write `lora_param_count(d_in, d_out, r)`: the number of trainable parameters LoRA adds to **one** such matrix.
Example: a 4096 x 4096 attention projection (Llama-2-7B) with r = 8 gets 65,536 trainable parameters instead of
16,777,216.
"""

EX1_ANSWER = """\
def lora_param_count(d_in: int, d_out: int, r: int) -> int:
    \"\"\"Trainable parameters LoRA adds to one d_out x d_in weight: A is r x d_in, B is d_out x r.\"\"\"
    ### BEGIN SOLUTION
    return r * (d_in + d_out)
    ### END SOLUTION"""

EX1_VISIBLE = """\
got = as_int(lora_param_count(4096, 4096, 8), "lora_param_count(4096, 4096, 8)")
assert got == 65_536, f"lora_param_count(4096, 4096, 8) should be 65,536 (A: 8 x 4096, B: 4096 x 8), got {got:,}"
got = as_int(lora_param_count(576, 576, 16), "lora_param_count(576, 576, 16)")
assert got == 18_432, f"lora_param_count(576, 576, 16) should be 18,432, got {got:,}"
print("Exercise 1: visible tests passed")"""

EX1_HIDDEN = hidden("non-square matrices (d_in != d_out), r = 1.", """
for d_in, d_out, r in [(576, 192, 8), (2048, 5632, 16), (1, 1, 1), (10, 3, 2)]:
    got = as_int(lora_param_count(d_in, d_out, r), f"lora_param_count({d_in}, {d_out}, {r})")
    assert got == r * d_in + d_out * r, f"lora_param_count({d_in}, {d_out}, {r}) = {got}: A is r x d_in, B is d_out x r"
""")

EX1_USE = """\
layer = next(m for name, m in model.named_modules() if name.endswith("q_proj"))
d_in, d_out = layer.in_features, layer.out_features
lora = lora_param_count(d_in, d_out, LORA_R)
print(f"one q_proj of {rt.model_name}: {d_out} x {d_in} = {d_in * d_out:,} weights; LoRA r={LORA_R} trains "
      f"{lora:,} ({lora / (d_in * d_out):.1%})")"""

# ---------------------------------------------------------------- data and base model
DATA_MD = """
## The data and the base model

The instruction data set has short questions in several tasks (capitals, continents, opposites, animal sounds,
sums, ...). It is split **by entity**: a country in the test split never appears in training, so the test score
measures whether the model learned the *format* and can still recall what it knew from pretraining, not whether it
memorised answers. Expect a few hundred training examples over all tasks, and fewer in validation and test.
"""

DATA_LOAD = """\
raw = load_dataset("json", data_files=instruction_data_files())
print(raw)
train_examples, validation_examples, test_examples = (list(raw[split]) for split in ("train", "validation", "test"))
print("tasks in the test split:", dict(Counter(ex["task"] for ex in test_examples)))
for ex in train_examples[:3]:
    print(f"  {ex['instruction']!r} -> {ex['response']!r}")"""

BASE_KNOWS_MD = """
The base model was only pretrained: it continues text. It already *knows* facts, if you ask in the way it read
them. Expect correct completions here (on `jam-tiny`; a Hub model knows most of them too):
"""

BASE_KNOWS = """\
test_entities = {ex.get("entity", "").split(":", 1)[-1] for ex in test_examples}
facts = [f for f in probe_facts() if f.family == "capital" and f.entity in test_entities][:5]
completions = generate_answers(model, tokenizer, [f.prompt for f in facts], max_new_tokens=4)
for fact, completion in zip(facts, completions, strict=True):
    print(f"{fact.prompt!r:40} -> {completion!r:14} (fact: {fact.answer})")"""

BASE_SCORE_MD = """
But asked in the instruction format, the base model has no idea that an answer should follow the prompt's
last line. Its test-split **exact match** (the greedy answer, up to the end of the line, equals the
response) is low. Expect well under 30%:
"""

BASE_SCORE = """\
base_score, base_predictions = exact_match(model, tokenizer, test_examples, return_predictions=True)
print(f"base model, test-split exact match: {base_score:.1%}")
for ex, pred in list(zip(test_examples, base_predictions, strict=True))[:5]:
    print(f"  {ex['instruction']!r:45} expected {ex['response']!r:12} got {pred!r}")"""

BASE_SCORE_AFTER = "The model knows the facts but not the format. Supervised fine-tuning teaches the format."

# ---------------------------------------------------------------- exercise 2
TEMPLATE_MD = """
## A prompt template, and why the answer keeps its leading space

Every training example becomes a prompt (the instruction in a fixed template) followed by the response. This
course uses one template everywhere, `lorajam.train.PROMPT_TEMPLATE`:
"""

TEMPLATE_SHOW = """\
print(PROMPT_TEMPLATE)
print("---")
print(format_prompt("What is the capital of Peru?") + " Lima")"""

SPACE_MD = """
The model read "The capital of Peru is Lima." in pretraining, so its token for the answer is `" Lima"` **with the
leading space**. `"Lima"` after a newline is a different token sequence that the model never saw after a
question. Look at the tokens:
"""

SPACE_SHOW = """\
for text in (" Lima", "Lima", "\\nLima"):
    print(f"{text!r:10} -> {tokenizer.tokenize(text)}")"""

SPACE_AFTER = """\
Common mistake: putting the response on a new line after the prompt (`prompt + "\\nLima"`). The model then has to learn new
tokens for every answer, and on held-out countries it often cannot: it never saw `"\\nLima"` in pretraining.
"""

EX2_MD = """
### Exercise 2 — `format_example`

Write `format_example(example) -> (prompt, response)` for a record with `instruction` and `response` fields:

- `prompt` is `PROMPT_TEMPLATE` filled with the instruction (surrounding whitespace stripped);
- `response` is the response text (stripped) with **one leading space**: `"Lima"` becomes `" Lima"`.

Other fields (`task`, `split`, ...) are ignored. The end-of-sequence token is added later, at tokenisation.
"""

EX2_ANSWER = """\
def format_example(example: dict) -> tuple[str, str]:
    \"\"\"(prompt, response) texts for a record with 'instruction' and 'response' fields.\"\"\"
    ### BEGIN SOLUTION
    prompt = PROMPT_TEMPLATE.format(instruction=example["instruction"].strip())
    response = " " + example["response"].strip()
    return prompt, response
    ### END SOLUTION"""

EX2_VISIBLE = """\
result = format_example({"instruction": "What is the capital of Peru?", "response": "Lima"})
assert isinstance(result, tuple) and len(result) == 2, "format_example must return a tuple (prompt, response)"
prompt, response = as_str(result[0], "the prompt"), as_str(result[1], "the response")
expected_prompt = PROMPT_TEMPLATE.format(instruction="What is the capital of Peru?")
assert prompt == expected_prompt, f"use PROMPT_TEMPLATE: expected {expected_prompt!r}, got {prompt!r}"
assert response == " Lima", f"the response keeps one leading space (' Lima', as in pretraining), got {response!r}"
print("Exercise 2: visible tests passed")"""

EX2_HIDDEN = hidden("whitespace around instruction and response, extra fields, other tasks.", """
cases = [
    ({"instruction": "  What is 2 plus 3?  ", "response": " 5\\n", "task": "sum", "split": "train"},
     (PROMPT_TEMPLATE.format(instruction="What is 2 plus 3?"), " 5")),
    ({"instruction": "What is the opposite of hot?", "response": "cold"},
     (PROMPT_TEMPLATE.format(instruction="What is the opposite of hot?"), " cold")),
    ({"response": "Lima", "instruction": "\\nName the capital city of Peru.\\n"},
     (PROMPT_TEMPLATE.format(instruction="Name the capital city of Peru."), " Lima")),
]
for example, (expected_prompt, expected_response) in cases:
    with quiet():
        result = format_example(dict(example))
    assert isinstance(result, tuple) and len(result) == 2, "format_example must return a tuple (prompt, response)"
    prompt, response = as_str(result[0], "the prompt"), as_str(result[1], "the response")
    assert prompt == expected_prompt, f"{example}: expected prompt {expected_prompt!r}, got {prompt!r}"
    assert response == expected_response, f"{example}: expected response {expected_response!r}, got {response!r}"
for example in instruction_examples("validation")[:20]:
    with quiet():
        result = format_example(dict(example))
    assert (as_str(result[0]), as_str(result[1])) == reference_format_example(example), example
""")

CHAT_MD = """
### The same text with the tokenizer's chat template

Chat models store their prompt format in the tokenizer as a *chat template* (a small Jinja program), and
`tokenizer.apply_chat_template` renders a conversation with it. The course's chat template
(`lorajam.train.CHAT_TEMPLATE`) renders exactly the text of `format_example`, with the beginning-of-sequence token
in front and the end-of-sequence token after the answer. A Hub model comes with its own template, so we set ours:
the template must match the one used for training, at training *and* at inference.
"""

CHAT_SHOW = """\
if tokenizer.chat_template != CHAT_TEMPLATE:
    print("this tokenizer had another chat template: using the course template")
    tokenizer.chat_template = CHAT_TEMPLATE
example = train_examples[0]
conversation = [{"role": "user", "content": example["instruction"]}, {"role": "assistant", "content": example["response"]}]
chat_text = tokenizer.apply_chat_template(conversation, tokenize=False)
print(chat_text)
prompt, response = format_example(example)
assert chat_text == (tokenizer.bos_token or "") + prompt + response + tokenizer.eos_token
print("chat template text == bos + prompt + response + eos: OK")"""

# ---------------------------------------------------------------- exercise 3
EX3_MD = """
## Tokenise with labels: teach the answer, not the question

A causal language model is trained to predict every next token. For SFT we only want the loss on the **answer**:
the `labels` are a copy of the token ids where every position that should not be learned is set to `-100`
(`IGNORE_INDEX`, which PyTorch's cross-entropy skips). The model shifts labels by one position itself, so
`labels[i]` is simply the id at position `i`.

Common mistake: forgetting to mask the prompt. The loss then also rewards predicting the *questions*, which
are most of the tokens, so the answers get only a small share of what the model learns.

### Exercise 3 — `tokenize_with_labels`

Write `tokenize_with_labels(example, tokenizer, max_length) -> dict` returning `input_ids`, `attention_mask` and
`labels`, each a plain list of `max_length` ints:

1. `prompt, response = format_example(example)`;
2. prompt ids: `tokenizer(prompt)["input_ids"]` (this adds the beginning-of-sequence token if the tokenizer uses
   one); response ids: `tokenizer(response, add_special_tokens=False)["input_ids"]` followed by
   `tokenizer.eos_token_id`, so the model learns to stop;
3. `input_ids` = prompt ids + response ids, **cut from the end** to at most `max_length` (the prompt stays whole
   whenever it fits);
4. `labels`: `-100` for every prompt token, the token id for every response token (eos included);
5. pad to `max_length`: `input_ids` with `tokenizer.pad_token_id`, `labels` with `-100`;
   `attention_mask` is 1 on real tokens and 0 on padding.
"""

EX3_ANSWER = """\
def tokenize_with_labels(example: dict, tokenizer, max_length: int) -> dict:
    \"\"\"input_ids, attention_mask and labels (lists of max_length ints); labels are -100 on prompt and padding.\"\"\"
    ### BEGIN SOLUTION
    prompt, response = format_example(example)
    prompt_ids = tokenizer(prompt)["input_ids"]
    response_ids = tokenizer(response, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
    input_ids = (prompt_ids + response_ids)[:max_length]
    labels = ([IGNORE_INDEX] * len(prompt_ids) + response_ids)[:max_length]
    n_pad = max_length - len(input_ids)
    return {
        "input_ids": input_ids + [tokenizer.pad_token_id] * n_pad,
        "attention_mask": [1] * len(input_ids) + [0] * n_pad,
        "labels": labels + [IGNORE_INDEX] * n_pad,
    }
    ### END SOLUTION"""

EX3_VISIBLE = """\
example = {"instruction": "What is the capital of Peru?", "response": "Lima"}
with graded_alone(format_example=reference_format_example), quiet():
    row = tokenize_with_labels(dict(example), tokenizer, 48)
assert isinstance(row, dict), f"return a dict, got {type(row).__name__}"
missing = {"input_ids", "attention_mask", "labels"} - set(row)
assert not missing, f"the dict needs the keys {sorted(missing)}"
ids = as_int_list(row["input_ids"], "input_ids")
mask = as_int_list(row["attention_mask"], "attention_mask")
labels = as_int_list(row["labels"], "labels")
assert len(ids) == len(mask) == len(labels) == 48, \\
    f"all three lists must have max_length=48 items, got {len(ids)}, {len(mask)}, {len(labels)}"

prompt_ids = tokenizer(format_prompt(example["instruction"]))["input_ids"]
answer_ids = tokenizer(" Lima", add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
n_prompt, n_real = len(prompt_ids), len(prompt_ids) + len(answer_ids)
assert ids[:n_real] == prompt_ids + answer_ids, \\
    "input_ids must be the prompt ids, then the response ids, then eos: " + first_difference(ids, prompt_ids + answer_ids)
assert ids[n_real:] == [tokenizer.pad_token_id] * (48 - n_real), "pad input_ids with tokenizer.pad_token_id"
assert mask == [1] * n_real + [0] * (48 - n_real), "attention_mask: 1 on prompt and response tokens, 0 on padding"
assert labels[:n_prompt] == [-100] * n_prompt, \\
    f"mask every prompt token with -100 (the first {n_prompt} labels); " + first_difference(labels, [-100] * n_prompt)
assert labels[n_prompt:n_real] == answer_ids, \\
    "labels of the response must be its token ids, eos included: " + \\
    first_difference(labels[n_prompt:n_real], answer_ids) + " (counting from the first response token)"
assert labels[n_real:] == [-100] * (48 - n_real), "padding labels must be -100"
print("Exercise 3: visible tests passed")"""

EX3_HIDDEN = hidden("pad token == eos token, exact fit, a response or a prompt too long for max_length.", """
import copy


def expected_row(example, tok, max_length):
    prompt, response = reference_format_example(example)
    p = tok(prompt)["input_ids"]
    r = tok(response, add_special_tokens=False)["input_ids"] + [tok.eos_token_id]
    ids, lab = (p + r)[:max_length], ([-100] * len(p) + r)[:max_length]
    n = max_length - len(ids)
    return {"input_ids": ids + [tok.pad_token_id] * n, "attention_mask": [1] * len(ids) + [0] * n,
            "labels": lab + [-100] * n}


def check(example, tok, max_length, why):
    with graded_alone(format_example=reference_format_example), quiet():
        row = tokenize_with_labels(dict(example), tok, max_length)
    want = expected_row(example, tok, max_length)
    for key in ("input_ids", "attention_mask", "labels"):
        got = as_int_list(row[key], key)
        assert got == want[key], f"{why}: {key} wrong, " + first_difference(got, want[key])


pad_is_eos = copy.deepcopy(tokenizer)
pad_is_eos.pad_token = pad_is_eos.eos_token  # many Hub tokenizers have no pad token
peru = {"instruction": "What is the capital of Peru?", "response": "Lima"}
check(peru, pad_is_eos, 40, "pad token == eos token: the eos after the answer is still learned")
n_fit = len(tokenizer(format_prompt(peru["instruction"]))["input_ids"]) + len(
    tokenizer(" Lima", add_special_tokens=False)["input_ids"]) + 1
check(peru, tokenizer, n_fit, "prompt + response + eos fill max_length exactly (no padding)")
check({"instruction": "Say it.", "response": " ".join(["Lima"] * 40)}, tokenizer, 24,
      "response longer than max_length: cut from the end, the prompt stays whole")
check({"instruction": " ".join(["word"] * 60), "response": "Lima"}, tokenizer, 16,
      "prompt longer than max_length: keep its first max_length tokens, every label -100")
for example in instruction_examples("test")[:10]:
    check(example, tokenizer, 64, f"data set example {example['instruction']!r}")
""")

EX3_SHOW_MD = "Look at one tokenised example: the prompt tokens carry label `-100`, the answer and eos carry their ids."

EX3_SHOW = """\
row = tokenize_with_labels(train_examples[0], tokenizer, MAX_LENGTH)
n_real = sum(row["attention_mask"])
for token_id, label in zip(row["input_ids"][:n_real], row["labels"][:n_real], strict=True):
    print(f"{tokenizer.decode([token_id])!r:14} id {token_id:6d}  label {label}")
print(f"... then {MAX_LENGTH - n_real} padding positions with label {IGNORE_INDEX}")
assert row["labels"][0] == IGNORE_INDEX and row["labels"][n_real - 1] == tokenizer.eos_token_id"""

TOKENIZE_ALL_MD = """
Now tokenise every split with your function. `max_length` must hold the longest example: check that no answer
was cut off.
"""

TOKENIZE_ALL = """\
tokenized = raw.map(tokenize_with_labels, fn_kwargs={"tokenizer": tokenizer, "max_length": MAX_LENGTH},
                    remove_columns=raw["train"].column_names, load_from_cache_file=False)
longest = max(sum(row) for split in tokenized.values() for row in split["attention_mask"])
print(tokenized)
print(f"longest example: {longest} tokens (MAX_LENGTH = {MAX_LENGTH})")
assert longest < MAX_LENGTH, "some examples were truncated: raise MAX_LENGTH"
share = sum(label != -100 for row in tokenized["train"]["labels"] for label in row) / sum(
    sum(row) for row in tokenized["train"]["attention_mask"])
print(f"share of real tokens the loss learns from (answer + eos): {share:.0%}")"""

# ---------------------------------------------------------------- exercise 4
EX4_MD = """
## Where does LoRA go? Target modules

LoRA is applied to chosen `nn.Linear` layers, named by their *leaf* name (`q_proj`, not
`model.layers.0.self_attn.q_proj`): peft's `target_modules` matches the end of each module's full name. Common
mistake: names copied from another architecture (`query`, `c_attn`, ...) that do not exist in this model: peft then
raises `ValueError: Target modules ... not found in the base model`.

### Exercise 4 — `find_linear_module_names`

Write `find_linear_module_names(model) -> list[str]`: the **sorted, unique leaf names** of all `nn.Linear` modules,
**without the output head** (`lm_head`, the module `model.get_output_embeddings()` returns when the model has that
method). This is the menu you choose `target_modules` from: list every linear layer, even the ones you would
usually skip.
"""

EX4_ANSWER = """\
def find_linear_module_names(model) -> list[str]:
    \"\"\"Sorted unique leaf names of the nn.Linear modules of `model`, without the output head.\"\"\"
    ### BEGIN SOLUTION
    head = model.get_output_embeddings() if hasattr(model, "get_output_embeddings") else None
    names = {
        name.rsplit(".", 1)[-1]
        for name, module in model.named_modules()
        if isinstance(module, nn.Linear) and module is not head and name.rsplit(".", 1)[-1] != "lm_head"
    }
    return sorted(names)
    ### END SOLUTION"""

EX4_VISIBLE = """\
with quiet():
    names = [as_str(n, "each name") for n in as_list(find_linear_module_names(model), "find_linear_module_names(model)")]
llama_names = ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"]
assert "lm_head" not in names, "leave out the output head (lm_head): it is not a LoRA target here"
assert not [n for n in names if "." in n], f"return leaf names such as 'q_proj', not full paths: {names[:3]}"
assert names == sorted(set(names)), f"return each name once, sorted: {names}"
missing = sorted(set(llama_names) - set(names))
assert not missing, f"missing {missing}: list every nn.Linear, even the ones you would not adapt"
assert names == llama_names, f"expected {llama_names} for this Llama-style model, got {names}"
print("Exercise 4: visible tests passed:", names)"""

EX4_HIDDEN = hidden("models with other layer names, non-Linear layers with 'proj' names, another head.", """
class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.query, self.value = nn.Linear(4, 4), nn.Linear(4, 4)
        self.c_proj = nn.Conv1d(4, 4, 1)  # not a Linear, although its name ends in "proj"
        self.norm = nn.LayerNorm(4)


class Toy(nn.Module):
    def __init__(self):
        super().__init__()
        self.embed = nn.Embedding(10, 4)
        self.blocks = nn.ModuleList([Block(), Block()])
        self.fc_in, self.act, self.fc_out = nn.Linear(4, 8), nn.ReLU(), nn.Linear(8, 4)
        self.lm_head = nn.Linear(4, 10)


class OtherHead(Toy):  # GPT-NeoX style: the head is called embed_out
    def __init__(self):
        super().__init__()
        del self.lm_head
        self.embed_out = nn.Linear(4, 10)

    def get_output_embeddings(self):
        return self.embed_out


with quiet():
    tiny_llama = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, tie_word_embeddings=False))
toy_names = ["fc_in", "fc_out", "query", "value"]
for toy, expected in [(Toy(), toy_names), (OtherHead(), toy_names),
                      (tiny_llama, ["down_proj", "gate_proj", "k_proj", "o_proj", "q_proj", "up_proj", "v_proj"])]:
    with quiet():
        got = [as_str(n) for n in as_list(find_linear_module_names(toy))]
    assert got == expected, f"{type(toy).__name__}: expected {expected}, got {got}"
""")

EX4_USE_MD = """
Which ones to adapt? The original LoRA paper adapted only the attention projections $W_q$ and $W_v$; many
recipes skip `k_proj` (the keys need less adaptation) and newer ones add the MLP (`gate_proj`, `up_proj`,
`down_proj`) for more capacity. This lab uses `TARGET_MODULES` from the parameters cell:
"""

EX4_USE = """\
linear_names = find_linear_module_names(model)
print("linear layers:", linear_names)
unknown = [name for name in TARGET_MODULES if name not in linear_names]
assert not unknown, f"TARGET_MODULES {unknown} are not linear layers of this model: pick from {linear_names}"
print("LoRA goes on:", TARGET_MODULES)"""

# ---------------------------------------------------------------- exercise 5
EX5_MD = r"""
## Exercise 5 — `make_lora_config`

A `peft.LoraConfig` holds the LoRA hyperparameters: the rank `r`, `lora_alpha` (the update is scaled by
$\alpha / r$), `target_modules`, `lora_dropout` (dropout on the LoRA branch only) and the `task_type`, which tells
peft what kind of model it wraps (`"CAUSAL_LM"` for a next-token model).

Write `make_lora_config(r, alpha, target_modules, dropout=0.05) -> LoraConfig` for a causal language model.
Common mistake: passing `alpha / r` as `lora_alpha`; peft divides by `r` itself.
"""

EX5_ANSWER = """\
def make_lora_config(r: int, alpha: int, target_modules: list[str], dropout: float = 0.05) -> LoraConfig:
    \"\"\"A peft LoraConfig for a causal language model.\"\"\"
    ### BEGIN SOLUTION
    return LoraConfig(r=r, lora_alpha=alpha, target_modules=list(target_modules), lora_dropout=dropout,
                      bias="none", task_type="CAUSAL_LM")
    ### END SOLUTION"""

EX5_VISIBLE = """\
with quiet():
    config = make_lora_config(8, 16, ["q_proj", "v_proj"])
assert isinstance(config, LoraConfig), f"return a peft.LoraConfig, got {type(config).__name__}"
assert as_int(config.r, "config.r") == 8, f"r should be 8, got {config.r}"
assert float(config.lora_alpha) == 16.0, f"lora_alpha should be alpha (16), peft divides by r itself; got {config.lora_alpha}"
targets = sorted(as_str(t, "each target module") for t in config.target_modules)
assert targets == ["q_proj", "v_proj"], f"target_modules should be exactly the names you were given, got {targets}"
assert float(config.lora_dropout) == 0.05, f"the default dropout is 0.05, got {config.lora_dropout}"
assert as_str(config.task_type, "task_type") == "CAUSAL_LM", f"task_type should be 'CAUSAL_LM', got {config.task_type!r}"
print("Exercise 5: visible tests passed")"""

EX5_HIDDEN = hidden("other r, alpha and dropout; a tuple of targets; the config wraps exactly those layers.", """
import copy

with quiet():
    tiny_llama = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=32, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1))
for r, alpha, targets, dropout in [(4, 32, ("q_proj", "k_proj", "v_proj", "o_proj"), 0.0), (2, 2, ("up_proj",), 0.1)]:
    with quiet():
        config = make_lora_config(r, alpha, targets, dropout=dropout)
    assert isinstance(config, LoraConfig), f"return a peft.LoraConfig, got {type(config).__name__}"
    assert as_int(config.r) == r and float(config.lora_alpha) == alpha, (config.r, config.lora_alpha)
    assert float(config.lora_dropout) == dropout, f"use the dropout argument ({dropout}), got {config.lora_dropout}"
    assert sorted(as_str(t) for t in config.target_modules) == sorted(targets), config.target_modules
    assert as_str(config.task_type) == "CAUSAL_LM"
    with quiet():
        wrapped = get_peft_model(copy.deepcopy(tiny_llama), config)
    adapted = sorted({n.split(".lora_A.")[0].rsplit(".", 1)[-1] for n, _ in wrapped.named_parameters() if ".lora_A." in n})
    assert adapted == sorted(targets), f"LoRA should wrap exactly {sorted(targets)}, wrapped {adapted}"
with quiet():
    config = make_lora_config(r=16, alpha=8, target_modules=["v_proj"])
assert as_int(config.r) == 16 and float(config.lora_alpha) == 8.0 and float(config.lora_dropout) == 0.05
""")

# ---------------------------------------------------------------- exercise 6
EX6_MD = """
## Exercise 6 — `count_trainable_parameters`

After wrapping, only the LoRA matrices should train: every base weight has `requires_grad=False`. Write
`count_trainable_parameters(model) -> (trainable, total)`: the number of scalar parameters with
`requires_grad=True`, and the number of all parameters. Use `model.parameters()`: it lists a weight shared by two
modules (tied input and output embeddings) once, as it should be counted.
"""

EX6_ANSWER = """\
def count_trainable_parameters(model) -> tuple[int, int]:
    \"\"\"(trainable, total) numbers of scalar parameters.\"\"\"
    ### BEGIN SOLUTION
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    return trainable, total
    ### END SOLUTION"""

EX6_VISIBLE = """\
two_layers = nn.Sequential(nn.Linear(4, 3), nn.Linear(3, 2))  # 4*3 + 3 = 15 and 3*2 + 2 = 8 parameters
two_layers[0].requires_grad_(False)  # freeze the first layer
with quiet():
    result = count_trainable_parameters(two_layers)
assert isinstance(result, tuple) and len(result) == 2, "return a tuple (trainable, total)"
trainable, total = as_int(result[0], "trainable"), as_int(result[1], "total")
assert total == 23, f"total counts every parameter, frozen or not: 15 + 8 = 23, got {total}"
assert trainable == 8, f"only the second layer (8 parameters) has requires_grad=True; got {trainable}"
print("Exercise 6: visible tests passed")"""

EX6_HIDDEN = hidden("a peft model (compared with peft's own count), tied weights, everything frozen.", """
with quiet():
    tiny_llama = transformers.LlamaForCausalLM(transformers.LlamaConfig(
        vocab_size=64, hidden_size=16, intermediate_size=32, num_hidden_layers=2, num_attention_heads=2,
        num_key_value_heads=1, tie_word_embeddings=True))
    trainable, total = (as_int(v) for v in count_trainable_parameters(tiny_llama))
expected = sum(p.numel() for p in tiny_llama.parameters())
assert (trainable, total) == (expected, expected), \\
    f"tied embeddings are one tensor, count it once: expected {(expected, expected)}, got {(trainable, total)}"
with quiet():
    wrapped = get_peft_model(tiny_llama, LoraConfig(r=4, lora_alpha=8, target_modules=["q_proj", "v_proj"],
                                                    task_type="CAUSAL_LM"))
    got = tuple(as_int(v) for v in count_trainable_parameters(wrapped))
assert got == tuple(wrapped.get_nb_trainable_parameters()), f"peft counts {wrapped.get_nb_trainable_parameters()}, got {got}"
frozen = nn.Linear(5, 5).requires_grad_(False)
with quiet():
    got = tuple(as_int(v) for v in count_trainable_parameters(frozen))
assert got == (0, 30), f"a frozen Linear(5, 5): expected (0, 30), got {got}"
""")

# ---------------------------------------------------------------- exercise 7: build, train, evaluate
WRAP_MD = """
## Exercise 7 — fine-tune with LoRA

### Wrap the model

The next cells use **your** functions from exercises 1–6 with the hyperparameters of the parameters cell
(`LORA_R`, `LORA_ALPHA`, `TARGET_MODULES`, `MAX_STEPS`, `LEARNING_RATE`: yours to change). `get_peft_model` freezes every base weight and adds the LoRA matrices
($B$ starts at zero, so the wrapped model starts out exactly like the base model).
"""

WRAP = """\
torch.manual_seed(SEED)  # the LoRA A matrices start random: same seed, same start
lora_config = make_lora_config(LORA_R, LORA_ALPHA, TARGET_MODULES)
peft_model = get_peft_model(model, lora_config)
print(lora_config)"""

WRAP_CHECK_MD = "Expect well under 1% of the parameters to be trainable; your count must agree with peft's:"

WRAP_CHECK = """\
trainable, total = count_trainable_parameters(peft_model)
print(f"trainable: {trainable:,} of {total:,} ({trainable / total:.2%})")
peft_model.print_trainable_parameters()
assert 0 < trainable < 0.05 * total, "only the LoRA matrices should be trainable"
adapted = [m.base_layer for name, m in peft_model.named_modules()
           if name.rsplit(".", 1)[-1] in TARGET_MODULES and hasattr(m, "base_layer")]
predicted = sum(lora_param_count(layer.in_features, layer.out_features, LORA_R) for layer in adapted)
print(f"exercise 1 predicts {predicted:,} for {len(adapted)} adapted layers")
assert trainable == predicted, "exercise 1 and exercise 6 disagree"
"""

TRAIN_MD = """
### Train with the Hugging Face `Trainer`

The training plan depends on your runtime: on a GPU the weights stay in half precision and the `Trainer` trains
with mixed precision (fp16 on a T4, which has no bf16; bf16 on Ampere and newer: choosing bf16 on a T4 is a common
mistake that makes training very slow). On CPU everything is fp32. The batch collator trims the padding of each
batch to its longest example, so padding costs no compute.

Expect the training loss to fall steeply in the first few dozen steps and then level off, with the validation
loss following it; on `jam-tiny` on a laptop CPU this takes about a minute.
"""

TRAIN = """\
steps = MAX_STEPS or (150 if rt.model_name == "jam-tiny" else 200)
learning_rate = LEARNING_RATE or (3e-3 if rt.model_name == "jam-tiny" else 1e-3)


def collate(rows):
    \"\"\"Stack a batch, trimmed to its longest real example.\"\"\"
    width = max(sum(row["attention_mask"]) for row in rows)
    return {key: torch.tensor([row[key][:width] for row in rows]) for key in ("input_ids", "attention_mask", "labels")}


args = TrainingArguments(
    output_dir=tempfile.mkdtemp(prefix="lab1-trainer-"),
    max_steps=steps,
    per_device_train_batch_size=16,
    per_device_eval_batch_size=64,
    learning_rate=learning_rate,
    lr_scheduler_type="constant_with_warmup",
    warmup_steps=10,
    weight_decay=0.0,
    logging_steps=max(1, min(10, steps // 5)),
    eval_strategy="steps",
    eval_steps=max(1, steps // 3),
    save_strategy="no",
    report_to="none",
    fp16=rt.precision == "fp16",
    bf16=rt.precision == "bf16",
    use_cpu=rt.device == "cpu",
    dataloader_num_workers=0,
    disable_tqdm=runtime.autograding(),  # no progress bar when graded
    remove_unused_columns=False,
    seed=SEED,
    data_seed=SEED,
)
trainer = Trainer(model=peft_model, args=args, train_dataset=tokenized["train"],
                  eval_dataset=tokenized["validation"], data_collator=collate)
start = time.perf_counter()
train_output = trainer.train()
train_seconds = time.perf_counter() - start
print(f"{steps} steps in {train_seconds:.1f} s ({steps / train_seconds:.1f} steps/s), "
      f"average training loss {train_output.training_loss:.3f}")"""

LOSS_PLOT = """\
history = trainer.state.log_history
train_log = [(h["step"], h["loss"]) for h in history if "loss" in h]
eval_log = [(h["step"], h["eval_loss"]) for h in history if "eval_loss" in h]
fig, ax = plt.subplots(figsize=(6, 3.5))
ax.plot(*zip(*train_log, strict=True), label="training loss (answer tokens)")
if eval_log:
    ax.plot(*zip(*eval_log, strict=True), "o--", label="validation loss")
ax.set_xlabel("step")
ax.set_ylabel("cross-entropy")
ax.set_yscale("log")
ax.set_title(f"LoRA SFT of {rt.model_name} (r={LORA_R}, alpha={LORA_ALPHA})")
ax.legend()
plt.show()
print(f"training loss: first log {train_log[0][1]:.3f}, last log {train_log[-1][1]:.3f}")
if eval_log:
    print(f"validation loss: {eval_log[0][1]:.3f} -> {eval_log[-1][1]:.3f}")"""

LOSS_AFTER = """\
Both losses should fall together. If the training loss keeps falling while the validation loss rises, the model
is memorising the training answers (overfitting): fewer steps or a smaller learning rate help.
"""

AFTER_MD = """
### Before and after, side by side

The same test questions, with entities the model never saw during fine-tuning. `peft_model.disable_adapter()`
switches the LoRA update off: the base model is still in there, untouched.
"""

AFTER = """\
score, predictions = exact_match(peft_model, tokenizer, test_examples, return_predictions=True)
with peft_model.disable_adapter():
    base_again = exact_match(peft_model, tokenizer, test_examples)
print(f"test-split exact match: base {base_score:.1%} -> LoRA {score:.1%}  (adapter off: {base_again:.1%})")
print(f"\\n{'question':45} {'expected':12} {'base model':14} {'after LoRA':14}")
for ex, before, after in list(zip(test_examples, base_predictions, predictions, strict=True))[:12]:
    mark = "ok" if after == ex["response"] else "--"
    print(f"{ex['instruction'][:44]:45} {ex['response']:12} {before[:13]:14} {after[:13]:14} {mark}")
# Same weights, same answers (on a GPU, rounding in other kernels may flip a rare one):
assert abs(base_again - base_score) <= 0.02, "with the adapter off the model should answer like the base model"
if score > base_score:
    print("check: fine-tuning raised the test score")
else:
    print("check FAILED: the score did not rise; look at exercises 2 and 3 and at the loss curve")
per_task = Counter(ex["task"] for ex, p in zip(test_examples, predictions, strict=True) if p == ex["response"])
totals = Counter(ex["task"] for ex in test_examples)
print("\\nper task:", {task: f"{per_task[task]}/{n}" for task, n in totals.items()})"""

AFTER_AFTER = """\
The model learned the *format* from the training questions and answers the held-out ones from what it knew
before: that is what supervised fine-tuning with a small adapter is good at.
"""

EX7_MD = """
### Exercise 7 — the graded outcome

These checks grade your whole pipeline: the test-split exact match must reach **70%** with `jam-tiny` (the model
your notebook is graded with), only LoRA parameters may be trainable, and (hidden) the base weights must be exactly
the pretrained ones.
"""

EX7_VISIBLE = """\
with quiet():
    graded_score = float(exact_match(peft_model, tokenizer, instruction_examples("test")))
trainable_names = [name for name, p in peft_model.named_parameters() if p.requires_grad]
assert trainable_names, "nothing is trainable: did get_peft_model run?"
not_lora = [name for name in trainable_names if "lora_" not in name]
assert not not_lora, f"only LoRA parameters may train, but {not_lora[:3]} are trainable too"
print(f"test-split exact match: {graded_score:.1%} with {rt.model_name}")
if rt.model_name == "jam-tiny":
    assert graded_score >= 0.70, \\
        f"{graded_score:.1%} is below 70%: check exercises 2 and 3 (leading space, masking, eos), then the loss curve"
else:
    print("the 70% bar applies to jam-tiny, which grades your notebook: run it with MODEL = 'jam-tiny' to check")
print("Exercise 7: visible tests passed")"""

EX7_HIDDEN = hidden("the base weights are exactly the pretrained ones and the adapter trained.", """
from lorajam import models

assert isinstance(peft_model, PeftModel), f"peft_model must be a peft model, got {type(peft_model).__name__}"
with quiet():
    fresh, _ = models.load(rt.model_name, device=rt.device, dtype=rt.dtype)
pretrained = dict(fresh.named_parameters())
current = {name.replace("base_model.model.", "", 1).replace(".base_layer", ""): p
           for name, p in peft_model.named_parameters() if "lora_" not in name}
assert set(current) == set(pretrained), sorted(set(current) ^ set(pretrained))[:5]
changed = [name for name, p in pretrained.items() if not torch.equal(p.detach().cpu(), current[name].detach().cpu())]
assert not changed, f"base weights changed: {changed[:3]}"
lora_b = [p for name, p in peft_model.named_parameters() if "lora_B" in name]
assert lora_b and any(float(p.detach().abs().sum()) > 0 for p in lora_b), "the adapter did not train (lora_B all zero)"
""")

# ---------------------------------------------------------------- save, reload, merge
SAVE_MD = """
## Save the adapter, reload it, merge it

The adapter is all you need to share: a few hundred kilobytes to a few megabytes instead of the whole model.
"""

SAVE = """\
ADAPTER_DIR = Path(tempfile.mkdtemp(prefix="lab1-adapter-")) if QUICK else Path("lab1_adapter")
peft_model.save_pretrained(ADAPTER_DIR)
adapter_bytes = sum(f.stat().st_size for f in ADAPTER_DIR.rglob("*") if f.is_file())
model_bytes = sum(p.numel() * p.element_size() for p in peft_model.get_base_model().parameters() if not p.requires_grad)
print(sorted(f.name for f in ADAPTER_DIR.iterdir()))
print(f"adapter on disk: {adapter_bytes / 1e6:.2f} MB; base model weights: {model_bytes / 1e6:.1f} MB "
      f"({adapter_bytes / model_bytes:.1%})")"""

MERGE_MD = """
To use it, load the base model again and put the adapter on top. For deployment, `merge_and_unload` adds
$\\frac{\\alpha}{r}BA$ into each base weight and removes the LoRA layers: the merged model is a plain model again,
with no extra inference cost, and it computes the same logits (up to rounding).
"""

MERGE = """\
base_model, _ = rt.load()
reloaded = PeftModel.from_pretrained(base_model, ADAPTER_DIR)
batch = tokenizer([format_prompt(ex["instruction"]) for ex in test_examples[:8]], return_tensors="pt",
                  padding=True).to(rt.device)
peft_model.eval()
reloaded.eval()
with torch.no_grad():
    trained_logits = peft_model(**batch).logits.float()
    adapter_logits = reloaded(**batch).logits.float()
    merged = reloaded.merge_and_unload()
    merged_logits = merged(**batch).logits.float()
tolerance = 1e-4 if rt.precision == "fp32" else 5e-2
print(f"reloaded adapter vs trained: max |difference| {(adapter_logits - trained_logits).abs().max():.2e}")
print(f"merged vs adapter:           max |difference| {(merged_logits - adapter_logits).abs().max():.2e}")
print("merged model is a", type(merged).__name__, "with LoRA layers left:",
      sum("lora" in name for name, _ in merged.named_modules()))
assert torch.allclose(adapter_logits, trained_logits, atol=tolerance)
assert torch.allclose(merged_logits, adapter_logits, atol=tolerance * 10)"""

NEXT_MD = """
## What to try next

- Change `TARGET_MODULES` to add `k_proj`, `o_proj` or the MLP (`gate_proj`, `up_proj`, `down_proj`): how do the
  trainable parameters and the score change?
- Double `LORA_R` with `LORA_ALPHA` fixed (the update is scaled by α/r, so it shrinks), then double both.
- Train much longer (`MAX_STEPS = 1000`) and watch the validation loss: when does it start to rise?
- Put the response on a new line instead of after a space (exercise 2) and compare the test score.
- On a Colab GPU, fine-tune SmolLM2-135M on a real instruction data set, e.g. 1,000 examples of
  databricks-dolly-15k: `load_dataset("databricks/databricks-dolly-15k", split="train[:1000]")`, rename its
  `context`-free rows' `instruction`/`response` fields, and reuse your functions (exact match is not a good metric
  for free-form answers: read the answers instead).

Further reading: LoRA (Hu et al. 2021, arXiv:2106.09685); QLoRA, LoRA on a 4-bit base model (Dettmers et al. 2023,
arXiv:2305.14314); "LoRA Learns Less and Forgets Less" (Biderman et al. 2024, arXiv:2405.09673), which notebook 03
puts to the test.
"""


def cells() -> list[nbformat.NotebookNode]:
    out = header_cells(
        RELPATH,
        "Lab 1 — Supervised fine-tuning with LoRA",
        [
            "format instruction data with a prompt template and a chat template, and see why `\" Lima\"` keeps its space",
            "tokenise with labels that teach the answer and not the question",
            "choose target modules, configure LoRA with peft and count what trains",
            "fine-tune with the Hugging Face `Trainer` and compare answers before and after",
            "save a LoRA adapter, reload it and merge it into the base model",
        ],
        PARAMETERS,
        banner=BANNER,
    )
    out += [
        md(INTRO),
        code(IMPORTS, tags=("imports",)),
        md("The test cells use a few helpers. They are read-only: run the cell and move on."),
        readonly(HELPERS, "test_helpers"),
        md("Load the model and the tokenizer the runtime chose (printed in the banner above)."),
        code("model, tokenizer = rt.load()\n"
             "print(f\"{rt.model_name}: {sum(p.numel() for p in model.parameters()) / 1e6:.1f}M parameters, \"\n"
             "      f\"vocabulary {len(tokenizer)}, eos {tokenizer.eos_token!r}, pad {tokenizer.pad_token!r}\")"),
        md(EX1_MD),
        answer(EX1_ANSWER, "ex1_lora_param_count"),
        tests(EX1_VISIBLE, "ex1_lora_param_count_visible"),
        tests(EX1_HIDDEN, "ex1_lora_param_count_hidden"),
        md("For one attention projection of the model you loaded:"),
        code(EX1_USE),
        md(DATA_MD),
        code(DATA_LOAD),
        md(BASE_KNOWS_MD),
        code(BASE_KNOWS),
        md(BASE_SCORE_MD),
        code(BASE_SCORE),
        md(BASE_SCORE_AFTER),
        md(TEMPLATE_MD),
        code(TEMPLATE_SHOW),
        md(SPACE_MD),
        code(SPACE_SHOW),
        md(SPACE_AFTER),
        md(EX2_MD),
        answer(EX2_ANSWER, "ex2_format_example"),
        tests(EX2_VISIBLE, "ex2_format_example_visible"),
        tests(EX2_HIDDEN, "ex2_format_example_hidden"),
        md(CHAT_MD),
        code(CHAT_SHOW),
        md(EX3_MD),
        answer(EX3_ANSWER, "ex3_tokenize_with_labels"),
        tests(EX3_VISIBLE, "ex3_tokenize_with_labels_visible"),
        tests(EX3_HIDDEN, "ex3_tokenize_with_labels_hidden"),
        md(EX3_SHOW_MD),
        code(EX3_SHOW),
        md(TOKENIZE_ALL_MD),
        code(TOKENIZE_ALL),
        md(EX4_MD),
        answer(EX4_ANSWER, "ex4_find_linear_module_names"),
        tests(EX4_VISIBLE, "ex4_find_linear_module_names_visible"),
        tests(EX4_HIDDEN, "ex4_find_linear_module_names_hidden"),
        md(EX4_USE_MD),
        code(EX4_USE),
        md(EX5_MD),
        answer(EX5_ANSWER, "ex5_make_lora_config"),
        tests(EX5_VISIBLE, "ex5_make_lora_config_visible"),
        tests(EX5_HIDDEN, "ex5_make_lora_config_hidden"),
        md(EX6_MD),
        answer(EX6_ANSWER, "ex6_count_trainable_parameters"),
        tests(EX6_VISIBLE, "ex6_count_trainable_parameters_visible"),
        tests(EX6_HIDDEN, "ex6_count_trainable_parameters_hidden"),
        md(WRAP_MD),
        code(WRAP),
        md(WRAP_CHECK_MD),
        code(WRAP_CHECK),
        md(TRAIN_MD),
        code(TRAIN),
        md("The loss curve, from the `Trainer`'s log:"),
        code(LOSS_PLOT),
        md(LOSS_AFTER),
        md(AFTER_MD),
        code(AFTER),
        md(AFTER_AFTER),
        md(EX7_MD),
        tests(EX7_VISIBLE, "ex7_training_outcome_visible"),
        tests(EX7_HIDDEN, "ex7_training_outcome_hidden"),
        md(SAVE_MD),
        code(SAVE),
        md(MERGE_MD),
        code(MERGE),
        md(NEXT_MD),
    ]
    return out


def build(path: Path = REPO_ROOT / RELPATH) -> Path:
    """Write the nbgrader source notebook (solutions, hidden tests, no outputs)."""
    return write_notebook(path, cells())


def _generate_with_nbgrader(solutions: Path, names: list[str]) -> dict[str, str]:
    """Fallback while `lorajam.grading` is missing: nbgrader generate_assignment in a scratch course."""
    import tempfile

    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config

    out: dict[str, str] = {}
    with tempfile.TemporaryDirectory(prefix="lab1-release-") as tmp:
        config = Config()
        config.CourseDirectory.root = tmp
        config.CourseDirectory.source_directory = str(solutions.resolve())
        config.CourseDirectory.release_directory = str(Path(tmp) / "release")
        config.CourseDirectory.db_url = f"sqlite:///{Path(tmp) / 'gradebook.db'}"
        api = NbGraderAPI(CourseDirectory(config=config), config=config)
        for name in names:
            result = api.generate_assignment(name, force=True, create=True)
            if not result["success"]:
                raise RuntimeError(f"nbgrader generate_assignment failed for {name}: {result.get('error')}")
            nb = nbformat.read(Path(tmp) / "release" / name / f"{name}.ipynb", as_version=4)
            for cell in nb.cells:
                cell.metadata["id"] = cell["id"]
                if cell.cell_type == "code":
                    cell.outputs, cell.execution_count = [], None
            out[name] = nbformat.writes(nb) + "\n"
    return out


def released_text(root: Path = REPO_ROOT) -> str:
    """The student notebook as `lorajam release` makes it, with its Colab badge pointing at labs/."""
    from lorajam.course import colab_url, settings

    try:
        from lorajam.grading.release import generate
    except ImportError:  # the instructor pipeline (issue 9) is not installed: same nbgrader step, done here
        generate = _generate_with_nbgrader
    text = generate(root / "solutions", [ASSIGNMENT])[ASSIGNMENT]
    conf = settings(root)
    return text.replace(colab_url(RELPATH, conf), colab_url(RELEASE_RELPATH, conf))


def release(root: Path = REPO_ROOT) -> Path:
    """Write the student version to labs/ (nbgrader generate_assignment of the solution notebook)."""
    path = root / RELEASE_RELPATH
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(released_text(root))
    return path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-release", action="store_true", help="only write the solution notebook")
    args = parser.parse_args(argv)
    print(build())
    if not args.no_release:
        print(release())
    return 0


if __name__ == "__main__":
    sys.exit(main())
