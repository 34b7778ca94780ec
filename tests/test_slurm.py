"""The workflow on a real one-node SLURM cluster, through Snakemake's SLURM executor plugin.

The module starts munged, slurmctld and slurmd on 127.0.0.1 (Debian's slurm-wlm and munge, run
as root). It runs a tiny demo with ``--profile profiles/slurm`` and, at the same time, locally
with ``--profile profiles/workstation``. The tests check that both runs wrote the same
statistics, scores, tables and pages. Afterwards the daemons are stopped and every file set up
here is removed, also when a test fails.

Without the Debian packages, the executor plugin or root, the tests are skipped with the reason;
with SEEDCOMPARE_REQUIRE_SLURM=1 (as in CI, .ci/run) they fail instead.

The configuration goes to /etc/slurm/slurm.conf and not to a temporary folder: the plugin
removes SLURM_CONF from the environment of the ``srun`` it starts inside each job, so that
``srun`` only finds the default path. A slurm.conf that this module did not write is never
touched: the tests are skipped (or fail) instead.
"""

from __future__ import annotations

import importlib.util
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
import yaml

import test_workflow
from conftest import REPO_ROOT

VENV_BIN = Path(sys.executable).parent
SNAKEMAKE = str(VENV_BIN / "snakemake")
SLURM_CONF = Path("/etc/slurm/slurm.conf")
CONF_MARKER = "# Written by seedcompare's tests/test_slurm.py for a test cluster; pid "
DAEMONS = ["munged", "slurmctld", "slurmd"]
CLIENTS = ["sbatch", "squeue", "scontrol", "sinfo", "scancel", "srun"]
WORKFLOW_TIMEOUT = 240


def unavailable(reason: str):
    """Skip, or fail when SEEDCOMPARE_REQUIRE_SLURM=1 requires the SLURM tests to run."""
    if os.environ.get("SEEDCOMPARE_REQUIRE_SLURM") == "1":
        pytest.fail(f"{reason}; SEEDCOMPARE_REQUIRE_SLURM=1 requires the SLURM tests to run",
                    pytrace=False)
    pytest.skip(reason)


def tiny_demo_config() -> dict:
    """The end-to-end tests' tiny demo, in shards of 10 seeds."""
    config = test_workflow.tiny_demo_config()
    config["shard_size"] = 10
    return config


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def claim_slurm_conf():
    """Create /etc/slurm if needed and return whether it was created.

    Skips (or fails) when a slurm.conf of another installation, or of a running test, is there.
    """
    if SLURM_CONF.exists():
        first_line = SLURM_CONF.read_text(errors="replace").partition("\n")[0]
        if not first_line.startswith(CONF_MARKER):
            unavailable(f"{SLURM_CONF} exists and belongs to another SLURM installation; "
                        "this test does not replace it")
        owner = first_line[len(CONF_MARKER):].strip()
        if owner.isdigit() and pid_alive(int(owner)) and int(owner) != os.getpid():
            unavailable(f"another test cluster (pid {owner}) is using {SLURM_CONF}")
        # A test run that was killed left this file behind, so it can be replaced.
    created = not SLURM_CONF.parent.exists()
    SLURM_CONF.parent.mkdir(parents=True, exist_ok=True)
    return created


def node_hardware() -> dict[str, str]:
    """slurmd's own view of this machine: NodeName, CPUs, sockets, cores, RealMemory."""
    result = subprocess.run(["slurmd", "-C"], capture_output=True, text=True, timeout=30)
    if result.returncode != 0:
        unavailable(f"`slurmd -C` failed: {result.stderr.strip()}")
    first = result.stdout.splitlines()[0]
    return dict(field.split("=", 1) for field in first.split())


def slurm_conf_text(base: Path, hardware: dict[str, str]) -> str:
    node = hardware["NodeName"]
    # Below the detected memory, since slurmd drains a node that has less than configured.
    real_memory = int(int(hardware["RealMemory"]) * 0.9)
    shape = " ".join(f"{key}={hardware[key]}" for key in
                     ("CPUs", "Boards", "SocketsPerBoard", "CoresPerSocket", "ThreadsPerCore"))
    return "\n".join([
        f"{CONF_MARKER}{os.getpid()}",
        "ClusterName=seedcompare",
        f"SlurmctldHost={node}(127.0.0.1)",
        f"SlurmctldPort={free_port()}",
        f"SlurmdPort={free_port()}",
        "AuthType=auth/munge",
        "CredType=cred/munge",
        f"AuthInfo=socket={base}/munge/munge.socket",
        "SlurmUser=root",
        "SlurmdUser=root",
        f"StateSaveLocation={base}/state",
        f"SlurmdSpoolDir={base}/spool",
        f"SlurmctldPidFile={base}/slurmctld.pid",
        f"SlurmdPidFile={base}/slurmd.pid",
        f"SlurmctldLogFile={base}/log/slurmctld.log",
        f"SlurmdLogFile={base}/log/slurmd.log",
        # Neither cgroups nor an accounting database is needed, so this also runs in a container.
        "ProctrackType=proctrack/linuxproc",
        "TaskPlugin=task/none",
        "JobAcctGatherType=jobacct_gather/none",
        "AccountingStorageType=accounting_storage/none",
        "JobCompType=jobcomp/none",
        "MpiDefault=none",
        "SchedulerType=sched/backfill",
        # Memory is a consumable resource, so the rules' mem_mb requests take part in scheduling.
        "SelectType=select/cons_tres",
        "SelectTypeParameters=CR_Core_Memory",
        "ReturnToService=2",
        # A cancelled job gets SIGKILL 5 s after SIGTERM (default 30 s), so teardown is quick.
        "KillWait=5",
        # Finished jobs stay visible to squeue, which the plugin uses for status without sacct.
        "MinJobAge=600",
        f"NodeName={node} NodeAddr=127.0.0.1 {shape} RealMemory={real_memory} State=UNKNOWN",
        f"PartitionName=test Nodes={node} Default=YES MaxTime=INFINITE State=UP",
        "",
    ])


def client_env() -> dict[str, str]:
    """Return the environment for the SLURM commands and Snakemake.

    This interpreter's venv comes first on PATH, and sbatch passes PATH on to the jobs, so they
    run the same Snakemake. SLURM variables of the caller are dropped.
    """
    env = {key: value for key, value in os.environ.items()
           if not key.startswith(("SLURM_", "SBATCH_", "SRUN_", "SQUEUE_", "SALLOC_"))}
    env["SLURM_CONF"] = str(SLURM_CONF)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    return env


def tail(path: Path, lines: int = 30) -> str:
    if not path.exists():
        return f"({path} does not exist)"
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])


def step_daemons_running() -> bool:
    """Return whether a slurmstepd process (one per running job step) is alive."""
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            # The fields are "pid (comm) state ...". A zombie (state Z) has already ended.
            name, _, rest = stat.read_text().partition("(")[2].rpartition(")")
        except OSError:
            continue
        if name == "slurmstepd" and rest.split()[0] != "Z":
            return True
    return False


def wait_for(condition, timeout: float, interval: float = 0.5) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(interval)
    return False


class Cluster:
    """munged, slurmctld and slurmd for one node on 127.0.0.1, all files under ``base``."""

    def __init__(self, base: Path):
        self.base = base
        self.env = client_env()
        self.daemons: dict[str, subprocess.Popen] = {}

    def command(self, *args: str, timeout: float = 30) -> subprocess.CompletedProcess:
        return subprocess.run(list(args), capture_output=True, text=True, env=self.env,
                              timeout=timeout)

    def start_daemon(self, name: str, *args: str) -> None:
        log = open(self.base / "log" / f"{name}.out", "w")
        self.daemons[name] = subprocess.Popen([name, *args], stdout=log, stderr=subprocess.STDOUT,
                                              stdin=subprocess.DEVNULL, env=self.env,
                                              start_new_session=True)
        log.close()

    def exited(self) -> str | None:
        for name, process in self.daemons.items():
            if process.poll() is not None:
                return f"{name} exited with code {process.returncode}:\n" + self.logs(name)
        return None

    def logs(self, *names: str) -> str:
        names = names or tuple(self.daemons)
        parts = []
        for name in names:
            parts.append(f"--- {name} output\n" + tail(self.base / "log" / f"{name}.out"))
            if name != "munged":
                parts.append(f"--- {name} log\n" + tail(self.base / "log" / f"{name}.log"))
        return "\n".join(parts)

    def start(self, hardware: dict[str, str]) -> None:
        for folder in ("munge", "state", "spool", "log"):
            (self.base / folder).mkdir()
        # munged rejects a socket whose folders are not searchable by every user.
        self.base.chmod(0o755)
        key = self.base / "munge" / "munge.key"
        key.write_bytes(os.urandom(1024))
        key.chmod(0o600)
        socket_path = self.base / "munge" / "munge.socket"
        self.start_daemon("munged", "--foreground", f"--key-file={key}", f"--socket={socket_path}",
                          f"--pid-file={self.base}/munge/munged.pid",
                          f"--log-file={self.base}/log/munged.log",
                          f"--seed-file={self.base}/munge/munged.seed")
        if not wait_for(lambda: socket_path.exists() or self.exited(), 15) or self.exited():
            unavailable("munged did not start:\n" + self.logs("munged")
                        + "\n" + tail(self.base / "log" / "munged.log"))

        SLURM_CONF.write_text(slurm_conf_text(self.base, hardware))
        self.start_daemon("slurmctld", "-D", "-f", str(SLURM_CONF))
        self.start_daemon("slurmd", "-D", "-f", str(SLURM_CONF))

        def node_idle() -> bool:
            if self.exited():
                return True
            state = self.command("sinfo", "--noheader", "--Node", "--format=%T")
            return state.returncode == 0 and state.stdout.strip() == "idle"

        if not wait_for(node_idle, 60, 1.0) or self.exited():
            info = self.command("scontrol", "show", "node")
            unavailable("the SLURM node did not become idle:\n" + (self.exited() or "")
                        + info.stdout + info.stderr + "\n" + self.logs())

    def stop(self) -> None:
        if "slurmctld" in self.daemons and self.daemons["slurmctld"].poll() is None:
            jobs = self.command("squeue", "--noheader", "--format=%i")
            ids = jobs.stdout.split()
            if ids:
                self.command("scancel", *ids)
                wait_for(lambda: not self.command("squeue", "--noheader", "--format=%i",
                                                  "--states=RUNNING,COMPLETING").stdout.strip(),
                         20, 1.0)
                # slurmstepd outlives slurmd and kills a cancelled job's processes only after
                # KillWait. Any slurmstepd belongs to this cluster, because claim_slurm_conf
                # found no other SLURM configuration on this machine.
                wait_for(lambda: not step_daemons_running(), 20, 1.0)
        for name in reversed(list(self.daemons)):
            process = self.daemons[name]
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


@pytest.fixture(scope="module")
def cluster():
    missing = [tool for tool in DAEMONS + CLIENTS if shutil.which(tool) is None]
    if missing:
        unavailable("SLURM and munge are not installed (missing: " + ", ".join(missing)
                    + "); install Debian's slurm-wlm and munge")
    if importlib.util.find_spec("snakemake_executor_plugin_slurm") is None:
        unavailable("snakemake-executor-plugin-slurm is not installed in " + sys.prefix)
    if os.geteuid() != 0:
        unavailable("the test cluster's slurmd must run as root")
    hardware = node_hardware()
    created_etc = claim_slurm_conf()
    # Not under TMPDIR or pytest's folder: munged needs every folder above its socket to be
    # searchable by all users, as /tmp is.
    base = Path(tempfile.mkdtemp(prefix="seedcompare-slurm-", dir="/tmp"))
    test_cluster = Cluster(base)
    try:
        test_cluster.start(hardware)
        yield test_cluster
    finally:
        test_cluster.stop()
        if SLURM_CONF.exists() and SLURM_CONF.read_text(errors="replace").startswith(
                f"{CONF_MARKER}{os.getpid()}"):
            SLURM_CONF.unlink()
        if created_etc:
            shutil.rmtree(SLURM_CONF.parent, ignore_errors=True)
        shutil.rmtree(base, ignore_errors=True)


def snakemake_command(workdir: Path, profile: str, *extra: str) -> list[str]:
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(tiny_demo_config(), sort_keys=False))
    return [SNAKEMAKE, "--profile", str(REPO_ROOT / "profiles" / profile),
            "--snakefile", str(REPO_ROOT / "Snakefile"), "--directory", str(workdir),
            "--configfile", str(config_path), *extra]


@pytest.fixture(scope="module")
def runs(cluster, tmp_path_factory):
    """Run the tiny demo on the cluster and, meanwhile, locally.

    Returns the two work folders and the output of the SLURM run.
    """
    slurm_dir = tmp_path_factory.mktemp("slurm_run")
    local_dir = tmp_path_factory.mktemp("local_run")
    slurm_command = snakemake_command(
        slurm_dir, "slurm", "--jobs", "4",
        # The test cluster has no accounting database, so job states come from squeue and
        # jobs are submitted without an account.
        "--slurm-status-command", "squeue", "--slurm-no-account",
        "--slurm-init-seconds-before-status-checks", "1",
        "--slurm-keep-successful-logs", "--retries", "0")
    slurm_log = open(slurm_dir / "snakemake.out", "w")
    slurm_run = subprocess.Popen(slurm_command, stdout=slurm_log, stderr=subprocess.STDOUT,
                                 stdin=subprocess.DEVNULL, env=cluster.env, cwd=slurm_dir)
    slurm_log.close()
    try:
        local_run = subprocess.run(snakemake_command(local_dir, "workstation", "--cores", "2"),
                                   capture_output=True, text=True, env=cluster.env, cwd=local_dir,
                                   timeout=WORKFLOW_TIMEOUT)
        assert local_run.returncode == 0, local_run.stdout[-3000:] + local_run.stderr[-3000:]
        slurm_run.wait(timeout=WORKFLOW_TIMEOUT)
    finally:
        if slurm_run.poll() is None:
            # On SIGINT Snakemake cancels the SLURM jobs it submitted (on SIGTERM it would wait
            # for them), and Cluster.stop cancels any that are left.
            slurm_run.send_signal(signal.SIGINT)
            try:
                slurm_run.wait(timeout=30)
            except subprocess.TimeoutExpired:
                slurm_run.kill()
                slurm_run.wait()
    output = (slurm_dir / "snakemake.out").read_text(errors="replace")
    if slurm_run.returncode != 0:
        job_logs = sorted((slurm_dir / ".snakemake" / "slurm_logs").rglob("*.log"))
        details = "\n".join(f"--- {path}\n{tail(path, 15)}" for path in job_logs[-4:])
        pytest.fail(f"the SLURM run failed (exit {slurm_run.returncode}):\n{output[-5000:]}\n"
                    f"{details}\n{cluster.logs()}", pytrace=False)
    return slurm_dir, local_dir, output


def test_jobs_see_this_venv(cluster, tmp_path):
    """A batch job's PATH starts with the venv that runs pytest, so jobs run its Snakemake."""
    out = tmp_path / "job.out"
    result = cluster.command("sbatch", "--wait", "--parsable", "--mem=100", "--time=2",
                             f"--output={out}", "--wrap", "command -v snakemake; srun hostname",
                             timeout=90)
    assert result.returncode == 0, result.stdout + result.stderr + "\n" + tail(out)
    lines = out.read_text().split()
    assert lines[0] == SNAKEMAKE
    assert lines[1] == node_hardware()["NodeName"]


def test_every_job_went_through_slurm(runs, cluster):
    slurm_dir, _, output = runs
    submitted = re.findall(r"has been submitted with SLURM jobid (\d+)", output)
    assert submitted, output[-3000:]
    assert "localrule score_shard" not in output
    jobs = cluster.command("squeue", "--noheader", "--states=all", "--jobs", ",".join(submitted),
                           "--format=%i|%T|%m|%l")
    assert jobs.returncode == 0, jobs.stderr
    rows = [line.split("|") for line in jobs.stdout.split()]
    assert sorted(row[0] for row in rows) == sorted(submitted)
    for job_id, state, memory, time_limit in rows:
        assert state == "COMPLETED", jobs.stdout
        # Every rule sets mem_mb and runtime, so no job runs without both limits.
        assert memory not in ("0", "0M"), jobs.stdout
        assert time_limit not in ("UNLIMITED", "INVALID"), jobs.stdout
    # The plugin keeps one log per SLURM job, in a folder named after the rule or group.
    job_logs = {path.parent.relative_to(slurm_dir / ".snakemake" / "slurm_logs").parts[0]
                for path in (slurm_dir / ".snakemake" / "slurm_logs").rglob("*.log")}
    assert {"rule_make_demo", "rule_vectors", "rule_corpus", "rule_seeds"} <= job_logs
    # Scoring and tables of a shard share a job, and so do the summary, index and report.
    assert "group_shard_score_shard_tables" in job_logs
    assert "group_finish_index_report_summary" in job_logs
    for rule in ("make_demo", "vectors", "corpus", "seeds", "score_shard", "tables", "summary",
                 "index", "report"):
        logs = list((slurm_dir / "logs" / rule).glob("*.log"))
        assert logs and all("finished" in log.read_text() for log in logs), rule


def test_per_seed_and_aggregate_equal_local_run(runs):
    slurm_dir, local_dir, _ = runs
    for name in ("per_seed.parquet", "aggregate.parquet"):
        on_slurm = pd.read_parquet(slurm_dir / "results" / "summary" / name)
        local = pd.read_parquet(local_dir / "results" / "summary" / name)
        assert len(local) > 0
        pd.testing.assert_frame_equal(on_slurm, local, check_exact=True)


def test_scores_equal_local_run(runs):
    slurm_dir, local_dir, _ = runs
    shards = sorted(p.name for p in (local_dir / "results" / "scores").glob("shard-*.parquet"))
    assert len(shards) == 2
    assert sorted(p.name for p in (slurm_dir / "results" / "scores").glob("*.parquet")) == shards
    for name in shards:
        pd.testing.assert_frame_equal(pd.read_parquet(slurm_dir / "results" / "scores" / name),
                                      pd.read_parquet(local_dir / "results" / "scores" / name),
                                      check_exact=True)


def test_tables_and_pages_equal_local_run(runs):
    slurm_dir, local_dir, _ = runs
    local_tables = sorted((local_dir / "results" / "tables").glob("*.html"))
    assert len(local_tables) == 20
    assert sorted(p.name for p in (slurm_dir / "results" / "tables").glob("*.html")) == \
        [p.name for p in local_tables]
    for path in local_tables:
        assert (slurm_dir / "results" / "tables" / path.name).read_bytes() == path.read_bytes()
    for page in ("index.html", "report.html"):
        assert (slurm_dir / "results" / page).read_bytes() == \
            (local_dir / "results" / page).read_bytes(), page
