"""python -m tests.studies.losses.baselines: scikit-learn's standard models on exactly the folds, validation rows and
standardisation the MLP sees (the data module that the study's run of each fold composes), fitted on the training
and validation rows, scored on the test fold; prints each metric's 5-fold mean ± std as a markdown table.

RidgeCV for diabetes; LogisticRegression and LinearSVC(loss="hinge") for breast_cancer and wine.
"""

import numpy as np
from hydra.utils import instantiate
from sklearn.linear_model import LogisticRegression, RidgeCV
from sklearn.metrics import accuracy_score, r2_score, roc_auc_score, root_mean_squared_error
from sklearn.svm import LinearSVC

from tests.conftest import compose_config

MODELS = {
    "diabetes": {"RidgeCV": lambda: RidgeCV(alphas=np.logspace(-3, 3, 13))},
    "breast_cancer": {"LogisticRegression": lambda: LogisticRegression(max_iter=5000),
                      "LinearSVC(hinge)": lambda: LinearSVC(loss="hinge", max_iter=100_000)},
}  # fmt: skip
MODELS["wine"] = MODELS["breast_cancer"]


def scores(model: object, data: str, x: np.ndarray, y: np.ndarray) -> dict[str, float]:
    """The test fold's metrics, named as the MLP's tasks name theirs."""
    if data == "diabetes":
        predicted = model.predict(x)
        return {"test/r2": r2_score(y, predicted), "test/rmse": root_mean_squared_error(y, predicted)}
    values = {"test/acc": accuracy_score(y, model.predict(x))}
    if data == "breast_cancer" and hasattr(model, "predict_proba"):
        values["test/auroc"] = roc_auc_score(y, model.predict_proba(x)[:, 1])
    return values


def fold_split(overrides: list[str]) -> tuple[np.ndarray, ...]:
    """(features, targets) of the training + validation rows, then of the test fold, as the data module composed
    from `overrides` (a training run's command line) serves them: standardised by the training rows."""
    module = instantiate(compose_config("train", *overrides).data)
    module.setup()
    rows = [module.splits[split].tensors for split in ("train", "val")]
    x, y = (np.concatenate([part[i].numpy() for part in rows]) for i in (0, 1))
    test_x, test_y = (tensor.numpy() for tensor in module.splits["test"].tensors)
    return x, y.ravel(), test_x, test_y.ravel()


def per_fold(data: str, folds: list[list[str]]) -> dict[str, dict[str, list[float]]]:
    """{model name: {metric: one value per fold}}; `folds`: each fold's data overrides (those of its runs)."""
    results: dict[str, dict[str, list[float]]] = {name: {} for name in MODELS[data]}
    for overrides in folds:
        x, y, test_x, test_y = fold_split(overrides)
        for name, make in MODELS[data].items():
            for metric, value in scores(make().fit(x, y), data, test_x, test_y).items():
                results[name].setdefault(metric, []).append(float(value))
    return results


def baselines(data: str, folds: int = 5) -> dict[str, dict[str, tuple[float, float]]]:
    """{model name: {metric: (mean, population std) over the folds}} for one table."""
    results = per_fold(data, [[f"data={data}", f"data.fold={fold}"] for fold in range(folds)])
    return {name: {m: (np.mean(v), np.std(v)) for m, v in metrics.items()} for name, metrics in results.items()}


def main() -> None:
    print("| data | model | metric | 5-fold mean ± std |\n|---|---|---|---|")
    for data in MODELS:
        for name, metrics in baselines(data).items():
            for metric, (mean, std) in metrics.items():
                print(f"| `{data}` | {name} | {metric} | {mean:.4f} ± {std:.4f} |")


if __name__ == "__main__":
    main()
