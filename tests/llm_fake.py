"""A stand-in for :class:`imbllm.llm.model.backbone.LanguageModel` with the same interface.

It "learns" by remembering the last epoch's sentences and "generates" by completing a prompt
with the pieces of a remembered sentence that the prompt does not already name; a prompt that
ends by naming a column (``"... smoker is"``) gets that column's value from a remembered
sentence, followed by the sentence's other pieces (as a model that runs on would write). A test can
replace that behaviour with a script: ``FakeLanguageModel.script = lambda prompt, rng, lm: ...``.
Tests route the engine to it with :func:`install` (in a fixture); every call is recorded.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import numpy as np
import pandas as pd

from imbllm.llm.model.causal import Generation
from imbllm.llm.text.serialize import parse_texts, quote


def split_pieces(text: str) -> list[str]:
    """Split on the ", " that lie outside double quotes."""
    return re.split(r', (?=(?:[^"]*"[^"]*")*[^"]*$)', text)


def name_of(piece: str) -> str:
    return piece.split(" is ", 1)[0]


class FakeTokenizer:
    def __call__(self, text: str) -> dict:
        return {"input_ids": text.replace(",", " ,").split()}


class FakeLanguageModel:
    script = None  # optional: (prompt, rng, lm) -> completion
    full_rows_only = True  # complete from sentences that name every column seen
    calls: list = []  # (method, details) of every instance, reset by the fixture
    max_length = 512

    def __init__(self, config=None, corpus=None, memory=None):
        self.config = config
        self.corpus = list(corpus or [])
        self.memory = list(memory or [])
        self.tokenizer = FakeTokenizer()
        self.train_threads_: int | None = None

    @classmethod
    def build(cls, config, corpus, seed):
        cls.calls.append(("build", {"config": config, "n_corpus": len(corpus), "seed": seed}))
        return cls(config, corpus)

    def finetune(self, texts_for_epoch, budget, seed, progress=True, checkpoint=None,
                 stage="fine-tune"):
        epochs = [texts_for_epoch(e) for e in range(budget.epochs)]
        self.calls.append(("finetune", {"budget": budget, "seed": seed, "epochs": epochs}))
        self.memory = epochs[-1]
        self.train_threads_ = 1
        n_tokens = sum(len(self.tokenizer(t)["input_ids"]) for e in epochs for t in e)
        return {
            "train_tokens": n_tokens,
            "fit_seconds": 0.5,
            "train_tokens_per_second": n_tokens / 0.5,
            "final_loss": 0.25,
        }

    def _value_of(self, column: str, rng) -> str:
        """The answer to a prompt that ends by naming ``column`` (``"... smoker is"``): its
        value in a remembered sentence that has it, then that sentence's other pieces."""
        pool = [t for t in self.memory if column in map(name_of, split_pieces(t))]
        own = split_pieces(pool[int(rng.integers(len(pool)))])
        value = next(p for p in own if name_of(p) == column).split(" is ", 1)[1]
        return " " + ", ".join([value] + [p for p in own if name_of(p) != column])

    def _complete(self, prompt: str, rng) -> str:
        if prompt.endswith(" is"):
            return self._value_of(split_pieces(prompt)[-1][: -len(" is")], rng)
        asked = split_pieces(prompt.rstrip(","))
        named = {name_of(p) for p in asked if " is " in p}
        pool = self.memory
        if self.full_rows_only:
            width = max(len(split_pieces(t)) for t in pool)
            pool = [t for t in pool if len(split_pieces(t)) == width]
        # A prompt holding all but one piece of a remembered sentence asks for the last one
        # (Pred-LLM's label query): answer with it.
        if len(asked) > 2:
            for text in pool:
                own = split_pieces(text)
                missing = [p for p in own if p not in asked]
                if len(missing) == 1 and len(own) == len(asked) + 1:
                    return " " + missing[0]
        text = pool[int(rng.integers(len(pool)))]
        rest = [p for p in split_pieces(text) if name_of(p) not in named]
        return (" " + ", ".join(rest)) if rest else ""

    def generate(
        self,
        prompts,
        *,
        temperature,
        top_k,
        batch_size,
        max_new_tokens,
        seed,
        progress=True,
        constraint=None,
    ):
        rng = np.random.default_rng(seed)
        script = type(self).script
        out = [script(p, rng, self) if script else self._complete(p, rng) for p in prompts]
        self.calls.append(
            (
                "generate",
                {
                    "prompts": list(prompts),
                    "seed": seed,
                    "max_new_tokens": max_new_tokens,
                    "batch_size": batch_size,
                    "top_k": top_k,
                    "temperature": temperature,
                },
            )
        )
        n_tokens = sum(len(self.tokenizer(c)["input_ids"]) for c in out)
        stats = {
            "generated_tokens": n_tokens,
            "sample_seconds": 0.25,
            "tokens_per_second": n_tokens / 0.25,
        }
        return Generation(out, stats)

    def save(self, path):
        path = Path(path)
        path.mkdir(parents=True, exist_ok=True)
        (path / "fake.json").write_text(json.dumps({"memory": self.memory}))

    @classmethod
    def load(cls, path, device=None):
        data = json.loads((Path(path) / "fake.json").read_text())
        return cls(memory=data["memory"])


def install(monkeypatch) -> type[FakeLanguageModel]:
    """Route the engine to the stand-in model, its recorded calls and options reset."""
    import imbllm.llm.model as model

    FakeLanguageModel.calls = []
    FakeLanguageModel.script = None
    FakeLanguageModel.full_rows_only = True
    monkeypatch.setattr(model, "language_model", lambda: FakeLanguageModel)
    return FakeLanguageModel


# -- the engine tests' table and helpers (test_llm_engine*.py, test_llm_continuation.py) --

# The scripted model has no tokenizer to constrain: these tests pin free decoding's rounds.
FAST = {"epochs": 2, "progress": False, "random_state": 0, "decoding": "free"}


def table(n_min=12, n_maj=36, seed=0, three_classes=False):
    """Minority "high" rows have age 50-59, majority rows age 20-39 (ranges never overlap)."""
    rng = np.random.default_rng(seed)
    n = n_min + n_maj
    age = np.r_[rng.integers(50, 60, n_min), rng.integers(20, 40, n_maj)]
    X = pd.DataFrame(
        {
            "age": age,
            "bmi": np.round(rng.uniform(18, 40, n), 2),
            "smoker": np.r_[["yes"] * n_min, rng.choice(["yes", "no"], n_maj)],
            "region": rng.choice(["north, east", "south"], n),
        }
    )
    labels = ["high"] * n_min + ["low"] * n_maj
    if three_classes:
        labels = ["high"] * n_min + ["low"] * (n_maj // 2) + ["mid"] * (n_maj - n_maj // 2)
    return X, pd.Series(labels, name="charges")


def labelling_script(X):
    """Rows copied from ``X``; a label query (a full row) answered by the rule age >= 50."""

    def script(prompt, rng, lm):
        asked = pieces(prompt.rstrip(","))
        if len(asked) == 4:
            return " charges is " + ("high" if int(asked["age"]) >= 50 else "low")
        row = X.iloc[int(rng.integers(len(X)))]
        rest = [c for c in X.columns if c not in asked]
        return " " + ", ".join(f"{c} is {quote(str(row[c]))}" for c in rest)

    return script


def calls(fake, kind):
    return [c for k, c in fake.calls if k == kind]


def pieces(text):
    """The named cells of one sentence (the library's parser, tested on its own)."""
    cells = parse_texts([text], ["charges", "age", "bmi", "smoker", "region"]).iloc[0]
    return cells.dropna().to_dict()
