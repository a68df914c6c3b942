"""Planner defaults for the 2011 scenario, each with its source tag from docs/PLANNER.md.

Every value here is only a starting point: the site file overrides each one, and measured
numbers (Redfish readings, a sample backup's dedup ratio, a ping) always beat these.
"""

from __future__ import annotations

# 2011-era two-socket volume server: 365 W peak [P2], idle ~0.6 x peak = 220 W [P3][P4].
SERVER_WATTS_PEAK = 365.0
SERVER_WATTS_AVG = 220.0

# Server-room PUE in a Japanese office/DC ~2.0 (MIC survey 2008) [P10];
# Korean DC average ~2.3 (MKE 2011-2012) [P11].
PUE_PRIMARY = 2.0
PUE_HAVEN = 2.3

# Tokyo <-> Seoul measured average 31.4 ms [N10]; planning value for Gimhae 30 ms.
RTT_MS = 30.0

# 1 Gbit/s dedicated line, 0.7 usable (protocol overhead, sharing) -- assumption, DOMAIN 2.4.
LINK_MBPS = 1000.0
LINK_USABLE = 0.7

# Stored bytes per source byte after dedup + compression: assumption; measure with a sample backup.
DEDUP_RATIO = 0.6

# Japan industrial average FY2010: 14.33 yen/kWh [P14]. Korea industrial 2012: 93.2 won/kWh [P15]
# at 0.077 yen/won (derived from [K1][K15]) = 7.18 yen/kWh.
PRICE_PER_KWH = 14.33
PRICE_HAVEN_PER_KWH = 93.2 * 0.077
CURRENCY = "JPY"

# TEPCO FY2011 ~0.46 kg-CO2/kWh (derived from [P20]); Korea 2011 0.443 (KPX) [P18].
CO2_KG_PER_KWH = 0.46
CO2_HAVEN_KG_PER_KWH = 0.443

# The 2011 order: 15 % below the 2010 baseline [R1], weekdays 09:00-20:00 [R1][R3],
# TEPCO area 1 Jul - 22 Sep 2011 as planned [R1][R3]; 1-hour averages (30-minute normally) [R23].
TARGET_PCT = 15.0
RESTRICTED_HOURS = (9, 20)
RESTRICTION_END = "2011-09-22"
METERING_MINUTES = 60

# Cut-over overhead per wave beyond the final delta (stop, verify, switch DNS): assumption.
CUTOVER_HOURS = 2.0
# Repeated deltas run this often before the final one, so the final delta holds this much change.
DELTA_INTERVAL_HOURS = 6.0
WAVE_DAYS = 7

# Servers a haven rack holds when the site prices the haven by rack: a 42U rack at about
# 8 kW (a common colocation feed in 2011) holds about 20 two-socket servers of 365 W peak.
SERVERS_PER_RACK = 20

# Governance (assumptions): the go/no-go meeting a day before each cut-over; a rollback
# decided no later than two hours before the window closes, the time to restart the
# primary's servers and switch back.
GO_NO_GO_HOURS = 24.0
ROLLBACK_HOURS = 2.0
