"""TimeSync server."""
