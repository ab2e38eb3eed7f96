"""MLflow as a source of runs: this PR's run, main's run, their histories and artifacts.

cml-py talks to the tracking server's REST API with the standard library (rest.py)
rather than through `mlflow-skinny`: importing the client costs about 2 s and 170 MiB
on a 2-core runner, urllib about 0.07 s, and cml-py needs only a handful of endpoints
(benchmarks/bench_mlflow.py has the numbers). Nothing here imports `mlflow`.

  rest.py    HTTP, credentials, retries, and errors mapped to exit codes
  runs.py    the run model, its parsing and checks (pure), and the lookups
  source.py  what the pipeline asks for: main's run as a baseline source, this PR's
             verified run, both sides' metrics, params, curves and predictions
"""
