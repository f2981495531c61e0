"""Programs the labs run in processes of their own, never inside the web server."""
