"""`ads-platform sql` and every marts reader are read-only, whatever SQL they are given.

The marts here are a small DuckDB file built without dbt (a table and a view that names
its catalog the way dbt-duckdb does), published with the real :func:`publish_marts`:
the attacks are about the connection and the statement check, not about the models.
Every attack goes through the real command line (click's runner, and one real
subprocess of ``ads-platform sql``) and must leave one line naming what was refused,
exit code 2, the marts file byte for byte as it was, and no file anywhere.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import duckdb
import pytest
from click.testing import CliRunner, Result

from ads_platform.cli import main
from ads_platform.warehouse import open_marts_readonly, publish_marts

REPO_ROOT = Path(__file__).resolve().parents[2]


@dataclass(frozen=True)
class Home:
    root: Path
    build_db: Path
    marts: Path


def _build(build_db: Path, spend: int, extra_table: str | None = None) -> None:
    """What a dbt build leaves: a table, and a view naming its catalog ("marts")."""
    con = duckdb.connect(str(build_db))
    try:
        con.execute(
            "create or replace table rpt_account_daily as "
            f"select 'act_1' as account_id, date '2026-01-01' as date_day, {spend} as spend"
        )
        con.execute(
            'create or replace view data_freshness as select account_id from "marts"."main".'
            '"rpt_account_daily"'
        )
        if extra_table:
            con.execute(f"create or replace table {extra_table} as select 1 as x")
    finally:
        con.close()


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Home:
    root = tmp_path / "home"
    (root / "warehouse").mkdir(parents=True)
    build_db = root / "warehouse" / "marts.duckdb"
    _build(build_db, spend=10)
    publish_marts(build_db, root / "marts.duckdb")
    # Relative paths in an attack (COPY … TO 'leak.csv') land here, where we look for them.
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("ADS_PLATFORM_HOME", str(root))
    monkeypatch.delenv("ADS_PLATFORM_CONFIG", raising=False)
    return Home(root, build_db, root / "marts.duckdb")


def _sql(home: Home, query: str, *extra: str) -> Result:
    # "--" ends the options: a query may begin with a comment ("-- …").
    return CliRunner().invoke(main, ["sql", "--marts", str(home.marts), *extra, "--", query])


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


def _assert_refused(result: Result, *named: str) -> str:
    assert result.exit_code == 2, result.output
    message = result.stderr.strip()
    assert message.count("\n") == 0, message
    assert message.startswith("error: "), message
    assert "Traceback" not in result.output
    for word in named:
        assert word.lower() in message.lower(), (word, message)
    assert result.stdout == ""
    return message


# Each attack, and what the refusal must name.
ATTACKS: list[tuple[str, str, tuple[str, ...]]] = [
    ("copy-to", "COPY (select * from rpt_account_daily) TO 'leak.csv'", ("refused", "COPY")),
    ("copy-from", "COPY rpt_account_daily FROM '/etc/passwd'", ("refused", "COPY")),
    ("attach-new", "ATTACH '{tmp}/new.duckdb' AS n", ("refused", "ATTACH")),
    (
        "attach-create",
        "ATTACH '{tmp}/new.duckdb' AS n; CREATE TABLE n.t AS SELECT 1",
        ("refused", "2 statements"),
    ),
    ("read-csv", "select * from read_csv('/etc/passwd')", ("refused", "/etc/passwd")),
    ("read-text", "select * from read_text('/etc/passwd')", ("refused", "/etc/passwd")),
    ("read-blob", "select * from read_blob('/etc/hostname')", ("refused", "/etc/hostname")),
    ("glob", "select * from glob('/etc/*')", ("refused", "/etc/*")),
    ("read-parquet", "select * from read_parquet('/etc/x.parquet')", ("refused", "/etc/x")),
    ("parquet-scan", "select * from parquet_scan('/etc/x.parquet')", ("refused", "/etc/x")),
    ("replacement-scan", "select * from '/etc/passwd.csv'", ("refused", "/etc/passwd.csv")),
    ("bare-path", "select * from '/etc/passwd'", ("/etc/passwd",)),
    ("url", "select * from read_csv('https://example.com/x.csv')", ("refused", "example.com")),
    ("sniff", "select * from sniff_csv('/etc/passwd')", ("refused", "/etc/passwd")),
    ("getenv", "select getenv('HOME')", ("getenv",)),
    ("enable-logging", "select * from enable_logging()", ("refused", "locked")),
    ("enable-profiling", "select * from enable_profiling()", ("refused", "locked")),
    ("set", "SET enable_external_access = true", ("refused", "SET")),
    ("set-threads", "SET threads = 1", ("refused", "SET")),
    ("reset", "RESET threads", ("refused", "RESET")),
    ("set-variable", "SET VARIABLE x = 1", ("refused", "SET")),
    ("pragma", "PRAGMA enable_profiling", ("refused", "PRAGMA")),
    ("create", "CREATE TABLE leak AS SELECT 1", ("refused", "CREATE")),
    ("create-temp", "CREATE TEMP TABLE leak AS SELECT 1", ("refused", "CREATE")),
    ("create-secret", "CREATE SECRET (TYPE s3, KEY_ID 'k', SECRET 's')", ("refused", "CREATE")),
    ("insert", "INSERT INTO rpt_account_daily VALUES ('act_2', date '2026-01-02', 1)", ("INSERT",)),
    ("update", "UPDATE rpt_account_daily SET spend = 0", ("refused", "UPDATE")),
    ("delete", "DELETE FROM rpt_account_daily", ("refused", "DELETE")),
    ("with-delete", "WITH x AS (SELECT 1) DELETE FROM rpt_account_daily", ("DELETE",)),
    ("truncate", "TRUNCATE rpt_account_daily", ("refused", "TRUNCATE")),
    ("drop", "DROP TABLE rpt_account_daily", ("refused", "DROP")),
    ("alter", "ALTER TABLE rpt_account_daily ADD COLUMN x INT", ("refused", "ALTER")),
    (
        "merge",
        "MERGE INTO rpt_account_daily USING (SELECT 1) ON true WHEN MATCHED THEN DELETE",
        ("MERGE",),
    ),
    ("call", "CALL pragma_version()", ("refused", "CALL")),
    ("checkpoint", "CHECKPOINT", ("refused", "CHECKPOINT")),
    ("force-checkpoint", "FORCE CHECKPOINT", ("refused", "FORCE")),
    ("detach", "DETACH marts", ("refused", "DETACH")),
    ("use", "USE memory", ("refused", "USE")),
    ("begin", "BEGIN", ("refused", "BEGIN")),
    ("commit", "COMMIT", ("refused", "COMMIT")),
    ("vacuum", "VACUUM", ("refused", "VACUUM")),
    ("analyze", "ANALYZE", ("refused", "ANALYZE")),
    ("import", "IMPORT DATABASE '{tmp}/export'", ("refused", "IMPORT")),
    ("export", "EXPORT DATABASE '{tmp}/export'", ("refused", "EXPORT")),
    ("install", "INSTALL httpfs", ("refused", "INSTALL")),
    ("load", "LOAD httpfs", ("refused", "LOAD")),
    ("update-extensions", "UPDATE EXTENSIONS", ("refused", "UPDATE")),
    ("prepare", "PREPARE p AS SELECT 1", ("refused", "PREPARE")),
    ("explain-analyze", "EXPLAIN ANALYZE CREATE TABLE leak AS SELECT 1", ("refused", "EXPLAIN")),
    ("pivot-multi", "PIVOT rpt_account_daily ON account_id", ("refused", "PIVOT")),
    ("multi", "select 1; drop table rpt_account_daily", ("refused", "2 statements")),
    ("multi-trailing", "select 1; select 2;", ("refused", "2 statements")),
    ("comment-hides-drop", "/* select */ DROP TABLE rpt_account_daily", ("refused", "DROP")),
    ("line-comment", "--;\nDROP TABLE rpt_account_daily", ("refused", "DROP")),
    ("comment-then-drop", "select 1 -- ;\n; drop table rpt_account_daily", ("2 statements",)),
    ("comment-semicolon", "select 1 /* ; */ ; drop table rpt_account_daily", ("2 statements",)),
    ("dollar-quote", "select $$x$$; drop table rpt_account_daily", ("2 statements",)),
]


@pytest.mark.parametrize(("sql", "named"), [a[1:] for a in ATTACKS], ids=[a[0] for a in ATTACKS])
def test_every_statement_that_writes_or_reaches_outside_the_marts_is_refused_in_one_line(
    home: Home, tmp_path: Path, sql: str, named: tuple[str, ...]
) -> None:
    before_digest, before_files = _digest(home.marts), _files(tmp_path)
    result = _sql(home, sql.format(tmp=tmp_path))
    _assert_refused(result, *named)
    assert _digest(home.marts) == before_digest
    assert _files(tmp_path) == before_files  # no leak.csv, new.duckdb, export/, .wal
    if "getenv" in sql:
        assert os.environ["HOME"] not in result.output


def test_the_whole_barrage_leaves_the_marts_byte_for_byte_and_queries_still_answer(
    home: Home, tmp_path: Path
) -> None:
    before = _digest(home.marts)
    for _name, sql, _named in ATTACKS:
        assert _sql(home, sql.format(tmp=tmp_path)).exit_code == 2, sql
    assert _digest(home.marts) == before
    ok = _sql(home, "select spend from rpt_account_daily", "--format", "csv")
    assert ok.exit_code == 0 and ok.stdout.strip().splitlines() == ["spend", "10"]


@pytest.mark.parametrize(
    ("sql", "first_line"),
    [
        ("select account_id, spend from rpt_account_daily", "account_id,spend"),
        ("  with x as (select * from rpt_account_daily) select spend from x;", "spend"),
        ("from data_freshness", "account_id"),
        ("values (1, 'a')", "col0,col1"),
        ("table rpt_account_daily", "account_id,date_day,spend"),
        ("describe rpt_account_daily", "column_name,column_type,null,key,default,extra"),
        ("show tables", "name"),
        ("summarize rpt_account_daily", "column_name,column_type,min,max"),
        ("pivot rpt_account_daily on account_id in ('act_1') using sum(spend)", "date_day,act_1"),
        ("-- a comment first\nselect 1 as one /* and after */", "one"),
    ],
)
def test_queries_keep_working(home: Home, sql: str, first_line: str) -> None:
    result = _sql(home, sql, "--format", "csv")
    assert result.exit_code == 0, result.output
    assert result.stdout.splitlines()[0].startswith(first_line)


def test_json_output_writes_decimals_as_numbers_with_their_exact_digits(home: Home) -> None:
    sql = (
        "select 50640.00::decimal(18, 2) as spend, "
        "12345678901234567890.1234567890::decimal(38, 10) as wide, "
        "-0.10::decimal(9, 2) as refund, 170141183460469231731687303715884105727::hugeint as big, "
        "[1.25::decimal(4, 2)] as listed, {'v': 2.50::decimal(4, 2)} as nested, "
        "null::decimal(18, 2) as missing, 'x' as text"
    )
    result = _sql(home, sql, "--format", "json")
    assert result.exit_code == 0, result.output
    # The digits as DuckDB holds them, not a string and not through a float.
    assert '"spend": 50640.00,' in result.stdout
    assert '"wide": 12345678901234567890.1234567890,' in result.stdout
    assert '"refund": -0.10,' in result.stdout
    exact = json.loads(result.stdout, parse_float=Decimal)
    assert exact == [
        {
            "spend": Decimal("50640.00"),
            "wide": Decimal("12345678901234567890.1234567890"),
            "refund": Decimal("-0.10"),
            "big": 170141183460469231731687303715884105727,
            "listed": [Decimal("1.25")],
            "nested": {"v": Decimal("2.50")},
            "missing": None,
            "text": "x",
        }
    ]
    # A plain JSON reader gets numbers it can add up.
    plain = json.loads(result.stdout)[0]
    assert isinstance(plain["spend"], float) and plain["spend"] == 50640.0


def test_the_connection_every_reader_gets_is_read_only_without_the_statement_check(
    home: Home, tmp_path: Path
) -> None:
    """The dashboards run their own SQL on this connection: DuckDB itself must refuse."""
    con = open_marts_readonly(home.marts)
    try:
        settings = con.execute(
            "select current_setting('enable_external_access'), "
            "current_setting('lock_configuration')"
        ).fetchone()
        assert settings == (False, True)
        databases = con.execute(
            "select database_name, readonly from duckdb_databases() where not internal"
        ).fetchall()
        assert databases == [("marts", True)]  # the host's writable in-memory catalog is gone
        refused = [
            "create table leak as select 1",
            "insert into rpt_account_daily values ('act_2', date '2026-01-02', 1)",
            f"copy (select 1) to '{tmp_path}/leak.csv'",
            f"attach '{tmp_path}/new.duckdb' as n",
            f"attach '{home.build_db}' as b",
            "select * from read_csv('/etc/passwd')",
            "select * from glob('/etc/*')",
            "set enable_external_access = true",
            "reset lock_configuration",
            "install httpfs",
            "load httpfs",
            "use memory",
        ]
        for sql in refused:
            with pytest.raises(duckdb.Error):
                con.execute(sql)
        assert con.execute(
            "select sum(spend) from data_freshness join rpt_account_daily using (account_id)"
        ).fetchone() == (10,)
    finally:
        con.close()
    assert not (tmp_path / "leak.csv").exists() and not (tmp_path / "new.duckdb").exists()


def test_attaching_the_build_database_neither_reaches_the_next_publish_nor_locks_a_build(
    home: Home,
) -> None:
    attach = f"ATTACH '{home.build_db}' AS b"
    _assert_refused(_sql(home, attach), "refused", "ATTACH")
    _assert_refused(_sql(home, f"{attach}; CREATE TABLE b.main.leak AS SELECT 1"), "refused")
    _assert_refused(_sql(home, "CREATE TABLE marts.main.leak AS SELECT 1"), "refused", "CREATE")
    _assert_refused(
        CliRunner().invoke(main, ["sql", "select 1", "--marts", str(home.build_db)]),
        "private build database",
    )
    # A long-lived reader (a dashboard) that tries the attach itself must not end up
    # holding the build database: a dbt build in another process writes it meanwhile.
    reader = open_marts_readonly(home.marts)
    try:
        with pytest.raises(duckdb.PermissionException):
            reader.execute(attach)
        build = subprocess.run(
            [
                sys.executable,
                "-c",
                "import duckdb, sys; c = duckdb.connect(sys.argv[1]); "
                "c.execute('create or replace table rebuilt as select 2 as x'); c.close()",
                str(home.build_db),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert build.returncode == 0, build.stderr
    finally:
        reader.close()
    publish_marts(home.build_db, home.marts)
    con = open_marts_readonly(home.marts)
    try:
        tables = {r[0] for r in con.execute("show tables").fetchall()}
    finally:
        con.close()
    assert "rebuilt" in tables and "leak" not in tables


def test_a_reader_opened_after_a_publish_sees_it_while_an_older_reader_keeps_its_file(
    home: Home,
) -> None:
    total = "select sum(spend) from rpt_account_daily"
    reader_a = open_marts_readonly(home.marts)
    try:
        assert reader_a.execute(total).fetchone() == (10,)
        _build(home.build_db, spend=25)
        publish_marts(home.build_db, home.marts)
        reader_b = open_marts_readonly(home.marts)
        try:
            assert reader_b.execute(total).fetchone() == (25,)
        finally:
            reader_b.close()
        assert reader_a.execute(total).fetchone() == (10,)  # its file, still readable
        assert _sql(home, total, "--format", "csv").stdout.strip().splitlines() == [
            "sum(spend)",
            "25",
        ]
    finally:
        reader_a.close()


def test_the_installed_command_refuses_with_exit_code_2(home: Home, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    command = [sys.executable, "-c", "from ads_platform.cli import main; main()", "sql"]
    leak = tmp_path / "leak.csv"
    copy = subprocess.run(
        [*command, f"COPY (select 1) TO '{leak}'", "--marts", str(home.marts)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert copy.returncode == 2
    assert copy.stderr.strip().startswith("error: refused: COPY")
    assert len(copy.stderr.strip().splitlines()) == 1 and copy.stdout == ""
    assert not leak.exists()
    ok = subprocess.run(
        [*command, "select spend from rpt_account_daily", "--marts", str(home.marts)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.splitlines()[-1] == "(1 row)"
