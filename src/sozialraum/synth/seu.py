"""Schuleingangsuntersuchung (SEU) 2015-2024: children examined and findings, by Grundschulbezirk and by Stadtteil.

Children examined in year j are the 6-year-olds on 31.12.j of each statistischer Bezirk (a share of them: fewer in
the Corona years 2020/21, when examinations were cut back), spread over the pieces of the district that lie in
different Grundschulbezirke (by area share).  Each child has a finding with a probability that depends on the
district (poverty and migration scores: the strong social gradient of the Ruhr SEU reports), the year (a rising
trend, the Corona shock on the children examined in 2020-2022) and, for Sprachförderbedarf, the programme
(`programme.EFFECT` from 2020 on in the funded Stadtteile).  All effects are additive on the probability scale, so
trends are parallel in percentage points: exactly what a difference in differences assumes.  Both tables are sums
over the same pieces, so they add up to the same city totals.
"""

import numpy as np
import pandas as pd

from sozialraum.synth import programme

JAHRE = np.arange(2015, 2025)
UNTERSUCHT = np.array([0.97, 0.97, 0.97, 0.97, 0.97, 0.78, 0.86, 0.96, 0.97, 0.97])  # share of 6-year-olds examined
# probability = base (district) + trend (year) + Corona (year), per finding
BEFUNDE = {
    "sprachfoerderbedarf": {"base": (0.24, 0.09, 0.05), "range": (0.04, 0.75),
                            "trend": 0.011, "corona": {2020: 0.03, 2021: 0.05, 2022: 0.02}},
    "uebergewicht": {"base": (0.115, 0.03, 0.01), "range": (0.03, 0.3),
                     "trend": 0.002, "corona": {2021: 0.02, 2022: 0.015}},
    "kita_unter_2_jahre": {"base": (0.13, 0.055, 0.05), "range": (0.01, 0.6),
                           "trend": -0.004, "corona": {2021: 0.03}},
}
SCHWANKUNG = 0.008  # sd of a Stadtteil's yearly deviation (staff, test situation), probability scale


def _probabilities(design, funded, rng):
    """Array (finding, district, year) of probabilities."""
    teil = design.index.str[:4]
    codes, uniq = pd.factorize(teil)
    armut, mig = design["armut"].to_numpy(), design["migration"].to_numpy()
    post = JAHRE >= programme.WIRKUNG_AB
    out = []
    for name, b in BEFUNDE.items():
        level, k_armut, k_mig = b["base"]
        base = np.clip(level + k_armut * armut + k_mig * mig, *b["range"])
        year = b["trend"] * (JAHRE - JAHRE[0]) + np.array([b["corona"].get(j, 0.0) for j in JAHRE])
        noise = rng.normal(0, SCHWANKUNG, (len(uniq), len(JAHRE)))[codes]
        p = base[:, None] + year[None, :] + noise
        if name == "sprachfoerderbedarf":
            p += programme.EFFECT * np.asarray(teil.isin(funded))[:, None] * post[None, :]
        out.append(np.clip(p, 0.005, 0.95))
    return np.stack(out)


def build(tables, design, pieces, funded, rng):
    """Tables ``schuleingangsuntersuchung`` (Grundschulbezirk) and ``schuleingangsuntersuchung_stadtteile``."""
    a = tables["bevoelkerung_alter"]
    six = a[a["alter"] == 6].groupby(["bezirk_id", "jahr"])["einwohner"].sum().unstack("jahr")
    six = six.reindex(index=design.index, columns=JAHRE).to_numpy()
    p = _probabilities(design, funded, rng)
    # pieces as (district, slot): shares padded with zeros, so one multinomial draw serves all districts and years
    d = pd.Series(np.arange(len(design)), index=design.index).loc[pieces["bezirk_id"]].to_numpy()
    slot = pieces.groupby("bezirk_id").cumcount().to_numpy()
    share = np.zeros((len(design), slot.max() + 1))
    share[d, slot] = pieces["anteil"].to_numpy()
    share /= share.sum(1, keepdims=True)
    examined = rng.binomial(six, UNTERSUCHT[None, :])  # (district, year)
    per_piece = rng.multinomial(examined.T, share)  # (year, district, slot)
    cells = {"untersuchte_kinder": per_piece[:, d, slot]}  # (year, piece)
    for f, name in enumerate(BEFUNDE):
        cells[name] = rng.binomial(per_piece, p[f].T[:, :, None])[:, d, slot]
    long = pd.DataFrame({
        "grundschulbezirk_id": np.tile(pieces["grundschulbezirk_id"].to_numpy(), len(JAHRE)),
        "stadtteil_id": np.tile(pieces["bezirk_id"].str[:4].to_numpy(), len(JAHRE)),
        "jahr": np.repeat(JAHRE, len(pieces)),
        **{k: v.ravel() for k, v in cells.items()},
    })
    cols = list(cells)
    return {
        "schuleingangsuntersuchung": long.groupby(["grundschulbezirk_id", "jahr"], as_index=False)[cols].sum(),
        "schuleingangsuntersuchung_stadtteile": long.groupby(["stadtteil_id", "jahr"], as_index=False)[cols].sum(),
    }
