"""python -m tests.studies.losses.baselines: scikit-learn's standard models on exactly the folds, validation rows and
standardisation the MLP sees (each table's data config, read with Hydra), fitted on the training and validation
rows, scored on the test fold; prints each metric's 5-fold mean ± std as a markdown table.

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


def baselines(data: str) -> dict[str, dict[str, tuple[float, float]]]:
    """{model name: {metric: (mean, population std) over the folds}} for one table."""
    folds = compose_config("train", f"data={data}").data.folds
    results: dict[str, dict[str, list[float]]] = {name: {} for name in MODELS[data]}
    for fold in range(folds):
        module = instantiate(compose_config("train", f"data={data}", f"data.fold={fold}").data)
        module.setup()
        rows = [module.splits[split].tensors for split in ("train", "val")]
        x, y = (np.concatenate([part[i].numpy() for part in rows]) for i in (0, 1))
        test_x, test_y = (tensor.numpy() for tensor in module.splits["test"].tensors)
        for name, make in MODELS[data].items():
            model = make().fit(x, y.ravel())
            for metric, value in scores(model, data, test_x, test_y.ravel()).items():
                results[name].setdefault(metric, []).append(float(value))
    return {name: {m: (np.mean(v), np.std(v)) for m, v in metrics.items()} for name, metrics in results.items()}


def main() -> None:
    print("| data | model | metric | 5-fold mean ± std |\n|---|---|---|---|")
    for data in MODELS:
        for name, metrics in baselines(data).items():
            for metric, (mean, std) in metrics.items():
                print(f"| `{data}` | {name} | {metric} | {mean:.4f} ± {std:.4f} |")


if __name__ == "__main__":
    main()
