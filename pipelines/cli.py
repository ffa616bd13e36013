"""`oms`: what users do, in one command line. Run it as `python3 -m pipelines <command>`.

demo       generate the built-in demo data (if missing) and run the whole flow
generate   write demo landing files (size, span, seed, fault rate)
run        run the whole flow once on whatever is in the landing folder
summary    print the report of the warehouse as it is
ui         start the Dagster UI (lineage, runs, checks, schedules, sensors)
dashboard  start the Streamlit dashboards (on 127.0.0.1 unless --address says otherwise)
users      add, list or remove the dashboard's users (roles: viewer, operator, planner, admin)
repair     move loaded records to the quarantine and rebuild what they reached
rebuild    rebuild the dbt models from scratch (--full-refresh), then run the flow
forecast-eval  test the forecasting engine on a demand history against baselines
test       run the whole test suite (lint, type check, pytest)
"""

from __future__ import annotations

import argparse
import os
import shutil
import signal
import subprocess
import sys
import time
from datetime import date
from pathlib import Path
from typing import Any

from pipelines.instance import dagster_home
from pipelines.planning.forecast_eval import add_forecast_eval_parser
from pipelines.repair_command import add_repair_parser
from pipelines.settings import PROJECT_ROOT, get_settings


def cmd_generate(args: argparse.Namespace) -> int:
    from demo_generator import generate

    settings = get_settings()
    report = generate(
        settings.landing_dir,
        start=args.start,
        days=args.days,
        order_lines=args.order_lines,
        seed=args.seed,
        fault_rate=args.fault_rate,
        truth_dir=settings.data_dir / "generator_truth",
        from_day=args.from_day,
        wholesale_files=args.wholesale_files,
        wholesale_pos=args.wholesale_pos,
    )
    print(report)
    return 0


def run_flow(
    wait_timeout_s: float | None = None, command: str = "python3 -m pipelines run"
) -> tuple[bool, float]:
    """One real Dagster run of the full flow; whether it did everything, and its seconds.

    "Everything": a run goes on past a model or test that fails, building the rest, so Dagster
    calls it a success; it is complete only when every planned asset was built and no check
    failed with an error (`pipelines.run_report`).
    """
    from pipelines.run_report import report

    result, seconds = flow_result(wait_timeout_s, command)
    if isinstance(result, NothingChanged):
        return True, seconds
    return result.success and report(result).complete, seconds


class NothingChanged:
    """A run not started: none of its inputs changed since the last complete run
    (`pipelines.run_inputs`), so every asset would depend on nothing new."""

    success = True

    def __init__(self, last_run_id: str, recorded_at: str) -> None:
        self.last_run_id = last_run_id
        self.recorded_at = recorded_at

    def describe(self) -> str:
        return (
            f"Nothing changed since the last complete run ({self.last_run_id}, {self.recorded_at}):"
            " no new landing file, no change in the raw or operational tables, the people's "
            "requests, the code, the settings or the date. Nothing was rebuilt or published."
        )


def flow_result(
    wait_timeout_s: float | None = None, command: str = "python3 -m pipelines run"
) -> tuple[Any, float]:
    """One real Dagster run of the full flow, recorded in the instance the UI shows: its
    result (`ExecuteInProcessResult`) and seconds.

    The run holds the warehouse writer lock throughout: started while another run writes, it
    says whom it waits for and waits (at most `wait_timeout_s`, then `LockTimeout`). SIGTERM
    or SIGINT stop it (`RunStopped`): the Dagster run ends failed or canceled, not STARTED.
    """
    import uuid

    from pipelines.run_control import (
        RunStopped,
        child_pids,
        stop_signals,
        terminate_children,
        wait_for_warehouse_file,
    )
    from pipelines.runlock import Holder, warehouse_lock

    def say_waiting(holder: Holder | None) -> None:
        who = holder.describe() if holder else "another process"
        print(f"Another run is writing the warehouse: {who}. Waiting for it to finish...")
        print("(stop waiting with Ctrl-C)", flush=True)

    dagster_home()
    settings = get_settings()
    warehouse = settings.warehouse_path
    run_id = str(uuid.uuid4())  # the form of Dagster's own run ids
    before = child_pids(os.getpid())
    with stop_signals() as stops:
        try:
            # The lock first: a run that has to wait says so at once, and the manifest is
            # prepared by one run at a time.
            with warehouse_lock(
                warehouse,
                command=command,
                timeout_s=wait_timeout_s,
                on_wait=say_waiting,
                check_stop=stops.check,
            ):
                started = time.perf_counter()
                from pipelines.run_inputs import read_record

                wait_for_warehouse_file(warehouse, check_stop=stops.check)
                # Before anything heavy is imported: a run with nothing new ends here. (The
                # manifest is the one the last complete run used: the code is an input.)
                verdict = _judge_inputs(settings)
                if verdict.nothing_changed:
                    recorded = read_record(settings) or {}
                    skipped = NothingChanged(
                        str(recorded.get("run_id")), str(recorded.get("recorded_at"))
                    )
                    return skipped, time.perf_counter() - started
                print("Inputs changed since the last complete run: " + "; ".join(verdict.changed))
                from dagster import DagsterInstance

                from pipelines.definitions import defs
                from pipelines.run_control import fail_abandoned_runs, process_tags
                from pipelines.transform.project import ensure_manifest

                ensure_manifest()
                job = defs().resolve_job_def("full_flow")
                with DagsterInstance.get() as instance:
                    for gone in fail_abandoned_runs(instance, by=command):
                        print(
                            f"Run {gone} was left STARTED by a process that is gone: marked failed."
                        )
                    wait_for_warehouse_file(warehouse, check_stop=stops.check)
                    result = job.execute_in_process(
                        instance=instance,
                        run_id=run_id,
                        tags=process_tags(),
                        raise_on_error=False,
                        # Progress at INFO: one line per source and per dbt node, not every event.
                        run_config={"loggers": {"console": {"config": {"log_level": "INFO"}}}},
                    )
                    signum = stops.received()
                    stopped_run = instance.get_run_by_id(run_id)
                    if signum is not None and not result.success and stopped_run:
                        # Dagster's own message says no termination was requested; say who.
                        name = signal.Signals(signum).name
                        instance.report_engine_event(
                            f"Stopped by {name} sent to pid {os.getpid()} ({command}).",
                            stopped_run,
                        )
                # Nothing the run started may outlive it: dagster-dbt stops `dbt` on an
                # interrupt, but not when the step fails otherwise, and a `dbt` left running
                # keeps the warehouse file locked for the next run.
                terminate_children(spare=before)
                if signum is not None and not result.success:
                    raise RunStopped(signum, run_id)
                _record_inputs(settings, verdict.before, run_id, result)
        except KeyboardInterrupt:
            terminate_children(spare=before)
            raise RunStopped(stops.received() or signal.SIGINT, None) from None
    return result, time.perf_counter() - started


def _judge_inputs(settings: Any) -> Any:
    """Whether the run has anything to do (`pipelines.run_inputs`), read from the warehouse."""
    from pipelines.run_inputs import judge_inputs
    from pipelines.warehouse import Warehouse

    with Warehouse.from_settings(settings).connect() as con:
        return judge_inputs(con, settings)


def _record_inputs(settings: Any, before: dict[str, str], run_id: str, result: Any) -> None:
    """After a complete run, what it read; after any other, no record (the next run does
    everything)."""
    from pipelines.run_inputs import forget_record, write_record
    from pipelines.run_report import report
    from pipelines.warehouse import Warehouse

    if not (result.success and report(result).complete):
        forget_record(settings)
        return
    with Warehouse.from_settings(settings).connect() as con:
        write_record(con, settings, before, run_id)


def cmd_run(args: argparse.Namespace) -> int:
    from dagster import DagsterInstance

    from pipelines.run_control import RunStopped
    from pipelines.run_report import report
    from pipelines.runlock import LockTimeout
    from pipelines.summary import build_summary

    settings = get_settings()
    wait_timeout_s = 0.0 if getattr(args, "no_wait", False) else getattr(args, "wait_timeout", None)
    try:
        result, seconds = flow_result(
            wait_timeout_s, command=f"python3 -m pipelines {args.command}"
        )
    except LockTimeout as exc:
        print(f"Not started: {exc}.")
        return 75  # EX_TEMPFAIL: try again later
    except RunStopped as exc:
        status = "not started"
        if exc.run_id:
            with DagsterInstance.get() as instance:
                run = instance.get_run_by_id(exc.run_id)
                status = f"Dagster run {exc.run_id}: {run.status.value if run else 'unknown'}"
        print(
            f"Run stopped ({exc}; {status}). Every ingest chunk and routing run committed "
            "before the stop stays; the next run picks up from there (docs/operations.md)."
        )
        return exc.exit_code
    if isinstance(result, NothingChanged):
        print(result.describe())
        print(f"Flow skipped: nothing changed (checked in {seconds:.1f} s)")
        return 0
    print(build_summary(settings.warehouse_path))
    problems = report(result)
    for warning in problems.warnings:
        print(f"warning: {warning}")
    for error in problems.errors:
        print(f"error: {error}")
    ok = result.success and problems.complete
    if result.success and not ok:
        print(
            "What was not built keeps its last version; the dashboards keep their last "
            "consistent copy. See docs/operations.md (When a check fails)."
        )
    print(
        f"Flow {'succeeded' if ok else 'FAILED'} in {seconds:.1f} s "
        f"(warehouse: {settings.warehouse_path})"
    )
    print("Open the dashboards:  python3 -m pipelines dashboard   (http://localhost:8501)")
    print("Open the Dagster UI:  python3 -m pipelines ui          (http://localhost:3000)")
    return 0 if ok else 1


def cmd_rebuild(args: argparse.Namespace) -> int:
    """`dbt build --full-refresh` of the selected models (all of them by default), then the
    flow: what a changed definition needs, since an incremental model keeps the rows it built
    under the old one (docs/operations.md, "When a definition changes")."""
    selectors = args.select or ["*"]
    print("Rebuilding from scratch: dbt build --full-refresh --select", " ".join(selectors))
    return rebuild_then_run(selectors, run=not args.no_run)


def rebuild_then_run(selectors: list[str], run: bool) -> int:
    """The full refresh of `selectors`, then (unless `run` is off) the flow; shared by `rebuild`
    and `repair`. Returns the command's exit code."""
    from pipelines.transform.project import rebuild

    if rebuild(selectors) != 0:
        print("The rebuild failed; see dbt's output above. Nothing was published.")
        return 1
    if not run:
        return 0
    ok, seconds = run_flow()
    print(f"Flow {'succeeded' if ok else 'FAILED'} in {seconds:.1f} s")
    return 0 if ok else 1


def cmd_demo(args: argparse.Namespace) -> int:
    settings = get_settings()
    started = time.perf_counter()
    if args.regenerate and settings.landing_dir.exists():
        shutil.rmtree(settings.landing_dir)
    if not any(settings.landing_dir.glob("*/*")):
        print(f"Generating demo data into {settings.landing_dir} ...")
        cmd_generate(args)
    code = cmd_run(args)
    _ensure_demo_users()
    print(f"Demo finished in {time.perf_counter() - started:.1f} s in all.")
    return code


def cmd_summary(args: argparse.Namespace) -> int:
    from pipelines.summary import build_summary

    print(build_summary(get_settings().warehouse_path))
    return 0


def _fail_abandoned_runs(by: str) -> None:
    """Runs left STARTED by a killed process are marked failed, so the UI does not show them
    running for ever."""
    from dagster import DagsterInstance

    from pipelines.run_control import fail_abandoned_runs

    with DagsterInstance.get() as instance:
        for gone in fail_abandoned_runs(instance, by=by):
            print(f"Run {gone} was left STARTED by a process that is gone: marked failed.")


def cmd_ui(args: argparse.Namespace) -> int:
    from pipelines.transform.project import ensure_manifest

    dagster_home()
    ensure_manifest()
    _fail_abandoned_runs("python3 -m pipelines ui")
    exe = Path(sys.executable).with_name("dagster")
    return subprocess.call(
        [str(exe), "dev", "-m", "pipelines.definitions", "-p", str(args.port)], cwd=PROJECT_ROOT
    )


def cmd_dashboard(args: argparse.Namespace) -> int:
    from dashboards.lib.auth import is_loopback

    address = args.address or get_settings().dashboard_address
    if not is_loopback(address):
        print(
            f"note: the dashboards listen on {address!r}, beyond this machine: every page needs "
            "a signed-in user (python3 -m pipelines users add NAME --role ROLE)."
        )
    print(f"Dashboards: http://{address}:{args.port}")
    return subprocess.call(dashboard_command(address, args.port), cwd=PROJECT_ROOT)


def dashboard_command(address: str, port: int) -> list[str]:
    """`streamlit run` of the app, bound to `address` (Streamlit's own default is every
    interface, so the address is always given)."""
    return [
        str(Path(sys.executable).with_name("streamlit")),
        "run",
        str(PROJECT_ROOT / "dashboards" / "app.py"),
        "--server.address",
        address,
        "--server.port",
        str(port),
        "--server.headless",
        "true",
        # the app is for operations teams, not for editing or deploying the app itself
        "--client.toolbarMode",
        "viewer",
        "--browser.gatherUsageStats",
        "false",
    ]


def _ensure_demo_users() -> None:
    """The demo's documented users (docs/dashboards.md), only when there is no users file."""
    from dashboards.lib.users import DEMO_USERS, ensure_demo_users

    path = get_settings().users_file
    if ensure_demo_users(path):
        print(f"Demo dashboard users written to {path} (demo only, see docs/dashboards.md):")
        for name, (role, password) in DEMO_USERS.items():
            print(f"  {name:<14} role {role:<9} password {password}")
        print("Sign in on the dashboard's sidebar; retrying a delivery needs operator or admin.")


def _read_password(args: argparse.Namespace) -> str:
    import getpass

    if args.password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    first = getpass.getpass(f"Password for {args.name}: ")
    if getpass.getpass("Repeat it: ") != first:
        raise SystemExit("the two passwords differ; nothing changed")
    return first


def cmd_users(args: argparse.Namespace) -> int:
    from dashboards.lib import users

    path = get_settings().users_file
    try:
        if args.users_command == "add":
            account = users.add_user(
                path,
                args.name,
                args.role,
                _read_password(args),
                display_name=args.display_name,
                replace=args.replace,
            )
            print(f"{account.username} ({account.role}) saved in {path}")
        elif args.users_command == "remove":
            users.remove_user(path, args.name)
            print(f"{args.name} removed from {path}")
        else:
            found = users.accounts(path)
            print(f"{len(found)} user(s) in {path}")
            for account in found.values():
                print(f"  {account.username:<24} {account.role:<9} {account.display_name}")
    except users.UsersFileError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def _ensure_chromium() -> None:
    """Browser tests need Debian's chromium; install it when we can (root with apt)."""
    if Path("/usr/bin/chromium").exists() or not shutil.which("apt-get"):
        return
    if os.geteuid() != 0:
        print(
            "note: /usr/bin/chromium is missing; browser tests will fail. "
            "Install it with: sudo apt-get install -y chromium"
        )
        return
    subprocess.run(["apt-get", "update", "-qq"], check=True)
    subprocess.run(["apt-get", "install", "-y", "-qq", "chromium"], check=True)


def cmd_test(args: argparse.Namespace) -> int:
    _ensure_chromium()
    bin_dir = Path(sys.executable).parent
    for step in (
        [str(bin_dir / "ruff"), "check", "."],
        [str(bin_dir / "ruff"), "format", "--check", "."],
        [str(bin_dir / "mypy")],
    ):
        print("+", " ".join(step), flush=True)
        if subprocess.call(step, cwd=PROJECT_ROOT) != 0:
            return 1
    return subprocess.call([sys.executable, "-m", "pytest", *args.pytest_args], cwd=PROJECT_ROOT)


def _generation_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--days", type=int, default=90)
    p.add_argument("--order-lines", type=int, default=120_000)
    p.add_argument("--seed", type=int, default=42)
    p.add_argument("--fault-rate", type=float, default=0.01)
    p.add_argument("--start", type=date.fromisoformat, default=date(2026, 8, 1))
    p.add_argument("--from-day", type=int, default=0)
    p.add_argument(
        "--wholesale-files",
        choices=("per_customer_day", "per_po"),
        default="per_customer_day",
        help="wholesale purchase orders: one file per customer and day, or one per PO (EDI)",
    )
    p.add_argument(
        "--wholesale-pos",
        type=int,
        default=0,
        metavar="N",
        help="instead of the simulated span: the reference files and N wholesale purchase "
        "orders, one file each (a landing folder of many small files)",
    )


def _users_parser(sub: argparse._SubParsersAction) -> None:
    from dashboards.lib.auth import ROLES

    p = sub.add_parser("users", help="add, list or remove the dashboard's users")
    p.set_defaults(func=cmd_users)
    users = p.add_subparsers(dest="users_command", required=True)
    add = users.add_parser("add", help="add a user (password asked twice, stored as a hash)")
    add.add_argument("name", help="user name: lower-case letters, digits, . _ @ -")
    add.add_argument("--role", required=True, choices=ROLES)
    add.add_argument("--display-name", help="name shown on the dashboard (default: the name)")
    add.add_argument("--password-stdin", action="store_true", help="read the password from stdin")
    add.add_argument("--replace", action="store_true", help="overwrite an existing user")
    users.add_parser("list", help="list users and their roles")
    remove = users.add_parser("remove", help="remove a user")
    remove.add_argument("name")


def _wait_options(p: argparse.ArgumentParser) -> None:
    """While another run writes the warehouse, a run waits for it (see docs/operations.md)."""
    g = p.add_mutually_exclusive_group()
    g.add_argument(
        "--wait-timeout",
        type=float,
        metavar="SECONDS",
        help="give up (exit code 75) if another run still writes after SECONDS; default: wait",
    )
    g.add_argument(
        "--no-wait", action="store_true", help="give up at once if another run is writing"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python3 -m pipelines",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("demo", help="generate demo data if missing, then run the whole flow")
    _generation_options(p)
    p.add_argument("--regenerate", action="store_true", help="wipe and regenerate landing data")
    _wait_options(p)
    p.set_defaults(func=cmd_demo)
    p = sub.add_parser("generate", help="write demo landing files")
    _generation_options(p)
    p.set_defaults(func=cmd_generate)
    p = sub.add_parser("run", help="run the whole flow once")
    _wait_options(p)
    p.set_defaults(func=cmd_run)
    sub.add_parser("summary", help="print the warehouse report").set_defaults(func=cmd_summary)
    p = sub.add_parser("ui", help="start the Dagster UI")
    p.add_argument("--port", type=int, default=3000)
    p.set_defaults(func=cmd_ui)
    p = sub.add_parser("dashboard", help="start the Streamlit dashboards")
    p.add_argument("--port", type=int, default=8501)
    p.add_argument(
        "--address",
        help="address to listen on (default 127.0.0.1, or OMS_DASHBOARD_ADDRESS); "
        "0.0.0.0 exposes the dashboards to the network and then every page needs a sign-in",
    )
    p.set_defaults(func=cmd_dashboard)
    _users_parser(sub)
    add_repair_parser(sub)
    p = sub.add_parser(
        "rebuild", help="rebuild dbt models from scratch (--full-refresh), then run the flow"
    )
    p.add_argument(
        "--select",
        action="append",
        metavar="SELECTOR",
        help="dbt selector of what to rebuild, e.g. fct_kpi_order_lines+ (default: everything)",
    )
    p.add_argument("--no-run", action="store_true", help="do not run the flow afterwards")
    p.set_defaults(func=cmd_rebuild)
    add_forecast_eval_parser(sub)
    p = sub.add_parser("test", help="run lint, type check and the whole test suite")
    p.add_argument("pytest_args", nargs=argparse.REMAINDER)
    p.set_defaults(func=cmd_test)
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
