"""Add up the JUnit XML reports of the per-subproject pytest runs and print one closing line.

Exits 1 when any test failed or errored, or when no test ran at all.
"""

import sys
import xml.etree.ElementTree as ET
from pathlib import Path


def main(argv=None):
    report_dir = Path((argv or sys.argv[1:])[0])
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in sorted(report_dir.glob("*.xml")):
        root = ET.parse(report).getroot()
        suites = [root] if root.tag == "testsuite" else root.findall("testsuite")
        for suite in suites:
            for key in totals:
                totals[key] += int(suite.get(key, 0))
    failed = totals["failures"] + totals["errors"]
    passed = totals["tests"] - failed - totals["skipped"]
    print(f"all subprojects: {passed} passed, {failed} failed, {totals['skipped']} skipped")
    return 1 if failed or passed == 0 else 0


if __name__ == "__main__":
    sys.exit(main())
