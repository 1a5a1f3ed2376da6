"""The launch file and the parameter table agree with the node; config/vstream.yaml holds every default."""

import ast
import importlib.util

import pytest
import yaml
from rclpy.parameter import Parameter, parameter_dict_from_yaml_file

from vstream_ros.ros.params import PARAMS, descriptor

from conftest import REPO

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


def test_launch_arguments_are_node_parameters():
    tree = ast.parse(LAUNCH.read_text())
    args = next(n.value for n in tree.body if isinstance(n, ast.Assign) and n.targets[0].id == "ARGUMENTS")
    names = [ast.literal_eval(t)[0] for t in args.elts]
    declared = {p.name for p in PARAMS}
    assert names and set(names) <= declared
    for name, default, _ in (ast.literal_eval(t) for t in args.elts):
        spec = next(p for p in PARAMS if p.name == name)
        assert yaml.safe_load(default) == spec.default or (default == "" and spec.default == ""), name


@pytest.mark.skipif(importlib.util.find_spec("launch_ros") is None, reason="launch_ros is not on PyPI; needs ROS 2")
def test_launch_description_builds():
    spec = importlib.util.spec_from_file_location("vstream_launch", LAUNCH)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    assert mod.generate_launch_description().entities
