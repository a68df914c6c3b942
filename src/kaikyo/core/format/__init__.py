"""Repository byte layouts: constants, envelopes, packs, index files, trees."""
