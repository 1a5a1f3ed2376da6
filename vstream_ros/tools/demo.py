"""The README's first command lands here. The end-to-end demo (synthetic camera bag from real
photographs, the node on the offline `lite` backend, questions over ~/query) is tracked in its own
issue; until it lands this says so plainly instead of pretending."""

import sys


def main() -> int:
    print(
        "vstream_ros is installed (interfaces and package). The demo is not there yet: it arrives with\n"
        "the offline `lite` backend. Meanwhile `./scripts/test.sh` runs the test suite."
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
