"""Data between main and the PR: schema, quality and drift of named datasets, as metrics.

`config` parses `data:` (cheap, imported with cml.yaml); `measures` holds the statistics
(pure numpy); `read` turns files into frames with limits; `profile`/`compare` turn two
frames into metric rows; `sources` reads main's side from git or DVC and the PR's from
the working tree; `run` wires them for the pipeline. Nothing here imports numpy or pandas
at module level except the modules that compute.
"""
