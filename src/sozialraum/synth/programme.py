"""The programme to evaluate (module 09), modelled on the NRW programme "Zusammen im Quartier".

At the end of 2018 the city chose the N_QUARTIERE Stadtteile with the highest child poverty (SGB-II recipients
under 15 / population under 15 on 31.12.2018) and funds them from 2019.  The 2018 figure is one noisy year (see
`series.KINDERARMUT_SCHWANKUNG`): the chosen Stadtteile are high on average and had, in addition, a good share of
bad luck in 2018, so their child poverty falls afterwards without any help (regression to the mean).  The programme
has no effect on child poverty.  Its true effect: from the Schuleingangsuntersuchung 2020 on, the probability of
Sprachförderbedarf of a child living in a funded Stadtteil is EFFECT lower (percentage points, additive), see `seu`.
"""

import pandas as pd

NAME = "Zusammen im Quartier"
N_QUARTIERE = 7
AUSWAHLJAHR = 2018
START = 2019  # funding starts
WIRKUNG_AB = 2020  # first SEU year with an effect
EFFECT = -0.08  # on the probability of Sprachförderbedarf (8 percentage points fewer)


def kinderarmut_stadtteile(tables):
    """Child poverty (share) per Stadtteil and year from the district tables (DataFrame stadtteil_id x jahr)."""
    a = tables["bevoelkerung_alter"]
    kids = a[a["alter"] < 15].groupby([a["bezirk_id"].str[:4], "jahr"])["einwohner"].sum()
    s = tables["sozialleistungen"]
    sgb2 = s.groupby([s["bezirk_id"].str[:4], "jahr"])["sgb2_unter_15"].sum()
    return (sgb2 / kids).rename_axis(["stadtteil_id", "jahr"]).unstack("jahr")


def select(tables, stadtteile):
    """Table ``foerderprogramm``: one row per Stadtteil, funded or not."""
    ka = kinderarmut_stadtteile(tables)[AUSWAHLJAHR]
    chosen = set(ka.nlargest(N_QUARTIERE).index)
    st = stadtteile.sort_values("stadtteil_id")
    funded = st["stadtteil_id"].isin(chosen).to_numpy()
    return pd.DataFrame({
        "stadtteil_id": st["stadtteil_id"].to_numpy(),
        "name": st["name"].to_numpy(),
        "programm": NAME,
        "gefoerdert": funded,
        "foerderbeginn": pd.array([START if f else pd.NA for f in funded], dtype="Int64"),
    })
