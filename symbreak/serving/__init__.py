"""Serving a class: `symbreak serve` (Streamlit workers behind nginx, each kept to one core), the security headers, and
the nginx template. Imports no other part of symbreak."""
