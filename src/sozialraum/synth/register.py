"""Synthetic Melderegister 2024: households and persons, fully vectorised.

Every statistischer Bezirk gets households of five types; each household is a row of up to seven member slots
(three adults, four children).  Attributes that belong to the household (origin, Bedarfsgemeinschaft) are drawn
per household and handed down to its members, so that children of SGB-II households are SGB-II beneficiaries.
Intercepts of the logistic models are solved numerically so that the expected city-wide figures hit the targets
in TARGETS whatever the geometry looks like.
"""

import numpy as np
import pandas as pd

HH_TYPES = np.array(
    ["Einpersonenhaushalt", "Paar ohne Kinder", "Paar mit Kindern", "Alleinerziehend", "Sonstiger Mehrpersonenhaushalt"]
)
E, POK, PMK, AE, SONST = range(5)
N_SLOTS = 7  # 0-2 adults, 3-6 children
MAX_AGE = 100

# City-wide targets (DOMAIN.md sections 3-4): expected values, the draw adds sampling noise.
TARGETS = {
    # persons in households of foreign nationality; 42 % of their children are German (ius soli), which brings
    # the Ausländeranteil to about 17.5 % (Ruhr cities 15-20 %)
    "auslaendische_haushalte": 0.20,
    "deutsch_mh": 0.18,  # Germans with migration background among persons in German households
    "sgb2_quote": 0.213,  # SGB-II beneficiaries / population 0-<65 outside the GU (GE 24.1 %, Essen 18.1 %)
    "arbeitslosenrate": 0.115,  # unemployed / population 15-<65 (Ruhr 9.6-14.3 % BA quote)
    "grundsicherung_65": 0.06,  # Grundsicherung im Alter / population 65+
    "u3_quote": 0.27,  # children 0-<3 in care / children 0-<3 (NRW 31 %, GE 18 %)
    "ue3_quote": 0.90,  # children 3-<6 in care (NRW 89.7 %)
}
GU_SGB2, GU_ASYL = 0.55, 0.43  # GU households: recognised refugees (SGB II), asylum seekers (AsylbLG)
IUS_SOLI = 0.42  # children in foreign households (outside the GU) who are German by birth


def _sigmoid(x):
    return 1.0 / (1.0 + np.exp(-x))


def _solve_intercept(base, weight, target):
    """Intercept b with sum(sigmoid(b + base) * weight) / sum(weight) == target (bisection)."""
    lo, hi = -15.0, 15.0
    total = weight.sum()
    for _ in range(60):
        mid = (lo + hi) / 2
        if (_sigmoid(mid + base) * weight).sum() / total < target:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def _draw_from_weights(rng, weights, n):
    """n draws of indices 0..len(weights)-1 with the given (unnormalised) weights."""
    cdf = np.cumsum(weights) / np.sum(weights)
    return np.minimum(np.searchsorted(cdf, rng.random(n)), len(weights) - 1)


ADULT = np.arange(18, MAX_AGE + 1)
SURVIVAL = np.exp(-np.exp(-10.5) / 0.095 * (np.exp(0.095 * ADULT) - np.exp(0.095 * 18)))


def _bump(mode, sd):
    return np.exp(-0.5 * ((ADULT - mode) / sd) ** 2)


def _rise(at, width=3.0):
    return 1 / (1 + np.exp(-(ADULT - at) / width))


# Age profiles of the first adult (ages 18-100): younger and older household members overlap smoothly.
PROFILE = {
    "single_young": 0.35 * _bump(27, 5) + 0.65 * _bump(55, 8),
    "single_old": SURVIVAL * _rise(64) * (1 + np.clip(ADULT - 65, 0, None) / 25),
    "couple_young": 0.2 * _bump(32, 5) + 0.8 * _bump(58, 5),
    "couple_old": SURVIVAL**1.3 * _rise(66),
}


def _ages_profile(rng, n, profile, student_share=0.0):
    """n ages from PROFILE[profile]; with probability student_share (per person) from the young-adult hump."""
    out = 18 + _draw_from_weights(rng, PROFILE[profile], n)
    redraw = rng.random(n) < student_share
    out[redraw] = _young_adults(rng, redraw.sum())
    return out


def _young_adults(rng, n):
    """Ages 18-39 with a hump around 25 (students, trainees, young professionals)."""
    a = np.arange(18, 40)
    ramp = np.clip((a - 17) / 3, 0, 1)  # moving out from home takes a few years
    return 18 + _draw_from_weights(rng, ramp * np.exp(-0.5 * ((a - 24) / 5.0) ** 2), n)


MAX_CHILD_AGE = 24
STILL_AT_HOME = np.array([0.9, 0.8, 0.68, 0.55, 0.42, 0.28, 0.14])  # share of children aged 18-24 kept


def _children(rng, mother_age, n_kids):
    """Matrix (n, 4) of child ages (-1 = no child) consistent with the mother's age; children still
    living with their parents (up to 24) are included, fewer with every year over 17 (the others have moved out)."""
    n = len(mother_age)
    lo = np.clip(mother_age - 44, 0, MAX_CHILD_AGE)
    hi = np.clip(mother_age - 19, 0, MAX_CHILD_AGE)
    hi = np.maximum(hi, lo)
    ages = lo[:, None] + np.floor(rng.random((n, 4)) * (hi - lo + 1)[:, None]).astype(int)
    young_hi = np.minimum(hi, 17)[:, None]
    moved_out = (ages >= 18) & (rng.random((n, 4)) > STILL_AT_HOME[np.clip(ages - 18, 0, MAX_CHILD_AGE - 18)]) & (lo[:, None] <= 17)
    redrawn = lo[:, None] + np.floor(rng.random((n, 4)) * (young_hi - lo[:, None] + 1)).astype(int)
    ages = np.where(moved_out, redrawn, ages)
    ages[np.arange(4)[None, :] >= n_kids[:, None]] = -1
    return ages


def _households(rng, design):
    """Household skeleton: district index, type, member ages and sexes (slot matrices)."""
    dep = design["armut"].to_numpy()
    old = np.tanh(design["alterung"].to_numpy())  # bounded: no district older than ~38 % 65+
    single = design["singles"].to_numpy()
    fam = design["familie"].to_numpy()
    target = design["einwohner_ziel"].to_numpy()

    logw = np.log(np.array([0.43, 0.27, 0.165, 0.047, 0.09]))[None, :] + np.column_stack(
        [
            0.30 * single + 0.10 * old - 0.05 * fam,
            0.15 * old - 0.10 * dep - 0.10 * single,
            0.40 * fam - 0.15 * old - 0.10 * single,
            0.35 * dep + 0.10 * fam - 0.10 * old,
            0.25 * single,
        ]
    )
    p_type = np.exp(logw) / np.exp(logw).sum(1, keepdims=True)
    mean_size = p_type @ np.array([1.0, 2.0, 3.75, 2.55, 2.35])
    n_hh = np.round(target / mean_size).astype(int)
    d = np.repeat(np.arange(len(target)), n_hh)
    h = len(d)
    htype = (rng.random(h)[:, None] > np.cumsum(p_type[d], 1)).sum(1).clip(0, 4)

    ages = np.full((h, N_SLOTS), -1)
    male = np.zeros((h, N_SLOTS), dtype=bool)
    u = rng.random(h)

    # one-person households: elderly (mostly women) or younger adults (more in the centre)
    m = htype == E
    is_old = m & (u < _sigmoid(-0.6 + 0.3 * old[d] - 0.45 * single[d] - 0.2 * dep[d]))
    ages[is_old, 0] = _ages_profile(rng, is_old.sum(), "single_old")
    male[is_old, 0] = rng.random(is_old.sum()) < np.where(ages[is_old, 0] >= 65, 0.28, 0.5)
    young = m & ~is_old
    ages[young, 0] = _ages_profile(rng, young.sum(), "single_young", 0.05 + 0.12 * np.clip(single[d[young]], 0, 2.5))
    male[young, 0] = rng.random(young.sum()) < 0.56

    # couples without children: retired couples or younger / empty-nest couples
    m = htype == POK
    is_old = m & (u < _sigmoid(-0.3 + 0.3 * old[d] - 0.2 * single[d] - 0.25 * dep[d]))
    ages[is_old, 0] = _ages_profile(rng, is_old.sum(), "couple_old")
    younger = m & ~is_old
    ages[younger, 0] = _ages_profile(rng, younger.sum(), "couple_young", 0.05 + 0.08 * np.clip(single[d[younger]], 0, 2.5))
    ages[m, 1] = np.clip(ages[m, 0] - np.round(rng.normal(2.5, 3.0, m.sum())).astype(int), 18, MAX_AGE)
    male[m, 0] = True

    # couples with children and single parents
    for t, n_probs, lone in ((PMK, [0.43, 0.38, 0.13, 0.06], False), (AE, [0.56, 0.31, 0.10, 0.03], True)):
        m = htype == t
        k = m.sum()
        mother = np.clip(np.round(rng.normal(40, 6.5, k)).astype(int), 20, 58)
        n_kids = 1 + _draw_from_weights(rng, n_probs, k)
        more = 0.15 * np.clip(dep[d[m]], 0, None) + 0.1 * np.clip(fam[d[m]], 0, None)  # poorer and family areas
        n_kids += (rng.random(k) < more) & (n_kids < 4)
        ages[m, 3:] = _children(rng, mother, n_kids)
        male[m, 3:] = rng.random((k, 4)) < 0.513
        if lone:
            ages[m, 0] = mother
            male[m, 0] = rng.random(k) < 0.12
        else:
            ages[m, 0] = np.clip(mother + np.round(rng.normal(2.5, 3.0, k)).astype(int), 20, 70)
            ages[m, 1] = mother
            male[m, 0] = True

    # other multi-person households: parent with adult child, or a flat share
    m = htype == SONST
    flatshare = m & (u < 0.3 + 0.12 * np.clip(single[d], -1.5, 2.5))
    k = flatshare.sum()
    ages[flatshare, 0] = _young_adults(rng, k)
    ages[flatshare, 1] = _young_adults(rng, k)
    third = flatshare & (rng.random(h) < 0.3)
    ages[third, 2] = _young_adults(rng, third.sum())
    male[flatshare, :3] = rng.random((k, 3)) < 0.5
    family = m & ~flatshare
    k = family.sum()
    ages[family, 0] = np.clip(np.round(rng.normal(68, 10, k)).astype(int), 50, 95)
    child = ages[family, 0] - np.round(rng.normal(30, 4, k)).astype(int)
    ages[family, 1] = np.clip(np.where(child < 25, 50 - child, child), 25, 65)  # reflected at 25, no pile-up
    male[family, 0] = rng.random(k) < 0.35
    male[family, 1] = rng.random(k) < 0.6
    return d, htype, ages, male


def _gu_households(rng, n_persons):
    """Households in the Gemeinschaftsunterkunft: mostly young single men, some families."""
    types, ages, male = [], [], []
    total = 0
    while total < n_persons:
        u = rng.random()
        row_a = np.full(N_SLOTS, -1)
        row_m = np.zeros(N_SLOTS, dtype=bool)
        if u < 0.55:
            t = E
            row_a[0] = 18 + _draw_from_weights(rng, np.exp(-np.arange(27) / 8.0), 1)[0]
            row_m[0] = rng.random() < 0.9
        else:
            t = PMK if u < 0.88 else AE
            mother = int(np.clip(rng.normal(31, 6), 19, 48))
            n_kids = 1 + _draw_from_weights(rng, [3, 3, 2, 1], 1)
            row_a[3:] = _children(rng, np.array([mother]), n_kids)[0]
            row_m[3:] = rng.random(4) < 0.5
            if t == PMK:
                row_a[0], row_a[1], row_m[0] = min(mother + int(rng.integers(0, 7)), 60), mother, True
            else:
                row_a[0] = mother
        types.append(t)
        ages.append(row_a)
        male.append(row_m)
        total += int((row_a >= 0).sum())
    return np.array(types), np.array(ages), np.array(male)


def _logit_draw(rng, base, weight, target):
    """Bernoulli draws with p = sigmoid(b + base), b chosen so that the weighted mean of p equals target."""
    p = _sigmoid(_solve_intercept(base, weight, target) + base)
    return rng.random(len(base)) < p


def _household_flags(rng, design, d, htype, ages, in_gu):
    """Origin (0 no migration background, 1 German with, 2 foreign), SGB-II and AsylbLG flags per household."""
    dep = design["armut"].to_numpy()[d]
    mig = design["migration"].to_numpy()[d]
    present = ages >= 0
    size = present.sum(1)
    elderly = (ages[:, 0] >= 65).astype(float)
    n_u65 = (present & (ages < 65)).sum(1)

    base_f = np.where(mig < 0, 0.45, 0.6) * mig - 1.8 * elderly
    base_f += np.array([0.0, -0.2, 0.35, 0.15, 0.3])[htype]
    foreign = _logit_draw(rng, base_f, size * ~in_gu, TARGETS["auslaendische_haushalte"]) | in_gu
    base_g = 0.45 * mig - 0.9 * elderly + 0.2 * (htype == PMK)
    german_mh = _logit_draw(rng, base_g, size * ~foreign, TARGETS["deutsch_mh"]) & ~foreign
    origin = np.where(foreign, 2, np.where(german_mh, 1, 0))

    # Bedarfsgemeinschaft (simplified: the household); right-skewed in the poverty score
    base_s = (
        np.where(dep < 0, 0.65 * dep, 0.62 * dep)
        + np.array([0.1, -0.9, 0.0, 1.7, -0.2])[htype]
        + np.array([0.0, 0.35, 1.0])[origin]
        - 0.6 * (ages.max(1) >= 65)
    )
    sgb2 = _logit_draw(rng, base_s, n_u65 * ~in_gu, TARGETS["sgb2_quote"]) & (n_u65 > 0)
    u = rng.random(len(d))
    sgb2[in_gu] = u[in_gu] < GU_SGB2
    asyl = in_gu & (u >= GU_SGB2) & (u < GU_SGB2 + GU_ASYL)
    # a few tolerated or pending foreign households outside the GU receive AsylbLG
    asyl |= ~in_gu & (origin == 2) & ~sgb2 & (rng.random(len(d)) < 0.012)
    return origin, sgb2, asyl


def _person_flags(rng, alter, nichtdeutsch, sgb2, asyl, area, alone):
    """Unemployment, long-term unemployment, Grundsicherung im Alter and Kita care per person.

    ``area``: the district scores (columns of `district_types.DIMENSIONS`) per person."""
    dep = area["armut"]
    work_age = (alter >= 15) & (alter < 65)
    base_u = (
        1.9 * sgb2
        + 0.05 * dep
        + 0.45 * area["arbeitsmarkt"]
        + 0.3 * nichtdeutsch
        - 3.0 * (alter < 18)  # pupils
        + 0.25 * (alter >= 55)
        - 0.2 * ((alter >= 18) & (alter < 25))
        - 4.0 * asyl  # asylum seekers are rarely registered as unemployed
    )
    arbeitslos = work_age & _logit_draw(rng, base_u, work_age.astype(float), TARGETS["arbeitslosenrate"])
    p_lz = np.where(sgb2, 0.52, 0.14) + 0.12 * (alter >= 50)
    langzeit = arbeitslos & (rng.random(len(alter)) < p_lz)

    senior = alter >= 65
    base_g = 0.85 * area["altersarmut"] + 1.1 * nichtdeutsch + 0.5 * alone
    grusi = senior & _logit_draw(rng, base_g, senior.astype(float), TARGETS["grundsicherung_65"])

    # Kita care by place of residence: lower in the north and for foreign children; rises with age
    u3, ue3 = alter < 3, (alter >= 3) & (alter < 6)
    base_k = -0.85 * dep - 0.6 * nichtdeutsch + np.array([-3.4, 0.25, 1.1])[np.clip(alter, 0, 2)]
    base_k3 = -0.45 * dep - 0.5 * nichtdeutsch + np.array([-0.8, 0.3, 0.7])[np.clip(alter - 3, 0, 2)]
    kita = (u3 & _logit_draw(rng, base_k, u3.astype(float), TARGETS["u3_quote"])) | (
        ue3 & _logit_draw(rng, base_k3, ue3.astype(float), TARGETS["ue3_quote"]))
    return arbeitslos, langzeit, grusi, kita


def build_register(design, rng, gu_bezirk, gu_persons):
    """Person-level register (DataFrame) for 31.12.2024, sorted by bezirk_id, household and member."""
    d, htype, ages, male = _households(rng, design)
    gu_t, gu_a, gu_m = _gu_households(rng, gu_persons)
    d = np.concatenate([d, np.full(len(gu_t), int(np.flatnonzero(design.index == gu_bezirk)[0]))])
    htype = np.concatenate([htype, gu_t])
    ages = np.vstack([ages, gu_a])
    male = np.vstack([male, gu_m])
    in_gu = np.arange(len(d)) >= len(d) - len(gu_t)
    origin, hh_sgb2, hh_asyl = _household_flags(rng, design, d, htype, ages, in_gu)

    # households numbered by district, members by slot
    hh_rank = np.empty(len(d), dtype=int)
    hh_rank[np.argsort(d, kind="stable")] = np.arange(len(d))
    hh_idx, slot = np.nonzero(ages >= 0)
    order = np.lexsort((slot, hh_rank[hh_idx]))
    hh_idx, slot = hh_idx[order], slot[order]

    alter = ages[hh_idx, slot]
    o = origin[hh_idx]
    ius_soli = (slot >= 3) & (o == 2) & ~in_gu[hh_idx] & (rng.random(len(alter)) < IUS_SOLI)
    nichtdeutsch = (o == 2) & ~ius_soli
    sgb2 = hh_sgb2[hh_idx] & (alter < 65)
    asyl = hh_asyl[hh_idx] & nichtdeutsch
    alone = (ages >= 0).sum(1)[hh_idx] == 1
    area = {c: design[c].to_numpy()[d[hh_idx]] for c in ["armut", "arbeitsmarkt", "altersarmut"]}
    arbeitslos, langzeit, grusi, kita = _person_flags(rng, alter, nichtdeutsch, sgb2, asyl, area, alone)
    return pd.DataFrame(
        {
            "person_id": [f"P{i:07d}" for i in range(1, len(alter) + 1)],
            "haushalt_id": [f"H{i:06d}" for i in hh_rank[hh_idx] + 1],
            "bezirk_id": design.index.to_numpy()[d[hh_idx]],
            "geschlecht": np.where(male[hh_idx, slot], "m", "w"),
            "alter": alter.astype("int8"),
            "staatsangehoerigkeit": np.where(nichtdeutsch, "nichtdeutsch", "deutsch"),
            "migrationshintergrund": o > 0,
            "haushaltstyp": HH_TYPES[htype[hh_idx]],
            "gemeinschaftsunterkunft": in_gu[hh_idx],
            "sgb2": sgb2,
            "asylblg": asyl,
            "grundsicherung_alter": grusi,
            "arbeitslos": arbeitslos,
            "langzeitarbeitslos": langzeit,
            "kita_betreut": kita,
        }
    )
