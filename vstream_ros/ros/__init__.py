"""rclpy adapters only: the node, its parameters, image decoding and message conversion.

Nothing here touches tensors beyond handing decoded frames to the engine. Importing this package turns
model-loading progress bars off unless stderr is a terminal (see progress.py): it comes before torch,
transformers and huggingface_hub are imported by the node, and they read the switch at import."""

from vstream_ros.ros.progress import quiet_unless_terminal

quiet_unless_terminal()
