"""Matching file hashes against hash lists (the lead fills this package; ``index`` holds the Hamming indexes)."""
