"""The README's demo, shortened: photos -> bag -> node (lite) -> replay over DDS -> questions -> PNG."""

import re
import subprocess
import sys

from conftest import REPO


def test_demo_end_to_end(tmp_path):
    out = subprocess.run([sys.executable, "-m", "vstream_ros.tools.demo", "--short", "--out", str(tmp_path)],
                         capture_output=True, text=True, timeout=600, cwd=REPO)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    text = out.stdout
    # each answer block: question, answer, evidence lines naming what was on camera then
    blocks = {m.group(1): m.group(2) for m in re.finditer(r"Q: (.+?)\n(.*?)(?=\n\s*Q: |\n\[5/5\])", text, re.S)}
    cat = blocks["When did you see a cat?"]
    assert "A: I saw" in cat and re.findall(r"on camera then: .*cat", cat)
    rocket = blocks["Did you see a rocket?"]
    evid = re.findall(r"on camera then: (.*)", rocket)
    assert evid and all("rocket" in e for e in evid), rocket
    from vstream_ros.models.detection import CocoDetector

    if CocoDetector.available():      # a giraffe is a COCO class: without the detector, lite says it cannot tell
        assert "No, I have not seen a giraffe" in blocks["Did you see a giraffe?"]
        assert re.search(r"A: Yes, I saw a person", blocks["Did you see a person?"])
        assert re.findall(r"on camera then: .*astronaut", blocks["Did you see a person?"])
    else:
        assert "I cannot tell" in blocks["Did you see a giraffe?"]
    assert re.search(r"camera front: received \d+, sampled \d+, encoded \d+", text)
    assert (tmp_path / "memory_timeline.png").stat().st_size > 10_000
    assert (tmp_path / "memory.safetensors").exists()
