

def test_a_word_is_read_on_the_smallest_box_that_holds_it():
    from vstream_ros.backends.lite.observing import bearer

    boxes = (("car", (0.0, 0.0, 1.0, 1.0)), ("person", (0.5, 0.1, 0.8, 0.9)), ("dog", (0.1, 0.6, 0.3, 0.9)))
    assert bearer((0.55, 0.2, 0.7, 0.3), boxes) == "person"            # in both the car's and the person's box
    assert bearer((0.40, 0.2, 0.6, 0.3), boxes) == "car"               # half of it outside the person
    assert bearer((0.55, 0.2, 0.7, 0.3), boxes[:1]) == "car"
    assert bearer((0.55, 0.2, 0.7, 0.3), ()) == ""
