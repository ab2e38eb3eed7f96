"""Training (built-in scikit-learn trainer, user commands) and evaluation of predictions,
including the paired statistics that say whether a change is real or noise."""
