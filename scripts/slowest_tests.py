#!/usr/bin/env python3
"""Prints the slowest tests of the last nextest run, from its JUnit report.

Usage: slowest_tests.py [junit.xml] [count]. Standard library only.
"""

import sys
import xml.etree.ElementTree as ElementTree


def main() -> int:
    path = sys.argv[1] if len(sys.argv) > 1 else "target/nextest/default/junit.xml"
    count = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    try:
        root = ElementTree.parse(path).getroot()
    except (OSError, ElementTree.ParseError) as error:
        print(f"no test timings ({path}: {error})")
        return 0
    timings = []
    for suite in root.iter("testsuite"):
        for case in suite.iter("testcase"):
            name = f"{case.get('classname', suite.get('name', ''))} {case.get('name', '')}"
            timings.append((float(case.get("time", "0")), name))
    timings.sort(reverse=True)
    print(f"The {min(count, len(timings))} slowest of {len(timings)} tests ({path}):")
    for seconds, name in timings[:count]:
        print(f"  {seconds:8.3f}s  {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
