"""Issue 12's server benchmark: tiercache-server against memcached and redis-server, one run.

    python benchmarks/server/bench.py [--seconds 4] [--rounds 4] [--out benchmarks/results]
    make bench-server                       (the same, after building what it needs)
    tiercache bench --server [options]      (the same, from a source checkout)

Every server runs on this machine on a loopback TCP port with the same worker threads (redis:
its single event loop; its io-threads stay at the default of 1) and is measured by the same
client, benchmarks/server/loadgen.c: closed loop, --client-threads threads x --conns
connections, one request in flight per connection, 1 set for every 10 gets, every key set once
before measuring. memcached and tiercache-server get the memcached text protocol, redis RESP.

The server and the load generator each get half of the CPUs by default (server -t and client
threads = CPUs / 2): with more runnable threads than CPUs, p99 measures the kernel's scheduler
(a worker preempted for a time slice holds up all its connections) more than the server. Part 1
also runs that oversubscribed setup (server and client threads = CPUs each), for information.
Each figure is the median of --rounds rounds; the servers take turns in a rotating order, and a
row also says in how many rounds tiercache-server beat memcached run next to it.

Part 1, all in DRAM: uniform keys, 100 B and 4 KiB values, each server with the same memory.
Part 2, data 8x the DRAM budget: 4 KiB values on a Zipf(0.99) key distribution, the data on a
file tier in a temporary directory on /dev/shm: tiercache-server at several DRAM shares (and
all in DRAM), memcached with extstore (-o ext_path=) and memcached with -e (item memory in a
file) in the same directory.

Prints a table with ratios against the peers of the same run, checks the issue's targets and
writes server.txt, server.json and server.png (ops/s and p99 against the DRAM share) to --out.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LOADGEN = ROOT / "build/bench/loadgen"
SERVER = ROOT / "native/build/bin/tiercache-server"

_lines: list[str] = []


def say(text: str = "") -> None:
    print(text, flush=True)
    _lines.append(text)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def loadavg() -> float:
    return os.getloadavg()[0]


class Proc:
    """A server process on a loopback port, stopped with SIGTERM."""

    def __init__(self, name: str, cmd: list[str], port: int, proto: str) -> None:
        self.name, self.port, self.proto = name, port, proto
        self.proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        self._wait_ready(cmd)

    def _wait_ready(self, cmd: list[str]) -> None:
        probe = b"version\r\n" if self.proto == "memcache" else b"PING\r\n"
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"{self.name} exited ({' '.join(cmd)}): {err.strip()}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=2) as s:
                    s.sendall(probe)
                    if s.recv(100):
                        return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"{self.name} did not start: {' '.join(cmd)}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.proc.stderr:
            self.proc.stderr.close()


def memcached_cmd(port: int, threads: int, mb: int, extra: list[str]) -> list[str]:
    cmd = ["memcached", "-U", "0", "-l", "127.0.0.1", "-p", str(port), "-t", str(threads)]
    cmd += ["-m", str(mb), "-c", "4096", *extra]
    if os.geteuid() == 0:
        cmd += ["-u", "root"]
    return cmd


def start(kind: str, a: argparse.Namespace, mb: int, extra: list[str] | None = None) -> Proc:
    port = free_port()
    extra = list(extra or [])
    if kind == "tiercache":
        cmd = [str(a.server), "-p", str(port), "-t", str(a.server_threads), "-m", str(mb)]
        return Proc(kind, [*cmd, "-c", "4096", *extra], port, "memcache")
    if kind == "memcached":
        return Proc(kind, memcached_cmd(port, a.server_threads, mb, extra), port, "memcache")
    if kind == "redis":
        cmd = ["redis-server", "--port", str(port), "--bind", "127.0.0.1", "--save", "",
               "--appendonly", "no", "--maxmemory", f"{mb}mb", "--maxmemory-policy",
               "allkeys-lru", "--protected-mode", "no"]  # fmt: skip
        return Proc(kind, cmd + extra, port, "resp")
    raise ValueError(kind)


def measure(p: Proc, a: argparse.Namespace, keys: int, vsize: int, dist: str) -> dict:
    cmd = [str(a.loadgen), "--proto", p.proto, "--port", str(p.port), "--threads",
           str(a.client_threads), "--conns", str(a.conns), "--seconds", str(a.seconds),
           "--warmup", str(a.warmup), "--keys", str(keys), "--value-size", str(vsize),
           "--set-ratio", "10", "--dist", dist, "--prefill"]  # fmt: skip
    load_before = loadavg()
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=600, check=False)
    if out.returncode != 0:
        raise RuntimeError(f"loadgen failed on {p.name}: {out.stderr.strip()} {out.stdout}")
    r = json.loads(out.stdout)
    r["load_before"] = round(load_before, 2)
    r["load_after"] = round(loadavg(), 2)
    return r


def median_run(rs: list[dict]) -> dict:
    """The median of each figure over rounds (ops/s, p50, p99 and hits on their own)."""
    out = dict(rs[0])
    for k in ("ops_per_sec", "p50_us", "p99_us", "hits", "gets", "load_before"):
        out[k] = statistics.median(r[k] for r in rs)
    out["rounds"] = rs
    return out


def wins(r: dict, ref: dict) -> str:
    """In how many rounds r beat ref run next to it, in ops/s and in p99."""
    pairs = list(zip(r["rounds"], ref["rounds"]))
    ops = sum(x["ops_per_sec"] > y["ops_per_sec"] for x, y in pairs)
    p99 = sum(x["p99_us"] < y["p99_us"] for x, y in pairs)
    return f"  (more ops/s in {ops}/{len(pairs)} rounds, lower p99 in {p99}/{len(pairs)})"


def row(label: str, r: dict, ref: dict | None, ref_name: str, paired: bool = False) -> str:
    text = (f"  {label:<34} {r['ops_per_sec']:>10,.0f} {r['p50_us']:>9.0f} {r['p99_us']:>9.0f}"
            f"  hits {r['hits'] / max(1, r['gets']):>6.1%}")  # fmt: skip
    if ref is not None and ref is not r:
        text += (f"  ops x{r['ops_per_sec'] / ref['ops_per_sec']:.2f}"
                 f" p99 x{r['p99_us'] / ref['p99_us']:.2f} vs {ref_name}")  # fmt: skip
        if paired:
            text += wins(r, ref)
    return text + f"  (load {r['load_before']:.1f})"


HEADER = f"  {'server':<34} {'ops/s':>10} {'p50 us':>9} {'p99 us':>9}"


def part_dram(a: argparse.Namespace, results: dict) -> None:
    every_kind = ["tiercache", "memcached", "redis"]
    setups = [("", a.server_threads, a.client_threads, a.conns, every_kind)]
    cpus = os.cpu_count() or 1
    if a.oversubscribed and a.server_threads + a.client_threads <= cpus:
        conns = a.conns * a.client_threads // cpus or 1  # the same connections in all
        setups.append((" oversubscribed", cpus, cpus, conns, ["tiercache", "memcached"]))
    for tag, server_threads, client_threads, conns, kinds in setups:
        say(f"== Part 1{tag}: all in DRAM ({a.dram_all_mb} MiB each), uniform keys, 1:10 set:get;"
            f" server -t {server_threads}, {client_threads} client threads x {conns}"
            f" connections; median of {a.rounds} rounds, rotating order")  # fmt: skip
        if tag:
            say("   (information: more runnable threads than CPUs; not what the targets check)")
        threads = {"server_threads": server_threads, "client_threads": client_threads}
        run_a = argparse.Namespace(**{**vars(a), **threads, "conns": conns})
        for vsize, keys in ((100, a.keys_small), (4096, a.keys_large)):
            say(f"-- {vsize} B values, {keys:,} keys ({keys * vsize / 2**20:.0f} MiB of values)")
            say(HEADER)
            every: dict[str, list[dict]] = {k: [] for k in kinds}
            for rnd in range(a.rounds):  # the order rotates between rounds
                for kind in kinds[rnd % len(kinds) :] + kinds[: rnd % len(kinds)]:
                    p = start(kind, run_a, a.dram_all_mb)
                    try:
                        every[kind].append(measure(p, run_a, keys, vsize, "uniform"))
                    finally:
                        p.stop()
            runs: dict[str, dict] = {}
            for kind in kinds:
                runs[kind] = median_run(every[kind])
                tool = "loadgen (RESP)" if kind == "redis" else "loadgen (memcached text)"
                runs[kind]["tool"] = tool
            for kind, r in runs.items():
                say(row(kind, r, runs["memcached"], "memcached", paired=True))
            results["dram" + tag.replace(" ", "_")][f"{vsize}"] = runs


def part_tiered(a: argparse.Namespace, results: dict, scratch: Path) -> None:
    vsize, data_mb = 4096, a.data_mb
    keys = data_mb * 2**20 // vsize
    dram_mb = data_mb // 8
    file_mb = data_mb * 3 // 2  # room for the whole data set plus headers
    say(f"== Part 2: {data_mb} MiB of 4 KiB values ({keys:,} keys), Zipf 0.99, 1:10 set:get;"
        f" DRAM budget {dram_mb} MiB = 1/8 of the data; file tier in {scratch};"
        f" median of {a.rounds} rounds, rotating order")  # fmt: skip
    say(HEADER)
    # (label, server, memory MiB, extra arguments, DRAM share)
    configs: list[tuple[str, str, int, list[str], float]] = []
    for share in a.shares:
        if share >= 1:  # all in DRAM: room for the data and its headers, no file tier
            configs.append(("tiercache all-DRAM", "tiercache", data_mb * 3 // 2, [], 1.0))
        else:
            extra = ["--pmem-dir", str(scratch / f"tc-{share}"), "--pmem-mb", str(file_mb)]
            label = f"tiercache DRAM {share:g} + file"
            configs.append((label, "tiercache", max(1, int(data_mb * share)), extra, share))
    configs += [
        ("memcached all-DRAM", "memcached", data_mb * 2, [], 1.0),
        # extstore: values of 4 KiB (over ext_item_size, 512) go to the file; 8 MiB pages
        # rather than the default 64 so that small runs have pages enough to rotate
        (
            "memcached extstore",
            "memcached",
            dram_mb,
            ["-o", f"ext_page_size=8,ext_path={scratch}/extstore:{file_mb}m"],
            dram_mb / data_mb,
        ),
        # -e: all item memory in a file (-m is then the file's size; slab classes round 4 KiB
        # items up, so it gets twice the data)
        (
            "memcached -e (items in a file)",
            "memcached",
            data_mb * 2,
            ["-e", f"{scratch}/memcached.mem"],
            0.0,
        ),
    ]
    every: dict[str, list[dict]] = {c[0]: [] for c in configs}
    failed: set[str] = set()
    for rnd in range(a.rounds):  # the order rotates between rounds
        k = rnd * len(configs) // a.rounds
        for label, kind, mb, extra, share in configs[k:] + configs[:k]:
            if label in failed:
                continue
            for arg in extra:
                if arg.startswith(str(scratch / "tc-")):
                    shutil.rmtree(arg, ignore_errors=True)
                    Path(arg).mkdir()
            try:
                p = start(kind, a, mb, extra)
            except RuntimeError as exc:
                say(f"  {label}: not run: {exc}")
                results["notes"].append(f"{label}: not run: {exc}")
                failed.add(label)
                continue
            try:
                r = measure(p, a, keys, vsize, "zipf")
            finally:
                p.stop()
            r.update(dram_share=min(1.0, share), dram_mb=mb, server=kind, args=extra)
            every[label].append(r)
    runs: dict[str, dict] = {}
    for label, rs in every.items():
        if rs:
            runs[label] = median_run(rs)
    ours = runs.get("tiercache all-DRAM")
    for label, r in runs.items():
        ref_name = "tiercache all-DRAM" if label.startswith("tiercache") else "memcached all-DRAM"
        say(row(label, r, runs.get(ref_name), ref_name))
    results["tiered"] = {"data_mb": data_mb, "dram_mb": dram_mb, "file_mb": file_mb,
                         "keys": keys, "value_size": vsize, "runs": runs}  # fmt: skip
    if ours is not None:
        results["tiered"]["ours_all_dram"] = "tiercache all-DRAM"


def targets(results: dict) -> None:
    say("== Targets (issue 12)")
    for vsize, runs in results["dram"].items():
        t, m = runs["tiercache"], runs["memcached"]
        ok = t["ops_per_sec"] >= m["ops_per_sec"] and t["p99_us"] <= m["p99_us"]
        say(f"  all-DRAM {vsize} B: ops/s x{t['ops_per_sec'] / m['ops_per_sec']:.2f}, "
            f"p99 x{t['p99_us'] / m['p99_us']:.2f} of memcached's: "
            f"{'MET' if ok else 'NOT MET'} (target: ops/s >= 1.00x, p99 <= 1.00x)")  # fmt: skip
    for vsize, runs in results["dram_oversubscribed"].items():
        t, m = runs["tiercache"], runs["memcached"]
        say(f"  (information) oversubscribed all-DRAM {vsize} B: ops/s "
            f"x{t['ops_per_sec'] / m['ops_per_sec']:.2f}, p99 x{t['p99_us'] / m['p99_us']:.2f}"
            " of memcached's")  # fmt: skip
    tiered = results.get("tiered", {}).get("runs", {})
    ours = tiered.get("tiercache all-DRAM")
    eighth = [r for k, r in tiered.items() if k.startswith("tiercache DRAM 0.125")]
    if ours and eighth:
        ratio = eighth[0]["ops_per_sec"] / ours["ops_per_sec"]
        say(f"  data 8x DRAM (DRAM share 1/8) on the file tier: x{ratio:.2f} of our all-DRAM ops/s:"
            f" {'MET' if ratio >= 0.9 else 'NOT MET'} (target >= 0.90x)")  # fmt: skip


def plot(results: dict, path: Path) -> None:
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        say("  (no plot: matplotlib is not installed; pip install 'tiercache[bench]')")
        return
    runs = results["tiered"]["runs"]
    fig, (ax1, ax2) = plt.subplots(1, 2, figsize=(10, 4))
    ours = sorted((r for r in runs.values() if r["server"] == "tiercache"),
                  key=lambda r: r["dram_share"])  # fmt: skip
    xs = [r["dram_share"] for r in ours]
    ax1.plot(xs, [r["ops_per_sec"] for r in ours], "o-", label="tiercache-server")
    ax2.plot(xs, [r["p99_us"] for r in ours], "o-", label="tiercache-server")
    for label, r in runs.items():
        if r["server"] == "memcached":
            label = f"{label}, {r['hits'] / max(1, r['gets']):.0%} hits"
            ax1.plot([r["dram_share"]], [r["ops_per_sec"]], "s", label=label)
            ax2.plot([r["dram_share"]], [r["p99_us"]], "s", label=label)
    ax1.set(xlabel="DRAM share of the data", ylabel="ops/s", title="throughput (1:10 set:get)")
    ax2.set(xlabel="DRAM share of the data", ylabel="p99 latency (us)", title="p99 latency")
    ax1.set_ylim(bottom=0)
    ax2.set_ylim(bottom=0)
    ax2.legend(fontsize=7)
    t = results["tiered"]
    title = (f"tiercache-server, {t['data_mb']} MiB of 4 KiB values, Zipf 0.99, "
             f"file tier on /dev/shm (load avg {results['load_start']:.1f})")  # fmt: skip
    fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    say(f"  plot: {path}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(
        prog="benchmarks/server/bench.py", description=__doc__.split("\n")[0]
    )
    ap.add_argument("--seconds", type=float, default=4.0, help="measured seconds per run (4)")
    ap.add_argument("--warmup", type=float, default=1.0, help="unmeasured seconds first (1)")
    half = max(1, (os.cpu_count() or 2) // 2)
    ap.add_argument("--client-threads", type=int, default=half,
                    help=f"load generator threads (half the CPUs: {half})")  # fmt: skip
    ap.add_argument("--conns", type=int, default=max(1, 50 // half),
                    help="connections per client thread (50 in all)")  # fmt: skip
    ap.add_argument("--server-threads", type=int, default=half,
                    help=f"-t of each server (half the CPUs: {half})")  # fmt: skip
    ap.add_argument("--no-oversubscribed", dest="oversubscribed", action="store_false",
                    help="skip part 1's run with server and client threads = CPUs")  # fmt: skip
    ap.add_argument("--dram-all-mb", type=int, default=256, help="memory of part 1's servers")
    ap.add_argument("--rounds", type=int, default=4, help="rounds; each figure is their median (4)")
    ap.add_argument("--keys-small", type=int, default=100_000, help="part 1 keys, 100 B values")
    ap.add_argument("--keys-large", type=int, default=20_000, help="part 1 keys, 4 KiB values")
    ap.add_argument("--data-mb", type=int, default=256, help="part 2's data (DRAM gets 1/8)")
    ap.add_argument("--shares", default="1,0.5,0.25,0.125", help="part 2's DRAM shares")
    ap.add_argument("--parts", default="dram,tiered", help="which parts to run")
    ap.add_argument("--scratch", default="/dev/shm", help="where the file tiers go (/dev/shm)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks/results"), help="results folder")
    ap.add_argument("--server", default=os.environ.get("TIERCACHE_SERVER", str(SERVER)))
    ap.add_argument("--loadgen", default=str(LOADGEN))
    a = ap.parse_args(argv)
    a.shares = [float(x) for x in a.shares.split(",")]
    parts = set(a.parts.split(","))
    for need, hint in (
        (a.server, "make -C native server"),
        (a.loadgen, "make -C benchmarks/server"),
    ):
        if not os.access(need, os.X_OK):
            print(f"bench.py: {need} is not built ({hint})", file=sys.stderr)
            return 1
    for exe in ("memcached", "redis-server"):
        if not shutil.which(exe):
            print(f"bench.py: {exe} is not installed (scripts/bootstrap.sh)", file=sys.stderr)
            return 1
    mc_version = subprocess.run(["memcached", "-V"], capture_output=True, text=True).stdout.strip()
    rd_version = subprocess.run(
        ["redis-server", "-v"], capture_output=True, text=True
    ).stdout.strip()
    results: dict = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
        "load_start": loadavg(), "memcached": mc_version, "redis": rd_version,
        "settings": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(a).items()},
        "measured_by": "benchmarks/server/loadgen.c for every server (memcached text protocol "
        "for tiercache-server and memcached, RESP for redis-server)",
        "dram": {}, "dram_oversubscribed": {}, "notes": [],
    }  # fmt: skip
    say(f"tiercache-server benchmark: {a.client_threads} client threads x {a.conns} connections,"
        f" {a.server_threads} server threads each (redis: 1 event loop), {a.rounds} rounds of"
        f" {a.seconds:g} s per run"
        f" after {a.warmup:g} s warm-up; {os.cpu_count()} CPUs, load average"
        f" {results['load_start']:.2f} at the start")  # fmt: skip
    say(f"peers: {mc_version}; {rd_version.split(' sha=')[0]}; every figure from the same"
        " loadgen (benchmarks/server/loadgen.c), memcached text for tiercache-server and"
        " memcached, RESP for redis")  # fmt: skip
    t0 = time.monotonic()
    if "dram" in parts:
        part_dram(a, results)
    if "tiered" in parts:
        scratch = Path(tempfile.mkdtemp(prefix="tc-server-bench-", dir=a.scratch))
        try:
            part_tiered(a, results, scratch)
        finally:
            shutil.rmtree(scratch, ignore_errors=True)
    targets(results)
    results["load_end"] = loadavg()
    results["seconds"] = round(time.monotonic() - t0, 1)
    say(f"== {results['seconds']:.0f} s; load average {results['load_end']:.2f} at the end")
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    if "tiered" in results:
        plot(results, out / "server.png")
    (out / "server.json").write_text(json.dumps(results, indent=1) + "\n")
    (out / "server.txt").write_text("\n".join(_lines) + "\n")
    print(f"results: {out / 'server.txt'}, {out / 'server.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
