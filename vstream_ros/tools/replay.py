"""vstream-replay: publish a rosbag2 (mcap or sqlite3) over DDS with its original timing, scaled.

    vstream-replay BAG [--rate R] [--loop] [--topics T ...] [--remap FROM:=TO ...] [-w N]

The recorded CDR bytes are published as they are, so header stamps stay as recorded. --rate 0
publishes as fast as the subscribers acknowledge (reliable QoS), losing nothing. Ctrl-C stops cleanly.

How --rate 0 keeps up: a reliable writer learns that a reader has a message only from the reader's
ACKNACK, sent in answer to a HEARTBEAT. Fast DDS sends a periodic heartbeat (3 s by default, 50 ms in
config/fastdds_loopback.xml) and one piggybacked on a data message when the writer's history is full. So
each topic's publisher keeps a history of exactly `window` messages (default 1): the window-th
unacknowledged message fills it, carries a heartbeat, and the acknowledgement is back within a round trip;
then the next window goes out. Acknowledged is not yet taken by the subscriber's callback: a keep-last
reader acknowledges a message once it is in its queue, so a callback that falls more than its queue (the
node's qos_depth) behind loses the oldest, whatever the window; only a queue as long as the burst is safe.
bench/replay.py, into one reliable vstream_node (this 2-core machine, shared, load 13): depth-100 history
and a wait after each message (the old way) 1.3 msg/s; window 8 at qos_depth 50, ~570 msg/s, every frame
taken. At load 6-7 (shared with other runs): window 1 at qos_depth 1000, 234-343 msg/s, every frame taken;
at qos_depth 10, 351 msg/s but 186 of 200 frames a camera taken (the callback fell behind).

Nothing is lost to a subscriber only if its reader is matched before the first publish (volatile
durability: a writer keeps nothing for a reader it has not matched yet). Waiting for "every subscriber the
graph knows" is not enough: the graph learns a participant's subscriptions only once that participant is
discovered, and on a loaded machine one participant can be discovered a second or more after another (seen:
the recorder matched at 1 s, the node at 2 s, after 223 messages had gone). So, like `ros2 topic pub -w`,
--wait-matching-subscriptions N waits for N matched subscriptions on every topic (and for every one the
graph lists), up to --wait-subscribers seconds; a topic still short then is named on stderr.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import time
from pathlib import Path

from vstream_ros.tools.rosenv import ensure_loopback

ensure_loopback()

import rclpy  # noqa: E402
from rclpy.duration import Duration  # noqa: E402
from rclpy.node import Node  # noqa: E402
from rclpy.qos import QoSProfile, ReliabilityPolicy  # noqa: E402

from vstream_ros.tools import missing_extra  # noqa: E402

try:
    from tqdm import tqdm
except ImportError as e:   # the tools extra
    raise missing_extra(e) from e

from vstream_ros.tools.bags import BagError, normalize_type, open_bag, payload  # noqa: E402


def message_class(msgtype: str):
    """'sensor_msgs/msg/Image' -> the rclpy class; BagError if no installed package provides it."""
    pkg, kind, name = normalize_type(msgtype).split("/")
    try:
        return getattr(importlib.import_module(f"{pkg}.{kind}"), name)
    except (ImportError, AttributeError):
        raise BagError(f"cannot publish {msgtype}: no installed Python package provides it "
                       f"(install the ROS package {pkg}, or leave the topic out with --topics)") from None


def parse_remaps(remaps: list[str]) -> dict[str, str]:
    out = {}
    for r in remaps:
        if ":=" not in r:
            raise BagError(f"--remap takes FROM:=TO, got {r!r}")
        a, b = r.split(":=", 1)
        out[a] = b
    return out


# --rate 0: unacknowledged messages per topic before waiting for the subscribers' acknowledgements
WINDOW = 1


def wait_for_matches(node: Node, pubs: list, subscribers: int, timeout: float) -> list[str]:
    """Wait until every publisher has matched `subscribers` readers and every one the graph lists for its
    topic; returns, per topic still short after `timeout` seconds, a line saying what it lacks."""
    def lacking(p) -> int:
        return max(subscribers, node.count_subscribers(p.topic_name)) - p.get_subscription_count()

    deadline = time.monotonic() + timeout
    while any(lacking(p) > 0 for p in pubs) and time.monotonic() < deadline:
        time.sleep(0.02)   # matching happens on DDS's threads; nothing here to spin
    out = []
    for p in pubs:
        if lacking(p) > 0:
            want = max(subscribers, node.count_subscribers(p.topic_name))
            nodes = sorted({f"{i.node_namespace.rstrip('/')}/{i.node_name}"
                            for i in node.get_subscriptions_info_by_topic(p.topic_name)})
            out.append(f"{p.topic_name}: {p.get_subscription_count()} of {want} subscription(s) matched after "
                       f"{timeout:g} s (the graph lists {', '.join(nodes) or 'none'}); publishing anyway, a "
                       "subscriber matched later misses the first messages")
    return out


def replay(bag: str | Path, rate: float = 1.0, loop: bool = False, topics: list[str] | None = None,
           remap: dict[str, str] | None = None, wait_subscribers: float = 10.0, reliable: bool = True,
           progress: bool = True, node: Node | None = None, window: int = WINDOW, subscribers: int = 1) -> dict:
    """Publish the bag's messages; returns {"published": n, "seconds": s, "topics": {...}}.

    First waits up to `wait_subscribers` seconds until every topic has `subscribers` matched subscriptions,
    and every one the graph lists (messages sent before a match are lost to that subscriber). At rate 0, at
    most `window` messages per topic are unacknowledged (module doc)."""
    if rate < 0:
        raise BagError("--rate must be >= 0")
    if window < 1:
        raise BagError("--window must be >= 1")
    if subscribers < 0:
        raise BagError("--wait-matching-subscriptions must be >= 0")
    reader = open_bag(bag)
    own = node is None
    if own:
        rclpy.init()
        node = rclpy.create_node("vstream_replay")
    try:
        conns = [c for c in reader.connections if not topics or c.topic in topics]
        if topics:
            missing = set(topics) - {c.topic for c in reader.connections}
            if missing:
                raise BagError(f"topics not in the bag: {sorted(missing)}; it has {sorted(reader.topics)}")
        if not conns:
            raise BagError(f"nothing to publish in {bag}")
        remap = remap or {}
        qos = QoSProfile(depth=window if rate == 0 else 100,   # rate 0: a full history piggybacks a heartbeat
                         reliability=ReliabilityPolicy.RELIABLE if reliable or rate == 0
                         else ReliabilityPolicy.BEST_EFFORT)
        pubs = {}
        for c in conns:   # one publisher per topic, even if the bag has several connections for it
            name = remap.get(c.topic, c.topic)
            key = (name, normalize_type(c.msgtype))
            if key not in pubs:
                pubs[key] = node.create_publisher(message_class(c.msgtype), name, qos)
        by_conn = {c.id: pubs[(remap.get(c.topic, c.topic), normalize_type(c.msgtype))] for c in conns}
        for short in wait_for_matches(node, list(pubs.values()), subscribers, wait_subscribers):
            print(f"vstream-replay: {short}", file=sys.stderr)
        total = sum(c.msgcount for c in conns)
        published, t_start, n_loops = 0, time.monotonic(), 0
        counts = dict.fromkeys((k[0] for k in pubs), 0)
        unacked = dict.fromkeys(pubs.values(), 0)
        stalls = 0    # seconds spent waiting for a slow subscriber's acknowledgement
        bar = tqdm(total=total, unit="msg", desc=f"replay {Path(bag).name}", disable=not progress, file=sys.stderr,
                   mininterval=0.5)
        try:
            while True:
                first, wall0 = None, time.monotonic()
                for conn, t_ns, raw in reader.messages(connections=conns):
                    if not node.context.ok():          # rclpy's SIGINT handler shut the context down
                        raise KeyboardInterrupt
                    first = t_ns if first is None else first
                    if rate > 0:
                        delay = wall0 + (t_ns - first) / 1e9 / rate - time.monotonic()
                        if delay > 0:
                            time.sleep(delay)
                    pub = by_conn[conn.id]
                    try:
                        pub.publish(payload(raw))
                    except Exception:
                        if not node.context.ok():  # SIGINT landed between the check above and the publish
                            raise KeyboardInterrupt from None
                        raise
                    unacked[pub] += 1
                    if rate == 0 and unacked[pub] >= window:
                        waits = 0     # the next publish would push an unacknowledged message out of the history
                        while not pub.wait_for_all_acked(Duration(seconds=1)) and node.context.ok() \
                                and pub.get_subscription_count() > 0:
                            waits += 1
                        stalls += waits
                        unacked[pub] = 0
                    published += 1
                    counts[pub.topic_name] = counts.get(pub.topic_name, 0) + 1
                    bar.update(1)
                n_loops += 1
                if not loop:
                    break
                bar.reset()
        except KeyboardInterrupt:
            print("\nreplay stopped", file=sys.stderr)
        finally:
            bar.close()
        if node.context.ok():
            for p in pubs.values():   # let reliable subscribers acknowledge the last messages
                p.wait_for_all_acked(Duration(seconds=4))   # > the 3 s heartbeat period
        return {"published": published, "seconds": time.monotonic() - t_start, "loops": n_loops, "topics": counts,
                "ack_stalls_s": stalls}
    finally:
        reader.close()
        if own:
            node.destroy_node()
            rclpy.try_shutdown()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="vstream-replay", description=__doc__.split("\n")[0])
    ap.add_argument("bag", help="bag folder (or its .mcap / .db3 file)")
    ap.add_argument("--rate", type=float, default=1.0, help="time scale; 0: as fast as subscribers acknowledge")
    ap.add_argument("--loop", action="store_true", help="start again at the end (stamps then jump back)")
    ap.add_argument("--topics", nargs="*", help="only these topics")
    ap.add_argument("--remap", nargs="*", default=[], metavar="FROM:=TO")
    ap.add_argument("--best-effort", action="store_true", help="best-effort QoS (default reliable)")
    ap.add_argument("--wait-subscribers", type=float, default=10.0, metavar="S",
                    help="how long to wait for the subscriptions of -w (default %(default)s)")
    ap.add_argument("--window", type=int, default=WINDOW, metavar="N",
                    help="--rate 0: messages per topic sent before waiting for acknowledgements; keep it at most "
                         "half the subscribers' queue depth (default %(default)s)")
    ap.add_argument("-w", "--wait-matching-subscriptions", type=int, default=1, metavar="N",
                    help="before the first message, wait until every topic has N matched subscriptions (and every "
                         "one the graph lists), up to --wait-subscribers seconds: give the number of subscribers "
                         "that must get every message (default %(default)s)")
    args = ap.parse_args(argv)
    try:
        out = replay(args.bag, args.rate, args.loop, args.topics, parse_remaps(args.remap), args.wait_subscribers,
                     not args.best_effort, window=args.window, subscribers=args.wait_matching_subscriptions)
    except BagError as e:
        print(f"vstream-replay: {e}", file=sys.stderr)
        return 2
    print(f"published {out['published']} messages in {out['seconds']:.1f} s: {out['topics']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
