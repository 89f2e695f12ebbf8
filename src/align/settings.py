"""Settings: what to balance, what to minimise, which rules hold, how to solve.

Settings come in three layers, each merged over the one before: a preset from ``models/`` (named by
``model = "..."``), the scenario's ``scenario.toml``, and ``--set key=value`` overrides.
"""

from __future__ import annotations

import difflib
import tomllib
from collections.abc import Mapping
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from .errors import SettingsError


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True, allow_inf_nan=False)


class BalanceRule(_Strict):
    """Keep every territory's total of one column within target x (1 +- tolerance)."""

    tolerance: float = Field(gt=0, description="relative band half-width, 0.05 = +-5%")


class TerritoriesSettings(_Strict):
    count: int | None = Field(default=None, ge=1, description="greenfield: territories to create")
    regions: int | None = Field(
        default=None, ge=1, description="greenfield: group the territories into this many regions"
    )


class ObjectiveSettings(_Strict):
    travel: float = Field(default=1.0, ge=0, description="weight of the travel term")
    travel_weight: str = Field(default="potential", description='"none" or a numeric column')
    distance_power: Literal[1, 2] = 1
    disruption: float = Field(default=0.0, ge=0, description="weight of the disruption term")
    disruption_measure: str = Field(default="accounts", description='"accounts" or a column')


class ConstraintSettings(_Strict):
    contiguity: bool = False
    corner_adjacency: bool = Field(
        default=False, description="polygons touching only at a corner are neighbours (queen)"
    )
    max_moved_share: float = Field(default=1.0, ge=0, le=1)
    max_distance_km: float | None = Field(
        default=None,
        gt=0,
        description="no account joins a territory farther than this (km for lat/lon, else the "
        "unit of x/y or distances.csv); today's owner is kept where it is farther already",
    )


class SolverSettings(_Strict):
    name: str = "highs"
    time_limit_s: float = Field(default=60.0, gt=0)
    gap: float = Field(default=0.001, ge=0, lt=1)
    seed: int = 0
    threads: int | None = Field(default=None, ge=1)
    candidates: int | None = Field(
        default=None, ge=1, description="nearest territories per account to start from (auto)"
    )
    method: Literal["auto", "lp", "decompose"] = Field(
        default="auto",
        description="lp: one LP over every account; decompose: prices from an aggregated LP, "
        "then an LP over the accounts in doubt only; auto: decompose beyond 150,000 pairs",
    )


class PocketSettings(_Strict):
    """Opportunity pockets (``align pockets``): where uncovered whitespace clusters."""

    min_whitespace: float = Field(
        default=500_000.0, gt=0, description="dollars of whitespace a pocket needs at least"
    )
    radius_km: float = Field(
        default=50.0, gt=0, description="neighbourhood radius of the density clustering, km"
    )
    segment: str | None = Field(default=None, description="cluster one segment's accounts only")
    seed: int = 0
    reach_km: float = Field(
        default=0.0, ge=0, description="added to a pocket's radius: what a rep reaches from home"
    )
    max_radius_km: float | None = Field(
        default=None,
        gt=0,
        description="a pocket's members lie within this of its centre (default: the larger of "
        "2 x radius_km and 5% of the span of the accounts)",
    )
    min_density_ratio: float = Field(
        default=5.0,
        ge=0,
        description="a pocket's whitespace is at least this many times as dense as the "
        "accounts' on average (background alone is never a pocket)",
    )


# --- planning cycle: continuity between quarters (``align solve --from``) ---------------------


class ContinuitySettings(_Strict):
    """How ``align solve --from RUN`` treats last quarter's plan.

    ``keep`` (default): move as little as the rules allow (the disruption measure, moved against
    RUN's plan), and among the plans that move that little, the shortest travel. ``objective``:
    the scenario's own objective, which may move accounts for balance or travel.
    """

    mode: Literal["keep", "objective"] = "keep"


# --- quota proposals (align quotas) -----------------------------------------------------------


class QuotaBlend(_Strict):
    """Weights of the fair share: potential share, history (revenue) share and even share."""

    potential: float = Field(default=0.5, ge=0, description="weight of the potential share")
    history: float = Field(default=0.5, ge=0, description="weight of the revenue share")
    even: float = Field(default=0.0, ge=0, description="weight of an equal split")


class QuotaComponents(_Strict):
    """Component goals: each quota split into components, each summing to its goal.

    ``by = "history"`` makes two components, ``existing`` (accounts with revenue > 0) and ``new``
    (accounts without); ``by = "segment"`` (or any text column of accounts.csv) one component per
    value. ``goals`` maps each component to its goal (they must sum to the goal); no goals, no
    components.
    """

    by: str = Field(default="history", description='"history", "segment" or an account column')
    goals: dict[str, float] = {}


class QuotaSettings(_Strict):
    """Quota proposals (``align quotas``): fair share, caps and rounding."""

    blend: QuotaBlend = QuotaBlend()
    min_growth: float | None = Field(
        default=None, ge=-1, description="least growth over last period's revenue, -0.1 = -10%"
    )
    max_growth: float | None = Field(
        default=None, ge=-1, description="most growth over last period's revenue, 0.25 = +25%"
    )
    floor: float = Field(default=0.0, ge=0, description="least quota of any territory")
    ceiling: float | None = Field(default=None, gt=0, description="most quota of any territory")
    unit: float = Field(default=1000.0, gt=0, description="quotas are whole multiples of this")
    region_goals: str | None = Field(
        default=None, description="CSV (region, goal), relative to the scenario folder"
    )
    potential_alert: float = Field(
        default=0.8, gt=0, description="KPI: count territories whose quota exceeds this x potential"
    )
    season_min_accounts: int = Field(
        default=5, ge=1, description="accounts with period history a territory's own profile needs"
    )
    components: QuotaComponents = QuotaComponents()


class UnitSettings(_Strict):
    """How outputs show numbers (CLI, report, workbook): see :mod:`align.units`."""

    currency: str = Field(
        default="$", min_length=1, max_length=8,
        description='a symbol put before amounts ("$", "€") or a code put after them ("EUR")',
    )  # fmt: skip
    distance: str = Field(
        default="km", max_length=16, description="the unit of distances (x/y data: its own unit)"
    )


class Settings(_Strict):
    """All settings of a scenario, as resolved."""

    model: str | None = None
    columns: dict[str, str | dict[str, str]] = Field(
        default={},
        description="the file's headers of the contract's names: account_id = \"Account ID\"; "
        "per table in [columns.accounts] / [columns.territories]",
    )
    territories: TerritoriesSettings = TerritoriesSettings()
    balance: dict[str, BalanceRule] = {}
    balance_regions: dict[str, BalanceRule] = {}
    objective: ObjectiveSettings = ObjectiveSettings()
    constraints: ConstraintSettings = ConstraintSettings()
    solver: SolverSettings = SolverSettings()
    pockets: PocketSettings = PocketSettings()
    continuity: ContinuitySettings = ContinuitySettings()
    quota: QuotaSettings = QuotaSettings()
    units: UnitSettings = UnitSettings()


# ---------------------------------------------------------------------------------------------
# presets


def models_dir() -> Path:
    """The folder of presets: packaged as ``align/models`` or the repository's ``models/``."""
    packaged = Path(str(resources.files("align"))) / "models"
    if packaged.is_dir():
        return packaged
    return Path(__file__).resolve().parents[2] / "models"


def list_presets() -> list[str]:
    """Names of the presets in ``models/``."""
    return sorted(p.stem for p in models_dir().glob("*.toml"))


def load_preset(name: str) -> dict[str, Any]:
    """Read preset ``name`` from ``models/`` as a raw dict.

    Only the names :func:`list_presets` gives are read: a path (``../x``, ``/etc/x``) never
    reaches the file system, and the message does not say whether such a file exists.
    """
    known = list_presets()
    if name not in known:
        hint = difflib.get_close_matches(name[:100], known, n=1)
        tip = f" (did you mean '{hint[0]}'?)" if hint else ""
        shown = name if len(name) <= 100 else name[:100] + "..."
        raise SettingsError(
            f"settings key 'model': unknown preset '{shown}'{tip}; presets: {', '.join(known)}"
        )
    return read_toml(models_dir() / f"{name}.toml", label=f"models/{name}.toml")


MAX_TOML_BYTES = 1 << 20  # a settings file is a few hundred bytes; 1 MiB is far beyond any
MAX_DEPTH = 16  # tables and arrays nested deeper than this are no settings
MAX_KEY_PARTS = 16  # a dotted --set key has at most this many parts


def read_toml(path: Path, *, label: str) -> dict[str, Any]:
    """A settings file as a dict; SettingsError naming ``label`` when it is not valid TOML,
    larger than MAX_TOML_BYTES or nested deeper than MAX_DEPTH."""
    try:
        with path.open("rb") as f:
            content = f.read(MAX_TOML_BYTES + 1)
    except OSError as e:
        raise SettingsError(f"{label}: cannot be read ({e.strerror or e})") from None
    if len(content) > MAX_TOML_BYTES:
        raise SettingsError(
            f"{label}: the file is over {MAX_TOML_BYTES:,} bytes; a settings file holds a few "
            "keys (see the README's settings); remove what is not a setting"
        )
    try:
        data = tomllib.loads(content.decode("utf-8"))
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{label}: not valid TOML ({e})") from None
    except UnicodeDecodeError:
        raise SettingsError(f"{label}: not valid TOML (the file is not UTF-8 text)") from None
    except RecursionError:
        raise SettingsError(_too_deep(label, None)) from None
    depth = nesting(data)
    if depth > MAX_DEPTH:
        raise SettingsError(_too_deep(label, depth))
    return data


def nesting(value: Any) -> int:
    """How deeply tables and arrays nest in ``value`` (a scalar is 0), without recursion."""
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        if isinstance(node, Mapping):
            children: Any = node.values()
        elif isinstance(node, list | tuple):
            children = node
        else:
            continue
        deepest = max(deepest, depth + 1)
        if deepest > MAX_DEPTH:  # deep enough to refuse; no need to walk the rest
            return deepest
        stack.extend((child, depth + 1) for child in children)
    return deepest


def _too_deep(label: str, depth: int | None) -> str:
    levels = "too many levels" if depth is None else f"more than {MAX_DEPTH} levels"
    return (
        f"{label}: tables or arrays are nested {levels} deep; settings nest at most "
        f"{MAX_DEPTH} levels (e.g. [balance.potential] tolerance = 0.05)"
    )


# ---------------------------------------------------------------------------------------------
# keys


def _known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += _known_keys(ann, f"{prefix}{name}.")
        elif name in ("balance", "balance_regions"):
            keys.append(f"{prefix}{name}.<column>.tolerance")
        else:
            keys.append(f"{prefix}{name}")
    return keys


KNOWN_KEYS: list[str] = _known_keys(Settings)


def _check_keys(raw: Mapping[str, Any], source: str, flagged: set[str] | None = None) -> list[str]:
    """Unknown keys of one settings layer, each with the nearest valid key.

    The dotted keys reported are added to ``flagged``.
    """
    problems: list[str] = []
    flagged = set() if flagged is None else flagged

    def unknown(dotted: str, candidates: list[str]) -> None:
        hint = difflib.get_close_matches(dotted, candidates, n=1, cutoff=0.6)
        tip = f" (did you mean '{hint[0]}'?)" if hint else ""
        problems.append(f"{source}: unknown settings key '{dotted}'{tip}")
        flagged.add(dotted)

    def walk(model: type[BaseModel], data: Mapping[str, Any], prefix: str) -> None:
        fields = model.model_fields
        for key, value in data.items():
            dotted = f"{prefix}{key}"
            if key not in fields:
                if isinstance(value, Mapping) and value:
                    # an unknown table: name each key in it, so the suggestion is a full key
                    for leaf in _leaves(value, f"{dotted}."):
                        unknown(leaf, _candidates(leaf))
                    flagged.add(dotted)
                else:
                    unknown(dotted, [f"{prefix}{f}" for f in fields] + _candidates(dotted))
                continue
            ann = fields[key].annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                if isinstance(value, Mapping):
                    walk(ann, value, f"{dotted}.")
            elif key in ("balance", "balance_regions") and isinstance(value, Mapping):
                for column, rule in value.items():
                    if isinstance(rule, Mapping):
                        walk(BalanceRule, rule, f"{dotted}.{column}.")
                    else:
                        problems.append(
                            f"{source}: settings key '{dotted}.{column}' must be a table "
                            f"such as {{ tolerance = 0.05 }} (got {rule!r})"
                        )
                        flagged.add(f"{dotted}.{column}")

    walk(Settings, raw, "")
    return problems


def _leaves(data: Mapping[str, Any], prefix: str) -> list[str]:
    out: list[str] = []
    for key, value in data.items():
        if isinstance(value, Mapping) and value:
            out += _leaves(value, f"{prefix}{key}.")
        else:
            out.append(f"{prefix}{key}")
    return out


def _candidates(dotted: str) -> list[str]:
    """Valid keys to suggest from; ``balance.<column>`` takes the column of ``dotted``."""
    parts = dotted.split(".")
    column = parts[1] if len(parts) > 2 else None
    return [k.replace("<column>", column) if column else k for k in KNOWN_KEYS]


# ---------------------------------------------------------------------------------------------
# layers


def deep_merge(base: Mapping[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, Mapping) and isinstance(out.get(k), Mapping):
            out[k] = deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_overrides(items: list[str] | None) -> dict[str, Any]:
    """``["a.b=1", "c=x"]`` -> nested dict; values are read as TOML, else as plain strings."""
    out, problems = _parse_overrides(items)
    if problems:
        raise SettingsError(problems)
    return out


def _parse_overrides(items: list[str] | None) -> tuple[dict[str, Any], list[str]]:
    """The items that parse, and one problem per item that does not."""
    out: dict[str, Any] = {}
    problems: list[str] = []
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(
                f"--set {item!r}: expected key=value, e.g. balance.potential.tolerance=0.05"
            )
            continue
        shown = item if len(item) <= 200 else item[:200] + "..."
        parts = [part.strip() for part in key.split(".", MAX_KEY_PARTS)]
        if len(parts) > MAX_KEY_PARTS:
            problems.append(
                f"--set {shown!r}: the key has more than {MAX_KEY_PARTS} parts; settings keys "
                "have a few, e.g. balance.potential.tolerance"
            )
            continue
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        except RecursionError:
            value = None
        if value is None or nesting(value) > MAX_DEPTH:
            problems.append(f"--set {shown!r}: " + _too_deep("the value", None).split(": ", 1)[1])
            continue
        node = out
        if not all(parts):
            problems.append(f"--set {item!r}: '{key}' is not a settings key (empty part)")
            continue
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                problems.append(f"--set {item!r}: '{part}' is set as a value and as a table")
                break
        else:
            if isinstance(node.get(parts[-1]), dict) and not isinstance(value, dict):
                problems.append(
                    f"--set {item!r}: '{key}' is a table of settings; set one of its keys, "
                    f"e.g. {key}.<key>=value"
                )
                continue
            node[parts[-1]] = value
    return out, problems


def resolve_settings(
    scenario_toml: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | list[str] | None = None,
    *,
    scenario_label: str = "scenario.toml",
) -> Settings:
    """Merge preset <- scenario.toml <- overrides and validate. Raises SettingsError.

    Every problem of every layer is reported at once: unknown keys (with the nearest valid key),
    malformed ``--set`` items, an unknown preset and invalid values (naming the layer that set
    them).
    """
    scenario_toml = dict(scenario_toml or {})
    problems: list[str] = []
    if isinstance(overrides, list):
        overrides, problems = _parse_overrides(overrides)
    overrides = dict(overrides or {})
    flagged: set[str] = set()
    problems += _check_keys(scenario_toml, scenario_label, flagged)
    problems += _check_keys(overrides, "--set", flagged)
    name = overrides.get("model", scenario_toml.get("model"))
    preset: dict[str, Any] = {}
    if name is not None:
        if not isinstance(name, str):
            source = "--set" if "model" in overrides else scenario_label
            problems.append(
                f"{source}: settings key 'model' must be a preset name such as \"balanced\" "
                f"(got {name!r})"
            )
            flagged.add("model")
        else:
            try:
                preset = load_preset(name)
            except SettingsError as e:
                problems += [
                    f"{'--set' if 'model' in overrides else scenario_label}: {m}"
                    for m in e.problems
                ]
                flagged.add("model")
            problems += _check_keys(preset, f"models/{name}.toml", flagged)
    layers: list[tuple[str, Mapping[str, Any]]] = [
        ("--set", overrides),
        (scenario_label, scenario_toml),
        (f"models/{name}.toml", preset),
    ]
    merged = deep_merge(deep_merge(preset, scenario_toml), overrides)
    try:
        settings = Settings.model_validate(merged)
    except ValidationError as e:
        for err in e.errors():
            loc = [str(part) for part in err["loc"]]
            dotted = ".".join(loc)
            parent = ".".join(loc[:-1]) + "."
            if (
                err["type"] == "extra_forbidden"
                or any(dotted == f or dotted.startswith(f + ".") for f in flagged)
                or (err["type"] == "missing" and any(f.startswith(parent) for f in flagged))
            ):
                continue  # reported above, with a suggestion
            problems.append(_describe(err, _source(loc, layers)))
        settings = None
    if problems or settings is None:
        raise SettingsError(problems)
    return settings


def _source(loc: list[str], layers: list[tuple[str, Mapping[str, Any]]]) -> str:
    """The layer that set ``loc`` (the last layer wins), or that set its nearest parent."""
    for depth in range(len(loc), 0, -1):
        for label, data in layers:
            node: Any = data
            for part in loc[:depth]:
                if not isinstance(node, Mapping) or part not in node:
                    break
                node = node[part]
            else:
                return label
    return "settings"


# what a valid value looks like, by the last part of the key
_HINTS = {
    "tolerance": "0.05 means every territory within +-5% of its target",
    "distance_power": "1 = weighted travel (p-median), 2 = moment of inertia",
    "max_moved_share": "a share between 0 and 1, e.g. 0.25",
    "travel": "0 turns travel off",
    "disruption": "0 turns disruption off",
    "time_limit_s": "seconds, e.g. 60",
    "gap": "a share, e.g. 0.001 for 0.1%",
    "min_whitespace": "dollars, e.g. 500000",
    "radius_km": "kilometres, e.g. 50",
    "reach_km": "kilometres, e.g. 25; 0 = only the pocket's own radius",
    "min_growth": "a share of last period's revenue, e.g. -0.1 for at most 10% less",
    "max_growth": "a share of last period's revenue, e.g. 0.25 for at most +25%",
    "unit": "dollars, e.g. 1000: quotas are whole thousands",
    "max_distance_km": "kilometres, e.g. 150",
    "columns": 'a table of names and headers, e.g. [columns] account_id = "Account ID"',
}


def _describe(err: Any, source: str) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    if err["type"] == "missing":
        return f"{source}: settings key '{loc}' is required"
    msg = err["msg"]
    kind = err["type"]
    if kind in ("dict_type", "model_type", "model_attributes_type"):
        msg = "must be a table of settings, not a single value"
    elif kind in ("float_parsing", "float_type"):
        msg = "must be a number"
    elif kind in ("int_parsing", "int_type", "int_from_float"):
        msg = "must be a whole number"
    elif kind in ("bool_parsing", "bool_type"):
        msg = "must be true or false"
    elif kind in ("string_type",):
        msg = "must be a string (in quotes)"
    elif msg.startswith("Input should be"):
        msg = "must be" + msg[len("Input should be") :]
    else:
        msg = "is invalid: " + (msg[0].lower() + msg[1:] if msg else msg)
    hint = _HINTS.get(str(err["loc"][-1]))
    tip = f"; {hint}" if hint else ""
    return f"{source}: settings key '{loc}' {msg} (got {err.get('input')!r}){tip}"
