"""File names of the training outputs directory (shared by trainers, comparison and
baselines; kept apart so reading them costs no import of the trainers)."""

METRICS = "metrics.json"
PARAMS = "params.json"
PREDICTIONS = "predictions.csv"
FEATURE_IMPORTANCE = "feature_importance.csv"
MODEL = "model.joblib"
CURVES = "curves"
REPLICATES = "replicates"  # seeds 2..N of train.repeats: replicates/predictions-<i>.csv


def replicate_predictions(index: int) -> str:
    """Where seed `index` (1-based after the first, which is predictions.csv) is kept."""
    return f"{REPLICATES}/predictions-{index}.csv"
