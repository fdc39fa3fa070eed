"""Split and imbalance (protocol.md §2), encodings and classification metrics (§3)."""

import numpy as np
import pandas as pd
import pytest

from imbllm.data import load_dataset
from imbllm.encoding import classifier_frames, decode_ordinal, ordinal_per_frame
from imbllm.metrics.classification import classification_metrics
from imbllm.protocol import make_split


@pytest.fixture(scope="module")
def car(mirror_dir):
    return load_dataset("car", data_dir=mirror_dir)


def test_split_counts_and_keep_fraction(car):
    s = make_split(car.X, car.y, seed=0, ratio=0.2)
    assert len(s.X_train) + len(s.X_test) == 1728 and len(s.X_test) == 346
    tr, imb = s.y_train.value_counts(), s.y_imb.value_counts()
    assert s.minority == "vgood" and tr["vgood"] == 52
    assert imb["vgood"] == int(0.2 * 52) == 10
    for c in ("acc", "good", "unacc"):  # other classes untouched
        assert imb[c] == tr[c]
    assert s.n_gen == imb.max() - imb.min() == 958
    assert s.y_test.value_counts().to_dict() == {"unacc": 242, "acc": 77, "good": 14, "vgood": 13}
    # cut rows are a subset of the training split
    merged = s.X_imb.merge(s.X_train.drop_duplicates(), how="left", indicator=True)
    assert (merged["_merge"] == "both").all()


def test_split_is_seeded(car):
    a, b, c = (make_split(car.X, car.y, seed=s) for s in (0, 0, 1))
    pd.testing.assert_frame_equal(a.X_imb, b.X_imb)
    assert not a.X_test.equals(c.X_test)


@pytest.mark.parametrize("ratio", [0.0, 1.5, -0.1])
def test_bad_ratio(car, ratio):
    with pytest.raises(ValueError, match="keep-fraction"):
        make_split(car.X, car.y, seed=0, ratio=ratio)


def test_ratio_too_small_to_keep_a_row(car):
    with pytest.raises(ValueError, match="at least one must remain"):
        make_split(car.X, car.y, seed=0, ratio=0.01)


def test_published_codes_are_per_frame_and_corrected_shared():
    tr = pd.DataFrame({"n": [1, 2, 3], "c": ["a", "b", "c"]})
    te = pd.DataFrame({"n": [4, 5], "c": ["b", "c"]})  # 'a' missing at test time
    p_tr, p_te = classifier_frames(tr, te, ["n"], ["c"], "published")
    # the authors' quirk: test 'b' gets code 0 (first of its own frame), train 'b' code 1
    assert list(p_tr["c"].cat.codes) == [0, 1, 2] and list(p_te["c"].cat.codes) == [0, 1]
    c_tr, c_te = classifier_frames(tr, te, ["n"], ["c"], "corrected")
    assert list(c_te["c"].cat.codes) == [1, 2]
    assert p_tr["n"].dtype == np.float64


def test_unseen_test_category_becomes_missing_in_corrected_mode():
    tr = pd.DataFrame({"c": ["a", "b"]})
    te = pd.DataFrame({"c": ["z", "a"]})
    _, c_te = classifier_frames(tr, te, [], ["c"], "corrected")
    assert c_te["c"].isna().tolist() == [True, False]


def test_ordinal_round_trip():
    X = pd.DataFrame({"n": [3, 1], "c": ["y", "x"]})
    codes = ordinal_per_frame(X, ["c"])
    assert codes["c"].tolist() == [1.0, 0.0] and codes["n"].dtype == np.float64
    back = decode_ordinal(codes.assign(c=[0.7, 0.2]), X, ["c"])
    assert back["c"].tolist() == ["y", "x"]


def test_metrics_hand_computed_binary():
    # minority = class 0. y_true: 0 0 1 1 1 ; y_pred: 0 1 1 1 0
    y_true = np.array([0, 0, 1, 1, 1])
    y_pred = np.array([0, 1, 1, 1, 0])
    proba = np.array([[0.9, 0.1], [0.4, 0.6], [0.2, 0.8], [0.3, 0.7], [0.6, 0.4]])
    m = classification_metrics(y_true, y_pred, proba, minority=0, n_classes=2)
    # class 1: tp=2 fp=1 fn=1 -> f1 = 2/3 ; class 0: tp=1 fp=1 fn=1 -> f1 = 1/2
    assert m["f1_published"] == pytest.approx(2 / 3)
    assert m["f1_minority"] == pytest.approx(0.5)
    assert m["f1_macro"] == pytest.approx((2 / 3 + 0.5) / 2)
    # hard-label AUC for two classes equals balanced accuracy: (1/2 + 2/3) / 2
    assert m["auc_published"] == pytest.approx((0.5 + 2 / 3) / 2)
    assert m["balanced_accuracy"] == pytest.approx((0.5 + 2 / 3) / 2)
    # ROC-AUC from P(class 1): positives {0.8,0.7,0.4} vs negatives {0.1,0.6}: 5 of 6 pairs
    assert m["roc_auc"] == pytest.approx(5 / 6)
    assert m["g_mean"] == pytest.approx(np.sqrt(0.5 * 2 / 3))
    assert m["accuracy"] == pytest.approx(3 / 5)
    # PR-AUC of class 0 from P(class 0): ranking 0.9(+),0.6(-),0.4(+) -> AP = (1 + 2/3)/2
    assert m["pr_auc"] == pytest.approx((1 + 2 / 3) / 2)


def test_metrics_multiclass_published_is_weighted():
    y_true = np.array([0, 1, 2, 2])
    y_pred = np.array([0, 1, 2, 1])
    proba = np.eye(3)[y_pred] * 0.8 + 0.2 / 3
    m = classification_metrics(y_true, y_pred, proba, minority=0, n_classes=3)
    # weighted F1: class0 1.0 (w1), class1 2/3 (w1), class2 2/3 (w2) -> (1 + 2/3 + 4/3)/4
    assert m["f1_published"] == pytest.approx((1 + 2 / 3 + 4 / 3) / 4)
    assert m["f1_minority"] == pytest.approx(1.0)
