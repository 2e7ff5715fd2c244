"""Where the broker process spends its time under load: `python -m bench.profile_broker`.

Starts the adapters and a broker (SQLite audit) as their own processes like
`make bench`, drives the screening service at concurrency 64 from a load
generator process and samples the broker with py-spy (Python frames, every
thread, without pausing it). Prints the share of samples per function, by
own time and including callees; the raw stacks go to bench/results/.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

from bench.__main__ import (
    PY,
    RESULTS,
    SCREEN,
    _load,
    _spawn,
    sqlite_federation,
)

_FRAME = re.compile(r"^(?P<fn>.*?) \((?P<file>[^:()]*)(?::\d+)?\)$")


def _name(frame: str) -> str:
    """`function (file)` without the line number and leading directories."""
    m = _FRAME.match(frame)
    return f"{m['fn']} ({m['file'].rsplit('/', 1)[-1]})" if m else frame


def summarise(raw: Path, top: int = 25) -> str:
    """Own and inclusive sample shares from py-spy's raw (collapsed) output."""
    own: collections.Counter[str] = collections.Counter()
    inclusive: collections.Counter[str] = collections.Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not count.isdigit():
            continue  # py-spy's own messages
        n = int(count)
        total += n
        frames = [_name(f) for f in stack.split(";")]
        own[frames[-1]] += n
        for frame in set(frames):
            inclusive[frame] += n
    out = [f"{total} samples"]
    for title, counter in (("own time", own), ("including callees", inclusive)):
        out.append(f"--- {title}")
        out += [f"{n / total * 100:5.1f} %  {frame}" for frame, n in counter.most_common(top)]
    return "\n".join(out)


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.profile_broker", description=__doc__)
    parser.add_argument("--seconds", type=int, default=6)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--gil", action="store_true",
                        help="only samples holding the GIL (Python CPU, not waits)")
    parser.add_argument("--native", action="store_true",
                        help="include C/C++/Rust frames (gRPC core, upb, OpenSSL); "
                             "pauses the broker briefly per sample")
    args = parser.parse_args()
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    raw = RESULTS / "profile-broker.txt"
    with tempfile.TemporaryDirectory(prefix="g2g-profile-") as tmp:
        work = Path(tmp)
        with sqlite_federation(work) as (config, adapters), _spawn(
                "broker", [PY, "-m", "g2g_cli.main", "broker", "serve", "--config",
                           str(config), "--workers", str(args.workers)]) as broker:
            started = broker.wait_event("broker_started")
            pids = [broker.popen.pid, *started.get("pids", [])]
            target = pids[-1]  # the (last) worker, or the only process
            count = int(args.seconds * 900) + 2000
            spec = {"kind": "broker", "address": f"127.0.0.1:{started['port']}",
                    "pki_dir": str(work / "pki"), "registry": str(work / "agencies.yaml"),
                    "concurrency": 64, "warmup": 300, "count": count, **SCREEN}
            sampler: list[subprocess.Popen[bytes]] = []
            argv = [spy, "record", "--pid", str(target), "--duration", str(args.seconds),
                    "--rate", "200", "--format", "raw", "--output", str(raw),
                    *(["--native"] if args.native else ["--nonblocking"]),
                    *(["--gil"] if args.gil else [])]
            # Start sampling a second into the measured run, off the warm-up.
            timer = threading.Timer(1.0, lambda: sampler.append(
                subprocess.Popen(argv, stdout=subprocess.DEVNULL)))
            timer.start()
            result, cpu, _ = _load(spec, pids, adapters.popen.pid)
            timer.join()
            if sampler[0].wait() != 0:
                raise RuntimeError("py-spy failed (see its message above)")
    print(f"{result['rps']} req/s, broker CPU {cpu * 1000 / result['count']:.3f} ms/req")
    print(summarise(raw))
    return 0


if __name__ == "__main__":
    sys.exit(main())
