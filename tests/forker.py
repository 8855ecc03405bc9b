"""Run `syncd` commands as separate processes quickly: this process imports syncd once, then forks one child
per command (`python -m tests.forker`). Each child is a whole `syncd ...` process — its own memory, sockets,
SQLite connection and file descriptors — that a test can SIGKILL at any moment; it only skips the ~1 s of
interpreter start-up and imports, so a crash test can afford dozens of kills.

Protocol on stdin/stdout, one JSON line each way:
    -> {"argv": [...], "log": "/path/for/stdout+stderr"}
    <- {"pid": 1234}           as soon as the child runs
    <- {"exit": 0}             when it ended (-9 when killed by SIGKILL)
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from dataclasses import dataclass, field
from typing import IO

from syncd.app.cli import main as syncd_main


def serve() -> None:
    for line in sys.stdin:
        request = json.loads(line)
        pid = os.fork()
        if pid == 0:  # the child: become `syncd ARGV`
            fd = os.open(request["log"], os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            os.dup2(fd, 1)
            os.dup2(fd, 2)
            code = 1
            try:
                code = syncd_main(request["argv"])
            finally:
                sys.stdout.flush()
                sys.stderr.flush()
                os._exit(code)
        print(json.dumps({"pid": pid}), flush=True)
        _, status = os.waitpid(pid, 0)
        print(json.dumps({"exit": os.waitstatus_to_exitcode(status)}), flush=True)


@dataclass
class Forker:
    """The test side: start the forking parent once, run commands, learn each child's pid."""

    process: subprocess.Popen[str] = field(init=False)

    def __post_init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "tests.forker"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
        )
        self.pid = 0  # the running child's pid (0 when none)

    def _io(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None and self.process.stdout is not None
        return self.process.stdin, self.process.stdout

    def run(self, argv: list[str], log: str) -> int:
        stdin, stdout = self._io()
        stdin.write(json.dumps({"argv": argv, "log": log}) + "\n")
        stdin.flush()
        self.pid = int(json.loads(stdout.readline())["pid"])
        try:
            return int(json.loads(stdout.readline())["exit"])
        finally:
            self.pid = 0

    def close(self) -> None:
        stdin, stdout = self._io()
        stdin.close()
        self.process.wait(30)
        stdout.close()


if __name__ == "__main__":
    serve()
