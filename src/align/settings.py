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
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class BalanceRule(_Strict):
    """Keep every territory's total of one column within target x (1 +- tolerance)."""

    tolerance: float = Field(gt=0, description="relative band half-width, 0.05 = +-5%")


class TerritoriesSettings(_Strict):
    count: int | None = Field(default=None, ge=1, description="greenfield: territories to create")


class ObjectiveSettings(_Strict):
    travel: float = Field(default=1.0, ge=0, description="weight of the travel term")
    travel_weight: str = Field(default="potential", description='"none" or a numeric column')
    distance_power: Literal[1, 2] = 1
    disruption: float = Field(default=0.0, ge=0, description="weight of the disruption term")
    disruption_measure: str = Field(default="accounts", description='"accounts" or a column')


class ConstraintSettings(_Strict):
    contiguity: bool = False
    max_moved_share: float = Field(default=1.0, ge=0, le=1)


class SolverSettings(_Strict):
    name: str = "highs"
    time_limit_s: float = Field(default=60.0, gt=0)
    gap: float = Field(default=0.001, ge=0, lt=1)
    seed: int = 0
    threads: int | None = Field(default=None, ge=1)
    candidates: int | None = Field(
        default=None, ge=1, description="nearest territories per account to start from (auto)"
    )


class Settings(_Strict):
    """All settings of a scenario, as resolved."""

    model: str | None = None
    territories: TerritoriesSettings = TerritoriesSettings()
    balance: dict[str, BalanceRule] = {}
    objective: ObjectiveSettings = ObjectiveSettings()
    constraints: ConstraintSettings = ConstraintSettings()
    solver: SolverSettings = SolverSettings()


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
    """Read preset ``name`` from ``models/`` as a raw dict."""
    path = models_dir() / f"{name}.toml"
    if not path.is_file():
        known = list_presets()
        hint = difflib.get_close_matches(name, known, n=1)
        tip = f" (did you mean '{hint[0]}'?)" if hint else ""
        raise SettingsError(
            f"settings key 'model': unknown preset '{name}'{tip}; presets: {', '.join(known)}"
        )
    return read_toml(path, label=f"models/{path.name}")


def read_toml(path: Path, *, label: str) -> dict[str, Any]:
    try:
        with path.open("rb") as f:
            return tomllib.load(f)
    except tomllib.TOMLDecodeError as e:
        raise SettingsError(f"{label}: not valid TOML ({e})") from None


# ---------------------------------------------------------------------------------------------
# keys


def _known_keys(model: type[BaseModel], prefix: str = "") -> list[str]:
    keys = []
    for name, field in model.model_fields.items():
        ann = field.annotation
        if isinstance(ann, type) and issubclass(ann, BaseModel):
            keys += _known_keys(ann, f"{prefix}{name}.")
        elif name == "balance":
            keys.append(f"{prefix}balance.<column>.tolerance")
        else:
            keys.append(f"{prefix}{name}")
    return keys


KNOWN_KEYS: list[str] = _known_keys(Settings)


def _check_keys(raw: Mapping[str, Any], source: str) -> list[str]:
    """Unknown keys of one settings layer, each with the nearest valid key."""
    problems: list[str] = []

    def unknown(dotted: str, candidates: list[str]) -> None:
        hint = difflib.get_close_matches(dotted, candidates, n=1, cutoff=0.6)
        tip = f" (did you mean '{hint[0]}'?)" if hint else ""
        problems.append(f"{source}: unknown settings key '{dotted}'{tip}")

    def walk(model: type[BaseModel], data: Mapping[str, Any], prefix: str) -> None:
        fields = model.model_fields
        for key, value in data.items():
            dotted = f"{prefix}{key}"
            if key not in fields:
                unknown(dotted, [f"{prefix}{f}" for f in fields] + KNOWN_KEYS)
                continue
            ann = fields[key].annotation
            if isinstance(ann, type) and issubclass(ann, BaseModel):
                if isinstance(value, Mapping):
                    walk(ann, value, f"{dotted}.")
            elif key == "balance" and isinstance(value, Mapping):
                for column, rule in value.items():
                    if isinstance(rule, Mapping):
                        walk(BalanceRule, rule, f"{dotted}.{column}.")
                    else:
                        problems.append(
                            f"{source}: settings key '{dotted}.{column}' must be a table "
                            f"such as {{ tolerance = 0.05 }} (got {rule!r})"
                        )

    walk(Settings, raw, "")
    return problems


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
    out: dict[str, Any] = {}
    problems = []
    for item in items or []:
        key, sep, text = item.partition("=")
        key = key.strip()
        if not sep or not key:
            problems.append(f"--set {item!r}: expected key=value, e.g. balance.potential.tolerance=0.05")
            continue
        try:
            value = tomllib.loads(f"v = {text.strip()}")["v"]
        except tomllib.TOMLDecodeError:
            value = text.strip()
        node = out
        parts = key.split(".")
        for part in parts[:-1]:
            node = node.setdefault(part, {})
            if not isinstance(node, dict):
                problems.append(f"--set {item!r}: '{part}' is set as a value and as a table")
                break
        else:
            node[parts[-1]] = value
    if problems:
        raise SettingsError(problems)
    return out


def resolve_settings(
    scenario_toml: Mapping[str, Any] | None = None,
    overrides: Mapping[str, Any] | list[str] | None = None,
    *,
    scenario_label: str = "scenario.toml",
) -> Settings:
    """Merge preset <- scenario.toml <- overrides and validate. Raises SettingsError."""
    scenario_toml = dict(scenario_toml or {})
    if isinstance(overrides, list):
        overrides = parse_overrides(overrides)
    overrides = dict(overrides or {})
    problems = _check_keys(scenario_toml, scenario_label) + _check_keys(overrides, "--set")
    name = overrides.get("model", scenario_toml.get("model"))
    preset: dict[str, Any] = {}
    if name is not None:
        if not isinstance(name, str):
            problems.append(f"settings key 'model' must be a preset name (got {name!r})")
        else:
            try:
                preset = load_preset(name)
            except SettingsError as e:
                problems += e.problems
            problems += _check_keys(preset, f"models/{name}.toml")
    if problems:
        raise SettingsError(problems)
    merged = deep_merge(deep_merge(preset, scenario_toml), overrides)
    try:
        return Settings.model_validate(merged)
    except ValidationError as e:
        raise SettingsError([_describe(err) for err in e.errors()]) from None


def _describe(err: Any) -> str:
    loc = ".".join(str(p) for p in err["loc"])
    msg = err["msg"]
    msg = msg[0].lower() + msg[1:] if msg else msg
    return f"settings key '{loc}': {msg} (got {err.get('input')!r})"
