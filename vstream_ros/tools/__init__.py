"""Console tools: replay, evaluation, synthetic data, the demo. They drive the engine without ROS
where they can, so they run the same on a laptop and in CI."""
