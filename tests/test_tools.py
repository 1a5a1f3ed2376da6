"""vstream-synth, vstream-replay and vstream-eval, as a user runs them."""

import json
import math
import signal
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from vstream_ros.tools.bags import TYPESTORE, open_bag
from vstream_ros.tools.questions import load_questions
from vstream_ros.tools.synth import synth

from conftest import REPO
from rosproc import PROCS, Client, Proc, fresh_domain

QA = REPO.parent / "shared" / "data" / "qa"


def run_tool(module: str, *args, timeout=600, env_domain=None) -> subprocess.CompletedProcess:
    """Run a tool to its end. One that has not ended by `timeout` is sent SIGABRT, on which Python's
    faulthandler writes every thread's stack: the test fails showing where it hung."""
    import os

    env = dict(os.environ, PYTHONFAULTHANDLER="1")
    if env_domain is not None:
        env["ROS_DOMAIN_ID"] = str(env_domain)
    argv = [sys.executable, "-m", f"vstream_ros.tools.{module}", *map(str, args)]
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=REPO,
                          env=env) as proc:
        try:
            out, err = proc.communicate(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.send_signal(signal.SIGABRT)
            try:
                out, err = proc.communicate(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                out, err = proc.communicate()
            pytest.fail(f"vstream-{module} did not end within {timeout} s; its output and stacks:\n"
                        f"{out[-2000:]}\n{err[-6000:]}")
    return subprocess.CompletedProcess(argv, proc.returncode, out, err)


def bag_stamps(bag: Path) -> dict[str, list[int]]:
    reader = open_bag(bag)
    out: dict[str, list[int]] = {}
    for conn, _, raw in reader.messages():
        msg = TYPESTORE.deserialize_cdr(raw, conn.msgtype)
        out.setdefault(conn.topic, []).append(msg.header.stamp.sec * 10**9 + msg.header.stamp.nanosec)
    reader.close()
    return out


def test_synth_is_deterministic_and_has_raw_and_compressed_cameras(tmp_path):
    a, qa = synth(tmp_path / "a.mcap", cameras=2, seconds=4, scene_seconds=2, fps=5, seed=3)
    b, _ = synth(tmp_path / "b", cameras=2, seconds=4, scene_seconds=2, fps=5, seed=3)
    assert (a / "a.mcap").read_bytes()[-2000:] != b"" and a.name == "a"
    assert bag_stamps(a) == bag_stamps(b)
    ra, rb = open_bag(a), open_bag(b)
    assert {t: i.msgtype for t, i in ra.topics.items()} == {
        "/cam0/image_raw": "sensor_msgs/msg/Image", "/cam1/image_raw/compressed": "sensor_msgs/msg/CompressedImage",
        "/odom": "nav_msgs/msg/Odometry"}
    ma = [raw for _, _, raw in ra.messages()]
    mb = [raw for _, _, raw in rb.messages()]
    assert ma == mb            # bit for bit under the same seed
    qs, errors = load_questions(qa)
    assert not errors and len(qs) == 6 and {q.type for q in qs} == {"what-shape", "describe", "where"}
    assert all(q.correct and q.answer in q.options for q in qs if q.multiple_choice)


def test_synth_odometry_follows_the_loop_and_the_scene_is_seen_from_its_station(tmp_path):
    """20 Hz odometry in the odom frame, in stamp order with the frames; while a scene is on camera the
    robot stands at the station its "where" question names; while it drives the camera sees no scene."""
    from vstream_ros.tools.synth import T0

    bag, qfile = synth(tmp_path / "loop", cameras=1, seconds=12, scene_seconds=3, fps=5)
    reader = open_bag(bag)
    odom, frames, last = [], {}, 0
    for conn, t_ns, raw in reader.messages():
        assert t_ns >= last
        last = t_ns
        msg = TYPESTORE.deserialize_cdr(raw, conn.msgtype)
        t = msg.header.stamp.sec + msg.header.stamp.nanosec * 1e-9 - T0
        if conn.topic == "/odom":
            assert msg.header.frame_id == "odom" and msg.child_frame_id == "base_link"
            p = msg.pose.pose
            odom.append((t, p.position.x, p.position.y, msg.twist.twist.linear.x))
        else:
            frames[round(t, 3)] = msg.data.reshape(msg.height, msg.width, 3)
    reader.close()
    assert len(odom) == 12 * 20 - 3 and odom[0][1:3] == (0.0, 0.0)       # 0 .. 11.8 s at 20 Hz
    where = {q.id: q for q in load_questions(qfile)[0] if q.type == "where"}
    assert len(where) == 4
    for k in range(4):
        q = where[f"s{k}-where"]
        seen = [(t, x, y, v) for t, x, y, v in odom if q.window[0] - 1e-6 <= t <= q.window[1] + 1e-6]
        assert seen and all(abs(x - q.pose[0]) < 1e-9 and abs(y - q.pose[1]) < 1e-9 and v == 0 for _, x, y, v in seen)
        if k:                                            # it drove there: the camera saw the bare background
            assert q.window[0] == pytest.approx(3 * k + 0.6)
            assert any(v > 0 for t, _, _, v in odom if 3 * k <= t < 3 * k + 0.6)
            corridor, scene = frames[round(3 * k, 3)], frames[round(q.window[0], 3)]
            assert np.abs(corridor.astype(int) - scene.astype(int)).mean() > 5
    stations = {where[f"s{k}-where"].pose for k in range(4)}
    assert len(stations) == 4 and all(math.hypot(x, y - 2.0) == pytest.approx(2.0) for x, y in stations)


@pytest.mark.slow
@pytest.mark.parametrize("storage", ["mcap", "sqlite3"])
def test_replay_delivers_every_message_with_stamps_unchanged(tmp_path, storage):
    bag, _ = synth(tmp_path / "scenes", cameras=2, seconds=3, scene_seconds=1, fps=10, storage=storage)
    expected = bag_stamps(bag)
    n = sum(map(len, expected.values()))
    domain = fresh_domain()
    sub = Proc([str(PROCS / "count_subscriber.py"), str(tmp_path / "got.json"), str(n),
                "/cam0/image_raw", "/cam1/image_raw/compressed:compressed", "/odom:odometry"], tmp_path / "sub.log",
               domain)
    try:
        # the replay waits for the match (volatile durability: a reader matched late misses the first
        # messages); the subscriber's start-up on a loaded machine can take longer than its default 10 s
        assert sub.wait_for("ready"), sub.output()
        out = run_tool("replay", bag, "--rate", "4", "--wait-subscribers", "60", env_domain=domain)
        assert out.returncode == 0, out.stderr
        assert f"published {n} messages" in out.stdout
        assert sub.popen.wait(30) == 0
    finally:
        sub.stop()
    got = json.loads((tmp_path / "got.json").read_text())
    assert got == expected


@pytest.mark.slow
def test_replay_rate_0_delivers_every_message_to_a_reliable_node_and_keeps_up(tmp_path):
    """--rate 0 into a real vstream_node (reliable subscriptions) and a reliable recorder: every frame
    reaches the node's callbacks and every message the recorder, stamps unchanged. 800 messages: at the
    old pace (a wait of up to the 3 s heartbeat period per message, 1.3 msg/s) the replay would need
    about ten minutes; the time limit below is a hang guard 30 times what it takes now (about 4 s).
    `-w 2`: the replay waits for both subscribers' matches; waiting only for the ones its graph knew lost
    the node's first ~70-100 frames a camera in about half the runs (the node discovered a second later)."""
    from vstream_ros.msg import MemoryState

    bag, _ = synth(tmp_path / "scenes", cameras=2, seconds=20, scene_seconds=5, fps=10)
    expected = bag_stamps(bag)
    n = sum(map(len, expected.values()))
    domain = fresh_domain()
    params = tmp_path / "node.yaml"
    params.write_text(json.dumps({"/**": {"ros__parameters": {
        "backend": "tiny", "camera_topics": ["/cam0/image_raw", "/cam1/image_raw/compressed"],
        "pose_topic": "/odom", "qos_reliability": "reliable", "qos_depth": 1000, "snapshot_path": "",
        "memory_state_period_s": 0.2, "sample_rate_hz": 1.0}}}))
    node = Proc(["-m", "vstream_ros.ros.node", "--ros-args", "--params-file", str(params)], tmp_path / "node.log",
                domain)
    sub = Proc([str(PROCS / "count_subscriber.py"), str(tmp_path / "got.json"), str(n),
                "/cam0/image_raw", "/cam1/image_raw/compressed:compressed", "/odom:odometry"], tmp_path / "sub.log",
               domain)
    observer = Client("observer", domain)
    received: dict[str, int] = {}
    states: list[MemoryState] = []

    def on_state(m: MemoryState) -> None:
        states.append(m)
        received.update({c.camera: c.frames_received for c in m.cameras})

    observer.node.create_subscription(MemoryState, "/vstream/memory_state", on_state, 10)
    try:
        assert observer.spin_until(lambda: states or node.popen.poll() is not None, 120), node.output()
        assert node.popen.poll() is None and not any(received.values()), node.output()
        out = run_tool("replay", bag, "--rate", "0", "-w", "2", "--wait-subscribers", "60", env_domain=domain,
                       timeout=120)
        assert out.returncode == 0, out.stderr[-2000:]
        assert "matched after" not in out.stderr, out.stderr[-2000:]
        assert f"published {n} messages" in out.stdout
        assert sub.popen.wait(30) == 0
        frames = {"cam0": len(expected["/cam0/image_raw"]), "cam1": len(expected["/cam1/image_raw/compressed"])}
        observer.spin_until(lambda: received == frames, 30)
        assert received == frames, node.output()[-3000:]
    finally:
        observer.close()
        sub.stop()
        node.stop()
    assert json.loads((tmp_path / "got.json").read_text()) == expected


@pytest.mark.slow
def test_replay_can_be_interrupted(tmp_path):
    bag, _ = synth(tmp_path / "long", cameras=1, seconds=30, scene_seconds=5, fps=10)
    domain = fresh_domain()
    proc = Proc(["-m", "vstream_ros.tools.replay", str(bag), "--rate", "1", "--wait-subscribers", "0"],
                tmp_path / "replay.log", domain)
    proc.wait_for("replay long")                      # the progress bar is up
    assert proc.stop(signal.SIGINT) == 0, proc.output()
    assert "replay stopped" in proc.output() and "published" in proc.output()


@pytest.mark.slow
def test_replay_errors_are_clear(tmp_path):
    out = run_tool("replay", tmp_path / "nothing")
    assert out.returncode == 2 and "no bag at" in out.stderr
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / "metadata.yaml").write_text(
        "rosbag2_bagfile_information: {version: 9, storage_identifier: zip}")
    out = run_tool("replay", tmp_path / "junk")
    assert out.returncode == 2 and "cannot open bag" in out.stderr
    bag, _ = synth(tmp_path / "s", cameras=1, seconds=1, fps=2)
    out = run_tool("replay", bag, "--topics", "/nope")
    assert out.returncode == 2 and "not in the bag" in out.stderr
    out = run_tool("replay", bag, "-w", "-1")
    assert out.returncode == 2 and "--wait-matching-subscriptions must be >= 0" in out.stderr


@pytest.mark.slow
def test_replay_names_the_topic_short_of_subscriptions(tmp_path):
    """One subscriber on the camera, two asked for: the replay says which topic lacks how many, and who
    the graph lists on it, then publishes anyway."""
    bag, _ = synth(tmp_path / "s", cameras=1, seconds=1, fps=2, odom_hz=0)
    domain = fresh_domain()
    sub = Proc([str(PROCS / "count_subscriber.py"), str(tmp_path / "got.json"), "2", "/cam0/image_raw"],
               tmp_path / "sub.log", domain)
    try:
        # the subscriber is up before the replay starts, so the replay's wait (which always runs out here:
        # two are asked for) only has to cover discovery, not the subscriber's start-up
        assert sub.wait_for("ready"), sub.output()
        out = run_tool("replay", bag, "--rate", "0", "-w", "2", "--wait-subscribers", "4", env_domain=domain,
                       timeout=120)
    finally:
        sub.stop()
    assert out.returncode == 0 and "published 2 messages" in out.stdout, out.stderr[-2000:]
    assert "/cam0/image_raw: 1 of 2 subscription(s) matched after 4 s (the graph lists /count_subscriber)" \
        in out.stderr, out.stderr[-2000:]


def report_of(out: Path) -> dict:
    report = json.loads((out / "report.json").read_text())
    for key in ("summary", "system", "question_errors", "question_file_errors", "backend"):
        assert key in report
    for key in ("accuracy", "accuracy_by_type", "answer_latency_s_p50", "answer_latency_s_p95", "ttft_s_p50",
                "ttft_s_p95"):
        assert key in report["summary"]
    for key in ("ingest_frames_per_s", "encode_ms_p50", "encode_ms_p95", "memory_update_ms_p50",
                "memory_update_ms_p95", "memory_curve"):
        assert report["system"][key] is not None, key
    for png in ("latency_memory.png", "accuracy_by_type.png"):
        assert (out / png).stat().st_size > 5000
    assert (out / "report.md").read_text().startswith("# vstream-eval")
    return report


@pytest.mark.slow
@pytest.mark.parametrize("backend", ["tiny", "lite"])
def test_synth_then_eval_writes_a_full_report(tmp_path, backend):
    bag, qfile = synth(tmp_path / "scenes", cameras=2, seconds=12, scene_seconds=4, fps=5)
    out = run_tool("evaluate", bag, "--questions", qfile, "--backend", backend, "--out", tmp_path / "r",
                   "--max-new-tokens", "12")
    assert out.returncode == 0, out.stderr[-2000:]
    report = report_of(tmp_path / "r")
    assert report["summary"]["answered"] == 9 and report["summary"]["errors"] == 0
    # offline, the tool waits for the encoder: no shedding, so results do not hang on the machine's speed
    assert report["system"]["load_shedding"] is False and report["system"]["shed_level"] == 0
    answers = [json.loads(ln) for ln in (tmp_path / "r" / "answers.jsonl").read_text().splitlines()]
    assert len(answers) == 9
    for a in answers:
        assert a["frames_in_memory"] <= (a["ask_at"] + 1) * 2 + 2, "only frames seen up to the question"
        assert all(e["end_s"] <= a["ask_at"] + 1e-6 for e in a["evidence"])
        assert "correct" in a


@pytest.mark.slow
def test_eval_feeds_the_bags_poses_and_scores_where_by_position(tmp_path):
    """lite on the photo loop: "where" answers state the station each photo was seen from (within the
    scorer's POSE_TOL_M); photos lite has no word for are abstentions, not places."""
    bag, qfile = synth(tmp_path / "loop", cameras=1, seconds=18, scene_seconds=3, fps=5, photos=True)
    out = run_tool("evaluate", bag, "--questions", qfile, "--backend", "lite", "--out", tmp_path / "r",
                   "--sample-rate", "2")
    assert out.returncode == 0, out.stderr[-2000:]
    answers = {a["id"]: a for a in map(json.loads, (tmp_path / "r" / "answers.jsonl").read_text().splitlines())}
    assert len(answers) == 6 and all(a["type"] == "where" and a["rule"] == "place" for a in answers.values())
    a = answers["s0-where"]             # the cat: the detector's
    assert a["verdict"] == "right", a
    assert a["evidence"] and all(e["pose"] is not None for e in a["evidence"])
    # the cup of coffee, the rocket and the flower show to the classifier alone, near its fitted bar
    # (calibration.json, issue #20): whether a run of theirs clears it varies, so no place is asserted for them
    assert answers["s4-where"]["verdict"] != "right"          # temple: no word
    # astronaut: no class of its own; the person box answers it, saying so (issue #25 item 5)
    assert "do not recognise" not in answers["s3-where"]["prediction"], answers["s3-where"]


@pytest.mark.slow
def test_local_llm_judge_scores_open_answers(tmp_path):
    bag, qfile = synth(tmp_path / "j", cameras=1, seconds=4, scene_seconds=2, fps=5)
    out = run_tool("evaluate", bag, "--questions", qfile, "--backend", "lite", "--out", tmp_path / "r",
                   "--max-new-tokens", "12", "--judge", "smollm2")
    assert out.returncode == 0, out.stderr[-2000:]
    report = report_of(tmp_path / "r")
    assert report["judge"] == "smollm2"
    answers = [json.loads(ln) for ln in (tmp_path / "r" / "answers.jsonl").read_text().splitlines()]
    judged = [a["judge"] for a in answers if not a["options"]]
    assert len(judged) == 4 and all(j["pred"] in ("yes", "no", None) and j["raw"] for j in judged)
    s = report["summary"]
    assert s["judge_unparsed"] + sum(j["pred"] is not None for j in judged) == 4


@pytest.mark.slow
def test_long_stream_keeps_memory_flat(tmp_path):
    bag, qfile = synth(tmp_path / "long", cameras=1, seconds=250, scene_seconds=25, fps=10, size=(48, 64))
    out = run_tool("evaluate", bag, "--questions", qfile, "--backend", "tiny", "--out", tmp_path / "r",
                   "--sample-rate", "10", "--max-new-tokens", "2", "--limit", "4")
    assert out.returncode == 0, out.stderr[-2000:]
    system = report_of(tmp_path / "r")["system"]
    assert system["frames_encoded"] >= 2400
    curve = system["memory_curve"]
    assert len(curve) > 50
    assert len({(p["bytes_device"], p["bytes_host"]) for p in curve}) == 1
    assert len({p["tokens"] for p in curve if p["frames_seen"] > 25}) == 1   # 25 in T and A, 1 in S


@pytest.mark.slow
def test_eval_reports_bad_items_and_goes_on(tmp_path):
    bag, qfile = synth(tmp_path / "s", cameras=1, seconds=6, scene_seconds=3, fps=5)
    qs = json.loads(qfile.read_text())
    qs.append({"id": "late", "video_id": "s", "question": "What now?", "answer": "x", "timestamp": 500})
    qs.append({"id": "no-answer", "video_id": "s", "question": "What?"})
    qs.append({"id": "no-question", "video_id": "s", "answer": "y"})
    qfile.write_text(json.dumps(qs))
    out = run_tool("evaluate", bag, "--questions", qfile, "--backend", "tiny", "--out", tmp_path / "r",
                   "--max-new-tokens", "2")
    assert out.returncode == 0, out.stderr[-2000:]
    assert "question no-answer: no answer" in out.stderr and "question no-question: no question text" in out.stderr
    report = report_of(tmp_path / "r")
    assert report["summary"]["answered"] == 6
    (late,) = report["question_errors"]
    assert late["id"] == "late" and "stream ends" in late["error"]
    md = (tmp_path / "r" / "report.md").read_text()
    assert "`late`" in md and "`no-answer`" in md
    out = run_tool("evaluate", tmp_path / "missing.mp4", "--questions", qfile, "--backend", "tiny")
    assert out.returncode == 2 and "no such bag or video" in out.stderr


@pytest.mark.slow
def test_eval_reads_a_video_file(tmp_path):
    video = tmp_path / "clip.mp4"
    w = cv2.VideoWriter(str(video), cv2.VideoWriter_fourcc(*"mp4v"), 10, (64, 48))
    for i in range(60):
        w.write(np.full((48, 64, 3), (i * 4) % 255, np.uint8))
    w.release()
    (tmp_path / "q.json").write_text(json.dumps([{"id": 1, "video_id": "clip", "question": "What is there?",
                                                  "answer": "grey", "timestamp": 5.0}]))
    out = run_tool("evaluate", video, "--questions", tmp_path / "q.json", "--backend", "tiny", "--out",
                   tmp_path / "r", "--max-new-tokens", "2")
    assert out.returncode == 0, out.stderr[-2000:]
    (answer,) = [json.loads(ln) for ln in (tmp_path / "r" / "answers.jsonl").read_text().splitlines()]
    assert answer["success"] and answer["frames_in_memory"] == 6    # 0..5 s at 1 Hz, nothing after


@pytest.mark.skipif(not QA.exists(), reason="../shared/data/qa (non-commercial question files) is not here")
@pytest.mark.parametrize("name", ["rvs_ego_ego4d_oe.json", "rvs_movie_movienet_oe.json", "ovo_bench_new.json",
                                  "streamingbench_realtime.json", "flashvstream_qwen_test_qa/mlvu_test_qa.json",
                                  "flashvstream_qwen_test_qa/videomme_test_qa.json"])
def test_real_question_files_load_as_they_are(name):
    qs, errors = load_questions(QA / name)
    assert len(qs) > 0.9 * (len(qs) + len(errors))
    for q in qs[:200]:
        assert q.question and q.answer
        if q.multiple_choice:
            assert q.correct and q.options[ord(q.correct) - 65] == q.answer
    if name.startswith("rvs"):
        assert all(q.window and q.ask_at == q.window[1] for q in qs)


FIXTURES = Path(__file__).parent / "fixtures"


@pytest.mark.parametrize("bag, cameras", [("amber_soccer_goal_fragment", {"camera"}),
                                          ("rosbag2_js_sample", {"image", "image/compressed"})])
def test_real_legacy_bags_are_read(bag, cameras):
    """A zstd-compressed MCAP split without its metadata, and an old sqlite3 bag without metadata.yaml
    whose frames were never stamped (the receive time stands in)."""
    from vstream_ros.tools.inputs import bag_frames

    frames = [(cam, stamp, decode()) for cam, stamp, decode in bag_frames(FIXTURES / bag)]
    assert {c for c, _, _ in frames} == cameras
    for _, stamp, img in frames:
        assert stamp > 0 and img.shape == (480, 640, 3) and img.std() > 10   # a real picture, not noise-free
    if bag == "amber_soccer_goal_fragment":
        assert [round(s, 6) for _, s, _ in frames] == [8.297778, 8.331089]


@pytest.mark.slow
def test_replay_decompresses_zstd_messages(tmp_path):
    domain = fresh_domain()
    sub = Proc([str(PROCS / "count_subscriber.py"), str(tmp_path / "got.json"), "2", "/camera/image_raw"],
               tmp_path / "sub.log", domain)
    try:
        assert sub.wait_for("ready"), sub.output()
        out = run_tool("replay", FIXTURES / "amber_soccer_goal_fragment", "--rate", "0", "--wait-subscribers", "60",
                       env_domain=domain)
        assert out.returncode == 0, out.stderr
        assert sub.popen.wait(30) == 0
    finally:
        sub.stop()
    got = json.loads((tmp_path / "got.json").read_text())
    assert got["/camera/image_raw"] == [8_297_777_777, 8_331_088_888]
