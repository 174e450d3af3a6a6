"""HTTP: the JSON API and the server-rendered pages. The only package that knows about HTTP."""
