"""One module per lesson page (pages/lessons/ has the same names): each trains what its lesson measures and returns
plain results for the figures. Depends on the engine and settings."""
