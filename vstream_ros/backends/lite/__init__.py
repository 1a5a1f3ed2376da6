"""The lite backend, self-contained: the encoder and answerer (backend.py), what each frame shows
(vision.py: ImageNet classes, COCO boxes from detection.py run by tfjs.py, colours.py from pixels),
the words it knows (vocabulary.py) and the grounded answers composed from the memory (compose.py)."""
