"""The operator console, served by the hub at `/` (docs/console.md).

`session` (sessions and CSRF), `i18n` (Simplified Chinese and English), `routes` (the
pages) and `mount` (`mount_console`, which puts them on the API's app). The pages are
templates (`templates/`) with a little JavaScript (`static/`) that reads the JSON API
with the session cookie; every asset ships in the package.

Nothing is imported here: `hub.api.auth` imports `hub.console.session`, and the pages
import the API, so the package stays an empty shell to keep that free of cycles.
"""
