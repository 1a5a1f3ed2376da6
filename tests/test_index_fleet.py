"""A fleet of two vstream node processes on one sightings index server: robot_b (a backend that names red
frames) sees a red toolbox on its camera, robot_a (tiny backend, no camera frames) is asked ~/locate with
robot "*" and finds robot_b's sighting, its camera named robot_b/...; asked for itself, it has none.
Real processes over loopback DDS, a real `milvus-lite server` on loopback (index_uri=http://127.0.0.1:PORT)."""

import time

import pytest
from test_index_procs import free_port, start_server

from vstream_ros.srv import Locate

from rosproc import PROCS, Client, Proc, fresh_domain, params_file

pytestmark = pytest.mark.slow   # starts a server, two nodes and a camera


def params(tmp_path, name, **overrides):
    return params_file(tmp_path, name, **{"sample_rate_hz": 2.0, "snapshot_path": "", "autosave_period_s": 0.0,
                                          "index_embedder": "hash", "index_run_s": 2.0} | overrides)


def test_robot_a_finds_what_robot_b_saw_through_the_fleet_server(tmp_path):
    port = free_port()
    server = start_server(tmp_path / "fleet.db", port)
    uri = f"http://127.0.0.1:{port}"
    domain = fresh_domain()
    b = Proc([str(PROCS / "fleet_node.py"), "--ros-args", "-r", "__ns:=/robot_b", "--params-file",
              params(tmp_path, "b", backend="toy", index_uri=uri,
                     camera_topics=["/cam0/image_raw", "/cam1/image_raw/compressed"])], tmp_path / "b.log", domain)
    a = Proc(["-m", "vstream_ros.ros.node", "--ros-args", "-r", "__ns:=/robot_a", "--params-file",
              params(tmp_path, "a", backend="tiny", index_uri=uri, camera_topics=["/robot_a_cam/image_raw"])],
             tmp_path / "a.log", domain)
    asker = Client("asker", domain)
    cam = None
    try:
        loc_a = asker.node.create_client(Locate, "/robot_a/vstream/locate")
        loc_b = asker.node.create_client(Locate, "/robot_b/vstream/locate")
        up = lambda: loc_a.service_is_ready() and loc_b.service_is_ready()   # noqa: E731
        assert asker.spin_until(lambda: up() or a.popen.poll() is not None or b.popen.poll() is not None, 300), \
            a.output() + b.output()
        assert up(), a.output()[-3000:] + b.output()[-3000:]
        cam = Proc([str(PROCS / "camera_publisher.py"), "8", "10"], tmp_path / "cam.log", domain)
        assert cam.popen.wait(120) == 0, cam.output()
        deadline = time.monotonic() + 120
        res = None
        while time.monotonic() < deadline:    # robot_b's runs close every index_run_s and reach the server
            res = asker.call(loc_a, Locate.Request(object="red toolbox", robot="*"), timeout=60)
            if res.success and res.sightings:
                break
            asker.spin_until(lambda: False, 0.5)
        assert res.success and res.sightings, (res, b.output()[-3000:])
        assert res.source == "index"
        assert {s.camera.split("/")[0] for s in res.sightings} == {"robot_b"}
        assert {(s.kind, s.label) for s in res.sightings} == {("index", "red toolbox")}
        own = asker.call(loc_a, Locate.Request(object="red toolbox"), timeout=60)
        assert not own.sightings                                       # robot_a saw nothing itself
        seen = asker.call(loc_b, Locate.Request(object="red toolbox"), timeout=60)
        assert seen.success and seen.sightings and "memory" in seen.source   # robot_b's own memory holds it
    finally:
        if cam is not None:
            cam.stop()
        asker.close()
        a.stop()
        b.stop()
        server.terminate()
        server.wait(30)
