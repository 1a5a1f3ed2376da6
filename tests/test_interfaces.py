"""The generated interfaces: importable, serialisable, and usable across processes over DDS."""

import pytest
from builtin_interfaces.msg import Time
from rclpy.serialization import deserialize_message, serialize_message

from vstream_ros.action import Ask
from vstream_ros.msg import CameraMemoryState, Evidence, MemoryState
from vstream_ros.srv import Locate, Query

from rosproc import PROCS, Client, Proc


def _evidence() -> Evidence:
    return Evidence(
        stamp=Time(sec=10, nanosec=5), stamp_end=Time(sec=12, nanosec=7), camera="front", kind="temporal",
        weight=3.0,
    )


@pytest.mark.parametrize(
    "msg",
    [
        _evidence(),
        Query.Request(question="what did you see?", start=Time(sec=1), end=Time(sec=2), cameras=["a", "b"],
                      max_new_tokens=64),
        Query.Response(success=True, answer="a cat", evidence=[_evidence(), _evidence()], latency_s=0.25,
                       frames_in_memory=1234),
        Ask.Goal(question="q", cameras=["front"]),
        Ask.Result(success=False, error="empty question"),
        Ask.Feedback(partial_answer="a c", tokens=2),
        MemoryState(
            cameras=[CameraMemoryState(camera="front", frames_received=10, frames_sampled=4, frames_dropped=5,
                                       frames_rejected=1, tokens_temporal=400, bytes_device=1 << 33,
                                       ingest_lag_s=0.05)],
            answer_queue_length=2, last_answer_latency_s=0.5,
        ),
    ],
    ids=lambda m: type(m).__name__,
)
def test_roundtrip_through_cdr(msg):
    raw = serialize_message(msg)
    assert isinstance(raw, bytes) and len(raw) > 0
    assert deserialize_message(raw, type(msg)) == msg


QUERY_REQUEST = {
    "question": "string", "start": "builtin_interfaces/Time", "end": "builtin_interfaces/Time",
    "cameras": "sequence<string>", "relative": "boolean", "max_new_tokens": "uint32",
}
QUERY_RESPONSE = {
    "success": "boolean", "error": "string", "answer": "string", "partial": "boolean", "intent": "string",
    "evidence": "sequence<vstream_ros/Evidence>", "latency_s": "double", "frames_in_memory": "uint64",
    "time_origin": "builtin_interfaces/Time",
}


@pytest.mark.parametrize(
    "cls, fields",
    [
        (Evidence, {"stamp": "builtin_interfaces/Time", "stamp_end": "builtin_interfaces/Time",
                    "camera": "string", "kind": "string", "label": "string", "weight": "float",
                    "has_pose": "boolean", "pose": "geometry_msgs/PoseStamped"}),
        (Locate.Request, {"object": "string", "start": "builtin_interfaces/Time", "end": "builtin_interfaces/Time",
                          "cameras": "sequence<string>", "relative": "boolean", "max_results": "uint32",
                          "robot": "string"}),
        (Locate.Response, {"success": "boolean", "error": "string", "sightings": "sequence<vstream_ros/Evidence>",
                           "frames_in_memory": "uint64", "time_origin": "builtin_interfaces/Time",
                           "source": "string"}),
        (Query.Request, QUERY_REQUEST),
        (Query.Response, QUERY_RESPONSE),
        (Ask.Goal, QUERY_REQUEST),
        (Ask.Result, QUERY_RESPONSE),
        (Ask.Feedback, {"partial_answer": "string", "tokens": "uint32"}),
    ],
    ids=lambda c: getattr(c, "__name__", ""),
)
def test_interface_contract(cls, fields):
    assert cls.get_fields_and_field_types() == fields


def test_memory_state_carries_per_camera_counters():
    assert MemoryState.get_fields_and_field_types() == {
        "header": "std_msgs/Header", "cameras": "sequence<vstream_ros/CameraMemoryState>",
        "answer_queue_length": "uint32", "last_answer_latency_s": "double",
        "load_policy": "sequence<string>", "load_level": "uint8", "encoder_busy_fraction": "double",
        "index_uri": "string", "index_rows": "uint64", "index_bytes": "uint64", "index_oldest_stamp": "double",
        "index_dropped": "uint64", "index_backlog_rows": "uint64", "warnings": "sequence<string>",
    }
    fields = CameraMemoryState.get_fields_and_field_types()
    for name in ("frames_received", "frames_sampled", "frames_encoded", "frames_dropped", "frames_rejected",
                 "frames_missed", "bytes_device", "bytes_host"):
        assert fields[name] == "uint64", name
    for name in ("tokens_spatial", "tokens_temporal", "tokens_abstract", "tokens_retrieved"):
        assert fields[name] == "uint32", name
    assert fields["first_stamp"] == fields["last_stamp"] == "builtin_interfaces/Time"
    assert fields["ingest_lag_s"] == fields["last_encode_latency_s"] == fields["silent_s"] == "double"
    assert fields["rejected_reasons"] == "sequence<string>" and fields["rejected_counts"] == "sequence<uint64>"


@pytest.mark.slow
def test_query_across_processes(tmp_path):
    server = Proc([str(PROCS / "echo_query_server.py")], tmp_path / "server.log")
    client = Client()
    try:
        cli = client.node.create_client(Query, "/echo_query_server/query")
        assert client.spin_until(cli.service_is_ready, timeout=20), server.output()
        req = Query.Request(question="where is the cup?", start=Time(sec=3, nanosec=1), end=Time(sec=9),
                            cameras=["front", "rear"], max_new_tokens=21)
        res = client.call(cli, req)
        assert res.success and res.answer == "?puc eht si erehw"
        assert [e.camera for e in res.evidence] == ["front", "rear"]
        assert all(e.stamp == req.start and e.stamp_end == req.end for e in res.evidence)
        assert res.frames_in_memory == 42 and res.latency_s == 0.125
    finally:
        client.close()
        server.stop()
