"""The static site of results and their history: pages (``build``), their style and script (``assets``)."""
