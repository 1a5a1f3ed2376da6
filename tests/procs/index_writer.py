"""A robot's sightings writer in its own process, for the index tests.

`index_writer.py URI ROBOT COUNT` writes COUNT sightings (COUNT 0: until killed) and prints `ACK <id>`
for each one the index acknowledged, then `DONE` after a clean close.
"""

import sys

from vstream_ros.index import IndexOptions, Sighting, SightingsIndex


def main() -> None:
    uri, robot, count = sys.argv[1], sys.argv[2], int(sys.argv[3])

    def acked(ids: list[str]) -> None:
        sys.stdout.write("".join(f"ACK {i}\n" for i in ids))
        sys.stdout.flush()

    ix = SightingsIndex(uri, robot, options=IndexOptions(batch=32), on_written=acked)
    i = 0
    while count == 0 or i < count:
        label = "red toolbox" if robot.endswith("b") and i == 0 else f"thing {i % 7}"
        if not ix.add(Sighting((label,), "front", robot, 100.0 + i, 100.5 + i)):
            ix.flush()
            continue
        i += 1
        if i % 64 == 0:
            ix.flush()
    ix.close()
    print("DONE", flush=True)


if __name__ == "__main__":
    main()
