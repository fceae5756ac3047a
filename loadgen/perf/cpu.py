#!/usr/bin/env python3
"""Runs a command and prints its CPU time (user + system of the command and its children,
getrusage) and peak RSS as one JSON line on stderr; the command's stdout passes through.

usage: cpu.py COMMAND [ARGS...]
"""
import json
import resource
import subprocess
import sys
import time

start = time.monotonic()
code = subprocess.run(sys.argv[1:]).returncode
wall = time.monotonic() - start
r = resource.getrusage(resource.RUSAGE_CHILDREN)
print(json.dumps({"cpu_s": r.ru_utime + r.ru_stime, "user_s": r.ru_utime,
                  "sys_s": r.ru_stime, "wall_s": wall, "maxrss_kb": r.ru_maxrss,
                  "exit": code}), file=sys.stderr)
