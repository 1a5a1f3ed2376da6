"""Console tools: replay, evaluation, synthetic data, the demo. They drive the engine without ROS
where they can, so they run the same on a laptop and in CI."""

EXTRA_HINT = "install the tools extra: pip install 'ros-vstream-ros[tools]' (scripts/setup.sh does)"


def missing_extra(error: ImportError) -> ImportError:
    """The ImportError a tool raises when a package of the `tools` extra is absent: names the fix."""
    return ImportError(f"{error.name or error}: not installed; {EXTRA_HINT}")
