"""Camera messages read from their serialized bytes (ros/cdr_image.py): the same fields as rclpy's
deserialization, the same refusals for malformed frames, and rclpy's own path for bytes it does not read."""

import numpy as np
import pytest
from rclpy.serialization import serialize_message
from sensor_msgs.msg import CompressedImage, Image

from vstream_ros.frames import FrameRejected
from vstream_ros.ros.cdr_image import parse_compressed, parse_image
from vstream_ros.ros.image_codec import check_image, compressed_to_rgb, image_thumbnail, image_to_rgb
from vstream_ros.ros.subscriptions import RAW_COMPRESSED, RAW_IMAGE, as_message

GOOD = np.random.default_rng(0).integers(0, 255, (48, 64, 3), np.uint8)


def image(**kw) -> Image:
    fields = dict(height=48, width=64, encoding="rgb8", step=64 * 3, data=GOOD.tobytes())
    msg = Image(**{**fields, **kw})
    msg.header.stamp.sec, msg.header.stamp.nanosec = 1_700_000_000, 123_456_789
    return msg


@pytest.mark.parametrize("frame_id", ["", "c", "cam", "camera_link"])      # every string length mod 4
@pytest.mark.parametrize("encoding", ["", "rgb8", "mono16", "bayer_rggb8"])
def test_header_fields_are_those_rclpy_deserializes(frame_id, encoding):
    msg = image(encoding=encoding, is_bigendian=1, step=193, data=bytes(range(7)))
    msg.header.frame_id = frame_id
    raw = parse_image(serialize_message(msg))
    assert (raw.header.stamp.sec, raw.header.stamp.nanosec, raw.header.frame_id) == (1_700_000_000, 123_456_789,
                                                                                      frame_id)
    assert (raw.height, raw.width, raw.encoding, raw.is_bigendian, raw.step, bytes(raw.data)) == (
        48, 64, encoding, 1, 193, bytes(range(7)))
    c = CompressedImage(format=encoding, data=bytes(range(9)))
    c.header.frame_id = frame_id
    rc = parse_compressed(serialize_message(c))
    assert (rc.header.frame_id, rc.format, bytes(rc.data)) == (frame_id, encoding, bytes(range(9)))


def test_bytes_that_do_not_parse_give_none_and_rclpy_reads_them_instead():
    data = serialize_message(image())
    assert all(parse_image(data[:cut]) is None for cut in range(0, 64))
    assert parse_image(data[:-1]) is None                            # pixels cut short
    assert parse_image(b"\x00\x09" + data[2:]) is None               # an encapsulation it does not read
    msg = as_message(data, *RAW_IMAGE)
    assert not isinstance(msg, Image) and msg.encoding == "rgb8"     # the fast path
    # the fallback: rclpy deserializes it (a big-endian CDR writer would be read the same way)
    assert as_message(data[:2] + b"\x00\x00" + data[4:], *RAW_IMAGE).width == 64
    assert isinstance(as_message(b"\x00\x09" + data[2:], *RAW_IMAGE), Image)
    assert as_message(image(), *RAW_IMAGE).width == 64               # a message object is taken as it is


CASES = {   # the malformed frames of tests/procs/bad_frames_publisher.py, and one too big
    "bad_step": dict(step=64 * 3 - 1), "truncated": dict(data=GOOD.tobytes()[:1000]),
    "unsupported_encoding": dict(encoding="weird16"), "zero_size": dict(height=0, width=0, step=0, data=b""),
    "too_large": dict(height=5000, width=5000, step=15000, data=b""),
}


def reason(fn, msg) -> str:
    try:
        fn(msg)
    except FrameRejected as e:
        return e.reason
    return "accepted"


@pytest.mark.parametrize("case", sorted(CASES))
def test_malformed_frames_are_refused_for_the_same_reason_from_their_bytes(case):
    msg = image(**CASES[case])
    raw = as_message(serialize_message(msg), *RAW_IMAGE)
    assert reason(check_image, raw) == reason(check_image, msg) == case
    assert image_thumbnail(raw) is None


def test_compressed_refusals_are_the_same_from_their_bytes():
    for data, want in ((b"\xff\xd8garbage-not-a-jpeg\xff\xd9", "corrupt_compressed"), (b"", "zero_size")):
        msg = CompressedImage(format="jpeg", data=data)
        raw = as_message(serialize_message(msg), *RAW_COMPRESSED)
        assert reason(compressed_to_rgb, raw) == reason(compressed_to_rgb, msg) == want


@pytest.mark.parametrize("encoding", ["rgb8", "bgr8", "mono8"])
def test_a_due_frame_from_bytes_is_the_same_picture_and_an_array_of_its_own(encoding):
    data = {"mono8": GOOD[..., 0].tobytes()}.get(encoding, GOOD.tobytes())
    step = 64 if encoding == "mono8" else 192
    msg = image(encoding=encoding, step=step, data=data)
    raw = as_message(serialize_message(msg), *RAW_IMAGE)
    rgb = image_to_rgb(raw)
    assert np.array_equal(rgb, image_to_rgb(msg)) and rgb.flags.writeable and rgb.flags.owndata
    assert np.allclose(image_thumbnail(raw), image_thumbnail(msg))
