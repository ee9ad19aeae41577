"""The web page of ``timesync-server``: a face of its own, like the command line, served beside the
API by the same process. Server-rendered HTML (Jinja2), made quicker by htmx where JavaScript runs;
every change goes through the API's own handlers (:mod:`pymesync.web.api`)."""
