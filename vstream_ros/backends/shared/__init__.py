"""What several backends share: tensor and device helpers, greedy decoding, checkpoint reading, the
camera budget of a context window and the ImageNet class names. Nothing here knows a backend."""
