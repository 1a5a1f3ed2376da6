"""rclpy adapters only: the node, its parameters, image decoding and message conversion.

Nothing here touches tensors beyond handing decoded frames to the engine."""
