"""The scikit-learn baselines run on the tables' own folds and land where the literature puts them."""

from tests.studies.losses.baselines import baselines


def test_baselines_score_every_fold_of_the_tables_split() -> None:
    ridge = baselines("diabetes")["RidgeCV"]
    assert 0.4 < ridge["test/r2"][0] < 0.6 and 45 < ridge["test/rmse"][0] < 65  # R2 about 0.49, RMSE in its units
    wine = baselines("wine")
    assert wine["LogisticRegression"]["test/acc"][0] > 0.95 and wine["LinearSVC(hinge)"]["test/acc"][0] > 0.95
