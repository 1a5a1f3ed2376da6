"""The launch file and the parameter table agree with the node; config/vstream.yaml holds every default."""

import ast
import importlib.util

import pytest
from rclpy.parameter import Parameter, parameter_dict_from_yaml_file

from vstream_ros.ros.params import PARAMS, descriptor

from conftest import REPO

pytestmark = pytest.mark.slow   # starts processes or loads real models: not in the fast tier

LAUNCH = REPO / "launch" / "vstream.launch.py"


def test_yaml_declares_exactly_the_node_parameters_with_their_defaults():
    params = parameter_dict_from_yaml_file(str(REPO / "config" / "vstream.yaml"), use_wildcard=True)
    values = {k: Parameter.from_parameter_msg(v).value for k, v in params.items()}
    assert set(values) == {p.name for p in PARAMS}
    for p in PARAMS:
        got = list(values[p.name]) if isinstance(values[p.name], (list, tuple)) else values[p.name]
        assert got == p.default, p.name
        assert type(got) is type(p.default), p.name


def test_every_parameter_has_a_descriptor_with_a_description():
    for p in PARAMS:
        d = descriptor(p)
        assert d.description and d.name == p.name
        if p.range is not None:
            assert d.floating_point_range or d.integer_range


def test_launch_arguments_are_node_parameters_of_the_same_type():
    tree = ast.parse(LAUNCH.read_text())
    table = next(n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "PARAMETERS")
    rows = [(t.elts[0].value, t.elts[1].id) for t in table.elts]
    by_name = {p.name: p for p in PARAMS}
    assert {"camera_topics", "backend", "model_path", "device", "sample_rate_hz", "snapshot_path",
            "qos_reliability", "use_sim_time"} <= {name for name, _ in rows}
    for name, kind in rows:
        if name == "use_sim_time":      # rclpy's own parameter
            assert kind == "bool"
            continue
        assert type(by_name[name].default).__name__ == kind, name


needs_launch = pytest.mark.skipif(importlib.util.find_spec("launch_ros") is None,
                                  reason="launch_ros is not on PyPI: needs ROS 2 or the vendored tools")


def load_launch():
    spec = importlib.util.spec_from_file_location("vstream_launch", LAUNCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@needs_launch
def test_launch_passes_only_the_arguments_given():
    from launch import LaunchContext
    from launch.actions import DeclareLaunchArgument

    mod = load_launch()
    description = mod.generate_launch_description()
    ctx = LaunchContext()
    ctx.launch_configurations.update(camera_topics="/cam0/image_raw", snapshot_path="''", use_sim_time="true")
    for entity in description.entities:
        if isinstance(entity, DeclareLaunchArgument):
            entity.visit(ctx)           # fills the defaults of what was not given
    assert mod.given(ctx) == {"camera_topics": ["/cam0/image_raw"], "snapshot_path": "", "use_sim_time": True}
    assert ctx.launch_configurations["params_file"] == str(REPO / "config" / "vstream.yaml")


@needs_launch
def test_launch_argument_values():
    parse = load_launch().parse
    assert parse("camera_topics", list, "/a/image_raw, /b/image_raw/compressed") == [
        "/a/image_raw", "/b/image_raw/compressed"]
    assert parse("camera_topics", list, "['/a/image_raw']") == ["/a/image_raw"]
    assert parse("sample_rate_hz", float, "2") == 2.0 and isinstance(parse("sample_rate_hz", float, "2"), float)
    assert parse("autostart", bool, "false") is False
    assert parse("model_path", str, "/models/x") == "/models/x"
    for name, kind, text in (("camera_topics", list, "[1, 2]"), ("camera_topics", list, ","),
                             ("sample_rate_hz", float, "fast"), ("autostart", bool, "maybe")):
        with pytest.raises(ValueError, match=name):
            parse(name, kind, text)


def test_a_bad_choice_is_refused_by_the_node_settings():
    from vstream_ros.ros.params import NodeConfig

    with pytest.raises(ValueError, match="qos_reliability must be one of best_effort, reliable"):
        NodeConfig(qos_reliability="reliabel")
