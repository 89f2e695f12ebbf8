"""The polygons of a few stored scenarios, held in memory for the map's outlines (a stored
scenario never changes, so its polygons are converted once)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from typing import Any

import numpy as np
import pandas as pd

from ...scenario import Scenario
from ..deps import scenario_row
from ..scenarios import load_scenario
from ..store import Store

CACHED = 4  # scenarios whose polygons are kept in memory


class Shapes:
    """The polygons of a few stored scenarios, in WGS84, by scenario id."""

    def __init__(self, size: int = CACHED):
        self.size = size
        self.lock = threading.Lock()
        self.held: OrderedDict[str, tuple[pd.Index, np.ndarray] | None] = OrderedDict()

    def of(
        self, store: Store, scenario_id: str, owner: str, effective: Any
    ) -> tuple[pd.Index, np.ndarray] | None:
        """(account ids, polygons aligned with them) or None when the scenario has none."""
        hit, found = self._held(scenario_id)
        if hit:
            return found
        row = scenario_row(store, scenario_id, owner)
        return self.keep(
            scenario_id, load_scenario(store, row, effective or None, label="run settings")
        )

    def _held(self, scenario_id: str) -> tuple[bool, tuple[pd.Index, np.ndarray] | None]:
        with self.lock:
            if scenario_id in self.held:
                self.held.move_to_end(scenario_id)
                return True, self.held[scenario_id]
        return False, None

    def keep(self, scenario_id: str, sc: Scenario) -> tuple[pd.Index, np.ndarray] | None:
        """Hold the polygons of ``sc`` (loaded already by the caller) for its scenario id."""
        hit, found = self._held(scenario_id)
        if hit:
            return found
        found = None
        if sc.shapes is not None:
            ids = pd.Index(sc.accounts["account_id"].astype(str))
            found = (ids, sc.shapes.to_crs(4326).to_numpy())
        with self.lock:
            self.held[scenario_id] = found
            while len(self.held) > self.size:
                self.held.popitem(last=False)
        return found


SHAPES = Shapes()
