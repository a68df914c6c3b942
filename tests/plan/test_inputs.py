"""Fleet and site parsing: formats, defaults, and errors that name the row and the field."""

from __future__ import annotations

import json

import pytest

from kaikyo.errors import ConfigError
from kaikyo.plan import parse_fleet, parse_site
from kaikyo.plan.site import load_site

HEADER = "id,group,site,watts_avg,watts_peak,storage_gb,change_gb_per_day,tier,max_rtt_ms,residency"


def test_csv_yaml_json_agree_and_unicode_ids_work():
    csv_text = (
        HEADER + "\nファイル-01,総務,tokyo,200,365,1000,10,2,,may-leave\n"
        "서버-02,,tokyo,,,50,0,1,20,must-stay\n"
    )
    rows = [
        {
            "id": "ファイル-01",
            "group": "総務",
            "site": "tokyo",
            "watts_avg": 200,
            "watts_peak": 365,
            "storage_gb": 1000,
            "change_gb_per_day": 10,
            "tier": 2,
            "residency": "may-leave",
        },
        {
            "id": "서버-02",
            "site": "tokyo",
            "storage_gb": 50,
            "tier": 1,
            "max_rtt_ms": 20,
            "residency": "must-stay",
        },
    ]
    a = parse_fleet(csv_text, "csv")
    b = parse_fleet(json.dumps({"servers": rows}, ensure_ascii=False), "json")
    c = parse_fleet(
        "- "
        + json.dumps(rows[0], ensure_ascii=False)
        + "\n- "
        + json.dumps(rows[1], ensure_ascii=False),
        "yaml",
    )
    assert a == b == c
    assert a[1].group == "서버-02" and a[1].watts_peak == 365.0 and a[1].power_source == "default"


@pytest.mark.parametrize(
    "row,needle",
    [
        ("s1,g,,200,365,x,0,1,,may-leave", "row 2: field 'storage_gb'"),
        ("s1,g,,200,365,10,0,1,,abroad", "row 2 (id 's1'): field 'residency'"),
        ("s1,g,,400,365,10,0,1,,may-leave", "field 'watts_peak'"),
        (",g,,200,365,10,0,1,,may-leave", "row 2: field 'id' is required"),
        ("s1,g,,200,365,10,0,0,,may-leave", "field 'tier'"),
    ],
)
def test_bad_rows(row: str, needle: str):
    with pytest.raises(ConfigError, match=needle.replace("(", r"\(").replace(")", r"\)")):
        parse_fleet(HEADER + "\n" + row + "\n", "csv")


def test_duplicate_ids_name_both_rows():
    text = HEADER + "\ns1,,,1,1,1,0,1,,may-leave\ns1,,,1,1,1,0,1,,may-leave\n"
    with pytest.raises(ConfigError, match="row 3: field 'id': duplicate id 's1' .first in row 2"):
        parse_fleet(text, "csv")


def test_site_defaults_overrides_and_typos():
    site = parse_site({"baseline_peak_kw": 500}, 0.0)
    assert (site.pue_primary, site.pue_haven, site.rtt_ms) == (2.0, 2.3, 30.0)
    assert site.link_usable == 0.7
    assert parse_site({"baseline_peak_kw": 500, "pue_primary": 1.5}, 0).pue_primary == 1.5
    assert parse_site({"non_it_kw": 400}, 100.0).baseline_peak_kw == 500.0
    with pytest.raises(ConfigError, match="unknown key.*pue_primray"):
        parse_site({"baseline_peak_kw": 500, "pue_primray": 1.5}, 0)
    with pytest.raises(ConfigError, match="baseline_peak_kw"):
        load_site("pue_primary: 2.0\n", 0.0)
    with pytest.raises(ConfigError, match="link_limits item 1"):
        parse_site({"baseline_peak_kw": 1, "link_limits": [{"mbps": 3}]}, 0)
