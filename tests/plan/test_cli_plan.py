"""``kaikyo plan`` end to end, in-process, on the shipped sample fleet."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest

from kaikyo.testing.cli import kaikyo as run

ROOT = Path(__file__).resolve().parents[2]
FLEET = ROOT / "examples" / "fleet-tokyo.csv"
SITE = ROOT / "examples" / "site-tokyo.yaml"
BASE = [
    "plan",
    "--fleet",
    str(FLEET),
    "--site",
    str(SITE),
    "--start",
    "2011-05-26",
    "--deadline",
    "2011-07-01",
    "--servers-per-wave",
    "40",
]


def test_sample_fleet_meets_15_percent():
    code, out, _ = run(*BASE, "--target", "15%", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["feasible"] is True
    assert doc["reduction_kw"] >= doc["target_kw"] == 127.5
    assert {"server", "group", "wave"} <= set(doc["moves"][0])
    assert all(
        {"start", "end", "seed_hours", "final_delta_hours", "downtime_hours"} <= set(w)
        for w in doc["waves"]
    )
    assert doc["binding"]


def test_infeasible_target_exits_2_with_best_plan_and_reasons():
    code, out, _ = run(*BASE, "--target", "25%", "--json")
    doc = json.loads(out)
    assert code == 2 and doc["feasible"] is False
    assert 0 < doc["reduction_kw"] < doc["target_kw"]
    assert any("must-stay" in b for b in doc["blockers"])


def test_link_blocker_names_the_bandwidth(tmp_path: Path):
    site = tmp_path / "site.yaml"
    site.write_text(
        SITE.read_text(encoding="utf-8").replace("link_mbps: 1000", "link_mbps: 100"),
        encoding="utf-8",
    )
    code, out, _ = run(
        "plan",
        "--fleet",
        str(FLEET),
        "--site",
        str(site),
        "--start",
        "2011-05-26",
        "--deadline",
        "2011-07-01",
        "--target",
        "15%",
        "--json",
    )
    doc = json.loads(out)
    assert code == 2
    assert any("link would need at least" in b and "Gbit/s" in b for b in doc["blockers"])


def test_kw_target_table_csv_and_charts(tmp_path: Path):
    code, out, _ = run(
        *BASE,
        "--target",
        "60kW",
        "--csv",
        str(tmp_path / "m.csv"),
        "--chart",
        str(tmp_path / "c.png"),
    )
    assert code == 0 and "meets the target: 60.0 kW" in out
    assert (tmp_path / "c.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    lines = (tmp_path / "m.csv").read_text(encoding="utf-8").splitlines()
    assert lines[0].startswith("server,group,wave") and len(lines) > 1
    code, _, _ = run(
        *BASE,
        "--target",
        "60kW",
        "--chart",
        str(tmp_path / "c.html"),
        "--chart",
        str(tmp_path / "d.png"),
    )
    page = (tmp_path / "c.html").read_text(encoding="utf-8")
    assert code == 0 and "<svg" in page and "<script" not in page
    # What a board reads: the verdict, the net, the savings, each wave's servers, the notes,
    # and a layout for paper.
    assert "The plan meets the 60.0 kW target" in page and "Net 2011-07-01" in page
    assert "the primary draws" in page and "<h2>Notes</h2>" in page
    assert (
        page.count("<details>")
        == sum(
            1
            for _ in json.loads(run(*BASE, "--target", "60kW", "--json")[1])["waves"]
            if _["servers"]
        )
        and "@media print" in page
    )
    assert "cut-over (JST)" in page
    assert (tmp_path / "d.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"  # both charts


@pytest.mark.parametrize(
    "flag,value",
    [
        ("--target", "15"),
        ("--target", "150%"),
        ("--start", "May 1"),
        ("--chart", "x.gif"),
        ("--margin", "lots"),
        ("--margin", "-5"),
        ("--rated-spread", "120%"),
    ],
)
def test_bad_flags_are_usage_errors(flag: str, value: str):
    argv = [*BASE, flag, value]
    code, _, err = run(*argv)
    assert code == 64 and err.startswith("kaikyo: error:") and err.count("\n") == 1


def test_bad_fleet_row_names_row_and_field(tmp_path: Path):
    lines = FLEET.read_text(encoding="utf-8").splitlines()
    cols = lines[3].split(",")
    cols[4] = "lots"  # watts_peak of the server on spreadsheet row 4
    lines[3] = ",".join(cols)
    bad = tmp_path / "fleet.csv"
    bad.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, _, err = run(
        "plan",
        "--fleet",
        str(bad),
        "--site",
        str(SITE),
        "--start",
        "2011-05-26",
        "--deadline",
        "2011-07-01",
    )
    assert code == 23
    assert "row 4" in err and "watts_peak" in err


def test_missing_file_is_a_config_error(tmp_path: Path):
    code, _, err = run(
        "plan",
        "--fleet",
        str(tmp_path / "nope.csv"),
        "--site",
        str(SITE),
        "--start",
        "2011-05-26",
        "--deadline",
        "2011-07-01",
    )
    assert code == 23 and "nope.csv" in err


def test_the_wave_table_in_a_pipe_is_plain_with_figures_right_aligned():
    code, out, _ = run(*BASE, "--target", "15%")
    assert code == 0
    assert "┃" not in out and "│" not in out and "━" not in out
    title, header, *rows = out.splitlines()
    assert title.startswith("Evacuation waves (2011-05-26 to 2011-07-01)")
    assert header.split()[:5] == ["wave", "cut-over", "(JST)", "grp", "srv"]
    waves = [r for r in rows if r.split() and r.split()[0].isdigit() and "," not in r]
    assert waves, out
    assert all("Sat 20:00-Sun 10:00" in r for r in waves)  # the sample site's window
    # Figures end where their header ends: "cum kW" is the last column.
    end = len(header.rstrip())
    assert all(len(r.rstrip()) == end for r in waves)


def _fleet_rows() -> dict[str, dict[str, str]]:
    import csv

    with FLEET.open(encoding="utf-8") as fh:
        return {row["id"]: row for row in csv.DictReader(fh)}


def test_net_figures_are_primary_and_haven_together_and_say_what_is_unfavourable(
    tmp_path: Path,
):
    code, out, _ = run(*BASE, "--target", "15%", "--json")
    doc = json.loads(out)
    s, net = doc["savings"], doc["net"]
    assert net["jpy"] == net["cost"] == round(s["cost_added"] - s["cost_saved"])
    assert abs(net["kwh"] - (s["kwh_added_haven"] - s["kwh_saved_primary"])) < 0.2
    assert abs(net["co2_t"] - (s["co2_added_kg"] - s["co2_saved_kg"]) / 1000) < 1e-3
    # The 2011 sample: the haven is cheaper but its grid and PUE make it emit more.
    assert net["jpy"] < 0 < net["co2_t"] and net["kwh"] > 0
    code, out, _ = run(*BASE, "--target", "15%", "--csv", str(tmp_path / "m.csv"))
    [line] = [ln for ln in out.splitlines() if ln.startswith("Net ")]
    assert "JPY (a saving)" in line and "t CO2 (UNFAVOURABLE" in line
    import csv

    with (tmp_path / "m.csv").open(encoding="utf-8") as fh:
        rows = list(csv.DictReader(fh))
    # The servers' shares add up to the whole (each rounded to a yen).
    assert abs(sum(float(r["net_jpy"]) for r in rows) - net["jpy"]) <= len(rows)
    assert abs(sum(float(r["net_co2_kg"]) for r in rows) / 1000 - net["co2_t"]) < 0.01


def test_a_margin_plans_for_more_and_the_range_rests_on_the_rated_servers():
    _, out, _ = run(*BASE, "--target", "15%", "--json")
    plain = json.loads(out)
    assert plain["margin_pct"] == 0 and plain["planned_kw"] == plain["target_kw"]
    code, out, _ = run(*BASE, "--target", "15%", "--margin", "5%", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["feasible"]
    assert doc["planned_kw"] == round(doc["target_kw"] * 1.05, 3)
    assert doc["reduction_kw"] >= doc["planned_kw"] > plain["reduction_kw"]
    # The range, recomputed from the fleet: rated servers moved, +-20% of their kW.
    fleet = _fleet_rows()
    rated = sum(
        float(fleet[m["server"]]["watts_peak"]) * 2.0 / 1000  # pue_primary 2.0
        for m in doc["moves"]
        if fleet[m["server"]]["power_source"] != "measured"
    )
    low, high = doc["reduction_range_kw"]
    assert abs(low - (doc["reduction_kw"] - 0.2 * rated)) < 1e-2
    assert abs(high - (doc["reduction_kw"] + 0.2 * rated)) < 1e-2
    assert abs(doc["rated_share_pct"] - 100 * rated / doc["reduction_kw"]) < 1e-2
    _, out, _ = run(*BASE, "--target", "15%", "--rated-spread", "0", "--json")
    none = json.loads(out)
    assert none["reduction_range_kw"] == [none["reduction_kw"]] * 2
    _, out, _ = run(*BASE, "--target", "15%", "--margin", "5")
    assert "Margin: planned for" in out and "Range: " in out and "at the low end" in out


def test_a_priced_project_prints_its_payback_or_says_it_never_pays_back(tmp_path: Path):
    base = SITE.read_text(encoding="utf-8")
    cheap = tmp_path / "cheap.yaml"
    cheap.write_text(base + "line_cost_per_month: 50000\nlabour_per_server: 20000\n", "utf-8")
    code, out, _ = run(*[a if a != str(SITE) else str(cheap) for a in BASE], "--json")
    doc = json.loads(out)
    p, net = doc["project"], doc["net"]
    moved = len(doc["moves"])
    assert p["one_off"] == 20000 * moved and p["running_per_month"] == 50000
    period_h = 24 * (dt.date.fromisoformat(doc["savings"]["period_end"]) - dt.date(2011, 7, 1)).days
    energy = -net["cost"] / period_h * 730
    assert abs(p["energy_saving_per_month"] - energy) <= 1
    assert abs(p["payback_months"] - p["one_off"] / (energy - 50000)) < 0.01
    dear = tmp_path / "dear.yaml"
    dear.write_text(base + "haven_cost_per_rack_month: 400000\nservers_per_rack: 10\n", "utf-8")
    code, out, _ = run(*[a if a != str(SITE) else str(dear) for a in BASE], "--json")
    p = json.loads(out)["project"]
    assert p["racks"] == -(-len(json.loads(out)["moves"]) // 10) and p["payback_months"] is None
    code, out, _ = run(*[a if a != str(SITE) else str(dear) for a in BASE])
    assert "NEVER pays back" in out
    assert json.loads(run(*BASE, "--json")[1])["project"] is None  # no prices, no project


COMPARE = ["plan", "compare", *BASE[1:]]


def test_compare_runs_the_grid_and_prices_each_extra_percent():
    code, out, _ = run(
        *COMPARE, "--targets", "12.5%,10%,15%", "--link-mbps", "300,1000", "--dedup", "0.6",
        "--json",
    )  # fmt: skip
    assert code == 0
    rows = json.loads(out)["scenarios"]
    assert [(r["link_mbps"], r["target"]) for r in rows] == [
        (link, t) for link in (300.0, 1000.0) for t in ("10%", "12.5%", "15%")
    ]
    for before, after in zip(rows, rows[1:], strict=False):
        if before["link_mbps"] != after["link_mbps"]:
            assert after["extra_per_pct"] is None  # the first of its series
            continue
        if not (before["feasible"] and after["feasible"]):
            continue
        extra, pct = after["extra_per_pct"], 2.5
        assert abs(extra["send_tb"] - (after["send_tb"] - before["send_tb"]) / pct) < 1e-2
        assert (
            abs(extra["servers"] - (after["servers_moved"] - before["servers_moved"]) / pct) < 0.01
        )
        assert abs(extra["net_cost"] - (after["net"]["cost"] - before["net"]["cost"]) / pct) <= 1
    # Each scenario is the plan `kaikyo plan` gives for it.
    _, alone, _ = run(*BASE, "--target", "15%", "--json")
    assert json.loads(alone)["reduction_kw"] == rows[-1]["reduction_kw"]
    code, out, _ = run(*COMPARE, "--targets", "10%,15%", "--link-mbps", "300")
    assert code == 0 and "+TB/%" in out.splitlines()[1] and "10%" in out


def test_compare_exits_2_when_no_scenario_meets_its_target():
    code, out, _ = run(*COMPARE, "--targets", "40%,50%", "--json")
    assert code == 2 and not any(r["feasible"] for r in json.loads(out)["scenarios"])


@pytest.mark.parametrize(
    "argv",
    [
        ["--targets", ""],
        ["--targets", "15%,abc"],
        ["--link-mbps", "1000,fast"],
        ["--dedup", "0"],
        ["--targets", ",".join(f"{i}%" for i in range(1, 21)), "--link-mbps", "1,2,3,4"],
    ],
)
def test_compare_bad_lists_are_usage_errors(argv: list[str]):
    code, _, err = run(*COMPARE, *argv)
    assert code == 64 and err.count("\n") == 1


def test_plan_and_compare_name_their_missing_inputs():
    code, _, err = run("plan", "compare", "--site", str(SITE))
    assert code == 64 and "plan compare: the following arguments are required: --fleet" in err


def test_each_wave_has_its_go_no_go_rollback_deadline_and_owners(tmp_path: Path):
    _, out, _ = run(*BASE, "--json")
    doc = json.loads(out)
    fleet = _fleet_rows()
    for w in (w for w in doc["waves"] if w["servers"]):
        start = dt.datetime.fromisoformat(w["cutover_start"])
        end = dt.datetime.fromisoformat(w["cutover_end"])
        assert dt.datetime.fromisoformat(w["go_no_go"]) == start - dt.timedelta(hours=24)
        assert dt.datetime.fromisoformat(w["rollback_by"]) == end - dt.timedelta(hours=2)
        owners = {o["group"]: o for o in w["owners"]}
        assert set(owners) == set(w["groups"])
        for m in (m for m in doc["moves"] if m["wave"] == w["wave"]):
            assert owners[m["group"]]["owner"] == fleet[m["server"]]["owner"]
            assert owners[m["group"]]["sign_off"] == fleet[m["server"]]["sign_off"]
    site = tmp_path / "site.yaml"
    site.write_text(SITE.read_text("utf-8") + "go_no_go_hours: 48\nrollback_hours: 6\n", "utf-8")
    _, out, _ = run(*[str(site) if a == str(SITE) else a for a in BASE], "--json")
    w = json.loads(out)["waves"][0]
    start, end = (dt.datetime.fromisoformat(w[k]) for k in ("cutover_start", "cutover_end"))
    assert dt.datetime.fromisoformat(w["go_no_go"]) == start - dt.timedelta(hours=48)
    assert dt.datetime.fromisoformat(w["rollback_by"]) == end - dt.timedelta(hours=6)


def test_the_workbook_holds_summary_waves_servers_and_assumptions(tmp_path: Path):
    import openpyxl

    book_path = tmp_path / "計画.xlsx"
    code, out, _ = run(*BASE, "--margin", "5", "--xlsx", str(book_path), "--json")
    doc = json.loads(out)
    assert code == 0
    book = openpyxl.load_workbook(book_path)
    assert book.sheetnames == ["Summary", "Waves", "Servers", "Assumptions"]
    summary = [r for r in book["Summary"].iter_rows(values_only=True)]
    assert summary[1][0].startswith("The plan meets the 127.5 kW target")
    figures = {r[0]: r[1] for r in summary if r[0] and r[1] is not None}
    assert figures["Planned for (kW)"] == pytest.approx(doc["planned_kw"], abs=1e-3)
    assert figures["Net cost (JPY)"] == pytest.approx(doc["net"]["cost"], abs=1)
    waves = list(book["Waves"].iter_rows(min_row=2, values_only=True))
    active = [w for w in doc["waves"] if w["servers"]]
    assert [r[0] for r in waves if r[0]] == [w["wave"] for w in active]
    for row, w in zip(waves, active, strict=False):
        assert row[2] == dt.datetime.fromisoformat(w["cutover_start"]).replace(tzinfo=None)
        assert row[4] == dt.datetime.fromisoformat(w["rollback_by"]).replace(tzinfo=None)
    servers = list(book["Servers"].iter_rows(min_row=2, values_only=True))
    assert sorted(r[1] for r in servers) == sorted(m["server"] for m in doc["moves"])
    fleet = _fleet_rows()
    assert all(r[4] == fleet[r[1]]["owner"] and r[5] == fleet[r[1]]["sign_off"] for r in servers)
    assumptions = dict(book["Assumptions"].iter_rows(min_row=2, values_only=True))
    assert assumptions["time zone"] == "Asia/Tokyo" and assumptions["margin (%)"] == 5
    assert "Sat 20:00 for 14 h" in assumptions["cut-over windows"]


def test_a_workbook_that_cannot_be_written_leaves_nothing(tmp_path: Path):
    code, _, err = run(*BASE, "--xlsx", str(tmp_path / "missing" / "plan.xlsx"))
    assert code == 23 and err.count("\n") == 1 and "cannot write" in err
    assert not (tmp_path / "missing").exists()
    code, _, err = run(*BASE, "--xlsx", str(tmp_path / "plan.xls"))
    assert code == 64 and "must end in .xlsx" in err and not list(tmp_path.iterdir())


def test_lang_ja_labels_the_chart_and_the_report_in_japanese(tmp_path: Path):
    import warnings

    from kaikyo.plan.chart import cjk_font_missing

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        code, _, err = run(*BASE, "--lang", "ja", "--chart", str(tmp_path / "計画.html"),
                           "--chart", str(tmp_path / "p.png"))  # fmt: skip
    assert code == 0
    page = (tmp_path / "計画.html").read_text("utf-8")
    assert "<html lang='ja'>" in page and "退避計画 2011-05-26〜2011-07-01" in page
    assert "目標 127.5 kW の削減を達成します" in page and "実施判断 (JST)" in page
    assert (tmp_path / "p.png").read_bytes()[:4] == b"\x89PNG"
    glyphs = [str(w.message) for w in caught if "Glyph" in str(w.message)]
    if cjk_font_missing():  # CI installs fonts-ipafont-gothic (.ci/run)
        assert "no Japanese font" in err
    else:
        assert not glyphs and "no Japanese font" not in err
    code, out, _ = run(*BASE, "--chart", str(tmp_path / "en.html"))
    assert "<html lang='en'>" in (tmp_path / "en.html").read_text("utf-8")
