"""Write data/examples/crm-export/: a CRM export as a sales-ops analyst gets it.

Accounts sit in real ZIP codes of Ohio, Indiana and Michigan (from the ``zipcodes`` package's
data), with headers as a CRM writes them ("Account ID", "Annual Potential (USD)",
"Billing Zip/Postal Code"), money as text ("$242,000") and no coordinates; reps live in real
cities, given by their home ZIP code. Names, amounts and owners are made up from a fixed seed.

    python scripts/make_crm_example.py            # -> data/examples/crm-export/
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd
import zipcodes

# reps' home bases: real cities and one of their ZIP codes
REPS = [
    ("T01", "Dana Whitfield", "Columbus", "OH", "43215"),
    ("T02", "Marcus Bell", "Cleveland", "OH", "44114"),
    ("T03", "Priya Raman", "Cincinnati", "OH", "45202"),
    ("T04", "Tom Kowalski", "Toledo", "OH", "43604"),
    ("T05", "Jenna Ortiz", "Indianapolis", "IN", "46204"),
    ("T06", "Luis Herrera", "Fort Wayne", "IN", "46802"),
    ("T07", "Amy Chen", "Evansville", "IN", "47708"),
    ("T08", "Rob Nguyen", "Detroit", "MI", "48226"),
    ("T09", "Sara Lindqvist", "Grand Rapids", "MI", "49503"),
    ("T10", "Kevin Moore", "Lansing", "MI", "48933"),
]
INDUSTRIES = ["Manufacturing", "Healthcare", "Retail", "Logistics", "Education"]
WORDS = [
    "Summit",
    "Lakeside",
    "Buckeye",
    "Hoosier",
    "Great Lakes",
    "Riverbend",
    "Keystone",
    "Maple",
    "Heartland",
    "Pioneer",
    "Cardinal",
    "Harbor",
    "Prairie",
    "Northstar",
]
KINDS = ["Industries", "Health", "Supply", "Foods", "Partners", "Logistics", "Group", "Works"]


def make(n_accounts: int, seed: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    places = [
        z
        for st in ("OH", "IN", "MI")
        for z in zipcodes.filter_by(state=st, zip_code_type="STANDARD", active=True)
    ]
    pick = rng.choice(len(places), size=n_accounts, replace=True)
    chosen = [places[i] for i in pick]
    lat = np.array([float(z["lat"]) for z in chosen])
    lon = np.array([float(z["long"]) for z in chosen])
    reps = pd.DataFrame(REPS, columns=["Territory ID", "Rep Name", "City", "State", "Home ZIP"])
    home = np.array(
        [[float(zipcodes.matching(z)[0][k]) for k in ("lat", "long")] for z in reps["Home ZIP"]]
    )
    d = np.hypot(lat[:, None] - home[None, :, 0], (lon[:, None] - home[None, :, 1]) * 0.77)
    owner = d.argmin(axis=1)
    drift = rng.random(n_accounts) < 0.12  # some accounts owned by another rep, as in life
    owner[drift] = rng.integers(0, len(REPS), drift.sum())
    potential = np.round(rng.lognormal(11.8, 0.9, n_accounts), -3)
    revenue = np.round(potential * rng.uniform(0.1, 0.7, n_accounts), -2)
    names = [
        f"{WORDS[rng.integers(len(WORDS))]} {KINDS[rng.integers(len(KINDS))]}"
        for _ in range(n_accounts)
    ]
    accounts = pd.DataFrame(
        {
            "Account ID": [f"0016{k:06d}" for k in range(1, n_accounts + 1)],
            "Account Name": names,
            "Billing City": [z["city"] for z in chosen],
            "Billing State/Province": [z["state"] for z in chosen],
            "Billing Zip/Postal Code": [z["zip_code"] for z in chosen],
            "Industry": rng.choice(INDUSTRIES, n_accounts),
            "Annual Potential (USD)": [f"${p:,.0f}" for p in potential],
            "Last Year Sales": [f"${r:,.0f}" for r in revenue],
            "Account Owner": reps["Rep Name"].to_numpy()[owner],
            "Strategic": np.where(rng.random(n_accounts) < 0.03, "Yes", "No"),
        }
    )
    return accounts, reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, default=Path("data/examples/crm-export"))
    ap.add_argument("--accounts", type=int, default=600)
    ap.add_argument("--seed", type=int, default=16)
    a = ap.parse_args()
    accounts, reps = make(a.accounts, a.seed)
    a.out.mkdir(parents=True, exist_ok=True)
    accounts.to_csv(a.out / "accounts.csv", index=False)
    reps.to_csv(a.out / "territories.csv", index=False)
    print(f"wrote {a.out}/accounts.csv ({len(accounts)} accounts), territories.csv ({len(reps)})")


if __name__ == "__main__":
    main()
