"""The dashboard's questions over the Parquet history, answered with DuckDB.

Every answer is plain JSON-ready data (dicts, lists, strings, numbers, None); dates are the
logical dates as the history stores them (ISO 8601 strings). The year-long questions (pass
rate, broken since) read only the per-partition summaries (one cached file, see history/summaries.py);
test-level questions read only the rows files of the runs they need, which DuckDB scans in
place.

Each HistoryAnalytics reads one lane (default: the official one; see history/layout.py), so ad hoc
runs never reach the official answers. Runs whose logical date is later than now are left out
unless `as_of` says otherwise: a manual run with a far-future logical date never becomes "current".

Definitions (`as_of` is the newest logical date in the history up to now unless given; a *window*
of N days is the runs whose logical date is in (as_of - N days, as_of]):

- **pass rate** of a run: passed / (passed + failed + error); skipped tests do not count;
  None when nothing ran (e.g. an infrastructure failure).
- **failing run**: SDK status tests_failed, infrastructure_failed or results_invalid.
  **Broken since** (per SDK): when its newest run is failing, the logical date of the first
  run of the unbroken streak of failing runs that ends with it; None when it passes. With it:
  `first_failing_commit` (the first known commit of the streak), `last_passed_commit` (the
  commit of the last passing run) and, when both are git commits of one repository on a known
  forge, `compare_url` (campaign/commits.py).
- **A test's outcome in a run**: failed if any of its rows there failed or errored, else
  passed if any passed, else skipped; its duration is the longest of its not-skipped rows.
  Runs without test rows (infrastructure failures) are not runs of any test.
- **Newly failing / newly fixed** (per SDK): the newest run with test rows against the run
  with test rows before it. Newly failing: failed now, and passed, was skipped or did not
  exist before (reported with its failure message). Newly fixed: passed now, failed before.
  An SDK with only one such run has neither. A newly failing test also names its
  `first_failing_commit` (the newest run's), its `last_passed` date and `last_passed_commit`
  (the newest earlier run where it passed, within LAST_PASS_LOOKBACK_DAYS) and a `compare_url`.
- **Flaky** (per test): within the window (default 14 days), the test passed and failed on
  the *same commit* (the code under test as its summary records it: the resolved git SHA of a
  cloned repository, or the image's content tag for the image's own sample suite), with a pass
  coming after a failure on that commit. Runs whose commit is "unknown" (migrated history, a job
  that never cloned) do not count. Pass on one commit and fail on another is a change, not
  flakiness — a moving branch is not a flaky test; and a test that passed, then failed and has
  kept failing is broken (see newly failing / broken since), not flaky — it becomes flaky only
  if it passes again on the same commit.
  A flaky test is **cleared** once it has passed 5 runs in a row since its last failure
  (skipped runs neither count nor break the streak) and is then no longer reported.
  Also flaky: the tests of a culprit finder bisection that ended "not reproducible" within the
  window (they passed on rerun at the commit they had failed at; history/culprits.py), marked
  with `not_reproducible`.
- **Slowest tests** (per SDK): the newest run with test rows, not-skipped tests by duration.
- **Duration regression** (per test): in the SDK's newest run with test rows (inside the
  window) the test took at least `min_ratio` (2) times its median duration over the SDK's
  earlier runs in the window AND at least `min_seconds` (1 s) more than that median, with at
  least `min_samples` (3) earlier samples; skipped results and missing durations are
  ignored. A median of 0 s counts as an infinite ratio (reported as ratio None).
- **A test's history** (`test_history`): its outcome, duration and failure message in every run
  of its SDK that has it, oldest first, with each run's commit.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import duckdb
import pyarrow as pa
import pyarrow.compute as pc

from sdk_campaigns import history
from sdk_campaigns.campaign.commits import compare_url
from sdk_campaigns.history import culprits

FLAKY_WINDOW_DAYS = 14
FLAKY_CLEARED_AFTER = 5
REGRESSION_MIN_RATIO = 2.0
REGRESSION_MIN_SECONDS = 1.0
REGRESSION_MIN_SAMPLES = 3
SLOWEST_LIMIT = 10
READ_ATTEMPTS = 3
LAST_PASS_LOOKBACK_DAYS = 90

_FAILING_SQL = ", ".join(f"'{s}'" for s in history.FAILING_STATUSES)
_SUMMARY_COLUMNS = [
    "sdk",
    "logical_date",
    "run_id",
    "status",
    "image_digest",
    "commit",
    "commit_kind",
    "repo_url",
    "lane",
    "passed",
    "failed",
    "error",
    "skipped",
    "total",
    "row_count",
    "rows_path",
]
# One outcome per (run, test), coded 2 failed, 1 passed, 0 skipped; see the module doc.
_OUTCOME_SQL = """
    CASE WHEN bool_or(status IN ('failed', 'error')) THEN 2
         WHEN bool_or(status = 'passed') THEN 1
         ELSE 0 END
"""
_OUTCOME_NAMES = {0: "skipped", 1: "passed", 2: "failed", None: None}


def _epoch_us(moment: str | datetime) -> int:
    delta = history.logical_time(moment) - datetime(1970, 1, 1, tzinfo=UTC)
    return delta // timedelta(microseconds=1)


class HistoryAnalytics:
    """One DuckDB connection over one DAG's history; use as a context manager.

    The summaries are loaded once (a small Arrow table; `run` is its row number). Each question
    reads only the rows files of the runs it needs, reduced at once to one outcome and duration
    per (run, test), and looks test names up only for the tests it reports.
    """

    def __init__(
        self,
        uri: str,
        dag_id: str,
        *,
        sdk: str | None = None,
        as_of: str | datetime | None = None,
        threads: int | None = None,
        lane: str = history.OFFICIAL_LANE,
    ):
        self.uri, self.dag_id, self.lane, self.sdk = uri, dag_id, lane, sdk
        self.local = history.is_local(uri)
        self.con = duckdb.connect(":memory:", config={"threads": threads} if threads else {})
        table = history.summaries_table(uri, dag_id, sdk=sdk, lane=lane)
        t_us = pc.cast(pc.cast(table.column("logical_time"), pa.timestamp("us")), pa.int64())
        table = table.select(_SUMMARY_COLUMNS).append_column("t_us", t_us)
        table = table.filter(pc.less_equal(table.column("t_us"), _epoch_us(as_of or datetime.now(UTC))))
        table = table.append_column("run", pa.array(range(table.num_rows), pa.int32()))
        self.summaries = table
        self.con.register("summaries", table)
        self.as_of_us = pc.max(table.column("t_us")).as_py() if table.num_rows else None
        self._outcome_tables: dict[tuple[int, ...], str] = {}
        self._rows_read: dict[tuple[str, tuple[str, ...]], pa.Table] = {}  # object stores: see _read_rows

    def close(self) -> None:
        self.con.close()

    def __enter__(self) -> HistoryAnalytics:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ plumbing

    def _dicts(self, sql: str, params: list | None = None) -> list[dict]:
        cursor = self.con.execute(sql, params or [])
        names = [d[0] for d in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def _since_us(self, days: float) -> int:
        return self.as_of_us - int(days * 86_400 * 1_000_000)

    def _runs_of(self, sdks: set[str], since_us: int | None = None) -> tuple[int, ...]:
        """The runs with test rows of these SDKs (logical dates >= since_us), by run number."""
        table = self.summaries
        mask = pc.and_(
            pc.is_in(table.column("sdk"), pa.array(sorted(sdks), pa.string())),
            pc.greater(table.column("row_count"), 0),
        )
        if since_us is not None:
            mask = pc.and_(mask, pc.greater_equal(table.column("t_us"), since_us))
        return tuple(table.filter(mask).column("run").to_pylist())

    def _select_runs(self, name: str, where: str, params: list, newest: int | None = None) -> str:
        """Temp table `name`: the runs with test rows matching `where`, ranked newest first per SDK.

        Returns the name of the outcome table over exactly those runs."""
        keep = "TRUE" if newest is None else f"rank <= {int(newest)}"
        self.con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE {name} AS
            SELECT * FROM (
                SELECT run, sdk, logical_date, t_us, commit, repo_url,
                       CASE WHEN commit_kind <> 'unknown' THEN commit END AS code,
                       row_number() OVER (PARTITION BY sdk ORDER BY t_us DESC) AS rank
                FROM summaries WHERE row_count > 0 AND ({where}))
            WHERE {keep}
            """,
            params,
        )
        runs = tuple(r[0] for r in self.con.execute(f"SELECT run FROM {name} ORDER BY run").fetchall())
        return self._outcomes(runs)

    def _files(self, runs: list[int] | tuple[int, ...], columns: list[str]):
        """A DuckDB relation over the rows files of `runs`: `columns` plus `run`."""
        paths = self.summaries.column("rows_path").take(pa.array(runs, pa.int32())).to_pylist()
        wanted = self.con.from_arrow(
            pa.table({"position": pa.array(range(len(runs)), pa.int64()), "run": pa.array(runs, pa.int32())})
        )
        if self.local:  # DuckDB reads the files in place; file_index is the position in `paths`
            source = self.con.read_parquet(paths).select(", ".join([*columns, "file_index"]))
        else:
            source = self.con.from_arrow(self._read_rows(paths, columns))
        return source.join(wanted, "file_index = position").select(", ".join([*columns, "run"]))

    def _read_rows(self, paths: list[str], columns: list[str]) -> pa.Table:
        """history.read_rows_files from an object store, each file read once by this instance: the
        dashboard's queries read overlapping runs, and every read there is a few round trips."""
        key = tuple(columns)
        missing = [path for path in dict.fromkeys(paths) if (path, key) not in self._rows_read]
        for path, table in zip(missing, history.read_rows_tables(self.uri, missing, columns), strict=True):
            self._rows_read[path, key] = table
        return history.with_file_index([self._rows_read[path, key] for path in paths], columns)

    def _outcomes(self, runs: tuple[int, ...]) -> str:
        """A temp table of (run, test_id, outcome, duration) for `runs`, built once per set of runs."""
        if runs in self._outcome_tables:
            return self._outcome_tables[runs]
        name = f"outcomes_{len(self._outcome_tables)}"
        self.con.execute(
            f"CREATE TEMP TABLE {name} (run INTEGER, test_id VARCHAR, outcome TINYINT, duration DOUBLE)"
        )
        if runs:
            self._files(runs, ["test_id", "status", "duration"]).aggregate(
                f"run, test_id, {_OUTCOME_SQL} AS outcome, "
                "max(duration) FILTER (WHERE status <> 'skipped') AS duration",
                "run, test_id",
            ).insert_into(name)
        self._outcome_tables[runs] = name
        return name

    def _with_names(self, found: list[dict], *, message: bool = False) -> list[dict]:
        """Give each {run, test_id, ...} its classname and name (and with `message`, the message of
        its failing row) from that run's rows; drops `run`."""
        names = {}
        if found:
            wanted = pa.table(
                {
                    "run": pa.array([f["run"] for f in found], pa.int32()),
                    "test_id": pa.array([f["test_id"] for f in found], pa.string()),
                }
            )
            self.con.register("_wanted_tests", wanted)
            columns = ["test_id", "classname", "name", *(["status", "message"] if message else [])]
            self._files(sorted({f["run"] for f in found}), columns).create_view("_named", replace=True)
            failing = "min(message) FILTER (WHERE status IN ('failed', 'error'))" if message else "NULL"
            names = {
                (run, test_id): rest
                for run, test_id, *rest in self.con.execute(
                    f"""
                    SELECT run, test_id, min(classname), min(name), {failing}
                    FROM _named SEMI JOIN _wanted_tests USING (run, test_id) GROUP BY ALL
                    """
                ).fetchall()
            }
            self.con.unregister("_wanted_tests")
        for item in found:
            classname, name, failure = names[(item.pop("run"), item["test_id"])]
            item["classname"], item["name"] = classname, name
            if message:
                item["message"] = failure
        return found

    # ------------------------------------------------------------ questions

    def pass_fail_history(self, since: str | datetime | None = None) -> list[dict]:
        """One entry per SDK per logical date (since `since`): status, counts and pass rate."""
        where, params = ("t_us >= ?", [_epoch_us(since)]) if since is not None else ("TRUE", [])
        return self._dicts(
            f"""
            SELECT sdk, logical_date, status, run_id, commit, commit_kind, repo_url, lane,
                   coalesce(passed, 0) AS passed, coalesce(failed, 0) AS failed,
                   coalesce(error, 0) AS error, coalesce(skipped, 0) AS skipped,
                   coalesce(total, 0) AS total,
                   CASE WHEN coalesce(passed, 0) + coalesce(failed, 0) + coalesce(error, 0) > 0
                        THEN round(coalesce(passed, 0) / (coalesce(passed, 0) + coalesce(failed, 0)
                                   + coalesce(error, 0)), 6)
                   END AS pass_rate
            FROM summaries WHERE {where}
            ORDER BY sdk, t_us
            """,
            params,
        )

    def broken_since(self) -> dict[str, dict]:
        """Per SDK: newest status and date, broken_since, failing_runs (the streak), last_passed."""
        rows = self._dicts(
            f"""
            WITH o AS (SELECT sdk, logical_date, t_us, status, commit, commit_kind, repo_url,
                              status IN ({_FAILING_SQL}) AS failing
                       FROM summaries),
                 ok AS (SELECT sdk, max(t_us) FILTER (WHERE NOT failing) AS last_ok FROM o GROUP BY sdk),
                 s AS (SELECT o.*, o.failing AND (ok.last_ok IS NULL OR o.t_us > ok.last_ok) AS streak
                       FROM o JOIN ok USING (sdk))
            SELECT sdk,
                   arg_max(status, t_us) AS status,
                   arg_max(logical_date, t_us) AS latest,
                   arg_min(logical_date, t_us) FILTER (WHERE streak) AS broken_since,
                   count(*) FILTER (WHERE streak) AS failing_runs,
                   arg_max(logical_date, t_us) FILTER (WHERE NOT failing) AS last_passed,
                   arg_min(commit, t_us) FILTER (WHERE streak AND commit_kind <> 'unknown')
                       AS first_failing_commit,
                   arg_min(repo_url, t_us) FILTER (WHERE streak AND commit_kind <> 'unknown')
                       AS first_failing_repo_url,
                   arg_max(commit, t_us) FILTER (WHERE NOT failing) AS last_passed_commit,
                   arg_max(repo_url, t_us) FILTER (WHERE NOT failing) AS last_passed_repo_url
            FROM s GROUP BY sdk ORDER BY sdk
            """
        )
        for row in rows:
            if not row["broken_since"]:
                row["first_failing_commit"] = row["first_failing_repo_url"] = None
            row["compare_url"] = _compare(
                row["last_passed_repo_url"],
                row["last_passed_commit"],
                row["first_failing_repo_url"],
                row["first_failing_commit"],
            )
            row["repo_url"] = row.pop("first_failing_repo_url") or row.pop("last_passed_repo_url")
            row.pop("last_passed_repo_url", None)
        return {row.pop("sdk"): row for row in rows}

    def test_changes(self) -> dict[str, dict]:
        """Per SDK: newly failing and newly fixed tests, newest run with rows vs the one before."""
        if self.as_of_us is None:
            return {}
        outcomes = self._select_runs("change_runs", "TRUE", [], newest=2)
        result = {
            run["sdk"]: {
                "logical_date": run["logical_date"],
                "previous_logical_date": run["previous_logical_date"],
                "newly_failing": [],
                "newly_fixed": [],
            }
            for run in self._dicts(
                """
                SELECT sdk, max(logical_date) FILTER (WHERE rank = 1) AS logical_date,
                       max(logical_date) FILTER (WHERE rank = 2) AS previous_logical_date
                FROM change_runs GROUP BY sdk ORDER BY sdk
                """
            )
        }
        changes = self._dicts(
            f"""
            WITH r AS (SELECT m.sdk, m.rank, o.run, o.test_id, o.outcome
                       FROM {outcomes} o JOIN change_runs m USING (run)),
                 cur AS (SELECT * FROM r WHERE rank = 1),
                 prev AS (SELECT * FROM r WHERE rank = 2)
            SELECT cur.sdk, cur.run, cur.test_id, cur.outcome, prev.outcome AS previous
            FROM cur LEFT JOIN prev ON cur.sdk = prev.sdk AND cur.test_id = prev.test_id
            WHERE cur.sdk IN (SELECT sdk FROM change_runs WHERE rank = 2)
              AND ((cur.outcome = 2 AND coalesce(prev.outcome, 0) <> 2)
                   OR (cur.outcome = 1 AND prev.outcome = 2))
            ORDER BY cur.sdk, cur.test_id
            """
        )
        last_passes = self._last_passes([c for c in changes if c["outcome"] == 2])
        for change in self._with_names(changes, message=True):
            failing = change["outcome"] == 2
            entry = {k: change[k] for k in ("test_id", "classname", "name")}
            entry["previous"] = _OUTCOME_NAMES[change["previous"]]
            if failing:
                entry["message"] = change["message"]
                entry.update(last_passes.get((change["sdk"], change["test_id"]), _NO_LAST_PASS))
            result[change["sdk"]]["newly_failing" if failing else "newly_fixed"].append(entry)
        return result

    def _run_commit(self, run: int) -> tuple[str | None, str | None]:
        """(commit, repo_url) of a run when its commit is known, else (None, None)."""
        if self.summaries.column("commit_kind")[run].as_py() == "unknown":
            return None, None
        return self.summaries.column("commit")[run].as_py(), self.summaries.column("repo_url")[run].as_py()

    def _last_passes(self, failing: list[dict]) -> dict[tuple[str, str], dict]:
        """For each newly failing {sdk, run, test_id}: its first failing commit (that run's) and the
        newest earlier run within LAST_PASS_LOOKBACK_DAYS where it passed, with its commit."""
        if not failing:
            return {}
        runs = self._runs_of({f["sdk"] for f in failing}, self._since_us(LAST_PASS_LOOKBACK_DAYS))
        wanted = pa.table(
            {
                "run": pa.array([f["run"] for f in failing], pa.int32()),
                "test_id": pa.array([f["test_id"] for f in failing], pa.string()),
            }
        )
        self.con.register("_failing_now", wanted)
        # Only the failing tests' rows are reduced to outcomes: a few tests over 90 days of runs.
        self._files(runs, ["test_id", "status"]).create_view("_lookback_rows", replace=True)
        found = {
            (run, test_id): passed_run
            for run, test_id, passed_run in self.con.execute(
                f"""
                WITH o AS (SELECT run, test_id, {_OUTCOME_SQL} AS outcome
                           FROM _lookback_rows SEMI JOIN _failing_now USING (test_id) GROUP BY ALL)
                SELECT f.run, f.test_id, arg_max(o.run, s.t_us) AS passed_run
                FROM _failing_now f JOIN summaries now ON now.run = f.run
                JOIN o ON o.test_id = f.test_id AND o.outcome = 1
                JOIN summaries s ON s.run = o.run AND s.sdk = now.sdk AND s.t_us < now.t_us
                GROUP BY ALL
                """
            ).fetchall()
        }
        self.con.unregister("_failing_now")
        answers = {}
        for item in failing:
            first_commit, first_repo = self._run_commit(item["run"])
            passed_run = found.get((item["run"], item["test_id"]))
            last_commit, last_repo, last_date = None, None, None
            if passed_run is not None:
                last_commit, last_repo = self._run_commit(passed_run)
                last_date = self.summaries.column("logical_date")[passed_run].as_py()
            answers[(item["sdk"], item["test_id"])] = {
                "first_failing_commit": first_commit,
                "last_passed": last_date,
                "last_passed_commit": last_commit,
                "repo_url": first_repo or last_repo,
                "compare_url": _compare(last_repo, last_commit, first_repo, first_commit),
            }
        return answers

    def flaky_tests(
        self, window_days: float = FLAKY_WINDOW_DAYS, cleared_after: int = FLAKY_CLEARED_AFTER
    ) -> list[dict]:
        """The tests flaky now (see the module doc), by SDK then test id."""
        if self.as_of_us is None:
            return []
        outcomes = self._select_runs("window_runs", "t_us > ?", [self._since_us(window_days)])
        found = self._dicts(
            f"""
            WITH failed AS (SELECT DISTINCT m.sdk, o.test_id
                            FROM {outcomes} o JOIN window_runs m USING (run) WHERE o.outcome = 2),
                 o AS (SELECT m.sdk, m.t_us, m.logical_date, m.code, o.run, o.test_id, o.outcome
                       FROM {outcomes} o JOIN window_runs m USING (run)
                       SEMI JOIN failed ON failed.sdk = m.sdk AND failed.test_id = o.test_id
                       WHERE o.outcome > 0),
                 mixed AS (SELECT sdk, test_id, list(code ORDER BY code) AS commits FROM (
                               SELECT sdk, test_id, code FROM o WHERE code IS NOT NULL
                               GROUP BY ALL
                               HAVING min(t_us) FILTER (WHERE outcome = 2)
                                      < max(t_us) FILTER (WHERE outcome = 1))
                           GROUP BY ALL),
                 stats AS (SELECT sdk, test_id,
                                  count(*) FILTER (WHERE outcome = 1) AS passes,
                                  count(*) FILTER (WHERE outcome = 2) AS failures,
                                  max(t_us) FILTER (WHERE outcome = 2) AS last_failed_us,
                                  arg_max(logical_date, t_us) FILTER (WHERE outcome = 2) AS last_failed,
                                  arg_max(run, t_us) FILTER (WHERE outcome = 2) AS run
                           FROM o SEMI JOIN mixed USING (sdk, test_id)
                           GROUP BY ALL),
                 since AS (SELECT o.sdk, o.test_id, count(*) AS passes_since_last_failure
                           FROM o JOIN stats USING (sdk, test_id) WHERE o.t_us > stats.last_failed_us
                           GROUP BY ALL)
            SELECT stats.sdk, stats.run, stats.test_id, stats.passes, stats.failures, stats.last_failed,
                   coalesce(since.passes_since_last_failure, 0) AS passes_since_last_failure,
                   mixed.commits
            FROM stats JOIN mixed USING (sdk, test_id) LEFT JOIN since USING (sdk, test_id)
            WHERE coalesce(since.passes_since_last_failure, 0) < ?
            ORDER BY stats.sdk, stats.test_id
            """,
            [cleared_after],
        )
        keys = ("sdk", "test_id", "classname", "name", "passes", "failures", "last_failed")
        flaky = [
            {**{k: f[k] for k in keys}, **{k: f[k] for k in ("passes_since_last_failure", "commits")}}
            for f in self._with_names(found)
        ]
        return self._with_not_reproducible(flaky, window_days)

    def _with_not_reproducible(self, flaky: list[dict], window_days: float) -> list[dict]:
        """Also flaky: the tests of a culprit finder run that passed on rerun at the very commit they
        had failed at ("not reproducible", history/culprits.py), in the window."""
        epoch = datetime(1970, 1, 1, tzinfo=UTC)
        since = epoch + timedelta(microseconds=self._since_us(window_days))
        until = epoch + timedelta(microseconds=self.as_of_us)
        if self.lane != history.OFFICIAL_LANE:  # bisections start from the official lane only
            return flaky
        known = {(f["sdk"], f["test_id"]) for f in flaky}
        for test in culprits.not_reproducible_tests(self.uri, self.dag_id, since=since, until=until):
            if (test["sdk"], test["test_id"]) in known or self.sdk not in (None, test["sdk"]):
                continue
            flaky.append(
                {
                    **{k: test[k] for k in ("sdk", "test_id", "classname", "name")},
                    "passes": 1,
                    "failures": 1,
                    "last_failed": test["logical_date"],
                    "passes_since_last_failure": 0,
                    "commits": [test["commit"]],
                    "not_reproducible": {k: test[k] for k in ("commit", "bisection", "record_uri")},
                }
            )
        return sorted(flaky, key=lambda f: (f["sdk"], f["test_id"]))

    def slowest_tests(self, limit: int = SLOWEST_LIMIT) -> dict[str, list[dict]]:
        """Per SDK: the `limit` slowest not-skipped tests of its newest run with test rows."""
        if self.as_of_us is None:
            return {}
        outcomes = self._select_runs("latest_runs", "TRUE", [], newest=1)
        found = self._dicts(
            f"""
            SELECT m.sdk, m.logical_date, o.run, o.test_id, o.outcome, o.duration
            FROM {outcomes} o JOIN latest_runs m USING (run)
            WHERE o.duration IS NOT NULL
            QUALIFY row_number() OVER (PARTITION BY m.sdk ORDER BY o.duration DESC, o.test_id) <= ?
            ORDER BY m.sdk, o.duration DESC, o.test_id
            """,
            [limit],
        )
        result: dict[str, list[dict]] = {}
        for row in self._with_names(found):
            row["outcome"] = _OUTCOME_NAMES[row["outcome"]]
            keys = ("logical_date", "test_id", "classname", "name", "outcome", "duration")
            result.setdefault(row["sdk"], []).append({k: row[k] for k in keys})
        return result

    def duration_regressions(
        self,
        window_days: float = FLAKY_WINDOW_DAYS,
        min_ratio: float = REGRESSION_MIN_RATIO,
        min_seconds: float = REGRESSION_MIN_SECONDS,
        min_samples: int = REGRESSION_MIN_SAMPLES,
    ) -> list[dict]:
        """Tests whose newest duration regressed against the window's median (see the module doc)."""
        if self.as_of_us is None:
            return []
        outcomes = self._select_runs("window_runs", "t_us > ?", [self._since_us(window_days)])
        found = self._dicts(
            f"""
            WITH d AS (SELECT m.sdk, m.rank, m.logical_date, o.run, o.test_id, o.duration
                       FROM {outcomes} o JOIN window_runs m USING (run) WHERE o.duration IS NOT NULL),
                 base AS (SELECT sdk, test_id, median(duration) AS median, count(*) AS samples
                          FROM d WHERE rank > 1 GROUP BY ALL)
            SELECT d.sdk, d.run, d.test_id, d.logical_date, d.duration, base.median, base.samples,
                   CASE WHEN base.median > 0 THEN round(d.duration / base.median, 6) END AS ratio
            FROM d JOIN base USING (sdk, test_id)
            WHERE d.rank = 1 AND base.samples >= ?
              AND d.duration - base.median >= ?
              AND (base.median = 0 OR d.duration / base.median >= ?)
            ORDER BY d.sdk, d.test_id
            """,
            [min_samples, min_seconds, min_ratio],
        )
        keys = (
            "sdk",
            "test_id",
            "classname",
            "name",
            "logical_date",
            "duration",
            "median",
            "samples",
            "ratio",
        )
        return [{k: f[k] for k in keys} for f in self._with_names(found)]

    def find_test_id(self, sdk: str, test: str) -> str | None:
        """The id of `test` in the SDK's newest run that has it: `test` is a test id, or its
        classname.name, or its name alone; None when no run has it."""
        runs = self._runs_of({sdk})
        if not runs:
            return None
        self._files(runs, ["test_id", "classname", "name"]).create_view("_find_test", replace=True)
        found = self.con.execute(
            """
            SELECT test_id FROM _find_test
            WHERE test_id = $1 OR classname || '.' || name = $1 OR name = $1
            ORDER BY test_id = $1 DESC, classname || '.' || name = $1 DESC, run DESC LIMIT 1
            """,
            [test],
        ).fetchall()
        return found[0][0] if found else None

    def test_history(self, sdk: str, test_id: str) -> list[dict]:
        """One test's outcome in every run of its SDK that has it, oldest first (see the module doc)."""
        return self.test_histories(sdk, [test_id])[test_id]

    def test_histories(self, sdk: str, test_ids: list[str]) -> dict[str, list[dict]]:
        """test_history of several tests of one SDK, in one scan of its rows files."""
        answers: dict[str, list[dict]] = {test_id: [] for test_id in test_ids}
        runs = self._runs_of({sdk})
        if not runs or not test_ids:
            return answers
        columns = ["test_id", "classname", "name", "status", "duration", "message"]
        self._files(runs, columns).create_view("_tests_rows", replace=True)
        self.con.register("_wanted_ids", pa.table({"test_id": pa.array(sorted(set(test_ids)), pa.string())}))
        found = self._dicts(
            f"""
            SELECT run, test_id, {_OUTCOME_SQL} AS outcome, count(*) AS cases,
                   max(duration) FILTER (WHERE status <> 'skipped') AS duration,
                   min(message) FILTER (WHERE status IN ('failed', 'error')) AS message,
                   min(classname) AS classname, min(name) AS name
            FROM _tests_rows SEMI JOIN _wanted_ids USING (test_id) GROUP BY ALL ORDER BY test_id, run
            """
        )
        self.con.unregister("_wanted_ids")
        keys = ("logical_date", "run_id", "commit", "commit_kind", "repo_url", "image_digest")
        summaries = self.summaries.select([*keys, "status"]).to_pylist()
        for item in found:
            summary = summaries[item["run"]]
            answers[item["test_id"]].append(
                {
                    "sdk": sdk,
                    "test_id": item["test_id"],
                    **{k: summary[k] for k in keys},
                    "sdk_status": summary["status"],
                    "outcome": _OUTCOME_NAMES[item["outcome"]],
                    **{k: item[k] for k in ("duration", "message", "classname", "name", "cases")},
                }
            )
        return answers

    def dashboard(
        self, *, since: str | datetime | None = None, window_days: float = FLAKY_WINDOW_DAYS
    ) -> dict:
        """Everything the dashboard shows, in one JSON-ready dict."""
        return {
            "dag_id": self.dag_id,
            "pass_fail_history": self.pass_fail_history(since),
            "broken_since": self.broken_since(),
            "test_changes": self.test_changes(),
            "flaky_tests": self.flaky_tests(window_days),
            "slowest_tests": self.slowest_tests(),
            "duration_regressions": self.duration_regressions(window_days),
        }


_NO_LAST_PASS = {
    "first_failing_commit": None,
    "last_passed": None,
    "last_passed_commit": None,
    "repo_url": None,
    "compare_url": None,
}


def _compare(base_repo: str | None, base: str | None, head_repo: str | None, head: str | None) -> str | None:
    """The forge's compare page from base to head, when both are commits of the same repository."""
    if not (base and head and base_repo and base_repo == head_repo) or base == head:
        return None
    return compare_url(base_repo, base, head)


def _reading_a_moving_history(answer):
    """answer(), again if a concurrent rerun replaced a partition between our listing and our
    reading of its files (its superseded files are deleted on commit): list again and re-read."""
    for attempt in range(READ_ATTEMPTS):
        try:
            return answer()
        except (FileNotFoundError, duckdb.IOException):
            if attempt == READ_ATTEMPTS - 1:
                raise


def dashboard(
    uri: str,
    dag_id: str,
    *,
    sdk: str | None = None,
    as_of: str | datetime | None = None,
    lane: str = history.OFFICIAL_LANE,
) -> dict:
    def answer() -> dict:
        with HistoryAnalytics(uri, dag_id, sdk=sdk, as_of=as_of, lane=lane) as analytics:
            return analytics.dashboard()

    return _reading_a_moving_history(answer)


def test_histories(
    uri: str, dag_id: str, sdk: str, test_ids: list[str], *, lane: str = history.OFFICIAL_LANE
) -> dict[str, list[dict]]:
    """HistoryAnalytics.test_histories, re-read if a rerun replaced a partition meanwhile."""

    def answer() -> dict[str, list[dict]]:
        with HistoryAnalytics(uri, dag_id, sdk=sdk, lane=lane) as analytics:
            return analytics.test_histories(sdk, test_ids)

    return _reading_a_moving_history(answer)


def many_test_histories(
    uri: str, dag_id: str, tests: dict[str, list[str]], *, lane: str = history.OFFICIAL_LANE
) -> dict[tuple[str, str], list[dict]]:
    """test_histories of several SDKs' tests ({sdk: [test_id, ...]}), keyed by (sdk, test_id): one
    read of the summaries for all of them, not one per SDK."""

    def answer() -> dict[tuple[str, str], list[dict]]:
        with HistoryAnalytics(uri, dag_id, lane=lane) as analytics:
            return {
                (sdk, test_id): entries
                for sdk, test_ids in tests.items()
                for test_id, entries in analytics.test_histories(sdk, test_ids).items()
            }

    return _reading_a_moving_history(answer)


def test_history(
    uri: str, dag_id: str, sdk: str, test_id: str, *, lane: str = history.OFFICIAL_LANE
) -> list[dict]:
    return test_histories(uri, dag_id, sdk, [test_id], lane=lane)[test_id]


def run_findings(uri: str, dag_id: str, logical_date: str | datetime) -> dict:
    """What the run of `logical_date` changed, for alerts (sdk_campaigns.campaign.alerts):

    - regressions / fixed: that run's newly failing / newly fixed tests (for SDKs whose newest
      run with test rows is this run);
    - new_flaky: tests flaky as of this run that were not flaky as of the run before it;
    - broken: SDKs whose failing streak starts with this run (newly broken, not still broken).
    """
    return _reading_a_moving_history(lambda: _run_findings(uri, dag_id, logical_date))


def _run_findings(uri: str, dag_id: str, logical_date: str | datetime) -> dict:
    this_us = _epoch_us(logical_date)
    with HistoryAnalytics(uri, dag_id, as_of=logical_date) as now:
        changes, broken, flaky = now.test_changes(), now.broken_since(), now.flaky_tests()
        earlier = pc.filter(now.summaries.column("t_us"), pc.less(now.summaries.column("t_us"), this_us))
        previous_us = pc.max(earlier).as_py() if len(earlier) else None
    was_flaky: set[tuple[str, str]] = set()
    if previous_us is not None:
        previous = datetime.fromtimestamp(previous_us / 1_000_000, UTC)
        with HistoryAnalytics(uri, dag_id, as_of=previous) as before:
            was_flaky = {(f["sdk"], f["test_id"]) for f in before.flaky_tests()}
    regressions, fixed = [], []
    for sdk, change in changes.items():
        if change["logical_date"] and _epoch_us(change["logical_date"]) == this_us:
            regressions += [{"sdk": sdk, **test} for test in change["newly_failing"]]
            fixed += [{"sdk": sdk, **test} for test in change["newly_fixed"]]
    return {
        "regressions": regressions,
        "fixed": fixed,
        "new_flaky": [f for f in flaky if (f["sdk"], f["test_id"]) not in was_flaky],
        "broken": [
            {
                "sdk": sdk,
                "since": state["broken_since"],
                "status": state["status"],
                **{k: state[k] for k in ("first_failing_commit", "last_passed_commit", "compare_url")},
            }
            for sdk, state in broken.items()
            if state["broken_since"] and _epoch_us(state["broken_since"]) == this_us
        ],
    }
