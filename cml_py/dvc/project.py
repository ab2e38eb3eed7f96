"""dvc.yaml, dvc.lock and .dvc/config → plain data (pure functions, no DVC import).

Paths in these files are relative to the file's directory; everything returned here is
repository-relative with `/`, so the same string names a file in the working tree, in
git at the base commit and in DVC's cache. A path that would leave the repository is an
error naming the file and key: a dvc.yaml is read from the base commit with the same
care as a cml.yaml.
"""

from __future__ import annotations

import configparser
import posixpath
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from cml_py.errors import CmlError

METRIC_SUFFIXES = (".json", ".yaml", ".yml", ".toml")
PLOT_DATA_SUFFIXES = (".json", ".yaml", ".yml", ".csv", ".tsv")
IMAGE_SUFFIXES = (".png", ".jpg", ".jpeg", ".gif", ".svg")
TEMPLATES = (
    "linear",
    "simple",
    "smooth",
    "scatter",
    "confusion",
    "confusion_normalized",
    "bar_horizontal",
    "bar_horizontal_sorted",
)
DEFAULT_PARAMS = "params.yaml"
_HASH = re.compile(r"^[0-9a-f]{32}(\.dir)?$")


@dataclass(frozen=True)
class PlotDef:
    """One plot of dvc.yaml: `y` pairs each data file (repo-relative) with its fields.

    `x` is a field name or None (the row index, DVC's `step`); `x_files` maps a file
    to its own x field where dvc.yaml gives x per file. An image plot has `image` set
    and its files in `y` with an empty field."""

    id: str
    template: str = "linear"
    x: str | None = None
    y: tuple[tuple[str, str | None], ...] = ()
    x_files: tuple[tuple[str, str], ...] = ()
    title: str | None = None
    x_label: str | None = None
    y_label: str | None = None
    image: bool = False
    directory: bool = False  # y names a directory: every data file under it


@dataclass(frozen=True)
class DvcProject:
    """What a dvc.yaml declares, repo-relative. `params` pairs a file with the keys the
    pipeline uses (None: the whole file)."""

    file: str
    metrics: tuple[str, ...] = ()
    params: tuple[tuple[str, tuple[str, ...] | None], ...] = ()
    plots: tuple[PlotDef, ...] = ()
    outs: tuple[str, ...] = ()
    skipped: tuple[str, ...] = ()  # templated entries (`${…}`) cml-py cannot resolve

    @property
    def metric_patterns(self) -> tuple[str, ...]:
        """Files, and directories as globs over the metric formats."""
        out: list[str] = []
        for path in self.metrics:
            if path.lower().endswith(METRIC_SUFFIXES):
                out.append(path)
            else:
                out += [f"{path}/**/*{suffix}" for suffix in METRIC_SUFFIXES]
        return tuple(out)

    @property
    def param_files(self) -> tuple[str, ...]:
        return tuple(path for path, _ in self.params)


@dataclass(frozen=True)
class OutHash:
    """A DVC output's content address. `legacy`: a DVC 2 entry (md5 of the text with
    CRLF → LF, cached at the top of the cache); else DVC 3's plain md5 under files/md5."""

    md5: str
    legacy: bool = False

    @property
    def is_dir(self) -> bool:
        return self.md5.endswith(".dir")


@dataclass(frozen=True)
class RepoConfig:
    """The parts of a .dvc/config cml-py uses: the default remote, each remote's
    options, and where the cache is."""

    remote: str | None = None
    remotes: Mapping[str, Mapping[str, str]] = field(default_factory=dict)
    cache_dir: str | None = None


def _where(source: str, *keys: object) -> str:
    return source + (": " + ".".join(str(k) for k in keys) if keys else "")


def join_inside(base_dir: str, path: Any, source: str, *keys: object) -> str:
    """`path` (relative to `base_dir`, a repo-relative directory) as a repo-relative
    path; refuses absolute paths and any that leave the repository."""
    if not isinstance(path, str) or not path.strip():
        raise CmlError(f"{_where(source, *keys)}: expected a relative path, got {path!r}")
    if path.startswith(("/", "\\")) or re.match(r"^[A-Za-z]:", path) or "://" in path:
        raise CmlError(
            f"{_where(source, *keys)}: {path!r} is not a path inside the repository "
            "(cml-py reads only the repository's own files)"
        )
    joined = posixpath.normpath(posixpath.join(base_dir or ".", path.replace("\\", "/")))
    if joined == ".." or joined.startswith("../"):
        raise CmlError(f"{_where(source, *keys)}: {path!r} leads out of the repository")
    return joined


def _templated(value: Any) -> bool:
    return isinstance(value, str) and "${" in value


def _entries(value: Any, source: str, *keys: object) -> list[tuple[str, Any]]:
    """A dvc.yaml list whose items are `path` or `{path: options}` → (path, options)."""
    if value is None:
        return []
    if not isinstance(value, list):
        raise CmlError(f"{_where(source, *keys)}: expected a list")
    out: list[tuple[str, Any]] = []
    for index, item in enumerate(value):
        if isinstance(item, str):
            out.append((item, None))
        elif isinstance(item, Mapping) and len(item) == 1:
            ((name, options),) = item.items()
            out.append((str(name), options))
        else:
            raise CmlError(
                f"{_where(source, *keys, index)}: expected a path or a mapping of one path"
            )
    return out


def parse_dvc_yaml(data: Any, file: str) -> DvcProject:
    """A parsed dvc.yaml (at repo-relative `file`) → what it declares (pure)."""
    from cml_py.dvc.plot_defs import _plot, _plot_items, _plot_options

    if data is None:
        data = {}
    if not isinstance(data, Mapping):
        raise CmlError(f"{file}: expected a mapping at the top level")
    here = posixpath.dirname(file)
    metrics: list[str] = []
    params: dict[str, set[str] | None] = {}
    plots: list[PlotDef] = []
    outs: list[str] = []
    skipped: list[str] = []

    def add_metric(path: str, *keys: object) -> None:
        if _templated(path):
            skipped.append(f"{_where(file, *keys)}: {path}")
            return
        metrics.append(join_inside(here, path, file, *keys))

    for path, _ in _entries(data.get("metrics"), file, "metrics"):
        add_metric(path, "metrics")
    for path, _ in _entries(data.get("params"), file, "params"):
        if _templated(path):
            skipped.append(f"{_where(file, 'params')}: {path}")
            continue
        params[join_inside(here, path, file, "params")] = None
    for index, item in enumerate(_plot_items(data.get("plots"), file)):
        plot = _plot(item, here, file, ("plots", index), skipped)
        if plot is not None:
            plots.append(plot)
    stages = data.get("stages") or {}
    if not isinstance(stages, Mapping):
        raise CmlError(f"{file}: stages: expected a mapping of stage names")
    for name, stage in stages.items():
        if not isinstance(stage, Mapping):
            raise CmlError(f"{file}: stages.{name}: expected a mapping")
        if "foreach" in stage or "matrix" in stage:
            skipped.append(f"{file}: stages.{name} (foreach/matrix)")
            continue
        wdir = stage.get("wdir") or "."
        if _templated(wdir) or not isinstance(wdir, str):
            skipped.append(f"{file}: stages.{name}.wdir")
            continue
        stage_dir = join_inside(here, wdir, file, "stages", name, "wdir")
        for kind in ("outs", "metrics", "plots"):
            for path, options in _entries(stage.get(kind), file, "stages", name, kind):
                if _templated(path):
                    skipped.append(f"{_where(file, 'stages', name, kind)}: {path}")
                    continue
                full = join_inside(stage_dir, path, file, "stages", name, kind)
                outs.append(full)
                if kind == "metrics":
                    metrics.append(full)
                elif kind == "plots":
                    plots.append(
                        _plot_options(full, options, stage_dir, file, ("stages", name, kind))
                    )
        _stage_params(stage.get("params"), stage_dir, file, name, params, skipped)
    return DvcProject(
        file=file,
        metrics=tuple(dict.fromkeys(metrics)),
        params=tuple(
            (path, None if keys is None else tuple(sorted(keys))) for path, keys in params.items()
        ),
        plots=tuple(plots),
        outs=tuple(dict.fromkeys(outs)),
        skipped=tuple(skipped),
    )


def _stage_params(
    value: Any,
    stage_dir: str,
    file: str,
    name: str,
    params: dict[str, set[str] | None],
    skipped: list[str],
) -> None:
    """`params: [key, {file.yaml: [keys]}, {file.yaml: null}]` → file → keys used."""
    keys_at = ("stages", name, "params")
    if value is None:
        return
    if not isinstance(value, list):
        raise CmlError(f"{_where(file, *keys_at)}: expected a list of keys and files")
    default = join_inside(stage_dir, DEFAULT_PARAMS, file, *keys_at)
    for entry in value:
        if isinstance(entry, str):
            if _templated(entry):
                skipped.append(f"{_where(file, *keys_at)}: {entry}")
                continue
            _add_keys(params, default, [entry])
        elif isinstance(entry, Mapping):
            for path, keys in entry.items():
                if not isinstance(path, str):
                    raise CmlError(f"{_where(file, *keys_at)}: expected a file name, got {path!r}")
                if _templated(path):
                    skipped.append(f"{_where(file, *keys_at)}: {path}")
                    continue
                target = join_inside(stage_dir, path, file, *keys_at)
                if keys is None or keys == []:
                    params[target] = None
                elif isinstance(keys, list) and all(isinstance(k, str) for k in keys):
                    _add_keys(params, target, [k for k in keys if not _templated(k)])
                else:
                    raise CmlError(f"{_where(file, *keys_at, path)}: expected a list of keys")
        else:
            raise CmlError(f"{_where(file, *keys_at)}: expected a key or a mapping of a file")


def _add_keys(params: dict[str, set[str] | None], path: str, keys: Iterable[str]) -> None:
    if path in params and params[path] is None:
        return  # the whole file is used already
    params.setdefault(path, set()).update(keys)  # type: ignore[union-attr]


def parse_lock(data: Any, lock_file: str) -> dict[str, OutHash]:
    """dvc.lock → the hash of each output, by repo-relative path (pure)."""
    if data is None:
        return {}
    if not isinstance(data, Mapping):
        raise CmlError(f"{lock_file}: expected a mapping at the top level")
    here = posixpath.dirname(lock_file)
    stages = data.get("stages") or {}
    if not isinstance(stages, Mapping):
        raise CmlError(f"{lock_file}: stages: expected a mapping")
    out: dict[str, OutHash] = {}
    for name, stage in stages.items():
        if not isinstance(stage, Mapping):
            continue
        entries = stage.get("outs") or []
        if not isinstance(entries, list):
            raise CmlError(f"{lock_file}: stages.{name}.outs: expected a list")
        for index, entry in enumerate(entries):
            if not isinstance(entry, Mapping) or "path" not in entry:
                raise CmlError(f"{lock_file}: stages.{name}.outs.{index}: expected path and md5")
            md5 = entry.get("md5")
            if md5 is None:  # an output that was never computed, or another hash kind
                continue
            if not isinstance(md5, str) or not _HASH.match(md5):
                raise CmlError(
                    f"{lock_file}: stages.{name}.outs.{index}.md5: expected an md5 hash, "
                    f"got {md5!r}"
                )
            path = join_inside(here, entry["path"], lock_file, "stages", name, "outs", index)
            out[path] = OutHash(md5, legacy=entry.get("hash") != "md5")
    return out


def find_out(path: str, outs: Mapping[str, OutHash]) -> tuple[str, OutHash] | None:
    """The output that holds `path`: the file itself, or the nearest directory output
    above it. Returns (the output's path, its hash)."""
    if path in outs:
        return path, outs[path]
    parent = posixpath.dirname(path)
    while parent:
        found = outs.get(parent)
        if found is not None:
            return (parent, found) if found.is_dir else None
        parent = posixpath.dirname(parent)
    return None


def parse_config(text: str, source: str) -> RepoConfig:
    """A .dvc/config (configobj's INI dialect) → default remote, remotes, cache dir."""
    parser = configparser.ConfigParser(interpolation=None, strict=False)
    parser.optionxform = str  # type: ignore[assignment,method-assign]
    try:
        parser.read_string(text, source=source)
    except configparser.Error as exc:
        raise CmlError(f"{source}: cannot parse DVC config: {exc.message}") from None
    remotes: dict[str, dict[str, str]] = {}
    remote = cache_dir = None
    for section in parser.sections():
        values = {k.lower(): _unquote(v) for k, v in parser.items(section)}
        name = _unquote(section)
        match = re.match(r'^remote\s+"(.+)"$', name)
        if match:
            remotes[match.group(1).lower()] = values
        elif name == "core":
            remote = values.get("remote")
        elif name == "cache":
            cache_dir = values.get("dir")
    return RepoConfig(
        remote=remote.lower() if remote else None, remotes=remotes, cache_dir=cache_dir
    )


def _unquote(value: str) -> str:
    value = value.strip()
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
        return value[1:-1]
    return value


def merge_configs(*configs: RepoConfig) -> RepoConfig:
    """Later configs shadow earlier ones, option by option (DVC's level order)."""
    remote = cache_dir = None
    remotes: dict[str, dict[str, str]] = {}
    for config in configs:
        remote = config.remote or remote
        cache_dir = config.cache_dir or cache_dir
        for name, options in config.remotes.items():
            remotes.setdefault(name, {}).update(options)
    return RepoConfig(remote=remote, remotes=remotes, cache_dir=cache_dir)


def filter_params(values: Mapping[str, Any], keys: tuple[str, ...] | None) -> dict[str, Any]:
    """Only the params a stage uses: a key selects itself and everything under it."""
    if keys is None:
        return dict(values)
    return {
        name: value
        for name, value in values.items()
        if any(name == key or name.startswith(key + ".") for key in keys)
    }
