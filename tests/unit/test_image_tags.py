from sdk_campaigns.campaign import images


def test_context_is_reproducible():
    assert images.build_context("python") == images.build_context("python")


def test_tag_changes_with_context_base_and_args():
    context = images.build_context("python")
    tag = images.content_tag(context, "sha256:base1", {"BASE_IMAGE": "debian:bookworm-slim"})
    assert tag == images.content_tag(context, "sha256:base1", {"BASE_IMAGE": "debian:bookworm-slim"})
    assert tag != images.content_tag(context + b"x", "sha256:base1", {"BASE_IMAGE": "debian:bookworm-slim"})
    assert tag != images.content_tag(context, "sha256:base2", {"BASE_IMAGE": "debian:bookworm-slim"})
    assert tag != images.content_tag(context, "sha256:base1", {"BASE_IMAGE": "other"})


def test_context_holds_shared_glue_and_language_folder():
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(images.build_context("javascript"))) as tar:
        names = tar.getnames()
    assert "common/run_suite.py" in names and "javascript/Dockerfile" in names
    assert not any(n.startswith("python/") for n in names)
