"""Where a client fetches a stored media file: a CDN, a signed S3 URL, or the web's
/media route. Plain strings, no Flask: title documents are built in workers too."""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from db.settings import Settings
from db.storage import Storage

MEDIA_ROUTE = "/media/"
# The characters werkzeug's path converter leaves unquoted, so these URLs are the
# ones url_for("media_files.serve", key=...) would build.
_SAFE = "!$&'()*+,/:;=@"


@dataclass(frozen=True)
class MediaUrls:
    settings: Settings
    storage: Storage

    @property
    def signs(self) -> bool:
        """Whether direct URLs expire (signed S3 URLs): documents holding them must not
        be kept longer than a fraction of their lifetime."""
        if self.settings.media_base_url:
            return False
        return self.storage.signed_url("probe", expires_s=60) is not None

    def served(self, key: str) -> str:
        """A URL of this web (/media/...), at the configured public origin, never the
        Host a client sent."""
        return self.settings.resolved_public_url + MEDIA_ROUTE + quote(key, safe=_SAFE)

    def direct(self, key: str) -> str:
        """The most direct URL for a file a browser fetches as is (poster, segment)."""
        if self.settings.media_base_url:
            return f"{self.settings.media_base_url}/{key}"
        signed = self.storage.signed_url(key, expires_s=self.settings.signed_url_ttl_s)
        return signed or self.served(key)

    def playlist(self, key: str) -> str:
        """Playlists name their neighbours by relative paths; those resolve on a CDN or on
        this web, but not against a signed S3 URL, so S3 playlists go through the web."""
        if self.settings.media_base_url:
            return f"{self.settings.media_base_url}/{key}"
        return self.served(key)
