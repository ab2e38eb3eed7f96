"""File names of the training outputs directory (shared by trainers, comparison and
baselines; kept apart so reading them costs no import of the trainers)."""

METRICS = "metrics.json"
PARAMS = "params.json"
PREDICTIONS = "predictions.csv"
FEATURE_IMPORTANCE = "feature_importance.csv"
MODEL = "model.joblib"
CURVES = "curves"
