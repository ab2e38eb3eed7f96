"""DVC projects: dvc.yaml as a config source, main's numbers through dvc.lock, DVC plots.

Most of this package reads DVC's own files (dvc.yaml, dvc.lock, .dvc/config, the cache)
with plain Python, so a DVC project costs no more start-up time than any other when
main's outputs are already in the local cache. The `dvc` package itself (the
`cml-py[dvc]` extra) is imported only to fetch an object from a remote and to run
`dvc repro` / `dvc exp run`.

Trust: which metrics, params and plots are judged is policy, so it comes from the *base*
commit's dvc.yaml (read with git, regular files only); main's outputs are found through
the base's dvc.lock, fetched from the remote named in the base's .dvc/config, and every
object read for main is checked against the hash the base's dvc.lock records — whatever
the pull request puts in the cache or in a config file, it cannot change main's numbers.
"""
