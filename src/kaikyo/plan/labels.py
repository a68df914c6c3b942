"""The words on a plan's chart and report, in English and Japanese (``plan --lang ja``).

The board of a Japanese company reads Japanese; the figures and the machine-readable keys
stay the same in both. Each label is a format string over named fields.
"""

from __future__ import annotations

LANGS = ("en", "ja")

_EN = {
    "verdict_meets": "The plan meets the {target:.1f} kW target by {deadline}:",
    "verdict_fails": "The plan CANNOT meet the {target:.1f} kW target by {deadline}:",
    "verdict_tail": "{reduction:.1f} kW off the peak ({pct:.1f}%), net {cost:+,.0f} {currency} "
    "and {co2:+,.1f} t CO2 to {end}.",
    "gantt_title": "Waves: seed copy over the link, then cut-over ({zone})",
    "wave": "wave {n}",
    "wave_note": " {servers} servers, {kw:.0f} kW",
    "seed": "seed copy",
    "cutover": "cut-over",
    "window": "cut-over window",
    "curve_title": "Peak demand at the primary site",
    "peak": "primary peak kW",
    "cap": "cap {cap:.0f} kW (target -{target:.0f} kW)",
    "deadline": "deadline {deadline}",
    "restriction": "restriction period",
    "range": "if rated servers draw ±{spread:g}%",
    "final_below": "peak {kw:.1f} kW: {gap:.1f} kW below the cap",
    "final_above": "peak {kw:.1f} kW: {gap:.1f} kW ABOVE the cap",
    "ylabel": "kW at the primary's meter",
    "title": "Evacuation plan {start} to {deadline}",
    "h_figures": "Margin, range and net",
    "h_waves": "Waves",
    "h_binds": "What binds",
    "h_notes": "Notes",
    "none": "none",
    "th": "wave|go/no-go ({zone})|cut-over ({zone})|roll back by|servers|GB sent|seed h|"
    "downtime h|kW off",
    "to": "to",
    "wave_servers": "Wave {n}: {count} servers",
    "owner": "{group}: owner {owner}, sign-off {sign_off}",
    "savings": "{start} to {end}: the primary draws {kwh_p:,.0f} kWh less ({cost_p:,.0f} "
    "{currency}, {co2_p:,.1f} t CO2); the haven {kwh_h:,.0f} kWh more ({cost_h:,.0f} "
    "{currency}, {co2_h:,.1f} t CO2).",
}

_JA = {
    "verdict_meets": "{deadline}までに目標 {target:.1f} kW の削減を達成します:",
    "verdict_fails": "{deadline}までに目標 {target:.1f} kW の削減を達成できません:",
    "verdict_tail": "ピーク {reduction:.1f} kW 削減 ({pct:.1f}%)、{end}までの差引 "
    "{cost:+,.0f} {currency}、CO2 {co2:+,.1f} t。",
    "gantt_title": "移行ウェーブ: 回線で初期複製、その後切替 ({zone})",
    "wave": "第{n}波",
    "wave_note": " {servers}台、{kw:.0f} kW",
    "seed": "初期複製",
    "cutover": "切替",
    "window": "切替時間帯",
    "curve_title": "本社のピーク電力",
    "peak": "ピーク電力 kW",
    "cap": "上限 {cap:.0f} kW (目標 -{target:.0f} kW)",
    "deadline": "期限 {deadline}",
    "restriction": "使用制限期間",
    "range": "定格値のサーバが ±{spread:g}% の場合",
    "final_below": "ピーク {kw:.1f} kW: 上限より {gap:.1f} kW 低い",
    "final_above": "ピーク {kw:.1f} kW: 上限を {gap:.1f} kW 超過",
    "ylabel": "本社受電点の kW",
    "title": "退避計画 {start}〜{deadline}",
    "h_figures": "余裕、幅、差引",
    "h_waves": "移行ウェーブ",
    "h_binds": "制約となっている条件",
    "h_notes": "備考",
    "none": "なし",
    "th": "波|実施判断 ({zone})|切替 ({zone})|切戻し判断期限|台数|送信 GB|複製 時間|停止 時間|"
    "削減 kW",
    "to": "〜",
    "wave_servers": "第{n}波: {count}台",
    "owner": "{group}: 責任者 {owner}、承認者 {sign_off}",
    "savings": "{start}〜{end}: 本社 {kwh_p:,.0f} kWh 減 ({cost_p:,.0f} {currency}、CO2 "
    "{co2_p:,.1f} t)、退避先 {kwh_h:,.0f} kWh 増 ({cost_h:,.0f} {currency}、CO2 {co2_h:,.1f} t)。",
}

_CATALOG = {"en": _EN, "ja": _JA}


def label(lang: str, key: str, **fields: object) -> str:
    """The label ``key`` in ``lang`` (English when the language has none), filled in."""
    text = _CATALOG.get(lang, _EN).get(key) or _EN[key]
    return text.format(**fields)
