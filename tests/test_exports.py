import trainfree


def test_public_names_are_sorted_and_importable():
    assert trainfree.__all__ == sorted(trainfree.__all__)
    for name in trainfree.__all__:
        assert getattr(trainfree, name) is not None
