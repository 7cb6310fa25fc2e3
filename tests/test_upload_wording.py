"""Upload messages count in English: a one-page file is "1 page", never "1 pages"."""

from assistant.uploads.rendering import accepted_message, counted


def test_counts_are_singular_for_one_and_plural_otherwise() -> None:
    assert [counted(n, "page") for n in (0, 1, 2)] == ["0 pages", "1 page", "2 pages"]
    assert counted(1, "model call") == "1 model call"


def test_the_accepted_message_of_a_one_page_file_says_1_page() -> None:
    one = accepted_message("memo.pdf", 1, 1, "internal", True)
    assert "memo\\.pdf, 1 page, " in one
    assert "1 section, " in accepted_message("notes.md", None, 1, "public", True)
