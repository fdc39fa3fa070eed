"""Caches that cannot serve the wrong thing (issue 21, item 3).

A hit loads onto the run's device; only an unreadable entry is a miss, and a good entry is
never deleted; the model and resample keys change with the thread count and the library
versions, the run key does not; every run records where it ran.
"""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest
from threadpoolctl import threadpool_limits

import imbllm.provenance as provenance
from imbllm.store import ResampleStore

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from imbllm.llm.fitting import cache_key_parts  # noqa: E402
from imbllm.llm.model.backbone import Budget, LanguageModel, LLMConfig  # noqa: E402
from imbllm.llm.model.cache import cached_finetune, model_cache_key  # noqa: E402
from imbllm.llm.pretrain import pretrain_key, table_texts  # noqa: E402
from imbllm.llm.text.serialize import RowCodec  # noqa: E402

ROWS = ["animal is cat, legs is 4", "animal is bird, legs is 2", "animal is snake, legs is 0"] * 4
TINY = dict(n_layer=1, n_head=2, n_embd=32, vocab_size=300, n_positions=64)
BUDGET = Budget(epochs=1, batch_size=4, learning_rate=1e-2)


def trained(device: str = "cpu") -> LanguageModel:
    lm = LanguageModel.build(LLMConfig(**TINY, device="cpu"), ROWS, seed=0)
    lm.finetune(lambda epoch: ROWS, BUDGET, 0, False)
    lm.config.device = device  # what save() writes as the device it was trained for
    return lm


class Trainer:
    """``build_and_train`` for cached_finetune that counts its calls."""

    def __init__(self):
        self.calls = 0

    def __call__(self, checkpoint):
        self.calls += 1
        return trained()


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    """A good entry, written once; tests copy it."""
    path = tmp_path_factory.mktemp("entry") / "model"
    trained().save(path)
    return path


def entry(saved, root, key):
    import shutil

    shutil.copytree(saved, root / key)
    return root / key


# -- a hit loads onto the run's device ----------------------------------------------------


@pytest.mark.skipif(torch.cuda.is_available(), reason="simulates a CUDA entry on a CPU-only host")
def test_an_entry_saved_for_cuda_loads_on_a_cpu_host_and_stays(tmp_path):
    # Simulated: there is no GPU here, so the entry is a CPU-trained model whose saved config
    # says llm.device="cuda", as one trained with it writes. Safetensors weights carry no
    # device, so the saved config is the only thing that ties an entry to CUDA.
    key = model_cache_key(corpus="animals", seed=0)
    trained(device="cuda").save(tmp_path / key)
    train = Trainer()
    for run_device in ("auto", "cpu"):
        lm, hit = cached_finetune(tmp_path, key, train, device=run_device)
        assert hit and train.calls == 0 and lm.device.type == "cpu", run_device
        assert lm.config.device == run_device
    assert (tmp_path / key / "model.safetensors").is_file()
    # Read directly, without a device: onto the CPU, since this host has no CUDA.
    assert LanguageModel.load(tmp_path / key).device.type == "cpu"


# -- only an unreadable entry is a miss ---------------------------------------------------


@pytest.mark.parametrize(
    "name, torn",
    [
        ("model.safetensors", lambda b: b[: len(b) // 2]),
        ("model.safetensors", lambda b: b""),
        ("config.json", lambda b: b[: len(b) // 2]),
        ("imbllm_llm.json", lambda b: b[:10]),
        ("tokenizer.json", lambda b: b[: len(b) // 3]),
        ("config.json", None),  # missing
    ],
)
def test_a_torn_entry_is_a_miss_trained_again_and_moved_aside(tmp_path, saved, name, torn):
    key = model_cache_key(corpus="torn", seed=0)
    path = entry(saved, tmp_path, key)
    if torn is None:
        (path / name).unlink()
    else:
        (path / name).write_bytes(torn((path / name).read_bytes()))
    train = Trainer()
    _, hit = cached_finetune(tmp_path, key, train)
    assert not hit and train.calls == 1
    assert (tmp_path / f".{key}.unreadable" / "model.safetensors").is_file()
    _, hit = cached_finetune(tmp_path, key, train)  # the entry trained again is good
    assert hit and train.calls == 1


def test_an_entry_that_fails_for_another_reason_is_kept(tmp_path, saved):
    key = model_cache_key(corpus="kept", seed=0)
    entry(saved, tmp_path, key)
    train = Trainer()

    def load(path, device=None):
        raise RuntimeError("a loader bug, not a torn file")

    with pytest.raises(RuntimeError, match="loader bug"):
        cached_finetune(tmp_path, key, train, load=load)
    assert train.calls == 0 and (tmp_path / key / "model.safetensors").is_file()
    assert not (tmp_path / f".{key}.unreadable").exists()
    # A device this host cannot give is the run's error too, never the entry's.
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="llm.device='cuda'"):
            cached_finetune(tmp_path, key, train, device="cuda")
        assert train.calls == 0 and (tmp_path / key / "model.safetensors").is_file()


# -- what the keys hold -------------------------------------------------------------------


def finetune_key(pretrain: str) -> str:
    """The fine-tuned model's key for one small plan (cache_key_parts reads only these)."""
    config = LLMConfig(**TINY, pretrain=pretrain)
    plan = SimpleNamespace(training_texts=lambda epoch: ROWS, switches={"permutation": "x"}, seed=0)
    return model_cache_key(**cache_key_parts(plan, config, BUDGET, "random"))


def table_key() -> str:
    codec = RowCodec(["legs"], ["legs"], {}, "animal", ["cat", "bird"])
    X, y = pd.DataFrame({"legs": [4, 2]}), pd.Series(["cat", "bird"], name="animal")
    return pretrain_key(LLMConfig(**TINY), table_texts(codec, X, y, 0), BUDGET, 0)


@pytest.fixture
def threads():
    """Sets torch's thread count for a test, the caller's restored after."""
    before = torch.get_num_threads()
    yield torch.set_num_threads
    torch.set_num_threads(before)


def test_two_thread_counts_give_two_model_keys(threads):
    keys = []
    for n in (1, 2):
        threads(n)
        keys.append((finetune_key("none"), finetune_key("table"), table_key()))
    (none1, table1, pre1), (none2, table2, pre2) = keys
    # Without pretraining too: the count is in every key, not only the pretrained backbone's.
    assert none1 != none2
    assert table1 != table2 and pre1 != pre2
    threads(1)
    assert finetune_key("none") == none1  # and a key is stable


def test_two_thread_counts_give_two_resample_keys():
    X, y = pd.DataFrame({"a": range(6)}), pd.Series(list("aabbab"))
    keys = set()
    for n in (1, 2):
        with threadpool_limits(limits=n):
            keys.add(ResampleStore.address("smote", [], 0, X, y, family="classical"))
    assert len(keys) == 2


def test_a_changed_library_version_gives_another_key(monkeypatch):
    X, y = pd.DataFrame({"a": range(6)}), pd.Series(list("aabbab"))

    def keys():
        return {
            "model": finetune_key("none"),
            "classical": ResampleStore.address("smote", [], 0, X, y, family="classical"),
            "llm": ResampleStore.address("imbllm", [], 0, X, y, family="llm"),
            "reference": ResampleStore.address("standard", [], 0, X, y, family="reference"),
            "forest": ResampleStore.address("forestflow", [], 0, X, y, family="forest"),
        }

    before = keys()
    real = provenance.version

    def bumped(name):
        return lambda dist: "99.0" if dist == name else real(dist)

    changed = {}
    for lib in ("torch", "transformers", "tokenizers", "scikit-learn", "imbalanced-learn",
                "forestdiffusion", "arfpy", "xgboost"):
        monkeypatch.setattr(provenance, "version", bumped(lib))
        changed[lib] = {k for k, v in keys().items() if v != before[k]}
    monkeypatch.undo()
    assert changed["torch"] == changed["transformers"] == changed["tokenizers"] == {"model", "llm"}
    # SMOTE's rows follow scikit-learn and imbalanced-learn, not torch; the reference copies.
    assert changed["imbalanced-learn"] == {"classical", "llm"}
    assert changed["scikit-learn"] == {"classical", "llm", "forest"}
    # ForestFlow's and ARF's sets follow their packages and the trees they fit with.
    assert changed["forestdiffusion"] == changed["arfpy"] == changed["xgboost"] == {"forest"}
    assert keys() == before


def test_versions_and_machine_stay_out_of_the_run_key(monkeypatch):
    from hydra import compose, initialize_config_dir

    import imbllm.cli as cli
    from imbllm.runspec import RunSpec, run_key

    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=["dataset=fuel", "method=smote_nc"])
    before = run_key(RunSpec.from_config(cli.plain(cfg)))
    monkeypatch.setattr(provenance, "version", lambda dist: "99.0")
    monkeypatch.setattr(provenance, "cpu_model", lambda: "another CPU")
    assert run_key(RunSpec.from_config(cli.plain(cfg))) == before


# -- every run records where it ran -------------------------------------------------------


def test_a_run_records_where_it_ran_failed_or_finished(fresh_store):
    import mlflow

    from imbllm.tracking import RunTags, Tracker

    tracker = Tracker(fresh_store, "where")
    tags = RunTags(*["x"] * 10)
    failed = tracker.start(tags, "failed", {})
    tracker.fail(failed, RuntimeError("no rows"))
    done = tracker.start(tags, "done", {})
    tracker.finish(done, {"f1": 1.0}, {"fallback": "none", "threads_blas": "mine"}, {})
    client = mlflow.tracking.MlflowClient(tracking_uri=fresh_store)
    for rid in (failed, done):
        t = client.get_run(rid).data.tags
        assert t["version_scikit-learn"] == provenance.version("scikit-learn") != "absent"
        assert t["version_torch"] == provenance.version("torch")
        assert t["host_cpu"] and t["host_blas"]
        assert int(t["threads_openmp"]) >= 1 and t["version_python"].count(".") == 2
    done_tags = client.get_run(done).data.tags
    assert done_tags["threads_torch"] == str(torch.get_num_threads())  # torch is loaded by now
    assert done_tags["threads_blas"] == "mine"  # the run's own tags win over the host's
