"""The staging site: a course's site under its own prefix of the private staging bucket, which
CloudFront serves (origin access control) in AWS and `coursegen serve` serves offline.

A deploy writes every file, then deletes what the last deploy had and this one has not: a
redeploy replaces, never duplicates. If a write fails, the course's whole prefix is removed before
the error goes on, so a reader never sees half a site (the status records the failure).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from coursegen.domain.artifacts import media_type
from coursegen.errors import StagingFailed

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StagedSite:
    url: str  # the site's entry page
    domain: str


class S3StagingSite:
    """root: the folder of the bucket the sites are under ("" for the staged previews, "sites/" for
    the published sites, which the same distribution serves under /sites/)."""

    def __init__(self, s3_client, bucket: str, base_url: str, root: str = "", cache_control: str = "no-cache") -> None:
        self.s3 = s3_client
        self.bucket = bucket
        self.base_url = base_url
        self.root = root
        self.cache_control = cache_control  # a preview: no-cache, the next deploy shows at once

    def deploy(self, course_id: str, files: Mapping[str, bytes]) -> StagedSite:
        prefix = f"{self.root}{course_id}/"
        try:
            before = self._keys(prefix)
            for path, data in sorted(files.items()):
                self.s3.put_object(Bucket=self.bucket, Key=prefix + path, Body=data, ContentType=media_type(path),
                                   CacheControl=self.cache_control)
            self._delete(sorted(before - {prefix + path for path in files}))
        except (ClientError, BotoCoreError) as error:
            self._remove_quietly(prefix)
            raise StagingFailed(f"Staging upload to s3://{self.bucket}/{prefix} failed ({error}); nothing is staged.") from error
        return StagedSite(url=f"{self.base_url}{course_id}/index.html", domain=urlsplit(self.base_url).netloc)

    def remove(self, course_id: str) -> None:
        prefix = f"{self.root}{course_id}/"
        try:
            self._delete(sorted(self._keys(prefix)))
        except (ClientError, BotoCoreError) as error:
            raise StagingFailed(f"Removing s3://{self.bucket}/{prefix} failed ({error}); retry.") from error

    def _keys(self, prefix: str) -> set[str]:
        keys: set[str] = set()
        for page in self.s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
            keys.update(item["Key"] for item in page.get("Contents", []))
        return keys

    def _delete(self, keys: list[str]) -> None:
        for start in range(0, len(keys), 1000):  # DeleteObjects takes at most 1,000 keys
            self.s3.delete_objects(Bucket=self.bucket, Delete={"Objects": [{"Key": k} for k in keys[start:start + 1000]],
                                                                "Quiet": True})

    def _remove_quietly(self, prefix: str) -> None:
        try:
            self._delete(sorted(self._keys(prefix)))
        except (ClientError, BotoCoreError) as error:  # the deploy's own error is the one to report
            log.warning("could not remove a half-staged site", extra={"prefix": prefix, "error": str(error)})
