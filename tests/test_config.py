"""config/: the node's parameter file parses as ROS parameters; the DDS profile stays on loopback."""

import xml.etree.ElementTree as ET

from rclpy.parameter import Parameter, parameter_dict_from_yaml_file

from vstream_ros.backends import backend_names
from vstream_ros.memory import MemoryConfig

from conftest import REPO

CONFIG = REPO / "config"


def test_params_file_parses_with_ros_types():
    params = parameter_dict_from_yaml_file(str(CONFIG / "vstream.yaml"), use_wildcard=True)
    values = {name: Parameter.from_parameter_msg(msg) for name, msg in params.items()}
    assert values["camera_topics"].type_ == Parameter.Type.STRING_ARRAY
    assert values["sample_rate_hz"].type_ == Parameter.Type.DOUBLE and values["sample_rate_hz"].value > 0
    assert values["backend"].value in backend_names()
    assert values["on_stamp_jump_back"].value in {"reset", "refuse"}
    # memory sizes are 0: the model's own; the released Flash-VStream-7b's give 681 tokens at CLIP size
    sizes = ("spatial_frames", "spatial_size", "temporal_slots", "temporal_size", "abstract_slots",
             "abstract_update_ratio", "retrieved_frames")
    assert all(values[k].value == 0 for k in sizes)
    assert MemoryConfig().full_tokens((16, 16)) == 681


def test_fastdds_profile_is_loopback_only():
    ns = {"d": "http://www.eprosima.com"}
    root = ET.parse(CONFIG / "fastdds_loopback.xml").getroot()
    participant = root.find(".//d:participant", ns)
    assert participant.get("is_default_profile") == "true"
    assert participant.find(".//d:useBuiltinTransports", ns).text == "false"
    udp = [t for t in root.iterfind(".//d:transport_descriptor", ns) if t.find("d:type", ns).text == "UDPv4"]
    assert udp, "a UDP transport is needed for discovery"
    for t in udp:
        assert [a.text for a in t.iterfind(".//d:address", ns)] == ["127.0.0.1"]


def test_tests_run_with_localhost_discovery():
    import os

    assert os.environ["ROS_AUTOMATIC_DISCOVERY_RANGE"] == "LOCALHOST"
    assert os.environ["FASTDDS_DEFAULT_PROFILES_FILE"].endswith("fastdds_loopback.xml")
    assert 0 < int(os.environ["ROS_DOMAIN_ID"]) <= 101
