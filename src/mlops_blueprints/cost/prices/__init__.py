"""Dated price tables, one JSON file per provider and region (``<provider>-<region>.json``)."""
