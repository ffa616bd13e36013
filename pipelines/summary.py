"""The short report the main job prints: rows per source, rejects, KPI headlines, timings."""

from __future__ import annotations

from pathlib import Path

import duckdb

from ops_actions.run_routing import FULFILLMENT_KIND
from pipelines.actions.holds import holds_summary_lines
from pipelines.alerts.assets import alert_summary_lines
from pipelines.db import fetch_row, scalar
from pipelines.warehouse import Warehouse


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f} %"


def _num(value: float | None, unit: str = "") -> str:
    return "n/a" if value is None else f"{value:,.1f}{unit}"


def build_summary(warehouse_path: Path) -> str:
    """Read the warehouse (after a run, when nothing else holds it) and format the report."""
    con = Warehouse(warehouse_path).open(read_only=True)
    try:
        lines = [
            "Sources (all batches so far)",
            f"  {'source':<16}{'batches':>8}{'seen':>11}"
            f"{'loaded':>11}{'rejected':>10}{'dupes':>8}  reconciles",
        ]
        for row in con.execute(
            """select source, count(*), sum(records_seen), sum(loaded), sum(rejected),
                      sum(duplicates), bool_and(records_seen = loaded + rejected + duplicates)
               from raw._batches group by source order by source"""
        ).fetchall():
            name, batches, seen, loaded, rejected, dupes, ok = row
            lines.append(
                f"  {name:<16}{batches:>8}{seen:>11,}{loaded:>11,}{rejected:>10,}"
                f"{dupes:>8,}  {'yes' if ok else 'NO'}"
            )
        lines.append("Rejects by reason")
        for code, n in con.execute(
            """select reason_code, count(*) from raw._rejects group by 1 order by 2 desc"""
        ).fetchall():
            lines.append(f"  {code:<22}{n:>8,}")
        lines += _attention_lines(con)
        lines += _kpi_lines(con)
        lines += holds_summary_lines(con)
        lines += _routing_lines(con)
        lines += planning_lines(con)
        lines += status_lines(con)
        lines += alert_summary_lines(con)
        return "\n".join(lines)
    finally:
        con.close()


def _attention_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """What a person should look at: refused files, and loaded lines referring to nothing."""
    out = []
    refused = con.execute(
        "select file, reason from raw._rejects where reason_code = 'refused_file' order by file"
    ).fetchall()
    if refused:
        out.append(f"Files refused ({len(refused)}; never read, see raw._rejects):")
        out += [
            f"  {file}: {reason.removeprefix('refused_file: ')}" for file, reason in refused[:5]
        ]
    try:
        unmatched = con.execute(
            "select line_kind, count(*) from marts.fct_unmatched_lines group by 1 order by 1"
        ).fetchall()
    except duckdb.Error:  # not built yet
        unmatched = []
    if unmatched:
        counts = ", ".join(f"{kind} {n:,}" for kind, n in unmatched)
        out.append(
            f"Lines referring to no known order or PO line: {counts} (marts.fct_unmatched_lines)"
        )
    return out


def _kpi_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Headlines from the KPI catalogue (marts.fct_kpis, docs/kpis.md): unit-weighted rates over
    what was due by the cut-off, summed from the monthly numerators and denominators (rates roll
    up; percentiles do not, so they are recomputed from the shipments)."""
    try:
        k = fetch_row(
            con,
            """select min(period_start), max(as_of_at), sum(orders), sum(units_ordered),
                      sum(units_filled) / nullif(sum(units_due), 0), sum(units_open_not_due),
                      sum(ship_units_on_time) / nullif(sum(ship_units_due), 0),
                      sum(units_late_unshipped),
                      sum(delivery_units_on_time) / nullif(sum(delivery_units_due), 0),
                      sum(units_returned) / nullif(sum(return_units_shipped), 0)
               from marts.fct_kpis where period_grain = 'month' and dimension = 'all'""",
        )
        p = fetch_row(
            con,
            """select quantile_cont(fulfillment_hours, 0.5), quantile_cont(fulfillment_hours, 0.9)
               from marts.fct_shipments""",
        )
        acc = scalar(
            con,
            """select sum(counts_accurate) / nullif(sum(skus_counted), 0)
               from marts.fct_inventory_kpis_daily""",
        )
    except duckdb.Error as exc:  # marts not built (e.g. the dbt build failed)
        return [f"KPIs unavailable: {exc}".splitlines()[0]]
    return [
        f"KPI headlines {k[0]} .. cut-off {k[1]} (unit-weighted, due by the cut-off)",
        f"  orders {k[2]:,}   units ordered {k[3]:,}",
        f"  fill rate {_pct(k[4])} ({k[5]:,} units not due yet)",
        f"  on-time ship {_pct(k[6])} ({k[7]:,} units late and unshipped)   "
        f"on-time delivery {_pct(k[8])}",
        f"  fulfillment time p50 {_num(p[0], ' h')}   p90 {_num(p[1], ' h')}",
        f"  return rate {_pct(k[9])} (matured orders)   inventory accuracy {_pct(acc)}",
    ]


def _routing_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    has_ops = scalar(
        con, "select count(*) from information_schema.tables where table_schema = 'ops'"
    )
    if not has_ops:
        return ["Routing: no routing run yet"]
    run = con.execute(
        """select run_id, rules_version from ops.routing_runs
           order by committed_at desc nulls last limit 1"""
    ).fetchall()
    if not run:
        return ["Routing: no open lines routed yet"]
    run_id, version = run[0]
    outcome = dict(
        con.execute(
            """select outcome, sum(units) from ops.routing_decisions where run_id = ?
               group by outcome""",
            [run_id],
        ).fetchall()
    )
    states = dict(
        con.execute(
            "select state, count(*) from ops.outbox where kind = ? group by state",
            [FULFILLMENT_KIND],
        ).fetchall()
    )
    shown = ", ".join(f"{k} {v:,}" for k, v in sorted(outcome.items()))
    sent = ", ".join(f"{k} {v:,}" for k, v in sorted(states.items()))
    return [
        f"Routing run {run_id} (rules {version}): units {shown}",
        f"  fulfillment requests: {sent}",
    ]


def planning_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Suggestions made by the latest build (count and value per currency) and the reorder
    requests in the outbox by delivery state."""
    from ops_actions.reorders.decide import REORDER_KINDS

    try:
        made = con.execute(
            """select count(*), sum(suggested_value), currency
               from marts.ops_reorder_suggestions group by currency order by currency"""
        ).fetchall()
    except duckdb.Error:  # not built (yet)
        return ["Planning: no reorder suggestions built"]
    count = sum(int(n) for n, _, _ in made)
    value = ", ".join(f"{v or 0:,.2f} {c or ''}".rstrip() for _, v, c in made) or "0.00"
    out = [f"Reorder suggestions: {count:,} worth {value}"]
    has_outbox = scalar(
        con,
        "select count(*) from information_schema.tables "
        "where table_schema = 'ops' and table_name = 'outbox'",
    )
    states: dict[str, int] = {}
    if has_outbox:
        marks = ", ".join("?" for _ in REORDER_KINDS)
        states = dict(
            con.execute(
                f"select state, count(*) from ops.outbox where kind in ({marks}) group by state",
                list(REORDER_KINDS),
            ).fetchall()
        )
    sent = states.get("delivered", 0)
    rest = ", ".join(f"{k} {v:,}" for k, v in sorted(states.items()) if k != "delivered")
    out.append(f"  reorder requests sent: {sent:,}" + (f" ({rest})" if rest else ""))
    return out


def status_lines(con: duckdb.DuckDBPyConnection) -> list[str]:
    """Status updates to the channels in the outbox: produced and delivered per channel, and
    what is not delivered yet by state."""
    from ops_actions.status.keys import STATUS_KIND

    has_outbox = scalar(
        con,
        "select count(*) from information_schema.tables "
        "where table_schema = 'ops' and table_name = 'outbox'",
    )
    if not has_outbox:
        return ["Status updates: none produced yet"]
    rows = con.execute(
        """select replace(destination, 'channel:', '') as channel, count(*),
                  count(*) filter (where state = 'delivered'),
                  count(*) filter (where state in ('pending', 'in_flight')),
                  count(*) filter (where state = 'dead_letter')
           from ops.outbox where kind = ? group by 1 order by 1""",
        [STATUS_KIND],
    ).fetchall()
    if not rows:
        return ["Status updates: none produced yet"]
    out = [
        "Status updates to the channels",
        f"  {'channel':<14}{'produced':>10}{'delivered':>11}{'pending':>9}{'dead letter':>13}",
    ]
    for channel, made, sent, waiting, dead in rows:
        out.append(f"  {channel:<14}{made:>10,}{sent:>11,}{waiting:>9,}{dead:>13,}")
    return out
