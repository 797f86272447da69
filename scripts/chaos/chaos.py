#!/usr/bin/env python3
"""Fault-injection suite for a Reel farm: real `reel` processes, real sockets, a real SQLite
journal, real FFmpeg output. Each trial renders one job while a fault is injected, then checks:

  * the job completes (`reel submit --wait` exits 0 and writes the film);
  * its frames equal a fault-free render of the same request (per-frame MD5);
  * no finished segment was rendered again (no attempt of a segment starts after its success);
  * no segment is counted twice (exactly one succeeded attempt per segment, all segments done);
  * the journal passes SQLite's integrity check.

Fault kinds (--kinds):
  worker       kill -9 a random worker at a random moment (then start a replacement)
  coordinator  kill -9 the coordinator at a random moment (often mid-write) and restart it
  partition    cut the network between the coordinator and a worker in its own network namespace
               (ip netns + veth) while it renders, then heal: its late result must be refused
  slow         a worker slower than its lease: its attempts expire, its late results are refused
  diskfull     the state directory on a small tmpfs that is filled up mid-job: the job pauses
               without harm and carries on when the space is back

Needs root for partition and diskfull (namespaces, mounts); those kinds are skipped with a note
otherwise. Run through scripts/chaos/run.sh, which builds `reel` first.
"""
import argparse
import hashlib
import json
import os
import random
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

PROMPT = "a red ball rolls left on green grass"
REQUEST = ["--duration", "6", "--steps", "4", "--seed", "9", "--preset", "ultrafast"]
HEARTBEAT = "0.2"
LIVENESS = "5"


class TrialFailure(Exception):
    pass


def free_port():
    return random.randint(20000, 60000)


class Farm:
    """A coordinator, its workers and a waiting `reel submit`, all as separate processes."""

    def __init__(self, reel, folder, lease=30, max_failures=3, bind_host="127.0.0.1", keys=None):
        self.reel, self.folder = reel, folder
        self.state = os.path.join(folder, "state")
        self.zmq_port, self.http_port = free_port(), free_port()
        self.bind_host = bind_host
        self.url = f"http://127.0.0.1:{self.http_port}"
        self.keys = keys
        self.coordinator_args = [reel, "coordinator", "--bind", f"tcp://{bind_host}:{self.zmq_port}",
                                 "--http", f"127.0.0.1:{self.http_port}", "--state", self.state,
                                 "--heartbeat", HEARTBEAT, "--liveness", LIVENESS, "--lease", str(lease),
                                 "--max-failures", str(max_failures)]
        if keys:
            self.coordinator_args += ["--key", keys["coordinator"], "--authorized-keys", keys["authorized"]]
        self.coordinator = None
        self.coordinator_runs = 0
        self.workers = {}
        self.submit = None
        self.film = os.path.join(folder, "film.mp4")

    def _spawn(self, args, log, prefix=()):
        handle = open(os.path.join(self.folder, log), "ab")
        return subprocess.Popen(list(prefix) + args, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True)

    def start_coordinator(self):
        self.coordinator_runs += 1
        self.coordinator = self._spawn(self.coordinator_args, f"coordinator-{self.coordinator_runs}.log")

    def start_worker(self, name, delay=0.0, netns=None, host=None):
        args = [self.reel, "worker", "--connect", f"tcp://{host or self.bind_host}:{self.zmq_port}", "--threads", "1",
                "--name", name, "--heartbeat", HEARTBEAT]
        if self.keys:
            args += ["--key", self.keys["worker"], "--coordinator-key", self.keys["coordinator_pub"]]
        if delay:
            args += ["--fault-delay", str(delay)]
        prefix = ["ip", "netns", "exec", netns] if netns else []
        self.workers[name] = self._spawn(args, f"worker-{name}.log", prefix)

    def start_submit(self):
        args = [self.reel, "submit", "--coordinator", self.url, PROMPT, *REQUEST, "--wait", "--out", self.film]
        self.submit = self._spawn(args, "submit.log")

    def farm_state(self):
        try:
            with urllib.request.urlopen(self.url + "/v1/farm", timeout=2) as response:
                return json.load(response)
        except (urllib.error.URLError, OSError, ValueError):
            return None

    def job(self):
        state = self.farm_state()
        jobs = (state or {}).get("jobs") or []
        return jobs[0] if jobs else None

    def wait_ready(self, timeout=120):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.farm_state() is not None:
                return
            time.sleep(0.1)
        raise TrialFailure("the coordinator's HTTP API did not come up")

    def wait_until(self, what, condition, timeout=240):
        deadline = time.time() + timeout
        while time.time() < deadline:
            job = self.job()
            if job is not None and condition(job):
                return job
            if self.submit and self.submit.poll() is not None:
                return None
            time.sleep(0.05)
        raise TrialFailure(f"timed out waiting for {what}")

    def kill(self, process):
        if process and process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()

    def stop_all(self):
        for process in [self.submit, self.coordinator, *self.workers.values()]:
            if process and process.poll() is None:
                try:
                    os.killpg(process.pid, signal.SIGTERM)
                    process.wait(timeout=10)
                except (subprocess.TimeoutExpired, ProcessLookupError):
                    self.kill(process)


def frame_md5s(path):
    output = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "framemd5", "-"], capture_output=True, text=True, check=True).stdout
    return [line.split(",")[-1].strip() for line in output.splitlines() if line and not line.startswith("#")]


def journal_checks(state):
    """(segments, succeeded attempts, recomputed, counted twice, stale events, expired attempts, integrity)."""
    db = sqlite3.connect(f"file:{os.path.join(state, 'journal.sqlite')}?mode=ro", uri=True)
    try:
        integrity = db.execute("PRAGMA integrity_check").fetchone()[0]
        segments = db.execute("SELECT id, state FROM segments").fetchall()
        succeeded = db.execute("SELECT segment, COUNT(*) FROM attempts WHERE state = 'succeeded' GROUP BY segment").fetchall()
        twice = sum(1 for _, n in succeeded if n > 1)
        recomputed = db.execute("""
            SELECT COUNT(*) FROM attempts a JOIN attempts s
              ON a.job = s.job AND a.segment = s.segment AND s.state = 'succeeded' AND a.id != s.id
             WHERE a.started > s.ended""").fetchone()[0]
        stale = db.execute("SELECT COUNT(*) FROM events WHERE kind = 'stale-result'").fetchone()[0]
        expired = db.execute("SELECT COUNT(*) FROM attempts WHERE state = 'expired'").fetchone()[0]
        not_done = sum(1 for _, s in segments if s != "done")
        return {"segments": len(segments), "not_done": not_done, "succeeded": sum(n for _, n in succeeded),
                "twice": twice, "recomputed": recomputed, "stale": stale, "expired": expired, "integrity": integrity}
    finally:
        db.close()


# ----------------------------------------------------------------------------------------- faults

def random_progress(farm, rng, spare):
    """A random number of finished segments to wait for, leaving `spare` still to do."""
    job = farm.wait_until("the job to be planned", lambda j: True)
    total = job["segmentsTotal"] if job else 1
    return rng.randint(0, max(0, total - spare))


def fault_worker(farm, rng, note):
    kills = 0
    for _ in range(rng.randint(1, 2)):
        target = random_progress(farm, rng, spare=2)
        job = farm.wait_until("a segment in progress", lambda j: j["segmentsDone"] >= target)
        if job is None or job["state"] in ("done", "stitching"):
            break
        time.sleep(rng.uniform(0, 0.8))
        victim = rng.choice(sorted(farm.workers))
        farm.kill(farm.workers[victim])
        kills += 1
        farm.start_worker(f"{victim}r{kills}")
    note["faults"] = kills


def fault_coordinator(farm, rng, note):
    kills = 0
    for _ in range(rng.randint(1, 3)):
        target = random_progress(farm, rng, spare=1)
        job = farm.wait_until("progress", lambda j: j["segmentsDone"] >= target)
        if job is None:
            break
        time.sleep(rng.uniform(0, 0.5))
        farm.kill(farm.coordinator)
        kills += 1
        time.sleep(rng.uniform(0.1, 1.0))
        farm.start_coordinator()
        farm.wait_ready()
    note["faults"] = kills


def fault_slow(farm, rng, note):
    # The slow worker (started by the trial) takes 9 s or more per segment against a 6 s lease.
    farm.wait_until("the job to finish", lambda j: j["state"] == "done" and j["filmReady"], timeout=600)
    note["faults"] = 1


def fault_partition(farm, rng, note, netns, veth_root):
    """Cut the veth while the namespaced worker holds a segment, longer than the liveness bound."""
    job = farm.wait_until("the isolated worker to hold a segment",
                          lambda j: any(s.get("worker") == "isolated" and s["state"] == "leased" for s in j["segments"]))
    if job is None:
        note["faults"] = 0
        return
    subprocess.run(["ip", "link", "set", veth_root, "down"], check=True)
    time.sleep(float(HEARTBEAT) * int(LIVENESS) + 3.0)   # dead by then, its segment requeued; it finishes in the dark
    subprocess.run(["ip", "link", "set", veth_root, "up"], check=True)
    note["faults"] = 1


def fault_diskfull(farm, rng, note):
    job = farm.wait_until("a first segment", lambda j: j["segmentsDone"] >= 1)
    if job is None:
        note["faults"] = 0
        return
    filler = os.path.join(farm.state, "filler")
    with open(filler, "wb") as f:
        try:
            while True:
                f.write(b"\0" * (1 << 20))
                f.flush()
        except OSError:
            pass
    paused = farm.wait_until("the job to pause on the full disk", lambda j: j["state"] == "paused" or j["state"] == "done", timeout=120)
    note["paused"] = bool(paused and paused["state"] == "paused")
    time.sleep(1.0)
    os.remove(filler)
    note["faults"] = 1


# ----------------------------------------------------------------------------------------- trials

def make_keys(reel, folder):
    keys = os.path.join(folder, "keys")
    authorized = os.path.join(keys, "authorized")
    os.makedirs(authorized)
    subprocess.run([reel, "keys", "generate", "--name", "coordinator", "--out", keys], check=True, capture_output=True)
    subprocess.run([reel, "keys", "generate", "--name", "worker", "--out", authorized], check=True, capture_output=True)
    return {"coordinator": os.path.join(keys, "coordinator.key"), "coordinator_pub": os.path.join(keys, "coordinator.pub"),
            "authorized": authorized, "worker": os.path.join(authorized, "worker.key")}


def run_trial(reel, kind, trial, seed, reference, keep):
    rng = random.Random(seed)
    folder = tempfile.mkdtemp(prefix=f"reel-chaos-{kind}-{trial}-")
    note = {"kind": kind, "trial": trial, "seed": seed, "faults": 0}
    netns = veth_root = mounted = None
    farm = None
    try:
        if kind == "partition":
            index = 10 + trial % 200
            netns, veth_root, veth_ns = f"reelchaos{index}", f"rc{index}a", f"rc{index}b"
            root_ip, ns_ip = f"10.213.{index}.1", f"10.213.{index}.2"
            for cmd in (["ip", "netns", "add", netns], ["ip", "link", "add", veth_root, "type", "veth", "peer", "name", veth_ns],
                        ["ip", "link", "set", veth_ns, "netns", netns], ["ip", "addr", "add", f"{root_ip}/24", "dev", veth_root],
                        ["ip", "link", "set", veth_root, "up"], ["ip", "netns", "exec", netns, "ip", "addr", "add", f"{ns_ip}/24", "dev", veth_ns],
                        ["ip", "netns", "exec", netns, "ip", "link", "set", veth_ns, "up"],
                        ["ip", "netns", "exec", netns, "ip", "link", "set", "lo", "up"]):
                subprocess.run(cmd, check=True, capture_output=True)
            farm = Farm(reel, folder, bind_host=root_ip, keys=make_keys(reel, folder))
        elif kind == "slow":
            farm = Farm(reel, folder, lease=6, max_failures=6)
        elif kind == "diskfull":
            farm = Farm(reel, folder)
            os.makedirs(farm.state)
            subprocess.run(["mount", "-t", "tmpfs", "-o", "size=48m", "tmpfs", farm.state], check=True, capture_output=True)
            mounted = farm.state
        else:
            farm = Farm(reel, folder)

        farm.start_coordinator()
        farm.wait_ready()
        if kind == "partition":
            farm.start_worker("isolated", delay=2.0, netns=netns)
            farm.start_worker("w1")
        elif kind == "slow":
            farm.start_worker("slow", delay=9.0)
            farm.start_worker("w1")
        else:
            farm.start_worker("w0")
            farm.start_worker("w1")
        farm.start_submit()

        if kind == "worker":
            fault_worker(farm, rng, note)
        elif kind == "coordinator":
            fault_coordinator(farm, rng, note)
        elif kind == "slow":
            fault_slow(farm, rng, note)
        elif kind == "partition":
            fault_partition(farm, rng, note, netns, veth_root)
        elif kind == "diskfull":
            fault_diskfull(farm, rng, note)

        try:
            farm.submit.wait(timeout=600)
        except subprocess.TimeoutExpired:
            raise TrialFailure("reel submit --wait did not finish in 600 s")
        note["completed"] = farm.submit.returncode == 0 and os.path.exists(farm.film)
        note["identical"] = note["completed"] and frame_md5s(farm.film) == reference
        farm.stop_all()
        note.update(journal_checks(farm.state))
    except TrialFailure as error:
        note["completed"], note["identical"], note["error"] = False, False, str(error)
    finally:
        if farm:
            farm.stop_all()
        if mounted:
            subprocess.run(["umount", "-l", mounted], capture_output=True)
        if netns:
            subprocess.run(["ip", "link", "del", veth_root], capture_output=True)
            subprocess.run(["ip", "netns", "del", netns], capture_output=True)
        ok = (note.get("completed") and note.get("identical") and note.get("recomputed", 1) == 0
              and note.get("twice", 1) == 0 and note.get("not_done", 1) == 0 and note.get("integrity") == "ok")
        if kind == "partition" and note.get("faults"):
            ok = ok and note.get("stale", 0) >= 1
        if kind == "diskfull" and note.get("faults"):
            ok = ok and note.get("paused", False)
        note["ok"] = bool(ok)
        if ok and not keep:
            shutil.rmtree(folder, ignore_errors=True)
        else:
            note["folder"] = folder
    return note


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reel", required=True, help="the reel executable")
    parser.add_argument("--kinds", default="worker,coordinator,partition,slow,diskfull")
    parser.add_argument("--trials", type=int, default=3, help="trials per kind")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--keep", action="store_true", help="keep every trial's folder (failed ones are always kept)")
    parser.add_argument("--json", help="also write the per-trial results here")
    args = parser.parse_args()
    reel = os.path.abspath(args.reel)
    kinds = [k for k in args.kinds.split(",") if k]
    unknown = set(kinds) - {"worker", "coordinator", "partition", "slow", "diskfull"}
    if unknown:
        parser.error(f"unknown kinds {sorted(unknown)}")
    if os.geteuid() != 0:
        for kind in ("partition", "diskfull"):
            if kind in kinds:
                print(f"chaos: skipping {kind}: it needs root (network namespaces, tmpfs mounts)")
                kinds.remove(kind)

    reference_folder = tempfile.mkdtemp(prefix="reel-chaos-reference-")
    print("chaos: rendering the fault-free reference ...", flush=True)
    reference_film = os.path.join(reference_folder, "reference.mp4")
    subprocess.run([reel, "render", PROMPT, *REQUEST, "--out", reference_film], check=True, capture_output=True)
    reference = frame_md5s(reference_film)
    shutil.rmtree(reference_folder, ignore_errors=True)
    print(f"chaos: reference has {len(reference)} frames", flush=True)

    results = []
    started = time.time()
    for kind in kinds:
        for trial in range(args.trials):
            seed = args.seed * 1000 + len(results)
            t0 = time.time()
            note = run_trial(reel, kind, trial, seed, reference, args.keep)
            note["seconds"] = round(time.time() - t0, 1)
            results.append(note)
            extra = f" stale={note.get('stale')} expired={note.get('expired')}" + (f" paused={note.get('paused')}" if kind == "diskfull" else "")
            print(f"chaos: {kind:11s} trial {trial}: {'ok' if note['ok'] else 'FAILED'} faults={note['faults']} "
                  f"segments={note.get('segments')} recomputed={note.get('recomputed')} twice={note.get('twice')}{extra} "
                  f"{note['seconds']} s" + (f"  error: {note.get('error')}" if note.get("error") else "")
                  + (f"  kept: {note['folder']}" if "folder" in note else ""), flush=True)

    print()
    print(f"{'kind':12s} {'trials':>6s} {'faults':>6s} {'completed':>9s} {'identical':>9s} {'recomputed':>10s} {'twice':>5s} {'stale refused':>13s} {'expired':>7s}")
    for kind in kinds:
        rows = [r for r in results if r["kind"] == kind]
        print(f"{kind:12s} {len(rows):6d} {sum(r['faults'] for r in rows):6d} {sum(bool(r.get('completed')) for r in rows):9d} "
              f"{sum(bool(r.get('identical')) for r in rows):9d} {sum(r.get('recomputed', 0) for r in rows):10d} "
              f"{sum(r.get('twice', 0) for r in rows):5d} {sum(r.get('stale', 0) for r in rows):13d} {sum(r.get('expired', 0) for r in rows):7d}")
    failed = [r for r in results if not r["ok"]]
    print(f"\nchaos: {len(results) - len(failed)}/{len(results)} trials passed in {time.time() - started:.0f} s")
    if args.json:
        with open(args.json, "w") as f:
            json.dump(results, f, indent=1)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
