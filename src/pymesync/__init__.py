"""pymesync: the Python toolkit for TimeSync."""
