"""Dense and lexical index over passages and triples (issue 5)."""
