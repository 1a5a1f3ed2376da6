"""The long-term sightings index: every run the STAR memory closes, in a vector database (Milvus Lite
embedded by default, a Milvus server by URI), queryable by meaning, robot and time window past the
memory's horizon. No ROS and no engine imports here: the engine hands in `Sighting`s."""

from vstream_ros.index.embed import Embedder, HashEmbedder, MiniLMEmbedder, make_embedder
from vstream_ros.index.record import Hit, Pose, Sighting
from vstream_ros.index.sightings import FLEET, IndexOptions, IndexUnavailableError, SightingsIndex
from vstream_ros.index.store import IndexConfigError

__all__ = ["FLEET", "Embedder", "HashEmbedder", "Hit", "IndexConfigError", "IndexOptions", "IndexUnavailableError",
           "MiniLMEmbedder",
           "Pose", "Sighting", "SightingsIndex", "make_embedder"]
