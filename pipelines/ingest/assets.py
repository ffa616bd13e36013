"""One Dagster asset per landing source, with its reconciliation and Great Expectations checks."""

from collections.abc import Iterator

import dagster as dg
import duckdb

from pipelines.db import frame, scalar
from pipelines.ingest.engine import SourceResult, ingest_source
from pipelines.ingest.sources import SOURCES, SOURCES_BY_NAME
from pipelines.ingest.spec import Source
from pipelines.keys import raw_key
from pipelines.quality.suites import validate_load
from pipelines.settings import get_settings
from pipelines.warehouse import WarehouseResource

GROUP = "ingest"
# Great Expectations works on pandas in memory; past this many rows a load is validated on a
# deterministic sample (every n-th row) so a 10-million-line history stays affordable. The
# engine itself checks every record; this is the independent second opinion.
MAX_VALIDATED_ROWS = 100_000


def _check_specs(source: Source) -> list[dg.AssetCheckSpec]:
    key = raw_key(source.table)
    return [
        dg.AssetCheckSpec(
            "batches_reconcile",
            asset=key,
            blocking=True,
            description="For every batch of this load: seen = loaded + rejected + duplicates.",
        ),
        dg.AssetCheckSpec(
            "great_expectations",
            asset=key,
            blocking=True,
            description="Great Expectations suite over the rows loaded by this run.",
        ),
    ]


def _reconcile(result: SourceResult) -> dg.AssetCheckResult:
    broken = [
        b.file for b in result.batches if b.records_seen != b.loaded + b.rejected + b.duplicates
    ]
    return dg.AssetCheckResult(
        check_name="batches_reconcile",
        asset_key=raw_key(SOURCES_BY_NAME[result.source].table),
        passed=not broken,
        metadata={"batches": len(result.batches), "unreconciled_files": ", ".join(broken)},
    )


def _validate(
    con: duckdb.DuckDBPyConnection, source: Source, load_batches: list[str]
) -> dg.AssetCheckResult:
    key = raw_key(source.table)
    if not load_batches:
        return dg.AssetCheckResult(
            check_name="great_expectations",
            asset_key=key,
            passed=True,
            metadata={"rows_validated": 0, "note": "no new batch"},
        )
    total = scalar(
        con,
        f"select count(*) from raw.{source.table} where list_contains(?, _batch_id)",
        [load_batches],
    )
    step = max(1, -(-total // MAX_VALIDATED_ROWS))
    rows = frame(
        con,
        f"""select * exclude (_batch_id, _file, _loaded_at) from (
              select *, row_number() over () as _n from raw.{source.table}
              where list_contains(?, _batch_id)) where _n % {step} = 0 or {step} = 1""",
        [load_batches],
    )
    outcome = validate_load(source, rows.drop("_n", strict=False))
    return dg.AssetCheckResult(
        check_name="great_expectations",
        asset_key=key,
        passed=outcome.passed,
        severity=dg.AssetCheckSeverity.ERROR,
        metadata={
            "rows_in_load": total,
            "rows_validated": outcome.rows,
            "expectations": outcome.evaluated,
            "failures": dg.MetadataValue.json(outcome.failures),
        },
    )


def build_ingest_asset(source: Source) -> dg.AssetsDefinition:
    """A multi-asset for one source: its raw table and, if it has one, its child table."""
    specs = [
        dg.AssetSpec(
            raw_key(source.table),
            group_name=GROUP,
            kinds={"duckdb", "python"},
            description=f"Raw `{source.name}` records, append-only with load metadata "
            f"(landing contract in docs/landing_contract.md). Files: {', '.join(source.globs)}.",
            deps=[raw_key(SOURCES_BY_NAME[d].table) for d in source.depends_on],
        )
    ]
    if source.child is not None:
        specs.append(
            dg.AssetSpec(
                raw_key(source.child.table),
                group_name=GROUP,
                kinds={"duckdb", "python"},
                description=f"Records nested in `{source.name}` ({source.child.array_path}), "
                "loaded only with their parent.",
            )
        )

    @dg.multi_asset(
        name=f"ingest_{source.name}",
        specs=specs,
        check_specs=_check_specs(source),
        op_tags={"oms/writes": "warehouse"},
    )
    def _ingest(
        context: dg.AssetExecutionContext, warehouse: WarehouseResource
    ) -> Iterator[object]:
        with warehouse.connect() as con:
            result = ingest_source(con, source, get_settings().landing_dir, context.run.run_id[:12])
            validation = _validate(con, source, [b.batch_id for b in result.batches if b.loaded])
        loaded = result.total("loaded")
        context.log.info(
            f"{source.name}: {len(result.batches)} new batches, {result.total('records_seen')} "
            f"seen, {loaded} loaded, {result.total('rejected')} rejected, "
            f"{result.total('duplicates')} duplicates in {result.seconds:.2f}s"
        )
        meta = {
            "new_batches": len(result.batches),
            "records_seen": result.total("records_seen"),
            "rows_loaded": loaded,
            "rejected": result.total("rejected"),
            "duplicates": result.total("duplicates"),
            "seconds": round(result.seconds, 3),
        }
        yield dg.MaterializeResult(asset_key=raw_key(source.table), metadata=meta)
        if source.child is not None:
            yield dg.MaterializeResult(
                asset_key=raw_key(source.child.table),
                metadata={"rows_loaded": result.total("children_loaded")},
            )
        yield _reconcile(result)
        yield validation

    return _ingest


INGEST_ASSETS = [build_ingest_asset(s) for s in SOURCES]
