#!/usr/bin/env python3
"""Hostile input for a running coordinator, while it renders a real job.

1. ROUTER fuzzing: --messages malformed REEL/1 messages (default 100,000) from --identities
   DEALER sockets: random bytes, truncated frames, oversized header and payload frames, wrong
   versions, unknown types, valid headers with garbage bodies (wrong JSON types, deep nesting,
   NaN payloads, wrong payload lengths), and results for attempts that do not exist.
2. HTTP fuzzing from the OpenAPI document with schemathesis (property-based requests to every
   operation): no response may be a 5xx.

Checks: the coordinator never exits, its memory stays bounded (peak RSS is printed), the real
job completes with the fault-free film, and no 5xx. Run through scripts/chaos/fuzz.sh.
"""
import argparse
import json
import os
import random
import signal
import struct
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request

import zmq

PROMPT = "a blue square drifts right across the blue sky"
REQUEST = ["--duration", "6", "--steps", "4", "--seed", "3", "--preset", "ultrafast"]
TYPES = ["READY", "TASK", "PROGRESS", "RESULT", "FAILED", "HEARTBEAT", "DISCONNECT"]


def rss_kib(pid):
    """(VmRSS, VmHWM) of a process in KiB."""
    values = {}
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith(("VmRSS:", "VmHWM:")):
                key, value = line.split(":")
                values[key] = int(value.split()[0])
    return values.get("VmRSS", 0), values.get("VmHWM", 0)


def deep_json(depth):
    return "[" * depth + "]" * depth


def malformed(rng):
    """One hostile message (a list of frames) and its kind."""
    kind = rng.choice(["random", "truncated", "oversized-header", "version", "type", "garbage-json",
                       "wrong-types", "deep", "nan-payload", "payload-length", "stale-result", "frames", "empty"])
    if kind == "random":
        return kind, [rng.randbytes(rng.randint(0, 512)) for _ in range(rng.randint(1, 5))]
    if kind == "truncated":
        header = json.dumps({"attempt": "j0001-x.L0-0000.1", "job": "j0001-x", "segment": "L0-0000", "frames": 16,
                             "frameShape": [8, 8, 8], "sha256": "0" * 64, "computeMilliseconds": 10}).encode()
        frames = [b"REEL/1", b"RESULT", header[:rng.randint(0, len(header))]]
        return kind, frames[:rng.randint(1, 3)]
    if kind == "oversized-header":
        return kind, [b"REEL/1", b"HEARTBEAT", b'{"activeAttempts":["' + b"a" * (70_000 + rng.randint(0, 10_000)) + b'"]}']
    if kind == "version":
        return kind, [rng.choice([b"REEL/0", b"REEL/2", b"REEL/99", b"reel/1", b"REEL/1.0", b"XREEL/1"]), b"READY", b"{}"]
    if kind == "type":
        return kind, [b"REEL/1", rng.choice([b"HELLO", b"ready", b"", b"RESULTS", b"X" * 40]), b"{}"]
    if kind == "garbage-json":
        return kind, [b"REEL/1", rng.choice(TYPES).encode(), rng.randbytes(rng.randint(0, 200))]
    if kind == "wrong-types":
        header = rng.choice([{"worker": 7, "models": "reel-tiny", "credit": -1}, {"activeAttempts": 5},
                             {"attempt": None, "step": "x"}, {"worker": "w" * 5000, "models": [], "credit": 1 << 40},
                             {"attempt": "a", "error": 3, "retryable": "yes"}])
        return kind, [b"REEL/1", rng.choice(TYPES).encode(), json.dumps(header).encode()]
    if kind == "deep":
        return kind, [b"REEL/1", b"HEARTBEAT", deep_json(rng.randint(50, 20_000)).encode()]
    if kind == "nan-payload":
        header = json.dumps({"attempt": "j0001-x.L0-0000.1", "job": "j0001-x", "segment": "L0-0000", "frames": 1,
                             "frameShape": [1, 1, 1], "sha256": "0" * 64, "computeMilliseconds": 1}).encode()
        return kind, [b"REEL/1", b"RESULT", header, struct.pack("<f", float("nan"))]
    if kind == "payload-length":
        header = json.dumps({"attempt": "j0001-x.L0-0000.1", "job": "j0001-x", "segment": "L0-0000", "frames": 16,
                             "frameShape": [8, 8, 8], "sha256": "0" * 64, "computeMilliseconds": 1}).encode()
        return kind, [b"REEL/1", b"RESULT", header, rng.randbytes(rng.randint(0, 64) * 4 + rng.choice([0, 1, 3]))]
    if kind == "stale-result":
        header = json.dumps({"attempt": f"j9999-{rng.randint(0, 1 << 30):x}.L0-0000.1", "job": "j9999-x", "segment": "L0-0000",
                             "frames": 1, "frameShape": [1, 1, 1], "sha256": "0" * 64, "computeMilliseconds": 1}).encode()
        return kind, [b"REEL/1", b"RESULT", header, struct.pack("<f", 0.5)]
    if kind == "frames":
        return kind, [b"REEL/1", b"HEARTBEAT"] + [b"{}"] * rng.randint(2, 40)
    return kind, [b""]


def fuzz_router(endpoint, count, identities, seed, oversized_payloads):
    rng = random.Random(seed)
    context = zmq.Context()
    sockets = []
    for i in range(identities):
        s = context.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 30_000)   # closing waits until every queued message has left
        s.setsockopt(zmq.SNDHWM, 100_000)
        s.setsockopt(zmq.IDENTITY, f"fuzz-{i}/".encode() + rng.randbytes(6))
        s.connect(endpoint)
        sockets.append(s)
    time.sleep(0.5)
    kinds, sent, dropped = {}, 0, 0
    for n in range(count):
        kind, frames = malformed(rng)
        try:
            # Oversized frames make libzmq disconnect their sender (dropping what it had queued),
            # so they go through one identity of their own and the others' streams arrive whole.
            socket = sockets[0] if kind == "oversized-header" else rng.choice(sockets[1:])
            socket.send_multipart(frames, flags=zmq.NOBLOCK)
            sent += 1
            kinds[kind] = kinds.get(kind, 0) + 1
        except zmq.Again:
            dropped += 1
            time.sleep(0.001)
        if n % 5000 == 4999:
            time.sleep(0.02)   # let the I/O threads breathe; the flood stays far above what workers send
    # A few payload frames over the 64 MiB limit: libzmq must drop them (ZMQ_MAXMSGSIZE) unread.
    big = b"\0" * ((64 << 20) + 1024)
    for _ in range(oversized_payloads):
        header = json.dumps({"attempt": "j0001-x.L0-0000.1", "job": "j0001-x", "segment": "L0-0000", "frames": 1,
                             "frameShape": [1, 1, 1], "sha256": "0" * 64, "computeMilliseconds": 1}).encode()
        s = context.socket(zmq.DEALER)
        s.setsockopt(zmq.LINGER, 2000)
        s.connect(endpoint)
        s.send_multipart([b"REEL/1", b"RESULT", header, big])
        s.close()
        kinds["oversized-payload"] = kinds.get("oversized-payload", 0) + 1
        sent += 1
    time.sleep(1.0)
    for s in sockets:
        s.close()
    context.term()
    return sent, dropped, kinds


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reel", required=True)
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--identities", type=int, default=64)
    parser.add_argument("--oversized-payloads", type=int, default=3)
    parser.add_argument("--http-examples", type=int, default=40, help="schemathesis examples per operation (0: skip HTTP)")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    reel = os.path.abspath(args.reel)
    folder = tempfile.mkdtemp(prefix="reel-fuzz-")
    zmq_port, http_port = random.randint(20000, 60000), random.randint(20000, 60000)
    url = f"http://127.0.0.1:{http_port}"

    def spawn(argv, log):
        return subprocess.Popen(argv, stdout=open(os.path.join(folder, log), "ab"), stderr=subprocess.STDOUT, start_new_session=True)

    print("fuzz: fault-free reference ...", flush=True)
    reference = os.path.join(folder, "reference.mp4")
    subprocess.run([reel, "render", PROMPT, *REQUEST, "--out", reference], check=True, capture_output=True)

    coordinator = spawn([reel, "coordinator", "--bind", f"tcp://127.0.0.1:{zmq_port}", "--http", f"127.0.0.1:{http_port}",
                         "--state", os.path.join(folder, "state"), "--heartbeat", "0.2", "--liveness", "5"], "coordinator.log")
    for _ in range(600):
        try:
            urllib.request.urlopen(url + "/v1/farm", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    workers = [spawn([reel, "worker", "--connect", f"tcp://127.0.0.1:{zmq_port}", "--threads", "1", "--name", f"w{i}",
                      "--heartbeat", "0.2"], f"worker-{i}.log") for i in range(2)]
    film = os.path.join(folder, "film.mp4")
    submit = spawn([reel, "submit", "--coordinator", url, PROMPT, *REQUEST, "--wait", "--out", film], "submit.log")

    peak = {"rss": 0, "hwm": 0, "samples": []}
    stop = threading.Event()

    def sample():
        while not stop.is_set() and coordinator.poll() is None:
            try:
                rss, hwm = rss_kib(coordinator.pid)
                peak["rss"], peak["hwm"] = max(peak["rss"], rss), max(peak["hwm"], hwm)
                peak["samples"].append(rss)
            except OSError:
                pass
            time.sleep(0.2)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    base_rss = rss_kib(coordinator.pid)[0]
    t0 = time.time()
    sent, dropped, kinds = fuzz_router(f"tcp://127.0.0.1:{zmq_port}", args.messages, args.identities, args.seed, args.oversized_payloads)
    fuzz_seconds = time.time() - t0
    alive_after_router = coordinator.poll() is None
    try:
        submit.wait(timeout=600)
    except subprocess.TimeoutExpired:
        pass
    completed = submit.poll() == 0 and os.path.exists(film)

    def md5s(path):
        out = subprocess.run(["ffmpeg", "-v", "error", "-i", path, "-f", "framemd5", "-"], capture_output=True, text=True).stdout
        return [l.split(",")[-1] for l in out.splitlines() if l and not l.startswith("#")]

    identical = completed and md5s(film) == md5s(reference)
    farm = json.load(urllib.request.urlopen(url + "/v1/farm", timeout=5)) if coordinator.poll() is None else {}

    http_ok, http_summary = True, "skipped"
    if args.http_examples > 0 and coordinator.poll() is None:
        st = os.path.join(os.path.dirname(sys.executable), "schemathesis")
        result = subprocess.run([st, "run", f"{url}/openapi.yaml", "--url", url, "--checks", "not_a_server_error",
                                 "--max-examples", str(args.http_examples), "--seed", str(args.seed), "--no-color"],
                                capture_output=True, text=True)
        http_ok = result.returncode == 0
        tail = [l for l in result.stdout.splitlines() if l.strip()][-12:]
        http_summary = "\n    ".join(tail)
        if not http_ok:
            print(result.stdout[-6000:])
    alive = coordinator.poll() is None
    stop.set()
    for p in [submit, coordinator, *workers]:
        if p.poll() is None:
            os.killpg(p.pid, signal.SIGTERM)
            try:
                p.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(p.pid, signal.SIGKILL)

    print(f"fuzz: ROUTER: {sent} hostile messages from {args.identities} identities in {fuzz_seconds:.1f} s "
          f"({dropped} not sent: local queue full); kinds: {json.dumps(kinds, sort_keys=True)}")
    print(f"fuzz: the coordinator's decoder counted {farm.get('malformedMessages')} malformed and {farm.get('staleMessages')} stale "
          f"messages; the rest were dropped by libzmq (frames over ZMQ_MAXMSGSIZE disconnect their sender)")
    print(f"fuzz: coordinator RSS: {base_rss / 1024:.1f} MiB before, peak {peak['rss'] / 1024:.1f} MiB (VmHWM {peak['hwm'] / 1024:.1f} MiB)")
    print(f"fuzz: alive after the ROUTER flood: {alive_after_router}; the real job completed: {completed}; film identical to the reference: {identical}")
    print(f"fuzz: HTTP (schemathesis, {args.http_examples} examples per operation): {'no 5xx' if http_ok else 'FAILED'}\n    {http_summary}")
    print(f"fuzz: coordinator alive at the end: {alive}; logs in {folder}")
    ok = alive_after_router and alive and completed and identical and http_ok
    print("fuzz: " + ("passed" if ok else "FAILED"))
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
