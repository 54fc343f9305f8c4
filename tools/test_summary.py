"""Add up the JUnit XML reports of the per-subproject pytest runs and print one closing line.

    python tools/test_summary.py REPORT_DIR

Exits 1 when any test failed or errored, or when no test ran at all. ``junit_totals`` is also the fidelity table's
test count.
"""

import xml.etree.ElementTree as ET
from pathlib import Path

import run_contract as rc


def junit_totals(report_dir):
    """Test, failure, error and skip counts summed over every ``*.xml`` JUnit report in ``report_dir``."""
    totals = {"tests": 0, "failures": 0, "errors": 0, "skipped": 0}
    for report in sorted(Path(report_dir).glob("*.xml")):
        try:
            root = ET.parse(report).getroot()
        except ET.ParseError as err:
            raise rc.bad_file(report, f"is not a JUnit XML report ({err})") from None
        for suite in [root] if root.tag == "testsuite" else root.findall("testsuite"):
            for key in totals:
                totals[key] += int(suite.get(key, 0))
    return totals


def get_args_parser(add_help=True):
    p = rc.ArgumentParser(description="One closing line over the JUnit reports of make test", add_help=add_help)
    p.add_argument("report_dir", type=rc.existing_dir("JUnit report folder"), help="folder of *.xml reports")
    return p


@rc.command
def main(argv=None):
    args = get_args_parser().parse_args(argv)
    totals = junit_totals(args.report_dir)
    failed = totals["failures"] + totals["errors"]
    passed = totals["tests"] - failed - totals["skipped"]
    print(f"all subprojects: {passed} passed, {failed} failed, {totals['skipped']} skipped")
    if failed:
        raise rc.RunFailed(f"{failed} tests failed")
    if not passed:
        raise rc.RunFailed(f"no test passed (reports in {args.report_dir})")
    return 0


if __name__ == "__main__":
    rc.entry(main)
