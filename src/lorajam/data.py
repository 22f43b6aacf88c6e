"""The synthetic world of `jam-tiny`: probe facts, the pretraining corpus, and the instruction data set.

All text is generated here from the hand-written tables in `lorajam.knowledge`, deterministically from a seed
(same seed, same bytes). Three views of the same facts:

* `probe_facts()`: one declarative prompt per fact ("The capital of Peru is" -> "Lima"), used by
  `lorajam.train.knowledge_probe` to check what the base model knows.
* `pretraining_corpus(seed)`: every fact in many phrasings (statements, questions answered in prose, quiz pages
  such as "Q: ... A: Lima.", short stories), plus lists; this is what `scripts/pretrain_jam_tiny.py` trains on.
  Like web text, it teaches the model to answer questions, but never in the SFT chat format.
* `instruction_examples(split)`: instruction/response pairs (bundled JSONL) in a chat format the model never saw
  in pretraining. Splits are by *entity*: a test country, animal or word pair never appears in train/validation.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

from lorajam import knowledge as kb

SPLITS: tuple[str, ...] = ("train", "validation", "test")
SPLIT_FRACTIONS: dict[str, float] = {"validation": 0.1, "test": 0.2}
DATA_SEED = 0

_NAMES = (
    "Anna", "Ben", "Maria", "Omar", "Priya", "Kenji", "Lena", "Tom", "Sara", "Diego", "Amara", "Li", "Noah",
    "Zoe", "Ravi", "Eva", "Kofi", "Mia", "Arjun", "Nora", "Ivan", "Leila", "Sam", "Aiko",
)


@dataclass(frozen=True)
class Fact:
    """One fact: its family, the entity it is about, a declarative probe prompt and the answer."""

    family: str
    entity: str
    prompt: str
    answer: str


def article(word: str) -> str:
    """'a' or 'an' for `word` (by its first letter)."""
    return "an" if word[:1].lower() in "aeiou" else "a"


def _cap(text: str) -> str:
    return text[:1].upper() + text[1:]


def _sum_key(a: int, b: int) -> str:
    lo, hi = sorted((a, b))
    return f"{lo}+{hi}"


def probe_facts() -> list[Fact]:
    """Every fact of the knowledge base as a declarative prompt and its one-word (or one-name) answer."""
    facts: list[Fact] = []
    for country, capital, continent in kb.COUNTRIES:
        facts.append(Fact("capital", country, f"The capital of {country} is", capital))
        facts.append(Fact("continent", country, f"{country} is a country in", continent))
    for animal, plural, sound, young, group in kb.ANIMALS:
        facts.append(Fact("sound", animal, f"The sound a {animal} makes is called {article(sound)}", sound))
        facts.append(Fact("young", animal, f"A baby {animal} is called {article(young)}", young))
        facts.append(Fact("group", animal, f"A group of {plural} is called {article(group)}", group))
    for x, y in kb.ANTONYMS:
        facts.append(Fact("opposite", f"{x}/{y}", f"The opposite of {x} is", y))
        facts.append(Fact("opposite", f"{x}/{y}", f"The opposite of {y} is", x))
    for thing, colour in kb.COLOURS:
        facts.append(Fact("colour", thing, f"The colour of {thing} is", colour))
    for number, word in kb.NUMBER_WORDS.items():
        facts.append(Fact("number_word", str(number), f"The number {number} is written as", word))
    for a, b in kb.SUMS:
        facts.append(Fact("sum", _sum_key(a, b), f"{a} plus {b} is", str(a + b)))
    for family, seq in (("day", kb.DAYS), ("month", kb.MONTHS)):
        for i, item in enumerate(seq):
            nxt = seq[(i + 1) % len(seq)]
            facts.append(Fact(family, item, f"The {family} after {item} is", nxt))
            facts.append(Fact(family, nxt, f"The {family} before {nxt} is", item))
    return facts


# ---------------------------------------------------------------- pretraining sentences, one generator per family
def _capital(rng: random.Random, c: str, cap: str, cont: str) -> str:
    name = rng.choice(_NAMES)
    return rng.choice([
        f"The capital of {c} is {cap}.",
        f"The capital of {c} is {cap}.",
        f"The capital of {c} is {cap}.",
        f"{cap} is the capital of {c}.",
        f"The capital city of {c} is {cap}.",
        f"What is the capital of {c}? The capital of {c} is {cap}.",
        f"What is the capital of {c}? It is {cap}.",
        f"Which city is the capital of {c}? The answer is {cap}.",
        f"{name} lives in {cap}, the capital of {c}.",
        f"{name} took a trip to {c} and visited {cap}, its capital.",
    ])


def _continent(rng: random.Random, c: str, cap: str, cont: str) -> str:
    return rng.choice([
        f"{c} is a country in {cont}.",
        f"{c} is a country in {cont}.",
        f"{c} is in {cont}.",
        f"Which continent is {c} in? {c} is in {cont}.",
        f"On which continent is {c}? It is in {cont}.",
        f"{cap}, the capital of {c}, is a city in {cont}.",
        f"The country {c} lies in {cont}.",
    ])


def _sound(rng: random.Random, a: str, pl: str, s: str, y: str, g: str) -> str:
    name = rng.choice(_NAMES)
    return rng.choice([
        f"The sound a {a} makes is called {article(s)} {s}.",
        f"The sound a {a} makes is called {article(s)} {s}.",
        f"What sound does a {a} make? A {a} makes {article(s)} {s}.",
        f"What sound does a {a} make? It is {article(s)} {s}.",
        f"{name} heard the {s} of a {a}.",
        f"{_cap(pl)} make a sound called {article(s)} {s}.",
    ])


def _young(rng: random.Random, a: str, pl: str, s: str, y: str, g: str) -> str:
    name = rng.choice(_NAMES)
    return rng.choice([
        f"A baby {a} is called {article(y)} {y}.",
        f"A baby {a} is called {article(y)} {y}.",
        f"The young of {article(a)} {a} is called {article(y)} {y}.",
        f"What is a baby {a} called? A baby {a} is called {article(y)} {y}.",
        f"What do we call a young {a}? It is called {article(y)} {y}.",
        f"{name} saw a mother {a} with her {y}.",
    ])


def _group(rng: random.Random, a: str, pl: str, s: str, y: str, g: str) -> str:
    name = rng.choice(_NAMES)
    return rng.choice([
        f"A group of {pl} is called {article(g)} {g}.",
        f"A group of {pl} is called {article(g)} {g}.",
        f"What is a group of {pl} called? It is called {article(g)} {g}.",
        f"We call a group of {pl} {article(g)} {g}.",
        f"{name} saw {article(g)} {g} of {pl}.",
    ])


def _opposite(rng: random.Random, x: str, y: str) -> str:
    if rng.random() < 0.5:
        x, y = y, x
    return rng.choice([
        f"The opposite of {x} is {y}.",
        f"The opposite of {x} is {y}.",
        f"The opposite of {x} is {y}.",
        f"{_cap(y)} is the opposite of {x}.",
        f"What is the opposite of {x}? The opposite of {x} is {y}.",
        f"What is the opposite of {x}? It is {y}.",
        f"{_cap(x)} and {y} are opposites.",
    ])


def _colour(rng: random.Random, thing: str, colour: str) -> str:
    name = rng.choice(_NAMES)
    return rng.choice([
        f"The colour of {thing} is {colour}.",
        f"The colour of {thing} is {colour}.",
        f"{_cap(thing)} is {colour}.",
        f"What colour is {thing}? It is {colour}.",
        f"{name} drew {thing} with a {colour} pencil.",
    ])


def _number(rng: random.Random, n: int, word: str) -> str:
    return rng.choice([
        f"The number {n} is written as {word}.",
        f"The number {n} is written as {word}.",
        f"{n} in words is {word}.",
        f"How do you write {n} in words? You write {word}.",
        f"{_cap(word)} is written {n} in digits.",
    ])


def _sum(rng: random.Random, a: int, b: int) -> str:
    s = a + b
    return rng.choice([
        f"{a} plus {b} is {s}.",
        f"{a} plus {b} is {s}.",
        f"{a} plus {b} is {s}.",
        f"What is {a} plus {b}? {a} plus {b} is {s}.",
        f"What is {a} plus {b}? It is {s}.",
        f"{a} + {b} = {s}.",
        f"If you have {a} apples and get {b} more, you have {s} apples.",
        f"Adding {a} and {b} gives {s}.",
    ])


def _sequence(rng: random.Random, family: str, seq: tuple[str, ...], i: int) -> str:
    cur, nxt = seq[i], seq[(i + 1) % len(seq)]
    return rng.choice([
        f"The {family} after {cur} is {nxt}.",
        f"The {family} after {cur} is {nxt}.",
        f"The {family} before {nxt} is {cur}.",
        f"The {family} before {nxt} is {cur}.",
        f"After {cur} comes {nxt}.",
        f"What {family} comes after {cur}? It is {nxt}.",
        f"What {family} comes before {nxt}? It is {cur}.",
    ])


def _families() -> dict[str, tuple[int, Callable[[random.Random], str], str]]:
    """family -> (number of facts, sentence sampler, heading)."""
    countries, animals = kb.COUNTRIES, kb.ANIMALS
    return {
        "capital": (len(countries), lambda r: _capital(r, *r.choice(countries)), "Capitals of the world"),
        "continent": (len(countries), lambda r: _continent(r, *r.choice(countries)), "Countries and continents"),
        "sound": (len(animals), lambda r: _sound(r, *r.choice(animals)), "Animal sounds"),
        "young": (len(animals), lambda r: _young(r, *r.choice(animals)), "Baby animals"),
        "group": (len(animals), lambda r: _group(r, *r.choice(animals)), "Groups of animals"),
        "opposite": (2 * len(kb.ANTONYMS), lambda r: _opposite(r, *r.choice(kb.ANTONYMS)), "Opposites"),
        "colour": (len(kb.COLOURS), lambda r: _colour(r, *r.choice(kb.COLOURS)), "Colours"),
        "number_word": (
            len(kb.NUMBER_WORDS), lambda r: _number(r, *r.choice(list(kb.NUMBER_WORDS.items()))), "Numbers"
        ),
        "sum": (len(kb.SUMS), lambda r: _sum(r, *r.choice(kb.SUMS)), "Adding numbers"),
        "day": (2 * len(kb.DAYS), lambda r: _sequence(r, "day", kb.DAYS, r.randrange(7)), "Days of the week"),
        "month": (
            2 * len(kb.MONTHS), lambda r: _sequence(r, "month", kb.MONTHS, r.randrange(12)), "Months of the year"
        ),
    }


def _story(rng: random.Random) -> str:
    name = rng.choice(_NAMES)
    c, cap, cont = rng.choice(kb.COUNTRIES)
    a, pl, s, y, g = rng.choice(kb.ANIMALS)
    day = rng.randrange(7)
    thing, colour = rng.choice(kb.COLOURS)
    x, w = rng.choice(kb.ANTONYMS)
    n1, n2 = rng.randrange(6), rng.randrange(6)
    stories = [
        f"On {kb.DAYS[day]}, {name} flew to {c}. The plane landed in {cap}, the capital of {c}. {c} is a "
        f"country in {cont}. The next day was {kb.DAYS[(day + 1) % 7]}.",
        f"{name} visited a farm. There was a mother {a} with her {y}. Soon {name} heard the {s} of the {a}. "
        f"A group of {pl} is called {article(g)} {g}.",
        f"{name} had {n1} red balloons and got {n2} more. Now {name} had {n1 + n2} balloons. {n1} plus {n2} "
        f"is {n1 + n2}.",
        f"In class, the teacher asked {name} for the opposite of {x}. {name} said {w}. The teacher smiled.",
        f"{name} painted a picture of {thing}. The colour of {thing} is {colour}, so {name} used {colour} "
        f"paint.",
        f"{name} and a friend went to {cap}. {cap} is the capital of {c}. They saw {article(a)} {a} at the zoo.",
    ]
    return rng.choice(stories)


def _list_doc(rng: random.Random) -> str:
    kind = rng.randrange(4)
    if kind == 0:
        return "The days of the week are " + ", ".join(kb.DAYS[:-1]) + f", and {kb.DAYS[-1]}."
    if kind == 1:
        return "The months of the year are " + ", ".join(kb.MONTHS[:-1]) + f", and {kb.MONTHS[-1]}."
    if kind == 2:
        start = rng.randrange(10)
        return "Counting: " + ", ".join(kb.NUMBER_WORDS[i] for i in range(start, start + 10)) + "."
    cont = rng.choice(sorted({row[2] for row in kb.COUNTRIES}))
    members = [c for c, _, k in kb.COUNTRIES if k == cont]
    picked = rng.sample(members, min(5, len(members)))
    return f"Some countries in {cont}: " + ", ".join(picked) + "."


# Question/answer layouts of quiz pages in the pretraining text. The SFT format ("### Instruction:" /
# "### Response:", answer + eos) is never among them: learning it is the job of SFT.
_QA_ROLES: tuple[tuple[str, str], ...] = (
    ("Q:", "A:"), ("Question:", "Answer:"), ("Teacher:", "Student:"), ("Quiz:", "Reply:"),
)


def _quiz(rng: random.Random, rows: list) -> str:
    """A short quiz page: questions in the instruction phrasings, each answer as a sentence ending in '.'."""
    ask, reply = rng.choice(_QA_ROLES)
    sep = rng.choice(["\n", " "])
    lines = []
    for _, _, task, args, response in rng.sample(rows, rng.randint(2, 5)):
        question = rng.choice(_TASKS[task]).format(*args)
        lines.append(f"{ask} {question}{sep}{reply} {response}.")
    return "\n".join(lines)


def _documents(rng: random.Random) -> Iterator[str]:
    fams = _families()
    names = list(fams)
    weights = [fams[n][0] for n in names]
    rows = _raw_examples()
    while True:
        kind = rng.random()
        if kind < 0.2:
            yield _quiz(rng, rows)
            continue
        kind = (kind - 0.2) / 0.8
        if kind < 0.5:  # a paragraph on one topic
            fam = rng.choices(names, weights)[0]
            _, sample, heading = fams[fam]
            sep = "\n" if rng.random() < 0.3 else " "
            body = sep.join(sample(rng) for _ in range(rng.randint(3, 7)))
            yield f"# {heading}\n{body}" if rng.random() < 0.3 else body
        elif kind < 0.82:  # mixed facts
            fams_picked = rng.choices(names, weights, k=rng.randint(3, 7))
            yield " ".join(fams[f][1](rng) for f in fams_picked)
        elif kind < 0.96:
            yield _story(rng)
        else:
            yield _list_doc(rng)


def pretraining_documents(seed: int = DATA_SEED, n_chars: int = 4_000_000) -> list[str]:
    """Short documents (about `n_chars` characters in all), deterministic from `seed`."""
    rng = random.Random(seed)
    docs, total = [], 0
    for doc in _documents(rng):
        docs.append(doc)
        total += len(doc) + 1
        if total >= n_chars:
            return docs
    raise AssertionError("unreachable")


def pretraining_corpus(seed: int = DATA_SEED, n_chars: int = 4_000_000) -> str:
    """The pretraining text: documents separated by blank lines, deterministic from `seed`."""
    return "\n\n".join(pretraining_documents(seed, n_chars))


# ---------------------------------------------------------------- instruction data
_TASKS: dict[str, tuple[str, ...]] = {
    "capital": ("What is the capital of {0}?", "Name the capital city of {0}."),
    "continent": ("Which continent is {0} in?", "On which continent is {0}?"),
    "opposite": ("What is the opposite of {0}?", "Give the opposite of the word {0}."),
    "sound": ("What sound does a {0} make?", "Name the sound a {0} makes."),
    "young": ("What is a baby {0} called?", "What do we call a young {0}?"),
    "group": ("What is a group of {0} called?", "Name the word for a group of {0}."),
    "colour": ("What colour is {0}?", "Name the colour of {0}."),
    "number_word": ("Write the number {0} in words.", "How is {0} written in words?"),
    "sum": ("What is {0} plus {1}?", "Add {0} and {1}."),
    "next_day": ("What day comes after {0}?", "Which day follows {0}?"),
    "next_month": ("What month comes after {0}?", "Which month follows {0}?"),
}
TASKS: tuple[str, ...] = tuple(_TASKS)


def _raw_examples() -> list[tuple[str, str, str, tuple, str]]:
    """(group, entity, task, template args, response) for every instruction example."""
    rows: list[tuple[str, str, str, tuple, str]] = []
    for c, cap, cont in kb.COUNTRIES:
        rows += [("country", c, "capital", (c,), cap), ("country", c, "continent", (c,), cont)]
    for a, pl, s, y, g in kb.ANIMALS:
        rows += [("animal", a, "sound", (a,), s), ("animal", a, "young", (a,), y), ("animal", a, "group", (pl,), g)]
    for x, y in kb.ANTONYMS:
        rows += [("antonym", f"{x}/{y}", "opposite", (x,), y), ("antonym", f"{x}/{y}", "opposite", (y,), x)]
    for thing, colour in kb.COLOURS:
        rows.append(("colour", thing, "colour", (thing,), colour))
    for n, word in kb.NUMBER_WORDS.items():
        rows.append(("number", str(n), "number_word", (n,), word))
    for a, b in kb.SUMS:
        rows.append(("sum", _sum_key(a, b), "sum", (a, b), str(a + b)))
    for i, d in enumerate(kb.DAYS):
        rows.append(("day", d, "next_day", (d,), kb.DAYS[(i + 1) % 7]))
    for i, m in enumerate(kb.MONTHS):
        rows.append(("month", m, "next_month", (m,), kb.MONTHS[(i + 1) % 12]))
    return rows


def entity_splits(seed: int = DATA_SEED) -> dict[tuple[str, str], str]:
    """(group, entity) -> split name. Each group's entities are shuffled and cut 70/10/20."""
    groups: dict[str, list[str]] = {}
    for group, entity, *_ in _raw_examples():
        if entity not in groups.setdefault(group, []):
            groups[group].append(entity)
    out: dict[tuple[str, str], str] = {}
    for group, entities in groups.items():
        order = sorted(entities)
        random.Random(f"{seed}-{group}").shuffle(order)
        n_test = max(1, round(SPLIT_FRACTIONS["test"] * len(order)))
        n_val = max(1, round(SPLIT_FRACTIONS["validation"] * len(order)))
        for i, entity in enumerate(order):
            out[(group, entity)] = "test" if i < n_test else "validation" if i < n_test + n_val else "train"
    return out


def build_instruction_examples(seed: int = DATA_SEED) -> list[dict]:
    """All instruction examples (fields instruction, response, task, entity, split), deterministic."""
    rng = random.Random(seed)
    splits = entity_splits(seed)
    out = []
    for group, entity, task, args, response in _raw_examples():
        template = rng.choice(_TASKS[task])
        out.append({
            # "a eagle" -> "an eagle" (the pretraining quiz pages of the released model kept "a eagle").
            "instruction": re.sub(r"\ba ([aeiouAEIOU])", r"an \1", template.format(*args)),
            "response": response,
            "task": task,
            "entity": f"{group}:{entity}",
            "split": splits[(group, entity)],
        })
    return out


def data_dir() -> Path:
    """Folder with the bundled instruction JSONL files."""
    return Path(__file__).resolve().parent / "assets" / "data"


def instruction_data_files() -> dict[str, str]:
    """Split name -> JSONL path, ready for `datasets.load_dataset("json", data_files=...)`."""
    return {split: str(data_dir() / f"instructions_{split}.jsonl") for split in SPLITS}


def write_instruction_files(folder: Path | None = None, seed: int = DATA_SEED) -> dict[str, Path]:
    """Write one JSONL file per split into `folder` (default: the package data folder)."""
    folder = Path(folder) if folder is not None else data_dir()
    folder.mkdir(parents=True, exist_ok=True)
    examples = build_instruction_examples(seed)
    paths = {}
    for split in SPLITS:
        path = folder / f"instructions_{split}.jsonl"
        with path.open("w", encoding="utf-8", newline="\n") as fh:
            for ex in examples:
                if ex["split"] == split:
                    fh.write(json.dumps(ex, ensure_ascii=False) + "\n")
        paths[split] = path
    return paths


def instruction_examples(split: str = "train") -> list[dict]:
    """The bundled instruction examples of one split: 'train', 'validation' or 'test'."""
    if split not in SPLITS:
        raise ValueError(f"Unknown split {split!r}: use one of {', '.join(SPLITS)}.")
    path = Path(instruction_data_files()[split])
    if not path.exists():
        raise FileNotFoundError(f"{path} is missing: regenerate it with `python scripts/make_data.py`.")
    with path.open(encoding="utf-8") as fh:
        return [json.loads(line) for line in fh if line.strip()]
