"""config/: the node's parameter file parses as ROS parameters; the DDS profile stays on loopback."""

import xml.etree.ElementTree as ET

from rclpy.parameter import Parameter, parameter_dict_from_yaml_file

from conftest import REPO

CONFIG = REPO / "config"


def test_params_file_parses_with_ros_types():
    params = parameter_dict_from_yaml_file(str(CONFIG / "vstream.yaml"), use_wildcard=True)
    values = {name: Parameter.from_parameter_msg(msg) for name, msg in params.items()}
    assert values["camera_topics"].type_ == Parameter.Type.STRING_ARRAY
    assert values["sample_rate_hz"].type_ == Parameter.Type.DOUBLE and values["sample_rate_hz"].value > 0
    assert values["backend"].value in {"lite", "flash_vstream", "tiny"}
    assert values["on_stamp_jump_back"].value in {"reset", "refuse"}
    # the STAR memory defaults of Flash-VStream-7b: 25 + 25*16 + 3*64 + 64 = 681 tokens
    v = {k: p.value for k, p in values.items()}
    tokens = (v["abstract_slots"] + v["temporal_slots"] * v["temporal_size"] ** 2
              + (v["retrieved_frames"] + v["spatial_frames"]) * v["spatial_size"] ** 2)
    assert tokens == 681


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
