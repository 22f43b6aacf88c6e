"""Build notebooks/00_welcome.ipynb: the course map."""

from pathlib import Path

from lorajam.course import REPO_ROOT, code, header_cells, md, write_notebook

RELPATH = "notebooks/00_welcome.ipynb"

PARAMETERS = """\
QUICK = False  # True in CI: nothing here is slow anyway
MODEL = "auto"  # "auto", "jam-tiny", or a Hub id such as "HuggingFaceTB/SmolLM2-135M"
SEED = 0
"""

COURSE_MAP = """\
## The course map

The course follows the study-jam deck *Supervised PEFT using LoRA*. Each part of the deck has a notebook:

| part of the deck | notebook | what you do |
| --- | --- | --- |
| How does LoRA work? | `notebooks/01_lora_theory.ipynb` | build a LoRA layer from scratch, check it against peft |
| LoRA hyperparameters: r, α, target modules | `notebooks/02_hyperparameter_playground.ipynb` | move sliders, watch parameters and memory, train |
| The first lab | `labs/lab1_sft.ipynb` (graded) | supervised fine-tuning with LoRA on a real model |
| Concerns with fine-tuning | `notebooks/03_finetuning_concerns.ipynb` | measure compute cost, overfitting, forgetting |
| Quiz | `quizzes/quiz1_lora.ipynb`, `quizzes/quiz2_concerns.ipynb` (graded) | check what stuck |
"""

HOW_TO_RUN = """\
## Two ways to run it

- **Google Colab** (recommended at the study jam): click the *Open in Colab* badge at the top of any notebook, then
  *Runtime → Change runtime type → T4 GPU*. The setup cell installs the course package and keeps Colab's own
  torch and transformers. On a GPU the notebooks use a real model from the Hugging Face Hub (SmolLM2-135M).
- **Your own machine**: `make lab` creates a virtual environment, installs everything and opens JupyterLab.
  Without a GPU or without internet the notebooks use **jam-tiny**, a 5-million-parameter Llama that ships
  with the course, so every lesson works offline on a laptop CPU.

The line printed by the next code cell (the *runtime banner*) always says which model, device and precision you got.
"""

GRADING = """\
## How labs and quizzes are graded

Labs and quizzes are [nbgrader](https://nbgrader.readthedocs.io) assignments. Write your code where it says
`YOUR CODE HERE`, run the visible test cell under it for immediate feedback, and hand in the notebook
(*File → Download .ipynb* on Colab). Your instructor grades all notebooks with hidden tests, offline, on `jam-tiny`,
so a result you reached on a Colab GPU is checked again on CPU. Working alone? Quizzes have a self-check:
`lorajam.checks.check("quiz1.q3", answer)` says right or not yet, without ever showing the answer.
"""


def build(path: Path = REPO_ROOT / RELPATH) -> Path:
    cells = header_cells(
        RELPATH,
        "Welcome to the LoRA Study Jam",
        [
            "see how the course maps onto the study-jam session",
            "check which model, device and precision your runtime gives you",
            "know how labs and quizzes are graded",
        ],
        PARAMETERS,
    )
    cells += [
        md(COURSE_MAP),
        md(HOW_TO_RUN),
        md("Now look at your runtime. Expect `jam-tiny` on CPU, or `SmolLM2-135M` with fp16 on a Colab T4:"),
        code("print(rt.banner())\nfor note in rt.warnings:\n    print('note:', note)"),
        md(
            "A quick look at the model you got: its size and the names of its linear layers, which you will "
            "meet again as LoRA *target modules*. Expect names such as `q_proj` and `v_proj`."
        ),
        code(
            "import torch\n\n"
            "model, tokenizer = rt.load()\n"
            "n_params = sum(p.numel() for p in model.parameters())\n"
            "linear_names = sorted({name.rsplit('.', 1)[-1] for name, module in model.named_modules()\n"
            "                       if isinstance(module, torch.nn.Linear)} - {'lm_head'})\n"
            "print(f'{rt.model_name}: {n_params / 1e6:.1f}M parameters')\n"
            "print('linear layers:', linear_names)\n"
            "assert {'q_proj', 'v_proj'} <= set(linear_names), 'expected Llama-style module names'"
        ),
        md("Every lesson about `q_proj`/`v_proj` you learn on this model transfers to Llama, Gemma, Qwen and SmolLM2."),
        md(GRADING),
    ]
    return write_notebook(path, cells)


if __name__ == "__main__":
    print(build())
