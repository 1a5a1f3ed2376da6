"""Stand-in ~/query server in its own process: answers with the question reversed and one evidence
item whose span is the request's window, so a client can check every field crossed DDS intact."""

import rclpy
from rclpy.node import Node

from vstream_ros.msg import Evidence
from vstream_ros.srv import Query


def handle(request: Query.Request, response: Query.Response) -> Query.Response:
    response.success = True
    response.answer = request.question[::-1]
    response.evidence = [
        Evidence(stamp=request.start, stamp_end=request.end, camera=cam, kind="temporal", weight=2.5)
        for cam in request.cameras
    ]
    response.frames_in_memory = request.max_new_tokens * 2
    response.latency_s = 0.125
    return response


def main() -> None:
    rclpy.init()
    node = Node("echo_query_server")
    node.create_service(Query, "~/query", handle)
    try:
        rclpy.spin(node)
    except KeyboardInterrupt:
        pass
    finally:
        node.destroy_node()
        rclpy.try_shutdown()


if __name__ == "__main__":
    main()
